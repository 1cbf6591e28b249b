"""Contract: the deployment artefacts and the binary agree.

Every ``Custom::*`` resource of ``template.yaml`` (with every example switched on) and of every
CDK-synthesized template (``cdk/cdk.out/*.template.json``) is turned into the Create event
CloudFormation would send (intrinsics resolved: a secret becomes one created in the emulator
as its GenerateSecretString says, another custom resource becomes the physical id / Data the
function answered for it) and sent, in dependency order, through the **release binary** as a
Lambda against the emulator. Each must succeed; every ``Fn::GetAtt`` the template uses must be
a key of the answer's ``Data``; then Deletes in reverse order must succeed too.

The MQ examples name a broker through a parameter (``MqBrokerId`` in SAM, ``MqBrokerArn`` in
the CDK app): an ActiveMQ broker is created in the emulator first and passed as that parameter.
The RabbitMQ examples likewise (``RabbitMqBrokerId`` / ``RabbitMqBrokerArn``, and
``RabbitMqAdminSecretArn``): a RabbitMQ broker in the emulator whose ``ConsoleURL`` and
``Endpoints`` are a real RabbitMQ started here (tests/e2e/servers.py), and its administrator's
secret; what the binary did is checked on that RabbitMQ (users, tags, permissions, logins).

So a property the template renders that the binary refuses, a type or attribute the binary
does not know, a password generator the binary's password rules reject: any drift between
template, constructs and binary fails here. The IAM tests check what the binary needs is
granted, continuations included, and nothing on a bare wildcard: every call a custom resource's
Create or Delete makes is checked against the statements in effect for that resource, on every
resource AWS authorizes it on (a group's or ACL's members too; for MemoryDB's CreateACL, both
what the Service Authorization Reference and what the Developer Guide say, see
``authorizations``) and with the request's condition keys (its tags).

Rotation: every ``AWS::SecretsManager::RotationSchedule`` of the templates is played as Secrets
Manager plays it, through the binary against the emulator: the test of the current credentials
when the schedule is created (``RotateImmediatelyOnUpdate: false``), then two full rotations
(the four steps). Every AWS call the binary makes is checked against the statements in effect
for that schedule (its role's, and the policies it DependsOn), **resource and conditions
included**: the secret's ARN, the user's or broker's ARN, the tag keys of ``mq:CreateTags``.
Which secret a Secrets Manager call was for is read from the request itself (the emulator's
request log): a user reads only the secrets it names, a rotation writes only its own secret.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import re
import secrets
import string
import types
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from ..e2e.cfn_helpers import assert_protocol
from ..e2e.harness.constants import (
    ACCOUNT_ID,
    FUNCTION_ARN,
    FUNCTION_NAME,
    GROUP_TYPE,
    REGION,
    REPO_ROOT,
    USER_TYPE,
)
from ..e2e.harness.emulator import Emulator, EmulatorUnavailable, create_activemq_broker
from ..e2e.harness.events import ROTATION_STEPS, cfn_event, rotation_event
from ..e2e.harness.function import BinaryMissing, Function, require_binary
from ..e2e.harness.receiver import ResponseReceiver
from ..e2e.harness.runtime_api import Invocation, LocalRuntimeApi
from ..e2e.harness.views import CfnResult, mask_passwords
from ..e2e.servers import RabbitMqServer, ServerUnavailable, make_pki
from . import cfn

REPO = REPO_ROOT
SAM_TEMPLATE = REPO / "template.yaml"
CDK_OUT = REPO / "cdk" / "cdk.out"
SYNTH_HINT = "run scripts/check-deploy (or `npx cdk synth` in cdk/) first"

MEMORYDB_USER_TYPE = "Custom::MemoryDBUser"
MEMORYDB_ACL_TYPE = "Custom::MemoryDBACL"
MQ_USER_TYPE = "Custom::AmazonMQUser"
RABBITMQ_USER_TYPE = "Custom::AmazonMQRabbitMQUser"
ROTATION_SCHEDULE_TYPE = "AWS::SecretsManager::RotationSchedule"
PERMISSION_TYPE = "AWS::Lambda::Permission"
SECRETS_MANAGER_PRINCIPAL = "secretsmanager.amazonaws.com"
# What the binary serves today; a new service adds its types here and in the templates, and
# every template must exercise every one of them.
KNOWN_TYPES = {USER_TYPE, GROUP_TYPE, MEMORYDB_USER_TYPE, MEMORYDB_ACL_TYPE, MQ_USER_TYPE, RABBITMQ_USER_TYPE}


@dataclasses.dataclass(frozen=True)
class PasswordRule:
    """What a service (and userkeeper, before any call) accepts as a password."""

    service: str
    forbidden: frozenset[str]
    min_length: int
    max_length: int
    min_distinct: int = 1


# ElastiCache and MemoryDB: 16-128 characters, none of , " / @ (README "Passwords are checked").
REDIS_FAMILY = PasswordRule("ElastiCache/MemoryDB", frozenset(',"/@'), 16, 128)
# Amazon MQ (ActiveMQ): 12+ characters, 4+ distinct, none of , : = (src/services/mq.rs).
ACTIVEMQ = PasswordRule("Amazon MQ", frozenset(",:="), 12, 250, min_distinct=4)
# Amazon MQ for RabbitMQ: the same rule, at most 128 characters (README, Custom::AmazonMQRabbitMQUser).
RABBITMQ = PasswordRule("Amazon MQ for RabbitMQ", frozenset(",:="), 12, 128, min_distinct=4)
PASSWORD_RULES = {USER_TYPE: REDIS_FAMILY, MEMORYDB_USER_TYPE: REDIS_FAMILY, MQ_USER_TYPE: ACTIVEMQ,
                  RABBITMQ_USER_TYPE: RABBITMQ}


def cdk_templates() -> list[Path]:
    return sorted(CDK_OUT.glob("*.template.json"))


# Every example switched on. The MQ broker parameters are filled in per test (the broker is
# created in the emulator first): see broker_parameters; the MQ example's rotation too (its
# parameter, in every template that has it: rotation_parameters).
SAM_PARAMETERS = {"CreateExample": "true", "CreateMemoryDbExample": "true"}
ROTATION_PARAMETERS = {"RotateMqExample": "true"}


def template_cases() -> list[Any]:
    cases = [pytest.param(SAM_TEMPLATE, SAM_PARAMETERS, id="sam:template.yaml")]
    cases += [pytest.param(p, {}, id=f"cdk:{p.name}") for p in cdk_templates()]
    return cases


def broker_parameters(template: dict[str, Any], broker: dict[str, str], rabbit: dict[str, str]) -> dict[str, str]:
    """The template's broker parameters (``MqBrokerId``, ``MqBrokerArn``), naming ``broker``,
    and its RabbitMQ ones (``RabbitMqBrokerId`` / ``RabbitMqBrokerArn``, ``RabbitMqAdminSecretArn``)
    naming ``rabbit``."""
    declared = template.get("Parameters") or {}
    values = {"MqBrokerId": broker["BrokerId"], "MqBrokerArn": broker["BrokerArn"]}
    found = {k: v for k, v in values.items() if k in declared}
    assert found, f"the template has no parameter naming the MQ broker (one of {sorted(values)})"
    rabbit_values = {"RabbitMqBrokerId": rabbit["BrokerId"], "RabbitMqBrokerArn": rabbit["BrokerArn"]}
    rabbit_found = {k: v for k, v in rabbit_values.items() if k in declared}
    assert rabbit_found, f"the template has no parameter naming the RabbitMQ broker (one of {sorted(rabbit_values)})"
    assert "RabbitMqAdminSecretArn" in declared, "the template has no RabbitMqAdminSecretArn parameter"
    return {**found, **rabbit_found, "RabbitMqAdminSecretArn": rabbit["AdminSecretArn"]}


def rotation_parameters(template: dict[str, Any]) -> dict[str, str]:
    declared = template.get("Parameters") or {}
    return {k: v for k, v in ROTATION_PARAMETERS.items() if k in declared}


def test_cdk_templates_were_synthesized() -> None:
    assert cdk_templates(), f"no CDK templates in {CDK_OUT}: {SYNTH_HINT}"


# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    try:
        emu = Emulator()
    except EmulatorUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMqServer]:
    """A real RabbitMQ (management API over HTTPS, AMQP over TLS) behind a CA of its own, which
    the function is given as USERKEEPER_TLS_CA_FILE."""
    try:
        server = RabbitMqServer(make_pki(tmp_path_factory.mktemp("rabbitmq-pki"))).start()
    except ServerUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def stack_env(emulator: Emulator, rabbitmq: RabbitMqServer) -> Iterator[tuple[Emulator, Function, ResponseReceiver, RabbitMqServer]]:
    try:
        binary = require_binary()
    except BinaryMissing as e:
        pytest.fail(str(e), pytrace=False)
    emulator.reset()
    emulator.config(transition_seconds=0)
    runtime = LocalRuntimeApi()
    receiver = ResponseReceiver()
    fn = Function(runtime, emulator.url, binary=binary, extra_env={"USERKEEPER_TLS_CA_FILE": str(rabbitmq.pki.ca_cert)})
    try:
        yield emulator, fn, receiver, rabbitmq
    finally:
        fn.stop()
        runtime.close()
        receiver.close()
        # Each test's stack is a new one: users it left (a rotation's, not deleted) would be
        # another stack's to the next.
        for name in rabbitmq.user_names() - {rabbitmq.admin_user}:
            rabbitmq.delete_user(name)


def generated_password(spec: dict[str, Any], rules: list[PasswordRule]) -> str:
    """A value Secrets Manager's GenerateSecretString could produce, refusing settings that
    could produce a password userkeeper rejects for any of the users reading it (a real
    finding, not a flaky one)."""
    assert rules, "a generated secret that no userkeeper user reads"
    length = int(spec.get("PasswordLength", 32))
    alphabet = ""
    if str(spec.get("ExcludeUppercase", "false")).lower() != "true":
        alphabet += string.ascii_uppercase
    if str(spec.get("ExcludeLowercase", "false")).lower() != "true":
        alphabet += string.ascii_lowercase
    if str(spec.get("ExcludeNumbers", "false")).lower() != "true":
        alphabet += string.digits
    if str(spec.get("ExcludePunctuation", "false")).lower() != "true":
        alphabet += string.punctuation
    if str(spec.get("IncludeSpace", "false")).lower() == "true":
        alphabet += " "
    alphabet = "".join(c for c in alphabet if c not in str(spec.get("ExcludeCharacters", "")))
    for rule in rules:
        bad = rule.forbidden & set(alphabet)
        assert not bad, f"GenerateSecretString may generate {sorted(bad)}, which {rule.service} refuses: {spec}"
        assert rule.min_length <= length <= rule.max_length, (
            f"PasswordLength {length} outside {rule.service}'s {rule.min_length}-{rule.max_length}"
        )
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if len(set(password)) >= max(r.min_distinct for r in rules):
            return password


def secret_readers(stack: cfn.Stack) -> dict[str, list[str]]:
    """For each secret: the types of the enabled custom resources whose PasswordSecretArn
    names it (and so whose password rules its generator must respect)."""
    readers: dict[str, list[str]] = collections.defaultdict(list)
    for lid, r in stack.resources.items():
        if r["Type"].startswith("Custom::") and stack.enabled(lid):
            arn = (r.get("Properties") or {}).get("PasswordSecretArn")
            for target in stack.references(arn):
                readers[target].append(r["Type"])
    return readers


def create_secret(emulator: Emulator, lid: str, props: dict[str, Any], rules: list[PasswordRule]) -> cfn.Created:
    assert "SecretString" not in props, f"{lid}: a literal SecretString puts the password in the template"
    gen = props.get("GenerateSecretString")
    assert gen, f"{lid}: expected GenerateSecretString"
    value = json.loads(gen.get("SecretStringTemplate") or "{}")
    key = gen.get("GenerateStringKey")
    assert key == "password", f"{lid}: userkeeper reads the `password` key, GenerateStringKey is {key!r}"
    value[key] = generated_password(gen, rules)
    name = props.get("Name") or f"{lid}-{uuid.uuid4().hex[:12]}"
    # Its tags too: the CDK's grants name the app's password secrets by their userkeeper:reader tag.
    tags = {"Tags": props["Tags"]} if props.get("Tags") else {}
    out = emulator.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(value), **tags)
    return cfn.Created(ref=out["ARN"], atts={"Id": out["ARN"]}, source=f"secret {name}")


def emulator_user(emulator: Emulator, user_id: str) -> dict[str, Any] | None:
    for u in (emulator.state().get("elasticache") or {}).get("users") or []:
        if u.get("UserId") == user_id:
            return u
    return None


def emulator_memorydb(emulator: Emulator, kind: str, name: str) -> dict[str, Any] | None:
    """A MemoryDB user (kind ``users``) or ACL (``acls``) by name."""
    for x in (emulator.state().get("memorydb") or {}).get(kind) or []:
        if x.get("Name") == name:
            return x
    return None


def emulator_broker(emulator: Emulator, broker_id: str) -> dict[str, Any]:
    for b in (emulator.state().get("mq") or {}).get("brokers") or []:
        if b.get("BrokerId") == broker_id:
            return b
    raise AssertionError(f"broker {broker_id} not in the emulator")


def emulator_mq_user(emulator: Emulator, broker_id: str, username: str) -> dict[str, Any] | None:
    for u in emulator_broker(emulator, broker_id).get("users") or []:
        if u.get("Username") == username:
            return u
    return None


def create_broker(emulator: Emulator) -> dict[str, str]:
    """An ActiveMQ broker whose name fits the SAM template's default MqBrokerNamePrefix."""
    broker_id = create_activemq_broker(emulator, name="uk-contract")
    out = emulator.client("mq").describe_broker(BrokerId=broker_id)
    return {"BrokerId": broker_id, "BrokerArn": out["BrokerArn"]}


