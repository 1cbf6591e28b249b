"""Throttling: a configurable share of each service's calls answered with that service's own
throttling error (``core.THROTTLE_ERRORS``), counted per service and action."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
from typing import Any

import pytest

from .selftest import REPO_ROOT, Server, client, control, error_of
from .test_emulator_lambda import FUNCTION_ARN, PAYLOAD, Target, forward, target  # noqa: F401 - fixture

PW = "Throttle-Passw0rd-0123456789"


def throttle(server: Server, body: dict[str, Any] | None = None) -> dict[str, Any]:
    if body is None:
        return control(server, "GET", "throttle")
    return control(server, "POST", "throttle", body)


def refused(server: Server, body: dict[str, Any]) -> str:
    with pytest.raises(urllib.error.HTTPError) as info:
        throttle(server, body)
    assert info.value.code == 400
    return info.value.read().decode()


def test_off_by_default(server: Server) -> None:
    assert throttle(server) == {"shares": {}, "injected": {}, "by_action": {}}
    client(server, "elasticache").describe_users()
    assert throttle(server)["injected"] == {}


def test_each_service_answers_its_own_throttling_error(server: Server, target: Target) -> None:
    forward(server, FUNCTION_ARN, target.url)
    throttle(server, {"share": 1})
    ec, mdb, sm, mq, lam = (client(server, s) for s in ("elasticache", "memorydb", "secretsmanager", "mq", "lambda"))

    assert error_of(ec.create_user, UserId="u1", UserName="u1", Engine="redis", AccessString="on ~* +@all",
                    AuthenticationMode={"Type": "password", "Passwords": [PW]}) == ("Throttling", "Rate exceeded", 400)
    assert error_of(mdb.describe_users) == ("ThrottlingException", "Rate exceeded", 400)
    assert error_of(sm.list_secrets) == ("ThrottlingException", "Rate exceeded", 400)
    assert error_of(mq.list_brokers) == ("TooManyRequestsException", "Rate exceeded", 429)
    assert error_of(lam.invoke, FunctionName=FUNCTION_ARN, InvocationType="Event",
                    Payload=PAYLOAD) == ("TooManyRequestsException", "Rate exceeded", 429)

    counts = throttle(server)
    assert counts["injected"] == {"elasticache": 1, "memorydb": 1, "secretsmanager": 1, "mq": 1, "lambda": 1}
    assert counts["by_action"] == {"elasticache:CreateUser": 1, "memorydb:DescribeUsers": 1,
                                   "secretsmanager:ListSecrets": 1, "mq:ListBrokers": 1, "lambda:Invoke": 1}
    # A throttled call changes nothing and delivers nothing, but is in the call log.
    control(server, "POST", "throttle/clear")
    assert [u["UserId"] for u in ec.describe_users()["Users"]] == ["default"]
    assert control(server, "GET", "lambda/deliveries") == [] and target.received == []
    assert [c["action"] for c in control(server, "GET", "calls")][:5] == [
        "CreateUser", "DescribeUsers", "ListSecrets", "ListBrokers", "Invoke"]


def test_a_share_of_calls_per_service(server: Server) -> None:
    throttle(server, {"shares": {"elasticache": 0.3}, "seed": 7})
    ec, sm = client(server, "elasticache"), client(server, "secretsmanager")
    errors = 0
    for _ in range(200):
        try:
            ec.describe_users()
        except ec.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "Throttling"
            errors += 1
        sm.list_secrets()  # other services untouched
    counts = throttle(server)
    assert counts["shares"] == {"elasticache": 0.3}
    assert counts["injected"] == {"elasticache": errors} and counts["by_action"] == {"elasticache:DescribeUsers": errors}
    assert 30 <= errors <= 90, errors  # 200 draws at 0.3: 60 expected, these bounds are ~5 sigma

    # The same seed draws the same calls.
    throttle(server, {"seed": 7})
    again = 0
    for _ in range(200):
        try:
            ec.describe_users()
        except ec.exceptions.ClientError:
            again += 1
    assert again == errors


def test_bad_settings_change_nothing(server: Server) -> None:
    throttle(server, {"shares": {"mq": 0.5}})
    assert "from 0 to 1" in refused(server, {"share": 1.5})
    assert "from 0 to 1" in refused(server, {"shares": {"mq": True}})
    assert "sts" in refused(server, {"shares": {"sts": 0.1}})
    assert "unknown throttle keys" in refused(server, {"rate": 0.1})
    assert "integer" in refused(server, {"seed": "x"})
    assert throttle(server)["shares"] == {"mq": 0.5}


def test_reset_and_clear(server: Server) -> None:
    throttle(server, {"share": 1})
    error_of(client(server, "memorydb").describe_users)
    assert throttle(server)["injected"] == {"memorydb": 1}
    assert control(server, "POST", "throttle/clear") == {"shares": {}, "injected": {}, "by_action": {}}
    throttle(server, {"share": 1})
    control(server, "POST", "reset")
    assert throttle(server) == {"shares": {}, "injected": {}, "by_action": {}}


def test_shares_from_the_environment_survive_reset() -> None:
    server = Server(env={"USERKEEPER_EMULATOR_THROTTLE": "memorydb=1,mq=0"})
    try:
        assert throttle(server)["shares"] == {"memorydb": 1.0, "mq": 0.0}
        assert error_of(client(server, "memorydb").describe_users)[0] == "ThrottlingException"
        control(server, "POST", "reset")
        assert throttle(server) == {"shares": {"memorydb": 1.0, "mq": 0.0}, "injected": {}, "by_action": {}}
    finally:
        server.stop()


def test_a_bad_environment_value_stops_the_emulator() -> None:
    run = subprocess.run([sys.executable, "-m", "tests.emulator", "--port", "0"], cwd=REPO_ROOT,
                         env={**os.environ, "USERKEEPER_EMULATOR_THROTTLE": "memorydb=2"},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "USERKEEPER_EMULATOR_THROTTLE='memorydb=2'" in run.stderr and "from 0 to 1" in run.stderr, run.stderr
