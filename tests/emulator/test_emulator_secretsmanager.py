"""Self-tests of the emulator's Secrets Manager (``secretsmanager.py``): the rotation control
routes and the AWS behaviour of the calls a rotation function makes, with boto3."""

from __future__ import annotations

import json
import re
import string
import urllib.error
from typing import Any

import boto3
import pytest
from botocore.config import Config

from .selftest import ACCOUNT, REGION, Server, client, control, error_of, strict

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:userkeeper"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TOKEN_A, TOKEN_B = "a" * 8 + "-aaaa-4aaa-8aaa-" + "a" * 12, "b" * 8 + "-bbbb-4bbb-8bbb-" + "b" * 12
ROTATION_TOKEN = "11111111-2222-4333-8444-555555555555"  # AWS: at least 36 characters
OLD, NEW, NEWER = '{"password": "old-password-1"}', '{"password": "new-password-2"}', '{"password": "newer-password-3"}'


@pytest.fixture
def sm(server: Server) -> Any:
    return client(server, "secretsmanager")


@pytest.fixture
def secret(sm: Any) -> dict[str, str]:
    """A secret with one version (AWSCURRENT): {"arn", "name", "v1"}."""
    out = sm.create_secret(Name="app/redis", SecretString=OLD)
    return {"arn": out["ARN"], "name": out["Name"], "v1": out["VersionId"]}


def rotation(server: Server, **body: Any) -> Any:
    return control(server, "POST", "secretsmanager/rotation", body)


def pending(server: Server, **body: Any) -> str:
    return control(server, "POST", "secretsmanager/pending", body)["token"]


def control_error(server: Server, path: str, body: dict[str, Any]) -> str:
    """The message of the 400 a control route must answer."""
    with pytest.raises(urllib.error.HTTPError) as info:
        control(server, "POST", path, body)
    assert info.value.code == 400
    return json.loads(info.value.read())["error"]


def stages(sm: Any, secret_id: str) -> dict[str, list[str]]:
    return sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})


def listed(sm: Any, secret_id: str, **kw: Any) -> dict[str, list[str]]:
    return {v["VersionId"]: v["VersionStages"] for v in sm.list_secret_version_ids(SecretId=secret_id, **kw)["Versions"]}


def value(sm: Any, secret_id: str, **kw: Any) -> str:
    return sm.get_secret_value(SecretId=secret_id, **kw)["SecretString"]


def state_secret(server: Server, name: str) -> dict[str, Any]:
    secrets = control(server, "GET", "state")["secretsmanager"]["secrets"]
    return next(s for s in secrets if s["Name"] == name)


# --------------------------------------------------------------------------------------
# Control API


def test_rotation_route_marks_rotation_and_invokes_nothing(server: Server, sm: Any, secret: dict) -> None:
    before = sm.describe_secret(SecretId=secret["arn"])
    assert "RotationEnabled" not in before and "RotationLambdaARN" not in before
    # A forward would receive any invoke of the function: there must be none.
    control(server, "POST", "lambda/forward", {"function": "userkeeper", "url": "http://127.0.0.1:9/never"})
    answer = rotation(server, secret=secret["name"], **{"lambda": FUNCTION_ARN}, enabled=True, days=7)
    assert answer == {"ARN": secret["arn"], "Name": "app/redis", "RotationEnabled": True,
                      "RotationLambdaARN": FUNCTION_ARN, "RotationRules": {"AutomaticallyAfterDays": 7}}
    out = sm.describe_secret(SecretId=secret["arn"])
    assert (out["RotationEnabled"], out["RotationLambdaARN"], out["RotationRules"]) == (
        True, FUNCTION_ARN, {"AutomaticallyAfterDays": 7})
    assert "NextRotationDate" in out
    assert out["VersionIdsToStages"] == {secret["v1"]: ["AWSCURRENT"]}  # no version made, no value copied
    assert control(server, "GET", "lambda/deliveries") == []
    assert [(c["service"], c["action"]) for c in control(server, "GET", "calls")] == [
        ("secretsmanager", "CreateSecret"), ("secretsmanager", "DescribeSecret"), ("secretsmanager", "DescribeSecret")]
    s = state_secret(server, "app/redis")
    assert (s["ARN"], s["RotationEnabled"], s["RotationLambdaARN"]) == (secret["arn"], True, FUNCTION_ARN)

    # Disabling (by ARN) keeps the function and the schedule, as CancelRotateSecret does.
    rotation(server, secret=secret["arn"], enabled=False)
    out = sm.describe_secret(SecretId=secret["name"])
    assert (out["RotationEnabled"], out["RotationLambdaARN"], out["RotationRules"]) == (
        False, FUNCTION_ARN, {"AutomaticallyAfterDays": 7})
    assert "NextRotationDate" not in out
    assert state_secret(server, "app/redis")["RotationEnabled"] is False


