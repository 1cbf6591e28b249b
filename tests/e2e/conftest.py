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

import dataclasses
import json
import sys
import time
import uuid
from typing import Any, Iterator

import pytest

from .harness.constants import DEFAULT_STACK_ID, FUNCTION_ARN
from .harness.emulator import Emulator, EmulatorUnavailable
from .harness.events import cfn_event
from .harness.function import BinaryMissing, Function, require_binary
from .harness.receiver import ReceivedRequest, ResponseReceiver, check_put
from .harness.runtime_api import Invocation, LocalRuntimeApi
from .harness.views import CfnResult, ResponseView
# The real servers (session scope), shared by every module that logs in: imported here once,
# since a module importing them itself would get servers of its own (servers.py's notes).
from .servers import activemq_server, pki, redis_server  # noqa: F401 - pytest fixtures


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session")
def userkeeper_bin() -> Any:
    try:
        return require_binary()
    except BinaryMissing as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[Emulator]:
    try:
        emu = Emulator()
    except EmulatorUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield emu
    emu.stop()


@pytest.fixture
def emulator(emulator_session: Emulator) -> Emulator:
    emulator_session.reset()
    emulator_session.config(transition_seconds=0)
    emulator_session.clear_calls()
    return emulator_session


@pytest.fixture
def receiver() -> Iterator[ResponseReceiver]:
    r = ResponseReceiver()
    yield r
    r.close()


@pytest.fixture
def runtime() -> Iterator[LocalRuntimeApi]:
    rt = LocalRuntimeApi()
    yield rt
    rt.close()


@pytest.fixture
def start_function(request: pytest.FixtureRequest, userkeeper_bin: Any, runtime: LocalRuntimeApi,
                   emulator: Emulator):
    started: list[Function] = []

    def start(log_format: str | None = None, extra_env: dict[str, str] | None = None) -> Function:
        f = Function(runtime, emulator.url, log_format=log_format, extra_env=extra_env, binary=userkeeper_bin)
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
def fn(start_function) -> Function:
    return start_function()


class CfnDriver:
    """Builds events, sends them through the function, checks the PUT protocol on every one."""

    def __init__(self, fn: Function, receiver: ResponseReceiver, stack_id: str) -> None:
        self.fn = fn
        self.receiver = receiver
        self.stack_id = stack_id
        self.results: list[CfnResult] = []

    def event(self, request_type: str, resource_type: str, props: dict[str, Any] | None, **kw: Any) -> dict[str, Any]:
        kw.setdefault("stack_id", self.stack_id)
        kw.setdefault("response_url", self.receiver.url(f"{request_type.lower()}-{uuid.uuid4().hex[:8]}"))
        return cfn_event(request_type, resource_type, props, **kw)

    def send(self, event: dict[str, Any], timeout_s: float = 30, check: bool = True) -> CfnResult:
        inv = self.fn.invoke(event, timeout_s=timeout_s)
        puts = self.receiver.for_url(event["ResponseURL"])
        res = CfnResult(event, inv, puts)
        self.results.append(res)
        if check:
            assert_protocol(res)
        return res

    def create(self, resource_type: str, props: dict[str, Any], **kw: Any) -> CfnResult:
        timeout_s = kw.pop("timeout_s", 30)
        return self.send(self.event("Create", resource_type, props, **kw), timeout_s)

    def update(self, resource_type: str, physical_id: str, props: dict[str, Any], old_props: dict[str, Any],
               **kw: Any) -> CfnResult:
        timeout_s = kw.pop("timeout_s", 30)
        return self.send(self.event("Update", resource_type, props, physical_id=physical_id, old_props=old_props,
                                    **kw), timeout_s)

    def delete(self, resource_type: str, physical_id: str, props: dict[str, Any], **kw: Any) -> CfnResult:
        timeout_s = kw.pop("timeout_s", 30)
        return self.send(self.event("Delete", resource_type, props, physical_id=physical_id, **kw), timeout_s)


def assert_protocol(res: CfnResult) -> None:
    """The response contract that holds for every custom-resource event."""
    inv = res.invocation
    assert inv.finished, f"no result posted to the runtime API before deadline + grace: {inv}"
    assert inv.kind == "response", f"invocation should return a response after posting, got {inv}"
    assert inv.before_deadline, f"finished after the deadline: {inv}"
    accepted = res.accepted
    assert len(accepted) == 1, f"expected exactly one accepted PUT, got {[(p.status, p.body) for p in res.puts]}"
    assert res.puts[-1].accepted, "a PUT was sent after the accepted one"
    for put in res.puts:
        problems = check_put(put, res.event)
        assert not problems, f"PUT violates the protocol: {problems}\nbody: {put.body[:800]!r}"
    # The PUT happened while the invocation was running (not after it returned).
    assert accepted[0].at <= inv.finished_at


@pytest.fixture
def cfn(fn: Function, receiver: ResponseReceiver) -> CfnDriver:
    return CfnDriver(fn, receiver, DEFAULT_STACK_ID)


@pytest.fixture
def cfn_factory(receiver: ResponseReceiver):
    def make(fn: Function, stack_id: str = DEFAULT_STACK_ID) -> CfnDriver:
        return CfnDriver(fn, receiver, stack_id)

    return make


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str)


# ------------------------------------------------------------------------------------------
# shared assertions (the same as test_custom_resources.py's, for the newer test files)


def assert_success(res: Any) -> None:
    assert res.status == "SUCCESS", f"expected SUCCESS, got {res.response}"


