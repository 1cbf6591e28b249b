"""Amazon MQ for RabbitMQ in the end-to-end tests: a RabbitMQ broker in the emulator whose
``BrokerInstances`` (management ``ConsoleURL``, ``amqps://`` endpoint) are the worker's real
RabbitMQ (``servers.RabbitMqServer``), the secrets the function reads, and the RabbitMQ user
tags userkeeper records ownership and binding in (the spec of issue 17):

* ``userkeeper:owner=<stack GUID>/<LogicalResourceId>``
* ``userkeeper:secret=<first 32 hex digits of SHA-256 of the password secret's ARN>``

The RabbitMQ server lives for the whole session of a worker: every test names its users
uniquely (``unique``), and what a test checks is read back from RabbitMQ itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from typing import Any, Callable

from .harness.constants import DEFAULT_STACK_ID
from .harness.emulator import PLACEHOLDER_BROKER_ID, Emulator
from .harness.events import load_event
from .rotation_helpers import Rotated, starting_password, unique
from .servers import RabbitMqServer

RMQ_USER = "Custom::AmazonMQRabbitMQUser"
CLONE = "_clone"
#: The secrets the sample events name (events/rabbitmq-user-*.json); tests swap in real ones.
SAMPLE_PASSWORD_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:userkeeper/sample/rabbitmq-app-rmq-a1B2c3"
SAMPLE_ADMIN_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:userkeeper/sample/rabbitmq-admin-d4E5f6"


def stack_guid(stack_id: str = DEFAULT_STACK_ID) -> str:
    return stack_id.rsplit("/", 1)[-1]


def owner_tag(logical_id: str, stack_id: str = DEFAULT_STACK_ID) -> str:
    return f"userkeeper:owner={stack_guid(stack_id)}/{logical_id}"


def secret_tag(secret_arn: str) -> str:
    return f"userkeeper:secret={hashlib.sha256(secret_arn.encode()).hexdigest()[:32]}"


def new_password() -> str:
    """An Amazon MQ password (12-128 characters, 4 distinct at least, none of ``, : =``)."""
    return f"Rabbit-{uuid.uuid4().hex}"


@dataclasses.dataclass
class RabbitBroker:
    """A RabbitMQ broker in the emulator, served by ``server``, and its admin secret."""

    broker_id: str
    admin_secret_arn: str
    server: RabbitMqServer

    def props(self, username: str, password_secret_arn: str, **extra: Any) -> dict[str, Any]:
        """The properties of a ``Custom::AmazonMQRabbitMQUser`` on this broker."""
        return {"BrokerId": self.broker_id, "Username": username, "PasswordSecretArn": password_secret_arn,
                "AdminSecretArn": self.admin_secret_arn, **extra}

    def pid(self, username: str) -> str:
        return f"{self.broker_id}/{username}"


def instances_of(server: RabbitMqServer, amqps_endpoint: str | None = None,
                 console_url: str | None = None) -> list[dict[str, Any]]:
    return [{"console_url": console_url or server.console_url,
             "endpoints": [amqps_endpoint or server.amqps_endpoint]}]


def make_rabbit_broker(emulator: Emulator, server: RabbitMqServer,
                       instances: list[dict[str, Any]] | None = None) -> RabbitBroker:
    """A RabbitMQ broker whose instances are ``server`` (or ``instances``), created as
    CloudFormation would (its one administrator given at creation, RabbitMQ's own rule), and
    the admin secret holding that administrator's credentials."""
    emulator.rabbitmq_instances(instances or instances_of(server))
    broker_id = emulator.client("mq").create_broker(
        BrokerName=unique("rabbit"), DeploymentMode="SINGLE_INSTANCE", EngineType="RABBITMQ",
        EngineVersion="3.13", HostInstanceType="mq.t3.micro", PubliclyAccessible=False,
        Users=[{"Username": server.admin_user, "Password": server.admin_password}])["BrokerId"]
    admin = json.dumps({"username": server.admin_user, "password": server.admin_password})
    arn = emulator.client("secretsmanager").create_secret(Name=unique("rabbitmq-admin"), SecretString=admin)["ARN"]
    return RabbitBroker(broker_id, arn, server)


def password_secret(emulator: Emulator, password: str, name: str | None = None) -> str:
    return emulator.client("secretsmanager").create_secret(
        Name=name or unique("rabbitmq-password"), SecretString=json.dumps({"password": password}))["ARN"]


def user_state(server: RabbitMqServer, name: str) -> dict[str, Any] | None:
    """What RabbitMQ holds for ``name`` (tags sorted, permissions per vhost, the password hash),
    None without such a user: comparable before and after."""
    user = server.user(name)
    if user is None:
        return None
    return {"tags": sorted(user["tags"]), "permissions": server.permissions(name),
            "password_hash": user["password_hash"]}


def users_snapshot(server: RabbitMqServer, names: list[str]) -> dict[str, Any]:
    return {n: user_state(server, n) for n in names}


# -------------------------------------------------------------------------------------------
# rotation


#: The permissions every rotated user starts with: both vhosts, different rules on each.
ROTATED_PERMISSIONS = {
    "/": {"configure": "^app\\.", "write": "^app\\.", "read": "^app\\."},
    "orders": {"configure": "", "write": "^orders\\.", "read": ".*"},
}


def seed_rotated_user(emulator: Emulator, broker: RabbitBroker, bound: bool = True, tags: tuple[str, ...] = ("management",),
                      **extra: Any) -> Rotated:
    """A RabbitMQ user made outside a stack, with permissions on both vhosts, and the rotation
    secret naming it (``extra`` goes into the secret: ``strategy``, ``host``, ``port``...),
    rotation enabled. ``bound``: the operator's one binding step done (the user tag
    ``userkeeper:secret=<digest>``)."""
    server = broker.server
    user = unique("app")
    pw = starting_password()
    value = {"engine": "rabbitmq", "broker_id": broker.broker_id, "username": user, "password": pw,
             "admin_secret_arn": broker.admin_secret_arn, **extra}
    arn = emulator.client("secretsmanager").create_secret(Name=f"rotated/{user}", SecretString=json.dumps(value))["ARN"]
    emulator.enable_rotation(arn)
    server.put_user(user, pw, [*tags, *([secret_tag(arn)] if bound else [])])
    for vhost, perms in ROTATED_PERMISSIONS.items():
        server.set_permissions(user, vhost, **perms)
    return Rotated("rabbitmq", arn, user, pw, value, broker_id=broker.broker_id)


# -------------------------------------------------------------------------------------------
# the sample events


def rabbitmq_samples(emulator: Emulator, server: RabbitMqServer) -> Callable[[str], dict[str, Any]]:
    """What a user does before sending events/rabbitmq-user-*.json: a RabbitMQ broker (here the
    worker's RabbitMQ) and the two secrets, whose id and ARNs replace the placeholders.
    Answers ``load(name) -> event`` (the file's event, rewritten), and leaves the sample
    user's password in ``load.password``."""
    broker = make_rabbit_broker(emulator, server)
    password = new_password()
    real = {PLACEHOLDER_BROKER_ID: broker.broker_id,
            SAMPLE_PASSWORD_SECRET: password_secret(emulator, password, "userkeeper/sample/rabbitmq-app-rmq"),
            SAMPLE_ADMIN_SECRET: broker.admin_secret_arn}

    def load(name: str, **overrides: Any) -> dict[str, Any]:
        text = json.dumps(load_event(name, **overrides))
        for placeholder, value in real.items():
            text = text.replace(placeholder, value)
        return json.loads(text)

    load.password = password  # type: ignore[attr-defined]
    load.broker = broker  # type: ignore[attr-defined]
    return load
