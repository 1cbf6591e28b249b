"""Fixtures for the userkeeper end-to-end tests.

* ``emulator``   - the moto-based emulator (one process per session), reset before each test.
* ``receiver``   - the ResponseURL stand-in (one per test).
* ``runtime``    - a Lambda Runtime API (one per test).
* ``start_function`` - factory: the release binary bound to ``runtime`` and ``emulator``.
* ``fn``         - one started function with default settings (text logs).
* ``cfn``        - drives custom-resource events through ``fn`` and checks every response.

Nothing here skips: a missing binary or a missing moto fails loudly with the fix.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any, Iterator

import pytest

from . import harness as h


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session")
def userkeeper_bin() -> Any:
    try:
        return h.require_binary()
    except h.BinaryMissing as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[h.Emulator]:
    try:
        emu = h.Emulator()
    except h.EmulatorUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield emu
    emu.stop()


@pytest.fixture
def emulator(emulator_session: h.Emulator) -> h.Emulator:
    emulator_session.reset()
    emulator_session.config(transition_seconds=0)
    emulator_session.clear_calls()
    return emulator_session


@pytest.fixture
def receiver() -> Iterator[h.ResponseReceiver]:
    r = h.ResponseReceiver()
    yield r
    r.close()


@pytest.fixture
def runtime() -> Iterator[h.LocalRuntimeApi]:
    rt = h.LocalRuntimeApi()
    yield rt
    rt.close()


@pytest.fixture
def start_function(request: pytest.FixtureRequest, userkeeper_bin: Any, runtime: h.LocalRuntimeApi,
                   emulator: h.Emulator):
    started: list[h.Function] = []

    def start(log_format: str | None = None, extra_env: dict[str, str] | None = None) -> h.Function:
        f = h.Function(runtime, emulator.url, log_format=log_format, extra_env=extra_env, binary=userkeeper_bin)
        started.append(f)
        return f

    yield start
    for f in started:
        f.stop()
    failed = any(getattr(request.node, f"rep_{w}", None) is not None and getattr(request.node, f"rep_{w}").failed
                 for w in ("setup", "call"))
    if failed:
        for f in started:
            print(f"---- userkeeper pid {f.pid} output ({len(f.lines)} lines) ----", file=sys.stderr)
            for ln in f.lines[-200:]:
                print(f"[{ln.stream}] {ln.text}", file=sys.stderr)
        print(f"---- emulator call log ----\n{emulator.calls()}", file=sys.stderr)


@pytest.fixture
def fn(start_function) -> h.Function:
    return start_function()


class CfnDriver:
    """Builds events, sends them through the function, checks the PUT protocol on every one."""

    def __init__(self, fn: h.Function, receiver: h.ResponseReceiver, stack_id: str) -> None:
        self.fn = fn
        self.receiver = receiver
        self.stack_id = stack_id
        self.results: list[h.CfnResult] = []

    def event(self, request_type: str, resource_type: str, props: dict[str, Any] | None, **kw: Any) -> dict[str, Any]:
        kw.setdefault("stack_id", self.stack_id)
        kw.setdefault("response_url", self.receiver.url(f"{request_type.lower()}-{uuid.uuid4().hex[:8]}"))
        return h.cfn_event(request_type, resource_type, props, **kw)

    def send(self, event: dict[str, Any], timeout_s: float = 30, check: bool = True) -> h.CfnResult:
        inv = self.fn.invoke(event, timeout_s=timeout_s)
        puts = self.receiver.for_url(event["ResponseURL"])
        res = h.CfnResult(event, inv, puts)
        self.results.append(res)
        if check:
            assert_protocol(res)
        return res

    def create(self, resource_type: str, props: dict[str, Any], **kw: Any) -> h.CfnResult:
        timeout_s = kw.pop("timeout_s", 30)
        return self.send(self.event("Create", resource_type, props, **kw), timeout_s)

    def update(self, resource_type: str, physical_id: str, props: dict[str, Any], old_props: dict[str, Any],
               **kw: Any) -> h.CfnResult:
        timeout_s = kw.pop("timeout_s", 30)
        return self.send(self.event("Update", resource_type, props, physical_id=physical_id, old_props=old_props,
                                    **kw), timeout_s)

    def delete(self, resource_type: str, physical_id: str, props: dict[str, Any], **kw: Any) -> h.CfnResult:
        timeout_s = kw.pop("timeout_s", 30)
        return self.send(self.event("Delete", resource_type, props, physical_id=physical_id, **kw), timeout_s)


def assert_protocol(res: h.CfnResult) -> None:
    """The response contract that holds for every custom-resource event."""
    inv = res.invocation
    assert inv.finished, f"no result posted to the runtime API before deadline + grace: {inv}"
    assert inv.kind == "response", f"invocation should return a response after posting, got {inv}"
    assert inv.before_deadline, f"finished after the deadline: {inv}"
    accepted = res.accepted
    assert len(accepted) == 1, f"expected exactly one accepted PUT, got {[(p.status, p.body) for p in res.puts]}"
    assert res.puts[-1].accepted, "a PUT was sent after the accepted one"
    for put in res.puts:
        problems = h.check_put(put, res.event)
        assert not problems, f"PUT violates the protocol: {problems}\nbody: {put.body[:800]!r}"
    # The PUT happened while the invocation was running (not after it returned).
    assert accepted[0].at <= inv.finished_at


@pytest.fixture
def cfn(fn: h.Function, receiver: h.ResponseReceiver) -> CfnDriver:
    return CfnDriver(fn, receiver, h.DEFAULT_STACK_ID)


@pytest.fixture
def cfn_factory(receiver: h.ResponseReceiver):
    def make(fn: h.Function, stack_id: str = h.DEFAULT_STACK_ID) -> CfnDriver:
        return CfnDriver(fn, receiver, stack_id)

    return make


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str)
