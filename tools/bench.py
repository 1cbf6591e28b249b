#!/usr/bin/env python3
"""Benchmark of the userkeeper release binary (not a pytest test).

    .venv/bin/python tools/bench.py [--runs 30]

* cold start: process start -> its first ``GET /runtime/invocation/next`` on a local Runtime API,
  repeated ``--runs`` times (median, p90, max);
* peak RSS (VmHWM) of one process over Create -> Update -> Delete of a user and of a user group
  against the emulator, plus each step's duration (emulator transitions set to 0 s).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from pathlib import Path

# Run as a plain file, not as a module: the repo root on the path lets the harness in tests/e2e import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness.constants import GROUP_TYPE, USER_TYPE  # noqa: E402
from tests.e2e.harness.emulator import Emulator, EmulatorUnavailable  # noqa: E402
from tests.e2e.harness.events import cfn_event  # noqa: E402
from tests.e2e.harness.function import BinaryMissing, Function, require_binary  # noqa: E402
from tests.e2e.harness.receiver import ResponseReceiver  # noqa: E402
from tests.e2e.harness.runtime_api import LocalRuntimeApi  # noqa: E402


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def cold_starts(runs: int, endpoint: str) -> list[float]:
    out = []
    for _ in range(runs):
        rt = LocalRuntimeApi()
        fn = Function(rt, endpoint)
        try:
            first = rt.wait_first_next(15)
            if first is None:
                raise SystemExit(f"the function never asked for an event; output:\n{fn.log_text()}")
            out.append((first - fn.started_at) * 1000)
        finally:
            fn.stop()
            rt.close()
    return out


def lifecycle(endpoint: str, emulator: Emulator) -> tuple[Function, list[tuple[str, float, str]]]:
    rt = LocalRuntimeApi()
    rec = ResponseReceiver()
    fn = Function(rt, endpoint)
    rt.wait_first_next(15)
    fn.read_rss()
    idle = fn.peak_rss_kb
    steps: list[tuple[str, float, str]] = []

    def send(label: str, event: dict) -> dict:
        inv = fn.invoke(event, timeout_s=60)
        puts = [p for p in rec.for_url(event["ResponseURL"]) if p.accepted]
        status = puts[0].json()["Status"] if puts else f"no response ({inv.kind})"
        steps.append((label, (inv.duration_s or float("nan")) * 1000, status))
        return puts[0].json() if puts else {}

    def ev(rq: str, rtype: str, props: dict, logical: str, **kw) -> dict:
        return cfn_event(rq, rtype, props, response_url=rec.url(f"{logical}-{rq}"), logical_id=logical, **kw)

    U, G = USER_TYPE, GROUP_TYPE
    d = {"UserId": "bench-default", "UserName": "default", "Engine": "redis", "AccessString": "off ~* -@all",
         "AuthenticationMode": {"Type": "no-password-required"}}
    u1 = {"UserId": "bench-user", "UserName": "bench", "Engine": "redis", "AccessString": "on ~b:* +@read",
          "AuthenticationMode": {"Type": "password", "Passwords": ["Bench-Password-0123456789"]}}
    u2 = {**u1, "AccessString": "on ~b:* +@all",
          "AuthenticationMode": {"Type": "password", "Passwords": ["Bench-Password-9876543210"]}}
    g1 = {"UserGroupId": "bench-group", "Engine": "redis", "UserIds": ["bench-default"]}
    g2 = {**g1, "UserIds": ["bench-default", "bench-user"]}
    send("user default Create", ev("Create", U, d, "BenchDefault"))
    send("user Create", ev("Create", U, u1, "BenchUser"))
    send("user Update", ev("Update", U, u2, "BenchUser", physical_id="bench-user", old_props=u1))
    send("group Create", ev("Create", G, g1, "BenchGroup"))
    send("group Update", ev("Update", G, g2, "BenchGroup", physical_id="bench-group", old_props=g1))
    send("group Delete", ev("Delete", G, g2, "BenchGroup", physical_id="bench-group"))
    send("user Delete", ev("Delete", U, u2, "BenchUser", physical_id="bench-user"))
    send("user default Delete", ev("Delete", U, d, "BenchDefault", physical_id="bench-default"))
    fn.read_rss()
    fn.idle_rss_kb = idle  # type: ignore[attr-defined]
    fn.stop()
    rt.close()
    rec.close()
    return fn, steps


def deployment_zip_size(binary) -> int:
    """The size of the zip Lambda would get: the binary stored as `bootstrap`, as
    `cargo lambda build --output-format zip` and SAM package it."""
    import tempfile
    import zipfile
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/bootstrap.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(binary, "bootstrap")
        return os.path.getsize(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    try:
        binary = require_binary()
        emulator = Emulator()
    except (BinaryMissing, EmulatorUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        emulator.reset()
        starts = cold_starts(args.runs, emulator.url)
        fn, steps = lifecycle(emulator.url, emulator)
    finally:
        emulator.stop()

    print(f"binary: {binary} ({binary.stat().st_size / 1024:.0f} KiB, stripped by the release profile)")
    print(f"deployment zip (bootstrap, deflate level 9): {deployment_zip_size(binary) / 1024:.0f} KiB")
    print()
    print(f"cold start (process start -> first /next), {len(starts)} runs")
    print(f"  {'median':>8} {'p90':>8} {'max':>8} {'min':>8}")
    print(f"  {statistics.median(starts):7.1f}ms {pct(starts, 90):7.1f}ms {max(starts):7.1f}ms {min(starts):7.1f}ms")
    print()
    print("lifecycle against the emulator (transition_seconds 0)")
    print(f"  {'step':<22} {'duration':>10}  status")
    for label, ms, status in steps:
        print(f"  {label:<22} {ms:8.1f}ms  {status}")
    print()
    print(f"peak RSS (VmHWM): idle after init {fn.idle_rss_kb / 1024:.1f} MiB, "  # type: ignore[attr-defined]
          f"after the lifecycle {fn.peak_rss_kb / 1024:.1f} MiB")
    return 0 if all(s == "SUCCESS" for _, _, s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