def create_rabbitmq_broker(emulator: Emulator, server: RabbitMqServer) -> dict[str, str]:
    """A RabbitMQ broker whose name fits the SAM template's default RabbitMqBrokerNamePrefix,
    describing ``server`` as its instance, and its administrator's secret, named with the
    default SecretNamePrefix (the SAM role reads secrets of that prefix only)."""
    mq = emulator.client("mq")
    broker_id = mq.create_broker(
        BrokerName="uk-contract-rabbit",
        DeploymentMode="SINGLE_INSTANCE",
        EngineType="RABBITMQ",
        HostInstanceType="mq.m5.large",
        PubliclyAccessible=False,
        Users=[{"Username": server.admin_user, "Password": server.admin_password}],
    )["BrokerId"]
    emulator.rabbitmq_instances([{"console_url": server.console_url, "endpoints": [server.amqps_endpoint]}], broker=broker_id)
    admin = emulator.client("secretsmanager").create_secret(
        Name="userkeeper/contract/rabbitmq-admin",
        SecretString=json.dumps({"username": server.admin_user, "password": server.admin_password}),
    )
    arn = mq.describe_broker(BrokerId=broker_id)["BrokerArn"]
    return {"BrokerId": broker_id, "BrokerArn": arn, "AdminSecretArn": admin["ARN"]}


def secret_id_of(request: dict[str, Any]) -> str:
    """The ``SecretId`` of a Secrets Manager request (JSON protocol)."""
    body = json.loads(request.get("body") or "{}")
    assert "SecretId" in body, f"secretsmanager:{request['action']} without a SecretId"
    return body["SecretId"]


