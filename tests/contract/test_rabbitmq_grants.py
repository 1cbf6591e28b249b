"""The grants of ``Custom::AmazonMQRabbitMQUser`` and of its rotation, in both templates,
evaluated as IAM would (resources and conditions) with no binary: RabbitMQ users live in the
broker, so all AWS is asked is ``mq:DescribeBroker`` on the broker and the two secrets (the
password, the broker administrator's); no ActiveMQ user action, broker tag or reboot may be
allowed on a RabbitMQ broker, and the administrator's secret is read, never written.

The ActiveMQ and RabbitMQ examples are given different brokers (and, in SAM, different broker
name prefixes; the rotated secrets a prefix of their own), so that a grant meant for one cannot
pass for the other. What the binary actually calls is checked through it in test_templates.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..e2e.harness.constants import ACCOUNT_ID, FUNCTION_ARN, FUNCTION_NAME, REGION
from . import cfn
from .test_templates import (
    RABBITMQ_USER_TYPE,
    ROTATION_SCHEDULE_TYPE,
    SAM_TEMPLATE,
    RoleGrants,
    _allows,
    cdk_templates,
)

ACTIVEMQ_BROKER = ("uk-amq-orders", "b-1111a5b6-78cd-901e-2fgh-3i45j6k178l9")
RABBITMQ_BROKER = ("uk-rabbit-events", "b-2222a5b6-78cd-901e-2fgh-3i45j6k178l9")
ADMIN_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:userkeeper/admin/events-AbCdEf"


def _broker_arn(broker: tuple[str, str]) -> str:
    return f"arn:aws:mq:{REGION}:{ACCOUNT_ID}:broker:{broker[0]}:{broker[1]}"


SAM_PARAMETERS = {
    "MqBrokerNamePrefix": "uk-amq-",
    "RabbitMqBrokerNamePrefix": "uk-rabbit-",
    "MqBrokerId": ACTIVEMQ_BROKER[1],
    "RotateMqExample": "true",
    "RabbitMqBrokerId": RABBITMQ_BROKER[1],
    "RabbitMqAdminSecretArn": ADMIN_SECRET,
    "SecretNamePrefix": "userkeeper/",
    "RotatedSecretNamePrefix": "userkeeper/rotated/",
}
CDK_PARAMETERS = {
    "MqBrokerArn": _broker_arn(ACTIVEMQ_BROKER),
    "RotateMqExample": "true",
    "RabbitMqBrokerArn": _broker_arn(RABBITMQ_BROKER),
    "RabbitMqAdminSecretArn": ADMIN_SECRET,
}

# Everything ActiveMQ's user API, its bookkeeping and its reboots take: none of it on a
# RabbitMQ broker.
MQ_NOT_FOR_RABBITMQ = [
    "mq:CreateUser", "mq:DescribeUser", "mq:UpdateUser", "mq:DeleteUser", "mq:ListUsers",
    "mq:ListTags", "mq:CreateTags", "mq:DeleteTags", "mq:RebootBroker", "mq:UpdateBroker",
]
SECRET_WRITES = [
    "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage", "secretsmanager:TagResource",
    "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret",
]


class Resolved:
    """A template resolved in a sample stack: the function, its log group and the secrets
    stand in as CloudFormation would have made them (secrets of the app carry the tags the
    template gives them)."""

    def __init__(self, path: Path, parameters: dict[str, str]) -> None:
        self.path = path
        template = cfn.load_template(path)
        declared = template.get("Parameters") or {}
        self.stack = cfn.Stack(
            template,
            name="rabbitmq-grants",
            stack_id=f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/rabbitmq-grants/1",
            region=REGION,
            account=ACCOUNT_ID,
            parameters={k: v for k, v in parameters.items() if k in declared},
        )
        self.grants = RoleGrants(template)
        self.secret_tags: dict[str, dict[str, list[str]]] = {}
        for lid in self.stack.order():
            r = self.stack.resources[lid]
            if r["Type"] in cfn.FUNCTION_TYPES:
                self.stack.created[lid] = cfn.Created(FUNCTION_NAME, {"Arn": FUNCTION_ARN}, lid)
            elif r["Type"] == "AWS::Logs::LogGroup":
                self.stack.created[lid] = cfn.Created(lid, {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{lid}:*"}, lid)
            elif r["Type"] == "AWS::SecretsManager::Secret":
                props = self.stack.resolve(r.get("Properties") or {})
                name = props.get("Name") or f"{lid}-abcdefghijkl"
                arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}-XyZ123"
                self.stack.created[lid] = cfn.Created(arn, {"Id": arn}, lid)
                self.secret_tags[arn] = {f"aws:ResourceTag/{t['Key']}": [t["Value"]] for t in props.get("Tags") or []}

    def rabbitmq_users(self) -> list[str]:
        users = [lid for lid, r in self.stack.resources.items()
                 if r["Type"] == RABBITMQ_USER_TYPE and self.stack.enabled(lid)]
        assert users, f"{self.path.name}: no {RABBITMQ_USER_TYPE} with the RabbitMQ example on"
        return users

    def schedule_of(self, user: str) -> str:
        secret = self.stack.references(self.stack.resources[user]["Properties"]["PasswordSecretArn"])
        for lid, r in self.stack.resources.items():
            if r["Type"] == ROTATION_SCHEDULE_TYPE and self.stack.enabled(lid) \
                    and self.stack.references(r["Properties"]["SecretId"]) == secret:
                return lid
        raise AssertionError(f"{self.path.name}: {user}'s secret has no rotation schedule")

    def allows(self, lid: str, action: str, resource: str, context: dict[str, list[str]] | None = None) -> bool:
        return _allows(self.grants.statements_for(self.stack, lid), action, resource, context or {})

    def secret_context(self, arn: str, rotated: bool = False) -> dict[str, list[str]]:
        """The condition keys a request on the secret carries: its tags, and its rotation
        function once rotation is on."""
        keys = dict(self.secret_tags.get(arn, {}))
        if rotated:
            keys["secretsmanager:resource/AllowRotationLambdaArn"] = [FUNCTION_ARN]
        return keys


def _cases() -> list[Any]:
    cases = [pytest.param(SAM_TEMPLATE, SAM_PARAMETERS, id="sam:template.yaml")]
    cases += [pytest.param(p, CDK_PARAMETERS, id=f"cdk:{p.name}") for p in cdk_templates()]
    return cases


@pytest.mark.parametrize(("path", "parameters"), _cases())
def test_the_rabbitmq_user_may_describe_its_broker_and_read_its_two_secrets_nothing_more(path: Path, parameters: dict[str, str]) -> None:
    t = Resolved(path, parameters)
    rabbit, activemq = _broker_arn(RABBITMQ_BROKER), _broker_arn(ACTIVEMQ_BROKER)
    for user in t.rabbitmq_users():
        props = t.stack.resolve(t.stack.resources[user]["Properties"])
        assert props["BrokerId"] == RABBITMQ_BROKER[1], props["BrokerId"]
        assert props["AdminSecretArn"] == ADMIN_SECRET, props["AdminSecretArn"]
        password = props["PasswordSecretArn"]
        assert t.allows(user, "mq:DescribeBroker", rabbit), f"{path.name}: {user} may not describe its broker"
        for action in MQ_NOT_FOR_RABBITMQ:
            assert not t.allows(user, action, rabbit), f"{path.name}: {user}'s grants allow {action} on a RabbitMQ broker"
        for secret in (password, ADMIN_SECRET):
            assert t.allows(user, "secretsmanager:GetSecretValue", secret, t.secret_context(secret)), (
                f"{path.name}: {user} may not read {secret}"
            )
        for action in SECRET_WRITES:
            assert not t.allows(user, action, ADMIN_SECRET, t.secret_context(ADMIN_SECRET)), (
                f"{path.name}: {user}'s grants allow {action} on the administrator's secret"
            )
        # The same template's ActiveMQ user keeps its own grants on its own broker (the
        # RabbitMQ ones did not replace or widen them).
        assert not t.allows(user, "mq:DescribeBroker", _broker_arn(("other-broker", "b-3333"))), (
            f"{path.name}: {user} may describe brokers outside its prefix"
        )
    mq_users = [lid for lid, r in t.stack.resources.items() if r["Type"] == "Custom::AmazonMQUser" and t.stack.enabled(lid)]
    assert mq_users
    for user in mq_users:
        assert t.allows(user, "mq:CreateUser", activemq)


@pytest.mark.parametrize(("path", "parameters"), _cases())
def test_the_rabbitmq_rotation_may_rotate_its_secret_and_read_the_administrators(path: Path, parameters: dict[str, str]) -> None:
    t = Resolved(path, parameters)
    rabbit = _broker_arn(RABBITMQ_BROKER)
    for user in t.rabbitmq_users():
        schedule = t.schedule_of(user)
        secret = t.stack.resolve(t.stack.resources[schedule]["Properties"]["SecretId"])
        value = t.stack.resolve(t.stack.resources[secret_lid(t, secret)]["Properties"]["GenerateSecretString"])
        assert '"engine":"rabbitmq"' in value["SecretStringTemplate"].replace(" ", ""), value
        assert ADMIN_SECRET in value["SecretStringTemplate"], "the rotated secret names the administrator's secret"
        for action in ("DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"):
            assert t.allows(schedule, f"secretsmanager:{action}", secret, t.secret_context(secret, rotated=True)), (
                f"{path.name}: {schedule} may not {action} its secret"
            )
        assert t.allows(schedule, "secretsmanager:GetRandomPassword", "*")
        assert t.allows(schedule, "mq:DescribeBroker", rabbit)
        assert t.allows(schedule, "secretsmanager:GetSecretValue", ADMIN_SECRET, t.secret_context(ADMIN_SECRET))
        for action in MQ_NOT_FOR_RABBITMQ:
            assert not t.allows(schedule, action, rabbit), f"{path.name}: {schedule}'s grants allow {action} on a RabbitMQ broker"
        for action in SECRET_WRITES:
            assert not t.allows(schedule, action, ADMIN_SECRET, t.secret_context(ADMIN_SECRET)), (
                f"{path.name}: {schedule}'s grants allow {action} on the administrator's secret"
            )


def secret_lid(t: Resolved, arn: str) -> str:
    (lid,) = [lid for lid, c in t.stack.created.items() if c.ref == arn]
    return lid


def test_a_grant_widened_to_mq_user_actions_fails_the_check() -> None:
    """The check above is not vacuous: the SAM template with the RabbitMQ statement widened to
    ActiveMQ's user actions, or the administrator's secret under the rotated prefix, fails it."""
    widened = Resolved(SAM_TEMPLATE, SAM_PARAMETERS)
    for st in widened.grants.inline_raw:
        if st.get("Sid") == "RabbitMqBrokers":
            st["Action"] = ["mq:DescribeBroker", "mq:CreateUser"]
    (user,) = widened.rabbitmq_users()
    assert widened.allows(user, "mq:CreateUser", _broker_arn(RABBITMQ_BROKER))

    shared = Resolved(SAM_TEMPLATE, {**SAM_PARAMETERS, "RotatedSecretNamePrefix": "userkeeper/"})
    (user,) = shared.rabbitmq_users()
    assert shared.allows(user, "secretsmanager:PutSecretValue", ADMIN_SECRET)