def test_rotation_route_defaults_to_thirty_days(server: Server, sm: Any, secret: dict) -> None:
    rotation(server, secret=secret["name"], **{"lambda": FUNCTION_ARN}, enabled=True)
    assert sm.describe_secret(SecretId=secret["arn"])["RotationRules"] == {"AutomaticallyAfterDays": 30}


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({"secret": "no/such/secret", "lambda": FUNCTION_ARN, "enabled": True}, "no/such/secret"),
        ({"lambda": FUNCTION_ARN, "enabled": True}, '"secret"'),
        ({"secret": "app/redis", "lambda": "userkeeper", "enabled": True}, '"lambda"'),
        ({"secret": "app/redis", "enabled": True}, '"lambda" is required'),
        ({"secret": "app/redis", "lambda": FUNCTION_ARN, "enabled": "yes"}, '"enabled"'),
        ({"secret": "app/redis", "lambda": FUNCTION_ARN, "enabled": True, "days": 0}, '"days"'),
        ({"secret": "app/redis", "lambda": FUNCTION_ARN, "enabled": True, "days": 1001}, '"days"'),
        ({"secret": "app/redis", "lambda": FUNCTION_ARN, "enabled": True, "days": "30"}, '"days"'),
    ],
)
def test_rotation_route_errors(server: Server, sm: Any, secret: dict, body: dict, fragment: str) -> None:
    assert fragment in control_error(server, "secretsmanager/rotation", body)
    assert "RotationEnabled" not in sm.describe_secret(SecretId=secret["arn"])  # nothing changed


def test_pending_route_stages_a_version_without_value(server: Server, sm: Any, secret: dict) -> None:
    token = pending(server, secret=secret["name"])
    assert UUID4.fullmatch(token)
    expected = {secret["v1"]: ["AWSCURRENT"], token: ["AWSPENDING"]}
    assert stages(sm, secret["arn"]) == expected
    assert listed(sm, secret["arn"]) == expected
    assert state_secret(server, "app/redis")["Versions"][token] == {
        "Stages": ["AWSPENDING"], "HasValue": False, "SecretString": None, "RotationToken": None}
    assert value(sm, secret["arn"], VersionStage="AWSCURRENT") == OLD

    # A second rotation attempt: AWSPENDING moves to the new version; the first one, now
    # without labels, is deprecated (listed only with IncludeDeprecated).
    assert pending(server, secret=secret["arn"], token=TOKEN_A) == TOKEN_A
    expected = {secret["v1"]: ["AWSCURRENT"], TOKEN_A: ["AWSPENDING"]}
    assert stages(sm, secret["arn"]) == expected
    assert listed(sm, secret["arn"]) == expected
    assert listed(sm, secret["arn"], IncludeDeprecated=True) == {**expected, token: []}
    assert state_secret(server, "app/redis")["Versions"][token]["Stages"] == []


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({"secret": "no/such/secret"}, "no/such/secret"),
        ({"secret": "app/redis", "token": "too-short"}, '"token"'),
        ({"secret": "app/redis", "token": 42}, '"token"'),
        ({"secret": "app/redis", "token": "VERSION1"}, "already has a version"),
    ],
)
def test_pending_route_errors(server: Server, sm: Any, secret: dict, body: dict, fragment: str) -> None:
    if body.get("token") == "VERSION1":
        body = {**body, "token": secret["v1"]}
    assert fragment in control_error(server, "secretsmanager/pending", body)
    assert stages(sm, secret["arn"]) == {secret["v1"]: ["AWSCURRENT"]}


