"""End-to-end: ``Custom::MemoryDBUser`` and ``Custom::MemoryDBACL`` against the emulator.

Every ``cfn.send``/``create``/``update``/``delete`` checks the response protocol (see
``cfn_helpers.assert_protocol``); the tests here check what the answer says, what the emulator
holds afterwards and which calls reached it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .cfn_helpers import CfnDriver, assert_failed, assert_success, count, marker
from .harness.constants import ACCOUNT_ID, DEFAULT_STACK_ID
from .harness.emulator import Emulator

USER = "Custom::MemoryDBUser"
ACL = "Custom::MemoryDBACL"
PW1 = "Correct-Horse-Battery-0001"
PW2 = "Correct-Horse-Battery-0002"
PW3 = "Correct-Horse-Battery-0003"
MUTATING = {"CreateUser", "UpdateUser", "DeleteUser", "CreateACL", "UpdateACL", "DeleteACL",
            "TagResource", "UntagResource"}


# ------------------------------------------------------------------------------------------
# helpers


def user_props(name: str = "app-mdb", *, passwords: list[str] | None = None, auth: str | None = "password",
               access: str = "on ~app:* +@all", **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"UserName": name, "AccessString": access}
    if auth == "password":
        props["AuthenticationMode"] = {"Type": "password", "Passwords": list(passwords or [PW1])}
    elif auth is not None:
        props["AuthenticationMode"] = {"Type": auth}
    props.update(extra)
    return props


def acl_props(name: str = "app-acl", users: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"ACLName": name, "UserNames": list(users if users is not None else ["app-mdb"]), **extra}


def mdb(emulator: Emulator) -> Any:
    return emulator.client("memorydb")


def describe_user(emulator: Emulator, name: str) -> dict[str, Any] | None:
    c = mdb(emulator)
    try:
        users = c.describe_users(UserName=name)["Users"]
    except c.exceptions.UserNotFoundFault:
        return None
    users = [u for u in users if u["Name"] == name]
    return users[0] if users else None


def describe_acl(emulator: Emulator, name: str) -> dict[str, Any] | None:
    c = mdb(emulator)
    try:
        acls = c.describe_acls(ACLName=name)["ACLs"]
    except c.exceptions.ACLNotFoundFault:
        return None
    acls = [a for a in acls if a["Name"] == name]
    return acls[0] if acls else None


def state_user(emulator: Emulator, name: str) -> dict[str, Any] | None:
    users = [u for u in emulator.state()["memorydb"]["users"] if u["Name"] == name]
    assert len(users) <= 1, users
    return users[0] if users else None


def state_acl(emulator: Emulator, name: str) -> dict[str, Any] | None:
    acls = [a for a in emulator.state()["memorydb"]["acls"] if a["Name"] == name]
    assert len(acls) <= 1, acls
    return acls[0] if acls else None


def tags_of(emulator: Emulator, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in mdb(emulator).list_tags(ResourceArn=arn)["TagList"]}


def mutations(emulator: Emulator) -> list[str]:
    return [a for a in emulator.actions("memorydb") if a in MUTATING]


def user_arn(name: str) -> str:
    return f"arn:aws:memorydb:us-east-1:{ACCOUNT_ID}:user/{name}"


def acl_arn(name: str) -> str:
    return f"arn:aws:memorydb:us-east-1:{ACCOUNT_ID}:acl/{name}"


def make_users(cfn: CfnDriver, *names: str) -> None:
    for n in names:
        assert_success(cfn.create(USER, user_props(n), logical_id=f"U{n.replace('-', '')}"))


# ------------------------------------------------------------------------------------------
# users: lifecycle


def test_user_create_update_delete(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=1)
    props = user_props(Tags=[{"Key": "team", "Value": "payments"}])
    create = cfn.create(USER, props, logical_id="AppUser")
    assert_success(create)
    assert create.physical_id == "app-mdb"
    assert create.data == {
        "Arn": user_arn("app-mdb"),
        "UserName": "app-mdb",
        "Status": "active",
        "MinimumEngineVersion": create.data["MinimumEngineVersion"],
    }
    assert isinstance(create.data["MinimumEngineVersion"], str) and create.data["MinimumEngineVersion"]
    # It waited for the asynchronous create.
    assert create.invocation.duration_s >= 0.9, create.invocation
    acts = emulator.actions("memorydb")
    assert count(acts, "CreateUser") == 1
    assert "DescribeUsers" in acts[acts.index("CreateUser") + 1:]
    u = state_user(emulator, "app-mdb")
    assert u["Status"] == "active" and u["AccessString"] == "on ~app:* +@all"
    assert u["Authentication"]["Type"] == "password" and u["Authentication"]["PasswordCount"] == 1
    assert u["Passwords"] == [PW1]
    assert u["Tags"] == {"userkeeper:stack-id": DEFAULT_STACK_ID, "userkeeper:logical-id": "AppUser",
                         "team": "payments"}

    # Update: access string only; passwords are not re-sent.
    emulator.clear_calls()
    new = {**props, "AccessString": "on ~app:* +@read"}
    upd = cfn.update(USER, "app-mdb", new, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == "app-mdb"
    assert upd.data["Status"] == "active" and upd.data["UserName"] == "app-mdb"
    assert upd.invocation.duration_s >= 0.9, upd.invocation
    acts = emulator.actions("memorydb")
    assert count(acts, "UpdateUser") == 1 and count(acts, "CreateUser") == 0 and count(acts, "DeleteUser") == 0
    u = state_user(emulator, "app-mdb")
    assert u["Status"] == "active" and u["AccessString"] == "on ~app:* +@read" and u["Passwords"] == [PW1]

    # Delete waits until the user is gone.
    emulator.clear_calls()
    dele = cfn.delete(USER, "app-mdb", new, logical_id="AppUser")
    assert_success(dele)
    assert dele.physical_id == "app-mdb"
    assert dele.invocation.duration_s >= 0.9, dele.invocation
    assert count(emulator.actions("memorydb"), "DeleteUser") == 1
    assert describe_user(emulator, "app-mdb") is None


def test_user_password_change_sets_new_passwords(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=0.5)
    props = user_props(passwords=[PW1])
    assert_success(cfn.create(USER, props, logical_id="AppUser"))
    emulator.clear_calls()
    new = user_props(passwords=[PW2, PW1])
    upd = cfn.update(USER, "app-mdb", new, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == "app-mdb" and upd.data["Status"] == "active"
    assert count(emulator.actions("memorydb"), "UpdateUser") == 1
    u = state_user(emulator, "app-mdb")
    assert u["Status"] == "active" and u["Passwords"] == [PW2, PW1]
    assert u["Authentication"]["PasswordCount"] == 2


def test_user_update_does_not_reset_unchanged_passwords(cfn: CfnDriver, emulator: Emulator):
    """A password changed behind the template's back (rotation) survives an Update that
    changes only the access string."""
    props = user_props(passwords=[PW1])
    assert_success(cfn.create(USER, props, logical_id="AppUser"))
    mdb(emulator).update_user(UserName="app-mdb", AuthenticationMode={"Type": "password", "Passwords": [PW3]})
    assert state_user(emulator, "app-mdb")["Passwords"] == [PW3]
    emulator.clear_calls()
    new = {**props, "AccessString": "on ~app:* +@read"}
    assert_success(cfn.update(USER, "app-mdb", new, props, logical_id="AppUser"))
    assert count(emulator.actions("memorydb"), "UpdateUser") == 1
    u = state_user(emulator, "app-mdb")
    assert u["AccessString"] == "on ~app:* +@read"
    assert u["Passwords"] == [PW3], f"passwords were re-set although no password property changed: {u['Passwords']}"


def test_user_update_without_changes_modifies_nothing(cfn: CfnDriver, emulator: Emulator):
    props = user_props()
    assert_success(cfn.create(USER, props, logical_id="AppUser"))
    emulator.clear_calls()
    upd = cfn.update(USER, "app-mdb", {**props, "ServiceTimeout": "600"}, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == "app-mdb" and upd.data["Status"] == "active"
    assert mutations(emulator) == []


def test_user_tags_update(cfn: CfnDriver, emulator: Emulator):
    props = user_props(Tags=[{"Key": "team", "Value": "payments"}, {"Key": "old", "Value": "x"}])
    assert_success(cfn.create(USER, props, logical_id="AppUser"))
    emulator.clear_calls()
    new = user_props(Tags=[{"Key": "team", "Value": "billing"}, {"Key": "new", "Value": "y"}])
    assert_success(cfn.update(USER, "app-mdb", new, props, logical_id="AppUser"))
    acts = emulator.actions("memorydb")
    assert count(acts, "UpdateUser") == 0, "only the tags changed"
    assert tags_of(emulator, user_arn("app-mdb")) == {
        "userkeeper:stack-id": DEFAULT_STACK_ID, "userkeeper:logical-id": "AppUser", "team": "billing", "new": "y"}


def test_user_replacement_on_user_name_change(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=0.5)
    old = user_props("app-mdb")
    assert_success(cfn.create(USER, old, logical_id="AppUser"))
    emulator.clear_calls()
    new = user_props("app-mdb-v2")
    upd = cfn.update(USER, "app-mdb", new, old, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == "app-mdb-v2"
    assert upd.data["UserName"] == "app-mdb-v2" and upd.data["Arn"] == user_arn("app-mdb-v2")
    acts = emulator.actions("memorydb")
    assert count(acts, "CreateUser") == 1 and count(acts, "DeleteUser") == 0
    assert describe_user(emulator, "app-mdb-v2")["Status"] == "active"
    assert describe_user(emulator, "app-mdb") is not None, "the old user must stay until CloudFormation's cleanup"
    assert state_user(emulator, "app-mdb-v2")["Tags"]["userkeeper:logical-id"] == "AppUser"

    cleanup = cfn.delete(USER, "app-mdb", old, logical_id="AppUser")
    assert_success(cleanup)
    assert cleanup.physical_id == "app-mdb"
    assert describe_user(emulator, "app-mdb") is None
    assert describe_user(emulator, "app-mdb-v2")["Status"] == "active"


def test_user_password_from_secret(cfn: CfnDriver, emulator: Emulator):
    sm = emulator.client("secretsmanager")
    arn = sm.create_secret(Name="app/memorydb", SecretString=json.dumps({"username": "app", "password": PW2}))["ARN"]
    props = user_props(auth=None, PasswordSecretArn=arn)
    res = cfn.create(USER, props, logical_id="AppUser")
    assert_success(res)
    assert "GetSecretValue" in emulator.actions("secretsmanager")
    u = state_user(emulator, "app-mdb")
    assert u["Authentication"] == {"Type": "password", "PasswordCount": 1}
    assert u["Passwords"] == [PW2]
    assert PW2 not in json.dumps(res.response) and PW2 not in cfn.fn.log_text()

    # Rotation put a new AWSCURRENT version: an Update that changes the secret ARN picks it up.
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"password": PW3}))
    arn2 = sm.create_secret(Name="app/memorydb-2", SecretString=json.dumps({"password": PW1}))["ARN"]
    assert_success(cfn.update(USER, "app-mdb", {**props, "PasswordSecretArn": arn2}, props, logical_id="AppUser"))
    assert state_user(emulator, "app-mdb")["Passwords"] == [PW1]


def test_user_iam_authentication(cfn: CfnDriver, emulator: Emulator):
    res = cfn.create(USER, user_props(auth="iam"), logical_id="AppUser")
    assert_success(res)
    u = state_user(emulator, "app-mdb")
    assert u["Authentication"]["Type"] == "iam" and u["Passwords"] == []


# ------------------------------------------------------------------------------------------
# users: validation before any AWS call


@pytest.mark.parametrize(
    "passwords",
    [
        ["Short-Pass-15ch"],  # 15 characters
        ["x" * 129],
        ["Has,Comma-0123456789"],
        ['Has"Quote-0123456789'],
        ["Has/Slash-0123456789"],
        ["Has@At-01234567890123"],
        [PW1, PW2, PW3],
        [],
    ],
    ids=["15-chars", "129-chars", "comma", "quote", "slash", "at", "three-passwords", "none"],
)
def test_user_bad_passwords_fail_before_any_aws_call(cfn: CfnDriver, emulator: Emulator, passwords: list[str]):
    props = user_props()
    props["AuthenticationMode"]["Passwords"] = passwords
    ev = cfn.event("Create", USER, props, logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, "AuthenticationMode.Passwords")
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []
    for pw in passwords:
        assert pw not in res.reason


def test_user_password_limits_accept_16_and_128(cfn: CfnDriver, emulator: Emulator):
    assert_success(cfn.create(USER, user_props(passwords=["a" * 16, "B" * 128]), logical_id="AppUser"))
    assert state_user(emulator, "app-mdb")["Passwords"] == ["a" * 16, "B" * 128]


@pytest.mark.parametrize("props,expect", [
    (user_props(PasswordSecretArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf"), "exclusive"),
    (user_props(auth="iam", PasswordSecretArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf"),
     "iam"),
    ({"UserName": "app-mdb", "AccessString": "on ~* +@all"}, "PasswordSecretArn"),
    ({k: v for k, v in user_props().items() if k != "AccessString"}, "AccessString"),
    (user_props("app_mdb"), "UserName"),
    (user_props(Tags=[{"Key": "userkeeper:stack-id", "Value": "x"}]), "reserved"),
    ({**user_props(), "Engine": "redis"}, "Engine"),
], ids=["secret-and-inline", "iam-with-secret", "no-password-source", "no-access-string", "bad-name",
        "reserved-tag", "unknown-property"])
def test_user_bad_properties_fail_before_any_aws_call(cfn: CfnDriver, emulator: Emulator, props, expect):
    ev = cfn.event("Create", USER, props, logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, expect)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


def test_user_secret_with_bad_password_fails_without_creating(cfn: CfnDriver, emulator: Emulator):
    sm = emulator.client("secretsmanager")
    arn = sm.create_secret(Name="app/bad", SecretString=json.dumps({"password": "short/one"}))["ARN"]
    ev = cfn.event("Create", USER, user_props(auth=None, PasswordSecretArn=arn), logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, "PasswordSecretArn")
    assert "short/one" not in res.reason
    assert res.physical_id == marker(ev)
    assert count(emulator.actions("memorydb"), "CreateUser") == 0
    assert describe_user(emulator, "app-mdb") is None


# ------------------------------------------------------------------------------------------
# users: idempotency and ownership


def test_user_redelivered_create_is_idempotent(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", USER, user_props(), logical_id="AppUser")
    first = cfn.send(ev)
    assert_success(first)
    second = cfn.send(dict(ev, ResponseURL=cfn.receiver.url("redelivered")))
    assert_success(second)
    assert second.physical_id == first.physical_id == "app-mdb"
    assert second.data == first.data
    users = [u for u in emulator.state()["memorydb"]["users"] if u["Name"] == "app-mdb"]
    assert len(users) == 1 and users[0]["Tags"]["userkeeper:logical-id"] == "AppUser"
    acts = emulator.actions("memorydb")
    assert count(acts, "CreateUser") == 1, f"CreateUser sent {count(acts, 'CreateUser')} times for one user: {acts}"


def test_user_create_colliding_with_foreign_user(cfn: CfnDriver, emulator: Emulator):
    mdb(emulator).create_user(UserName="app-mdb", AccessString="on ~* +@all",
                              AuthenticationMode={"Type": "password", "Passwords": [PW3]})
    emulator.clear_calls()
    ev = cfn.event("Create", USER, user_props(), logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    assert count(emulator.actions(), "CreateUser") <= 1  # an attempt that AWS refused at most
    assert {"UpdateUser", "DeleteUser", "TagResource", "UntagResource"}.isdisjoint(emulator.actions())
    emulator.clear_calls()
    dele = cfn.delete(USER, res.physical_id, user_props(), logical_id="AppUser")
    assert_success(dele)
    assert dele.physical_id == res.physical_id
    assert emulator.actions() == []
    foreign = state_user(emulator, "app-mdb")
    assert foreign is not None and foreign["Passwords"] == [PW3] and foreign["AccessString"] == "on ~* +@all"
    assert foreign["Tags"] == {}


def test_user_create_colliding_with_another_logical_id(cfn: CfnDriver, emulator: Emulator):
    assert_success(cfn.create(USER, user_props(), logical_id="FirstUser"))
    ev = cfn.event("Create", USER, user_props(passwords=[PW2]), logical_id="SecondUser")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    u = state_user(emulator, "app-mdb")
    assert u["Tags"]["userkeeper:logical-id"] == "FirstUser" and u["Passwords"] == [PW1]


def test_user_delete_of_absent_user_succeeds(cfn: CfnDriver, emulator: Emulator):
    res = cfn.delete(USER, "never-created", user_props("never-created"))
    assert_success(res)
    assert res.physical_id == "never-created"
    assert mutations(emulator) == []


def test_user_delete_leaves_a_foreign_user_alone(cfn: CfnDriver, emulator: Emulator):
    """A Delete of an id naming a user this stack does not own (e.g. CloudFormation cleaning up
    after a replacement that collided) must not delete someone else's user."""
    mdb(emulator).create_user(UserName="app-mdb", AccessString="on ~* +@all",
                              AuthenticationMode={"Type": "password", "Passwords": [PW3]})
    emulator.clear_calls()
    res = cfn.delete(USER, "app-mdb", user_props(), logical_id="AppUser")
    assert_success(res)
    assert count(emulator.actions(), "DeleteUser") == 0
    assert describe_user(emulator, "app-mdb") is not None


