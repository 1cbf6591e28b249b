"""End-to-end harness for the userkeeper Lambda.

Pieces (all on loopback, all on free ports, no network access needed):

* ``LocalRuntimeApi``  - a Lambda Runtime API (the endpoint ``AWS_LAMBDA_RUNTIME_API`` points at).
* ``ResponseReceiver`` - stands in for CloudFormation's pre-signed S3 ``ResponseURL``.
* ``Function``         - the release binary as a child process, logs captured line by line.
* ``Emulator``         - ``python -m tests.emulator`` (moto + extensions) as a child process.
* ``cfn_event`` / ``load_event`` - CloudFormation custom-resource events, exactly as sent.

Only the standard library (plus boto3 for seeding the emulator, imported lazily) is used, so
``bench.py`` and ``demo.py`` can share this module.
"""

from __future__ import annotations

import collections
import dataclasses
import http.server
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = REPO_ROOT / "events"

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
FUNCTION_NAME = "userkeeper"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{FUNCTION_NAME}"
SERVICE_TOKEN = FUNCTION_ARN
DEFAULT_STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/e2e-stack/"
    "5b918d10-cd98-11ea-90d5-0a9cd3354c10"
)
INSTALL_HINT = "pip install -r tests/requirements.txt"
BUILD_HINT = "cargo build --release"

USER_TYPE = "Custom::ElastiCacheUser"
GROUP_TYPE = "Custom::ElastiCacheUserGroup"