def test_secret_names_are_looked_up_in_every_region(server: Server, secret: dict) -> None:
    west = boto3.client("secretsmanager", endpoint_url=server.url, region_name="us-west-2",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    west_arn = west.create_secret(Name="app/redis", SecretString=OLD)["ARN"]
    assert "give its ARN" in control_error(server, "secretsmanager/pending", {"secret": "app/redis"})
    token = pending(server, secret=west_arn)
    assert "AWSPENDING" in stages(west, west_arn)[token]
    assert token not in stages(client(server, "secretsmanager"), secret["arn"])


# --------------------------------------------------------------------------------------
# GetSecretValue


def test_get_secret_value_of_the_pending_version_without_value(server: Server, sm: Any, secret: dict) -> None:
    token = pending(server, secret=secret["name"])
    by_label = "Secrets Manager can't find the specified secret value for staging label: AWSPENDING"
    by_id = f"Secrets Manager can't find the specified secret value for VersionId: {token}"
    assert error_of(sm.get_secret_value, SecretId=secret["arn"], VersionStage="AWSPENDING")[:2] == (
        "ResourceNotFoundException", by_label)
    assert error_of(sm.get_secret_value, SecretId=secret["arn"], VersionId=token)[:2] == (
        "ResourceNotFoundException", by_id)
    assert error_of(sm.get_secret_value, SecretId=secret["arn"], VersionId=token, VersionStage="AWSPENDING")[:2] == (
        "ResourceNotFoundException", by_id)
    assert error_of(sm.get_secret_value, SecretId=secret["arn"], VersionStage="NOPE")[:2] == (
        "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: NOPE")


# --------------------------------------------------------------------------------------
# PutSecretValue


def test_put_secret_value_fills_the_pending_version(server: Server, sm: Any, secret: dict) -> None:
    token = pending(server, secret=secret["name"], token=TOKEN_A)
    out = sm.put_secret_value(SecretId=secret["arn"], ClientRequestToken=token, SecretString=NEW,
                              VersionStages=["AWSPENDING"], RotationToken=ROTATION_TOKEN)
    assert (out["VersionId"], out["VersionStages"]) == (token, ["AWSPENDING"])
    assert value(sm, secret["arn"], VersionStage="AWSPENDING") == NEW
    assert value(sm, secret["arn"], VersionId=token, VersionStage="AWSPENDING") == NEW
    assert value(sm, secret["arn"], VersionStage="AWSCURRENT") == OLD
    assert stages(sm, secret["arn"]) == {secret["v1"]: ["AWSCURRENT"], token: ["AWSPENDING"]}
    assert state_secret(server, "app/redis")["Versions"][token] == {
        "Stages": ["AWSPENDING"], "HasValue": True, "SecretString": NEW, "RotationToken": ROTATION_TOKEN}
    assert state_secret(server, "app/redis")["Versions"][secret["v1"]]["RotationToken"] is None


def test_put_secret_value_never_modifies_a_version_with_a_value(server: Server, sm: Any, secret: dict) -> None:
    token = pending(server, secret=secret["name"], token=TOKEN_A)
    sm.put_secret_value(SecretId=secret["arn"], ClientRequestToken=token, SecretString=NEW, VersionStages=["AWSPENDING"])
    before = state_secret(server, "app/redis")
    message = "You can't modify an existing version, you can only create a new version."
    for version_id in (secret["v1"], token):  # the current one and the filled pending one
        code, msg, _ = error_of(sm.put_secret_value, SecretId=secret["arn"], ClientRequestToken=version_id,
                                SecretString=NEWER, VersionStages=["AWSPENDING"])
        assert (code, msg) == ("ResourceExistsException", message)
    assert state_secret(server, "app/redis") == before

    # The same request again is accepted and changes nothing (even other VersionStages).
    out = sm.put_secret_value(SecretId=secret["arn"], ClientRequestToken=token, SecretString=NEW,
                              RotationToken=ROTATION_TOKEN)
    assert (out["VersionId"], out["VersionStages"]) == (token, ["AWSPENDING"])
    out = sm.put_secret_value(SecretId=secret["arn"], ClientRequestToken=secret["v1"], SecretString=OLD)
    assert (out["VersionId"], out["VersionStages"]) == (secret["v1"], ["AWSCURRENT"])
    after = state_secret(server, "app/redis")
    assert after["Versions"][token]["RotationToken"] == ROTATION_TOKEN  # the retry passed it back
    after["Versions"][token]["RotationToken"] = None
    assert after == before
    assert value(sm, secret["arn"], VersionStage="AWSPENDING") == NEW


def test_put_secret_value_binary(sm: Any, secret: dict) -> None:
    out = sm.put_secret_value(SecretId=secret["arn"], ClientRequestToken=TOKEN_A, SecretBinary=b"\x00\x01")
    assert out["VersionStages"] == ["AWSCURRENT"]
    sm.put_secret_value(SecretId=secret["arn"], ClientRequestToken=TOKEN_A, SecretBinary=b"\x00\x01")
    assert error_of(sm.put_secret_value, SecretId=secret["arn"], ClientRequestToken=TOKEN_A,
                    SecretBinary=b"\x00\x02")[0] == "ResourceExistsException"
    assert sm.get_secret_value(SecretId=secret["arn"], VersionStage="AWSCURRENT")["SecretBinary"] == b"\x00\x01"


def test_put_secret_value_errors(sm: Any, secret: dict) -> None:
    assert error_of(sm.put_secret_value, SecretId="no/such/secret", SecretString=NEW)[0] == "ResourceNotFoundException"
    assert error_of(sm.put_secret_value, SecretId=secret["arn"], SecretString=NEW,
                    ClientRequestToken="x" * 65)[0] == "InvalidParameterException"
    sm.delete_secret(SecretId=secret["arn"], RecoveryWindowInDays=7)
    code, message, _ = error_of(sm.put_secret_value, SecretId=secret["arn"], SecretString=NEW)
    assert code == "InvalidRequestException" and "marked for deletion" in message


def test_strict_rotation_token_constraints(server: Server, secret: dict) -> None:
    # botocore itself refuses a RotationToken below 36 characters: send it anyway.
    raw = boto3.client("secretsmanager", endpoint_url=server.url, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=Config(parameter_validation=False))
    short = "rt-" + "0" * 32  # 35 characters
    raw.put_secret_value(SecretId=secret["arn"], ClientRequestToken=TOKEN_A, SecretString=NEW, RotationToken=short)
    assert state_secret(server, "app/redis")["Versions"][TOKEN_A]["RotationToken"] == short  # strict off: as before

    strict(server)
    before = state_secret(server, "app/redis")
    prefix = "Value at 'rotationToken' failed to satisfy constraint: Member must"
    pattern = f"{prefix} satisfy regular expression pattern: ^[a-zA-Z0-9\\-]+$"
    for token, clauses in (
        (short, [f"{prefix} have length greater than or equal to 36"]),
        ("a" * 257, [f"{prefix} have length less than or equal to 256"]),
        ("rt_" + "0" * 40, [pattern]),
        ("0" * 40 + "\n", [pattern]),
        ("rt:0", [pattern, f"{prefix} have length greater than or equal to 36"]),
    ):
        code, message, status = error_of(raw.put_secret_value, SecretId=secret["arn"], ClientRequestToken=TOKEN_B,
                                         SecretString=NEWER, RotationToken=token)
        n = len(clauses)
        assert (code, status) == ("ValidationException", 400)
        assert message == f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(clauses)
        assert token not in message  # a sensitive member's value is never echoed
    assert state_secret(server, "app/redis") == before
    for token in ("0" * 36, "a-Z-9" * 51 + "x"):  # 36 and 256: the limits themselves are fine
        raw.put_secret_value(SecretId=secret["arn"], ClientRequestToken=TOKEN_B, SecretString=NEWER, RotationToken=token)
    assert state_secret(server, "app/redis")["Versions"][TOKEN_B]["RotationToken"] == "a-Z-9" * 51 + "x"


def test_awscurrent_moves_by_label_after_a_stage_move(sm: Any, secret: dict) -> None:
    """moto demoted its default version, stale after UpdateSecretVersionStage, and left two
    versions AWSCURRENT."""
    a = secret["v1"]
    b = sm.put_secret_value(SecretId=secret["arn"], SecretString=NEW, VersionStages=["AWSPENDING"])["VersionId"]
    sm.update_secret_version_stage(SecretId=secret["arn"], VersionStage="AWSCURRENT", MoveToVersionId=b, RemoveFromVersionId=a)
    c = sm.put_secret_value(SecretId=secret["arn"], SecretString=NEWER)["VersionId"]
    assert stages(sm, secret["arn"]) == {b: ["AWSPENDING", "AWSPREVIOUS"], c: ["AWSCURRENT"]}
    assert listed(sm, secret["arn"], IncludeDeprecated=True)[a] == []
    d = sm.update_secret(SecretId=secret["arn"], SecretString='{"password": "4th"}')["VersionId"]
    assert stages(sm, secret["arn"]) == {b: ["AWSPENDING"], c: ["AWSPREVIOUS"], d: ["AWSCURRENT"]}
    assert value(sm, secret["arn"]) == '{"password": "4th"}'


def test_update_secret_after_a_stage_move(sm: Any, secret: dict) -> None:
    a = secret["v1"]
    b = sm.put_secret_value(SecretId=secret["arn"], SecretString=NEW, VersionStages=["AWSPENDING"])["VersionId"]
    sm.update_secret_version_stage(SecretId=secret["arn"], VersionStage="AWSCURRENT", MoveToVersionId=b, RemoveFromVersionId=a)
    c = sm.update_secret(SecretId=secret["arn"], SecretString=NEWER)["VersionId"]
    assert stages(sm, secret["arn"]) == {b: ["AWSPENDING", "AWSPREVIOUS"], c: ["AWSCURRENT"]}
    assert value(sm, secret["arn"]) == NEWER


# --------------------------------------------------------------------------------------
# UpdateSecretVersionStage and a whole rotation


def test_rotation_cycle(server: Server, sm: Any, secret: dict) -> None:
    """What AWS and the four rotation steps do, twice."""
    arn, v1 = secret["arn"], secret["v1"]
    rotation(server, secret=arn, **{"lambda": FUNCTION_ARN}, enabled=True)
    t1 = pending(server, secret=arn)
    sm.put_secret_value(SecretId=arn, ClientRequestToken=t1, SecretString=NEW, VersionStages=["AWSPENDING"],
                        RotationToken=ROTATION_TOKEN)
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=t1, RemoveFromVersionId=v1)
    assert stages(sm, arn) == {v1: ["AWSPREVIOUS"], t1: ["AWSPENDING", "AWSCURRENT"]}
    assert value(sm, arn, VersionStage="AWSCURRENT") == NEW
    assert value(sm, arn, VersionStage="AWSPREVIOUS") == OLD
    # Kept moto quirk: without VersionStage, the version current before the move.
    assert value(sm, arn) == OLD

    t2 = pending(server, secret=arn, token=TOKEN_B)
    assert stages(sm, arn) == {v1: ["AWSPREVIOUS"], t1: ["AWSCURRENT"], t2: ["AWSPENDING"]}
    sm.put_secret_value(SecretId=arn, ClientRequestToken=t2, SecretString=NEWER, VersionStages=["AWSPENDING"])
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=t2, RemoveFromVersionId=t1)
    assert stages(sm, arn) == {t1: ["AWSPREVIOUS"], t2: ["AWSPENDING", "AWSCURRENT"]}
    assert value(sm, arn, VersionStage="AWSCURRENT") == NEWER
    s = state_secret(server, "app/redis")
    assert s["RotationEnabled"] is True
    assert {vid: (v["Stages"], v["SecretString"], v["RotationToken"]) for vid, v in s["Versions"].items()} == {
        v1: ([], OLD, None),
        t1: (["AWSPREVIOUS"], NEW, ROTATION_TOKEN),
        t2: (["AWSPENDING", "AWSCURRENT"], NEWER, None),
    }


