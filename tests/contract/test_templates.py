"""Contract: the deployment artefacts and the binary agree.

Every ``Custom::*`` resource of ``template.yaml`` (with ``CreateExample=true``) and of every
CDK-synthesized template (``cdk/cdk.out/*.template.json``) is turned into the Create event
CloudFormation would send (intrinsics resolved: a secret becomes one created in the emulator
as its GenerateSecretString says, another custom resource becomes the physical id / Data the
function answered for it) and sent, in dependency order, through the **release binary** as a
Lambda against the emulator. Each must succeed; every ``Fn::GetAtt`` the template uses must be
a key of the answer's ``Data``; then Deletes in reverse order must succeed too.

So a property the template renders that the binary refuses, a type or attribute the binary
does not know, a password generator the binary's password rules reject: any drift between
template, constructs and binary fails here.
"""

from __future__ import annotations

import json
import secrets
import string
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from ..e2e import harness as h
from ..e2e.conftest import assert_protocol
from . import cfn

REPO = h.REPO_ROOT
SAM_TEMPLATE = REPO / "template.yaml"
CDK_OUT = REPO / "cdk" / "cdk.out"
SYNTH_HINT = "run scripts/check-deploy (or `npx cdk synth` in cdk/) first"

# What the binary serves today; a new service adds its types here and in the templates.
KNOWN_TYPES = {h.USER_TYPE, h.GROUP_TYPE}
# Passwords userkeeper (and ElastiCache) refuse: see README "Passwords are checked".
FORBIDDEN_PASSWORD_CHARS = set(',"/@')


def cdk_templates() -> list[Path]:
    return sorted(CDK_OUT.glob("*.template.json"))


def template_cases() -> list[Any]:
    cases = [pytest.param(SAM_TEMPLATE, {"CreateExample": "true"}, id="sam:template.yaml")]
    cases += [pytest.param(p, {}, id=f"cdk:{p.name}") for p in cdk_templates()]
    return cases


def test_cdk_templates_were_synthesized() -> None:
    assert cdk_templates(), f"no CDK templates in {CDK_OUT}: {SYNTH_HINT}"


# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[h.Emulator]:
    try:
        emu = h.Emulator()
    except h.EmulatorUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield emu
    emu.stop()


@pytest.fixture
def stack_env(emulator: h.Emulator) -> Iterator[tuple[h.Emulator, h.Function, h.ResponseReceiver]]:
    try:
        binary = h.require_binary()
    except h.BinaryMissing as e:
        pytest.fail(str(e), pytrace=False)
    emulator.reset()
    emulator.config(transition_seconds=0)
    runtime = h.LocalRuntimeApi()
    receiver = h.ResponseReceiver()
    fn = h.Function(runtime, emulator.url, binary=binary)
    try:
        yield emulator, fn, receiver
    finally:
        fn.stop()
        runtime.close()
        receiver.close()


def generated_password(spec: dict[str, Any]) -> str:
    """A value Secrets Manager's GenerateSecretString could produce, refusing settings that
    could produce a password userkeeper rejects (a real finding, not a flaky one)."""
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
    bad = FORBIDDEN_PASSWORD_CHARS & set(alphabet)
    assert not bad, f"GenerateSecretString may generate {sorted(bad)}, which ElastiCache refuses: {spec}"
    assert 16 <= length <= 128, f"PasswordLength {length} outside ElastiCache's 16-128"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def create_secret(emulator: h.Emulator, stack: cfn.Stack, lid: str, props: dict[str, Any]) -> cfn.Created:
    assert "SecretString" not in props, f"{lid}: a literal SecretString puts the password in the template"
    gen = props.get("GenerateSecretString")
    assert gen, f"{lid}: expected GenerateSecretString"
    value = json.loads(gen.get("SecretStringTemplate") or "{}")
    key = gen.get("GenerateStringKey")
    assert key == "password", f"{lid}: userkeeper reads the `password` key, GenerateStringKey is {key!r}"
    value[key] = generated_password(gen)
    name = props.get("Name") or f"{lid}-{uuid.uuid4().hex[:12]}"
    out = emulator.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(value))
    return cfn.Created(ref=out["ARN"], atts={"Id": out["ARN"]}, source=f"secret {name}")


def emulator_user(emulator: h.Emulator, user_id: str) -> dict[str, Any] | None:
    for u in (emulator.state().get("elasticache") or {}).get("users") or []:
        if u.get("UserId") == user_id:
            return u
    return None


