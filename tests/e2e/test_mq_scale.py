"""Amazon MQ at the size platform teams run: one broker full of managed, rotated users.

A broker holds at most 50 tags and 250 users (Amazon MQ quotas;
../shared/reference/aws-behaviours-and-limits.md), and userkeeper records each user it manages
as one broker tag (src/services/mq/record.rs: packing several users into one tag would lose
records to concurrent writers, since MQ's tag calls have no compare-and-set). So the size is
50 managed users less the broker's own tags, each with the clone alternating rotation makes;
one more is refused before any change, and rotating them all adds no broker tag.
"""

from __future__ import annotations

import hashlib
import json

from .cfn_helpers import CfnDriver, assert_failed, assert_success
from .harness.emulator import Emulator
from .harness.events import rotation_event
from .harness.function import Function
from .test_mq import MQUSER, make_broker

OWN_TAGS = {"team": "payments", "cost-center": "4711"}
CAP = 50 - len(OWN_TAGS)
STEPS_BEFORE_REBOOT = ("createSecret", "setSecret")
STEPS_AFTER_REBOOT = ("testSecret", "finishSecret")


def name(i: int) -> str:
    return f"app-{i:03d}"


def start_password(i: int) -> str:
    return f"Start-Passw0rd-{i:04d}"


def step(fn: Function, step_name: str, arn: str, token: str) -> None:
    inv = fn.invoke(rotation_event(step_name, arn, token), timeout_s=60)
    assert inv.kind == "response", f"{step_name} of {arn}: {inv.result}"


def test_a_full_broker_of_managed_users_rotates_and_refuses_one_more_before_any_change(
        cfn: CfnDriver, fn: Function, emulator: Emulator) -> None:
    broker = make_broker(emulator)
    mq = emulator.client("mq")
    sm = emulator.client("secretsmanager")
    broker_arn = mq.describe_broker(BrokerId=broker)["BrokerArn"]
    mq.create_tags(ResourceArn=broker_arn, Tags=OWN_TAGS)
    arns = [
        sm.create_secret(Name=f"rotated/{name(i)}", SecretString=json.dumps(
            {"engine": "mq", "broker_id": broker, "username": name(i), "password": start_password(i)}))["ARN"]
        for i in range(CAP + 1)
    ]

    def props(i: int) -> dict[str, str]:
        return {"BrokerId": broker, "Username": name(i), "PasswordSecretArn": arns[i], "Groups": ["apps"]}

    for i in range(CAP):
        assert_success(cfn.create(MQUSER, props(i), logical_id=f"User{i:03d}"))
    tags = mq.list_tags(ResourceArn=broker_arn)["Tags"]
    assert len(tags) == 50, "the broker's quota, exactly filled"
    records = {k: v for k, v in tags.items() if k.startswith("userkeeper:")}
    assert len(records) == CAP, sorted(records)
    for i in range(CAP):
        owner, request, binding = records[f"userkeeper:user:{name(i)}"].split(" ")
        assert owner.endswith(f"/User{i:03d}") and request != "-"
        assert binding == hashlib.sha256(arns[i].encode()).hexdigest()[:32]

    # One more: refused before any change, saying what to do.
    emulator.clear_calls()
    res = cfn.create(MQUSER, props(CAP), logical_id="OneMore")
    assert_failed(res)
    assert "50 tags" in res.reason and "another broker" in res.reason, res.reason
    writes = [a for a in emulator.actions("mq") if a in {"CreateUser", "CreateTags", "UpdateUser", "RebootBroker"}]
    assert writes == [], f"refused after a change: {writes}"
    assert emulator.mq_user(broker, name(CAP)) is None
    assert mq.list_tags(ResourceArn=broker_arn)["Tags"] == tags

    # Rotate every user (alternating: each gets its clone). As with a maintenance window, the
    # changes stay pending until one reboot; then every testSecret logs in through the API's
    # view and finishSecret moves AWSCURRENT.
    tokens = []
    for arn in arns[:CAP]:
        emulator.enable_rotation(arn)
        tokens.append(emulator.new_pending(arn))
    for arn, token in zip(arns, tokens):
        for s in STEPS_BEFORE_REBOOT:
            step(fn, s, arn, token)
    assert mq.list_tags(ResourceArn=broker_arn)["Tags"] == tags, "rotation adds no broker tag"
    for arn, token in zip(arns, tokens):
        secret_tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=arn)["Tags"]}
        assert secret_tags["userkeeper:rotation"].startswith(f"{token} sent "), secret_tags
    mq.reboot_broker(BrokerId=broker)
    emulator.wait_settled()
    for arn, token in zip(arns, tokens):
        for s in STEPS_AFTER_REBOOT:
            step(fn, s, arn, token)
    for i, arn in enumerate(arns[:CAP]):
        current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
        assert current["username"] == f"{name(i)}_clone"
        live = emulator.mq_user(broker, current["username"])
        assert live is not None and live["Password"] == current["password"] and live["Pending"] is None
        assert emulator.mq_user(broker, name(i))["Password"] == start_password(i), "the previous user still works"
    users = {u["Username"] for u in emulator.mq_broker(broker)["users"]}
    assert len(users) == 1 + 2 * CAP, "admin, every user and its clone"
