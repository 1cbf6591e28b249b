"""Every aws-cdk-lib type the library's jsii assembly names exists in the given aws-cdk-lib
(the oldest the package accepts): Python, Java, .NET and Go resolve types by these names at
run time, so one missing there fails those users even where TypeScript compiles.

    python check_jsii_types.py OUR_JSII AWS_CDK_LIB_DIR
"""

import gzip
import json
import re
import sys
from pathlib import Path


def assembly(path: Path) -> dict:
    data = json.loads(path.read_text())
    if data.get("schema") == "jsii/file-redirect":  # aws-cdk-lib ships it compressed
        data = json.loads(gzip.decompress((path.parent / data["filename"]).read_bytes()))
    return data


def main() -> None:
    ours, lib = Path(sys.argv[1]), Path(sys.argv[2])
    needed = set(re.findall(r'"(aws-cdk-lib\.[A-Za-z0-9_.]+)"', json.dumps(assembly(ours)["types"])))
    theirs = assembly(lib / ".jsii")
    missing = sorted(needed - set(theirs["types"]))
    assert needed, "the assembly names no aws-cdk-lib type: wrong file?"
    assert not missing, f"aws-cdk-lib {theirs['version']} lacks {missing}: raise the peerDependency"
    print(f"  aws-cdk-lib {theirs['version']} has all {len(needed)} types the assembly names")


if __name__ == "__main__":
    main()
