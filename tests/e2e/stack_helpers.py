"""Fixtures and helpers of the stack tests (``test_stack_*.py``): our templates deployed as
stacks by MiniStack, a CloudFormation engine we did not write (``harness/cfn_engine.py``).

* ``engine_session`` - the engine (one per session, per xdist worker) with the release binary
  created as the function ``userkeeper`` (timeout 900 s), its AWS calls going to this worker's
  emulator. Started only on a worker that runs a stack test.
* ``engine``         - the same, for one test, after the ``emulator`` fixture has reset the
  emulator (strict, realistic transitions); names each stack after the test.

Imported by ``conftest.py`` (session fixtures imported into two modules would start twice).
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from .harness.emulator import Emulator
from .harness.cfn_engine import EngineUnavailable, MiniStack

FUNCTION = "userkeeper"


class Engine:
    """The engine, the function it runs, and names for one test's stacks."""

    def __init__(self, ms: MiniStack, binary: Path, emulator: Emulator) -> None:
        self.ms = ms
        self.binary = binary
        self.emulator = emulator
        self.token = ms.create_function(FUNCTION, binary, emulator.url)
        self._functions = {FUNCTION: self.token}
        self._names = itertools.count(1)
        self.prefix = "stack"

    def function(self, name: str, timeout_s: int) -> str:
        """Another function from the same binary (e.g. a short timeout); answers its ARN."""
        if name not in self._functions:
            self._functions[name] = self.ms.create_function(name, self.binary, self.emulator.url, timeout_s)
        return self._functions[name]

    def stack_name(self) -> str:
        return f"{self.prefix}-{next(self._names)}"

    def function_log(self, name: str = FUNCTION) -> list[str]:
        logs = self.ms.client("logs")
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [e["message"].rstrip("\n") for e in events]


@pytest.fixture(scope="session")
def engine_session(userkeeper_bin: Any, emulator_session: Emulator) -> Iterator[Engine]:
    try:
        ms = MiniStack()
    except EngineUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield Engine(ms, userkeeper_bin, emulator_session)
    finally:
        ms.stop()


@pytest.fixture
def engine(request: pytest.FixtureRequest, engine_session: Engine, emulator: Emulator) -> Iterator[Engine]:
    engine_session.prefix = re.sub(r"[^A-Za-z0-9-]", "-", request.node.name.removeprefix("test_"))[:90]
    yield engine_session
    failed = any(getattr(request.node, f"rep_{w}", None) is not None and getattr(request.node, f"rep_{w}").failed
                 for w in ("setup", "call"))
    if failed:
        print("---- ministack output ----", *list(engine_session.ms.output)[-80:], sep="\n", file=sys.stderr)
        print("---- userkeeper log ----", *engine_session.function_log()[-120:], sep="\n", file=sys.stderr)
        print(f"---- emulator call log ----\n{emulator.calls()}", file=sys.stderr)


# ------------------------------------------------------------------------------------------
# reading the emulator


def ec_users(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {u["UserId"]: u for u in emulator.state()["elasticache"]["users"]}


def ec_groups(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {g["UserGroupId"]: g for g in emulator.state()["elasticache"]["user_groups"]}


def mdb_users(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {u["Name"]: u for u in emulator.state()["memorydb"]["users"]}


def mdb_acls(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {a["Name"]: a for a in emulator.state()["memorydb"]["acls"]}


def owner(resource: dict[str, Any]) -> tuple[str | None, str | None]:
    tags = resource.get("Tags") or {}
    return tags.get("userkeeper:stack-id"), tags.get("userkeeper:logical-id")


def request_summary(requests: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """(RequestType, LogicalResourceId, PhysicalResourceId) of each request, in order."""
    return [(r["RequestType"], r["LogicalResourceId"], r.get("PhysicalResourceId")) for r in requests]


def statuses(events: list[dict[str, Any]], logical_id: str) -> list[str]:
    return [e["ResourceStatus"] for e in events if e["LogicalResourceId"] == logical_id]
