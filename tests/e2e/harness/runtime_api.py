"""The Lambda Runtime API the function under test polls."""

from __future__ import annotations

import collections
import dataclasses
import json
import secrets
import threading
import time
import uuid
from typing import Any, Callable

from .constants import FUNCTION_ARN
from .loopback import LoopbackHandler, LoopbackServer, now_ms


@dataclasses.dataclass
class Invocation:
    request_id: str
    event: Any
    deadline_ms: int  # epoch milliseconds, as sent in Lambda-Runtime-Deadline-Ms
    queued_at: float  # time.monotonic()
    timeout_ms: int = 0  # the function's timeout this invocation was given
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

    def __init__(self, grace_s: float = 3.0, deadline_from_serve: bool = False) -> None:
        self.grace_s = grace_s
        #: Lambda's way with more events than function processes: an event waits in the queue
        #: with no deadline, which runs (its timeout) from when a process takes it. Default: the
        #: deadline runs from submit, which is the same whenever a process is free.
        self.deadline_from_serve = deadline_from_serve
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

        class Handler(LoopbackHandler):
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

        self._server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="runtime-api", daemon=True
        )
        self._thread.start()

    # -- server side ---------------------------------------------------------------------
    def _serve_next(self, h: LoopbackHandler) -> None:
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
            inv.served_wall_ms = now_ms()
            if self.deadline_from_serve:
                inv.deadline_ms = inv.served_wall_ms + inv.timeout_ms
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

    def _finish(self, h: LoopbackHandler, request_id: str, what: str, body: bytes) -> None:
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
            inv.finished_wall_ms = now_ms()
            self._cond.notify_all()
        h.reply(202, b'{"status":"OK"}')

    # -- client side ---------------------------------------------------------------------
    def submit(self, event: Any, timeout_s: float = 30, request_id: str | None = None) -> Invocation:
        """Queue an event without waiting (see ``wait``). The deadline runs from now."""
        inv = Invocation(
            request_id=request_id or str(uuid.uuid4()),
            event=event,
            deadline_ms=now_ms() + int(timeout_s * 1000),
            queued_at=time.monotonic(),
            timeout_ms=int(timeout_s * 1000),
        )
        with self._cond:
            self._by_id[inv.request_id] = inv
            self.invocations.append(inv)
            self._pending.append(inv)
            self._cond.notify_all()
        return inv

    def wait(self, inv: Invocation, abort: Callable[[], str | None] | None = None) -> Invocation:
        """Block until ``inv`` has a result, or its deadline + grace passed, or abort() says why
        (with ``deadline_from_serve``, an event still queued has no deadline yet)."""
        with self._cond:
            while inv.kind is None and (
                (self.deadline_from_serve and inv.served_at is None)
                or now_ms() < inv.deadline_ms + int(self.grace_s * 1000)
            ):
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
