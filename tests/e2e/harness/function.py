"""The release binary as a Lambda function process."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from .constants import BUILD_HINT, FUNCTION_NAME, REGION, REPO_ROOT
from .runtime_api import Invocation, LocalRuntimeApi


def binary_path() -> Path:
    p = Path(os.environ.get("USERKEEPER_BIN", "target/release/userkeeper"))
    if not p.is_absolute():
        p = REPO_ROOT / p
    return p


class BinaryMissing(RuntimeError):
    pass


def require_binary() -> Path:
    p = binary_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        raise BinaryMissing(
            f"userkeeper binary not found at {p}: run `{BUILD_HINT}` in {REPO_ROOT} "
            "(or point USERKEEPER_BIN at a built binary)"
        )
    return p


@dataclasses.dataclass
class LogLine:
    stream: str  # "stdout" | "stderr"
    text: str
    at: float  # monotonic


class Function:
    """The release binary as a Lambda function process bound to a LocalRuntimeApi."""

    def __init__(
        self,
        runtime: LocalRuntimeApi,
        endpoint_url: str | None,
        log_format: str | None = None,
        extra_env: dict[str, str] | None = None,
        binary: Path | None = None,
    ) -> None:
        self.runtime = runtime
        self.binary = binary or require_binary()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "AWS_LAMBDA_RUNTIME_API": runtime.address,
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + uuid.uuid4().hex,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
            "LAMBDA_TASK_ROOT": str(self.binary.parent),
        }
        if endpoint_url:
            env["AWS_ENDPOINT_URL"] = endpoint_url
        if log_format:
            env["AWS_LAMBDA_LOG_FORMAT"] = log_format
        env.update(extra_env or {})
        self.env = env
        self.lines: list[LogLine] = []
        self._lines_lock = threading.Lock()
        self.peak_rss_kb: int | None = None
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [str(self.binary)],
            env=env,
            cwd=str(REPO_ROOT),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.pid = self.proc.pid
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, "stderr"), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _pump(self, stream: Any, name: str) -> None:
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._lines_lock:
                self.lines.append(LogLine(name, text, time.monotonic()))
            if os.environ.get("E2E_ECHO_LOGS"):
                print(f"[userkeeper {name}] {text}", file=sys.stderr)
        stream.close()

    # -- queries -------------------------------------------------------------------------
    def log_lines(self, stream: str | None = None) -> list[str]:
        with self._lines_lock:
            return [ln.text for ln in self.lines if stream is None or ln.stream == stream]

    def log_text(self) -> str:
        return "\n".join(self.log_lines())

    def exited(self) -> str | None:
        rc = self.proc.poll()
        return None if rc is None else f"userkeeper exited with status {rc}"

    def read_rss(self) -> tuple[int | None, int | None]:
        """(VmHWM, VmRSS) in kB from /proc/<pid>/status, while the process lives."""
        hwm = rss = None
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
        except OSError:
            pass
        if hwm is not None:
            self.peak_rss_kb = max(self.peak_rss_kb or 0, hwm)
        return hwm, rss

    # -- driving -------------------------------------------------------------------------
    def invoke(self, event: Any, timeout_s: float = 30) -> Invocation:
        inv = self.runtime.invoke(event, timeout_s, abort=self.exited)
        self.read_rss()
        return inv

    def submit(self, event: Any, timeout_s: float = 30) -> Invocation:
        return self.runtime.submit(event, timeout_s)

    def wait(self, inv: Invocation) -> Invocation:
        self.runtime.wait(inv, abort=self.exited)
        self.read_rss()
        return inv

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.read_rss()
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for t in self._readers:
            t.join(2)
