"""The alarms of both templates (README, "Operating it") against the metric contract the binary
writes (``tests/e2e/metrics.py``) and against each other: the SAM template's (every alarm
parameter set) and the synthesized CDK example's (``keeper.alarms``). A metric renamed on one
side, an alarm on a dimension the lines do not carry, or a rule pattern that drifted fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..e2e import metrics
from . import cfn
from .test_templates import SAM_TEMPLATE, SYNTH_HINT, cdk_templates

ALARMED = {"RequestFailed": metrics.REQUEST, "RotationStepFailed": metrics.ROTATION}
ALARM = {
    "Namespace": metrics.NAMESPACE,
    "Statistic": "Sum",
    "Period": 300,
    "EvaluationPeriods": 1,
    "Threshold": 1,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "TreatMissingData": "notBreaching",
}
PATTERN = {
    "source": ["aws.secretsmanager"],
    "detail-type": ["AWS Service Event via CloudTrail"],
    "eventSource": ["secretsmanager.amazonaws.com"],
    "eventName": ["RotationFailed", "RotationAbandoned"],
}


def of_type(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == rtype}


def function_id(template: dict[str, Any]) -> str:
    (fid,) = [k for k, r in template["Resources"].items() if r["Type"] in cfn.FUNCTION_TYPES]
    return fid


def cdk_example() -> Path:
    paths = [p for p in cdk_templates() if "UserKeeperExample" in p.name]
    assert paths, f"no synthesized CDK example: {SYNTH_HINT}"
    return paths[0]


def templates() -> list[Any]:
    return [pytest.param(SAM_TEMPLATE, id="sam:template.yaml"), pytest.param("cdk", id="cdk:example")]


def load(which: Any) -> dict[str, Any]:
    return cfn.load_template(cdk_example() if which == "cdk" else which)


@pytest.mark.parametrize("which", templates())
def test_one_alarm_per_failure_metric_of_the_contract_on_this_function(which: Any) -> None:
    template = load(which)
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    by_metric = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms.values()}
    assert set(by_metric) == set(ALARMED), f"alarms on {sorted(by_metric)}"
    for name, kind in ALARMED.items():
        props = by_metric[name]
        assert name in metrics.KINDS[kind]["metrics"] and metrics.KINDS[kind]["metrics"][name] == "Count"
        assert {k: props.get(k) for k in ALARM} == ALARM, props
        # Function alone: one of the line's dimension sets, naming this template's function.
        assert [d["Name"] for d in props["Dimensions"]] == ["Function"]
        assert ["Function"] in metrics.KINDS[kind]["dimensions"]
        assert props["Dimensions"][0]["Value"] == {"Ref": function_id(template)}
        assert props.get("AlarmActions"), f"{name} notifies nobody"


@pytest.mark.parametrize("which", templates())
def test_the_rotation_events_rule_matches_secrets_managers_events(which: Any) -> None:
    template = load(which)
    (rule,) = of_type(template, "AWS::Events::Rule").values()
    props = rule["Properties"]
    pattern = props["EventPattern"]
    seen = {"source": pattern["source"], "detail-type": pattern["detail-type"],
            "eventSource": pattern["detail"]["eventSource"], "eventName": pattern["detail"]["eventName"]}
    assert seen == PATTERN
    assert props.get("State") == "ENABLED"
    assert len(props["Targets"]) == 1
    # Alarms and rule notify the same topic.
    topic = props["Targets"][0]["Arn"]
    for alarm in of_type(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [topic]


def test_sam_narrows_the_rule_to_the_secrets_the_function_may_rotate() -> None:
    template = load(SAM_TEMPLATE)
    (rule,) = of_type(template, "AWS::Events::Rule").values()
    (prefix,) = rule["Properties"]["EventPattern"]["detail"]["additionalEventData"]["SecretId"]
    role = template["Resources"]["UserKeeperRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (rotate,) = [st for st in role if isinstance(st, dict) and st.get("Sid") == "RotateSecrets"]
    assert prefix == {"prefix": {"Fn::Sub": rotate["Resource"]["Fn::Sub"].removesuffix("*")}}


def test_sam_alarms_exist_only_with_a_topic_and_its_policy_only_when_asked() -> None:
    template = load(SAM_TEMPLATE)
    names = ("RequestFailedAlarm", "RotationStepFailedAlarm", "RotationEventsRule", "AlarmTopicPolicy")
    conditions = {n: template["Resources"][n].get("Condition") for n in names}
    assert conditions == {"RequestFailedAlarm": "HasAlarmTopic", "RotationStepFailedAlarm": "HasAlarmTopic",
                          "RotationEventsRule": "HasAlarmTopic", "AlarmTopicPolicy": "SetAlarmTopicPolicy"}
    topic = "arn:aws:sns:us-east-1:123456789012:ops"
    for params, expected in [({}, (False, False)),
                             ({"AlarmTopicArn": topic}, (True, False)),
                             ({"ReplaceAlarmTopicPolicy": "true"}, (False, False)),
                             ({"AlarmTopicArn": topic, "ReplaceAlarmTopicPolicy": "true"}, (True, True))]:
        s = cfn.Stack(template, name="ops", stack_id="arn:aws:cloudformation:us-east-1:123456789012:stack/ops/x",
                      region="us-east-1", account="123456789012", parameters=params)
        assert (s.condition("HasAlarmTopic"), s.condition("SetAlarmTopicPolicy")) == expected, params