# ------------------------------------------------------------------------------------------
# ACLs


def test_acl_create_update_delete(cfn: CfnDriver, emulator: Emulator):
    make_users(cfn, "app-a", "app-b", "app-c")
    emulator.config(transition_seconds=1)
    emulator.clear_calls()
    p1 = acl_props("app-acl", ["app-a", "app-b"], Tags=[{"Key": "team", "Value": "payments"}])
    create = cfn.create(ACL, p1, logical_id="Acl")
    assert_success(create)
    assert create.physical_id == "app-acl"
    assert create.data == {"Arn": acl_arn("app-acl"), "ACLName": "app-acl", "Status": "active"}
    assert create.invocation.duration_s >= 0.9, create.invocation
    assert count(emulator.actions("memorydb"), "CreateACL") == 1
    a = state_acl(emulator, "app-acl")
    assert a["Status"] == "active" and sorted(a["UserNames"]) == ["app-a", "app-b"]
    assert a["Tags"] == {"userkeeper:stack-id": DEFAULT_STACK_ID, "userkeeper:logical-id": "Acl",
                         "team": "payments"}
    assert state_user(emulator, "app-a")["ACLNames"] == ["app-acl"]

    # Update: drop app-a, add app-c, keep app-b; one UpdateACL, waits for active.
    emulator.clear_calls()
    p2 = {**p1, "UserNames": ["app-b", "app-c"]}
    upd = cfn.update(ACL, "app-acl", p2, p1, logical_id="Acl")
    assert_success(upd)
    assert upd.physical_id == "app-acl"
    assert upd.data == {"Arn": acl_arn("app-acl"), "ACLName": "app-acl", "Status": "active"}
    assert upd.invocation.duration_s >= 0.9, upd.invocation
    acts = emulator.actions("memorydb")
    assert count(acts, "UpdateACL") == 1 and count(acts, "CreateACL") == 0 and count(acts, "DeleteACL") == 0
    a = state_acl(emulator, "app-acl")
    assert a["Status"] == "active" and sorted(a["UserNames"]) == ["app-b", "app-c"]
    assert not a.get("PendingChanges")

    # Delete waits until the ACL is gone; the users stay.
    emulator.clear_calls()
    dele = cfn.delete(ACL, "app-acl", p2, logical_id="Acl")
    assert_success(dele)
    assert dele.physical_id == "app-acl"
    assert dele.invocation.duration_s >= 0.9, dele.invocation
    assert count(emulator.actions("memorydb"), "DeleteACL") == 1
    assert describe_acl(emulator, "app-acl") is None
    assert describe_user(emulator, "app-b") is not None


