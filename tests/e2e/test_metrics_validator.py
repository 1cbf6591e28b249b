"""Self-tests of the metric-line validator (``metrics.py``): it accepts what the EMF
specification and our contract allow, and rejects each way a line can be wrong. No binary,
no emulator: they run first thing in the end-to-end suite.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from . import metrics

# The contract's two examples (issue 16), as the function writes them: one line each.
REQUEST_LINE = {
    "_aws": {"Timestamp": 1764640000000, "CloudWatchMetrics": [{
        "Namespace": "userkeeper",
        "Dimensions": [["Function"], ["Function", "ResourceType", "RequestType"]],
        "Metrics": [{"Name": "RequestSucceeded", "Unit": "Count"}, {"Name": "RequestFailed", "Unit": "Count"},
                    {"Name": "RequestDuration", "Unit": "Milliseconds"}, {"Name": "Continuations", "Unit": "Count"}],
    }]},
    "Function": "userkeeper", "ResourceType": "Custom::ElastiCacheUser", "RequestType": "Create",
    "Outcome": "SUCCESS", "RequestSucceeded": 1, "RequestFailed": 0, "RequestDuration": 1234, "Continuations": 0,
}
ROTATION_LINE = {
    "_aws": {"Timestamp": 1764640000000, "CloudWatchMetrics": [{
        "Namespace": "userkeeper",
        "Dimensions": [["Function"], ["Function", "Engine", "Step"]],
        "Metrics": [{"Name": "RotationStepSucceeded", "Unit": "Count"}, {"Name": "RotationStepFailed", "Unit": "Count"},
                    {"Name": "RotationStepDuration", "Unit": "Milliseconds"}, {"Name": "LoginTests", "Unit": "Count"}],
    }]},
    "Function": "userkeeper", "Engine": "elasticache", "Step": "testSecret", "Outcome": "failed",
    "ErrorCode": "LoginRefused", "RotationStepSucceeded": 0, "RotationStepFailed": 1,
    "RotationStepDuration": 12, "LoginTests": 1,
}
# The specification's own valid example.
SPEC_EXAMPLE = {
    "_aws": {"Timestamp": 1574109732004, "CloudWatchMetrics": [{
        "Namespace": "lambda-function-metrics", "Dimensions": [["functionVersion"]],
        "Metrics": [{"Name": "time", "Unit": "Milliseconds"}],
    }]},
    "functionVersion": "$LATEST", "time": 100, "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee",
}


def line(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))


def changed(doc: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> str:
    d = copy.deepcopy(doc)
    change(d)
    return line(d)


def directive(d: dict[str, Any]) -> dict[str, Any]:
    return d["_aws"]["CloudWatchMetrics"][0]


def assert_rejected(text: str, *expected: str, **kw: Any) -> None:
    found = metrics.problems(text, **kw)
    assert found, f"accepted: {text}"
    for e in expected:
        assert any(e in p for p in found), f"no problem mentions {e!r}: {found}"


# ------------------------------------------------------------------------------------------
# what must pass

def test_the_schema_is_a_valid_json_schema_and_takes_the_spec_example() -> None:
    doc, found = metrics.spec_problems(line(SPEC_EXAMPLE))
    assert doc == SPEC_EXAMPLE and found == []


@pytest.mark.parametrize("doc", [REQUEST_LINE, ROTATION_LINE], ids=["request", "rotation"])
def test_the_contract_examples_are_valid(doc: dict[str, Any]) -> None:
    assert metrics.problems(line(doc), function_name="userkeeper", forbidden=["app-user", "b-1234"]) == []
    assert metrics.kind_of(doc) == (metrics.REQUEST if "ResourceType" in doc else metrics.ROTATION)


def test_key_order_and_spacing_do_not_matter() -> None:
    d = dict(reversed(list(REQUEST_LINE.items())))
    assert metrics.problems(json.dumps(d, indent=None)) == []


def test_a_successful_step_without_login_and_an_unknown_request_are_valid() -> None:
    ok_step = changed(ROTATION_LINE, lambda d: (d.update(Step="setSecret", Outcome="succeeded", RotationStepSucceeded=1,
                                                          RotationStepFailed=0, LoginTests=0), d.pop("ErrorCode")))
    assert metrics.problems(ok_step) == []
    unknown = changed(REQUEST_LINE, lambda d: d.update(ResourceType="unknown", RequestType="unknown", Outcome="FAILED",
                                                        RequestSucceeded=0, RequestFailed=1, ErrorCode="InvalidProperties"))
    assert metrics.problems(unknown) == []


def test_emf_lines_picks_metric_lines_and_broken_attempts_only() -> None:
    out = ['{"level":"INFO","fields":{"message":"created"}}', line(REQUEST_LINE), 'plain text',
           '{"_aws": {"Timestamp": 1} trailing']
    assert metrics.emf_lines(out) == [line(REQUEST_LINE), '{"_aws": {"Timestamp": 1} trailing']


# ------------------------------------------------------------------------------------------
# the specification: each way to break it

SPEC_BREAKS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "missing _aws": (lambda d: d.pop("_aws"), "'_aws' is a required property"),
    "missing Namespace": (lambda d: directive(d).pop("Namespace"), "'Namespace' is a required property"),
    "missing Timestamp": (lambda d: d["_aws"].pop("Timestamp"), "'Timestamp' is a required property"),
    "Timestamp as a string": (lambda d: d["_aws"].update(Timestamp="2026-12-02T00:00:00Z"), "is not of type 'integer'"),
    "empty Namespace": (lambda d: directive(d).update(Namespace=""), "Namespace"),
    "no dimension sets": (lambda d: directive(d).update(Dimensions=[]), "should be non-empty"),
    "ten dimensions in a set": (lambda d: directive(d).update(Dimensions=[[f"D{i}" for i in range(10)]]),
                                "is too long"),
    "a unit CloudWatch does not have": (lambda d: directive(d)["Metrics"][2].update(Unit="Millis"), "does not match"),
    "a metric without a name": (lambda d: directive(d)["Metrics"][0].pop("Name"), "'Name' is a required property"),
    "a dimension not among the properties": (lambda d: d.pop("RequestType"),
                                             "dimension 'RequestType' is not a member of the root node"),
    "a dimension that is not a string": (lambda d: d.update(Function=7), "dimension 'Function' must be a string"),
    "a metric not among the properties": (lambda d: d.pop("Continuations"),
                                          "metric 'Continuations' is not a member of the root node"),
    "a metric that is a string": (lambda d: d.update(RequestDuration="1234"), "metric 'RequestDuration' must be numeric"),
    "a metric that is a boolean": (lambda d: d.update(RequestFailed=True), "metric 'RequestFailed' must be numeric"),
    "a metric array of more than 100 values": (lambda d: d.update(RequestDuration=list(range(101))),
                                               "at most 100 numbers"),
}


@pytest.mark.parametrize("name", list(SPEC_BREAKS))
def test_the_specification_is_enforced(name: str) -> None:
    change, expected = SPEC_BREAKS[name]
    assert_rejected(changed(REQUEST_LINE, change), expected)


@pytest.mark.parametrize("text, expected", [
    (line(REQUEST_LINE) + " trailing", "not one JSON object"),
    ("START " + line(REQUEST_LINE), "not one JSON object"),
    (line(REQUEST_LINE) + line(REQUEST_LINE), "not one JSON object"),
    ("[" + line(REQUEST_LINE) + "]", "must be a JSON object"),
    (json.dumps({**REQUEST_LINE, "Padding": "x" * metrics.MAX_LINE_BYTES}), "log event limit"),
], ids=["trailing data", "leading data", "two objects", "an array", "too large"])
def test_a_line_is_exactly_one_json_object(text: str, expected: str) -> None:
    assert_rejected(text, expected)


# ------------------------------------------------------------------------------------------
# our contract: each way to break it

CONTRACT_BREAKS: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], Any], str]] = {
    "another namespace": (REQUEST_LINE, lambda d: directive(d).update(Namespace="UserKeeper"), "namespace 'UserKeeper'"),
    "two directives": (REQUEST_LINE, lambda d: d["_aws"]["CloudWatchMetrics"].append(directive(d)),
                       "exactly one metric directive"),
    "a secret arn as a dimension": (ROTATION_LINE, lambda d: (
        directive(d).update(Dimensions=[["Function"], ["Function", "Engine", "Step"], ["SecretId"]]),
        d.update(SecretId="arn:aws:secretsmanager:us-east-1:123456789012:secret:rotated/app-AbCdEf")), "an ARN"),
    "a user name as a dimension": (REQUEST_LINE, lambda d: (
        directive(d).update(Dimensions=[["Function"], ["Function", "ResourceType", "RequestType", "UserName"]]),
        d.update(UserName="app-7f3e")), "dimension sets are neither"),
    "a user name as a property": (REQUEST_LINE, lambda d: d.update(UserName="app-7f3e"),
                                  "members not in the contract: ['UserName']"),
    "a broker id in the error code": (REQUEST_LINE, lambda d: d.update(
        Outcome="FAILED", RequestSucceeded=0, RequestFailed=1, ErrorCode="b-1234abcd-56ef-78ab-90cd-ef1234567890"),
        "an Amazon MQ broker id"),
    "a stack id": (REQUEST_LINE, lambda d: d.update(
        Outcome="FAILED", RequestSucceeded=0, RequestFailed=1,
        ErrorCode="arn:aws:cloudformation:us-east-1:123456789012:stack/e2e/5b918d10-cd98-11ea-90d5-0a9cd3354c10"),
        "an ARN"),
    "a request id": (REQUEST_LINE, lambda d: d.update(Function="5b918d10-cd98-11ea-90d5-0a9cd3354c10"), "a UUID"),
    "a caller-chosen resource type": (REQUEST_LINE, lambda d: d.update(ResourceType="Custom::Team-b-secrets"),
                                      "ResourceType 'Custom::Team-b-secrets' is not one of"),
    "an unknown request type": (REQUEST_LINE, lambda d: d.update(RequestType="Replace"), "RequestType 'Replace'"),
    "an unknown engine": (ROTATION_LINE, lambda d: d.update(Engine="redis"), "Engine 'redis'"),
    "an unknown step": (ROTATION_LINE, lambda d: d.update(Step="rotate"), "Step 'rotate'"),
    "a rotation outcome on a request": (REQUEST_LINE, lambda d: d.update(Outcome="succeeded"), "Outcome 'succeeded'"),
    "counts that contradict the outcome": (REQUEST_LINE, lambda d: d.update(RequestSucceeded=0, RequestFailed=1),
                                           "Outcome SUCCESS with RequestSucceeded=0"),
    "a failure without an error code": (ROTATION_LINE, lambda d: d.pop("ErrorCode"), "needs a short ErrorCode"),
    "an error code that is a message": (ROTATION_LINE, lambda d: d.update(ErrorCode="login refused for user x"),
                                        "needs a short ErrorCode"),
    "an error code on a success": (REQUEST_LINE, lambda d: d.update(ErrorCode="Timeout"), "ErrorCode on a 'SUCCESS' line"),
    "a wrong unit": (REQUEST_LINE, lambda d: directive(d)["Metrics"][2].update(Unit="Seconds"), "metrics (name: unit)"),
    "a missing metric": (ROTATION_LINE, lambda d: directive(d)["Metrics"].pop(), "metrics (name: unit)"),
    "a duplicated metric": (ROTATION_LINE, lambda d: directive(d)["Metrics"].append({"Name": "LoginTests", "Unit": "Count"}),
                            "metrics (name: unit)"),
    "a negative duration": (REQUEST_LINE, lambda d: d.update(RequestDuration=-1), "whole milliseconds >= 0"),
    "a fractional duration": (ROTATION_LINE, lambda d: d.update(RotationStepDuration=1.5), "whole milliseconds >= 0"),
    "negative continuations": (REQUEST_LINE, lambda d: d.update(Continuations=-2), "Continuations must be a count"),
    "a login in createSecret": (ROTATION_LINE, lambda d: d.update(Step="createSecret"), "LoginTests=1 on 'createSecret'"),
    "two logins": (ROTATION_LINE, lambda d: d.update(LoginTests=2), "LoginTests must be 0 or 1"),
    "a function name that is not one": (REQUEST_LINE, lambda d: d.update(Function="my function"), "Lambda function name"),
}


@pytest.mark.parametrize("name", list(CONTRACT_BREAKS))
def test_the_contract_is_enforced(name: str) -> None:
    base, change, expected = CONTRACT_BREAKS[name]
    assert_rejected(changed(base, change), expected)


def test_the_function_name_and_forbidden_names_are_checked() -> None:
    assert_rejected(line(REQUEST_LINE), "Function 'userkeeper', expected 'prod-keeper'", function_name="prod-keeper")
    # A user name anywhere in the line, even inside an allowed member's value.
    leaky = changed(ROTATION_LINE, lambda d: d.update(ErrorCode="UserNotFound_app7f3e"))
    assert_rejected(leaky, "'app7f3e'", forbidden=["app7f3e"])
    assert metrics.problems(line(ROTATION_LINE), forbidden=["app7f3e"]) == []