def test_update_secret_version_stage_checks_before_changing(sm: Any, secret: dict) -> None:
    arn, v1 = secret["arn"], secret["v1"]
    v2 = sm.put_secret_value(SecretId=arn, SecretString=NEW, VersionStages=["AWSPENDING"])["VersionId"]
    before = stages(sm, arn)
    code, message, _ = error_of(sm.update_secret_version_stage, SecretId=arn, VersionStage="AWSPENDING", MoveToVersionId=v1)
    assert code == "InvalidParameterException"
    assert message == (f"The parameter RemoveFromVersionId can't be empty. Staging label AWSPENDING is currently "
                       f"attached to version {v2}, so you must explicitly reference that version in RemoveFromVersionId.")
    assert error_of(sm.update_secret_version_stage, SecretId=arn, VersionStage="AWSCURRENT",
                    MoveToVersionId=v2)[0] == "InvalidParameterException"
    # A bad MoveToVersionId: nothing is removed from RemoveFromVersionId either.
    assert error_of(sm.update_secret_version_stage, SecretId=arn, VersionStage="AWSPENDING",
                    MoveToVersionId=TOKEN_A, RemoveFromVersionId=v2)[:2] == (
        "InvalidParameterException", f"Not a valid version: {TOKEN_A}")
    assert error_of(sm.update_secret_version_stage, SecretId=arn, VersionStage="AWSPENDING",
                    MoveToVersionId=v2, RemoveFromVersionId=v1)[:2] == (
        "InvalidParameterException", f"Version stage AWSPENDING not found in version {v1}")
    assert error_of(sm.update_secret_version_stage, SecretId="no/such/secret", VersionStage="X",
                    MoveToVersionId=v1)[0] == "ResourceNotFoundException"
    assert stages(sm, arn) == before

    # Labels are attached once; a label can be removed alone.
    for _ in range(2):
        sm.update_secret_version_stage(SecretId=arn, VersionStage="blue", MoveToVersionId=v1)
    assert stages(sm, arn) == {v1: ["AWSCURRENT", "blue"], v2: ["AWSPENDING"]}
    sm.update_secret_version_stage(SecretId=arn, VersionStage="blue", MoveToVersionId=v2, RemoveFromVersionId=v1)
    assert stages(sm, arn) == {v1: ["AWSCURRENT"], v2: ["AWSPENDING", "blue"]}
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=v2)
    assert stages(sm, arn) == {v1: ["AWSCURRENT"], v2: ["blue"]}
    # Moving AWSCURRENT to where it is changes nothing (moto dropped AWSPREVIOUS).
    v3 = sm.put_secret_value(SecretId=arn, SecretString=NEWER)["VersionId"]
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=v3, RemoveFromVersionId=v3)
    assert stages(sm, arn) == {v1: ["AWSPREVIOUS"], v2: ["blue"], v3: ["AWSCURRENT"]}