def test_acl_update_diffs_against_current_members(cfn: CfnDriver, emulator: Emulator):
    """Members added out of band are removed by the next Update (even one that changes only
    the tags), and the ``default`` user is never removed."""
    make_users(cfn, "app-a", "app-b", "app-c")
    p1 = acl_props("app-acl", ["app-a"])
    assert_success(cfn.create(ACL, p1, logical_id="Acl"))
    mdb(emulator).update_acl(ACLName="app-acl", UserNamesToAdd=["default", "app-c"])
    assert sorted(state_acl(emulator, "app-acl")["UserNames"]) == ["app-a", "app-c", "default"]

    emulator.clear_calls()
    p2 = {**p1, "Tags": [{"Key": "team", "Value": "payments"}]}
    assert_success(cfn.update(ACL, "app-acl", p2, p1, logical_id="Acl"))
    assert count(emulator.actions("memorydb"), "UpdateACL") == 1
    assert sorted(state_acl(emulator, "app-acl")["UserNames"]) == ["app-a", "default"]
    assert state_acl(emulator, "app-acl")["Tags"]["team"] == "payments"

    emulator.clear_calls()
    p3 = {**p2, "UserNames": ["app-b"]}
    assert_success(cfn.update(ACL, "app-acl", p3, p2, logical_id="Acl"))
    assert count(emulator.actions("memorydb"), "UpdateACL") == 1
    assert sorted(state_acl(emulator, "app-acl")["UserNames"]) == ["app-b", "default"]

    # Nothing to change: no UpdateACL at all (the emulator, like AWS, refuses an empty one).
    emulator.clear_calls()
    p4 = {**p3, "ServiceTimeout": "600"}
    res = cfn.update(ACL, "app-acl", p4, p3, logical_id="Acl")
    assert_success(res)
    assert mutations(emulator) == []