@dataclasses.dataclass
class Deployment:
    """A template's resources as CloudFormation would have created them: secrets in the
    emulator, custom resources through the binary (``sent``, in creation order)."""

    path: Path
    emulator: Emulator
    fn: Function
    receiver: ResponseReceiver
    stack: cfn.Stack
    iam: "RoleGrants"
    broker: dict[str, str]
    rabbit: dict[str, str]  # the RabbitMQ broker: BrokerId, BrokerArn, AdminSecretArn
    rabbitmq: RabbitMqServer  # the real RabbitMQ that broker describes
    secret_values: dict[str, str]  # secret ARN -> password, to check what the user got
    sent: list[tuple[str, str, dict[str, Any], CfnResult]]
    # (logical id, request type) -> the (action, resource) pairs AWS authorized its calls as
    authorized: dict[tuple[str, str], set[tuple[str, str]]] = dataclasses.field(default_factory=dict)

    def send(self, request_type: str, lid: str, rtype: str, props: dict[str, Any], physical_id: str | None = None) -> CfnResult:
        emulator, receiver = self.emulator, self.receiver
        token = props.pop("ServiceToken", None)
        assert token == FUNCTION_ARN, f"{lid}: ServiceToken {token!r} is not the template's userkeeper function"
        event = cfn_event(
            request_type,
            rtype,
            props,
            physical_id=physical_id,
            response_url=receiver.url(f"{lid}-{request_type.lower()}"),
            logical_id=lid,
            stack_id=self.stack.pseudo["AWS::StackId"],
            service_token=token,
        )
        before = emulator.last_request()
        res = CfnResult(event, self.fn.invoke(event, timeout_s=60), [])
        res.puts = receiver.wait_for(event["ResponseURL"])
        assert_protocol(res)
        assert res.status == "SUCCESS", f"{request_type} {lid} ({rtype}) failed: {res.reason}\nproperties: {mask_passwords(props)}"
        # Every AWS call the binary made for this request is an action the template grants
        # the function while this resource exists (its role's own policies, and the policies
        # the resource DependsOn: the ones CloudFormation keeps until after its Delete).
        # The AWS requests it made (tests/emulator/requests_log.py): a Secrets Manager call's
        # body names the secret it was for.
        calls = emulator.requests(after=before)
        called = {f"{c['service']}:{c['action']}".lower() for c in calls}
        missing = called - self.iam.actions_for(lid)
        assert not missing, f"{request_type} {lid} ({rtype}) called {sorted(missing)}, which the template does not grant it"
        # And each call is allowed on every resource AWS authorizes it on, with the request's
        # condition keys (its tags), by the statements in effect for this resource.
        statements = self.iam.statements_for(self.stack, lid)
        authorized = self.authorized.setdefault((lid, request_type), set())
        for c in calls:
            for action, resource, context in authorizations(self, lid, rtype, props, c["service"], c["action"], c):
                authorized.add((action, resource))
                assert _allows(statements, action, resource, context), (
                    f"{self.path.name}: {request_type} {lid} ({rtype}) called {c['service']}:{c['action']}, which AWS "
                    f"authorizes as {action} on {resource} {context or ''}: the statements in effect for it do not "
                    f"allow that:\n{json.dumps(statements, indent=1)}"
                )
        return res


# What AWS authorizes a custom resource's calls on. IAM evaluates a call once per resource it
# is authorized on (every one must be allowed), plus the dependent actions the Service
# Authorization Reference lists (tagging what a create creates, when the request has tags:
# userkeeper's always do, its ownership tags). Where AWS's documents disagree, every reading
# is required, so that the grants hold whichever AWS enforces:
#   memorydb:CreateACL  the Service Authorization Reference: on each member user only (its one
#                       resource type); the MemoryDB Developer Guide: on the ACL, with
#                       memorydb:TagResource. Both: the ACL, every member, TagResource on the ACL.
#   memorydb:CreateUser no resource type (so only Resource "*" matches it), TagResource on the
#                       new user's ARN.
# A call of another service than the resource's (and Secrets Manager's, Lambda's) fails here:
# add it, with the resources AWS authorizes it on.
Authorization = tuple[str, str, dict[str, list[str]]]  # IAM action, resource ARN, request context


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


def request_tags(d: Deployment, lid: str, props: dict[str, Any]) -> dict[str, list[str]]:
    """The condition keys of a create request: the resource's Tags plus userkeeper's ownership
    tags for it (src/cfn/resource.rs, Owner::tags)."""
    tags = {t["Key"]: t["Value"] for t in props.get("Tags") or []}
    tags |= {"userkeeper:stack-id": d.stack.pseudo["AWS::StackId"], "userkeeper:logical-id": lid}
    return {**{f"aws:RequestTag/{k}": [v] for k, v in tags.items()}, "aws:TagKeys": list(tags)}


def authorizations(d: Deployment, lid: str, rtype: str, props: dict[str, Any], service: str, action: str,
                   request: dict[str, Any] | None = None) -> list[Authorization]:
    """Every (action, resource, context) AWS authorizes for one call the binary made for the
    custom resource ``lid`` (``request``: the emulator's record of it, body included)."""
    if service == "secretsmanager":
        assert action == "GetSecretValue", f"{lid}: secretsmanager:{action} outside a rotation"
        assert request is not None, f"{lid}: which secret secretsmanager:{action} was for is in its request"
        arn = secret_id_of(request)
        # Only the secrets the resource names: its password's, and a RabbitMQ user's administrator's.
        named = {props[k] for k in ("PasswordSecretArn", "AdminSecretArn") if props.get(k)}
        assert arn in named, f"{lid} ({rtype}) read the secret {arn}, which it does not name (it names {sorted(named)})"
        return [("secretsmanager:GetSecretValue", arn, secret_tags(d.emulator, arn))]
    if (service, action) == ("lambda", "Invoke"):  # a continuation: IAM calls it InvokeFunction
        return [("lambda:InvokeFunction", FUNCTION_ARN, {})]
    called = f"{service}:{action}"
    if rtype == RABBITMQ_USER_TYPE and service == "mq":
        # Its users live in the broker: of Amazon MQ only the endpoints (src/services/rabbitmq);
        # its Tags are RabbitMQ's, no AWS request tags.
        assert action == "DescribeBroker", f"{lid} ({rtype}) called {called}: a RabbitMQ user needs only mq:DescribeBroker"
        assert props["BrokerId"] == d.rabbit["BrokerId"], props["BrokerId"]
        return [(called, d.rabbit["BrokerArn"], {})]
    tagged = request_tags(d, lid, props)
    if rtype == USER_TYPE and service == "elasticache":
        user = _arn("elasticache", f"user:{props['UserId']}")
        if action == "CreateUser":
            return [(called, user, tagged), ("elasticache:AddTagsToResource", user, tagged)]
        return [(called, user, {})]
    if rtype == GROUP_TYPE and service == "elasticache":
        group = _arn("elasticache", f"usergroup:{props['UserGroupId']}")
        members = [_arn("elasticache", f"user:{u}") for u in props["UserIds"]]
        if action == "CreateUserGroup":
            return [(called, r, tagged) for r in [group, *members]] + [("elasticache:AddTagsToResource", group, tagged)]
        if action == "ModifyUserGroup":
            return [(called, r, {}) for r in [group, *members]]
        if action == "DescribeUsers":  # a look at its members
            return [(called, m, {}) for m in members]
        return [(called, group, {})]
    if rtype == MEMORYDB_USER_TYPE and service == "memorydb":
        user = _arn("memorydb", f"user/{props['UserName']}")
        if action == "CreateUser":
            return [(called, "*", tagged), ("memorydb:TagResource", user, tagged)]
        return [(called, user, {})]
    if rtype == MEMORYDB_ACL_TYPE and service == "memorydb":
        acl = _arn("memorydb", f"acl/{props['ACLName']}")
        members = [_arn("memorydb", f"user/{u}") for u in props["UserNames"]]
        if action == "CreateACL":
            service_authorization_reference = [(called, m, tagged) for m in members]
            developer_guide = [(called, acl, tagged), ("memorydb:TagResource", acl, tagged)]
            return service_authorization_reference + developer_guide
        if action == "UpdateACL":
            return [(called, r, {}) for r in [acl, *members]]
        if action == "DescribeUsers":  # a look at its members
            return [(called, m, {}) for m in members]
        return [(called, acl, {})]
    if rtype == MQ_USER_TYPE and service == "mq":
        assert props["BrokerId"] == d.broker["BrokerId"], props["BrokerId"]
        broker = d.broker["BrokerArn"]
        if action in ("CreateTags", "DeleteTags"):
            # Its one ownership tag (src/services/mq/user.rs), nothing else of the broker's.
            key = f"userkeeper:user:{props['Username'].replace('~', '+')}"
            return [(called, broker, {"aws:TagKeys": [key]})]
        return [(called, broker, {})]
    raise AssertionError(f"{lid} ({rtype}) called {called}: not in the contract's authorization model, add it")


