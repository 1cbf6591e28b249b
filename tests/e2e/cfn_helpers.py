"""Helpers of the end-to-end tests: driving custom-resource requests through the function and
checking what came back. The fixtures built on them (``cfn``, ``cfn_factory``,
``continuations``) are in ``conftest.py``.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

from .harness.emulator import Emulator
from .harness.events import cfn_event
from .harness.function import Function
from .harness.receiver import ReceivedRequest, ResponseReceiver, check_put
from .harness.runtime_api import Invocation
from .harness.views import CfnResult, ResponseView


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



# ------------------------------------------------------------------------------------------
# what every test checks of an answer


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
