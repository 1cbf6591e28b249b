"""Self-tests of the emulator's MemoryDB users and ACLs (``memorydb.py``), with boto3."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .selftest import ACCOUNT, REGION, Server, client, control, error_of, sequence, strict, transition, wait_for

PW1, PW2, PW3 = "first-password-0001", "second-password-002", "third-password-0003"
ARN = f"arn:aws:memorydb:{REGION}:{ACCOUNT}"


@pytest.fixture
def mdb(server: Server) -> Any:
    return client(server, "memorydb")


def make_user(mdb: Any, name: str, passwords: list[str] | None = None, **kw: Any) -> dict:
    return mdb.create_user(
        UserName=name,
        AuthenticationMode={"Type": "password", "Passwords": passwords or [PW1]},
        AccessString="on ~* +@all",
        **kw,
    )["User"]


def state(server: Server) -> dict:
    return control(server, "GET", "state")["memorydb"]


def state_user(server: Server, name: str) -> dict | None:
    return next((u for u in state(server)["users"] if u["Name"] == name), None)


def user_status(mdb: Any, name: str) -> str:
    try:
        return mdb.describe_users(UserName=name)["Users"][0]["Status"]
    except mdb.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def acl_status(mdb: Any, name: str) -> str:
    try:
        return mdb.describe_acls(ACLName=name)["ACLs"][0]["Status"]
    except mdb.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def acl_names(mdb: Any, user: str) -> list[str]:
    return mdb.describe_users(UserName=user)["Users"][0]["ACLNames"]


def make_cluster(mdb: Any, name: str, acl: str, **kw: Any) -> dict:
    return mdb.create_cluster(ClusterName=name, NodeType="db.t4g.small", ACLName=acl, **kw)["Cluster"]


# --------------------------------------------------------------------------------------
# Users


def test_create_user(server: Server, mdb: Any) -> None:
    user = make_user(mdb, "app", [PW1, PW2], Tags=[{"Key": "userkeeper:stack-id", "Value": "s1"}])
    assert user == {
        "Name": "app",
        "Status": "active",  # transition_seconds 0: at once
        "AccessString": "on ~* +@all",
        "ACLNames": [],
        "MinimumEngineVersion": "6.2",
        "Authentication": {"Type": "password", "PasswordCount": 2},
        "ARN": f"{ARN}:user/app",
    }
    assert mdb.list_tags(ResourceArn=user["ARN"])["TagList"] == [{"Key": "userkeeper:stack-id", "Value": "s1"}]
    assert state_user(server, "app")["Passwords"] == [PW1, PW2]
    assert state_user(server, "app")["Tags"] == {"userkeeper:stack-id": "s1"}

    iam = mdb.create_user(UserName="iam-user", AuthenticationMode={"Type": "iam"}, AccessString="on ~* +get")["User"]
    assert iam["Authentication"] == {"Type": "iam"}
    assert state_user(server, "iam-user")["Passwords"] == []


def test_passwords_never_leave_through_aws_responses(server: Server, mdb: Any) -> None:
    outputs = [
        make_user(mdb, "u1", [PW1]),
        mdb.describe_users(),
        mdb.update_user(UserName="u1", AuthenticationMode={"Type": "password", "Passwords": [PW2]}),
        mdb.describe_users(UserName="u1"),
        mdb.create_acl(ACLName="a1", UserNames=["u1"]),
        mdb.delete_user(UserName="u1"),
    ]
    text = json.dumps(outputs, default=str)
    assert PW1 not in text and PW2 not in text
    assert PW1 not in json.dumps(control(server, "GET", "calls")) and PW2 not in json.dumps(control(server, "GET", "calls"))


@pytest.mark.parametrize(
    "passwords",
    [["x" * 15], ["x" * 129], [PW1, PW2, PW3], ["comma,password-0001"], ["at@sign-password-01"],
     ['quote"password-0001'], ["slash/password-0001"], ["tab\tpassword-000001"]],
)
def test_create_user_rejects_bad_passwords_without_echoing_them(server: Server, mdb: Any, passwords: list[str]) -> None:
    code, message, status = error_of(make_user, mdb, "u1", passwords)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert not any(p in message for p in passwords)
    assert state_user(server, "u1") is None
    make_user(mdb, "u1", ["y" * 128, "z" * 16])  # the limits themselves are fine


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"AuthenticationMode": {"Type": "iam", "Passwords": [PW1]}}, "InvalidParameterCombinationException"),
        ({"AuthenticationMode": {"Type": "password"}}, "InvalidParameterCombinationException"),
        ({"AuthenticationMode": {"Type": "no-password-required"}}, "InvalidParameterValueException"),
        ({"AuthenticationMode": {}}, "InvalidParameterValueException"),
        ({"UserName": "1-starts-with-digit"}, "InvalidParameterValueException"),
        ({"UserName": "under_score"}, "InvalidParameterValueException"),
        ({"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]}, "TagQuotaPerResourceExceeded"),
    ],
)
def test_create_user_parameter_errors(mdb: Any, kwargs: dict, code: str) -> None:
    args = {
        "UserName": "u1",
        "AuthenticationMode": {"Type": "password", "Passwords": [PW1]},
        "AccessString": "on ~* +@all",
        **kwargs,
    }
    assert error_of(mdb.create_user, **args)[0] == code
    assert error_of(mdb.describe_users, UserName="u1")[0] == "UserNotFoundFault"


def test_create_user_duplicate(mdb: Any) -> None:
    make_user(mdb, "first")
    make_user(mdb, "second")
    assert error_of(make_user, mdb, "second") == ("UserAlreadyExistsFault", "User second already exists.", 400)
    assert error_of(make_user, mdb, "default")[0] == "UserAlreadyExistsFault"


def test_update_user(server: Server, mdb: Any) -> None:
    make_user(mdb, "u1", [PW1])
    out = mdb.update_user(UserName="u1", AuthenticationMode={"Type": "password", "Passwords": [PW2, PW1]})["User"]
    assert out["Authentication"] == {"Type": "password", "PasswordCount": 2}
    assert state_user(server, "u1")["Passwords"] == [PW2, PW1]

    out = mdb.update_user(UserName="u1", AccessString="on ~app:* +get")["User"]
    assert out["AccessString"] == "on ~app:* +get"
    assert out["Authentication"] == {"Type": "password", "PasswordCount": 2}  # untouched

    out = mdb.update_user(UserName="u1", AuthenticationMode={"Type": "iam"})["User"]
    assert out["Authentication"] == {"Type": "iam"}
    assert state_user(server, "u1")["Passwords"] == []


def test_update_user_errors(server: Server, mdb: Any) -> None:
    make_user(mdb, "u1", [PW1])
    assert error_of(mdb.update_user, UserName="nobody", AccessString="on") == ("UserNotFoundFault", "User nobody not found.", 400)
    for bad in (["x" * 129], [PW1, PW2, PW3], ["short"], ["comma,password-0001"]):
        code, message, _ = error_of(mdb.update_user, UserName="u1", AuthenticationMode={"Type": "password", "Passwords": bad})
        assert code == "InvalidParameterValueException" and not any(p in message for p in bad)
    assert error_of(mdb.update_user, UserName="u1")[0] == "InvalidParameterCombinationException"
    assert error_of(mdb.update_user, UserName="default", AccessString="off")[0] == "InvalidParameterValueException"
    assert state_user(server, "u1")["Passwords"] == [PW1]  # nothing changed by the failed calls

    transition(server, 5)
    mdb.update_user(UserName="u1", AuthenticationMode={"Type": "password", "Passwords": [PW2]})
    code, message, status = error_of(mdb.update_user, UserName="u1", AuthenticationMode={"Type": "password", "Passwords": [PW3]})
    assert (code, message, status) == ("InvalidUserStateFault", "User u1 is not in active state.", 400)
    assert error_of(mdb.delete_user, UserName="u1")[0] == "InvalidUserStateFault"
    assert state_user(server, "u1")["Passwords"] == [PW2]


def test_user_status_transitions(server: Server, mdb: Any) -> None:
    transition(server, 0.5)
    assert make_user(mdb, "u1")["Status"] == "modifying"
    assert sequence(lambda: user_status(mdb, "u1"), "active") == ["modifying", "active"]

    out = mdb.update_user(UserName="u1", AuthenticationMode={"Type": "password", "Passwords": [PW2]})["User"]
    assert out["Status"] == "modifying"
    assert sequence(lambda: user_status(mdb, "u1"), "active") == ["modifying", "active"]

    assert mdb.delete_user(UserName="u1")["User"]["Status"] == "deleting"
    assert "u1" in [u["Name"] for u in mdb.describe_users()["Users"]]
    assert sequence(lambda: user_status(mdb, "u1"), "UserNotFoundFault") == ["deleting", "UserNotFoundFault"]
    assert "u1" not in [u["Name"] for u in mdb.describe_users()["Users"]]
    assert state_user(server, "u1") is None


def test_delete_user(mdb: Any) -> None:
    user = make_user(mdb, "u1", Tags=[{"Key": "k", "Value": "v"}])
    assert mdb.delete_user(UserName="u1")["User"]["Status"] == "deleting"
    assert error_of(mdb.describe_users, UserName="u1")[0] == "UserNotFoundFault"  # transition 0: gone at once
    assert error_of(mdb.delete_user, UserName="u1")[0] == "UserNotFoundFault"
    make_user(mdb, "u1")  # the name is free again, without the old tags
    assert mdb.list_tags(ResourceArn=user["ARN"])["TagList"] == []
    assert error_of(mdb.delete_user, UserName="default")[0] == "InvalidParameterValueException"


def test_delete_user_leaves_its_acls(mdb: Any) -> None:
    make_user(mdb, "u1")
    make_user(mdb, "u2")
    mdb.create_acl(ACLName="a1", UserNames=["u1", "u2"])
    mdb.create_acl(ACLName="a2", UserNames=["u1"])
    assert acl_names(mdb, "u1") == ["a1", "a2"]
    mdb.delete_user(UserName="u1")
    assert mdb.describe_acls(ACLName="a1")["ACLs"][0]["UserNames"] == ["u2"]
    assert mdb.describe_acls(ACLName="a2")["ACLs"][0]["UserNames"] == []


def test_describe_users_filters_and_pages(mdb: Any) -> None:
    for i in range(5):
        make_user(mdb, f"u{i}")
    mdb.create_user(UserName="v1", AuthenticationMode={"Type": "iam"}, AccessString="on ~* +get")
    names = [u["Name"] for u in mdb.describe_users()["Users"]]
    assert names == ["default", "u0", "u1", "u2", "u3", "u4", "v1"]
    filtered = mdb.describe_users(Filters=[{"Name": "user-name", "Values": ["u1", "u3"]}])["Users"]
    assert [u["Name"] for u in filtered] == ["u1", "u3"]
    by_access = mdb.describe_users(Filters=[{"Name": "access-string", "Values": ["on ~* +get"]}])["Users"]
    assert [u["Name"] for u in by_access] == ["v1"]
    assert error_of(mdb.describe_users, Filters=[{"Name": "engine", "Values": ["x"]}])[0] == "InvalidParameterValueException"

    first = mdb.describe_users(MaxResults=3)
    assert [u["Name"] for u in first["Users"]] == ["default", "u0", "u1"] and first["NextToken"] == "u2"
    paged = [u["Name"] for p in mdb.get_paginator("describe_users").paginate(PaginationConfig={"PageSize": 2}) for u in p["Users"]]
    assert paged == names
    assert "NextToken" not in mdb.describe_users(MaxResults=100)
    assert error_of(mdb.describe_users, NextToken="no-such-token")[0] == "InvalidParameterValueException"
    assert error_of(mdb.describe_users, UserName="nobody") == ("UserNotFoundFault", "User nobody not found.", 400)


# --------------------------------------------------------------------------------------
# ACLs


@pytest.fixture
def members(mdb: Any) -> None:
    for name in ("app1", "app2", "other"):
        make_user(mdb, name)


def test_open_access_acl_exists_and_is_fixed(mdb: Any) -> None:
    acl = mdb.describe_acls(ACLName="open-access")["ACLs"][0]
    assert acl["UserNames"] == ["default"] and acl["Status"] == "active"
    assert acl_names(mdb, "default") == ["open-access"]
    assert error_of(mdb.delete_acl, ACLName="open-access")[0] == "InvalidParameterValueException"
    make_user(mdb, "u1")
    assert error_of(mdb.update_acl, ACLName="open-access", UserNamesToAdd=["u1"])[0] == "InvalidParameterValueException"


def test_create_and_describe_acl(server: Server, mdb: Any, members: None) -> None:
    acl = mdb.create_acl(ACLName="a1", UserNames=["app1", "app2"], Tags=[{"Key": "userkeeper:logical-id", "Value": "A"}])["ACL"]
    expected = {
        "Name": "a1",
        "Status": "active",
        "UserNames": ["app1", "app2"],
        "MinimumEngineVersion": "6.2",
        "Clusters": [],
        "ARN": f"{ARN}:acl/a1",
    }
    assert acl == expected
    assert mdb.describe_acls(ACLName="a1")["ACLs"] == [expected]
    assert [a["Name"] for a in mdb.describe_acls()["ACLs"]] == ["open-access", "a1"]
    assert acl_names(mdb, "app1") == ["a1"] and acl_names(mdb, "other") == []
    assert mdb.list_tags(ResourceArn=acl["ARN"])["TagList"] == [{"Key": "userkeeper:logical-id", "Value": "A"}]
    acls = {a["Name"]: a for a in state(server)["acls"]}
    assert acls["a1"]["UserNames"] == ["app1", "app2"] and acls["a1"]["Tags"] == {"userkeeper:logical-id": "A"}
    assert mdb.create_acl(ACLName="empty")["ACL"]["UserNames"] == []


def test_create_acl_errors(mdb: Any, members: None) -> None:
    assert error_of(mdb.create_acl, ACLName="a1", UserNames=["app1", "ghost"]) == ("UserNotFoundFault", "User ghost not found.", 400)
    assert error_of(mdb.create_acl, ACLName="a1", UserNames=["app1", "app1"])[0] == "DuplicateUserNameFault"
    assert error_of(mdb.create_acl, ACLName="1bad", UserNames=["app1"])[0] == "InvalidParameterValueException"
    assert error_of(mdb.create_acl, ACLName="a1", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])[0] == "TagQuotaPerResourceExceeded"
    assert error_of(mdb.describe_acls, ACLName="a1")[0] == "ACLNotFoundFault"  # none of those created it
    mdb.create_acl(ACLName="a1", UserNames=["app1"])
    assert error_of(mdb.create_acl, ACLName="a1", UserNames=["app2"]) == ("ACLAlreadyExistsFault", "ACL a1 already exists.", 400)
    assert error_of(mdb.create_acl, ACLName="open-access")[0] == "ACLAlreadyExistsFault"
    assert error_of(mdb.describe_acls, ACLName="nope") == ("ACLNotFoundFault", "ACL nope not found.", 400)


def test_update_acl(mdb: Any, members: None) -> None:
    mdb.create_acl(ACLName="a1", UserNames=["app1"])
    out = mdb.update_acl(ACLName="a1", UserNamesToAdd=["other", "app2"], UserNamesToRemove=["app1"])["ACL"]
    assert out["UserNames"] == ["other", "app2"] and "PendingChanges" not in out  # transition 0: done at once
    assert acl_names(mdb, "app1") == [] and acl_names(mdb, "other") == ["a1"]

    def fails(**kw: Any) -> str:
        return error_of(mdb.update_acl, ACLName="a1", **kw)[0]

    assert fails() == "InvalidParameterCombinationException"
    assert fails(UserNamesToAdd=["app1"], UserNamesToRemove=["app1"]) == "InvalidParameterCombinationException"
    assert fails(UserNamesToAdd=["ghost"]) == "UserNotFoundFault"
    assert fails(UserNamesToAdd=["other"]) == "InvalidParameterValueException"  # already a member
    assert fails(UserNamesToRemove=["app1"]) == "InvalidParameterValueException"  # not a member
    assert fails(UserNamesToAdd=["app1", "app1"]) == "DuplicateUserNameFault"
    assert error_of(mdb.update_acl, ACLName="nope", UserNamesToAdd=["app1"])[0] == "ACLNotFoundFault"
    assert mdb.describe_acls(ACLName="a1")["ACLs"][0]["UserNames"] == ["other", "app2"]


def test_acl_status_transitions(server: Server, mdb: Any, members: None) -> None:
    transition(server, 0.5)
    assert mdb.create_acl(ACLName="a1", UserNames=["app1"])["ACL"]["Status"] == "creating"
    assert error_of(mdb.update_acl, ACLName="a1", UserNamesToAdd=["app2"])[0] == "InvalidACLStateFault"
    assert error_of(mdb.delete_acl, ACLName="a1")[0] == "InvalidACLStateFault"
    assert error_of(make_cluster, mdb, "c1", "a1")[0] == "InvalidACLStateFault"
    assert sequence(lambda: acl_status(mdb, "a1"), "active") == ["creating", "active"]

    out = mdb.update_acl(ACLName="a1", UserNamesToAdd=["app2"], UserNamesToRemove=["app1"])["ACL"]
    assert out["Status"] == "modifying"
    assert out["UserNames"] == ["app1"]
    assert out["PendingChanges"] == {"UserNamesToAdd": ["app2"], "UserNamesToRemove": ["app1"]}
    assert acl_names(mdb, "app1") == ["a1"] and acl_names(mdb, "app2") == []  # not applied yet
    code, message, _ = error_of(mdb.update_acl, ACLName="a1", UserNamesToAdd=["other"])
    assert (code, message) == ("InvalidACLStateFault", "ACL a1 is not in active state.")
    assert sequence(lambda: acl_status(mdb, "a1"), "active") == ["modifying", "active"]
    acl = mdb.describe_acls(ACLName="a1")["ACLs"][0]
    assert acl["UserNames"] == ["app2"] and "PendingChanges" not in acl
    assert acl_names(mdb, "app1") == [] and acl_names(mdb, "app2") == ["a1"]

    assert mdb.delete_acl(ACLName="a1")["ACL"]["Status"] == "deleting"
    assert acl_status(mdb, "a1") == "deleting"
    assert sequence(lambda: acl_status(mdb, "a1"), "ACLNotFoundFault") == ["deleting", "ACLNotFoundFault"]
    assert [a["Name"] for a in mdb.describe_acls()["ACLs"]] == ["open-access"]
    assert acl_names(mdb, "app2") == []


def test_acl_in_use_by_a_cluster(server: Server, mdb: Any, members: None) -> None:
    assert error_of(make_cluster, mdb, "c0", "ghost")[0] == "ACLNotFoundFault"
    mdb.create_acl(ACLName="a1", UserNames=["app1"])
    mdb.create_acl(ACLName="a2", UserNames=["app2"])
    assert error_of(make_cluster, mdb, "c0", "a1", TLSEnabled=False)[0] == "InvalidParameterCombinationException"
    assert make_cluster(mdb, "c1", "a1")["ACLName"] == "a1"
    make_cluster(mdb, "c2", "a1")
    assert mdb.describe_acls(ACLName="a1")["ACLs"][0]["Clusters"] == ["c1", "c2"]
    code, message, status = error_of(mdb.delete_acl, ACLName="a1")
    assert (code, status) == ("InvalidACLStateFault", 400)
    assert "in use by cluster" in message and "c1" in message and "c2" in message

    assert error_of(mdb.update_cluster, ClusterName="c1", ACLName="ghost")[0] == "ACLNotFoundFault"
    mdb.update_cluster(ClusterName="c1", ACLName="a2")
    mdb.delete_cluster(ClusterName="c2")
    assert mdb.describe_acls(ACLName="a1")["ACLs"][0]["Clusters"] == []
    assert mdb.describe_acls(ACLName="a2")["ACLs"][0]["Clusters"] == ["c1"]
    mdb.delete_acl(ACLName="a1")
    assert acl_status(mdb, "a1") == "ACLNotFoundFault"
    assert error_of(mdb.delete_acl, ACLName="a2")[0] == "InvalidACLStateFault"


def test_describe_acls_pages(mdb: Any) -> None:
    for i in range(4):
        mdb.create_acl(ACLName=f"a{i}")
    first = mdb.describe_acls(MaxResults=2)
    assert [a["Name"] for a in first["ACLs"]] == ["open-access", "a0"] and first["NextToken"] == "a1"
    pages = mdb.get_paginator("describe_acls").paginate(PaginationConfig={"PageSize": 2})
    assert [a["Name"] for p in pages for a in p["ACLs"]] == ["open-access", "a0", "a1", "a2", "a3"]


# --------------------------------------------------------------------------------------
# Tags


def test_tags_on_users_and_acls(mdb: Any, members: None) -> None:
    acl_arn = mdb.create_acl(ACLName="a1", UserNames=["app1"])["ACL"]["ARN"]
    user_arn = f"{ARN}:user/app1"
    for arn in (user_arn, acl_arn):
        out = mdb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        assert out["TagList"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
        mdb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "3"}])
        assert mdb.untag_resource(ResourceArn=arn, TagKeys=["b"])["TagList"] == [{"Key": "a", "Value": "3"}]
        assert mdb.list_tags(ResourceArn=arn)["TagList"] == [{"Key": "a", "Value": "3"}]
        assert error_of(mdb.untag_resource, ResourceArn=arn, TagKeys=["zz"])[0] == "TagNotFoundFault"
        too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
        assert error_of(mdb.tag_resource, ResourceArn=arn, Tags=too_many)[0] == "TagQuotaPerResourceExceeded"

    assert error_of(mdb.list_tags, ResourceArn=f"{ARN}:user/ghost") == ("UserNotFoundFault", "User ghost not found.", 400)
    assert error_of(mdb.tag_resource, ResourceArn=f"{ARN}:acl/ghost", Tags=[{"Key": "a", "Value": "1"}])[0] == "ACLNotFoundFault"
    assert error_of(mdb.list_tags, ResourceArn="not-an-arn")[0] == "InvalidARNFault"

    mdb.delete_acl(ACLName="a1")
    mdb.create_acl(ACLName="a1")
    assert mdb.list_tags(ResourceArn=acl_arn)["TagList"] == []  # a deleted ACL's tags went with it

    cluster = make_cluster(mdb, "c1", "open-access")  # other resource types: as moto has them
    mdb.tag_resource(ResourceArn=cluster["ARN"], Tags=[{"Key": "c", "Value": "1"}])
    assert mdb.list_tags(ResourceArn=cluster["ARN"])["TagList"] == [{"Key": "c", "Value": "1"}]


def test_strict_tag_calls_refuse_a_user_or_acl_that_is_not_active(server: Server, mdb: Any, members: None) -> None:
    transition(server, 30)
    user_arn = make_user(mdb, "busy")["ARN"]
    acl_arn = mdb.create_acl(ACLName="a1", UserNames=["app1"])["ACL"]["ARN"]
    tag = [{"Key": "a", "Value": "1"}]

    def tag_calls(arn: str) -> list[tuple[str, str, int] | str]:
        out: list[tuple[str, str, int] | str] = []
        for call, kw in ((mdb.list_tags, {}), (mdb.tag_resource, {"Tags": tag}), (mdb.untag_resource, {"TagKeys": ["a"]})):
            try:
                call(ResourceArn=arn, **kw)
                out.append("ok")
            except mdb.exceptions.ClientError as e:
                err = e.response
                out.append((err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]))
        return out

    assert tag_calls(user_arn) == ["ok"] * 3  # strict off: as before
    assert tag_calls(acl_arn) == ["ok"] * 3
    strict(server)
    assert tag_calls(user_arn) == [("UserNotFoundFault", "busy is not available for tagging", 400)] * 3
    assert tag_calls(acl_arn) == [("ACLNotFoundFault", "a1 is not available for tagging", 400)] * 3
    assert tag_calls(f"{ARN}:user/app1") == ["ok"] * 3  # active: fine
    assert tag_calls(f"{ARN}:acl/open-access") == ["ok"] * 3
    assert error_of(mdb.list_tags, ResourceArn=f"{ARN}:user/ghost") == ("UserNotFoundFault", "User ghost not found.", 400)


# --------------------------------------------------------------------------------------
# Call log and faults


def test_call_log_and_faults(server: Server, mdb: Any) -> None:
    control(server, "POST", "fail", {"service": "memorydb", "action": "UpdateUser", "count": 1, "status": 400,
                                     "code": "InvalidUserStateFault", "message": "busy"})
    make_user(mdb, "u1")
    assert error_of(mdb.update_user, UserName="u1", AccessString="on") == ("InvalidUserStateFault", "busy", 400)
    mdb.update_user(UserName="u1", AccessString="on")
    mdb.describe_acls()
    calls = [(c["service"], c["action"]) for c in control(server, "GET", "calls")]
    assert calls == [("memorydb", "CreateUser"), ("memorydb", "UpdateUser"), ("memorydb", "UpdateUser"), ("memorydb", "DescribeACLs")]
    wait_for(lambda: user_status(mdb, "u1"), "active")