def secret_tags(emulator: Emulator, arn: str) -> dict[str, list[str]]:
    """The condition keys of a request on the secret ``arn`` that come from the secret: its
    tags (``aws:ResourceTag/...``) and its rotation function, once rotation is on
    (``secretsmanager:resource/AllowRotationLambdaArn``)."""
    secret = emulator.client("secretsmanager").describe_secret(SecretId=arn)
    keys = {f"aws:ResourceTag/{t['Key']}": [t["Value"]] for t in secret.get("Tags") or []}
    if secret.get("RotationLambdaARN"):
        keys["secretsmanager:resource/AllowRotationLambdaArn"] = [secret["RotationLambdaARN"]]
    return keys


def test_create_acl_must_be_allowed_on_both_readings() -> None:
    """The model's CreateACL: what the Service Authorization Reference says (each member user)
    and what the MemoryDB Developer Guide says (the ACL, and TagResource on it), both required,
    with the request's ownership tags. A grant satisfying only one reading is refused."""
    stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/s/1"
    d = types.SimpleNamespace(stack=types.SimpleNamespace(pseudo={"AWS::StackId": stack_id}), broker={})
    props = {"ACLName": "uk-acl", "UserNames": ["uk-a", "uk-b"]}
    auths = authorizations(d, "Acl", MEMORYDB_ACL_TYPE, props, "memorydb", "CreateACL")
    acl, users = _arn("memorydb", "acl/uk-acl"), [_arn("memorydb", "user/uk-a"), _arn("memorydb", "user/uk-b")]
    assert sorted((a, r) for a, r, _ in auths) == sorted(
        [("memorydb:CreateACL", acl), *[("memorydb:CreateACL", u) for u in users], ("memorydb:TagResource", acl)]
    )
    assert all(ctx["aws:RequestTag/userkeeper:logical-id"] == ["Acl"] for _, _, ctx in auths)

    def allowed(statements: list[dict[str, Any]]) -> bool:
        return all(_allows(statements, *a) for a in auths)

    owned = {"StringEquals": {"aws:RequestTag/userkeeper:stack-id": stack_id, "aws:RequestTag/userkeeper:logical-id": "Acl"}}
    tag = {"Effect": "Allow", "Action": "memorydb:TagResource", "Resource": acl}

    def create(resources: list[str], condition: dict[str, Any] = owned) -> dict[str, Any]:
        return {"Effect": "Allow", "Action": "memorydb:CreateAcl", "Resource": resources, "Condition": condition}

    assert allowed([create([acl, *users]), tag])
    assert not allowed([create(users), tag]), "the Service Authorization Reference's reading alone"
    assert not allowed([create([acl]), tag]), "the Developer Guide's reading alone"
    assert not allowed([create([acl, *users])]), "TagResource on the new ACL (Developer Guide)"
    assert not allowed([create([acl, users[0]]), tag]), "every member"
    other = {"StringEquals": {**owned["StringEquals"], "aws:RequestTag/userkeeper:logical-id": "Other"}}
    assert not allowed([create([acl, *users], other), tag]), "only for its own ownership tags"


def deploy(path: Path, parameters: dict[str, str], stack_env) -> Deployment:
    """Creates ``path``'s resources in dependency order: secrets in the emulator, custom
    resources through the binary (each must succeed, with only granted calls)."""
    emulator, fn, receiver, rabbitmq = stack_env
    assert path.exists(), f"{path} missing: {SYNTH_HINT}"
    name = f"contract-{path.stem.split('.')[0].lower()}"
    stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{name}/{uuid.uuid4()}"
    template = cfn.load_template(path)
    broker = create_broker(emulator)
    rabbit = create_rabbitmq_broker(emulator, rabbitmq)
    stack = cfn.Stack(
        template,
        name=name,
        stack_id=stack_id,
        region=REGION,
        account=ACCOUNT_ID,
        parameters={**parameters, **broker_parameters(template, broker, rabbit), **rotation_parameters(template)},
    )
    d = Deployment(path, emulator, fn, receiver, stack, RoleGrants(template), broker, rabbit, rabbitmq, {}, [])
    readers = secret_readers(stack)
    for lid in stack.order():
        resource = stack.resources[lid]
        rtype = resource["Type"]
        if rtype in cfn.FUNCTION_TYPES:
            # The one function these custom resources must point at.
            stack.created[lid] = cfn.Created(FUNCTION_NAME, {"Arn": FUNCTION_ARN}, f"function {lid}")
        elif rtype == "AWS::Logs::LogGroup":
            # Only its ARN matters here: the role's logging statement names it.
            arn = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{lid}:*"
            stack.created[lid] = cfn.Created(lid, {"Arn": arn}, f"log group {lid}")
        elif rtype == "AWS::SecretsManager::Secret":
            props = stack.resolve(resource.get("Properties") or {})
            rules = [PASSWORD_RULES[t] for t in readers.get(lid, []) if t in PASSWORD_RULES]
            stack.created[lid] = create_secret(emulator, lid, props, rules)
            value = emulator.client("secretsmanager").get_secret_value(SecretId=stack.created[lid].ref)
            d.secret_values[stack.created[lid].ref] = json.loads(value["SecretString"])["password"]
        elif rtype.startswith("Custom::"):
            assert rtype in KNOWN_TYPES, f"{lid}: {rtype} is not a type this build of userkeeper serves"
            props = stack.resolve(resource.get("Properties") or {})
            assert "ServiceTimeout" in props, f"{lid}: set ServiceTimeout (the default is an hour)"
            res = d.send("Create", lid, rtype, dict(props))
            d.sent.append((lid, rtype, props, res))
            stack.created[lid] = cfn.Created(res.physical_id, res.data, f"{rtype} {lid}'s response Data")
        # Rotation schedules and the function's permission: test_rotation_schedules_...
    return d


@pytest.mark.parametrize(("path", "parameters"), template_cases())
def test_custom_resources_create_and_delete_through_the_binary(path: Path, parameters: dict[str, str], stack_env) -> None:
    d = deploy(path, parameters, stack_env)
    emulator, stack, sent, secret_values = d.emulator, d.stack, d.sent, d.secret_values
    send = d.send

    assert sent, f"{path}: no custom resources found"
    sent_types = collections.Counter(t for _, t, _, _ in sent)
    assert set(sent_types) == KNOWN_TYPES, f"{path.name} exercises {sorted(sent_types)}, not every type the binary serves"
    if path == SAM_TEMPLATE:
        # The examples are exactly: ElastiCache a default user, an app user and the group
        # holding both; MemoryDB a password user, an IAM user and the ACL holding both; MQ a
        # broker user; RabbitMQ a broker user.
        assert sent_types == {USER_TYPE: 2, GROUP_TYPE: 1, MEMORYDB_USER_TYPE: 2, MEMORYDB_ACL_TYPE: 1, MQ_USER_TYPE: 1,
                              RABBITMQ_USER_TYPE: 1}, sent

    # Every attribute the template reads (in resources and outputs) must be in the Data the
    # function answered.
    readers = [r.get("Properties") or {} for lid, r in stack.resources.items() if stack.enabled(lid)]
    readers += [o["Value"] for o in (stack.template.get("Outputs") or {}).values()
                if o.get("Condition") is None or stack.condition(o["Condition"])]
    getatts = [att for value in readers for att in _getatts_of_custom(stack, value)]
    assert getatts, f"{path}: the example reads no attribute of its custom resources"
    for att in getatts:
        value = stack.resolve({"Fn::GetAtt": att})
        assert isinstance(value, str) and value, f"Fn::GetAtt {'.'.join(att)} is {value!r}"

    # What the emulator (and the real RabbitMQ) holds is what the template said.
    for lid, rtype, props, res in sent:
        CHECK_CREATED[rtype](d, lid, props, res)

    # And CloudFormation's Deletes, in reverse order, clean up.
    for lid, rtype, props, res in reversed(sent):
        send("Delete", lid, rtype, {**props, "ServiceToken": FUNCTION_ARN}, physical_id=res.physical_id)
    for lid, rtype, props, _ in sent:
        CHECK_DELETED[rtype](d, lid, props)

    # A RabbitMQ user's requests asked AWS for its broker and its two secrets, nothing else.
    for lid, rtype, props, _ in sent:
        if rtype == RABBITMQ_USER_TYPE:
            assert d.authorized[(lid, "Create")] >= {
                ("mq:DescribeBroker", d.rabbit["BrokerArn"]),
                ("secretsmanager:GetSecretValue", props["PasswordSecretArn"]),
                ("secretsmanager:GetSecretValue", props["AdminSecretArn"]),
            }, d.authorized[(lid, "Create")]


