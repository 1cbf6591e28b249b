#!/usr/bin/env python3
"""Benchmark of password rotation through the userkeeper release binary (not a pytest test).

    python3 tools/rotation_bench.py [--rotations 20] [--no-login] [--json]

Starts the emulator (transition_seconds 0, reboot_seconds 0), one function process on a local
Runtime API, and (unless ``--no-login``) the real servers of tests/e2e/servers.py: a TLS-only
redis-server and an ActiveMQ broker, trusted by the function through
``USERKEEPER_TLS_CA_FILE``. Then, for ElastiCache, MemoryDB and Amazon MQ (alternating users,
``"reboot": true``), it runs ``--rotations`` full rotations of one secret each, back to back:
createSecret, setSecret, testSecret, finishSecret, each a separate invocation, the server
synced after setSecret as in tests/e2e/test_rotation_login.py. With logins, testSecret logs in
for real (Redis AUTH + PING, STOMP CONNECT); without, it checks through the service API only.

Reported per service: wall time per rotation (sum of the four invocations, submit to result;
the syncs excluded) and time in the function per step, median / p90 / max; and the function's
peak RSS (VmHWM) idle after init and after each service.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

# Run as a plain file, not as a module: the repo root on the path lets the harness in tests/e2e import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness.emulator import Emulator, EmulatorUnavailable  # noqa: E402
from tests.e2e.harness.events import ROTATION_STEPS  # noqa: E402
from tests.e2e.harness.function import BinaryMissing, Function, require_binary  # noqa: E402
from tests.e2e.harness.runtime_api import LocalRuntimeApi  # noqa: E402
from tests.e2e import rotation_helpers as rh  # noqa: E402

SERVICES = ("elasticache", "memorydb", "mq")


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {"median_ms": round(statistics.median(ms), 1), "p90_ms": round(pct(ms, 90), 1),
            "max_ms": round(max(ms), 1)}


def seeder(service: str, emulator: Emulator, redis: Any, activemq: Any) -> tuple[rh.Rotated, Any]:
    """Seeds one rotated user; returns it and the server to sync (None: no login)."""
    if service == "mq":
        at = {"host": activemq.host, "port": activemq.port} if activemq else {}
        return rh.seed_mq(emulator, activemq, reboot=True, **at), activemq
    seed: Callable[..., rh.Rotated] = rh.seed_elasticache if service == "elasticache" else rh.seed_memorydb
    at = {"host": redis.host, "port": redis.port} if redis else {}
    return seed(emulator, redis, **at), redis


def bench_service(service: str, n: int, fn: Function, emulator: Emulator, redis: Any,
                  activemq: Any) -> dict[str, Any]:
    rotated, server = seeder(service, emulator, redis, activemq)
    after_set = (lambda: rh.sync(emulator, server, rotated)) if server is not None else None
    rotations: list[float] = []
    steps: dict[str, list[float]] = {s: [] for s in ROTATION_STEPS}
    outcome = ""
    for i in range(n):
        token = emulator.new_pending(rotated.arn)
        run = rh.rotate(fn, rotated.arn, token, after_set=after_set)
        if not run.ok:
            failed = run.steps[-1]
            raise SystemExit(f"{service}: rotation {i + 1} failed at {failed.step}: {failed.error or failed.invocation}")
        rotations.append(sum(s.wall_s for s in run.steps))
        for s in run.steps:
            steps[s.step].append(s.invocation.duration_s or 0.0)
        outcome = run["testSecret"].outcome
    version, value = rh.secret_value(emulator, rotated.arn)
    assert version == token, f"{service}: AWSCURRENT is not the last rotation's version"
    fn.read_rss()
    return {
        "rotations": n,
        "rotation": summary(rotations),
        "steps": {s: summary(v) for s, v in steps.items()},
        "last_test_outcome": outcome,
        "final_username": value["username"],
        "peak_rss_kib_after": fn.peak_rss_kb,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rotations", type=int, default=20, help="full rotations per service (default 20)")
    ap.add_argument("--no-login", action="store_true", help="no servers: secrets without a host")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = ap.parse_args()
    if args.rotations < 1:
        ap.error("--rotations must be at least 1")
    try:
        binary = require_binary()
        emulator = Emulator()
    except (BinaryMissing, EmulatorUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        stack.callback(emulator.stop)
        emulator.reset()
        emulator.config(transition_seconds=0, reboot_seconds=0)
        redis = activemq = None
        env: dict[str, str] = {}
        if not args.no_login:
            from tests.e2e import servers  # servers.py needs openssl, redis-server, activemq

            try:
                pki, redis, activemq = servers.start_login_servers(stack, "uk-bench-pki-")
            except servers.ServerUnavailable as e:
                print(f"error: {e} (or run with --no-login)", file=sys.stderr)
                return 2
            env["USERKEEPER_TLS_CA_FILE"] = str(pki.ca_cert)
        runtime = LocalRuntimeApi()
        stack.callback(runtime.close)
        fn = Function(runtime, emulator.url, extra_env=env, binary=binary)
        stack.callback(fn.stop)
        if runtime.wait_first_next(15) is None:
            print(f"error: the function never asked for an event; output:\n{fn.log_text()}", file=sys.stderr)
            return 1
        fn.read_rss()
        idle_kib = fn.peak_rss_kb
        results = {s: bench_service(s, args.rotations, fn, emulator, redis, activemq) for s in SERVICES}
        fn.read_rss()
        report = {
            "binary": str(binary),
            "login": not args.no_login,
            "emulator": {"transition_seconds": 0, "reboot_seconds": 0},
            "rss_kib": {"idle_after_init": idle_kib, "peak": fn.peak_rss_kb},
            "services": results,
        }

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"binary: {binary}")
    print(f"{args.rotations} full rotations per service, "
          f"{'testSecret logging in over TLS' if report['login'] else 'no login (API checks only)'}; "
          "emulator transitions and reboots instant")
    print()
    print(f"  {'service':<12} {'per rotation':>24}   {'createSecret':>14} {'setSecret':>14} "
          f"{'testSecret':>14} {'finishSecret':>14}")
    print(f"  {'':<12} {'median / p90 / max ms':>24}   " + " ".join(f"{'median / p90':>14}" for _ in ROTATION_STEPS))
    for s, r in results.items():
        rot = r["rotation"]
        cells = " ".join(f"{r['steps'][st]['median_ms']:6.1f} /{r['steps'][st]['p90_ms']:6.1f}" for st in ROTATION_STEPS)
        label = "mq (alt.)" if s == "mq" else s
        print(f"  {label:<12} {rot['median_ms']:7.1f} /{rot['p90_ms']:7.1f} /{rot['max_ms']:7.1f}   {cells}")
    print()
    print("  (per rotation: the four invocations, submit to result, as the caller sees them;")
    print("   per step: time inside the function, /next to result)")
    print()
    rss = report["rss_kib"]
    after = ", ".join(f"{s} {r['peak_rss_kib_after'] / 1024:.1f}" for s, r in results.items())
    print(f"peak RSS (VmHWM): idle after init {rss['idle_after_init'] / 1024:.1f} MiB; after {after} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