def test_list_secret_version_ids(sm: Any, secret: dict) -> None:
    out = sm.list_secret_version_ids(SecretId=secret["name"])
    assert (out["ARN"], out["Name"]) == (secret["arn"], "app/redis")
    assert "NextToken" not in out
    (version,) = out["Versions"]
    created = sm.get_secret_value(SecretId=secret["arn"])["CreatedDate"]
    assert (version["VersionId"], version["VersionStages"], version["CreatedDate"]) == (
        secret["v1"], ["AWSCURRENT"], created)
    assert error_of(sm.list_secret_version_ids, SecretId="no/such/secret")[:2] == (
        "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")


# --------------------------------------------------------------------------------------
# GetRandomPassword


def kinds(password: str) -> set[str]:
    out = set()
    for c in password:
        out.add("lower" if c in string.ascii_lowercase else "upper" if c in string.ascii_uppercase
                else "digit" if c in string.digits else "space" if c == " " else "punct")
    return out


def passwords(sm: Any, n: int = 60, **kw: Any) -> list[str]:
    return [sm.get_random_password(**kw)["RandomPassword"] for _ in range(n)]


def test_random_password_defaults(sm: Any) -> None:
    ps = passwords(sm)
    assert {len(p) for p in ps} == {32}
    assert all(kinds(p) == {"lower", "upper", "digit", "punct"} for p in ps)  # each type, no space
    assert set("".join(ps)) <= set(string.ascii_letters + string.digits + string.punctuation)
    assert len(set("".join(ps)) & set(string.punctuation)) > 16  # the whole punctuation set is used
    # The required characters are not always in the same places (moto put them last).
    assert len({tuple(sorted(kinds(p[-4:]))) for p in passwords(sm, PasswordLength=8)}) > 1