# What each type's Create must have left in the emulator, and its Delete removed.


def _check_elasticache_user(d, lid, props, res) -> None:
    emulator, secret_values = d.emulator, d.secret_values
    user = emulator_user(emulator, props["UserId"])
    assert user is not None, f"{lid}: user {props['UserId']} not in the emulator"
    arn = props.get("PasswordSecretArn")
    if arn:
        assert user.get("Passwords") == [secret_values[arn]], f"{lid}: password is not the secret's"
    assert res.data.get("Arn", "").endswith(f":user:{props['UserId']}")


def _check_elasticache_group(d, lid, props, res) -> None:
    assert res.data.get("UserGroupId") == props["UserGroupId"]


def _check_memorydb_user(d, lid, props, res) -> None:
    emulator, secret_values = d.emulator, d.secret_values
    user = emulator_memorydb(emulator, "users", props["UserName"])
    assert user is not None, f"{lid}: MemoryDB user {props['UserName']} not in the emulator"
    assert user["AccessString"] == props["AccessString"]
    arn = props.get("PasswordSecretArn")
    if arn:
        assert user["Authentication"]["Type"] == "password"
        assert user.get("Passwords") == [secret_values[arn]], f"{lid}: password is not the secret's"
    else:
        assert user["Authentication"]["Type"] == props["AuthenticationMode"]["Type"]
    assert res.data["Arn"] == user["ARN"] and res.data["Arn"].endswith(f":user/{props['UserName']}")
    assert res.data["UserName"] == props["UserName"] and res.data["Status"] == "active"


def _check_memorydb_acl(d, lid, props, res) -> None:
    acl = emulator_memorydb(d.emulator, "acls", props["ACLName"])
    assert acl is not None, f"{lid}: MemoryDB ACL {props['ACLName']} not in the emulator"
    assert set(props["UserNames"]) <= set(acl["UserNames"]), (props["UserNames"], acl["UserNames"])
    assert res.data["Arn"] == acl["ARN"] and res.data["Arn"].endswith(f":acl/{props['ACLName']}")
    assert res.data["ACLName"] == props["ACLName"]


def _check_mq_user(d, lid, props, res) -> None:
    emulator, secret_values = d.emulator, d.secret_values
    broker_id, username = props["BrokerId"], props["Username"]
    user = emulator_mq_user(emulator, broker_id, username)
    assert user is not None, f"{lid}: user {username} not on broker {broker_id}"
    # ApplyImmediately false in every example: the user waits for the broker's next reboot.
    assert user["Pending"] and user["Pending"]["PendingChange"] == "CREATE", user["Pending"]
    assert user["Pending"]["Password"] == secret_values[props["PasswordSecretArn"]], f"{lid}: password is not the secret's"
    assert emulator_broker(emulator, broker_id)["reboots"] == 0, "the example rebooted the broker"
    assert res.physical_id == f"{broker_id}/{username}"
    assert res.data == {"BrokerId": broker_id, "Username": username, "PendingChange": "CREATE",
                        "LiveUsername": username}
    assert f"userkeeper:user:{username.replace('~', '+')}" in emulator_broker(emulator, broker_id)["Tags"]


def rabbitmq_tags(user: dict[str, Any]) -> set[str]:
    """A RabbitMQ user's tags (a list since RabbitMQ 3.9, a comma-separated string before)."""
    tags = user.get("tags") or []
    return set(tags.split(",") if isinstance(tags, str) else tags) - {""}


def rabbitmq_ownership(d: Deployment, lid: str, password_secret_arn: str) -> set[str]:
    """The user tags userkeeper records a RabbitMQ user's owner and bound secret in
    (src/services/rabbitmq/ownership.rs): the stack's GUID and the logical id; the first 128
    bits of the SHA-256 of the secret's full ARN."""
    guid = d.stack.pseudo["AWS::StackId"].rsplit("/", 1)[1]
    digest = hashlib.sha256(password_secret_arn.encode()).hexdigest()[:32]
    return {f"userkeeper:owner={guid}/{lid}", f"userkeeper:secret={digest}"}


def _check_rabbitmq_user(d, lid, props, res) -> None:
    server, username = d.rabbitmq, props["Username"]
    user = server.user(username)
    assert user is not None, f"{lid}: user {username} not on the RabbitMQ the broker describes"
    assert rabbitmq_tags(user) == set(props.get("Tags") or []) | rabbitmq_ownership(d, lid, props["PasswordSecretArn"]), user
    assert server.management_login(username, d.secret_values[props["PasswordSecretArn"]]), f"{lid}: password is not the secret's"
    want = {p["VirtualHost"]: {"configure": p.get("Configure", ""), "write": p.get("Write", ""), "read": p.get("Read", "")}
            for p in props.get("Permissions") or []}
    assert server.permissions(username) == want, f"{lid}: permissions {server.permissions(username)}, not {want}"
    assert res.physical_id == f"{props['BrokerId']}/{username}"
    assert res.data == {"Username": username, "LiveUsername": username, "ConsoleUrl": server.console_url}, res.data


CHECK_CREATED = {
    USER_TYPE: _check_elasticache_user,
    GROUP_TYPE: _check_elasticache_group,
    MEMORYDB_USER_TYPE: _check_memorydb_user,
    MEMORYDB_ACL_TYPE: _check_memorydb_acl,
    MQ_USER_TYPE: _check_mq_user,
    RABBITMQ_USER_TYPE: _check_rabbitmq_user,
}


def _gone(what: str, found: Any) -> None:
    assert found is None, f"{what}: still in the emulator after Delete"


CHECK_DELETED = {
    USER_TYPE: lambda d, lid, props: _gone(lid, emulator_user(d.emulator, props["UserId"])),
    GROUP_TYPE: lambda d, lid, props: None,
    MEMORYDB_USER_TYPE: lambda d, lid, props: _gone(lid, emulator_memorydb(d.emulator, "users", props["UserName"])),
    MEMORYDB_ACL_TYPE: lambda d, lid, props: _gone(lid, emulator_memorydb(d.emulator, "acls", props["ACLName"])),
    MQ_USER_TYPE: lambda d, lid, props: (
        # A pending CREATE is dropped at once; the ownership tag goes with it.
        _gone(lid, emulator_mq_user(d.emulator, props["BrokerId"], props["Username"])),
        _gone(f"{lid}'s ownership tag", emulator_broker(d.emulator, props["BrokerId"])["Tags"].get(f"userkeeper:user:{props['Username']}")),
    ),
    # The user (and a rotation's clone, if there is one) is gone from the broker.
    RABBITMQ_USER_TYPE: lambda d, lid, props: (
        _gone(lid, d.rabbitmq.user(props["Username"])),
        _gone(f"{lid}'s clone", d.rabbitmq.user(props["Username"] + "_clone")),
    ),
}


def _getatts_of_custom(stack: cfn.Stack, value: Any) -> list[list[str]]:
    """Every [logical id, attribute] GetAtt of a custom resource inside ``value``."""
    found: list[list[str]] = []
    if isinstance(value, dict):
        if list(value) == ["Fn::GetAtt"]:
            v = value["Fn::GetAtt"]
            target, att = v if isinstance(v, list) else str(v).split(".", 1)
            if stack.resources.get(target, {}).get("Type", "").startswith("Custom::"):
                found.append([target, att])
        for v in value.values():
            found += _getatts_of_custom(stack, v)
    elif isinstance(value, list):
        for v in value:
            found += _getatts_of_custom(stack, v)
    return found


# ------------------------------------------------------------------------------------------
# IAM: both artefacts grant the same actions, the function may continue in a new invocation
# of itself, and nothing is granted on a bare wildcard


# The identity policies a template can attach to a role (the CDK's grants are managed policies).
ATTACHED_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


