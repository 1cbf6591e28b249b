"""End-to-end: ``Custom::MemoryDBUser`` and ``Custom::MemoryDBACL`` against the emulator.

Every ``cfn.send``/``create``/``update``/``delete`` checks the response protocol (see
``cfn_helpers.assert_protocol``); the tests here check what the answer says, what the emulator
holds afterwards and which calls reached it. What MemoryDB does as ElastiCache does is tested
for both in ``test_redis_family.py``.
"""

from __future__ import annotations

import json

import pytest

from .cfn_helpers import CfnDriver, assert_failed, assert_success, count, marker
from .harness.constants import DEFAULT_STACK_ID
from .harness.emulator import Emulator
from .redis_family import MEMORYDB as MDB

USER = MDB.user_type
ACL = MDB.group_type


# ------------------------------------------------------------------------------------------
# users


def test_user_tags_update(cfn: CfnDriver, emulator: Emulator):
    props = MDB.user_props(Tags=[{"Key": "team", "Value": "payments"}, {"Key": "old", "Value": "x"}])
    assert_success(cfn.create(USER, props, logical_id="AppUser"))
    emulator.clear_calls()
    new = MDB.user_props(Tags=[{"Key": "team", "Value": "billing"}, {"Key": "new", "Value": "y"}])
    assert_success(cfn.update(USER, "app-mdb", new, props, logical_id="AppUser"))
    acts = emulator.actions("memorydb")
    assert count(acts, "UpdateUser") == 0, "only the tags changed"
    assert MDB.tags_of(emulator, MDB.user_arn("app-mdb")) == {
        "userkeeper:stack-id": DEFAULT_STACK_ID, "userkeeper:logical-id": "AppUser", "team": "billing", "new": "y"}


def test_user_iam_authentication(cfn: CfnDriver, emulator: Emulator):
    res = cfn.create(USER, MDB.user_props(auth="iam"), logical_id="AppUser")
    assert_success(res)
    u = MDB.state_user(emulator, "app-mdb")
    assert u["Authentication"]["Type"] == "iam" and u["Passwords"] == []


# ------------------------------------------------------------------------------------------
# users: validation before any AWS call


@pytest.mark.parametrize("props,expect", [
    (MDB.user_props(PasswordSecretArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf"), "exclusive"),
    (MDB.user_props(auth="iam", PasswordSecretArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf"),
     "iam"),
    ({"UserName": "app-mdb", "AccessString": "on ~* +@all"}, "PasswordSecretArn"),
    ({k: v for k, v in MDB.user_props().items() if k != "AccessString"}, "AccessString"),
    (MDB.user_props("app_mdb"), "UserName"),
    (MDB.user_props(Tags=[{"Key": "userkeeper:stack-id", "Value": "x"}]), "reserved"),
    ({**MDB.user_props(), "Engine": "redis"}, "Engine"),
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
    ev = cfn.event("Create", USER, MDB.user_props(auth=None, PasswordSecretArn=arn), logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, "PasswordSecretArn")
    assert "short/one" not in res.reason
    assert res.physical_id == marker(ev)
    assert count(emulator.actions("memorydb"), "CreateUser") == 0
    assert MDB.describe_user(emulator, "app-mdb") is None


# ------------------------------------------------------------------------------------------
# ACLs


def test_acl_update_diffs_against_current_members(cfn: CfnDriver, emulator: Emulator):
    """Members added out of band are removed by the next Update (even one that changes only
    the tags), and the ``default`` user is never removed."""
    MDB.make_users(cfn, "app-a", "app-b", "app-c")
    p1 = MDB.group_props("app-acl", ["app-a"])
    assert_success(cfn.create(ACL, p1, logical_id="Acl"))
    MDB.client(emulator).update_acl(ACLName="app-acl", UserNamesToAdd=["default", "app-c"])
    emulator.wait_settled()  # the out-of-band change takes its time, as AWS's do
    assert sorted(MDB.state_group(emulator, "app-acl")["UserNames"]) == ["app-a", "app-c", "default"]

    emulator.clear_calls()
    p2 = {**p1, "Tags": [{"Key": "team", "Value": "payments"}]}
    assert_success(cfn.update(ACL, "app-acl", p2, p1, logical_id="Acl"))
    assert count(emulator.actions("memorydb"), "UpdateACL") == 1
    assert sorted(MDB.state_group(emulator, "app-acl")["UserNames"]) == ["app-a", "default"]
    assert MDB.state_group(emulator, "app-acl")["Tags"]["team"] == "payments"

    emulator.clear_calls()
    p3 = {**p2, "UserNames": ["app-b"]}
    assert_success(cfn.update(ACL, "app-acl", p3, p2, logical_id="Acl"))
    assert count(emulator.actions("memorydb"), "UpdateACL") == 1
    assert sorted(MDB.state_group(emulator, "app-acl")["UserNames"]) == ["app-b", "default"]

    # Nothing to change: no UpdateACL at all (the emulator, like AWS, refuses an empty one).
    emulator.clear_calls()
    p4 = {**p3, "ServiceTimeout": "600"}
    res = cfn.update(ACL, "app-acl", p4, p3, logical_id="Acl")
    assert_success(res)
    assert MDB.mutations(emulator) == []


def test_acl_with_unknown_user_fails_with_marker(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", ACL, MDB.group_props("app-acl", ["nobody"]), logical_id="Acl")
    res = cfn.send(ev)
    assert_failed(res, "CreateACL")
    assert res.physical_id == marker(ev)
    assert MDB.describe_group(emulator, "app-acl") is None


@pytest.mark.parametrize("props,expect", [
    (MDB.group_props("app_acl"), "ACLName"),
    (MDB.group_props("app-acl", ["bad_user"]), "UserNames[0]"),
    ({"AclName": "app-acl"}, "AclName"),
], ids=["bad-name", "bad-user-name", "wrong-spelling"])
def test_acl_bad_properties_fail_before_any_aws_call(cfn: CfnDriver, emulator: Emulator, props, expect):
    ev = cfn.event("Create", ACL, props, logical_id="Acl")
    res = cfn.send(ev)
    assert_failed(res, expect)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