def assert_failed(res: Any, *substrings: str) -> None:
    assert res.status == "FAILED", f"expected FAILED, got {res.response}"
    for s in substrings:
        assert s in res.reason, f"Reason {res.reason!r} should contain {s!r}"


def count(actions: list[str], name: str) -> int:
    return sum(1 for a in actions if a == name)


def marker(event: dict[str, Any]) -> str:
    return f"userkeeper:failed-create:{event['RequestId']}"


# ------------------------------------------------------------------------------------------
# continuations: one request answered across several invocations


@pytest.fixture
def continuations(emulator: Emulator, runtime: LocalRuntimeApi):
    """``continuations(async_timeout_s)``: the emulator forwards the function's asynchronous
    self-invokes (Lambda ``Invoke``, ``InvocationType: Event``, on ``FUNCTION_ARN``) to the
    runtime API, which queues each as a new invocation with that deadline."""

    def register(async_timeout_s: float = 30.0) -> None:
        runtime.async_timeout_s = async_timeout_s
        emulator.lambda_forward(FUNCTION_ARN, runtime.async_invoke_url())

    return register


@dataclasses.dataclass
class Chain(ResponseView):
    """One custom-resource request driven to its answer, however many invocations it took."""

    event: dict[str, Any]
    invocations: list[Invocation]  # the first, then each continuation, in order
    puts: list[ReceivedRequest]

    @property
    def answered_after_s(self) -> float:
        """From the first invocation's start to the accepted PUT."""
        return self.accepted[0].at - self.invocations[0].served_at

    def __repr__(self) -> str:
        return f"Chain(puts={[(p.status, p.body[:400]) for p in self.puts]}, invocations={self.invocations})"


def run_chain(fn: Function, receiver: ResponseReceiver, event: dict[str, Any], first_timeout_s: float,
              total_s: float, quiet_s: float = 1.5) -> Chain:
    """Submits ``event`` with a ``first_timeout_s`` deadline and follows it through its
    continuations until a PUT was accepted and every invocation finished (then waits
    ``quiet_s`` more, so that a stray extra invocation or PUT is seen), or ``total_s`` passed."""
    runtime = fn.runtime
    before = len(runtime.invocations)
    fn.submit(event, first_timeout_s)
    end = time.monotonic() + total_s
    quiet_until = None
    while time.monotonic() < end and not fn.exited():
        invs = runtime.invocations[before:]
        done = any(p.accepted for p in receiver.for_url(event["ResponseURL"])) and all(i.finished for i in invs)
        if done:
            quiet_until = quiet_until or time.monotonic() + quiet_s
            if time.monotonic() >= quiet_until:
                break
        else:
            quiet_until = None
        time.sleep(0.05)
    fn.read_rss()
    return Chain(event, list(runtime.invocations[before:]), receiver.for_url(event["ResponseURL"]))


def assert_chain(chain: Chain, emulator: Emulator | None = None) -> None:
    """The protocol for a request answered across invocations: each invocation returns before
    its deadline; each but the last hands on (``{"Continued": true, "Attempt": n}``) without a
    PUT, carrying the original event plus its progress; the last one PUTs, exactly once."""
    invs = chain.invocations
    assert invs, "no invocation at all"
    for i, inv in enumerate(invs):
        assert inv.finished, f"invocation {i} has no result (deadline + grace passed): {inv}"
        assert inv.kind == "response", f"invocation {i} should return a response: {inv}"
        assert inv.before_deadline, f"invocation {i} finished after its deadline: {inv}"
    accepted = chain.accepted
    assert len(accepted) == 1, f"expected exactly one accepted PUT in total, got {[(p.status, p.body) for p in chain.puts]}"
    assert chain.puts[-1].accepted, "a PUT was sent after the accepted one"
    for put in chain.puts:
        problems = check_put(put, chain.event)
        assert not problems, f"PUT violates the protocol: {problems}\nbody: {put.body[:800]!r}"
    last = invs[-1]
    for put in chain.puts:
        assert last.served_at <= put.at <= last.finished_at, "a PUT came from an invocation that handed on"
    result = last.result
    assert isinstance(result, dict) and result.get("Status") == chain.status, f"last invocation's result: {result}"
    started = None
    for n, inv in enumerate(invs[:-1], start=1):
        assert inv.result == {"Continued": True, "Attempt": n}, f"invocation {n - 1} result: {inv.result}"
    for n, inv in enumerate(invs[1:], start=1):
        ev = dict(inv.event)
        progress = ev.pop("UserkeeperContinuation", None)
        assert ev == chain.event, f"continuation {n} does not carry the original event unchanged"
        assert isinstance(progress, dict) and progress.get("Attempt") == n, f"continuation {n}: {progress}"
        assert isinstance(progress.get("StartedAtMs"), int)
        if started is None:
            started = progress["StartedAtMs"]
            first = invs[0]
            assert first.served_wall_ms - 50 <= started <= first.finished_wall_ms, \
                "StartedAtMs is not the first invocation's receipt"
        assert progress["StartedAtMs"] == started, "StartedAtMs must stay that of the first receipt"
        assert isinstance(progress.get("Done", []), list)
    if emulator is not None:
        invokes = [c for c in emulator.calls() if c.get("service") == "lambda" and c.get("action") == "Invoke"]
        assert len(invokes) == len(invs) - 1, f"{len(invokes)} Lambda Invoke calls for {len(invs) - 1} continuations"
