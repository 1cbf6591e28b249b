"""Self-tests of the emulator's Lambda Invoke forwarding (``awslambda.py``), with boto3 and a
local HTTP server standing in for the function."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .selftest import ACCOUNT, REGION, Server, client, control, error_of, free_port, wait_for

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:userkeeper"
# What a continuation carries: a pre-signed URL and possibly a password; never logged.
RAW = b"\x00raw \xff bytes"  # payloads are bytes, not necessarily JSON
PAYLOAD = json.dumps({
    "continuation": {"ResponseURL": "https://cfn.example/x?X-Amz-Signature=secret-signature", "password": "pw-123456789012"},
}).encode()


class Target:
    """A local HTTP server that records the POSTs it gets (path, body)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.delay = delay
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(target.delay)
                target.received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.close()


@pytest.fixture
def lam(server: Server) -> Any:
    return client(server, "lambda")


def forward(server: Server, function: str, url: str | None) -> Any:
    return control(server, "POST", "lambda/forward", {"function": function, "url": url})


def deliveries(server: Server) -> list[dict]:
    return control(server, "GET", "lambda/deliveries")


def delivered(server: Server, count: int) -> list[dict]:
    wait_for(lambda: sum(d["finished"] is not None for d in deliveries(server)), count)
    return deliveries(server)


def test_event_invokes_are_forwarded(server: Server, lam: Any, target: Target) -> None:
    assert forward(server, FUNCTION_ARN, target.url + "/continue") == [{"function": FUNCTION_ARN, "url": target.url + "/continue"}]
    assert control(server, "GET", "lambda/forward") == [{"function": FUNCTION_ARN, "url": target.url + "/continue"}]
    names = [FUNCTION_ARN, "userkeeper", f"{FUNCTION_ARN}:live", f"{ACCOUNT}:function:userkeeper"]
    for name in names:
        out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=PAYLOAD)
        assert out["StatusCode"] == 202 and out["Payload"].read() == b""
    lam.invoke(FunctionName="userkeeper", InvocationType="Event", Payload=RAW, Qualifier="7")

    records = delivered(server, 5)
    assert sorted(target.received) == sorted([("/continue", PAYLOAD)] * 4 + [("/continue", RAW)])
    assert [d["function"] for d in records] == names + ["userkeeper"]
    assert [d["qualifier"] for d in records] == [None, None, "live", None, "7"]
    assert all(d["status"] == 200 and d["error"] is None and d["url"] == target.url + "/continue" for d in records)
    assert [d["bytes"] for d in records] == [len(PAYLOAD)] * 4 + [len(RAW)]

    calls = control(server, "GET", "calls")
    assert [(c["service"], c["action"]) for c in calls] == [("lambda", "Invoke")] * 5
    log = json.dumps(calls) + json.dumps(records)
    assert "secret-signature" not in log and "pw-123456789012" not in log


def test_invoke_answers_before_the_function_is_done(server: Server, lam: Any) -> None:
    slow = Target(delay=1.0)  # like the Lambda runtime emulator: answers when the run ends
    try:
        forward(server, "userkeeper", slow.url)
        started = time.monotonic()
        assert lam.invoke(FunctionName=FUNCTION_ARN, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
        assert time.monotonic() - started < 0.5
        assert deliveries(server)[0]["finished"] is None  # still running
        assert delivered(server, 1)[0]["status"] == 200
        assert slow.received == [("/", b"{}")]
    finally:
        slow.close()


def test_other_invocation_types(server: Server, lam: Any, target: Target) -> None:
    forward(server, "userkeeper", target.url)
    code, message, status = error_of(lam.invoke, FunctionName="userkeeper", Payload=b"{}")
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "Event" in message and "RequestResponse" in message
    assert lam.invoke(FunctionName="userkeeper", InvocationType="DryRun")["StatusCode"] == 204
    time.sleep(0.2)
    assert target.received == [] and deliveries(server) == []
    assert [c["action"] for c in control(server, "GET", "calls")] == ["Invoke", "Invoke"]


def test_fault_injection(server: Server, lam: Any, target: Target) -> None:
    forward(server, FUNCTION_ARN, target.url)
    control(server, "POST", "fail", {"service": "lambda", "action": "Invoke", "count": 2, "status": 403,
                                     "code": "AccessDeniedException", "message": "not allowed to invoke"})
    for _ in range(2):
        assert error_of(lam.invoke, FunctionName=FUNCTION_ARN, InvocationType="Event", Payload=PAYLOAD) == (
            "AccessDeniedException", "not allowed to invoke", 403)
    assert lam.invoke(FunctionName=FUNCTION_ARN, InvocationType="Event", Payload=PAYLOAD)["StatusCode"] == 202
    assert len(delivered(server, 1)) == 1 and target.received == [("/", PAYLOAD)]
    assert control(server, "GET", "fail") == []

    control(server, "POST", "fail", {"service": "lambda", "action": "Invoke", "status": 429, "code": "TooManyRequestsException"})
    assert error_of(lam.invoke, FunctionName="userkeeper", InvocationType="Event", Payload=b"{}")[::2] == ("TooManyRequestsException", 429)


def test_failed_delivery_is_recorded(server: Server, lam: Any) -> None:
    forward(server, "userkeeper", f"http://127.0.0.1:{free_port()}/nobody-listens")
    assert lam.invoke(FunctionName="userkeeper", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    record = delivered(server, 1)[0]
    assert record["status"] is None and "Connection" in record["error"]


def test_only_registered_functions_are_forwarded(server: Server, lam: Any, target: Target) -> None:
    forward(server, FUNCTION_ARN, target.url)
    other_account = FUNCTION_ARN.replace(ACCOUNT, "210987654321")
    for name in ("other-function", other_account):
        code, _, status = error_of(lam.invoke, FunctionName=name, InvocationType="Event", Payload=b"{}")
        assert (code, status) == ("ResourceNotFoundException", 404)  # moto's answer: no such function
    forward(server, FUNCTION_ARN, None)  # stop forwarding
    assert control(server, "GET", "lambda/forward") == []
    assert error_of(lam.invoke, FunctionName="userkeeper", InvocationType="Event", Payload=b"{}")[0] == "ResourceNotFoundException"
    assert target.received == []


def test_forward_registration_errors_and_reset(server: Server, target: Target) -> None:
    for body in ({"url": target.url}, {"function": "userkeeper", "url": "ftp://x"}, {"function": "a b", "url": target.url},
                 {"function": f"{FUNCTION_ARN}:live", "url": target.url}, {"function": "userkeeper"} | {"url": 5}):
        with pytest.raises(urllib.error.HTTPError) as info:
            control(server, "POST", "lambda/forward", body)
        assert info.value.code == 400
    forward(server, "userkeeper", target.url)
    assert control(server, "POST", "lambda/forward/clear") == {"status": "ok"}
    assert control(server, "GET", "lambda/forward") == []
    forward(server, "userkeeper", target.url)
    control(server, "POST", "reset")
    assert control(server, "GET", "lambda/forward") == [] and deliveries(server) == []