def _now_ms() -> int:
    return int(time.time() * 1000)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Long-polls block handler threads; never let one request hold up the others.
    request_queue_size = 64

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away (the function stopped mid long-poll, a socket timeout of the
        # function's HTTP client) is normal here; anything else is still reported.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 handler (keep-alive) that can read fixed-length and chunked bodies."""

    protocol_version = "HTTP/1.1"
    server_version = "e2e-harness"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep pytest output clean; everything is recorded instead

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until the empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()


# --------------------------------------------------------------------------------------------
# Lambda Runtime API
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Invocation:
    request_id: str
    event: Any
    deadline_ms: int  # epoch milliseconds, as sent in Lambda-Runtime-Deadline-Ms
    queued_at: float  # time.monotonic()
    served_at: float | None = None  # monotonic time /next handed this event out
    served_wall_ms: int | None = None
    finished_at: float | None = None  # monotonic time the result arrived
    finished_wall_ms: int | None = None
    kind: str | None = None  # "response" | "error" | None (no result in time)
    body: bytes | None = None  # raw result / error body
    error_type: str | None = None  # Lambda-Runtime-Function-Error-Type header on /error

    @property
    def finished(self) -> bool:
        return self.kind is not None

    @property
    def before_deadline(self) -> bool:
        return self.finished_wall_ms is not None and self.finished_wall_ms < self.deadline_ms

    @property
    def duration_s(self) -> float | None:
        if self.served_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.served_at

    @property
    def result(self) -> Any:
        """The result body parsed as JSON (None if empty or absent)."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:  # short, for assertion messages
        return (
            f"Invocation(id={self.request_id}, kind={self.kind}, duration={self.duration_s}, "
            f"before_deadline={self.before_deadline}, body={self.body[:500] if self.body else self.body!r})"
        )


class LocalRuntimeApi:
    """The Lambda Runtime API (2018-06-01) on a free loopback port."""

    PREFIX = "/2018-06-01/runtime"

    #: Where the emulator delivers the function's asynchronous self-invokes (continuations).
    ASYNC_INVOKE_PATH = "/_async-invoke"

    def __init__(self, grace_s: float = 3.0) -> None:
        self.grace_s = grace_s
        #: The deadline each asynchronous invocation gets, like the function's timeout.
        self.async_timeout_s = 30.0
        self._cond = threading.Condition()
        self._pending: collections.deque[Invocation] = collections.deque()
        self._by_id: dict[str, Invocation] = {}
        self._closed = False
        self.invocations: list[Invocation] = []
        self.first_next_at: float | None = None  # monotonic
        self.next_requests = 0
        self.init_errors: list[tuple[dict[str, str], bytes]] = []
        self.unknown_requests: list[tuple[str, str]] = []
        api = self

        class Handler(_Handler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == f"{api.PREFIX}/invocation/next":
                    api._serve_next(self)
                else:
                    api.unknown_requests.append(("GET", self.path))
                    self.reply(404, b'{"errorMessage":"not found"}')

            def do_POST(self) -> None:  # noqa: N802
                body = self.read_body()
                parts = self.path.split("/")
                # /2018-06-01/runtime/invocation/{id}/{response|error}
                if self.path.startswith(f"{api.PREFIX}/invocation/") and len(parts) == 6:
                    api._finish(self, parts[4], parts[5], body)
                elif self.path == api.ASYNC_INVOKE_PATH:
                    # Lambda's Invoke with InvocationType Event, forwarded by the emulator:
                    # queued like any event, with the function's timeout as its deadline.
                    api.submit(json.loads(body), api.async_timeout_s)
                    self.reply(202, b'{"status":"OK"}')
                elif self.path == f"{api.PREFIX}/init/error":
                    api.init_errors.append((dict(self.headers), body))
                    with api._cond:
                        api._cond.notify_all()
                    self.reply(202, b'{"status":"OK"}')
                else:
                    api.unknown_requests.append(("POST", self.path))
                    self.reply(404, b'{"errorMessage":"not found"}')

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="runtime-api", daemon=True
        )
        self._thread.start()

    # -- server side ---------------------------------------------------------------------
    def _serve_next(self, h: _Handler) -> None:
        with self._cond:
            self.next_requests += 1
            if self.first_next_at is None:
                self.first_next_at = time.monotonic()
                self._cond.notify_all()
            while not self._pending and not self._closed:
                self._cond.wait(0.2)
            if self._closed:
                h.close_connection = True
                return
            inv = self._pending.popleft()
            inv.served_at = time.monotonic()
            inv.served_wall_ms = _now_ms()
        body = json.dumps(inv.event).encode() if not isinstance(inv.event, bytes) else inv.event
        h.reply(
            200,
            body,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                "Lambda-Runtime-Trace-Id": (
                    f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"
                ),
            },
        )

    def _finish(self, h: _Handler, request_id: str, what: str, body: bytes) -> None:
        with self._cond:
            inv = self._by_id.get(request_id)
            if inv is None or what not in ("response", "error"):
                self.unknown_requests.append(("POST", h.path))
                h.reply(400, b'{"errorMessage":"unknown request id"}')
                return
            if inv.kind is not None:
                # A second result for the same id: record it as an anomaly, keep the first.
                self.unknown_requests.append(("POST-duplicate", h.path))
                h.reply(400, b'{"errorMessage":"already finished"}')
                return
            inv.kind = what
            inv.body = body
            inv.error_type = h.headers.get("Lambda-Runtime-Function-Error-Type")
            inv.finished_at = time.monotonic()
            inv.finished_wall_ms = _now_ms()
            self._cond.notify_all()
        h.reply(202, b'{"status":"OK"}')

    # -- client side ---------------------------------------------------------------------
    def submit(self, event: Any, timeout_s: float = 30, request_id: str | None = None) -> Invocation:
        """Queue an event without waiting (see ``wait``). The deadline runs from now."""
        inv = Invocation(
            request_id=request_id or str(uuid.uuid4()),
            event=event,
            deadline_ms=_now_ms() + int(timeout_s * 1000),
            queued_at=time.monotonic(),
        )
        with self._cond:
            self._by_id[inv.request_id] = inv
            self.invocations.append(inv)
            self._pending.append(inv)
            self._cond.notify_all()
        return inv

    def wait(self, inv: Invocation, abort: Callable[[], str | None] | None = None) -> Invocation:
        """Block until ``inv`` has a result, or its deadline + grace passed, or abort() says why."""
        give_up_ms = inv.deadline_ms + int(self.grace_s * 1000)
        with self._cond:
            while inv.kind is None and _now_ms() < give_up_ms:
                if self.init_errors or (abort and abort()):
                    break
                self._cond.wait(0.1)
        return inv

    def invoke(
        self, event: Any, timeout_s: float = 30, abort: Callable[[], str | None] | None = None
    ) -> Invocation:
        return self.wait(self.submit(event, timeout_s), abort)

    def async_invoke_url(self) -> str:
        return f"http://{self.address}{self.ASYNC_INVOKE_PATH}"

    def wait_first_next(self, timeout_s: float = 10) -> float | None:
        end = time.monotonic() + timeout_s
        with self._cond:
            while self.first_next_at is None and time.monotonic() < end:
                self._cond.wait(0.01)
        return self.first_next_at

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()


# --------------------------------------------------------------------------------------------
# The pre-signed S3 URL stand-in
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ReceivedRequest:
    method: str
    path: str  # path + query, as sent
    headers: list[tuple[str, str]]  # as sent, in order, original case
    body: bytes
    at: float  # monotonic time the request (headers + body) was read
    wall_ms: int
    status: int | None = None  # what we answered (None: connection dropped)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def name(self) -> str:
        """The ``<name>`` part of ``/cfn-response/<name>?...``."""
        p = urllib.parse.urlsplit(self.path).path
        return p.rsplit("/", 1)[-1]

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


class ResponseReceiver:
    """Records every request; answers from a programmable queue of status codes.

    * ``statuses``: e.g. ``[500, 200]`` - popped one per request; 200 once empty.
    * ``delay_s``: sleep before answering each request.
    * ``down()``: from now on ``url()`` points at a port with a bound but non-listening socket
      (connection refused) for as long as this receiver lives.
    * ``blackhole()``: ``url()`` points at a listening socket that never accepts or answers.
    """

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.statuses: collections.deque[int] = collections.deque()
        self.delay_s = 0.0
        self.secrets: list[str] = []  # every X-Amz-Signature handed out
        self._lock = threading.Condition()
        self._dead_socket: socket.socket | None = None
        self._target_port: int | None = None
        recv = self

        class Handler(_Handler):
            def _handle(self) -> None:
                body = self.read_body()
                rec = ReceivedRequest(
                    method=self.command,
                    path=self.path,
                    headers=list(self.headers.items()),
                    body=body,
                    at=time.monotonic(),
                    wall_ms=_now_ms(),
                )
                with recv._lock:
                    recv.requests.append(rec)
                    status = recv.statuses.popleft() if recv.statuses else 200
                    delay = recv.delay_s
                if delay:
                    time.sleep(delay)
                rec.status = status
                payload = b"" if status < 300 else (
                    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code>"
                    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
                )
                try:
                    self.reply(status, payload, {"x-amz-request-id": secrets.token_hex(8).upper()})
                except OSError:
                    rec.status = None
                with recv._lock:
                    recv._lock.notify_all()

            do_PUT = do_POST = do_GET = _handle  # noqa: N815

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="receiver", daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Connection refused on every later url(): a bound socket that never listens."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        self._dead_socket = s
        self._target_port = s.getsockname()[1]

    def blackhole(self) -> None:
        """Connections are accepted by the kernel (backlog) but nobody ever reads or answers."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        self._dead_socket = s
        self._target_port = s.getsockname()[1]

    def url(self, name: str | None = None) -> str:
        name = name or f"r-{uuid.uuid4().hex[:12]}"
        sig = f"SECRETSIG{secrets.token_hex(16)}"
        self.secrets.append(sig)
        port = self._target_port or self.port
        query = urllib.parse.urlencode(
            {
                "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
                "X-Amz-SignedHeaders": "host",
                "X-Amz-Expires": "7200",
                "X-Amz-Credential": f"AKIAEXAMPLE/{time.strftime('%Y%m%d', time.gmtime())}/us-east-1/s3/aws4_request",
                "X-Amz-Signature": sig,
            }
        )
        return f"http://127.0.0.1:{port}/cfn-response/{urllib.parse.quote(name)}?{query}"

    def for_url(self, url: str) -> list[ReceivedRequest]:
        target = urllib.parse.urlsplit(url)
        want = target.path + ("?" + target.query if target.query else "")
        with self._lock:
            return [r for r in self.requests if r.path == want]

    def wait_for(self, url: str, count: int = 1, timeout_s: float = 5) -> list[ReceivedRequest]:
        end = time.monotonic() + timeout_s
        with self._lock:
            while time.monotonic() < end:
                got = [r for r in self.for_url(url) if r.status is not None]
                if len(got) >= count:
                    return got
                self._lock.wait(0.05)
        return self.for_url(url)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._dead_socket:
            self._dead_socket.close()


# --------------------------------------------------------------------------------------------
# The binary
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The emulator (moto + tests/emulator extensions)
# --------------------------------------------------------------------------------------------


class EmulatorUnavailable(RuntimeError):
    pass


class Emulator:
    """``python -m tests.emulator`` on a free port, plus a client for its control API."""

    def __init__(self, python: str | None = None, ready_timeout_s: float = 60) -> None:
        try:
            import moto  # noqa: F401
        except ImportError as e:
            raise EmulatorUnavailable(
                f"moto is not installed for {sys.executable} ({e}); run `{INSTALL_HINT}`"
            ) from e
        self.port = free_port()
        self.host = "127.0.0.1"
        self.output: collections.deque[str] = collections.deque(maxlen=300)  # the access log is long
        self.proc = subprocess.Popen(
            [python or sys.executable, "-m", "tests.emulator", "--host", self.host, "--port", str(self.port)],
            cwd=str(REPO_ROOT),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.url: str | None = None
        ready = threading.Event()

        def pump() -> None:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                self.output.append(line)
                if self.url is None and "emulator ready on " in line:
                    self.url = line.split("emulator ready on ", 1)[1].strip()
                    ready.set()
            ready.set()

        threading.Thread(target=pump, name="emulator-output", daemon=True).start()
        if not ready.wait(ready_timeout_s) or self.url is None:
            tail = "\n".join(list(self.output)[-30:])
            self.stop()
            raise EmulatorUnavailable(
                f"the emulator did not print 'emulator ready on ...' within {ready_timeout_s}s "
                f"(is moto installed? `{INSTALL_HINT}`). Its output:\n{tail}"
            )

    # -- control API ---------------------------------------------------------------------
    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body.strip() else None

    def config(self, **settings: Any) -> Any:
        return self._call("POST", "/_emulator/config", settings)

    def reset(self) -> Any:
        return self._call("POST", "/_emulator/reset")

    def state(self) -> Any:
        return self._call("GET", "/_emulator/state")

    def calls(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_emulator/calls")

    def clear_calls(self) -> Any:
        return self._call("POST", "/_emulator/calls/clear")

    def fail(self, **fault: Any) -> Any:
        """Queue a fault (``/_emulator/fail``): the next matching calls answer this error."""
        return self._call("POST", "/_emulator/fail", fault)

    def lambda_forward(self, function: str, url: str | None) -> Any:
        """Answer the function's ``Invoke`` (``InvocationType: Event``) by POSTing the payload to ``url``."""
        return self._call("POST", "/_emulator/lambda/forward", {"function": function, "url": url})

    def lambda_deliveries(self) -> list[dict[str, Any]]:
        """Every forwarded Event invoke (no payloads): function, url, bytes, status, error, ..."""
        return self._call("GET", "/_emulator/lambda/deliveries")

    def enable_rotation(self, secret: str, function_arn: str = FUNCTION_ARN, enabled: bool = True) -> Any:
        """Mark ``secret`` rotated by ``function_arn`` without invoking anything (moto's
        RotateSecret would insist the function lives inside moto and run it)."""
        return self._call("POST", "/_emulator/secretsmanager/rotation",
                          {"secret": secret, "lambda": function_arn, "enabled": enabled})

    def new_pending(self, secret: str, token: str | None = None) -> str:
        """What Secrets Manager does before it calls the rotation function: a new version id
        staged AWSPENDING with no value. Answers the token (the version id)."""
        body: dict[str, Any] = {"secret": secret}
        if token:
            body["token"] = token
        return self._call("POST", "/_emulator/secretsmanager/pending", body)["token"]

    def mq_broker(self, broker_id: str) -> dict[str, Any]:
        """The broker's part of the state (``reboots``, ``Tags``, ``users``...)."""
        brokers = [b for b in self.state()["mq"]["brokers"] if b["BrokerId"] == broker_id]
        assert len(brokers) == 1, f"broker {broker_id} is not in the emulator: {brokers}"
        return brokers[0]

    def mq_user(self, broker_id: str, username: str) -> dict[str, Any] | None:
        """One broker user's state (``Password`` live, ``Pending``), None if there is none."""
        users = [u for u in self.mq_broker(broker_id)["users"] if u["Username"] == username]
        return users[0] if users else None

    def secret_versions(self, secret_arn: str) -> dict[str, Any]:
        """``{version id: {"Stages", "HasValue", "SecretString", "RotationToken"}}`` from the state."""
        for s in self.state()["secretsmanager"]["secrets"]:
            if s["ARN"] == secret_arn or s["Name"] == secret_arn:
                return s["Versions"]
        raise KeyError(secret_arn)

    def actions(self, service: str | None = None) -> list[str]:
        """Action names from the call log, in order (optionally one service only)."""
        return [
            c.get("action")
            for c in self.calls()
            if service is None or (c.get("service") or "").lower() == service.lower()
        ]

    def client(self, service: str) -> Any:
        import boto3  # lazily: only needed to seed / inspect the emulator

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --------------------------------------------------------------------------------------------
# CloudFormation events
# --------------------------------------------------------------------------------------------


ROTATION_STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def rotation_event(step: str, secret_id: str, token: str, rotation_token: str | None = None) -> dict[str, Any]:
    """A Secrets Manager rotation event, exactly as sent."""
    event = {"Step": step, "SecretId": secret_id, "ClientRequestToken": token}
    if rotation_token is not None:
        event["RotationToken"] = rotation_token
    return event


def cfn_strings(value: Any) -> Any:
    """CloudFormation's rendering of template values: every scalar leaf becomes a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {k: cfn_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cfn_strings(v) for v in value]
    return value


def cfn_event(
    request_type: str,
    resource_type: str,
    props: dict[str, Any] | None,
    physical_id: str | None = None,
    old_props: dict[str, Any] | None = None,
    response_url: str = "http://127.0.0.1:9001/cfn-response/unset",
    logical_id: str = "MyResource",
    stack_id: str = DEFAULT_STACK_ID,
    request_id: str | None = None,
    service_token: str = SERVICE_TOKEN,
) -> dict[str, Any]:
    """One custom-resource request exactly as CloudFormation sends it to Lambda."""
    if request_type not in ("Create", "Update", "Delete"):
        raise ValueError(request_type)
    if request_type in ("Update", "Delete") and physical_id is None:
        raise ValueError(f"{request_type} needs a physical_id")
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": request_id or str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": {"ServiceToken": service_token, **cfn_strings(props or {})},
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = physical_id
    if request_type == "Update":
        event["OldResourceProperties"] = {"ServiceToken": service_token, **cfn_strings(old_props or {})}
    return event


def event_files() -> list[Path]:
    return sorted(EVENTS_DIR.glob("*.json"))


#: The BrokerId the MQ sample events carry; replace it with a real broker's id.
PLACEHOLDER_BROKER_ID = "b-00000000-0000-0000-0000-000000000000"


def create_activemq_broker(emulator: "Emulator", name: str = "sample-broker") -> str:
    """An ActiveMQ broker in the emulator, as the MQ sample events need; returns its id."""
    out = emulator.client("mq").create_broker(
        BrokerName=name,
        DeploymentMode="SINGLE_INSTANCE",
        EngineType="ACTIVEMQ",
        HostInstanceType="mq.t3.micro",
        PubliclyAccessible=False,
        Users=[{"Username": "admin", "Password": "Admin-Passw0rd-123", "ConsoleAccess": True}],
    )
    return out["BrokerId"]


def with_broker(event: dict[str, Any], broker_id: str) -> dict[str, Any]:
    """`event` with the placeholder BrokerId (in properties and physical id) replaced."""
    return json.loads(json.dumps(event).replace(PLACEHOLDER_BROKER_ID, broker_id))


def load_event(name_or_path: str | Path, response_url: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Load a sample from events/ (name with or without .json, or a path); substitute ResponseURL."""
    p = Path(name_or_path)
    if not p.is_absolute() and not p.exists():
        p = EVENTS_DIR / (p.name if p.suffix == ".json" else f"{p.name}.json")
    event = json.loads(p.read_text())
    if response_url is not None:
        event["ResponseURL"] = response_url
    event.update(overrides)
    return event


# --------------------------------------------------------------------------------------------
# Checking a CloudFormation response
# --------------------------------------------------------------------------------------------

RESPONSE_KEYS = {"Status", "Reason", "PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId", "NoEcho", "Data"}


def control_chars(s: str) -> list[str]:
    """C0 controls (tab and newline included), DEL and C1 controls."""
    return [c for c in s if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0]


def check_put(put: ReceivedRequest, event: dict[str, Any]) -> list[str]:
    """Every rule the PUT to a ResponseURL must follow; returns the list of violations."""
    problems: list[str] = []
    if put.method != "PUT":
        problems.append(f"method is {put.method}, not PUT")
    ctype = put.header_all("Content-Type")
    if any(v.strip() for v in ctype):
        problems.append(f"Content-Type must be absent or empty, got {ctype!r}")
    clen = put.header("Content-Length")
    if clen is None:
        problems.append(f"no Content-Length (headers: {put.headers})")
    elif clen.strip() != str(len(put.body)):
        problems.append(f"Content-Length {clen} != body bytes {len(put.body)}")
    if len(put.body) > 4096:
        problems.append(f"body is {len(put.body)} bytes > 4096")
    try:
        body = json.loads(put.body)
    except ValueError as e:
        return problems + [f"body is not JSON ({e}): {put.body[:300]!r}"]
    if not isinstance(body, dict):
        return problems + [f"body is not a JSON object: {body!r}"]
    extra = set(body) - RESPONSE_KEYS
    if extra:
        problems.append(f"unexpected keys {sorted(extra)}")
    if body.get("Status") not in ("SUCCESS", "FAILED"):
        problems.append(f"Status {body.get('Status')!r}")
    if "Reason" in body:
        r = body["Reason"]
        if not isinstance(r, str):
            problems.append(f"Reason must be a string, got {r!r}")
        elif control_chars(r):
            problems.append(f"Reason has control characters: {r!r}")
    if body.get("Status") == "FAILED" and not (isinstance(body.get("Reason"), str) and body["Reason"].strip()):
        problems.append("FAILED without a Reason")
    pid = body.get("PhysicalResourceId")
    if not isinstance(pid, str) or not pid or len(pid.encode()) > 1024:
        problems.append(f"PhysicalResourceId must be a non-empty string <= 1 KB, got {pid!r}")
    for k in ("StackId", "RequestId", "LogicalResourceId"):
        if body.get(k) != event.get(k):
            problems.append(f"{k} {body.get(k)!r} != request's {event.get(k)!r}")
    if "Data" in body and not isinstance(body["Data"], dict):
        problems.append(f"Data must be an object, got {body['Data']!r}")
    if "NoEcho" in body and not isinstance(body["NoEcho"], bool):
        problems.append(f"NoEcho must be a bool, got {body['NoEcho']!r}")
    return problems


class ResponseView:
    """What a test reads from the PUTs a request produced: ``puts`` is set by the subclass."""

    puts: list[ReceivedRequest]

    @property
    def accepted(self) -> list[ReceivedRequest]:
        return [p for p in self.puts if p.accepted]

    @property
    def response(self) -> dict[str, Any]:
        """The body of the (single) accepted PUT."""
        acc = self.accepted
        assert len(acc) == 1, f"expected exactly one accepted PUT, got {len(acc)}: {self.puts}"
        return acc[0].json()

    @property
    def status(self) -> str:
        return self.response["Status"]

    @property
    def reason(self) -> str:
        return self.response.get("Reason") or ""

    @property
    def physical_id(self) -> str:
        return self.response["PhysicalResourceId"]

    @property
    def data(self) -> dict[str, Any]:
        return self.response.get("Data") or {}


@dataclasses.dataclass
class CfnResult(ResponseView):
    """One custom-resource event driven through the function, with everything observed."""

    event: dict[str, Any]
    invocation: Invocation
    puts: list[ReceivedRequest]

    def __repr__(self) -> str:
        return f"CfnResult(puts={[(p.status, p.body[:400]) for p in self.puts]}, invocation={self.invocation})"


def contains_any(haystacks: Iterable[str | bytes], needles: Iterable[str]) -> list[tuple[str, str]]:
    """(needle, haystack excerpt) for every needle found in any haystack."""
    found = []
    needles = [n for n in needles if n]
    for h in haystacks:
        text = h.decode("utf-8", "replace") if isinstance(h, bytes) else h
        for n in needles:
            if n in text:
                i = text.index(n)
                found.append((n, text[max(0, i - 80): i + len(n) + 80]))
    return found


def mask_passwords(value: Any) -> Any:
    """Copy of emulator state with every password-like value masked (for printing)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if "password" in k.lower() and not k.lower().endswith(("count", "type", "arn")):
                if isinstance(v, list):
                    out[k] = ["****" for _ in v]
                elif isinstance(v, (str, int)) and not isinstance(v, bool):
                    out[k] = "****"
                else:
                    out[k] = mask_passwords(v)
            elif k in ("SecretString", "secret_string"):
                out[k] = "****"
            else:
                out[k] = mask_passwords(v)
        return out
    if isinstance(value, list):
        return [mask_passwords(v) for v in value]
    return value
