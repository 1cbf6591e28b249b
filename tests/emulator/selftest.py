"""Helpers of the emulator's self-tests (``test_emulator*.py``; fixtures in ``conftest.py``):
the emulator as a subprocess on a free loopback port, the control API, boto3 clients."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL = "pip install -r tests/requirements.txt"
REGION = "us-east-1"
ACCOUNT = "123456789012"

for _module in ("moto", "boto3", "flask"):
    if importlib.util.find_spec(_module) is None:  # fail, never skip: a skipped suite proves nothing
        pytest.fail(f"{_module} is missing for {sys.executable}: run `{INSTALL}`", pytrace=False)

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        """``env``: variables added to the emulator's environment."""
        self.port = free_port()
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.emulator", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.output: list[str] = []
        ready = threading.Event()

        def pump() -> None:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                self.output.append(line.rstrip())
                if line.startswith("emulator ready on "):
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30) or self.proc.poll() is not None:
            self.stop()
            pytest.fail(
                "the emulator did not start (is moto installed? `" + INSTALL + "`):\n"
                + "\n".join(self.output[-40:]),
                pytrace=False,
            )
        self.startup_seconds = time.monotonic() - started
        self.url = f"http://127.0.0.1:{self.port}"
        assert self.output[0] == f"emulator ready on {self.url}"

    def stop(self, sig: int | None = None) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if sig is None else sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def control(server: Server, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(server.url + "/_emulator/" + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def client(server: Server, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str, int]:
    """(code, message, HTTP status) of the ClientError the call must raise."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    err = info.value.response
    return err["Error"]["Code"], err["Error"].get("Message", ""), err["ResponseMetadata"]["HTTPStatusCode"]


def error_response(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The whole parsed error response (e.g. for MQ's ErrorAttribute)."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value.response


def transition(server: Server, seconds: float) -> None:
    control(server, "POST", "config", {"transition_seconds": seconds})


def strict(server: Server, on: bool = True) -> None:
    """Switch the refusals of ``"strict"`` (what AWS refuses while resources settle) on or off."""
    control(server, "POST", "config", {"strict": on})


def wait_for(read: Any, expected: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while (value := read()) != expected:
        assert time.monotonic() < deadline, f"still {value!r}, expected {expected!r}"
        time.sleep(0.05)


def sequence(read: Any, until: Any, timeout: float = 5.0) -> list[Any]:
    """The distinct values ``read()`` takes, polled every 20 ms, until it gives ``until``."""
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if not seen or seen[-1] != value:
            seen.append(value)
        if value == until:
            return seen
        assert time.monotonic() < deadline, f"still {value!r} after {seen!r}, expected {until!r}"
        time.sleep(0.02)
