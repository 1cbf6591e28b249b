"""Self-tests of the emulator: boto3 (the same botocore model the Rust SDK is generated from)
against ``python -m tests.emulator`` started on a free loopback port (see ``conftest.py``).
This file: the server, ElastiCache, and the control API; ``test_emulator_memorydb.py``,
``test_emulator_mq.py`` and ``test_emulator_lambda.py`` test the other services.

    pip install -r tests/requirements.txt
    python -m pytest tests/emulator -q
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .selftest import Server, client, control, error_of, strict, transition, wait_for

PW1, PW2, PW3 = "first-password-0001", "second-password-002", "third-password-0003"


@pytest.fixture
def ec(server: Server) -> Any:
    return client(server, "elasticache")


def raw_query(server: Server, action: str, **params: str) -> tuple[int, str]:
    """An awsQuery call without boto3, to look at the XML itself."""
    body = urllib.parse.urlencode({"Action": action, "Version": "2015-02-02", **params}).encode()
    req = urllib.request.Request(server.url + "/", data=body, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    req.add_header(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/elasticache/aws4_request, "
        "SignedHeaders=host, Signature=0",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def make_user(ec: Any, user_id: str, name: str | None = None, passwords: list[str] | None = None, **kw: Any) -> dict:
    auth = {"Passwords": passwords or [PW1]} if name != "default" else {"NoPasswordRequired": True}
    return ec.create_user(
        UserId=user_id, UserName=name or user_id, Engine="redis", AccessString="on ~* +@all", **auth, **kw
    )


def state_user(server: Server, user_id: str) -> dict | None:
    users = control(server, "GET", "state")["elasticache"]["users"]
    return next((u for u in users if u["UserId"] == user_id), None)


def user_status(ec: Any, user_id: str) -> str:
    try:
        return ec.describe_users(UserId=user_id)["Users"][0]["Status"]
    except ClientError as e:
        return e.response["Error"]["Code"]


def group_status(ec: Any, group_id: str) -> str:
    try:
        return ec.describe_user_groups(UserGroupId=group_id)["UserGroups"][0]["Status"]
    except ClientError as e:
        return e.response["Error"]["Code"]


# --------------------------------------------------------------------------------------
# Server


def test_starts_quickly_and_prints_ready_line(server: Server) -> None:
    assert server.startup_seconds < 5, server.startup_seconds
    assert control(server, "GET", "health") == {"status": "ok"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signal(sig: int) -> None:
    s = Server()
    started = time.monotonic()
    assert s.stop(sig) == 0
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------------------
# Users


def test_create_user_password_and_tags(server: Server, ec: Any) -> None:
    user = make_user(ec, "app-user", "app", [PW1, PW2], Tags=[{"Key": "userkeeper:stack-id", "Value": "s1"}])
    assert user["Status"] == "active"  # transition_seconds 0: at once, as in moto
    assert user["Authentication"] == {"Type": "password", "PasswordCount": 2}
    assert user["ARN"] == "arn:aws:elasticache:us-east-1:123456789012:user:app-user"
    assert user["UserGroupIds"] == []
    tags = ec.list_tags_for_resource(ResourceName=user["ARN"])["TagList"]
    assert tags == [{"Key": "userkeeper:stack-id", "Value": "s1"}]
    assert state_user(server, "app-user")["Passwords"] == [PW1, PW2]
    assert state_user(server, "app-user")["Tags"] == {"userkeeper:stack-id": "s1"}


def test_passwords_never_leave_through_aws_responses(server: Server, ec: Any) -> None:
    make_user(ec, "u1", passwords=[PW1])
    for action, params in [("DescribeUsers", {}), ("DescribeUsers", {"UserId": "u1"})]:
        status, body = raw_query(server, action, **params)
        assert status == 200 and PW1 not in body and "<PasswordCount>1</PasswordCount>" in body


@pytest.mark.parametrize(
    "auth, expected",
    [
        ({"NoPasswordRequired": True}, {"Type": "no-password"}),
        ({"AuthenticationMode": {"Type": "no-password-required"}}, {"Type": "no-password"}),
        ({"AuthenticationMode": {"Type": "iam"}}, {"Type": "iam"}),
        ({"AuthenticationMode": {"Type": "password", "Passwords": [PW1]}}, {"Type": "password", "PasswordCount": 1}),
    ],
)
def test_create_user_authentication_types(ec: Any, auth: dict, expected: dict) -> None:
    user = ec.create_user(UserId="u1", UserName="u1", Engine="valkey", AccessString="on ~* +@all", **auth)
    assert user["Authentication"] == expected
    assert user["Engine"] == "valkey"


def test_create_user_duplicate_names_the_right_user(ec: Any) -> None:
    make_user(ec, "first")
    make_user(ec, "second")
    code, message, status = error_of(make_user, ec, "second")
    assert (code, message, status) == ("UserAlreadyExists", "User second already exists.", 400)


def test_same_user_name_under_two_ids_is_allowed(ec: Any) -> None:
    make_user(ec, "a1", "shared")
    make_user(ec, "a2", "shared")


@pytest.mark.parametrize(
    "passwords",
    [["x" * 15], ["x" * 129], [PW1, PW2, PW3], ["comma,password-0001"], ["at@sign-password-01"],
     ['quote"password-0001'], ["slash/password-0001"], ["tab\tpassword-000001"]],
)
def test_create_user_rejects_bad_passwords_without_echoing_them(ec: Any, passwords: list[str]) -> None:
    code, message, _ = error_of(make_user, ec, "u1", passwords=passwords)
    assert code == "InvalidParameterValue"
    assert not any(p in message for p in passwords)
    make_user(ec, "u1", passwords=["y" * 128, "z" * 16])  # the limits themselves are fine


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"Passwords": [PW1], "AuthenticationMode": {"Type": "password", "Passwords": [PW2]}}, "InvalidParameterCombination"),
        ({"Passwords": [PW1], "NoPasswordRequired": True}, "InvalidParameterCombination"),
        ({"AuthenticationMode": {"Type": "iam", "Passwords": [PW1]}}, "InvalidParameterCombination"),
        ({"AuthenticationMode": {"Type": "password"}}, "InvalidParameterCombination"),
        ({}, "InvalidParameterValue"),  # no password and no NoPasswordRequired
        ({"Passwords": [PW1], "Engine": "memcached"}, "InvalidParameterValue"),
        ({"Passwords": [PW1], "UserId": "1-starts-with-digit"}, "InvalidParameterValue"),
    ],
)
def test_create_user_parameter_errors(ec: Any, kwargs: dict, code: str) -> None:
    args = {"UserId": "u1", "UserName": "u1", "Engine": "redis", "AccessString": "on ~* +@all", **kwargs}
    assert error_of(ec.create_user, **args)[0] == code


def test_modify_user(server: Server, ec: Any) -> None:
    make_user(ec, "u1", passwords=[PW1])
    out = ec.modify_user(UserId="u1", Passwords=[PW2, PW1])
    assert out["Authentication"] == {"Type": "password", "PasswordCount": 2}
    assert state_user(server, "u1")["Passwords"] == [PW2, PW1]

    assert ec.modify_user(UserId="u1", AccessString="on ~app:* +get")["AccessString"] == "on ~app:* +get"
    assert ec.modify_user(UserId="u1", AppendAccessString="+set")["AccessString"] == "on ~app:* +get +set"

    out = ec.modify_user(UserId="u1", AuthenticationMode={"Type": "password", "Passwords": [PW3]})
    assert out["Authentication"] == {"Type": "password", "PasswordCount": 1}
    assert state_user(server, "u1")["Passwords"] == [PW3]

    out = ec.modify_user(UserId="u1", NoPasswordRequired=True)
    assert out["Authentication"] == {"Type": "no-password"}
    assert state_user(server, "u1")["Passwords"] == []

    out = ec.modify_user(UserId="u1", AuthenticationMode={"Type": "iam"})
    assert out["Authentication"] == {"Type": "iam"}


def test_modify_user_errors(server: Server, ec: Any) -> None:
    make_user(ec, "u1", passwords=[PW1])
    assert error_of(ec.modify_user, UserId="nobody", AccessString="on")[:3] == ("UserNotFound", "User nobody not found.", 404)
    for bad in (["x" * 129], [PW1, PW2, PW3], ["short"], ["comma,password-0001"]):
        code, message, _ = error_of(ec.modify_user, UserId="u1", Passwords=bad)
        assert code == "InvalidParameterValue" and not any(p in message for p in bad)
    assert error_of(ec.modify_user, UserId="u1", AccessString="on", AppendAccessString="+get")[0] == "InvalidParameterCombination"
    assert error_of(ec.modify_user, UserId="default", AccessString="off")[0] == "InvalidParameterValue"
    assert state_user(server, "u1")["Passwords"] == [PW1]  # nothing changed by the failed calls

    transition(server, 5)
    ec.modify_user(UserId="u1", Passwords=[PW2])
    assert error_of(ec.modify_user, UserId="u1", Passwords=[PW3]) == (
        "InvalidUserState", "User u1 has status modifying. Only active users can be modified.", 400)


def test_user_status_transitions(server: Server, ec: Any) -> None:
    transition(server, 0.5)
    assert make_user(ec, "u1")["Status"] == "modifying"
    assert user_status(ec, "u1") == "modifying"
    wait_for(lambda: user_status(ec, "u1"), "active")

    assert ec.modify_user(UserId="u1", Passwords=[PW2])["Status"] == "modifying"
    assert user_status(ec, "u1") == "modifying"
    wait_for(lambda: user_status(ec, "u1"), "active")

    assert ec.delete_user(UserId="u1")["Status"] == "deleting"
    assert user_status(ec, "u1") == "deleting"
    assert "u1" in [u["UserId"] for u in ec.describe_users()["Users"]]
    wait_for(lambda: user_status(ec, "u1"), "UserNotFound")
    assert "u1" not in [u["UserId"] for u in ec.describe_users()["Users"]]
    assert state_user(server, "u1") is None


def test_delete_user(server: Server, ec: Any) -> None:
    user = make_user(ec, "u1", Tags=[{"Key": "k", "Value": "v"}])
    assert ec.delete_user(UserId="u1")["Status"] == "deleting"
    assert error_of(ec.describe_users, UserId="u1")[0] == "UserNotFound"  # transition 0: gone at once
    assert error_of(ec.delete_user, UserId="u1")[0] == "UserNotFound"
    make_user(ec, "u1")  # the id is free again, without the old tags
    assert ec.list_tags_for_resource(ResourceName=user["ARN"])["TagList"] == []
    assert error_of(ec.delete_user, UserId="default")[0] == "InvalidParameterValue"

    transition(server, 5)
    ec.modify_user(UserId="u1", Passwords=[PW2])
    assert error_of(ec.delete_user, UserId="u1")[:2] == ("InvalidUserState", "User u1 is not in active state.")


def test_delete_user_leaves_its_groups(ec: Any) -> None:
    make_user(ec, "dflt", "default")
    make_user(ec, "u1")
    ec.create_user_group(UserGroupId="g1", Engine="redis", UserIds=["dflt", "u1"])
    ec.delete_user(UserId="u1")
    assert ec.describe_user_groups(UserGroupId="g1")["UserGroups"][0]["UserIds"] == ["dflt"]
    code, message, _ = error_of(ec.delete_user, UserId="dflt")
    assert code == "DefaultUserAssociatedToUserGroup" and "g1" in message


def test_describe_users_filters_and_pages(ec: Any) -> None:
    for i in range(5):
        make_user(ec, f"u{i}")
    ec.create_user(UserId="v1", UserName="v1", Engine="valkey", AccessString="on", NoPasswordRequired=True)
    ids = [u["UserId"] for u in ec.describe_users()["Users"]]
    assert ids == ["default", "u0", "u1", "u2", "u3", "u4", "v1"]
    assert [u["UserId"] for u in ec.describe_users(Engine="valkey")["Users"]] == ["v1"]
    filtered = ec.describe_users(Filters=[{"Name": "user-id", "Values": ["u1", "u3"]}])["Users"]
    assert [u["UserId"] for u in filtered] == ["u1", "u3"]

    first = ec.describe_users(MaxRecords=3)
    assert [u["UserId"] for u in first["Users"]] == ["default", "u0", "u1"] and first["Marker"]
    paged = [u["UserId"] for page in ec.get_paginator("describe_users").paginate(PaginationConfig={"PageSize": 2}) for u in page["Users"]]
    assert paged == ids
    assert "Marker" not in ec.describe_users(MaxRecords=100)
    assert error_of(ec.describe_users, Marker="no-such-marker")[0] == "InvalidParameterValue"


# --------------------------------------------------------------------------------------
# User groups


@pytest.fixture
def members(ec: Any) -> None:
    make_user(ec, "dflt", "default")
    make_user(ec, "app1", "app")
    make_user(ec, "app2", "app")
    make_user(ec, "other")


def test_create_and_describe_user_group(server: Server, ec: Any, members: None) -> None:
    group = ec.create_user_group(
        UserGroupId="g1", Engine="Redis", UserIds=["dflt", "app1"], Tags=[{"Key": "userkeeper:logical-id", "Value": "G"}]
    )
    expected = {
        "UserGroupId": "g1",
        "Status": "active",
        "Engine": "redis",
        "UserIds": ["dflt", "app1"],
        "MinimumEngineVersion": "6.0",
        "ReplicationGroups": [],
        "ServerlessCaches": [],
        "ARN": "arn:aws:elasticache:us-east-1:123456789012:usergroup:g1",
    }
    assert {k: v for k, v in group.items() if k != "ResponseMetadata"} == expected
    assert ec.describe_user_groups(UserGroupId="g1")["UserGroups"] == [expected]
    assert ec.describe_users(UserId="app1")["Users"][0]["UserGroupIds"] == ["g1"]
    assert ec.list_tags_for_resource(ResourceName=group["ARN"])["TagList"] == [{"Key": "userkeeper:logical-id", "Value": "G"}]
    groups = control(server, "GET", "state")["elasticache"]["user_groups"]
    assert groups[0]["UserIds"] == ["dflt", "app1"] and groups[0]["Tags"] == {"userkeeper:logical-id": "G"}


def test_create_user_group_errors(ec: Any, members: None) -> None:
    assert error_of(ec.create_user_group, UserGroupId="g1", Engine="redis", UserIds=["app1"])[:3] == (
        "DefaultUserRequired", "User group needs to contain a user with the user name default.", 400)
    assert error_of(ec.create_user_group, UserGroupId="g1", Engine="redis", UserIds=["dflt", "ghost"])[:3] == (
        "UserNotFound", "User ghost not found.", 404)
    assert error_of(ec.create_user_group, UserGroupId="g1", Engine="redis", UserIds=["dflt", "app1", "app2"])[0] == "DuplicateUserName"
    assert error_of(ec.create_user_group, UserGroupId="g1", Engine="memcached", UserIds=["dflt"])[0] == "InvalidParameterValue"
    ec.create_user_group(UserGroupId="g1", Engine="redis", UserIds=["default"])  # the built-in default user
    assert error_of(ec.create_user_group, UserGroupId="g1", Engine="redis", UserIds=["dflt"])[:2] == (
        "UserGroupAlreadyExists", "User group g1 already exists.")
    assert error_of(ec.describe_user_groups, UserGroupId="nope")[:3] == ("UserGroupNotFound", "User group nope not found.", 404)


def test_modify_user_group(ec: Any, members: None) -> None:
    ec.create_user_group(UserGroupId="g1", Engine="redis", UserIds=["dflt", "app1"])
    out = ec.modify_user_group(UserGroupId="g1", UserIdsToAdd=["other"], UserIdsToRemove=["app1"])
    assert out["UserIds"] == ["dflt", "other"] and "PendingChanges" not in out
    assert ec.describe_users(UserId="app1")["Users"][0]["UserGroupIds"] == []
    assert ec.describe_users(UserId="other")["Users"][0]["UserGroupIds"] == ["g1"]

    def fails(**kw: Any) -> str:
        return error_of(ec.modify_user_group, UserGroupId="g1", **kw)[0]

    assert fails(UserIdsToRemove=["dflt"]) == "DefaultUserRequired"
    assert fails(UserIdsToAdd=["ghost"]) == "UserNotFound"
    assert fails(UserIdsToAdd=["app1", "app2"]) == "DuplicateUserName"
    assert fails(UserIdsToAdd=["other"]) == "InvalidParameterValue"  # already a member
    assert fails(UserIdsToRemove=["app2"]) == "InvalidParameterValue"  # not a member
    assert fails(UserIdsToAdd=["app1"], UserIdsToRemove=["app1"]) == "InvalidParameterCombination"
    assert error_of(ec.modify_user_group, UserGroupId="nope", UserIdsToAdd=["app1"])[0] == "UserGroupNotFound"


def test_user_group_status_transitions(server: Server, ec: Any, members: None) -> None:
    transition(server, 0.5)
    assert ec.create_user_group(UserGroupId="g1", Engine="redis", UserIds=["dflt"])["Status"] == "creating"
    assert group_status(ec, "g1") == "creating"
    assert error_of(ec.modify_user_group, UserGroupId="g1", UserIdsToAdd=["app1"]) == (
        "InvalidUserGroupState", "User group g1 has status creating. Only active user groups can be modified.", 400)
    wait_for(lambda: group_status(ec, "g1"), "active")

    out = ec.modify_user_group(UserGroupId="g1", UserIdsToAdd=["app1"])
    assert out["Status"] == "modifying"
    assert out["UserIds"] == ["dflt"] and out["PendingChanges"] == {"UserIdsToAdd": ["app1"]}
    assert error_of(ec.delete_user_group, UserGroupId="g1")[0] == "InvalidUserGroupState"
    wait_for(lambda: group_status(ec, "g1"), "active")
    group = ec.describe_user_groups(UserGroupId="g1")["UserGroups"][0]
    assert group["UserIds"] == ["dflt", "app1"] and "PendingChanges" not in group
    assert ec.describe_users(UserId="app1")["Users"][0]["UserGroupIds"] == ["g1"]

    assert ec.delete_user_group(UserGroupId="g1")["Status"] == "deleting"
    assert group_status(ec, "g1") == "deleting"
    wait_for(lambda: group_status(ec, "g1"), "UserGroupNotFound")
    assert ec.describe_user_groups()["UserGroups"] == []
    assert ec.describe_users(UserId="app1")["Users"][0]["UserGroupIds"] == []


def test_delete_user_group_associated_with_replication_group(server: Server, ec: Any, members: None) -> None:
    ec.create_user_group(UserGroupId="g1", Engine="redis", UserIds=["dflt"])
    assert error_of(
        ec.create_replication_group, ReplicationGroupId="rg1", ReplicationGroupDescription="d", UserGroupIds=["ghost"]
    )[0] == "UserGroupNotFound"
    ec.create_replication_group(ReplicationGroupId="rg1", ReplicationGroupDescription="d", Engine="redis", UserGroupIds=["g1"])
    assert ec.describe_user_groups(UserGroupId="g1")["UserGroups"][0]["ReplicationGroups"] == ["rg1"]
    code, message, status = error_of(ec.delete_user_group, UserGroupId="g1")
    assert (code, status) == ("InvalidUserGroupState", 400) and "associated with replication group" in message and "rg1" in message

    transition(server, 0.3)
    assert ec.delete_replication_group(ReplicationGroupId="rg1")["ReplicationGroup"]["Status"] == "deleting"
    assert error_of(ec.delete_user_group, UserGroupId="g1")[0] == "InvalidUserGroupState"  # still deleting
    wait_for(lambda: len(ec.describe_replication_groups()["ReplicationGroups"]), 0)
    transition(server, 0)
    ec.delete_user_group(UserGroupId="g1")
    assert group_status(ec, "g1") == "UserGroupNotFound"


def test_describe_user_groups_pages(ec: Any, members: None) -> None:
    for i in range(5):
        ec.create_user_group(UserGroupId=f"g{i}", Engine="redis", UserIds=["dflt"])
    first = ec.describe_user_groups(MaxRecords=2)
    assert [g["UserGroupId"] for g in first["UserGroups"]] == ["g0", "g1"] and first["Marker"] == "g2"
    pages = ec.get_paginator("describe_user_groups").paginate(PaginationConfig={"PageSize": 2})
    assert [g["UserGroupId"] for p in pages for g in p["UserGroups"]] == [f"g{i}" for i in range(5)]


# --------------------------------------------------------------------------------------
# Tags


def test_tags_on_users_and_user_groups(ec: Any, members: None) -> None:
    group = ec.create_user_group(UserGroupId="g1", Engine="redis", UserIds=["dflt"])
    user_arn = ec.describe_users(UserId="app1")["Users"][0]["ARN"]
    for arn in (user_arn, group["ARN"]):
        out = ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        assert out["TagList"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
        ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "a", "Value": "3"}])
        assert ec.remove_tags_from_resource(ResourceName=arn, TagKeys=["b"])["TagList"] == [{"Key": "a", "Value": "3"}]
        assert ec.list_tags_for_resource(ResourceName=arn)["TagList"] == [{"Key": "a", "Value": "3"}]
        assert error_of(ec.remove_tags_from_resource, ResourceName=arn, TagKeys=["zz"])[0] == "TagNotFound"
        too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
        assert error_of(ec.add_tags_to_resource, ResourceName=arn, Tags=too_many)[0] == "TagQuotaPerResourceExceeded"

    ghost_user = user_arn.replace(":user:app1", ":user:ghost")
    ghost_group = group["ARN"].replace(":usergroup:g1", ":usergroup:ghost")
    assert error_of(ec.list_tags_for_resource, ResourceName=ghost_user)[:2] == ("UserNotFound", "User ghost not found.")
    assert error_of(ec.add_tags_to_resource, ResourceName=ghost_group, Tags=[{"Key": "a", "Value": "1"}])[0] == "UserGroupNotFound"
    assert error_of(ec.list_tags_for_resource, ResourceName="not-an-arn")[0] == "InvalidARN"


# --------------------------------------------------------------------------------------
# Serverless caches (just enough to use a user group)


def serverless_status(ec: Any, name: str) -> str:
    try:
        return ec.describe_serverless_caches(ServerlessCacheName=name)["ServerlessCaches"][0]["Status"]
    except ClientError as e:
        return e.response["Error"]["Code"]


def test_serverless_caches(server: Server, ec: Any, members: None) -> None:
    ec.create_user_group(UserGroupId="g1", Engine="valkey", UserIds=["dflt"])
    cache = ec.create_serverless_cache(ServerlessCacheName="sc1", Engine="valkey", UserGroupId="g1")["ServerlessCache"]
    assert (cache["Status"], cache["Engine"], cache["UserGroupId"]) == ("available", "valkey", "g1")
    assert cache["ARN"] == "arn:aws:elasticache:us-east-1:123456789012:serverlesscache:sc1"
    ec.create_serverless_cache(ServerlessCacheName="sc2", Engine="redis")
    assert "UserGroupId" not in ec.describe_serverless_caches(ServerlessCacheName="sc2")["ServerlessCaches"][0]
    assert [c["ServerlessCacheName"] for c in ec.describe_serverless_caches()["ServerlessCaches"]] == ["sc1", "sc2"]
    assert ec.describe_user_groups(UserGroupId="g1")["UserGroups"][0]["ServerlessCaches"] == ["sc1"]

    assert error_of(ec.create_serverless_cache, ServerlessCacheName="sc1", Engine="valkey")[:2] == (
        "ServerlessCacheAlreadyExistsFault", "Serverless cache sc1 already exists.")
    assert error_of(ec.create_serverless_cache, ServerlessCacheName="sc3", Engine="valkey", UserGroupId="ghost")[0] == (
        "UserGroupNotFound")
    assert error_of(ec.create_serverless_cache, ServerlessCacheName="sc3", Engine="memcached", UserGroupId="g1")[0] == (
        "InvalidParameterCombination")
    assert error_of(ec.describe_serverless_caches, ServerlessCacheName="ghost")[:3] == (
        "ServerlessCacheNotFoundFault", "Serverless cache ghost not found.", 404)

    transition(server, 0.5)
    assert ec.create_serverless_cache(ServerlessCacheName="sc3", Engine="redis")["ServerlessCache"]["Status"] == "creating"
    assert error_of(ec.delete_serverless_cache, ServerlessCacheName="sc3")[0] == "InvalidServerlessCacheStateFault"
    wait_for(lambda: serverless_status(ec, "sc3"), "available")
    assert ec.delete_serverless_cache(ServerlessCacheName="sc1")["ServerlessCache"]["Status"] == "deleting"
    assert ec.describe_user_groups(UserGroupId="g1")["UserGroups"][0]["ServerlessCaches"] == ["sc1"]  # until gone
    wait_for(lambda: serverless_status(ec, "sc1"), "ServerlessCacheNotFoundFault")
    assert ec.describe_user_groups(UserGroupId="g1")["UserGroups"][0]["ServerlessCaches"] == []


# --------------------------------------------------------------------------------------
# "strict": what AWS refuses while things settle


def test_strict_tag_calls_refuse_a_user_or_group_that_is_not_active(server: Server, ec: Any, members: None) -> None:
    transition(server, 30)
    user_arn = make_user(ec, "busy")["ARN"]
    group_arn = ec.create_user_group(UserGroupId="g1", Engine="redis", UserIds=["dflt"])["ARN"]
    tag = [{"Key": "a", "Value": "1"}]

    def tag_calls(arn: str) -> list[tuple[str, str, int] | str]:
        out: list[tuple[str, str, int] | str] = []
        for call, kw in ((ec.list_tags_for_resource, {}), (ec.add_tags_to_resource, {"Tags": tag}),
                         (ec.remove_tags_from_resource, {"TagKeys": ["a"]})):
            try:
                call(ResourceName=arn, **kw)
                out.append("ok")
            except ClientError as e:
                err = e.response
                out.append((err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]))
        return out

    assert tag_calls(user_arn) == ["ok"] * 3  # strict off: as before
    assert tag_calls(group_arn) == ["ok"] * 3
    strict(server)
    assert tag_calls(user_arn) == [("UserNotFound", "busy is not available for tagging", 404)] * 3
    assert tag_calls(group_arn) == [("UserGroupNotFound", "g1 is not available for tagging", 404)] * 3
    assert tag_calls(ec.describe_users(UserId="app1")["Users"][0]["ARN"]) == ["ok"] * 3  # active: fine
    assert error_of(ec.list_tags_for_resource, ResourceName=user_arn.replace(":busy", ":ghost"))[:2] == (
        "UserNotFound", "User ghost not found.")

    transition(server, 0)
    make_user(ec, "quick")  # 0 seconds: active at once, taggable at once
    assert ec.add_tags_to_resource(ResourceName=ec.describe_users(UserId="quick")["Users"][0]["ARN"], Tags=tag)["TagList"] == tag


def test_strict_user_group_changes_take_members_through_modifying(server: Server, ec: Any, members: None) -> None:
    strict(server)
    transition(server, 0.5)
    assert ec.create_user_group(UserGroupId="g1", Engine="redis", UserIds=["dflt", "app1"])["Status"] == "creating"
    assert (user_status(ec, "dflt"), user_status(ec, "app1"), user_status(ec, "other")) == ("modifying", "modifying", "active")
    assert error_of(ec.modify_user, UserId="app1", AccessString="on ~* +get")[:3] == (
        "InvalidUserState", "User app1 has status modifying. Only active users can be modified.", 400)
    app1_arn = ec.describe_users(UserId="app1")["Users"][0]["ARN"]
    assert error_of(ec.list_tags_for_resource, ResourceName=app1_arn)[0] == "UserNotFound"
    assert error_of(ec.modify_user_group, UserGroupId="g1", UserIdsToAdd=["other"])[:3] == (
        "InvalidUserGroupState", "User group g1 has status creating. Only active user groups can be modified.", 400)
    wait_for(lambda: (group_status(ec, "g1"), user_status(ec, "app1")), ("active", "active"))

    ec.modify_user_group(UserGroupId="g1", UserIdsToAdd=["other"], UserIdsToRemove=["app1"])
    assert (user_status(ec, "other"), user_status(ec, "app1"), user_status(ec, "dflt")) == ("modifying", "modifying", "active")
    assert error_of(ec.modify_user_group, UserGroupId="g1", UserIdsToAdd=["app2"])[1] == (
        "User group g1 has status modifying. Only active user groups can be modified.")
    wait_for(lambda: (user_status(ec, "other"), user_status(ec, "app1")), ("active", "active"))
    ec.modify_user(UserId="app1", AccessString="on ~* +get")

    # A user's own longer change is not cut short by a group's.
    transition(server, 30)
    ec.modify_user(UserId="app2", AccessString="on ~* +get")
    transition(server, 0)
    ec.modify_user_group(UserGroupId="g1", UserIdsToAdd=["app2"], UserIdsToRemove=["other"])
    assert user_status(ec, "app2") == "modifying"

    strict(server, False)  # as before: members keep their status
    transition(server, 5)
    ec.create_user_group(UserGroupId="g2", Engine="redis", UserIds=["dflt", "other"])
    assert user_status(ec, "other") == "active"
    ec.modify_user(UserId="other", AccessString="on ~* +get")


def test_strict_valkey_user_group_takes_only_users_that_authenticate(server: Server, ec: Any) -> None:
    def valkey_user(user_id: str, name: str, **auth: Any) -> None:
        ec.create_user(UserId=user_id, UserName=name, Engine="valkey", AccessString="on ~* +@all", **auth)

    valkey_user("vdefault", "default", Passwords=[PW1])
    valkey_user("vnopass", "nopass", NoPasswordRequired=True)
    valkey_user("viam", "viam", AuthenticationMode={"Type": "iam"})
    ec.create_user_group(UserGroupId="off", Engine="valkey", UserIds=["default", "vnopass"])  # strict off: as before

    strict(server)
    for user_ids, refused in ((["vdefault", "vnopass"], "vnopass"), (["default"], "default")):
        code, message, status = error_of(ec.create_user_group, UserGroupId="g1", Engine="valkey", UserIds=user_ids)
        assert (code, status) == ("InvalidParameterValue", 400)
        assert message.startswith(f"User {refused} does not authenticate") and "valkey" in message
    assert group_status(ec, "g1") == "UserGroupNotFound"
    ec.create_user_group(UserGroupId="g1", Engine="valkey", UserIds=["vdefault", "viam"])
    assert error_of(ec.modify_user_group, UserGroupId="g1", UserIdsToAdd=["vnopass"])[0] == "InvalidParameterValue"
    assert ec.describe_user_groups(UserGroupId="g1")["UserGroups"][0]["UserIds"] == ["vdefault", "viam"]
    ec.create_user_group(UserGroupId="r1", Engine="redis", UserIds=["default", "vnopass"])  # redis groups: no such rule


def test_strict_delete_user_group_refused_while_a_serverless_cache_uses_it(server: Server, ec: Any, members: None) -> None:
    for group_id in ("g1", "g2"):
        ec.create_user_group(UserGroupId=group_id, Engine="redis", UserIds=["dflt"])
        ec.create_serverless_cache(ServerlessCacheName=f"sc-{group_id}", Engine="redis", UserGroupId=group_id)
    ec.delete_user_group(UserGroupId="g1")  # strict off: as before
    assert group_status(ec, "g1") == "UserGroupNotFound"

    strict(server)
    code, message, status = error_of(ec.delete_user_group, UserGroupId="g2")
    assert (code, status) == ("InvalidUserGroupState", 400)
    assert message == ("User group g2 is associated with serverless cache(s): sc-g2. "
                       "Remove the association before deleting the user group.")
    ec.delete_serverless_cache(ServerlessCacheName="sc-g2")
    ec.delete_user_group(UserGroupId="g2")
    assert group_status(ec, "g2") == "UserGroupNotFound"


# --------------------------------------------------------------------------------------
# Control API, call log, faults, other services


DEFAULTS = {"transition_seconds": 0.0, "transition_jitter": 0.0, "reboot_seconds": 0.0, "strict": False}


def test_config(server: Server) -> None:
    assert control(server, "GET", "config") == DEFAULTS
    assert control(server, "POST", "config", {"transition_seconds": 2.5}) == {**DEFAULTS, "transition_seconds": 2.5}
    assert control(server, "POST", "config", {"reboot_seconds": 1}) == {
        **DEFAULTS, "transition_seconds": 2.5, "reboot_seconds": 1.0}
    assert control(server, "POST", "config", {"strict": True}) == {
        **DEFAULTS, "transition_seconds": 2.5, "reboot_seconds": 1.0, "strict": True}
    assert control(server, "POST", "config", {"transition_jitter": 0.5}) == {
        **DEFAULTS, "transition_seconds": 2.5, "transition_jitter": 0.5, "reboot_seconds": 1.0, "strict": True}
    for bad in ({"transition_seconds": -1}, {"transition_seconds": "soon"}, {"reboot_seconds": -0.5},
                {"reboot_seconds": True}, {"transition_jitter": -1}, {"nope": 1}, {"transition_seconds": 1, "nope": 1},
                {"strict": 1}, {"strict": "true"}, {"strict": None}, {"strict": False, "transition_seconds": -1}):
        with pytest.raises(urllib.error.HTTPError) as info:
            control(server, "POST", "config", bad)
        assert info.value.code == 400
    assert control(server, "GET", "config")["strict"] is True  # the refused bodies changed nothing
    with pytest.raises(urllib.error.HTTPError) as info:
        control(server, "GET", "no-such-route")
    assert info.value.code == 404


def test_transition_jitter_draws_each_change_its_own_duration(server: Server, ec: Any) -> None:
    """transition_seconds 0.3 + transition_jitter 0.6: each change lasts 0.3-0.9 s, drawn per
    change; a change configured to be done at once (0 s) stays so whatever the jitter."""
    control(server, "POST", "config", {"transition_seconds": 0.3, "transition_jitter": 0.6})
    ids = [f"j{i}" for i in range(8)]
    started = time.monotonic()
    for user_id in ids:
        make_user(ec, user_id)
    active_after: dict[str, float] = {}
    while len(active_after) < len(ids):
        assert time.monotonic() - started < 5, active_after
        for u in ec.describe_users()["Users"]:
            if u["UserId"] in ids and u["Status"] == "active":
                active_after.setdefault(u["UserId"], time.monotonic() - started)
        time.sleep(0.02)
    times = sorted(active_after.values())
    assert times[0] >= 0.3 and times[-1] <= 0.9 + 0.5, times  # + the creation calls and polling
    assert times[-1] - times[0] >= 0.1, f"every change took the same time: {times}"

    control(server, "POST", "config", {"transition_seconds": 0, "transition_jitter": 5})
    assert make_user(ec, "instant")["Status"] == "active"


def test_a_change_with_work_left_shows_its_final_status_only_once_settled() -> None:
    """The final status of a change whose ``on_done`` has not run yet (the deadline passed
    since the request's settle) is not shown: a group reading "active" has its members."""
    from . import core

    class Thing:
        status = core.AsyncStatus()

    thing, applied = Thing(), []
    thing.status = "active"
    core.begin(thing, "modifying", "active", on_done=lambda: applied.append(True), seconds=0)
    assert thing.status == "modifying" and applied == []  # deadline passed, not settled
    core.settle({"t": thing})
    assert thing.status == "active" and applied == [True]
    core.begin(thing, "modifying", "active", seconds=0)
    assert thing.status == "active"  # nothing left to do: final at the deadline


def test_reset_wipes_everything(server: Server, ec: Any) -> None:
    sm = client(server, "secretsmanager")
    sm.create_secret(Name="s1", SecretString="x")
    make_user(ec, "u1")
    transition(server, 3)
    strict(server)
    control(server, "POST", "fail", {"service": "elasticache", "count": 5})
    control(server, "POST", "reset")
    assert control(server, "GET", "config") == DEFAULTS
    assert control(server, "GET", "calls") == []
    assert control(server, "GET", "fail") == []
    assert [u["UserId"] for u in control(server, "GET", "state")["elasticache"]["users"]] == []
    assert [u["UserId"] for u in ec.describe_users()["Users"]] == ["default"]
    assert sm.list_secrets()["SecretList"] == []


def test_call_log_records_every_aws_call_and_no_control_call(server: Server, ec: Any) -> None:
    sm = client(server, "secretsmanager")
    sts = client(server, "sts")
    make_user(ec, "u1")
    sm.create_secret(Name="s1", SecretString="x")
    sts.get_caller_identity()
    error_of(ec.describe_users, UserId="ghost")
    control(server, "GET", "state")
    calls = control(server, "GET", "calls")
    assert [(c["service"], c["action"]) for c in calls] == [
        ("elasticache", "CreateUser"),
        ("secretsmanager", "CreateSecret"),
        ("sts", "GetCallerIdentity"),
        ("elasticache", "DescribeUsers"),
    ]
    assert all(set(c) == {"service", "action", "time"} for c in calls)
    assert calls == sorted(calls, key=lambda c: c["time"])
    assert PW1 not in json.dumps(calls)
    assert control(server, "POST", "calls/clear") == {"status": "ok"}
    assert control(server, "GET", "calls") == []


def test_fault_injection(server: Server, ec: Any) -> None:
    control(server, "POST", "fail", {"service": "elasticache", "action": "DescribeUsers", "count": 2})
    for _ in range(2):
        code, _, status = error_of(ec.describe_users)
        assert (code, status) == ("InternalFailure", 500)
    ec.describe_users()
    make_user(ec, "u1")  # other actions unaffected

    control(server, "POST", "fail", {"service": "secretsmanager", "code": "ThrottlingException", "status": 400, "message": "Rate exceeded"})
    sm = client(server, "secretsmanager")
    assert error_of(sm.list_secrets)[:3] == ("ThrottlingException", "Rate exceeded", 400)
    sm.list_secrets()
    assert [c["action"] for c in control(server, "GET", "calls")][-2:] == ["ListSecrets", "ListSecrets"]


def test_secrets_manager_works_as_in_moto(server: Server) -> None:
    sm = client(server, "secretsmanager")
    arn = sm.create_secret(Name="app/redis", SecretString='{"password": "x"}')["ARN"]
    sm.put_secret_value(SecretId=arn, ClientRequestToken="t" * 32, SecretString='{"password": "y"}', VersionStages=["AWSPENDING"])
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"] == '{"password": "y"}'
    assert len(sm.get_random_password(PasswordLength=32)["RandomPassword"]) == 32
