"""Checks what an app outside the repository synthesized with the installed package:

    python check_synth.py CDK_OUT BOOTSTRAP

every userkeeper resource type is there, the function is arm64 and its code asset holds
exactly BOOTSTRAP (the one packed), an aarch64 executable."""

import hashlib
import json
import sys
from pathlib import Path

TYPES = {
    "Custom::ElastiCacheUser": 2,
    "Custom::ElastiCacheUserGroup": 1,
    "Custom::MemoryDBUser": 1,
    "Custom::MemoryDBACL": 1,
    "Custom::AmazonMQUser": 1,
    "Custom::AmazonMQRabbitMQUser": 1,
    "AWS::SecretsManager::RotationSchedule": 4,
    "AWS::Lambda::Function": 1,
    "AWS::SNS::Topic": 1,
}
ALARMS = "AWS::CloudWatch::Alarm"


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def main() -> None:
    out, packed = Path(sys.argv[1]), Path(sys.argv[2])
    template = json.loads((out / "Installed.template.json").read_text())
    resources = template["Resources"].values()
    counts = {t: sum(r["Type"] == t for r in resources) for t in TYPES}
    assert counts == TYPES, f"resource counts {counts}, expected {TYPES}"
    assert any(r["Type"] == ALARMS for r in resources), "no alarm: keeper.alarms() made nothing"
    (fn,) = [r for r in resources if r["Type"] == "AWS::Lambda::Function"]
    assert fn["Properties"]["Architectures"] == ["arm64"], fn["Properties"].get("Architectures")
    assert fn["Properties"]["Runtime"] == "provided.al2023"
    key = fn["Properties"]["Code"]["S3Key"]
    asset_hash = (key["Fn::Sub"] if isinstance(key, dict) else key).removesuffix(".zip")
    bootstrap = out / f"asset.{asset_hash}" / "bootstrap"
    assert bootstrap.is_file(), f"no {bootstrap}"
    head = bootstrap.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[4] == 2 and int.from_bytes(head[18:20], "little") == 183, "not aarch64"
    assert bootstrap.stat().st_mode & 0o111, "bootstrap is not executable"
    assert sha256(bootstrap) == sha256(packed), "the asset is not the packed bootstrap"
    print(f"  {out}: every construct synthesized; asset {asset_hash[:12]}... holds the packed arm64 bootstrap")


if __name__ == "__main__":
    main()
