#!/usr/bin/env python3
"""The benchmark: userkeeper run as Lambda runs it, side by side with a Python peer.

    scripts/bench [--runs 7] [--modes full,512,128] [--steady 3] [--chart bench/bench.png]

Both functions are cold processes polling a local Runtime API, answering the same
``Custom::ElastiCacheUser`` Create over HTTPS: to an emulated AWS endpoint behind a TLS front,
and to an HTTPS ResponseURL receiver, both with certificates from a CA this bench makes (added
to a copy of the system's trust store, so loading the store costs what it costs on Lambda).
The peer (``bench/peer``) is the same custom resource written the crhelper way (Python +
boto3 under the Lambda runtime interface client). Each run starts one cold process of each,
in alternating order, and measures:

* init: process start -> its first ``GET /runtime/invocation/next``;
* first response: the first event handed out -> its PUT read by the receiver;
* steady response: the same for the next ``--steady`` events of the warm process (median);
* peak RSS: VmHWM of the process after its events.

Modes: ``full`` (no limit), ``512`` and ``128``: a cgroup CPU quota of memory / 1,769 MB of
one core (Lambda gives one vCPU at 1,769 MB; 128 MB is 7.23 %), on cgroup v1
(``cpu.cfs_quota_us``) or v2 (``cpu.max``). The quota holds from the process's first
instruction: a small launcher (``bench/launch.c``, built here with cc) joins the cgroup and
execs the function.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.harness.constants import FUNCTION_NAME, REGION, USER_TYPE  # noqa: E402
from tests.e2e.harness.emulator import Emulator, EmulatorUnavailable  # noqa: E402
from tests.e2e.harness.events import cfn_event  # noqa: E402
from tests.e2e.harness.function import BinaryMissing, require_binary  # noqa: E402
from tests.e2e.harness.https import SYSTEM_BUNDLES, TlsFront, https_receiver, server_context  # noqa: E402
from tests.e2e.harness.loopback import LoopbackHandler  # noqa: E402
from tests.e2e.harness.receiver import ResponseReceiver  # noqa: E402
from tests.e2e.harness.runtime_api import LocalRuntimeApi  # noqa: E402

# The harness's servers write headers and body in two sends: with Nagle's algorithm on, the body
# waits for the ACK of the headers, which the client delays by up to 40 ms. That stall would
# land in the figures of whoever happened to meet it.
LoopbackHandler.disable_nagle_algorithm = True

PEER_DIR = ROOT / "bench" / "peer"
PEER_PYTHON = ROOT / ".venv-bench-peer" / "bin" / "python"
ONE_VCPU_MB = 1769  # Lambda: one full vCPU at 1,769 MB, CPU in proportion below
PERIOD_US = 100_000


# ------------------------------------------------------------------------------------------
# Certificates: a CA of our own, a server certificate for 127.0.0.1, a trust store with both
# ------------------------------------------------------------------------------------------

def make_pki(d: Path) -> tuple[Path, Path, Path]:
    """(server cert chain, server key, trust bundle) in ``d``. RSA 2048 like AWS's endpoints."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "userkeeper bench CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain, key_path, bundle = d / "server.pem", d / "server.key", d / "trust.pem"
    chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    system = next((Path(p) for p in SYSTEM_BUNDLES if Path(p).is_file()), None)
    if system is None:
        raise SystemExit(f"error: no system CA bundle at {' or '.join(SYSTEM_BUNDLES)}: "
                         "apt-get install -y ca-certificates")
    bundle.write_bytes(system.read_bytes() + ca.public_bytes(pem))
    return chain, key_path, bundle


#: The priority the functions run at (the bench's own at start, before ``raise_priority``).
FUNCTION_NICE = os.getpriority(os.PRIO_PROCESS, 0)


LAUNCH_C = ROOT / "bench" / "launch.c"
LAUNCH = ROOT / "target" / "bench" / "launch"