def test_acl_replacement_on_name_change(cfn: CfnDriver, emulator: Emulator):
    make_users(cfn, "app-a")
    old = acl_props("app-acl", ["app-a"])
    assert_success(cfn.create(ACL, old, logical_id="Acl"))
    emulator.clear_calls()
    new = acl_props("app-acl-v2", ["app-a"])
    upd = cfn.update(ACL, "app-acl", new, old, logical_id="Acl")
    assert_success(upd)
    assert upd.physical_id == "app-acl-v2"
    assert upd.data["ACLName"] == "app-acl-v2" and upd.data["Arn"] == acl_arn("app-acl-v2")
    acts = emulator.actions("memorydb")
    assert count(acts, "CreateACL") == 1 and count(acts, "DeleteACL") == 0 and count(acts, "UpdateACL") == 0
    assert describe_acl(emulator, "app-acl") is not None
    assert sorted(state_acl(emulator, "app-acl-v2")["UserNames"]) == ["app-a"]
    cleanup = cfn.delete(ACL, "app-acl", old, logical_id="Acl")
    assert_success(cleanup)
    assert cleanup.physical_id == "app-acl"
    assert describe_acl(emulator, "app-acl") is None
    assert describe_acl(emulator, "app-acl-v2") is not None


def test_acl_delete_in_use_by_cluster_fails_naming_it(cfn: CfnDriver, emulator: Emulator):
    make_users(cfn, "app-a")
    assert_success(cfn.create(ACL, acl_props("app-acl", ["app-a"]), logical_id="Acl"))
    mdb(emulator).create_cluster(ClusterName="cache-cluster", NodeType="db.t4g.small", ACLName="app-acl")
    assert state_acl(emulator, "app-acl")["Clusters"] == ["cache-cluster"]
    emulator.clear_calls()
    res = cfn.delete(ACL, "app-acl", acl_props("app-acl", ["app-a"]), logical_id="Acl")
    assert_failed(res, "cache-cluster")
    assert res.physical_id == "app-acl"
    assert describe_acl(emulator, "app-acl")["Status"] == "active"