class RoleGrants:
    """The identity policies of the template's one function's role: inline in the role, or
    AWS::IAM::Policy / AWS::IAM::ManagedPolicy resources attached to it."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.resources: dict[str, dict[str, Any]] = template.get("Resources") or {}
        functions = [lid for lid, r in self.resources.items() if r["Type"] in cfn.FUNCTION_TYPES]
        assert len(functions) == 1, f"expected one function, found {functions}"
        self.function = functions[0]
        role = self.resources[self.function]["Properties"].get("Role")
        assert isinstance(role, dict) and "Fn::GetAtt" in role, f"the function's Role is not a role of the template: {role}"
        self.role = role["Fn::GetAtt"][0]
        #: As written (Fn::If included), for resolving in a stack.
        self.inline_raw = [
            st for p in self.resources[self.role]["Properties"].get("Policies") or [] for st in p["PolicyDocument"]["Statement"]
        ]
        self.inline = [_unconditional(st) for st in self.inline_raw]
        self.attached = {
            lid: r["Properties"]["PolicyDocument"]["Statement"]
            for lid, r in self.resources.items()
            if r["Type"] in ATTACHED_POLICY_TYPES and {"Ref": self.role} in r["Properties"].get("Roles", [])
        }

    def actions_for(self, lid: str) -> set[str]:
        statements = self.inline + [st for p in _depends_on(self.resources[lid]) if p in self.attached for st in self.attached[p]]
        return {a.lower() for a in _actions(statements)}

    def statements_for(self, stack: cfn.Stack, lid: str) -> list[dict[str, Any]]:
        """The statements in effect while ``lid`` exists (the role's, and the policies it
        DependsOn), resolved in ``stack``: conditions applied, intrinsics evaluated."""
        raw = self.inline_raw + [st for p in _depends_on(self.resources[lid]) if p in self.attached for st in self.attached[p]]
        return stack.resolve(raw)


def _depends_on(resource: dict[str, Any]) -> list[str]:
    depends = resource.get("DependsOn") or []
    return [depends] if isinstance(depends, str) else list(depends)


def _unconditional(st: dict[str, Any]) -> dict[str, Any]:
    # Fn::If [cond, statement, AWS::NoValue]: the statement, for these checks
    return st["Fn::If"][1] if "Fn::If" in st else st


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for r in (template.get("Resources") or {}).values():
        if r["Type"] in ATTACHED_POLICY_TYPES:
            out += r["Properties"]["PolicyDocument"]["Statement"]
        elif r["Type"] == "AWS::IAM::Role":
            for p in r["Properties"].get("Policies") or []:
                out += [_unconditional(st) for st in p["PolicyDocument"]["Statement"]]
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    acts: set[str] = set()
    for st in statements:
        a = st["Action"]
        acts |= set([a] if isinstance(a, str) else a)
    return acts


# Actions AWS authorizes on no resource ARN (Service Authorization Reference: no resource
# type), so that "*" is the only Resource that matches them. Granted only with a condition on
# the request's ownership tags.
NO_RESOURCE_ACTIONS = {"memorydb:createuser"}
# The same, but with nothing to narrow them by, and touching no resource: a random string.
# Granted on "*" alone in its statement (as in AWS's own rotation functions' policies).
UNSCOPED_ACTIONS = {"secretsmanager:getrandompassword"}
# What a CDK app may lack that the SAM role grants: needed only by a customer-managed KMS
# key on a secret, or an MQ user with ApplyImmediately or a rotation that reboots (the
# examples have none of these).
OPTIONAL_ACTIONS = {"kms:decrypt", "kms:generatedatakey", "mq:rebootbroker"}


def test_sam_and_cdk_grant_the_same_actions_never_on_star() -> None:
    sam = cfn.load_template(SAM_TEMPLATE)
    sam_statements = _statements(sam)
    assert sam_statements
    sam_actions = {a.lower() for a in _actions(sam_statements)}
    for p in cdk_templates():
        cdk_actions = {a.lower() for a in _actions(_statements(cfn.load_template(p)))}
        # The SAM role covers every resource of its prefixes; the CDK one each resource it was
        # asked to create: the same actions either way, but for the optional ones.
        assert cdk_actions <= sam_actions, f"{p.name} grants {sorted(cdk_actions - sam_actions)}, template.yaml does not"
        assert sam_actions - cdk_actions <= OPTIONAL_ACTIONS, f"{p.name} lacks {sorted(sam_actions - cdk_actions - OPTIONAL_ACTIONS)}"
    for st in sam_statements + [s for p in cdk_templates() for s in _statements(cfn.load_template(p))]:
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for r in resources:
            if r == "*":
                actions = {a.lower() for a in _actions([st])}
                if actions <= UNSCOPED_ACTIONS:
                    assert resources == ["*"] and "Condition" not in st, st
                    continue
                # Only where AWS requires it, and then only for requests carrying the tags
                # userkeeper puts on everything it creates.
                assert actions <= NO_RESOURCE_ACTIONS, f"statement on *: {st}"
                assert "aws:RequestTag/userkeeper:stack-id" in json.dumps(st.get("Condition")), f"* without the tag condition: {st}"
                continue
            text = json.dumps(r).rstrip('"')
            if text.endswith(":secret:*"):
                # The CDK app's password secrets: any secret, but only one carrying the tag
                # that names this function (which the CDK puts on the secrets it grants), to
                # read; or one whose rotation function is this one, for the rotation's calls.
                actions = {a.lower() for a in _actions([st])}
                equals = (st.get("Condition") or {}).get("StringEquals", {})
                reader = equals.get("aws:ResourceTag/userkeeper:reader")
                rotator = equals.get("secretsmanager:resource/AllowRotationLambdaArn")
                if isinstance(reader, dict) and "Fn::GetAtt" in reader:
                    assert actions == {"secretsmanager:getsecretvalue"}, f"more than reading on the reader tag: {st}"
                else:
                    assert isinstance(rotator, dict) and "Fn::GetAtt" in rotator, f"secret:* without a condition naming the function: {st}"
                    assert all(a.startswith("secretsmanager:") for a in actions), st
                continue
            assert not text.endswith((":*", "/*")), f"statement on a bare wildcard: {st}"
        assert st["Effect"] == "Allow"
    # No AWS-managed policy (AWSLambdaBasicExecutionRole allows every log group): each role
    # writes to its own log group only.
    for t in [sam] + [cfn.load_template(p) for p in cdk_templates()]:
        roles = [r for r in t["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
        assert roles and all("ManagedPolicyArns" not in r["Properties"] for r in roles)
        logging = [st for st in _statements(t) if any(a.startswith("logs:") for a in _actions([st]))]
        assert len(logging) == 1 and sorted(_actions(logging)) == ["logs:CreateLogStream", "logs:PutLogEvents"], logging
        assert "Fn::GetAtt" in logging[0]["Resource"], logging


def _all_templates() -> list[Any]:
    return [pytest.param(SAM_TEMPLATE, id="sam:template.yaml")] + [
        pytest.param(p, id=f"cdk:{p.name}") for p in cdk_templates()
    ]


@pytest.mark.parametrize("path", _all_templates())
def test_the_function_may_invoke_itself_for_continuations(path: Path) -> None:
    """A wait that outlasts one invocation goes on in a new invocation of the function
    (src/cfn/continuation.rs): its role needs lambda:InvokeFunction on exactly its own ARN,
    in place before each custom resource's first request and until after its last."""
    template = cfn.load_template(path)
    grants = RoleGrants(template)
    own_arn = {"Fn::GetAtt": [grants.function, "Arn"]}
    invoking = [
        (where, st)
        for where, statements in [("role", grants.inline), *grants.attached.items()]
        for st in statements
        if any(a.lower().startswith("lambda:") for a in _actions([st]))
    ]
    assert invoking, f"{path.name}: the function's role may not invoke the function (continuations)"
    for where, st in invoking:
        assert {a.lower() for a in _actions([st])} == {"lambda:invokefunction"}, st
        assert st["Resource"] == own_arn, f"{path.name}: lambda:InvokeFunction on {st['Resource']}, not on the function itself"
        assert st["Effect"] == "Allow" and "Condition" not in st, st
    policies = {where for where, _ in invoking}
    assert len(policies) == 1, policies
    (policy,) = policies
    # Inline in the role it would be a cycle (the role's policy naming the function, which
    # depends on the role): a policy of its own, which the function must not depend on.
    assert policy != "role"
    fn_depends = grants.resources[grants.function].get("DependsOn") or []
    assert policy not in ([fn_depends] if isinstance(fn_depends, str) else fn_depends)
    for lid, r in grants.resources.items():
        if r["Type"].startswith("Custom::"):
            assert "lambda:invokefunction" in grants.actions_for(lid), f"{path.name}: {lid} does not DependsOn {policy}"
    # And the template has no dependency cycle, whatever the conditions.
    cfn.Stack(template, name="x", stack_id="x", region=REGION, account=ACCOUNT_ID, parameters={}).order()


