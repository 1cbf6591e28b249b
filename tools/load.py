#!/usr/bin/env python3
"""Load test of the userkeeper release binary (a benchmark: it reports figures, and exits 1
if a promise broke). The same code runs reduced in CI (tests/e2e/test_load.py).

    .venv/bin/python tools/load.py [--resources 200] [--secrets 500] [--processes 16]
                                   [--throttle 0.2] [--login-sample 9] [--timeout 60] [--json FILE]

``--processes`` function processes poll one local runtime API, as Lambda runs concurrent
invocations; the emulator (strict, realistic transitions: USERKEEPER_E2E_TRANSITION_S /
USERKEEPER_E2E_JITTER_S, default 1 s + 0..0.5 s) answers ``--throttle`` of every service's calls
with that service's throttling error. (a) ``--resources`` custom resources of all five types
created then deleted, a wave at a time as CloudFormation orders them; (b) ``--secrets``
rotations fired together, ``--login-sample`` of them logging in to a real Redis / ActiveMQ.
What is measured and checked: tests/e2e/load.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

# Run as a plain file, not as a module: the repo root on the path lets the harness in tests/e2e import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness.emulator import Emulator, EmulatorUnavailable  # noqa: E402
from tests.e2e.harness.function import BinaryMissing, require_binary  # noqa: E402
from tests.e2e.load import LoadConfig, run_load, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = LoadConfig()
    ap.add_argument("--resources", type=int, default=d.resources, help=f"custom resources (default {d.resources})")
    ap.add_argument("--secrets", type=int, default=d.secrets, help=f"rotated secrets (default {d.secrets})")
    ap.add_argument("--processes", type=int, default=d.processes, help=f"function processes (default {d.processes})")
    ap.add_argument("--throttle", type=float, default=d.throttle,
                    help=f"share of every service's calls throttled (default {d.throttle})")
    ap.add_argument("--login-sample", type=int, default=d.login_sample,
                    help=f"rotations checked by a real login (default {d.login_sample})")
    ap.add_argument("--timeout", type=float, default=d.timeout_s, help=f"the function's timeout, s (default {d.timeout_s:g})")
    ap.add_argument("--seed", type=int, default=None, help="seed of the emulator's throttling draws")
    ap.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    args = ap.parse_args()
    if args.resources and args.resources < 12:
        ap.error("--resources: 0, or at least 12 (every type needs a few)")
    if not 0 <= args.throttle <= 1:
        ap.error("--throttle is a share from 0 to 1")
    cfg = LoadConfig(resources=args.resources, secrets=args.secrets, processes=args.processes,
                     throttle=args.throttle, login_sample=args.login_sample, timeout_s=args.timeout, seed=args.seed)
    try:
        require_binary()
        emulator = Emulator()
    except (BinaryMissing, EmulatorUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        stack.callback(emulator.stop)
        from tests.e2e import servers  # servers.py needs openssl, redis-server, activemq

        try:
            pki, redis, activemq = servers.start_login_servers(stack, "uk-load-pki-")
        except servers.ServerUnavailable as e:
            print(f"error: {e} (scripts/install-test-servers)", file=sys.stderr)
            return 2
        report = run_load(emulator, cfg, redis, activemq, str(pki.ca_cert))
    print(summary(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