@pytest.mark.parametrize(
    "kw,allowed",
    [
        ({"ExcludePunctuation": True}, {"lower", "upper", "digit"}),
        ({"ExcludeUppercase": True, "ExcludeNumbers": True}, {"lower", "punct"}),
        ({"ExcludeLowercase": True, "ExcludeUppercase": True, "ExcludePunctuation": True}, {"digit"}),
        ({"IncludeSpace": True, "PasswordLength": 64}, {"lower", "upper", "digit", "punct", "space"}),
    ],
)
def test_random_password_types(sm: Any, kw: dict, allowed: set) -> None:
    ps = passwords(sm, **kw)
    assert all(len(p) == kw.get("PasswordLength", 32) for p in ps)
    required = allowed - {"space"}  # RequireEachIncludedType: never the space
    assert all(required <= kinds(p) <= allowed for p in ps)
    if "space" in allowed:
        assert any(" " in p for p in ps)


def test_random_password_exclude_characters(sm: Any) -> None:
    excluded = "/@\"' \\,:;=abcXYZ019]"
    ps = passwords(sm, PasswordLength=64, ExcludeCharacters=excluded)
    assert not set("".join(ps)) & set(excluded)
    assert all(kinds(p) == {"lower", "upper", "digit", "punct"} for p in ps)
    # A type whose characters are all excluded is simply absent (moto: HTTP 500).
    ps = passwords(sm, ExcludeCharacters=string.digits)
    assert all(kinds(p) == {"lower", "upper", "punct"} for p in ps)