def launcher() -> Path:
    """``bench/launch.c``, built once (static: no dynamic loader in the function's figures)."""
    if not LAUNCH.exists() or LAUNCH.stat().st_mtime < LAUNCH_C.stat().st_mtime:
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            raise SystemExit("error: the bench builds its launcher with a C compiler: apt-get install -y gcc libc6-dev")
        LAUNCH.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([cc, "-O2", "-static", "-o", str(LAUNCH), str(LAUNCH_C)], check=True)
    return LAUNCH


def raise_priority() -> None:
    """The harness and the emulator stand in for Lambda's and AWS's machines: on a busy host
    they must not be what the figures measure, so they run ahead of the functions (root only;
    the CPU-time figures do not depend on it)."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, FUNCTION_NICE - 10)


# ------------------------------------------------------------------------------------------
# CPU share: a cgroup with a CFS quota
# ------------------------------------------------------------------------------------------

class CpuShare:
    """A cgroup whose CPU quota is ``memory_mb / 1769`` of one core; None: no limit."""

    def __init__(self, memory_mb: int | None) -> None:
        self.memory_mb = memory_mb
        self.path: Path | None = None
        if memory_mb is None:
            return
        quota = round(PERIOD_US * memory_mb / ONE_VCPU_MB)
        name = f"userkeeper-bench-{os.getpid()}-{memory_mb}"
        v1 = Path("/sys/fs/cgroup/cpu")
        v2 = Path("/sys/fs/cgroup")
        try:
            if (v1 / "cpu.cfs_quota_us").is_file():
                self.path = v1 / name
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota))
            elif "cpu" in (v2 / "cgroup.controllers").read_text().split():
                if "cpu" not in (v2 / "cgroup.subtree_control").read_text().split():
                    (v2 / "cgroup.subtree_control").write_text("+cpu")
                self.path = v2 / name
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            else:
                raise OSError("no cgroup v1 cpu hierarchy at /sys/fs/cgroup/cpu and no cpu "
                              "controller in cgroup v2 at /sys/fs/cgroup")
        except OSError as e:
            self.close()
            raise SystemExit(
                f"error: cannot set a CPU quota for the {memory_mb} MB mode ({e}).\n"
                "The CPU-share modes write cgroups: run as root on a Linux host (or a container "
                "with a writable /sys/fs/cgroup, e.g. docker --privileged), or run only "
                "`scripts/bench --modes full`."
            ) from None
        self.procs = self.path / "cgroup.procs"

    @property
    def label(self) -> str:
        if self.memory_mb is None:
            return "full CPU"
        return f"{self.memory_mb} MB ({100 * self.memory_mb / ONE_VCPU_MB:.2f} % CPU)"

    @property
    def procs_file(self) -> str:
        """What the launcher joins: this cgroup's ``cgroup.procs``, or "-" for none."""
        return str(self.procs) if self.path is not None else "-"

    def close(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.rmdir()


# ------------------------------------------------------------------------------------------
# One cold function process
# ------------------------------------------------------------------------------------------

@dataclass
class Run:
    init_ms: float
    first_ms: float
    steady_ms: float
    rss_kb: int
    init_cpu_ms: float
    first_cpu_ms: float
    steady_cpu_ms: float


@dataclass
class Contender:
    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    runs: dict[str, list[Run]] = field(default_factory=dict)


def lambda_env(runtime: LocalRuntimeApi, aws: str, bundle: Path, handler: str) -> dict[str, str]:
    """What Lambda sets for a function, plus the bench's endpoint and trust store."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "AWS_LAMBDA_RUNTIME_API": runtime.address,
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]" + uuid.uuid4().hex,
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": aws,
        "_HANDLER": handler,
        # The trust store both sides read: rustls-native-certs and OpenSSL take SSL_CERT_FILE,
        # botocore takes AWS_CA_BUNDLE.
        "SSL_CERT_FILE": str(bundle),
        "AWS_CA_BUNDLE": str(bundle),
    }


def cpu_ms(pid: int) -> float:
    """CPU time the process has had so far, all its threads (/proc schedstat, nanoseconds):
    what a CPU quota charges, free of the machine's other load."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e6


def peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def props(user_id: str) -> dict:
    return {"UserId": user_id, "UserName": user_id, "Engine": "redis", "AccessString": "on ~app:* +@read",
            "AuthenticationMode": {"Type": "password", "Passwords": ["Bench-Password-0123456789"]}}


def one_run(c: Contender, share: CpuShare, aws: str, bundle: Path, rec: ResponseReceiver,
            steady: int, logs: Path) -> Run:
    rt = LocalRuntimeApi()
    env = lambda_env(rt, aws, bundle, "handler.handler") | c.env
    log = open(logs / f"{c.name.split()[0]}-{uuid.uuid4().hex[:8]}.log", "wb")
    argv = [str(launcher()), share.procs_file, str(FUNCTION_NICE), *c.argv]
    if share.path is not None:
        # Each mode's cgroup is reused: a quota the previous process (or its exit) used up in
        # the current period would throttle this one's first instructions for up to a period.
        # Lambda starts an environment with its quota whole; two idle periods give it that.
        time.sleep(2 * PERIOD_US / 1e6)
    started = time.monotonic()
    # No preexec_fn: Python then spawns with vfork, and nothing of the harness is charged to
    # the function (see bench/launch.c).
    proc = subprocess.Popen(argv, cwd=c.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        # The launcher exits 127 if it cannot join the cgroup or exec: no waiting that out.
        deadline, first_next = time.monotonic() + 120, None
        while first_next is None and proc.poll() is None and time.monotonic() < deadline:
            first_next = rt.wait_first_next(0.05)
        if first_next is None:
            raise SystemExit(f"error: {c.name} never asked for an event (exit status {proc.poll()}); "
                             f"its output is in {log.name}")
        cpu = [cpu_ms(proc.pid)]
        times = []
        for k in range(1 + steady):
            uid = f"b{uuid.uuid4().hex[:12]}"
            url = rec.url(f"{uid}").replace("http://", "https://", 1)
            event = cfn_event("Create", USER_TYPE, props(uid), response_url=url, logical_id="BenchUser")
            inv = rt.invoke(event, timeout_s=60, abort=lambda: None if proc.poll() is None else "exited")
            puts = [p for p in rec.wait_for(url, 1, 10) if p.accepted]
            if not puts or puts[0].json().get("Status") != "SUCCESS":
                raise SystemExit(f"error: {c.name} did not answer SUCCESS ({inv!r}, puts {puts}); "
                                 f"its output is in {log.name}")
            times.append((puts[0].at - inv.served_at) * 1000)
            cpu.append(cpu_ms(proc.pid))
        rss = peak_rss_kb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        rt.close()
        log.close()
    return Run((first_next - started) * 1000, times[0], statistics.median(times[1:]) if steady else float("nan"),
               rss, cpu[0], cpu[1] - cpu[0], (cpu[-1] - cpu[1]) / steady if steady else float("nan"))


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------

FIGURES = (("init", "init (start → first /next)", "ms"), ("first", "first response", "ms"),
           ("steady", "steady response", "ms"), ("rss", "peak RSS", "MiB"))
#: CPU time per phase: printed, and in the JSON, not in the table (what the times are made of).
CPU_FIGURES = (("init_cpu", "CPU time, init", "ms"), ("first_cpu", "CPU time, first response", "ms"),
               ("steady_cpu", "CPU time, steady response", "ms"))


def values(runs: list[Run], key: str) -> list[float]:
    return [{"init": r.init_ms, "first": r.first_ms, "steady": r.steady_ms, "rss": r.rss_kb / 1024,
             "init_cpu": r.init_cpu_ms, "first_cpu": r.first_cpu_ms, "steady_cpu": r.steady_cpu_ms}[key]
            for r in runs]


def fmt(v: float, unit: str) -> str:
    return f"{v:,.1f} {unit}" if v < 100 else f"{v:,.0f} {unit}"


def table(ours: Contender, peer: Contender, modes: list[str], figures=FIGURES) -> str:
    lines = ["| mode | figure | userkeeper, median (min–max) | Python peer, median (min–max) | ratio |",
             "|---|---|---|---|---|"]
    for mode in modes:
        for key, label, unit in figures:
            a, b = values(ours.runs[mode], key), values(peer.runs[mode], key)
            ma, mb = statistics.median(a), statistics.median(b)
            lines.append(f"| {mode} | {label} | **{fmt(ma, unit)}** ({fmt(min(a), unit)}–{fmt(max(a), unit)}) "
                         f"| {fmt(mb, unit)} ({fmt(min(b), unit)}–{fmt(max(b), unit)}) | {ma / mb:.2f} |")
    return "\n".join(lines)


def chart(ours: Contender, peer: Contender, modes: list[str], path: Path, runs: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
    width = 0.38
    for ax, (key, label, unit) in zip(axes, FIGURES):
        xs = range(len(modes))
        for i, (c, colour) in enumerate(((ours, "#d9480f"), (peer, "#3572a5"))):
            meds, lo, hi = [], [], []
            for m in modes:
                v = values(c.runs[m], key)
                med = statistics.median(v)
                meds.append(med)
                lo.append(med - min(v))
                hi.append(max(v) - med)
            pos = [x + (i - 0.5) * width for x in xs]
            bars = ax.bar(pos, meds, width, yerr=[lo, hi], capsize=3, color=colour,
                          label=c.name if key == "init" else None)
            for b, med in zip(bars, meds):
                ax.annotate(f"{med:.0f}" if med >= 10 else f"{med:.1f}", (b.get_x() + b.get_width() / 2, med),
                            textcoords="offset points", xytext=(0, 2), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(list(xs), [m.split(" (")[0] for m in modes], fontsize=8)
        ax.set_title(f"{label} ({unit})", fontsize=9)
        if unit == "ms":
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.tick_params(axis="y", labelsize=7)
    fig.legend(loc="upper center", ncol=2, fontsize=9, frameon=False)
    fig.suptitle(f"median, whiskers min–max, {runs} cold processes each; ms on a log scale", y=0.02, fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 0.92))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def zip_size(binary: Path) -> int:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "bootstrap.zip"
        with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(binary, "bootstrap")
        return p.stat().st_size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7, help="cold processes per contender and mode (default 7)")
    ap.add_argument("--modes", default="full,512,128", help="full and/or memory sizes in MB (default full,512,128)")
    ap.add_argument("--steady", type=int, default=3, help="warm events after the first, per process (default 3)")
    ap.add_argument("--chart", type=Path, default=ROOT / "bench" / "bench.png", help="the PNG to write")
    ap.add_argument("--json", type=Path, default=ROOT / "target" / "bench" / "results.json",
                    help="raw figures (default target/bench/results.json)")
    ap.add_argument("--replot", action="store_true",
                    help="no run: print the table and redraw the chart from --json's figures")
    ap.add_argument("--no-peer", action="store_true", help="userkeeper only (no ratio, no chart)")
    ap.add_argument("--wrap", default="", help="a command to run userkeeper under, e.g. "
                    "'strace -f -tt -o /tmp/uk.trace' or 'valgrind --tool=callgrind' (for profiling)")
    ap.add_argument("--self-check", action="store_true",
                    help="one quick run at full CPU that checks the harness works; writes nothing")
    args = ap.parse_args()
    if args.self_check:
        args.runs, args.modes, args.steady, args.chart, args.json = 1, "full", 1, None, None

    if args.replot:
        raw = json.loads(args.json.read_text())
        ours, peer = (Contender(name, [], ROOT, {}, {m: [Run(**r) for r in rs] for m, rs in modes.items()})
                      for name, modes in raw.items())
        modes = list(ours.runs)
        runs = len(ours.runs[modes[0]])
        print(table(ours, peer, modes))
        print(table(ours, peer, modes[:1], CPU_FIGURES))
        chart(ours, peer, modes, args.chart, runs)
        return 0
    try:
        binary = require_binary()
    except BinaryMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.no_peer and not PEER_PYTHON.exists():
        print(f"error: the Python peer's environment is missing ({PEER_PYTHON}): scripts/bench makes it",
              file=sys.stderr)
        return 2
    modes_arg = [m.strip() for m in args.modes.split(",") if m.strip()]
    shares = [CpuShare(None if m == "full" else int(m)) for m in modes_arg]
    modes = [s.label for s in shares]

    ours = Contender("userkeeper (Rust)", [*shlex.split(args.wrap), str(binary)], ROOT, {"AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023"})
    peer = Contender("Python peer (crhelper + boto3)", [str(PEER_PYTHON), "-m", "awslambdaric", "handler.handler"],
                     PEER_DIR, {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.11", "PYTHONDONTWRITEBYTECODE": "1"})
    contenders = [ours] if args.no_peer else [ours, peer]

    work = Path(tempfile.mkdtemp(prefix="userkeeper-bench-"))
    front = rec = emulator = None
    try:
        chain, key, bundle = make_pki(work)
        ctx = server_context(chain, key)
        raise_priority()
        emulator = Emulator()
        emulator.config(transition_seconds=0, reboot_seconds=0, transition_jitter=0)
        front = TlsFront(emulator.port, ctx)
        rec = https_receiver(ctx)
        # Warm the emulator (moto's lazy imports) through the front: the figures are ours, not its.
        warm = emulator.client("elasticache")
        warm.describe_users()
        for share, mode in zip(shares, modes):
            for c in contenders:
                c.runs[mode] = []
            for i in range(args.runs):
                order = contenders if i % 2 == 0 else contenders[::-1]
                for c in order:
                    r = one_run(c, share, front.url, bundle, rec, args.steady, work)
                    c.runs[mode].append(r)
                    print(f"  {mode:<22} {c.name:<32} run {i + 1}: init {r.init_ms:8.1f} ms  first "
                          f"{r.first_ms:8.1f} ms  steady {r.steady_ms:7.1f} ms  RSS {r.rss_kb / 1024:5.1f} MiB  "
                          f"CPU {r.init_cpu_ms:.1f}/{r.first_cpu_ms:.1f}/{r.steady_cpu_ms:.1f} ms",
                          flush=True)
    finally:
        for s in shares:
            s.close()
        for thing in (front, rec, emulator):
            if thing is not None:
                (thing.stop if isinstance(thing, Emulator) else thing.close)()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"binary: {binary} ({binary.stat().st_size / 1024:,.0f} KiB); "
          f"deployment zip (bootstrap, deflate 9): {zip_size(binary) / 1024:,.0f} KiB")
    if args.self_check:
        bad = [(c.name, r) for c in contenders for m in modes for r in c.runs[m]
               if not (r.init_ms > 0 and r.first_ms > 0 and r.steady_ms > 0 and r.rss_kb > 0)]
        print("self-check:", "FAILED " + repr(bad) if bad else "ok (both contenders answered over HTTPS)")
        return 1 if bad else 0
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({c.name: {m: [r.__dict__ for r in rs] for m, rs in c.runs.items()}
                                         for c in contenders}, indent=1))
    if args.no_peer:
        for mode in modes:
            for key, label, unit in FIGURES + CPU_FIGURES:
                v = values(ours.runs[mode], key)
                print(f"{mode:<22} {label:<28} median {fmt(statistics.median(v), unit):>10}  "
                      f"min {fmt(min(v), unit):>10}  max {fmt(max(v), unit):>10}")
        return 0
    print(f"{args.runs} cold processes per contender and mode, alternating; steady = median of "
          f"{args.steady} warm Creates; ratio = userkeeper / peer (medians)\n")
    print(table(ours, peer, modes))
    print("\nwhat the times are made of (CPU time of the process, all threads):\n")
    print(table(ours, peer, modes[:1], CPU_FIGURES))
    if args.chart:
        chart(ours, peer, modes, args.chart, args.runs)
        print(f"\nchart: {args.chart}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EmulatorUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
