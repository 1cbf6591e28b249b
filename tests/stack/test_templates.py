"""Our own templates as stacks: template.yaml (SAM: the function and every example) and the CDK
example's synthesized template, deployed by MiniStack, a CloudFormation engine we did not
write (``tests/e2e/harness/cfn_engine.py``), then deleted. The engine, not our reading of the
templates, resolves the parameters and conditions, applies the SAM transform, orders the
resources by their references and ``DependsOn``, reads ``Fn::GetAtt`` from the function's
answers, and deletes in reverse order; the release binary (host architecture) answers, its
ElastiCache, MemoryDB and MQ calls going to our emulator (strict, realistic transitions), its
RabbitMQ users to a real RabbitMQ (tests/e2e/servers.py) that the emulator's broker describes.

What the engine cannot take, and what these tests change for it (nothing else):

* ``AWS::SecretsManager::RotationSchedule``: MiniStack has no such resource type (the stack
  would fail), so the schedules are left out. Their rotation is tested against the templates'
  grants in tests/contract and through the four steps in tests/e2e.
* The code: ``sam build``/``cdk deploy`` would upload an arm64 ``bootstrap``; here the release
  binary of this machine is uploaded to the engine's S3 where the template looks for it (the
  SAM function's ``CodeUri`` points at that object; the CDK asset goes to the bootstrap
  bucket and key the template names, with the bootstrap version parameter in SSM). The
  engine does not check ``Architectures``.
* ``Environment`` of the function: where its SDK calls go (our emulator; the engine's Lambda
  for continuations; the engine's Secrets Manager, which holds the templates' secrets), and
  the CA of the test RabbitMQ (``USERKEEPER_TLS_CA_FILE``).

Run by ``scripts/check-deploy`` after ``cdk synth`` (the CDK template must exist).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.contract.cfn import load_template
from tests.e2e.harness.cfn_engine import EngineUnavailable, MiniStack, bootstrap_zip
from tests.e2e.harness.constants import ACCOUNT_ID, REGION, REPO_ROOT
from tests.e2e.harness.emulator import TIMINGS, Emulator, EmulatorUnavailable
from tests.e2e.harness.function import BinaryMissing, require_binary
from tests.e2e.servers import RabbitMqServer, ServerUnavailable, make_pki

SAM_TEMPLATE = REPO_ROOT / "template.yaml"
CDK_TEMPLATE = REPO_ROOT / "cdk" / "cdk.out" / "UserKeeperExample.template.json"
SYNTH_HINT = "run scripts/check-deploy (or `npx cdk synth` in cdk/) first"
ROTATION_SCHEDULE = "AWS::SecretsManager::RotationSchedule"


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[MiniStack, Emulator, Path]]:
    try:
        binary = require_binary()
        emu = Emulator()
    except (BinaryMissing, EmulatorUnavailable) as e:
        pytest.fail(str(e), pytrace=False)
    try:
        ms = MiniStack()
    except EngineUnavailable as e:
        emu.stop()
        pytest.fail(str(e), pytrace=False)
    try:
        yield ms, emu, binary
    finally:
        ms.stop()
        emu.stop()


@pytest.fixture(scope="module")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMqServer]:
    try:
        server = RabbitMqServer(make_pki(tmp_path_factory.mktemp("rabbitmq-pki"))).start()
    except ServerUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def fresh(world: tuple[MiniStack, Emulator, Path]) -> tuple[MiniStack, Emulator, Path]:
    """The emulator reset, strict, with realistic transitions (tests/e2e/README.md)."""
    world[1].reset()
    world[1].config(strict=True, **TIMINGS)
    return world


def function_environment(ms: MiniStack, emu: Emulator, rabbitmq: RabbitMqServer) -> dict[str, Any]:
    return {"Variables": {"AWS_ENDPOINT_URL": emu.url, "AWS_ENDPOINT_URL_LAMBDA": ms.url,
                          "AWS_ENDPOINT_URL_SECRETS_MANAGER": ms.url,
                          "USERKEEPER_TLS_CA_FILE": str(rabbitmq.pki.ca_cert)}}


def rabbitmq_broker(ms: MiniStack, emu: Emulator, server: RabbitMqServer, name: str) -> tuple[str, str, str]:
    """A RabbitMQ broker in the emulator describing ``server``, and its administrator's secret
    in the engine's Secrets Manager (where the function reads secrets): id, ARN, secret ARN."""
    mq = emu.client("mq")
    broker_id = mq.create_broker(
        BrokerName=name, DeploymentMode="SINGLE_INSTANCE", EngineType="RABBITMQ",
        HostInstanceType="mq.m5.large", PubliclyAccessible=False,
        Users=[{"Username": server.admin_user, "Password": server.admin_password}])["BrokerId"]
    emu.rabbitmq_instances([{"console_url": server.console_url, "endpoints": [server.amqps_endpoint]}], broker=broker_id)
    admin = ms.client("secretsmanager").create_secret(
        Name=f"userkeeper/{name}/admin",
        SecretString=json.dumps({"username": server.admin_user, "password": server.admin_password}))
    return broker_id, mq.describe_broker(BrokerId=broker_id)["BrokerArn"], admin["ARN"]