def test_random_password_lengths(server: Server, sm: Any) -> None:
    assert len(sm.get_random_password(PasswordLength=4096)["RandomPassword"]) == 4096
    assert len(sm.get_random_password(PasswordLength=1, RequireEachIncludedType=False)["RandomPassword"]) == 1
    only_digits = {"ExcludeLowercase": True, "ExcludeUppercase": True, "ExcludePunctuation": True}
    assert sm.get_random_password(PasswordLength=1, **only_digits)["RandomPassword"] in string.digits
    p = sm.get_random_password(PasswordLength=4, IncludeSpace=True)["RandomPassword"]  # moto: 5 characters
    assert len(p) == 4 and kinds(p) == {"lower", "upper", "digit", "punct"}
    assert error_of(sm.get_random_password, PasswordLength=3)[:2] == (
        "InvalidParameterException", "Password length is too short based on the required types.")
    every_type_excluded = {**only_digits, "ExcludeNumbers": True}
    assert error_of(sm.get_random_password, **every_type_excluded)[0] == "InvalidParameterException"
    # boto3 checks the minimum itself; other SDKs send it.
    raw = boto3.client("secretsmanager", endpoint_url=server.url, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=Config(parameter_validation=False))
    for length, bound in ((0, "greater than or equal to 1"), (4097, "less than or equal to 4096")):
        code, message, status = error_of(raw.get_random_password, PasswordLength=length)
        assert (code, status) == ("ValidationException", 400)
        assert message == (f"1 validation error detected: Value '{length}' at 'passwordLength' failed to "
                           f"satisfy constraint: Member must have value {bound}")


# --------------------------------------------------------------------------------------
# State, reset, call log


def test_state_reset_and_call_log(server: Server, sm: Any, secret: dict) -> None:
    token = pending(server, secret=secret["name"])
    s = state_secret(server, "app/redis")
    assert s == {
        "Name": "app/redis",
        "ARN": secret["arn"],
        "RotationEnabled": False,
        "RotationLambdaARN": None,
        "Versions": {
            secret["v1"]: {"Stages": ["AWSCURRENT"], "HasValue": True, "SecretString": OLD, "RotationToken": None},
            token: {"Stages": ["AWSPENDING"], "HasValue": False, "SecretString": None, "RotationToken": None},
        },
    }
    # Control routes are not AWS calls.
    assert [(c["service"], c["action"]) for c in control(server, "GET", "calls")] == [("secretsmanager", "CreateSecret")]
    control(server, "POST", "reset")
    assert control(server, "GET", "state")["secretsmanager"] == {"secrets": []}
    assert sm.list_secrets()["SecretList"] == []