@pytest.mark.parametrize(("path", "parameters"), template_cases())
def test_custom_resources_create_and_delete_through_the_binary(path: Path, parameters: dict[str, str], stack_env) -> None:
    emulator, fn, receiver = stack_env
    assert path.exists(), f"{path} missing: {SYNTH_HINT}"
    name = f"contract-{path.stem.split('.')[0].lower()}"
    stack_id = f"arn:aws:cloudformation:{h.REGION}:{h.ACCOUNT_ID}:stack/{name}/{uuid.uuid4()}"
    stack = cfn.Stack(
        cfn.load_template(path),
        name=name,
        stack_id=stack_id,
        region=h.REGION,
        account=h.ACCOUNT_ID,
        parameters=parameters,
    )
    secret_values: dict[str, str] = {}  # secret ARN -> password, to check what the user got
    sent: list[tuple[str, str, dict[str, Any], h.CfnResult]] = []

    def send(request_type: str, lid: str, rtype: str, props: dict[str, Any], physical_id: str | None = None):
        token = props.pop("ServiceToken", None)
        assert token == h.FUNCTION_ARN, f"{lid}: ServiceToken {token!r} is not the template's userkeeper function"
        event = h.cfn_event(
            request_type,
            rtype,
            props,
            physical_id=physical_id,
            response_url=receiver.url(f"{lid}-{request_type.lower()}"),
            logical_id=lid,
            stack_id=stack_id,
            service_token=token,
        )
        res = h.CfnResult(event, fn.invoke(event, timeout_s=60), [])
        res.puts = receiver.wait_for(event["ResponseURL"])
        assert_protocol(res)
        assert res.status == "SUCCESS", f"{request_type} {lid} ({rtype}) failed: {res.reason}\nproperties: {h.mask_passwords(props)}"
        return res

    for lid in stack.order():
        resource = stack.resources[lid]
        rtype = resource["Type"]
        if rtype in cfn.FUNCTION_TYPES:
            # The one function these custom resources must point at.
            stack.created[lid] = cfn.Created(h.FUNCTION_NAME, {"Arn": h.FUNCTION_ARN}, f"function {lid}")
        elif rtype == "AWS::SecretsManager::Secret":
            props = stack.resolve(resource.get("Properties") or {})
            stack.created[lid] = create_secret(emulator, stack, lid, props)
            value = emulator.client("secretsmanager").get_secret_value(SecretId=stack.created[lid].ref)
            secret_values[stack.created[lid].ref] = json.loads(value["SecretString"])["password"]
        elif rtype.startswith("Custom::"):
            assert rtype in KNOWN_TYPES, f"{lid}: {rtype} is not a type this build of userkeeper serves"
            props = stack.resolve(resource.get("Properties") or {})
            assert "ServiceTimeout" in props, f"{lid}: set ServiceTimeout (the default is an hour)"
            res = send("Create", lid, rtype, dict(props))
            sent.append((lid, rtype, props, res))
            stack.created[lid] = cfn.Created(res.physical_id, res.data, f"{rtype} {lid}'s response Data")

    assert sent, f"{path}: no custom resources found"
    if path == SAM_TEMPLATE:
        # The example is exactly: a default user, an app user, and the group holding both.
        assert [t for _, t, _, _ in sent] == [h.USER_TYPE, h.USER_TYPE, h.GROUP_TYPE], sent

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

    # What the emulator holds is what the template said.
    for lid, rtype, props, res in sent:
        if rtype == h.USER_TYPE:
            user = emulator_user(emulator, props["UserId"])
            assert user is not None, f"{lid}: user {props['UserId']} not in the emulator"
            arn = props.get("PasswordSecretArn")
            if arn:
                assert user.get("Passwords") == [secret_values[arn]], f"{lid}: password is not the secret's"
            assert res.data.get("Arn", "").endswith(f":user:{props['UserId']}")
        else:
            assert res.data.get("UserGroupId") == props["UserGroupId"]

    # And CloudFormation's Deletes, in reverse order, clean up.
    for lid, rtype, props, res in reversed(sent):
        send("Delete", lid, rtype, {**props, "ServiceToken": h.FUNCTION_ARN}, physical_id=res.physical_id)
    for lid, rtype, props, _ in sent:
        if rtype == h.USER_TYPE:
            assert emulator_user(emulator, props["UserId"]) is None, f"{lid}: still in the emulator after Delete"


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
# IAM: both artefacts grant the same actions, and never on "*"


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for r in (template.get("Resources") or {}).values():
        if r["Type"] == "AWS::IAM::Policy":
            out += r["Properties"]["PolicyDocument"]["Statement"]
        elif r["Type"] == "AWS::IAM::Role":
            for p in r["Properties"].get("Policies") or []:
                for st in p["PolicyDocument"]["Statement"]:
                    # Fn::If [cond, statement, AWS::NoValue]: the statement, for this check
                    out.append(st["Fn::If"][1] if "Fn::If" in st else st)
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    acts: set[str] = set()
    for st in statements:
        a = st["Action"]
        acts |= set([a] if isinstance(a, str) else a)
    return acts


def test_sam_and_cdk_grant_the_same_actions_never_on_star() -> None:
    sam = cfn.load_template(SAM_TEMPLATE)
    sam_statements = _statements(sam)
    assert sam_statements
    for p in cdk_templates():
        cdk_statements = _statements(cfn.load_template(p))
        # The SAM role covers every user, group and secret of its prefixes; the CDK one each
        # resource it was asked to create: the same actions either way.
        assert _actions(cdk_statements) == _actions(sam_statements) - {"kms:Decrypt"}, p.name
    for st in sam_statements + [s for p in cdk_templates() for s in _statements(cfn.load_template(p))]:
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for r in resources:
            text = json.dumps(r)
            assert r != "*" and not text.rstrip('"').endswith(":*"), f"statement on a bare wildcard: {st}"
        assert st["Effect"] == "Allow"
    managed = [r["Properties"].get("ManagedPolicyArns") for r in sam["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert managed == [[{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}]]
