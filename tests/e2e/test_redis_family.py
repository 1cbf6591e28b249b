"""End-to-end: what ElastiCache users and user groups and MemoryDB users and ACLs do alike, each
test run once per service (``redis_family.py`` describes how the two differ).

Every ``cfn.send``/``create``/``update``/``delete`` checks the response protocol (see
``cfn_helpers.assert_protocol``); the tests here check what the answer says, what the emulator
holds afterwards and which calls reached it. What only one service does is in
``test_elasticache.py`` or ``test_memorydb.py``.
"""

from __future__ import annotations

import json

import pytest

from .cfn_helpers import CfnDriver, assert_failed, assert_success, count, marker
from .harness.constants import DEFAULT_STACK_ID
from .harness.emulator import Emulator
from .redis_family import PW1, PW2, PW3, REDIS_FAMILY, RedisFamily


@pytest.fixture(params=REDIS_FAMILY, ids=repr)
def svc(request: pytest.FixtureRequest) -> RedisFamily:
    return request.param


# ------------------------------------------------------------------------------------------
# users: lifecycle


def test_user_create_update_delete(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    emulator.config(transition_seconds=1)
    uid = svc.user_id
    props = svc.user_props(Tags=[{"Key": "team", "Value": "payments"}])
    create = cfn.create(svc.user_type, props, logical_id="AppUser")
    assert_success(create)
    assert create.physical_id == uid
    assert create.data == {**svc.user_data(uid), "MinimumEngineVersion": create.data["MinimumEngineVersion"]}
    assert isinstance(create.data["MinimumEngineVersion"], str) and create.data["MinimumEngineVersion"]
    # It waited for the asynchronous create: the user is active the moment the response came.
    assert create.invocation.duration_s >= 0.9, create.invocation
    acts = emulator.actions(svc.name)
    assert count(acts, "CreateUser") == 1
    assert acts.index("CreateUser") < len(acts) - 1 and "DescribeUsers" in acts[acts.index("CreateUser"):]
    u = svc.state_user(emulator, uid)
    assert u["Status"] == "active" and u["AccessString"] == "on ~app:* +@all"
    record = svc.user_record(uid)
    assert {k: u[k] for k in record} == record
    assert u["Authentication"]["Type"] == "password" and u["Authentication"]["PasswordCount"] == 1
    assert u["Passwords"] == [PW1]
    assert u["Tags"] == {"userkeeper:stack-id": DEFAULT_STACK_ID, "userkeeper:logical-id": "AppUser",
                         "team": "payments"}

    # Update: access string only; passwords are not re-sent.
    emulator.clear_calls()
    new = {**props, "AccessString": "on ~app:* +@read"}
    upd = cfn.update(svc.user_type, uid, new, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == uid
    assert upd.data["Status"] == "active" and upd.data[svc.user_key] == uid
    assert upd.invocation.duration_s >= 0.9, upd.invocation
    acts = emulator.actions(svc.name)
    assert count(acts, svc.modify_user) == 1 and count(acts, "CreateUser") == 0 and count(acts, "DeleteUser") == 0
    u = svc.state_user(emulator, uid)
    assert u["Status"] == "active" and u["AccessString"] == "on ~app:* +@read" and u["Passwords"] == [PW1]

    # Delete waits until the user is gone.
    emulator.clear_calls()
    dele = cfn.delete(svc.user_type, uid, new, logical_id="AppUser")
    assert_success(dele)
    assert dele.physical_id == uid
    assert dele.invocation.duration_s >= 0.9, dele.invocation
    assert count(emulator.actions(svc.name), "DeleteUser") == 1
    assert svc.describe_user(emulator, uid) is None


def test_user_password_change_sets_new_passwords(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    emulator.config(transition_seconds=1)
    uid = svc.user_id
    props = svc.user_props(passwords=[PW1])
    assert_success(cfn.create(svc.user_type, props, logical_id="AppUser"))
    emulator.clear_calls()
    new = svc.user_props(passwords=[PW2, PW1])
    upd = cfn.update(svc.user_type, uid, new, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == uid and upd.data["Status"] == "active"
    assert count(emulator.actions(svc.name), svc.modify_user) == 1
    u = svc.state_user(emulator, uid)
    assert u["Status"] == "active" and u["Passwords"] == [PW2, PW1]
    assert u["Authentication"]["PasswordCount"] == 2


def test_user_update_does_not_reset_unchanged_passwords(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    """Passwords are re-set only when a password property changed: a password changed out of
    band (e.g. by rotation) survives an Update that changes only the access string."""
    uid = svc.user_id
    props = svc.user_props(passwords=[PW1])
    assert_success(cfn.create(svc.user_type, props, logical_id="AppUser"))
    svc.set_passwords(emulator, uid, [PW3])
    emulator.wait_settled()
    u = svc.state_user(emulator, uid)
    assert u["Status"] == "active" and u["Passwords"] == [PW3]
    emulator.clear_calls()
    new = {**props, "AccessString": "on ~app:* +@read"}
    assert_success(cfn.update(svc.user_type, uid, new, props, logical_id="AppUser"))
    assert count(emulator.actions(svc.name), svc.modify_user) == 1
    u = svc.state_user(emulator, uid)
    assert u["AccessString"] == "on ~app:* +@read"
    assert u["Passwords"] == [PW3], f"passwords were re-set although no password property changed: {u['Passwords']}"


def test_user_update_without_changes_modifies_nothing(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    uid = svc.user_id
    props = svc.user_props()
    assert_success(cfn.create(svc.user_type, props, logical_id="AppUser"))
    emulator.clear_calls()
    upd = cfn.update(svc.user_type, uid, {**props, "ServiceTimeout": "600"}, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == uid
    assert svc.mutations(emulator) == []
    assert upd.data[svc.user_key] == uid and upd.data["Status"] == "active"


def test_user_replacement_on_id_change(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    emulator.config(transition_seconds=1)
    uid, new_id = svc.user_id, f"{svc.user_id}-v2"
    old = svc.user_props(uid)
    assert_success(cfn.create(svc.user_type, old, logical_id="AppUser"))
    emulator.clear_calls()
    new = svc.user_props(new_id)
    upd = cfn.update(svc.user_type, uid, new, old, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == new_id
    assert upd.data[svc.user_key] == new_id and upd.data["Arn"] == svc.user_arn(new_id)
    acts = emulator.actions(svc.name)
    assert count(acts, "CreateUser") == 1 and count(acts, "DeleteUser") == 0
    assert svc.describe_user(emulator, new_id)["Status"] == "active"
    assert svc.describe_user(emulator, uid) is not None, "the old user must stay until CloudFormation's cleanup"
    tags = svc.state_user(emulator, new_id)["Tags"]
    assert tags["userkeeper:logical-id"] == "AppUser" and tags["userkeeper:stack-id"] == DEFAULT_STACK_ID

    cleanup = cfn.delete(svc.user_type, uid, old, logical_id="AppUser")
    assert_success(cleanup)
    assert cleanup.physical_id == uid
    assert svc.describe_user(emulator, uid) is None
    assert svc.describe_user(emulator, new_id)["Status"] == "active"


def test_user_password_from_secret(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    uid = svc.user_id
    sm = emulator.client("secretsmanager")
    arn = sm.create_secret(Name=f"app/{svc.name}", SecretString=json.dumps({"username": "app", "password": PW2}))["ARN"]
    props = svc.user_props(auth=None, PasswordSecretArn=arn)
    res = cfn.create(svc.user_type, props, logical_id="AppUser")
    assert_success(res)
    assert "GetSecretValue" in emulator.actions("secretsmanager")
    u = svc.state_user(emulator, uid)
    assert u["Authentication"] == {"Type": "password", "PasswordCount": 1}
    assert u["Passwords"] == [PW2]
    assert PW2 not in json.dumps(res.response) and PW2 not in cfn.fn.log_text()

    assert svc.state_user(emulator, uid)["Tags"]["userkeeper:secret"] == arn, "bound to its secret"

    # Rotation put a new AWSCURRENT version: an Update that changes the secret ARN picks it up,
    # and keeps the old secret's current password as the second one (clients still holding it
    # keep working until they read the new secret), as a rotation would.
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"password": PW3}))
    arn2 = sm.create_secret(Name=f"app/{svc.name}-2", SecretString=json.dumps({"password": PW1}))["ARN"]
    new = {**props, "PasswordSecretArn": arn2}
    assert_success(cfn.update(svc.user_type, uid, new, props, logical_id="AppUser"))
    u = svc.state_user(emulator, uid)
    assert u["Passwords"] == [PW1, PW3]
    assert u["Tags"]["userkeeper:secret"] == arn2, "bound to the new secret"

    # Asked for a single password, it gets only the new one.
    arn3 = sm.create_secret(Name=f"app/{svc.name}-3", SecretString=json.dumps({"password": PW2}))["ARN"]
    single = {**new, "PasswordSecretArn": arn3, "KeepPreviousPassword": "false"}
    assert_success(cfn.update(svc.user_type, uid, single, new, logical_id="AppUser"))
    assert svc.state_user(emulator, uid)["Passwords"] == [PW2]


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
def test_user_bad_passwords_fail_before_any_aws_call(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily,
                                                     passwords: list[str]):
    props = svc.user_props()
    props["AuthenticationMode"]["Passwords"] = passwords
    ev = cfn.event("Create", svc.user_type, props, logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, "AuthenticationMode.Passwords")
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []
    for pw in passwords:
        assert pw not in res.reason


def test_user_password_limits_accept_16_and_128(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    res = cfn.create(svc.user_type, svc.user_props(passwords=["a" * 16, "B" * 128]), logical_id="AppUser")
    assert_success(res)
    assert svc.state_user(emulator, svc.user_id)["Passwords"] == ["a" * 16, "B" * 128]


# ------------------------------------------------------------------------------------------
# users: idempotency and ownership


def test_user_redelivered_create_is_idempotent(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    uid = svc.user_id
    ev = cfn.event("Create", svc.user_type, svc.user_props(), logical_id="AppUser")
    first = cfn.send(ev)
    assert_success(first)
    second = cfn.send(dict(ev, ResponseURL=cfn.receiver.url("redelivered")))
    assert_success(second)
    assert second.physical_id == first.physical_id == uid
    assert second.data == first.data
    # and a retry with a new request id (same stack + logical id) as well
    third = cfn.create(svc.user_type, svc.user_props(), logical_id="AppUser")
    assert_success(third)
    assert third.physical_id == uid
    users = svc.state_users(emulator, uid)
    assert len(users) == 1 and users[0]["Tags"]["userkeeper:logical-id"] == "AppUser"
    acts = emulator.actions(svc.name)
    assert count(acts, "CreateUser") == 1, f"CreateUser sent {count(acts, 'CreateUser')} times for one user: {acts}"


def test_user_create_colliding_with_foreign_user(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    uid = svc.user_id
    svc.create_foreign_user(emulator, uid, PW3)
    emulator.wait_settled()  # someone else's user, there for a while
    before = svc.state_user(emulator, uid)
    emulator.clear_calls()
    ev = cfn.event("Create", svc.user_type, svc.user_props(), logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    assert count(emulator.actions(), "CreateUser") <= 1  # an attempt that AWS refused at most
    assert {svc.modify_user, "DeleteUser", *svc.tag_actions}.isdisjoint(emulator.actions())
    emulator.clear_calls()
    dele = cfn.delete(svc.user_type, res.physical_id, svc.user_props(), logical_id="AppUser")
    assert_success(dele)
    assert dele.physical_id == res.physical_id
    assert emulator.actions() == []
    foreign = svc.state_user(emulator, uid)
    assert foreign is not None and foreign["Passwords"] == [PW3] and foreign["AccessString"] == "on ~* +@all"
    assert foreign["Tags"] == {}
    assert foreign == before, "the foreign user changed"


def test_user_create_colliding_with_another_logical_id(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    assert_success(cfn.create(svc.user_type, svc.user_props(), logical_id="FirstUser"))
    ev = cfn.event("Create", svc.user_type, svc.user_props(passwords=[PW2]), logical_id="SecondUser")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    u = svc.state_user(emulator, svc.user_id)
    assert u["Tags"]["userkeeper:logical-id"] == "FirstUser" and u["Passwords"] == [PW1]


def test_user_delete_leaves_a_foreign_user_alone(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    """A Delete of an id naming a user this stack does not own (e.g. CloudFormation cleaning up
    after a replacement that collided) must not delete someone else's user."""
    svc.create_foreign_user(emulator, svc.user_id, PW3)
    emulator.clear_calls()
    res = cfn.delete(svc.user_type, svc.user_id, svc.user_props(), logical_id="AppUser")
    assert_success(res)
    assert count(emulator.actions(), "DeleteUser") == 0
    assert svc.describe_user(emulator, svc.user_id) is not None


@pytest.mark.parametrize("owner", ["another-logical-id", "foreign"])
def test_user_update_of_what_the_resource_does_not_own_changes_nothing(cfn: CfnDriver, emulator: Emulator,
                                                                      svc: RedisFamily, owner: str):
    """An in-place Update acts only on what this stack's logical id created: anything else
    FAILS naming whose it is, and nothing is changed."""
    uid = svc.user_id
    props = svc.user_props()
    if owner == "foreign":
        svc.create_foreign_user(emulator, uid, PW3)
        found = "no userkeeper ownership tags"
    else:
        assert_success(cfn.create(svc.user_type, props, logical_id="FirstUser"))
        found = "logical id FirstUser"
    emulator.wait_settled()
    before = svc.state_user(emulator, uid)
    emulator.clear_calls()
    new = {**props, "AccessString": "on ~other:* +@all", "AuthenticationMode": {"Type": "password",
                                                                               "Passwords": [PW2]}}
    upd = cfn.update(svc.user_type, uid, new, props, logical_id="SecondUser")
    assert_failed(upd, "not managed by this stack and logical id", found, "nothing was changed")
    assert upd.physical_id == uid
    assert svc.mutations(emulator) == []
    assert svc.state_user(emulator, uid) == before


def test_group_update_of_another_logical_ids_group_changes_nothing(cfn: CfnDriver, emulator: Emulator,
                                                                  svc: RedisFamily):
    svc.make_users(cfn, "app-a", "app-b")
    gid = svc.group_id
    props = svc.group_props(gid, svc.members("app-a"))
    assert_success(cfn.create(svc.group_type, props, logical_id="Group"))
    before = svc.state_group(emulator, gid)
    emulator.clear_calls()
    new = svc.group_props(gid, svc.members("app-b"), Tags=[{"Key": "team", "Value": "payments"}])
    upd = cfn.update(svc.group_type, gid, new, props, logical_id="OtherGroup")
    assert_failed(upd, "not managed by this stack and logical id", "logical id Group", "nothing was changed")
    assert upd.physical_id == gid
    assert svc.mutations(emulator) == []
    assert svc.state_group(emulator, gid) == before


@pytest.mark.parametrize("kind", ["user", "group"])
def test_delete_of_absent_resource_succeeds(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily, kind: str):
    if kind == "user":
        rtype, physical_id, props = svc.user_type, "never-created", svc.user_props("never-created")
    else:
        rtype, physical_id, props = svc.group_type, "never-created-group", svc.group_props("never-created-group")
    res = cfn.delete(rtype, physical_id, props)
    assert_success(res)
    assert res.physical_id == physical_id
    assert svc.mutations(emulator) == []


# ------------------------------------------------------------------------------------------
# groups (ElastiCache user groups, MemoryDB ACLs)


def test_group_create_update_delete(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    svc.make_users(cfn, "app-a", "app-b", "app-c")
    emulator.config(transition_seconds=1)
    emulator.clear_calls()
    gid = svc.group_id
    p1 = svc.group_props(gid, svc.members("app-a", "app-b"), Tags=[{"Key": "team", "Value": "payments"}])
    create = cfn.create(svc.group_type, p1, logical_id="Group")
    assert_success(create)
    assert create.physical_id == gid
    assert create.data == svc.group_data(gid)
    assert create.invocation.duration_s >= 0.9, create.invocation
    assert count(emulator.actions(svc.name), svc.create_group) == 1
    g = svc.state_group(emulator, gid)
    assert g["Status"] == "active" and sorted(g[svc.members_key]) == sorted(svc.members("app-a", "app-b"))
    assert g["Tags"] == {"userkeeper:stack-id": DEFAULT_STACK_ID, "userkeeper:logical-id": "Group",
                         "team": "payments"}
    assert svc.state_user(emulator, "app-a")[svc.user_groups_key] == [gid]

    # Update: drop app-a, add app-c, keep app-b; one modify call, waits for active.
    emulator.clear_calls()
    p2 = {**p1, svc.members_key: svc.members("app-b", "app-c")}
    upd = cfn.update(svc.group_type, gid, p2, p1, logical_id="Group")
    assert_success(upd)
    assert upd.physical_id == gid
    assert upd.data == svc.group_data(gid)
    assert upd.invocation.duration_s >= 0.9, upd.invocation
    acts = emulator.actions(svc.name)
    assert count(acts, svc.modify_group) == 1
    assert count(acts, svc.create_group) == 0 and count(acts, svc.delete_group) == 0
    g = svc.state_group(emulator, gid)
    assert g["Status"] == "active" and sorted(g[svc.members_key]) == sorted(svc.members("app-b", "app-c"))
    assert not g.get("PendingChanges")

    # Delete waits until the group is gone; the users stay.
    emulator.clear_calls()
    dele = cfn.delete(svc.group_type, gid, p2, logical_id="Group")
    assert_success(dele)
    assert dele.physical_id == gid
    assert dele.invocation.duration_s >= 0.9, dele.invocation
    assert count(emulator.actions(svc.name), svc.delete_group) == 1
    assert svc.describe_group(emulator, gid) is None
    assert svc.describe_user(emulator, "app-b") is not None


def test_group_update_while_the_group_is_busy_waits_then_sets_members_and_tags(cfn: CfnDriver, emulator: Emulator,
                                                                             svc: RedisFamily):
    """The Update finds the group in the middle of a change made out of band: it waits for it,
    then makes the members the template's (the out-of-band one removed again) and the tags,
    which the service refuses to touch while the group is busy."""
    svc.make_users(cfn, "app-a", "app-b", "app-c")
    gid = svc.group_id
    p1 = svc.group_props(gid, svc.members("app-a"))
    assert_success(cfn.create(svc.group_type, p1, logical_id="Group"))
    emulator.config(transition_seconds=2)  # long enough that the Update surely finds it busy
    svc.add_members(emulator, gid, ["app-c"])
    assert svc.describe_group(emulator, gid)["Status"] == "modifying"
    emulator.clear_calls()
    p2 = {**p1, svc.members_key: svc.members("app-b"), "Tags": [{"Key": "team", "Value": "payments"}]}
    upd = cfn.update(svc.group_type, gid, p2, p1, logical_id="Group")
    assert_success(upd)
    assert upd.data == svc.group_data(gid)
    assert count(emulator.actions(svc.name), svc.modify_group) == 1
    g = svc.state_group(emulator, gid)
    assert g["Status"] == "active" and sorted(g[svc.members_key]) == sorted(svc.members("app-b")), g
    assert g["Tags"] == {"userkeeper:stack-id": DEFAULT_STACK_ID, "userkeeper:logical-id": "Group",
                         "team": "payments"}


def test_group_replacement_on_id_change(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    svc.make_users(cfn, "app-a")
    emulator.config(transition_seconds=1)
    gid, new_id = svc.group_id, f"{svc.group_id}-v2"
    old = svc.group_props(gid, svc.members("app-a"))
    assert_success(cfn.create(svc.group_type, old, logical_id="Group"))
    emulator.clear_calls()
    new = svc.group_props(new_id, svc.members("app-a"))
    upd = cfn.update(svc.group_type, gid, new, old, logical_id="Group")
    assert_success(upd)
    assert upd.physical_id == new_id
    assert upd.data[svc.group_key] == new_id and upd.data["Arn"] == svc.group_arn(new_id)
    acts = emulator.actions(svc.name)
    assert count(acts, svc.create_group) == 1
    assert count(acts, svc.delete_group) == 0 and count(acts, svc.modify_group) == 0
    assert svc.describe_group(emulator, gid) is not None
    assert svc.describe_group(emulator, new_id)["Status"] == "active"
    assert sorted(svc.state_group(emulator, new_id)[svc.members_key]) == sorted(svc.members("app-a"))

    # CloudFormation's cleanup of the old one, then the stack delete
    cleanup = cfn.delete(svc.group_type, gid, old, logical_id="Group")
    assert_success(cleanup)
    assert cleanup.physical_id == gid
    assert svc.describe_group(emulator, gid) is None
    assert svc.describe_group(emulator, new_id) is not None
    dele = cfn.delete(svc.group_type, new_id, new, logical_id="Group")
    assert_success(dele)
    assert dele.physical_id == new_id
    assert dele.invocation.duration_s >= 0.9, dele.invocation
    assert svc.describe_group(emulator, new_id) is None


def test_group_delete_in_use_fails_naming_the_cluster(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    svc.make_users(cfn, "app-a")
    gid = svc.group_id
    props = svc.group_props(gid, svc.members("app-a"))
    assert_success(cfn.create(svc.group_type, props, logical_id="Group"))
    cluster = svc.put_group_in_use(emulator, gid)
    assert svc.state_group(emulator, gid)[svc.clusters_key] == [cluster]
    emulator.clear_calls()
    res = cfn.delete(svc.group_type, gid, props, logical_id="Group")
    assert_failed(res, cluster)
    assert res.physical_id == gid
    assert svc.describe_group(emulator, gid)["Status"] == "active"


def test_group_redelivered_create_and_foreign_collision(cfn: CfnDriver, emulator: Emulator, svc: RedisFamily):
    svc.make_users(cfn, "app-a")
    gid = svc.group_id
    ev = cfn.event("Create", svc.group_type, svc.group_props(gid, svc.members("app-a")), logical_id="Group")
    assert_success(cfn.send(ev))
    again = cfn.send(dict(ev, ResponseURL=cfn.receiver.url("again")))
    assert_success(again)
    assert again.physical_id == gid
    acts = emulator.actions(svc.name)
    assert count(acts, svc.create_group) == 1, \
        f"{svc.create_group} sent {count(acts, svc.create_group)} times: {acts}"

    svc.create_foreign_group(emulator, "foreign-group", svc.members("app-a"))
    emulator.clear_calls()
    props = svc.group_props("foreign-group", svc.members())
    ev = cfn.event("Create", svc.group_type, props, logical_id="Group2")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    assert {svc.modify_group, svc.delete_group, *svc.tag_actions}.isdisjoint(emulator.actions())
    emulator.clear_calls()
    dele = cfn.delete(svc.group_type, res.physical_id, props, logical_id="Group2")
    assert_success(dele)
    assert emulator.actions() == []
    assert svc.describe_group(emulator, "foreign-group") is not None
    foreign = svc.state_group(emulator, "foreign-group")
    assert foreign[svc.members_key] == svc.members("app-a") and foreign["Tags"] == {}
