"""Self-tests of the harness pieces (runtime API, receiver, event builders) with a tiny Python
stand-in for a Lambda function. Needs neither the binary nor the emulator."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse

import pytest

from .harness.constants import FUNCTION_ARN, SERVICE_TOKEN, USER_TYPE
from .harness.events import cfn_event, event_files, load_event
from .harness.receiver import ReceivedRequest, ResponseReceiver, check_put
from .harness.runtime_api import LocalRuntimeApi


class StandIn:
    """A minimal Runtime API client: answers custom-resource events by PUT, others by /error."""

    def __init__(self, runtime: LocalRuntimeApi, chunked: bool = False, sleep_s: float = 0.0) -> None:
        self.runtime = runtime
        self.chunked = chunked
        self.sleep_s = sleep_s
        self.stop = False
        self.put_results: list[object] = []
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.runtime.port, timeout=60)
        while not self.stop:
            try:
                conn.request("GET", "/2018-06-01/runtime/invocation/next")
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException):
                return
            rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
            assert resp.getheader("Lambda-Runtime-Deadline-Ms")
            assert resp.getheader("Lambda-Runtime-Invoked-Function-Arn") == FUNCTION_ARN
            assert resp.getheader("Lambda-Runtime-Trace-Id")
            event = json.loads(body)
            time.sleep(self.sleep_s)
            if "ResponseURL" in event:
                answer = json.dumps(
                    {
                        "Status": "SUCCESS",
                        "PhysicalResourceId": "pid-é",  # multi-byte: Content-Length counts bytes
                        "StackId": event["StackId"],
                        "RequestId": event["RequestId"],
                        "LogicalResourceId": event["LogicalResourceId"],
                    }
                ).encode()
                u = urllib.parse.urlsplit(event["ResponseURL"])
                for _ in range(3):
                    try:
                        c = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
                        c.putrequest("PUT", u.path + "?" + u.query, skip_accept_encoding=True)
                        c.putheader("Content-Length", str(len(answer)))
                        c.endheaders()
                        c.send(answer)
                        st = c.getresponse().status
                        self.put_results.append(st)
                        if 200 <= st < 300:
                            break
                    except OSError as e:
                        self.put_results.append(e)
                path, out = "response", b"{}"
            else:
                path, out = "error", json.dumps({"errorType": "Unrecognised", "errorMessage": "not a CFN event"}).encode()
            url = f"/2018-06-01/runtime/invocation/{rid}/{path}"
            if self.chunked:
                conn.putrequest("POST", url)
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                for piece in (out[:1], out[1:]):
                    if piece:
                        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                conn.send(b"0\r\n\r\n")
            else:
                conn.request("POST", url, body=out, headers={"Lambda-Runtime-Function-Error-Type": "Unrecognised"})
            r = conn.getresponse()
            r.read()
            assert r.status == 202


@pytest.fixture
def runtime():
    rt = LocalRuntimeApi(grace_s=0.5)
    yield rt
    rt.close()


@pytest.fixture
def receiver():
    r = ResponseReceiver()
    yield r
    r.close()


def test_cfn_event_shape():
    ev = cfn_event(
        "Update",
        USER_TYPE,
        {"UserId": "u1", "NoPasswordRequired": True, "Passwords": ["a" * 16], "Port": 6379,
         "Tags": [{"Key": "k", "Value": 1}]},
        physical_id="u1",
        old_props={"UserId": "u1"},
        response_url="http://x/y",
        logical_id="MyUser",
    )
    assert ev["RequestType"] == "Update"
    assert ev["ServiceToken"] == ev["ResourceProperties"]["ServiceToken"] == SERVICE_TOKEN
    assert ev["OldResourceProperties"] == {"ServiceToken": SERVICE_TOKEN, "UserId": "u1"}
    assert ev["ResourceProperties"]["NoPasswordRequired"] == "true"
    assert ev["ResourceProperties"]["Port"] == "6379"
    assert ev["ResourceProperties"]["Tags"] == [{"Key": "k", "Value": "1"}]
    assert ev["PhysicalResourceId"] == "u1"
    assert set(ev) == {"RequestType", "ServiceToken", "ResponseURL", "StackId", "RequestId",
                       "LogicalResourceId", "ResourceType", "ResourceProperties",
                       "OldResourceProperties", "PhysicalResourceId"}
    create = cfn_event("Create", USER_TYPE, {"UserId": "u1"})
    assert "PhysicalResourceId" not in create and "OldResourceProperties" not in create


def test_event_files_are_cloudformation_shaped():
    files = event_files()
    names = {p.stem for p in files}
    for rt in ("elasticache-user", "elasticache-user-group"):
        for rq in ("create", "update", "update-replace", "delete"):
            assert f"{rt}-{rq}" in names
    for p in files:
        ev = load_event(p, response_url="http://127.0.0.1:1/x")
        assert ev["ResponseURL"] == "http://127.0.0.1:1/x"
        raw = json.loads(p.read_text())
        assert raw["ResponseURL"] == f"http://127.0.0.1:9001/cfn-response/{p.stem}"
        assert raw["ServiceToken"] == raw["ResourceProperties"]["ServiceToken"]
        assert raw["RequestType"] in ("Create", "Update", "Delete")
        assert ("PhysicalResourceId" in raw) == (raw["RequestType"] != "Create")
        assert ("OldResourceProperties" in raw) == (raw["RequestType"] == "Update")

        def leaves(v):
            if isinstance(v, dict):
                for x in v.values():
                    yield from leaves(x)
            elif isinstance(v, list):
                for x in v:
                    yield from leaves(x)
            else:
                yield v

        assert all(isinstance(x, str) for x in leaves(raw["ResourceProperties"])), p


@pytest.mark.parametrize("chunked", [False, True])
def test_runtime_and_receiver_round_trip(runtime, receiver, chunked):
    fn = StandIn(runtime, chunked=chunked)
    url = receiver.url("roundtrip")
    assert "X-Amz-Signature=SECRETSIG" in url
    ev = cfn_event("Create", USER_TYPE, {"UserId": "u1"}, response_url=url, logical_id="L")
    inv = runtime.invoke(ev, timeout_s=5)
    assert inv.kind == "response" and inv.before_deadline, inv
    assert runtime.first_next_at is not None and runtime.first_next_at <= inv.served_at
    puts = receiver.wait_for(url)
    assert len(puts) == 1 and puts[0].accepted
    assert check_put(puts[0], ev) == []
    assert puts[0].name == "roundtrip"
    fn.stop = True


def test_runtime_error_path(runtime):
    StandIn(runtime)
    inv = runtime.invoke({"Step": "createSecret"}, timeout_s=5)
    assert inv.kind == "error"
    assert inv.error_type == "Unrecognised"
    assert inv.result["errorMessage"] == "not a CFN event"


def test_runtime_gives_up_after_deadline_plus_grace(runtime):
    StandIn(runtime, sleep_s=3)
    t0 = time.monotonic()
    inv = runtime.invoke({"Step": "x"}, timeout_s=1)
    took = time.monotonic() - t0
    assert inv.kind is None and not inv.before_deadline
    assert 1.3 <= took < 2.5


def test_receiver_status_queue(runtime, receiver):
    fn = StandIn(runtime)
    receiver.statuses.extend([500, 503])
    url = receiver.url()
    ev = cfn_event("Delete", USER_TYPE, {}, physical_id="x", response_url=url)
    inv = runtime.invoke(ev, timeout_s=10)
    assert inv.kind == "response"
    puts = receiver.for_url(url)
    assert [p.status for p in puts] == [500, 503, 200]
    assert fn.put_results == [500, 503, 200]
    assert len({p.body for p in puts}) == 1


def test_receiver_delay(receiver):
    receiver.delay_s = 0.5
    u = urllib.parse.urlsplit(receiver.url())
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    t0 = time.monotonic()
    c.request("PUT", u.path + "?" + u.query, body=b"{}")
    assert c.getresponse().status == 200
    assert time.monotonic() - t0 >= 0.5


def test_receiver_down_refuses(receiver):
    receiver.down()
    u = urllib.parse.urlsplit(receiver.url())
    assert u.port != receiver.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((u.hostname, u.port), timeout=2)


def test_receiver_blackhole_never_answers(receiver):
    receiver.blackhole()
    u = urllib.parse.urlsplit(receiver.url())
    s = socket.create_connection((u.hostname, u.port), timeout=2)
    s.settimeout(0.5)
    s.sendall(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(socket.timeout):
        s.recv(1)
    s.close()


def test_check_put_flags_violations():
    ev = cfn_event("Create", USER_TYPE, {}, logical_id="L")
    good = {"Status": "FAILED", "Reason": "x", "PhysicalResourceId": "p", "StackId": ev["StackId"],
            "RequestId": ev["RequestId"], "LogicalResourceId": "L"}

    def put(body, headers=None):
        raw = json.dumps(body).encode()
        hdrs = headers if headers is not None else [("Content-Length", str(len(raw)))]
        return ReceivedRequest("PUT", "/", hdrs, raw, 0.0, 0, 200)

    assert check_put(put(good), ev) == []
    assert check_put(put(good, [("Content-Length", "1"), ("Content-Type", "application/json")]), ev)
    assert check_put(put({**good, "Reason": None}), ev)
    assert check_put(put({**good, "Reason": "a\x1bb"}), ev)
    assert check_put(put({**good, "RequestId": "other"}), ev)
    assert check_put(put({**good, "Data": {"x": "y" * 5000}}), ev)
