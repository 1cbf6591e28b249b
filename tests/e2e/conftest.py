"""Fixtures for the userkeeper end-to-end tests.

* ``emulator``   - the moto-based emulator (one process per session, per xdist worker), reset
                   before each test, then set to behave like AWS: ``strict`` on, and every
                   ElastiCache/MemoryDB change and MQ reboot taking ``TIMINGS`` (see below).
* ``receiver``   - the ResponseURL stand-in (one per test).
* ``runtime``    - a Lambda Runtime API (one per test).
* ``start_function`` - factory: the release binary bound to ``runtime`` and ``emulator``.
* ``fn``         - one started function with default settings (text logs).
* ``cfn``        - drives custom-resource events through ``fn`` and checks every response.
* ``cfn_factory`` - the same for another function or stack.
* ``continuations`` - lets the function's asynchronous self-invokes reach ``runtime``.

Only fixtures and hooks live here; the helpers the tests call are in ``cfn_helpers.py``.
Nothing here skips: a missing binary or a missing moto fails loudly with the fix.

Behaving like AWS: every test starts with the emulator's ``strict`` refusals on and every
ElastiCache/MemoryDB change and MQ reboot taking ``TIMINGS`` (``harness/emulator.py``: 1 s plus
a random 0-0.5 s per change by default; ``USERKEEPER_E2E_TRANSITION_S``,
``USERKEEPER_E2E_JITTER_S``; ``USERKEEPER_E2E_FAST=1`` makes changes instant, for local
iteration only: CI runs the default). The run's header shows them. A test that needs other
timings sets them with ``emulator.config(...)``; ``strict`` stays on in every test.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterator

import pytest

from .cfn_helpers import CfnDriver
from .harness.constants import DEFAULT_STACK_ID, FUNCTION_ARN
from .harness.emulator import TIMINGS, Emulator, EmulatorUnavailable
from .harness.function import BinaryMissing, Function, require_binary
from .harness.receiver import ResponseReceiver
from .harness.runtime_api import LocalRuntimeApi
from .model_contract import model_contract, pytest_terminal_summary  # noqa: F401 - plugin: requests vs botocore models
from .rotation_helpers import DOWNTIME_FILE, DOWNTIME_PROPERTY
# The real servers (session scope), shared by every module that logs in: imported here once,
# since a module importing them itself would get servers of its own (servers.py's notes).
from .servers import activemq_server, pki, rabbitmq_server, redis_server  # noqa: F401 - pytest fixtures
# The CloudFormation engine of the stack tests (session scope), likewise imported once.
from .stack_helpers import engine, engine_session  # noqa: F401 - pytest fixtures


def pytest_report_header(config: pytest.Config) -> str:
    fast = " (USERKEEPER_E2E_FAST: instant)" if not TIMINGS["transition_seconds"] else ""
    return (f"emulator: strict, changes take {TIMINGS['transition_seconds']:g} s "
            f"+ 0..{TIMINGS['transition_jitter']:g} s{fast}")


# Downtime figures of the rotations (test_rotation_login.py), gathered from the test reports:
# with xdist these reach the controller, which alone writes the file, once, at the end.
_downtime: dict[str, Any] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == DOWNTIME_PROPERTY:
            _downtime.update(value)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _downtime and not hasattr(session.config, "workerinput"):
        DOWNTIME_FILE.parent.mkdir(parents=True, exist_ok=True)
        DOWNTIME_FILE.write_text(json.dumps(_downtime, indent=2, sort_keys=True) + "\n")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and not hasattr(rep, "wasxfail"):
        # Nothing here may skip: a skipped test proves nothing and is easily overlooked.
        rep.outcome = "failed"
        rep.longrepr = f"{item.nodeid} skipped ({rep.longrepr}); end-to-end tests must not skip"
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
    emulator_session.config(strict=True, **TIMINGS)
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


@pytest.fixture
def cfn(fn: Function, receiver: ResponseReceiver) -> CfnDriver:
    return CfnDriver(fn, receiver, DEFAULT_STACK_ID)


@pytest.fixture
def cfn_factory(receiver: ResponseReceiver):
    def make(fn: Function, stack_id: str = DEFAULT_STACK_ID) -> CfnDriver:
        return CfnDriver(fn, receiver, stack_id)

    return make


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
