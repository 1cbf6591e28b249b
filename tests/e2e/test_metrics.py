"""End-to-end: the metric lines (CloudWatch EMF) the function writes on stdout.

Requests answered (a Create and a Delete, a request with a misspelt property, a resource type
nobody registered) and rotation steps run (a full rotation that logs in to a real
``redis-server``, then a rotation whose setSecret the service refuses). Every metric line must
validate against the EMF specification and our contract (``metrics.py``), there must be exactly
one per request answered and one per step, with the expected dimensions, outcomes and counts,
and no name or id of a user, secret, stack or request in any of them. A failure's companion log
line (JSON, level ERROR) names its error code.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from . import metrics
from .harness.constants import DEFAULT_STACK_ID, FUNCTION_NAME, USER_TYPE
from .harness.emulator import Emulator
from .harness.function import Function
from .rotation_helpers import rotate, seed_elasticache, sync

PASSWORD = "Metric-Passw0rd-0001"
SERVICE_ERROR = "InvalidParameterValue"


def stack_parts() -> list[str]:
    """The stack id and what it is made of: its name and its GUID."""
    _, name, guid = DEFAULT_STACK_ID.rsplit("/", 2)
    return [DEFAULT_STACK_ID, name, guid]


def metric_lines(fn: Function, forbidden: list[str]) -> list[dict[str, Any]]:
    """The function's metric lines (it is stopped first: all its output is in), each validated,
    none holding any of ``forbidden``; they are on stdout only."""
    fn.stop()
    assert not metrics.emf_lines(fn.log_lines("stderr")), "metric lines belong on stdout"
    return [metrics.assert_valid(line, function_name=FUNCTION_NAME, forbidden=forbidden)
            for line in metrics.emf_lines(fn.log_lines("stdout"))]


def error_lines(fn: Function) -> list[str]:
    out = []
    for line in fn.log_lines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("level") == "ERROR" and "_aws" not in obj:
            out.append(line)
    return out


def test_each_request_answered_writes_one_valid_line(start_function, cfn_factory, emulator: Emulator):
    fn = start_function(log_format="JSON")
    cfn = cfn_factory(fn)
    user_id, user_name = f"mx-{uuid.uuid4().hex[:8]}", f"metrics-{uuid.uuid4().hex[:6]}"
    props = {"UserId": user_id, "UserName": user_name, "Engine": "redis", "AccessString": "on ~app:* +@read",
             "AuthenticationMode": {"Type": "password", "Passwords": [PASSWORD]}}
    created = cfn.create(USER_TYPE, props, logical_id="AppUser", timeout_s=60)
    assert created.status == "SUCCESS", created.response
    deleted = cfn.delete(USER_TYPE, created.physical_id, props, logical_id="AppUser", timeout_s=60)
    assert deleted.status == "SUCCESS", deleted.response
    typo = cfn.create(USER_TYPE, {**props, "UserId": f"{user_id}-2", "UserNmae": user_name}, logical_id="Typo")
    assert typo.status == "FAILED", typo.response
    stranger = cfn.create("Custom::Team-b-Thing", {"A": "b"}, logical_id="Strange")
    assert stranger.status == "FAILED", stranger.response

    forbidden = [user_id, user_name, PASSWORD, *stack_parts(),
                 *(r.event["RequestId"] for r in cfn.results), *(r.invocation.request_id for r in cfn.results)]
    lines = metric_lines(fn, forbidden)
    assert all(metrics.kind_of(d) == metrics.REQUEST for d in lines), lines
    seen = Counter((d["ResourceType"], d["RequestType"], d["Outcome"]) for d in lines)
    assert seen == Counter({
        ("Custom::ElastiCacheUser", "Create", "SUCCESS"): 1,
        ("Custom::ElastiCacheUser", "Delete", "SUCCESS"): 1,
        ("Custom::ElastiCacheUser", "Create", "FAILED"): 1,
        # The event's type is the caller's: never a dimension value we did not choose.
        ("unknown", "Create", "FAILED"): 1,
    }), f"one line per request answered: {lines}"
    for d in lines:
        assert d["Continuations"] == 0, d
        assert d["RequestFailed"] == (1 if d["Outcome"] == "FAILED" else 0), d
    failed = [d for d in lines if d["Outcome"] == "FAILED"]
    assert sum(d["RequestFailed"] for d in lines) == 2
    errors = error_lines(fn)
    for d in failed:
        assert any(d["ErrorCode"] in e for e in errors), \
            f"no ERROR log line names {d['ErrorCode']}: {errors}"


def test_each_rotation_step_writes_one_valid_line(start_function, pki, redis_server, emulator: Emulator):
    fn = start_function(log_format="JSON", extra_env={"USERKEEPER_TLS_CA_FILE": str(pki.ca_cert)})
    r = seed_elasticache(emulator, redis_server, host=redis_server.host, port=redis_server.port)
    emulator.wait_settled()
    full = rotate(fn, r.arn, emulator.new_pending(r.arn), after_set=lambda: sync(emulator, redis_server, r))
    assert full.ok, [(s.step, s.error or s.outcome) for s in full.steps]
    new_password = json.loads(emulator.client("secretsmanager").get_secret_value(
        SecretId=r.arn, VersionStage="AWSCURRENT")["SecretString"])["password"]

    # The next rotation: the service refuses setSecret's change.
    emulator.wait_settled()
    token = emulator.new_pending(r.arn)
    emulator.fail(service="elasticache", action="ModifyUser", count=1, status=400, code=SERVICE_ERROR,
                  message="Passwords are not accepted")
    refused = rotate(fn, r.arn, token)
    assert [(s.step, s.ok) for s in refused.steps] == [("createSecret", True), ("setSecret", False)]

    secret_name = r.arn.split(":secret:", 1)[1]
    forbidden = [r.arn, secret_name, r.username, r.password, new_password, token, full.token,
                 *(s.invocation.request_id for s in full.steps + refused.steps)]
    lines = metric_lines(fn, forbidden)
    assert all(metrics.kind_of(d) == metrics.ROTATION for d in lines), lines
    assert all(d["Engine"] == "elasticache" for d in lines), lines
    assert [(d["Step"], d["Outcome"]) for d in lines] == [
        ("createSecret", "succeeded"), ("setSecret", "succeeded"), ("testSecret", "succeeded"),
        ("finishSecret", "succeeded"), ("createSecret", "succeeded"), ("setSecret", "failed"),
    ], f"one line per step, in order: {lines}"
    logins = {d["Step"]: d["LoginTests"] for d in lines[:4]}
    # setSecret logs in first to see whether a retry's change is in place already; testSecret
    # to test. createSecret and finishSecret never touch the data store.
    assert logins == {"createSecret": 0, "setSecret": 1, "testSecret": 1, "finishSecret": 0}, logins
    failed = lines[-1]
    assert (failed["RotationStepFailed"], failed["RotationStepSucceeded"]) == (1, 0), failed
    assert failed["ErrorCode"] == SERVICE_ERROR, failed
    assert sum(d["RotationStepFailed"] for d in lines) == 1
    errors = error_lines(fn)
    assert any(SERVICE_ERROR in e and "setSecret" in e for e in errors), \
        f"no ERROR log line names the step and {SERVICE_ERROR}: {errors}"