def test_acl_redelivered_create_and_foreign_collision(cfn: CfnDriver, emulator: Emulator):
    make_users(cfn, "app-a")
    ev = cfn.event("Create", ACL, acl_props("app-acl", ["app-a"]), logical_id="Acl")
    assert_success(cfn.send(ev))
    again = cfn.send(dict(ev, ResponseURL=cfn.receiver.url("again")))
    assert_success(again)
    assert again.physical_id == "app-acl"
    assert count(emulator.actions("memorydb"), "CreateACL") == 1

    mdb(emulator).create_acl(ACLName="foreign-acl", UserNames=["app-a"])
    emulator.clear_calls()
    ev = cfn.event("Create", ACL, acl_props("foreign-acl", []), logical_id="Acl2")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    assert {"UpdateACL", "DeleteACL", "TagResource"}.isdisjoint(emulator.actions())
    emulator.clear_calls()
    dele = cfn.delete(ACL, res.physical_id, acl_props("foreign-acl", []), logical_id="Acl2")
    assert_success(dele)
    assert emulator.actions() == []
    foreign = state_acl(emulator, "foreign-acl")
    assert foreign is not None and foreign["UserNames"] == ["app-a"] and foreign["Tags"] == {}


def test_acl_with_unknown_user_fails_with_marker(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", ACL, acl_props("app-acl", ["nobody"]), logical_id="Acl")
    res = cfn.send(ev)
    assert_failed(res, "CreateACL")
    assert res.physical_id == marker(ev)
    assert describe_acl(emulator, "app-acl") is None


@pytest.mark.parametrize("props,expect", [
    (acl_props("app_acl"), "ACLName"),
    (acl_props("app-acl", ["bad_user"]), "UserNames[0]"),
    ({"AclName": "app-acl"}, "AclName"),
], ids=["bad-name", "bad-user-name", "wrong-spelling"])
def test_acl_bad_properties_fail_before_any_aws_call(cfn: CfnDriver, emulator: Emulator, props, expect):
    ev = cfn.event("Create", ACL, props, logical_id="Acl")
    res = cfn.send(ev)
    assert_failed(res, expect)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


def test_acl_delete_of_absent_acl_succeeds(cfn: CfnDriver, emulator: Emulator):
    res = cfn.delete(ACL, "never-created", acl_props("never-created"))
    assert_success(res)
    assert res.physical_id == "never-created"
    assert mutations(emulator) == []