# ------------------------------------------------------------------------------------------
# Rotation: Secrets Manager may invoke the function, and each schedule's rotations through the
# binary make only calls its grants allow (resources and conditions included)


@pytest.mark.parametrize("path", _all_templates())
def test_secrets_manager_may_invoke_the_function_for_rotation(path: Path) -> None:
    """One resource policy statement per function, for Secrets Manager of this account only;
    every rotation schedule uses the function and is created after that permission."""
    template = cfn.load_template(path)
    grants = RoleGrants(template)
    fn = grants.function
    permissions = {lid: r for lid, r in grants.resources.items() if r["Type"] == PERMISSION_TYPE}
    assert len(permissions) == 1, f"{path.name}: expected one AWS::Lambda::Permission, found {sorted(permissions)}"
    ((perm_lid, perm),) = permissions.items()
    assert "Condition" not in perm, f"{path.name}: the rotation permission must not depend on the examples"
    p = perm["Properties"]
    assert p["Principal"] == SECRETS_MANAGER_PRINCIPAL, p
    assert p["Action"] == "lambda:InvokeFunction", p
    assert p["FunctionName"] in ({"Fn::GetAtt": [fn, "Arn"]}, {"Ref": fn}), p
    # Only this account's Secrets Manager (the confused-deputy guard).
    assert p["SourceAccount"] == {"Ref": "AWS::AccountId"}, p
    assert set(p) <= {"Principal", "Action", "FunctionName", "SourceAccount", "SourceArn"}, p
    schedules = {lid: r for lid, r in grants.resources.items() if r["Type"] == ROTATION_SCHEDULE_TYPE}
    assert schedules, f"{path.name}: no AWS::SecretsManager::RotationSchedule (the examples rotate their secrets)"
    for lid, r in schedules.items():
        props = r["Properties"]
        assert props.get("RotationLambdaARN") == {"Fn::GetAtt": [fn, "Arn"]}, f"{lid}: {props.get('RotationLambdaARN')}"
        assert "HostedRotationLambda" not in props, lid
        assert perm_lid in _depends_on(r), f"{lid} does not DependsOn {perm_lid}: Secrets Manager tests the function at once"


def _iam_pattern(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: * any run of characters, ? any one (case-sensitive for ARNs)."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z", re.S)


def _string_match(operator: str, have: str, want: Any) -> bool:
    want = str(want)
    return _iam_pattern(want).match(have) is not None if operator == "StringLike" else have == want


def _conditions_hold(condition: dict[str, Any], context: dict[str, list[str]]) -> bool:
    """IAM condition evaluation for the operators the templates use; anything else (or a key
    the request does not carry) does not hold: an unknown condition never grants."""
    for op, pairs in condition.items():
        qualifier, _, operator = op.rpartition(":")
        for key, want in pairs.items():
            wants = want if isinstance(want, list) else [want]
            have = context.get(key)
            if operator == "Null":
                hold = (have is None) == (str(wants[0]).lower() == "true")
            elif operator in ("StringEquals", "StringLike"):
                def one(v: str) -> bool:
                    return any(_string_match(operator, v, w) for w in wants)
                if qualifier == "ForAllValues":
                    hold = have is None or all(one(v) for v in have)
                elif qualifier == "ForAnyValue":
                    hold = have is not None and any(one(v) for v in have)
                else:
                    hold = have is not None and len(have) == 1 and one(have[0])
            else:
                hold = False
            if not hold:
                return False
    return True


def _allows(statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, list[str]]) -> bool:
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        if not any(_iam_pattern(a.lower()).match(action.lower()) for a in actions):
            continue
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        if not any(isinstance(r, str) and _iam_pattern(r).match(resource) for r in resources):
            continue
        if _conditions_hold(st.get("Condition") or {}, context):
            return True
    return False


# What two rotations of the examples must have made the binary call between them (so that the
# grant checks below are not vacuous): every service's rotation calls but RebootBroker (the
# examples never reboot) and KMS (the emulator does not call it). A RabbitMQ rotation's own are
# checked on their resources too (RABBITMQ_ROTATION_CALLS).
EXPECTED_ROTATION_CALLS = {
    "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:GetRandomPassword",
    "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
    "elasticache:DescribeUsers", "elasticache:ModifyUser", "memorydb:DescribeUsers", "memorydb:UpdateUser",
    "mq:DescribeBroker", "mq:DescribeUser", "mq:CreateUser", "mq:UpdateUser", "mq:ListTags",
    # MQ's setSecret records its progress as a tag on the secret.
    "secretsmanager:TagResource",
}


@dataclasses.dataclass
class RotatedSecret:
    """One schedule's secret, and the statements in effect for its rotations."""

    d: Deployment
    schedule: str  # logical id
    arn: str
    statements: list[dict[str, Any]]
    called: set[str] = dataclasses.field(default_factory=set)
    #: (action, resource) of every call, as AWS authorizes it
    called_on: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    def value(self, **version: str) -> tuple[str, dict[str, Any]]:
        out = self.d.emulator.client("secretsmanager").get_secret_value(SecretId=self.arn, **version)
        return out["VersionId"], json.loads(out["SecretString"])

    def resource_of(self, service: str, action: str, doc: dict[str, Any], request: dict[str, Any]) -> str:
        """The ARN AWS authorizes ``action`` on, for a rotation of a secret holding ``doc``."""
        if service == "secretsmanager":
            if action == "GetRandomPassword":
                return "*"
            arn = secret_id_of(request)
            # Its own secret; a RabbitMQ rotation also reads (only reads) the administrator's.
            if arn != self.arn:
                assert doc.get("engine") == "rabbitmq" and arn == doc.get("admin_secret_arn") and action == "GetSecretValue", (
                    f"{self.schedule}: the rotation called secretsmanager:{action} on {arn}, not its own secret {self.arn}"
                )
            return arn
        if service == "elasticache":
            return f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:user:{doc['user_id']}"
        if service == "memorydb":
            return f"arn:aws:memorydb:{REGION}:{ACCOUNT_ID}:user/{doc['username']}"
        if service == "mq" and doc["engine"] == "rabbitmq":
            assert doc["broker_id"] == self.d.rabbit["BrokerId"], doc["broker_id"]
            return self.d.rabbit["BrokerArn"]
        if service == "mq":
            assert doc["broker_id"] == self.d.broker["BrokerId"], doc["broker_id"]
            return self.d.broker["BrokerArn"]
        raise AssertionError(f"{self.schedule}: the rotation called {service}:{action}, a service it has no business with")

    def step(self, step: str, token: str) -> Invocation:
        """One rotation step through the binary; every call it makes must be allowed."""
        emulator = self.d.emulator
        _, doc = self.value(VersionStage="AWSCURRENT")
        tags_before = self.secret_tags()
        before = emulator.last_request()
        inv = self.d.fn.invoke(rotation_event(step, self.arn, token), timeout_s=60)
        assert inv.finished, f"{self.schedule}: {step} gave no result in time: {inv}"
        calls = emulator.requests(after=before)
        # The tag keys setSecret wrote on the secret (for TagResource's aws:TagKeys).
        written = [k for k, v in self.secret_tags().items() if tags_before.get(k) != v]
        for c in calls:
            service, action = c["service"], c["action"]
            tagging = (service, action) == ("secretsmanager", "TagResource")
            context = {"aws:TagKeys": written} if tagging else {}
            resource = self.resource_of(service, action, doc, c)
            if service == "secretsmanager" and resource != "*":
                context = {**context, **secret_tags(emulator, resource)}
            self.called.add(f"{service}:{action}")
            self.called_on.add((f"{service}:{action}", resource))
            assert _allows(self.statements, f"{service}:{action}", resource, context), (
                f"{self.d.path.name}: {step} of {self.schedule}'s secret called {service}:{action} on {resource} "
                f"{context or ''}, which the statements in effect for it do not allow:\n{json.dumps(self.statements, indent=1)}"
            )
        return inv

    def secret_tags(self) -> dict[str, str]:
        tags = self.d.emulator.client("secretsmanager").describe_secret(SecretId=self.arn).get("Tags", [])
        return {t["Key"]: t["Value"] for t in tags}


