"""The stand-in for CloudFormation's pre-signed S3 ``ResponseURL``, and the rules a PUT to it
must follow."""

from __future__ import annotations

import collections
import dataclasses
import json
import secrets
import socket
import threading
import time
import urllib.parse
import uuid
from typing import Any

from .loopback import LoopbackHandler, LoopbackServer, now_ms


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

        class Handler(LoopbackHandler):
            def _handle(self) -> None:
                body = self.read_body()
                rec = ReceivedRequest(
                    method=self.command,
                    path=self.path,
                    headers=list(self.headers.items()),
                    body=body,
                    at=time.monotonic(),
                    wall_ms=now_ms(),
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

        self._server = LoopbackServer(("127.0.0.1", 0), Handler)
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
# What a PUT to a ResponseURL must look like
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
