"""End-to-end: ``Custom::ElastiCacheUser`` and ``Custom::ElastiCacheUserGroup``, the release
binary driven through a local Lambda Runtime API against the moto-based emulator.

Every ``cfn.send``/``create``/``update``/``delete`` already checks the response protocol
(exactly one accepted PUT, empty Content-Type, byte Content-Length, JSON body fields, <= 4096
bytes, invocation returns a response before its deadline): see ``cfn_helpers.assert_protocol``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from .cfn_helpers import CfnDriver, assert_failed, assert_success, count, marker
from .harness.constants import ACCOUNT_ID, DEFAULT_STACK_ID, GROUP_TYPE, USER_TYPE
from .harness.emulator import Emulator, create_activemq_broker, with_broker
from .harness.events import event_files, load_event
from .harness.function import Function
from .harness.receiver import ResponseReceiver
from .harness.views import CfnResult, contains_any

USER = USER_TYPE
GROUP = GROUP_TYPE
PW1 = "Correct-Horse-Battery-0001"
PW2 = "Correct-Horse-Battery-0002"
PW3 = "Correct-Horse-Battery-0003"
PLANTED = "Planted-Secret-Value-1234567"
PLANTED_IN_SECRET = "Planted-Secret-From-Manager-7654321"
MUTATING = {"CreateUser", "ModifyUser", "DeleteUser", "CreateUserGroup", "ModifyUserGroup", "DeleteUserGroup",
            "AddTagsToResource", "RemoveTagsFromResource"}


# ------------------------------------------------------------------------------------------
# helpers


def user_props(user_id: str = "app-user", user_name: str = "app", *, passwords: list[str] | None = None,
               auth: str | None = "password", engine: str = "redis", access: str = "on ~app:* +@all",
               **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"UserId": user_id, "UserName": user_name, "Engine": engine, "AccessString": access}
    if auth == "password":
        props["AuthenticationMode"] = {"Type": "password", "Passwords": list(passwords or [PW1])}
    elif auth is not None:
        props["AuthenticationMode"] = {"Type": auth}
    props.update(extra)
    return props


def default_user_props(user_id: str = "default-user") -> dict[str, Any]:
    return user_props(user_id, "default", auth="no-password-required", access="off ~* -@all")


def group_props(group_id: str = "app-users", user_ids: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"UserGroupId": group_id, "Engine": "redis", "UserIds": list(user_ids or ["default-user"]), **extra}


def describe_user(emulator: Emulator, user_id: str) -> dict[str, Any] | None:
    ec = emulator.client("elasticache")
    try:
        users = ec.describe_users(UserId=user_id)["Users"]
    except ec.exceptions.UserNotFoundFault:
        return None
    users = [u for u in users if u["UserId"] == user_id]
    return users[0] if users else None


def describe_group(emulator: Emulator, group_id: str) -> dict[str, Any] | None:
    ec = emulator.client("elasticache")
    try:
        groups = ec.describe_user_groups(UserGroupId=group_id)["UserGroups"]
    except ec.exceptions.UserGroupNotFoundFault:
        return None
    groups = [g for g in groups if g["UserGroupId"] == group_id]
    return groups[0] if groups else None


def tags_of(emulator: Emulator, arn: str) -> dict[str, str]:
    tags = emulator.client("elasticache").list_tags_for_resource(ResourceName=arn)["TagList"]
    return {t["Key"]: t["Value"] for t in tags}


def _find_records(node: Any, key_names: tuple[str, ...], value: str) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if any(node.get(k) == value for k in key_names):
            found.append(node)
        for v in node.values():
            found.extend(_find_records(v, key_names, value))
    elif isinstance(node, list):
        for v in node:
            found.extend(_find_records(v, key_names, value))
    return found


def emulator_passwords(emulator: Emulator, user_id: str) -> list[str] | None:
    """The passwords the emulator holds for a user (from /_emulator/state)."""
    for rec in _find_records(emulator.state(), ("UserId", "user_id", "id", "Id"), user_id):
        for k in ("Passwords", "passwords"):
            if k in rec:
                return list(rec[k] or [])
    return None


def mutations(emulator: Emulator) -> list[str]:
    return [a for a in emulator.actions() if a in MUTATING]


# ------------------------------------------------------------------------------------------
# users: lifecycle


def test_user_create_update_delete(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=1)
    props = user_props(Tags=[{"Key": "team", "Value": "payments"}])
    create = cfn.create(USER, props, logical_id="AppUser")
    assert_success(create)
    assert create.physical_id == "app-user"
    data = create.data
    assert data["UserId"] == "app-user"
    assert data["UserName"] == "app"
    assert data["Status"] == "active"
    assert data["Arn"] == f"arn:aws:elasticache:us-east-1:{ACCOUNT_ID}:user:app-user"
    assert isinstance(data["MinimumEngineVersion"], str) and data["MinimumEngineVersion"]
    # It waited for the asynchronous create: the user is active the moment the response came.
    assert create.invocation.duration_s >= 0.9, create.invocation
    acts = emulator.actions("elasticache")
    assert count(acts, "CreateUser") == 1
    assert acts.index("CreateUser") < len(acts) - 1 and "DescribeUsers" in acts[acts.index("CreateUser"):]
    u = describe_user(emulator, "app-user")
    assert u["Status"] == "active"
    assert u["UserName"] == "app" and u["Engine"] == "redis" and u["AccessString"] == "on ~app:* +@all"
    assert u["Authentication"]["Type"] == "password" and u["Authentication"]["PasswordCount"] == 1
    assert emulator_passwords(emulator, "app-user") in (None, [PW1])
    tags = tags_of(emulator, u["ARN"])
    assert tags["userkeeper:stack-id"] == DEFAULT_STACK_ID
    assert tags["userkeeper:logical-id"] == "AppUser"
    assert tags["team"] == "payments"

    # Update: access string only.
    emulator.clear_calls()
    new = {**props, "AccessString": "on ~app:* +@read"}
    upd = cfn.update(USER, "app-user", new, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == "app-user"
    assert upd.data["Status"] == "active" and upd.data["UserId"] == "app-user"
    assert upd.invocation.duration_s >= 0.9, upd.invocation
    acts = emulator.actions("elasticache")
    assert count(acts, "ModifyUser") == 1 and count(acts, "CreateUser") == 0 and count(acts, "DeleteUser") == 0
    u = describe_user(emulator, "app-user")
    assert u["Status"] == "active" and u["AccessString"] == "on ~app:* +@read"

    # Delete waits until the user is gone.
    emulator.clear_calls()
    dele = cfn.delete(USER, "app-user", new, logical_id="AppUser")
    assert_success(dele)
    assert dele.physical_id == "app-user"
    assert dele.invocation.duration_s >= 0.9, dele.invocation
    assert count(emulator.actions("elasticache"), "DeleteUser") == 1
    assert describe_user(emulator, "app-user") is None


def test_user_password_change_sets_new_passwords(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=1)
    props = user_props(passwords=[PW1])
    assert_success(cfn.create(USER, props, logical_id="AppUser"))
    emulator.clear_calls()
    new = user_props(passwords=[PW2, PW1])
    upd = cfn.update(USER, "app-user", new, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == "app-user"
    assert count(emulator.actions("elasticache"), "ModifyUser") == 1
    u = describe_user(emulator, "app-user")
    assert u["Status"] == "active"
    assert u["Authentication"]["PasswordCount"] == 2
    assert emulator_passwords(emulator, "app-user") in (None, [PW2, PW1])


def test_user_update_does_not_reset_unchanged_passwords(cfn: CfnDriver, emulator: Emulator):
    """Passwords are re-set only when a password property changed: a password changed out of
    band (e.g. by rotation) survives an Update that changes only the access string."""
    props = user_props(passwords=[PW1])
    assert_success(cfn.create(USER, props, logical_id="AppUser"))
    emulator.client("elasticache").modify_user(UserId="app-user", Passwords=[PW3])
    time.sleep(0.1)
    assert describe_user(emulator, "app-user")["Status"] == "active"
    new = {**props, "AccessString": "on ~app:* +@read"}
    assert_success(cfn.update(USER, "app-user", new, props, logical_id="AppUser"))
    assert describe_user(emulator, "app-user")["AccessString"] == "on ~app:* +@read"
    pws = emulator_passwords(emulator, "app-user")
    assert pws is not None, "emulator state does not expose passwords; cannot check"
    assert pws == [PW3], f"passwords were re-set although no password property changed: {pws}"


def test_user_update_without_changes_modifies_nothing(cfn: CfnDriver, emulator: Emulator):
    props = user_props()
    assert_success(cfn.create(USER, props, logical_id="AppUser"))
    emulator.clear_calls()
    new = {**props, "ServiceTimeout": "600"}
    upd = cfn.update(USER, "app-user", new, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == "app-user"
    assert mutations(emulator) == []
    assert upd.data["UserId"] == "app-user" and upd.data["Status"] == "active"


def test_user_replacement_on_user_id_change(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=1)
    old = user_props("app-user")
    assert_success(cfn.create(USER, old, logical_id="AppUser"))
    emulator.clear_calls()
    new = user_props("app-user-v2")
    upd = cfn.update(USER, "app-user", new, old, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == "app-user-v2"
    assert upd.data["UserId"] == "app-user-v2"
    acts = emulator.actions("elasticache")
    assert count(acts, "CreateUser") == 1 and count(acts, "DeleteUser") == 0
    assert describe_user(emulator, "app-user-v2")["Status"] == "active"
    # The old user stays until CloudFormation's cleanup Delete.
    assert describe_user(emulator, "app-user") is not None
    tags = tags_of(emulator, describe_user(emulator, "app-user-v2")["ARN"])
    assert tags["userkeeper:logical-id"] == "AppUser" and tags["userkeeper:stack-id"] == DEFAULT_STACK_ID

    cleanup = cfn.delete(USER, "app-user", old, logical_id="AppUser")
    assert_success(cleanup)
    assert cleanup.physical_id == "app-user"
    assert describe_user(emulator, "app-user") is None
    assert describe_user(emulator, "app-user-v2")["Status"] == "active"


def test_user_name_change_without_new_user_id_fails(cfn: CfnDriver, emulator: Emulator):
    old = user_props("app-user", "app")
    assert_success(cfn.create(USER, old, logical_id="AppUser"))
    emulator.clear_calls()
    new = user_props("app-user", "app-renamed")
    upd = cfn.update(USER, "app-user", new, old, logical_id="AppUser")
    assert_failed(upd, "UserId")
    assert upd.physical_id == "app-user", "a failed Update must keep the physical id"
    assert mutations(emulator) == []
    assert describe_user(emulator, "app-user")["UserName"] == "app"


def test_rollback_of_failed_user_name_change_succeeds(cfn: CfnDriver, emulator: Emulator):
    """Lifecycle case 4: after the failed Update, CloudFormation rolls back with an Update whose
    old and new properties are swapped. The user still has its original name, so the rollback
    must succeed (else the stack ends in UPDATE_ROLLBACK_FAILED)."""
    old = user_props("app-user", "app")
    assert_success(cfn.create(USER, old, logical_id="AppUser"))
    new = user_props("app-user", "app-renamed")
    assert_failed(cfn.update(USER, "app-user", new, old, logical_id="AppUser"))
    rollback = cfn.update(USER, "app-user", old, new, logical_id="AppUser")
    assert_success(rollback)
    assert rollback.physical_id == "app-user"


def test_user_password_from_secret(cfn: CfnDriver, emulator: Emulator):
    sm = emulator.client("secretsmanager")
    arn = sm.create_secret(Name="app/redis", SecretString=json.dumps({"username": "app", "password": PW2}))["ARN"]
    props = user_props(auth=None, PasswordSecretArn=arn)
    res = cfn.create(USER, props, logical_id="AppUser")
    assert_success(res)
    assert "GetSecretValue" in emulator.actions()
    u = describe_user(emulator, "app-user")
    assert u["Authentication"]["PasswordCount"] == 1
    assert emulator_passwords(emulator, "app-user") in (None, [PW2])
    assert PW2 not in json.dumps(res.response)


@pytest.mark.parametrize(
    "extra,auth_type",
    [
        ({"AuthenticationMode": {"Type": "no-password-required"}}, "no-password"),
        ({"NoPasswordRequired": "true"}, "no-password"),
        ({"AuthenticationMode": {"Type": "iam"}}, "iam"),
        ({"Passwords": [PW1, PW2], "NoPasswordRequired": "false"}, "password"),
    ],
    ids=["authmode-no-password", "NoPasswordRequired-true-string", "iam", "Passwords-list-false-string"],
)
def test_user_authentication_variants(cfn: CfnDriver, emulator: Emulator, extra: dict, auth_type: str):
    props = {**user_props(auth=None), **extra}
    res = cfn.create(USER, props, logical_id="AppUser")
    assert_success(res)
    u = describe_user(emulator, "app-user")
    assert u["Authentication"]["Type"] in (auth_type, "no-password-required" if auth_type == "no-password" else auth_type)


def test_user_valkey_engine(cfn: CfnDriver, emulator: Emulator):
    res = cfn.create(USER, user_props(engine="valkey"), logical_id="AppUser")
    assert_success(res)
    assert describe_user(emulator, "app-user")["Engine"] == "valkey"


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
    ],
    ids=["15-chars", "129-chars", "comma", "quote", "slash", "at", "three-passwords"],
)
def test_user_bad_passwords_fail_before_any_aws_call(cfn: CfnDriver, emulator: Emulator, passwords: list[str]):
    ev = cfn.event("Create", USER, user_props(passwords=passwords), logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []
    for pw in passwords:
        assert pw not in res.reason


def test_user_password_limits_accept_16_and_128(cfn: CfnDriver, emulator: Emulator):
    res = cfn.create(USER, user_props(passwords=["a" * 16, "B" * 128]), logical_id="AppUser")
    assert_success(res)


def test_unknown_resource_type(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", "Custom::ElastiCacheUsr", user_props())
    res = cfn.send(ev)
    assert_failed(res, "Custom::ElastiCacheUser", "Custom::ElastiCacheUserGroup")
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


def test_delete_after_failed_create_of_unknown_type_is_noop(cfn: CfnDriver, emulator: Emulator):
    """Lifecycle case 1: whatever failed the Create, the Delete of its marker must succeed,
    or the stack cannot be deleted."""
    ev = cfn.event("Create", "Custom::Nonsense", {"Foo": "bar"})
    res = cfn.send(ev)
    assert_failed(res)
    dele = cfn.delete("Custom::Nonsense", res.physical_id, {"Foo": "bar"})
    assert_success(dele)
    assert dele.physical_id == res.physical_id
    assert emulator.actions() == []


@pytest.mark.parametrize("rtype,props,bad", [
    (USER, {**user_props(), "UserNmae": "app"}, "UserNmae"),
    (GROUP, {**group_props(), "UserIDs": ["default-user"]}, "UserIDs"),
], ids=["user", "group"])
def test_unknown_property_fails_naming_it(cfn: CfnDriver, emulator: Emulator, rtype, props, bad):
    ev = cfn.event("Create", rtype, props)
    res = cfn.send(ev)
    assert_failed(res, bad)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


@pytest.mark.parametrize("rtype,missing", [
    (USER, "UserId"), (USER, "UserName"), (USER, "Engine"), (GROUP, "UserGroupId"),
])
def test_missing_required_property_fails_naming_it(cfn: CfnDriver, emulator: Emulator, rtype, missing):
    props = user_props() if rtype == USER else group_props()
    del props[missing]
    ev = cfn.event("Create", rtype, props)
    res = cfn.send(ev)
    assert_failed(res, missing)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


def test_bad_boolean_string_fails_before_any_aws_call(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", USER, {**user_props(auth=None), "NoPasswordRequired": "maybe"})
    res = cfn.send(ev)
    assert_failed(res, "NoPasswordRequired")
    assert emulator.actions() == []


def test_huge_bad_input_still_fits_4096_bytes(cfn: CfnDriver, emulator: Emulator):
    """A reason built from enormous input is cut so the body stays within 4096 bytes, keeps
    valid UTF-8 and has no control characters."""
    name = "Ünknown\x1b[31m" + "é" * 3000
    ev = cfn.event("Create", USER, {**user_props(), name: "x", "UserId": "bad\x07id-" + "ü" * 2000})
    res = cfn.send(ev)  # assert_protocol: <= 4096 bytes, no control characters in Reason
    assert_failed(res)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


@pytest.mark.parametrize("rtype", [USER, GROUP])
def test_service_token_and_timeout_accepted(cfn: CfnDriver, emulator: Emulator, rtype):
    if rtype == GROUP:
        assert_success(cfn.create(USER, default_user_props(), logical_id="DefaultUser"))
        props = group_props(ServiceTimeout="300")
    else:
        props = user_props(ServiceTimeout="300")
    res = cfn.create(rtype, props, logical_id="Res")
    assert_success(res)


# ------------------------------------------------------------------------------------------
# users: idempotency and ownership


def test_redelivered_create_is_idempotent(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", USER, user_props(), logical_id="AppUser")
    first = cfn.send(ev)
    assert_success(first)
    again = dict(ev, ResponseURL=cfn.receiver.url("redelivered"))
    second = cfn.send(again)
    assert_success(second)
    assert second.physical_id == first.physical_id == "app-user"
    # and a retry with a new request id (same stack + logical id) as well
    third = cfn.create(USER, user_props(), logical_id="AppUser")
    assert_success(third)
    assert third.physical_id == "app-user"
    users = [u for u in emulator.state()["elasticache"]["users"] if u["UserId"] == "app-user"]
    assert len(users) == 1 and users[0]["Tags"]["userkeeper:logical-id"] == "AppUser"
    acts = emulator.actions("elasticache")
    assert count(acts, "CreateUser") == 1, f"CreateUser sent {count(acts, 'CreateUser')} times for one user: {acts}"


def test_create_retried_by_lambda_after_delivery_failure(cfn: CfnDriver, emulator: Emulator):
    """The ResponseURL refuses (403) so the invocation fails; Lambda retries the same event: the
    retry must answer SUCCESS with the same physical id, without a second user."""
    cfn.receiver.statuses.extend([403] * 20)
    ev = cfn.event("Create", USER, user_props(), logical_id="AppUser")
    first = cfn.send(ev, timeout_s=20, check=False)
    assert first.invocation.finished and first.invocation.before_deadline, first.invocation
    assert not first.accepted
    cfn.receiver.statuses.clear()
    retry = cfn.send(ev)
    assert_success(retry)
    assert retry.physical_id == "app-user"
    assert len(retry.puts) - len(first.puts) == 1  # the same URL: only the new PUT is counted here
    users = [u for u in emulator.state()["elasticache"]["users"] if u["UserId"] == "app-user"]
    assert len(users) == 1 and users[0]["Status"] == "active"


def test_create_colliding_with_foreign_user(cfn: CfnDriver, emulator: Emulator):
    ec = emulator.client("elasticache")
    ec.create_user(UserId="app-user", UserName="someone-else", Engine="redis", AccessString="on ~* +@all",
                   Passwords=[PW3])
    emulator.clear_calls()
    ev = cfn.event("Create", USER, user_props(), logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    assert count(emulator.actions(), "CreateUser") <= 1  # an attempt that AWS refused at most
    assert {"ModifyUser", "DeleteUser", "AddTagsToResource"}.isdisjoint(emulator.actions())
    emulator.clear_calls()
    dele = cfn.delete(USER, res.physical_id, user_props(), logical_id="AppUser")
    assert_success(dele)
    assert dele.physical_id == res.physical_id
    assert emulator.actions() == []
    foreign = describe_user(emulator, "app-user")
    assert foreign is not None and foreign["UserName"] == "someone-else"


def test_create_colliding_with_user_of_another_logical_id(cfn: CfnDriver, emulator: Emulator):
    assert_success(cfn.create(USER, user_props(), logical_id="FirstUser"))
    ev = cfn.event("Create", USER, user_props(), logical_id="SecondUser")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    tags = tags_of(emulator, describe_user(emulator, "app-user")["ARN"])
    assert tags["userkeeper:logical-id"] == "FirstUser"


def test_create_colliding_with_user_of_another_stack(cfn_factory, fn: Function, emulator: Emulator):
    other = DEFAULT_STACK_ID.replace("e2e-stack", "other-stack")
    assert_success(cfn_factory(fn, other).create(USER, user_props(), logical_id="AppUser"))
    ev_driver = cfn_factory(fn)
    res = ev_driver.create(USER, user_props(), logical_id="AppUser")
    assert_failed(res, "not managed by this stack")
    assert res.physical_id.startswith("userkeeper:failed-create:")


@pytest.mark.parametrize("rtype", [USER, GROUP])
@pytest.mark.parametrize("physical_id", [
    "userkeeper:failed-create:2f1c0d9e-5b8a-4e7f-9c6d-3a2b1c0d9e8f",
    "mystack-MyUser-ABC:def",
    "arn:aws:cloudformation:us-east-1:123456789012:stack/mystack/1234",
    "e2e-stack-MyResource-1X2Y3Z4W5V6U/with/slash",
], ids=["failed-create-marker", "colon", "arn", "slash"])
def test_delete_of_ids_we_never_issue_is_a_noop(cfn: CfnDriver, emulator: Emulator, rtype, physical_id):
    props = user_props() if rtype == USER else group_props()
    res = cfn.delete(rtype, physical_id, props)
    assert_success(res)
    assert res.physical_id == physical_id
    assert emulator.actions() == []


def test_delete_of_absent_user_and_group_succeeds(cfn: CfnDriver, emulator: Emulator):
    res = cfn.delete(USER, "never-created", user_props("never-created"))
    assert_success(res)
    assert res.physical_id == "never-created"
    res = cfn.delete(GROUP, "never-created-group", group_props("never-created-group"))
    assert_success(res)
    assert res.physical_id == "never-created-group"


def test_failed_create_then_delete_marker(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", USER, user_props(passwords=["too-short"]), logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res)
    assert res.physical_id == f"userkeeper:failed-create:{ev['RequestId']}"
    dele = cfn.delete(USER, res.physical_id, ev["ResourceProperties"], logical_id="AppUser")
    assert_success(dele)
    assert dele.physical_id == res.physical_id
    assert emulator.actions() == []


# ------------------------------------------------------------------------------------------
# the PUT to the ResponseURL


def test_put_retried_after_500(cfn: CfnDriver, emulator: Emulator):
    cfn.receiver.statuses.extend([500])
    res = cfn.create(USER, user_props(), logical_id="AppUser")
    assert_success(res)
    assert [p.status for p in res.puts] == [500, 200]
    assert res.puts[0].body == res.puts[1].body


def test_put_retried_after_several_errors(cfn: CfnDriver, emulator: Emulator):
    cfn.receiver.statuses.extend([500, 503, 502])
    ev = cfn.event("Delete", USER, user_props("gone"), physical_id="gone")
    res = cfn.send(ev)
    assert_success(res)
    assert [p.status for p in res.puts] == [500, 503, 502, 200]
    assert len({p.body for p in res.puts}) == 1


def test_slow_receiver_gets_one_put(cfn: CfnDriver, emulator: Emulator):
    cfn.receiver.delay_s = 1.5
    res = cfn.delete(USER, "gone", user_props("gone"))
    assert_success(res)
    assert len(res.puts) == 1


@pytest.mark.parametrize("mode", ["refused", "blackhole"])
def test_receiver_down_invocation_ends_before_deadline(cfn: CfnDriver, emulator: Emulator, mode: str):
    if mode == "refused":
        cfn.receiver.down()
    else:
        cfn.receiver.blackhole()
    ev = cfn.event("Delete", USER, user_props("gone"), physical_id="gone")
    res = cfn.send(ev, timeout_s=15, check=False)
    inv = res.invocation
    assert inv.finished, f"no result at all (hang): {inv}"
    assert inv.before_deadline, f"result came after the deadline: {inv}"
    assert inv.kind in ("response", "error")
    assert cfn.receiver.requests == []  # nothing reached the real receiver
    assert cfn.fn.exited() is None, "the function died"


# ------------------------------------------------------------------------------------------
# deadlines


def test_create_times_out_before_the_lambda_deadline(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=60)
    ev = cfn.event("Create", USER, user_props(), logical_id="AppUser")
    res = cfn.send(ev, timeout_s=10)
    assert_failed(res, "timed out while waiting for")
    put = res.accepted[0]
    assert put.wall_ms < res.invocation.deadline_ms
    assert res.invocation.duration_s < 10


def test_service_timeout_bounds_the_wait(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=60)
    ev = cfn.event("Create", USER, user_props(ServiceTimeout="8"), logical_id="AppUser")
    res = cfn.send(ev, timeout_s=60)
    assert_failed(res, "timed out while waiting for")
    waited = res.accepted[0].at - res.invocation.served_at
    assert waited <= 8.5, f"answered {waited:.2f}s after the event, ServiceTimeout is 8"
    assert waited >= 3, f"gave up suspiciously early ({waited:.2f}s)"


# ------------------------------------------------------------------------------------------
# secrets never reach logs or responses


def _secret_scenario(cfn: CfnDriver, emulator: Emulator) -> None:
    sm = emulator.client("secretsmanager")
    arn = sm.create_secret(Name="app/redis", SecretString=json.dumps({"password": PLANTED_IN_SECRET}))["ARN"]
    emulator.config(transition_seconds=0.5)
    p1 = user_props(passwords=[PLANTED])
    assert_success(cfn.create(USER, p1, logical_id="AppUser"))
    p2 = user_props(auth=None, PasswordSecretArn=arn)
    assert_success(cfn.update(USER, "app-user", p2, p1, logical_id="AppUser"))
    # a bad password that contains the planted one
    bad = user_props(passwords=[PLANTED + "/"])
    assert_failed(cfn.update(USER, "app-user", bad, p2, logical_id="AppUser"))
    # an unknown property whose value is a secret
    assert_failed(cfn.create(USER, {**user_props("other"), "Pasword": PLANTED}, logical_id="Other"))
    # AWS refuses: a collision with a foreign user
    emulator.client("elasticache").create_user(UserId="foreign", UserName="f", Engine="redis",
                                               AccessString="on", Passwords=[PW3])
    assert_failed(cfn.create(USER, user_props("foreign", passwords=[PLANTED]), logical_id="Foreign"))
    assert_success(cfn.delete(USER, "app-user", p2, logical_id="AppUser"))


@pytest.mark.parametrize("log_format,extra_env", [
    (None, {}),
    ("JSON", {}),
    ("JSON", {"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}),
    (None, {"RUST_LOG": "debug"}),
    # Lambda's advanced logging controls let an operator pick TRACE (ApplicationLogLevel).
    ("JSON", {"AWS_LAMBDA_LOG_LEVEL": "TRACE"}),
], ids=["text", "json", "json-debug", "text-rust-log-debug", "json-trace"])
def test_secrets_never_logged(start_function, cfn_factory, emulator: Emulator, log_format, extra_env):
    fn = start_function(log_format=log_format, extra_env=extra_env)
    cfn = cfn_factory(fn)
    _secret_scenario(cfn, emulator)
    fn.stop()
    lines = fn.log_lines()
    assert lines, "the function logged nothing at all; the test would prove nothing"
    needles = [PLANTED, PLANTED_IN_SECRET, *cfn.receiver.secrets]
    leaks = contains_any(lines, needles)
    assert not leaks, f"secrets in logs: {leaks[:5]}"
    bodies = [p.body for r in cfn.results for p in r.puts]
    bodies += [r.invocation.body or b"" for r in cfn.results]
    leaks = contains_any(bodies, needles)
    assert not leaks, f"secrets in responses: {leaks[:5]}"


def _walk(node: Any, path: str = ""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, node


def test_json_logs_carry_request_context(start_function, cfn_factory, emulator: Emulator):
    """AWS_LAMBDA_LOG_FORMAT=JSON: every line is one JSON object (lambda_runtime's tracing JSON:
    ``{"level", "fields": {"message", ...}, "span": {...}, "spans": [...]}``). Every line logged
    while handling a custom-resource event sits in the ``Lambda runtime invoke`` span (with
    ``requestId`` = the Lambda request id) and in the ``custom_resource`` span (with
    ``logical_id`` and ``resource_type`` of the request)."""
    fn = start_function(log_format="JSON")
    cfn = cfn_factory(fn)
    emulator.config(transition_seconds=0.5)
    results = [
        cfn.create(USER, user_props(), logical_id="AppUser"),
        cfn.create("Custom::Nope", {"A": "b"}, logical_id="Strange"),
        cfn.create(USER, {**user_props("x"), "UserNmae": "y"}, logical_id="Typo"),
        cfn.delete(USER, "app-user", user_props(), logical_id="AppUser"),
    ]
    fn.stop()
    objs = []
    for ln in fn.lines:
        try:
            obj = json.loads(ln.text)
        except ValueError:
            pytest.fail(f"not JSON ({ln.stream}): {ln.text!r}")
        assert isinstance(obj, dict), ln.text
        assert obj.get("level") in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR"), obj
        assert isinstance(obj.get("fields", {}).get("message"), str), obj
        objs.append(obj)
    # Lines before the first invocation (init) cannot carry a request; every later one must.
    first = next((i for i, o in enumerate(objs) if o.get("spans")), len(objs))
    by_request: dict[str, list[dict]] = {}
    for o in objs[first:]:
        invoke = [sp for sp in o.get("spans", []) if sp.get("name") == "Lambda runtime invoke"]
        assert invoke and invoke[0].get("requestId"), f"line without the request id: {o}"
        by_request.setdefault(invoke[0]["requestId"], []).append(o)
    for r in results:
        lines = by_request.get(r.invocation.request_id)
        assert lines, f"no log line for request {r.invocation.request_id} ({r.event['ResourceType']})"
        for o in lines:
            cr = [sp for sp in o["spans"] if sp.get("name") == "custom_resource"]
            assert cr, f"line outside the custom_resource span: {o}"
            assert cr[-1].get("logical_id") == r.event["LogicalResourceId"], o
            assert cr[-1].get("resource_type") == r.event["ResourceType"], o
    assert set(by_request) <= {r.invocation.request_id for r in results}


# ------------------------------------------------------------------------------------------
# events that are not custom-resource requests


def test_rotation_event_is_an_invocation_error(fn: Function, receiver: ResponseReceiver, emulator: Emulator):
    ev = {"Step": "createSecret", "SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
          "ClientRequestToken": str(uuid.uuid4())}
    inv = fn.invoke(ev, timeout_s=20)
    assert inv.kind == "error", inv
    assert inv.before_deadline
    err = inv.result
    assert isinstance(err, dict) and err.get("errorMessage"), err
    assert receiver.requests == []


@pytest.mark.parametrize("event", [
    {"hello": "world"},
    {"RequestType": "Create", "ResourceType": USER, "ResourceProperties": {}},  # no ResponseURL
    [1, 2, 3],
    "just a string",
], ids=["object", "cfn-like-without-url", "array", "string"])
def test_unrecognised_event_is_an_invocation_error(fn: Function, receiver: ResponseReceiver,
                                                   emulator: Emulator, event):
    inv = fn.invoke(event, timeout_s=20)
    assert inv.kind == "error", inv
    assert inv.before_deadline
    err = inv.result
    assert isinstance(err, dict) and err.get("errorMessage"), err
    assert receiver.requests == []
    assert emulator.actions() == []
    assert fn.exited() is None


# ------------------------------------------------------------------------------------------
# user groups


def _make_users(cfn: CfnDriver, *ids: str) -> None:
    assert_success(cfn.create(USER, default_user_props(), logical_id="DefaultUser"))
    for i in ids:
        assert_success(cfn.create(USER, user_props(i, i), logical_id=f"U{i.replace('-', '')}"))


def test_group_lifecycle(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=1)
    _make_users(cfn, "app-a", "app-b")
    emulator.clear_calls()
    g1 = group_props("app-users", ["default-user", "app-a"], Tags=[{"Key": "team", "Value": "payments"}])
    create = cfn.create(GROUP, g1, logical_id="Group")
    assert_success(create)
    assert create.physical_id == "app-users"
    assert create.data["UserGroupId"] == "app-users"
    assert create.data["Status"] == "active"
    assert create.data["Arn"] == f"arn:aws:elasticache:us-east-1:{ACCOUNT_ID}:usergroup:app-users"
    assert create.invocation.duration_s >= 0.9
    assert count(emulator.actions(), "CreateUserGroup") == 1
    g = describe_group(emulator, "app-users")
    assert g["Status"] == "active" and sorted(g["UserIds"]) == ["app-a", "default-user"]
    tags = tags_of(emulator, g["ARN"])
    assert tags["userkeeper:stack-id"] == DEFAULT_STACK_ID
    assert tags["userkeeper:logical-id"] == "Group"
    assert tags["team"] == "payments"

    # add one, remove one
    emulator.clear_calls()
    g2 = {**g1, "UserIds": ["default-user", "app-b"]}
    upd = cfn.update(GROUP, "app-users", g2, g1, logical_id="Group")
    assert_success(upd)
    assert upd.physical_id == "app-users"
    assert upd.data["Status"] == "active"
    assert upd.invocation.duration_s >= 0.9
    acts = emulator.actions()
    assert count(acts, "ModifyUserGroup") == 1 and count(acts, "CreateUserGroup") == 0
    g = describe_group(emulator, "app-users")
    assert g["Status"] == "active" and sorted(g["UserIds"]) == ["app-b", "default-user"]

    # replacement
    emulator.clear_calls()
    g3 = {**g2, "UserGroupId": "app-users-v2"}
    rep = cfn.update(GROUP, "app-users", g3, g2, logical_id="Group")
    assert_success(rep)
    assert rep.physical_id == "app-users-v2"
    assert rep.data["UserGroupId"] == "app-users-v2"
    acts = emulator.actions()
    assert count(acts, "CreateUserGroup") == 1 and count(acts, "DeleteUserGroup") == 0
    assert describe_group(emulator, "app-users") is not None
    assert describe_group(emulator, "app-users-v2")["Status"] == "active"

    # CloudFormation's cleanup of the old one, then the stack delete
    old = cfn.delete(GROUP, "app-users", g2, logical_id="Group")
    assert_success(old)
    assert old.physical_id == "app-users"
    assert describe_group(emulator, "app-users") is None
    new = cfn.delete(GROUP, "app-users-v2", g3, logical_id="Group")
    assert_success(new)
    assert new.physical_id == "app-users-v2"
    assert new.invocation.duration_s >= 0.9
    assert describe_group(emulator, "app-users-v2") is None


def test_group_delete_in_use_by_replication_group_fails(cfn: CfnDriver, emulator: Emulator):
    _make_users(cfn)
    assert_success(cfn.create(GROUP, group_props("app-users"), logical_id="Group"))
    ec = emulator.client("elasticache")
    ec.create_replication_group(ReplicationGroupId="cache-rg", ReplicationGroupDescription="e2e",
                                Engine="redis", CacheNodeType="cache.t4g.micro", NumCacheClusters=1,
                                TransitEncryptionEnabled=True, UserGroupIds=["app-users"])
    res = cfn.delete(GROUP, "app-users", group_props("app-users"), logical_id="Group")
    assert_failed(res)
    assert "replication group" in res.reason.lower() or "cache-rg" in res.reason, res.reason
    assert res.physical_id == "app-users"
    assert describe_group(emulator, "app-users") is not None


def test_group_redelivered_create_and_foreign_collision(cfn: CfnDriver, emulator: Emulator):
    _make_users(cfn)
    ev = cfn.event("Create", GROUP, group_props("app-users"), logical_id="Group")
    assert_success(cfn.send(ev))
    again = cfn.send(dict(ev, ResponseURL=cfn.receiver.url("again")))
    assert_success(again)
    assert again.physical_id == "app-users"
    acts = emulator.actions()
    assert count(acts, "CreateUserGroup") == 1, f"CreateUserGroup sent {count(acts, 'CreateUserGroup')} times: {acts}"

    emulator.client("elasticache").create_user_group(UserGroupId="foreign-group", Engine="redis",
                                                     UserIds=["default-user"])
    emulator.clear_calls()
    ev = cfn.event("Create", GROUP, group_props("foreign-group"), logical_id="Group2")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    emulator.clear_calls()
    dele = cfn.delete(GROUP, res.physical_id, group_props("foreign-group"), logical_id="Group2")
    assert_success(dele)
    assert emulator.actions() == []
    assert describe_group(emulator, "foreign-group") is not None


def test_group_create_times_out_before_deadline(cfn: CfnDriver, emulator: Emulator):
    _make_users(cfn)
    emulator.config(transition_seconds=60)
    res = cfn.create(GROUP, group_props("app-users"), logical_id="Group", timeout_s=10)
    assert_failed(res, "timed out while waiting for")


# ------------------------------------------------------------------------------------------
# the sample events under events/ (the files users pass to `cargo lambda invoke --data-file`)


def test_sample_events_drive_the_binary(fn: Function, receiver: ResponseReceiver, emulator: Emulator):
    emulator.config(transition_seconds=0.3)
    driver = CfnDriver(fn, receiver, stack_id="unused")
    seen = []

    def run(name: str, **overrides: Any) -> CfnResult:
        ev = load_event(name, response_url=receiver.url(name), **overrides)
        res = driver.send(ev)
        seen.append(name)
        assert_success(res)
        if ev["RequestType"] == "Delete":
            assert res.physical_id == ev["PhysicalResourceId"]
        return res

    assert run("elasticache-user-default-create").physical_id == "app-default"
    assert run("elasticache-user-create").physical_id == "app-user"
    assert run("elasticache-user-update").physical_id == "app-user"
    assert describe_user(emulator, "app-user")["AccessString"] == "on ~app:* +@read +@write"
    assert run("elasticache-user-group-create").physical_id == "app-users"
    assert run("elasticache-user-group-update").physical_id == "app-users"
    assert sorted(describe_group(emulator, "app-users")["UserIds"]) == ["app-default", "app-user"]
    assert run("elasticache-user-group-update-replace").physical_id == "app-users-v2"
    run("elasticache-user-group-delete")
    assert describe_group(emulator, "app-users") is None
    assert describe_group(emulator, "app-users-v2") is not None
    assert run("elasticache-user-update-replace").physical_id == "app-user-v2"
    run("elasticache-user-delete")
    assert describe_user(emulator, "app-user") is None
    assert describe_user(emulator, "app-user-v2") is not None

    mdb = emulator.client("memorydb")
    run("memorydb-user-create")
    run("memorydb-acl-create")
    assert mdb.describe_acls(ACLName="app-acl")["ACLs"][0]["UserNames"] == ["app-mdb"]
    run("memorydb-user-update")
    assert mdb.describe_users(UserName="app-mdb")["Users"][0]["AccessString"] == "on ~app:* +@read +@write"
    assert run("memorydb-user-update-replace").physical_id == "app-mdb-v2"
    run("memorydb-acl-update")
    assert mdb.describe_acls(ACLName="app-acl")["ACLs"][0]["UserNames"] == ["app-mdb-v2"]
    assert run("memorydb-acl-update-replace").physical_id == "app-acl-v2"
    run("memorydb-acl-delete")
    run("memorydb-user-delete")
    assert [u["Name"] for u in mdb.describe_users()["Users"] if u["Name"].startswith("app-mdb")] == ["app-mdb-v2"]

    broker = create_activemq_broker(emulator)

    def run_mq(name: str) -> CfnResult:
        ev = with_broker(load_event(name, response_url=receiver.url(name)), broker)
        res = driver.send(ev)
        seen.append(name)
        assert_success(res)
        return res

    created = run_mq("mq-user-create")
    assert created.physical_id == f"{broker}/app-mq"
    assert created.data["PendingChange"] == "CREATE", "ActiveMQ applies users at the next reboot"
    run_mq("mq-user-update")
    assert run_mq("mq-user-update-replace").physical_id == f"{broker}/app-mq-v2"
    assert run_mq("mq-user-delete").physical_id == f"{broker}/app-mq"
    pending = {u["Username"]: u.get("PendingChange") for u in emulator.client("mq").list_users(BrokerId=broker)["Users"]}
    assert pending.get("app-mq-v2") == "CREATE" and pending.get("app-mq") in (None, "DELETE"), pending
    assert {p.stem for p in event_files()} == set(seen)