def _error(inv: Invocation) -> str:
    res = inv.result
    return res.get("errorMessage", "") if isinstance(res, dict) else str(res)


def _reboot(d: Deployment) -> None:
    """The broker's next reboot or maintenance window (the test's own call, not the binary's):
    pending user changes go live."""
    d.emulator.client("mq").reboot_broker(BrokerId=d.broker["BrokerId"])


@pytest.mark.parametrize(("path", "parameters"), template_cases())
def test_rotation_schedules_rotate_their_secrets_through_the_binary(path: Path, parameters: dict[str, str], stack_env) -> None:
    d = deploy(path, parameters, stack_env)
    stack = d.stack
    schedules = [lid for lid in stack.order() if stack.resources[lid]["Type"] == ROTATION_SCHEDULE_TYPE]
    # The examples rotate every secret in userkeeper's rotated-secret format (its template
    # names an engine) that their password users read; a `default` user's password, which no
    # client uses, is not rotated.
    password_secrets = {lid for lid in secret_readers(stack)
                        if "engine" in json.dumps(stack.resources[lid]["Properties"].get("GenerateSecretString", {}))}
    rotated: dict[str, str] = {}
    for lid in schedules:
        (target,) = stack.references(stack.resources[lid]["Properties"]["SecretId"])
        assert target not in rotated, f"{target} has two rotation schedules"
        rotated[target] = lid
    assert set(rotated) == password_secrets, f"{path.name}: secrets read but not rotated: {sorted(password_secrets - set(rotated))}"

    called: set[str] = set()
    for secret_lid, lid in rotated.items():
        called |= _rotate_example(d, lid, secret_lid)
    missing = EXPECTED_ROTATION_CALLS - called
    assert not missing, f"{path.name}: the rotations never called {sorted(missing)}: the grant checks missed them"


def _rotate_example(d: Deployment, lid: str, secret_lid: str) -> set[str]:
    stack, emulator = d.stack, d.emulator
    resource = stack.resources[lid]
    props = stack.resolve(resource["Properties"])
    assert props["RotationLambdaARN"] == FUNCTION_ARN
    assert str(props.get("RotateImmediatelyOnUpdate")).lower() == "false", (
        f"{lid}: RotateImmediatelyOnUpdate must be false (an MQ rotation without a reboot cannot complete at once)"
    )
    rules = props.get("RotationRules") or {}
    assert rules.get("AutomaticallyAfterDays") or rules.get("ScheduleExpression"), f"{lid}: no schedule: {rules}"
    arn = props["SecretId"]
    assert arn == stack.created[secret_lid].ref
    # Secrets Manager tests the current credentials as soon as the schedule exists: the user
    # that reads the secret must exist by then.
    users = [u for u, r in stack.resources.items()
             if r["Type"].startswith("Custom::") and stack.enabled(u)
             and secret_lid in stack.references((r.get("Properties") or {}).get("PasswordSecretArn"))]
    assert users and set(users) <= set(_depends_on(resource)), f"{lid} must DependsOn {users}"

    r = RotatedSecret(d, lid, arn, d.iam.statements_for(stack, lid))
    _, first = r.value(VersionStage="AWSCURRENT")
    engine = first["engine"]
    if engine == "mq":
        # RotateMqExample is for a user that is live: after the broker's next reboot.
        _reboot(d)
    emulator.enable_rotation(arn)

    # The schedule is created: with RotateImmediatelyOnUpdate false, Secrets Manager runs
    # testSecret alone on a fresh pending version, then removes that version's label.
    token = emulator.new_pending(arn)
    inv = r.step("testSecret", token)
    assert inv.kind == "response", f"{lid}: the schedule's first test failed: {_error(inv)}"
    emulator.client("secretsmanager").update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)

    # Two scheduled rotations (MQ alternates to the clone and back: CreateUser, then UpdateUser).
    for n in (1, 2):
        _, before = r.value(VersionStage="AWSCURRENT")
        token = emulator.new_pending(arn)
        for step in ROTATION_STEPS:
            inv = r.step(step, token)
            if step == "testSecret" and engine == "mq" and inv.kind != "response":
                # The example never reboots: AWSCURRENT stays until the change is live.
                assert "pending change" in _error(inv), _error(inv)
                _reboot(d)
                inv = r.step(step, token)
            assert inv.kind == "response", f"{lid}: rotation {n}: {step} failed: {_error(inv)}"
        version, after = r.value(VersionStage="AWSCURRENT")
        assert version == token, f"{lid}: AWSCURRENT is on {version}, not the rotation's {token}"
        assert after["password"] != before["password"]
        CHECK_ROTATED[engine](d, lid, before, after)
    if engine == "rabbitmq":
        expected = {(a, d.rabbit["BrokerArn"] if a.startswith("mq:") else arn) for a in RABBITMQ_ROTATION_CALLS}
        expected.add(("secretsmanager:GetSecretValue", first["admin_secret_arn"]))
        assert expected <= r.called_on, f"{lid}: the rotations never called {sorted(expected - r.called_on)}"
        assert {a for a, _ in r.called_on if a.startswith("mq:")} == {"mq:DescribeBroker"}, sorted(r.called_on)
    return r.called


def _check_two_passwords(kind: str):
    def check(d: Deployment, lid: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        if kind == "elasticache":
            user = emulator_user(d.emulator, after["user_id"])
        else:
            user = emulator_memorydb(d.emulator, "users", after["username"])
        assert user is not None, f"{lid}: the rotated user is gone"
        assert user["Passwords"] == [after["password"], before["password"]], f"{lid}: not [new, previous]"
    return check


def _check_mq_rotated(d: Deployment, lid: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    # Alternating: the new password is the other user's, live after the reboot.
    partner = before["username"][: -len("_clone")] if before["username"].endswith("_clone") else before["username"] + "_clone"
    assert after["username"] == partner, (before["username"], after["username"])
    user = emulator_mq_user(d.emulator, d.broker["BrokerId"], after["username"])
    assert user is not None and user["Pending"] is None and user["Password"] == after["password"], f"{lid}: {user and user['Username']}"
    assert emulator_broker(d.emulator, d.broker["BrokerId"])["reboots"] >= 1


# A RabbitMQ rotation's calls to AWS (its broker's endpoints, its secret's steps), each on its
# own resource; and it reads the administrator's secret (checked beside these).
RABBITMQ_ROTATION_CALLS = {
    "mq:DescribeBroker", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
}


def _check_rabbitmq_rotated(d: Deployment, lid: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    # Alternating: the new password is the other user's, live at once, with the same tags and
    # permissions; the user clients hold was not touched (its password still logs in).
    server = d.rabbitmq
    partner = before["username"][: -len("_clone")] if before["username"].endswith("_clone") else before["username"] + "_clone"
    assert after["username"] == partner, (before["username"], after["username"])
    assert server.management_login(after["username"], after["password"]), f"{lid}: {after['username']} does not take the new password"
    assert server.management_login(before["username"], before["password"]), f"{lid}: {before['username']} lost its password"
    old, new = server.user(before["username"]), server.user(after["username"])
    assert old is not None and new is not None
    assert rabbitmq_tags(new) == rabbitmq_tags(old), (rabbitmq_tags(old), rabbitmq_tags(new))
    assert server.permissions(after["username"]) == server.permissions(before["username"])


CHECK_ROTATED = {
    "elasticache": _check_two_passwords("elasticache"),
    "memorydb": _check_two_passwords("memorydb"),
    "mq": _check_mq_rotated,
    "rabbitmq": _check_rabbitmq_rotated,
}
