"""Fixtures for the userkeeper end-to-end tests.

* ``emulator``   - the moto-based emulator (one process per session), reset before each test.
* ``receiver``   - the ResponseURL stand-in (one per test).
* ``runtime``    - a Lambda Runtime API (one per test).
* ``start_function`` - factory: the release binary bound to ``runtime`` and ``emulator``.
* ``fn``         - one started function with default settings (text logs).
* ``cfn``        - drives custom-resource events through ``fn`` and checks every response.
* ``cfn_factory`` - the same for another function or stack.
* ``continuations`` - lets the function's asynchronous self-invokes reach ``runtime``.

Only fixtures and hooks live here; the helpers the tests call are in ``cfn_helpers.py``.
Nothing here skips: a missing binary or a missing moto fails loudly with the fix.
"""

from __future__ import annotations

import sys
from typing import Any, Iterator

import pytest

from .cfn_helpers import CfnDriver
from .harness.constants import DEFAULT_STACK_ID, FUNCTION_ARN
from .harness.emulator import Emulator, EmulatorUnavailable
from .harness.function import BinaryMissing, Function, require_binary
from .harness.receiver import ResponseReceiver
from .harness.runtime_api import LocalRuntimeApi
from .model_contract import model_contract, pytest_terminal_summary  # noqa: F401 - plugin: requests vs botocore models
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