def assert_rabbitmq_user(ms: MiniStack, server: RabbitMqServer, username: str, owner: str, secret: str) -> None:
    """The user is on the broker with the template's tag and permissions, its ownership tags
    (``owner``: stack GUID/logical id; the digest of the secret's full ARN), and the secret's
    password."""
    user = server.user(username)
    assert user is not None, f"{username} is not on the RabbitMQ the broker describes"
    arn = ms.client("secretsmanager").describe_secret(SecretId=secret)["ARN"]
    digest = hashlib.sha256(arn.encode()).hexdigest()[:32]
    tags = user["tags"].split(",") if isinstance(user["tags"], str) else user["tags"]
    assert sorted(tags) == sorted(["management", f"userkeeper:owner={owner}", f"userkeeper:secret={digest}"]), tags
    assert server.permissions(username) == {"/": {"configure": "^app\\.", "write": "^app\\.", "read": "^app\\."}}
    assert server.management_login(username, secret_password(ms, secret))


def without_rotation_schedules(template: dict[str, Any]) -> list[str]:
    gone = [lid for lid, r in template["Resources"].items() if r["Type"] == ROTATION_SCHEDULE]
    for lid in gone:
        del template["Resources"][lid]
    return gone


def references(node: Any) -> set[str]:
    """Logical ids a template value refers to (Ref, Fn::GetAtt, Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                if isinstance(value, list):
                    found |= references(value[1])
            else:
                found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def dependencies(template: dict[str, Any], logical_id: str) -> set[str]:
    r = template["Resources"][logical_id]
    depends = r.get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else depends
    return (set(depends) | references(r.get("Properties", {}))) & set(template["Resources"])


def assert_ordered(ms: MiniStack, stack_id: str, template: dict[str, Any]) -> None:
    """Every custom resource was created after what it depends on was complete, and deleted
    before any of that started to go: the grants and the function outlive the resource."""
    events = ms.events(stack_id)

    def at(logical_id: str, status: str) -> int:
        found = [i for i, e in enumerate(events) if e["LogicalResourceId"] == logical_id and e["ResourceStatus"] == status]
        assert found, f"no {status} event for {logical_id}:\n{ms.events_text(stack_id)}"
        return found[0]

    customs = [lid for lid in template["Resources"]
               if template["Resources"][lid]["Type"].startswith("Custom::") and any(
                   e["LogicalResourceId"] == lid for e in events)]
    assert customs, "no custom resource was deployed"
    for lid in customs:
        for dep in dependencies(template, lid):
            if not any(e["LogicalResourceId"] == dep for e in events):
                continue  # a parameter, or a resource the engine keeps no events of
            assert at(dep, "CREATE_COMPLETE") < at(lid, "CREATE_IN_PROGRESS"), f"{lid} created before {dep}"
            assert at(lid, "DELETE_COMPLETE") < at(dep, "DELETE_IN_PROGRESS"), f"{dep} deleted before {lid}"


def physical_id(ms: MiniStack, stack: str, logical_id: str) -> str:
    return ms.cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)["StackResourceDetail"]["PhysicalResourceId"]


def secret_password(ms: MiniStack, secret_arn: str) -> str:
    return json.loads(ms.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])["password"]


def state(emu: Emulator) -> dict[str, dict[str, Any]]:
    s = emu.state()
    return {
        "ec_users": {u["UserId"]: u for u in s["elasticache"]["users"] if u["UserId"] != "default"},
        "ec_groups": {g["UserGroupId"]: g for g in s["elasticache"]["user_groups"]},
        "mdb_users": {u["Name"]: u for u in s["memorydb"]["users"] if u["Name"] != "default"},
        "mdb_acls": {a["Name"]: a for a in s["memorydb"]["acls"] if a["Name"] != "open-access"},
    }


def test_sam_template_as_a_stack(fresh: tuple[MiniStack, Emulator, Path], rabbitmq: RabbitMqServer) -> None:
    ms, emu, binary = fresh
    template = load_template(SAM_TEMPLATE)
    assert without_rotation_schedules(template) == [
        "ExampleAppUserRotation", "ExampleMemoryDbAppUserRotation", "ExampleMqUserRotation",
        "ExampleRabbitMqUserRotation"]
    s3 = ms.client("s3")
    s3.create_bucket(Bucket="userkeeper-artifacts")
    s3.put_object(Bucket="userkeeper-artifacts", Key="userkeeper.zip", Body=bootstrap_zip(binary))
    fn = template["Resources"]["UserKeeperFunction"]["Properties"]
    fn["CodeUri"] = {"Bucket": "userkeeper-artifacts", "Key": "userkeeper.zip"}
    fn["Environment"] = function_environment(ms, emu, rabbitmq)
    broker = emu.client("mq").create_broker(
        BrokerName="uk-broker", DeploymentMode="SINGLE_INSTANCE", EngineType="ACTIVEMQ",
        HostInstanceType="mq.t3.micro", PubliclyAccessible=False,
        Users=[{"Username": "admin", "Password": "Admin-Passw0rd-123"}])["BrokerId"]
    rabbit, _, admin = rabbitmq_broker(ms, emu, rabbitmq, "uk-rabbit")

    stack = ms.deploy("userkeeper", template, {"CreateExample": "true", "CreateMemoryDbExample": "true",
                                               "MqBrokerId": broker, "RabbitMqBrokerId": rabbit,
                                               "RabbitMqAdminSecretArn": admin}, timeout_s=300)
    stack_id = stack["StackId"]
    out = ms.outputs("userkeeper")
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
    assert out["ServiceToken"].startswith(function_arn), out
    assert out["ExampleAppUserArn"] == f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:user:uk-app"
    assert out["ExampleUserGroupId"] == "uk-app"
    assert out["ExampleMemoryDbAppUserArn"] == f"arn:aws:memorydb:{REGION}:{ACCOUNT_ID}:user/uk-app"
    assert out["ExampleMemoryDbIamUserMinimumEngineVersion"]
    assert out["ExampleMemoryDbAclName"] == "uk-app"
    assert (out["ExampleMqUsername"], out["ExampleMqUserPendingChange"]) == ("userkeeper-example-app", "CREATE")
    assert ms.cfn.list_exports()["Exports"][0]["Name"] == "userkeeper-ServiceToken"

    st = state(emu)
    assert set(st["ec_users"]) == {"uk-default", "uk-app"}
    assert st["ec_users"]["uk-app"]["Passwords"] == [secret_password(ms, out["ExampleAppUserSecretArn"])]
    # An engine difference: Ref of an AWS::SecretsManager::Secret is its name here, its ARN on
    # AWS ("Ref returns the secret ARN"); userkeeper binds the user to the ARN either way.
    secret_arn = ms.client("secretsmanager").describe_secret(SecretId=out["ExampleAppUserSecretArn"])["ARN"]
    assert out["ExampleAppUserSecretArn"] == "userkeeper/userkeeper/app" != secret_arn
    assert st["ec_users"]["uk-app"]["Tags"]["userkeeper:secret"] == secret_arn
    assert sorted(st["ec_groups"]["uk-app"]["UserIds"]) == ["uk-app", "uk-default"]
    assert set(st["mdb_users"]) == {"uk-app", "uk-app-iam"} and set(st["mdb_acls"]) == {"uk-app"}
    assert {"uk-app", "uk-app-iam"} <= set(st["mdb_acls"]["uk-app"]["UserNames"])
    assert emu.mq_user(broker, "userkeeper-example-app")["Pending"]["Groups"] == ["apps"]
    for u in [*st["ec_users"].values(), *st["ec_groups"].values(), *st["mdb_users"].values()]:
        assert u["Tags"]["userkeeper:stack-id"] == stack_id
    assert (out["ExampleRabbitMqUsername"], out["ExampleRabbitMqConsoleUrl"]) == ("userkeeper-example-app", rabbitmq.console_url)
    rabbit_secret = physical_id(ms, "userkeeper", "ExampleRabbitMqUserSecret")
    assert_rabbitmq_user(ms, rabbitmq, "userkeeper-example-app", f"{stack_id.rsplit('/', 1)[1]}/ExampleRabbitMqUser", rabbit_secret)

    ms.delete("userkeeper", timeout_s=300)
    assert_ordered(ms, stack_id, load_template(SAM_TEMPLATE))
    st = state(emu)
    assert not any(st.values()), st
    assert emu.mq_user(broker, "userkeeper-example-app") is None
    assert rabbitmq.user("userkeeper-example-app") is None


def test_cdk_example_as_a_stack(fresh: tuple[MiniStack, Emulator, Path], rabbitmq: RabbitMqServer) -> None:
    ms, emu, binary = fresh
    assert CDK_TEMPLATE.is_file(), f"no {CDK_TEMPLATE}: {SYNTH_HINT}"
    template = json.loads(CDK_TEMPLATE.read_text())
    assert sorted(without_rotation_schedules(template)) == [
        "AppUserRotationScheduleB8A381A0", "MemoryDbUserRotationSchedule7B75DC57", "MqUserRotationSchedule4A389CAF",
        "RabbitMqUserRotationSchedule4D28F2CA"]
    (fn_id,) = [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
    fn = template["Resources"][fn_id]["Properties"]
    fn["Environment"] = function_environment(ms, emu, rabbitmq)
    # What `cdk bootstrap` and `cdk deploy` provide: the bootstrap version, the asset.
    bucket = fn["Code"]["S3Bucket"]["Fn::Sub"].replace("${AWS::AccountId}", ACCOUNT_ID).replace("${AWS::Region}", REGION)
    ms.client("s3").create_bucket(Bucket=bucket)
    ms.client("s3").put_object(Bucket=bucket, Key=fn["Code"]["S3Key"], Body=bootstrap_zip(binary))
    ms.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
    broker = emu.client("mq").create_broker(
        BrokerName="cdk-broker", DeploymentMode="SINGLE_INSTANCE", EngineType="ACTIVEMQ",
        HostInstanceType="mq.t3.micro", PubliclyAccessible=False,
        Users=[{"Username": "admin", "Password": "Admin-Passw0rd-123"}])
    broker_id, broker_arn = broker["BrokerId"], broker["BrokerArn"]
    _, rabbit_arn, admin = rabbitmq_broker(ms, emu, rabbitmq, "cdk-rabbit")

    stack_id = ms.deploy("UserKeeperExample", template, {"MqBrokerArn": broker_arn, "RabbitMqBrokerArn": rabbit_arn,
                                                         "RabbitMqAdminSecretArn": admin}, timeout_s=300)["StackId"]
    out = ms.outputs("UserKeeperExample")
    assert out["AppUserArn"] == f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:user:cdk-example-app"
    assert out["UserGroupId"] == "cdk-example-app"
    assert out["MemoryDbUserArn"].startswith(f"arn:aws:memorydb:{REGION}:{ACCOUNT_ID}:user/")
    assert out["MemoryDbIamUserMinimumEngineVersion"] and out["MemoryDbAclName"]
    assert out["MqUserPendingChange"] == "CREATE"
    st = state(emu)
    assert {"cdk-example-default", "cdk-example-app"} <= set(st["ec_users"])
    assert set(st["ec_groups"]) == {out["UserGroupId"]} and set(st["mdb_acls"]) == {out["MemoryDbAclName"]}
    assert emu.mq_user(broker_id, out["MqUsername"])["Pending"]["PendingChange"] == "CREATE"
    assert (out["RabbitMqUsername"], out["RabbitMqConsoleUrl"]) == ("cdk-example-app", rabbitmq.console_url)
    rabbit_secret = physical_id(ms, "UserKeeperExample", "RabbitMqUserSecret95FC9964")
    assert_rabbitmq_user(ms, rabbitmq, "cdk-example-app", f"{stack_id.rsplit('/', 1)[1]}/RabbitMqUserDC6DD5D9", rabbit_secret)

    ms.delete("UserKeeperExample", timeout_s=300)
    assert_ordered(ms, stack_id, json.loads(CDK_TEMPLATE.read_text()))
    st = state(emu)
    assert not any(st.values()), st
    assert emu.mq_user(broker_id, out["MqUsername"]) is None
    assert rabbitmq.user("cdk-example-app") is None
