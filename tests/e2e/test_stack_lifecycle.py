"""Stacks, not events: our custom resources deployed by MiniStack, a CloudFormation engine we
did not write (``stack_helpers.py``, ``harness/cfn_engine.py``). The engine decides what to
send (Create, Update with the old properties, the replacement's cleanup Delete, the rollback's
swapped Update, the stack's Deletes, in its order) and waits for the ResponseURL PUT; each
test asserts the stack's status, its outputs (``Ref``, ``Fn::GetAtt``) and the emulator's
state. The function is the release binary; its AWS calls go to our strict emulator with
realistic transitions, its continuations to the engine's Lambda.

The engine lacks the Delete that CloudFormation sends after a failed Create: the launcher
adds it (``harness/ministack_launch.py``), and ``test_failed_create_rolls_back`` shows the
engine without it too.
"""

from __future__ import annotations

import json
from typing import Any

from .harness.cfn_engine import AS_SHIPPED_TAG, MiniStack
from .harness.emulator import create_activemq_broker
from .harness.events import cfn_event
from .harness.views import contains_any
from .stack_helpers import (
    Engine, ec_groups, ec_users, mdb_acls, mdb_users, owner, request_summary, statuses,
)

EC_USER, EC_GROUP = "Custom::ElastiCacheUser", "Custom::ElastiCacheUserGroup"
MDB_USER, MDB_ACL, MQ_USER = "Custom::MemoryDBUser", "Custom::MemoryDBACL", "Custom::AmazonMQUser"
PW_DEFAULT = "Default-Passw0rd-Never-Used"
PW1 = "Correct-Horse-Battery-0001"
MQ_PW = "Broker-Passw0rd-0001"
TOKEN = {"Ref": "ServiceToken"}


def template(resources: dict[str, Any], outputs: dict[str, Any] | None = None,
             params: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "Parameters": {"ServiceToken": {"Type": "String"}, **{p: {"Type": "String"} for p in params}},
        "Resources": resources,
        "Outputs": {k: {"Value": v} for k, v in (outputs or {}).items()},
    }


def custom(rtype: str, props: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    # ServiceTimeout as a template writes it: a number, which CloudFormation sends as "120".
    return {"Type": rtype, "Properties": {"ServiceToken": TOKEN, "ServiceTimeout": 120, **props}, **attrs}


def getatt(logical_id: str, name: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, name]}


def ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


def ec_template(app_user_id: str = "app-user", access: str = "on ~app:* +@read",
                members: list[Any] | None = None, group_id: str = "app-users") -> dict[str, Any]:
    return template({
        "DefaultUser": custom(EC_USER, {"UserId": "app-default", "UserName": "default", "Engine": "valkey",
                                        "AccessString": "off ~* -@all", "Passwords": [PW_DEFAULT]}),
        "AppUser": custom(EC_USER, {"UserId": app_user_id, "UserName": "app", "Engine": "valkey",
                                    "AccessString": access,
                                    "AuthenticationMode": {"Type": "password", "Passwords": [PW1]},
                                    "Tags": [{"Key": "team", "Value": "payments"}]}),
        "Group": custom(EC_GROUP, {"UserGroupId": group_id, "Engine": "valkey",
                                   "UserIds": members or [ref("DefaultUser"), ref("AppUser")]}),
    }, {
        "AppUserId": ref("AppUser"), "AppUserArn": getatt("AppUser", "Arn"),
        "AppUserStatus": getatt("AppUser", "Status"), "AppUserName": getatt("AppUser", "UserName"),
        "AppUserMinimumEngineVersion": getatt("AppUser", "MinimumEngineVersion"),
        "GroupId": getatt("Group", "UserGroupId"), "GroupArn": getatt("Group", "Arn"), "GroupRef": ref("Group"),
    })


def ec_arn(kind: str, ident: str) -> str:
    return f"arn:aws:elasticache:us-east-1:123456789012:{kind}:{ident}"


def test_elasticache_stack_create_update_replace_rollback_delete(engine: Engine) -> None:
    ms, emu, name = engine.ms, engine.emulator, engine.stack_name()
    params = {"ServiceToken": engine.token}

    # Create: the group after both users (it names them with Ref), outputs from Data.
    stack = ms.deploy(name, ec_template(), params)
    stack_id = stack["StackId"]
    assert ms.outputs(name) == {
        "AppUserId": "app-user", "AppUserArn": ec_arn("user", "app-user"), "AppUserStatus": "active",
        "AppUserName": "app", "AppUserMinimumEngineVersion": ms.outputs(name)["AppUserMinimumEngineVersion"],
        "GroupId": "app-users", "GroupArn": ec_arn("usergroup", "app-users"), "GroupRef": "app-users",
    }
    assert ms.outputs(name)["AppUserMinimumEngineVersion"], "MinimumEngineVersion is empty"
    users, groups = ec_users(emu), ec_groups(emu)
    assert users["app-user"]["AccessString"] == "on ~app:* +@read" and users["app-user"]["Status"] == "active"
    assert owner(users["app-user"]) == (stack_id, "AppUser") and owner(users["app-default"]) == (stack_id, "DefaultUser")
    assert users["app-user"]["Tags"]["team"] == "payments"
    assert sorted(groups["app-users"]["UserIds"]) == ["app-default", "app-user"]
    assert owner(groups["app-users"]) == (stack_id, "Group")
    # The function called our emulator, not the engine's own ElastiCache.
    assert "app-user" not in {u["UserId"] for u in ms.client("elasticache").describe_users()["Users"]}
    created = request_summary(ms.requests(stack_id))
    assert sorted(created[:2]) == [("Create", "AppUser", None), ("Create", "DefaultUser", None)]
    assert created[2:] == [("Create", "Group", None)]

    # Update in place: one property of one user; the group is not touched.
    before = len(ms.requests(stack_id))
    ms.deploy(name, ec_template(access="on ~app:* +@read +@write"), params)
    assert ec_users(emu)["app-user"]["AccessString"] == "on ~app:* +@read +@write"
    assert request_summary(ms.requests(stack_id)[before:]) == [("Update", "AppUser", "app-user")]
    assert ms.outputs(name)["AppUserId"] == "app-user"

    # Replacements: a new UserId creates a new user, a new UserGroupId a new group holding it
    # (Ref AppUser); then the engine's cleanup deletes the old group, then the old user.
    before = len(ms.requests(stack_id))
    ms.deploy(name, ec_template("app-user-2", "on ~app:* +@read +@write", group_id="app-users-2"), params)
    assert request_summary(ms.requests(stack_id)[before:]) == [
        ("Update", "AppUser", "app-user"), ("Update", "Group", "app-users"),
        ("Delete", "Group", "app-users"), ("Delete", "AppUser", "app-user")]
    cleanup = ms.requests(stack_id)[-1]
    assert cleanup["ResourceProperties"]["UserId"] == "app-user", "the cleanup Delete carries the old properties"
    users, groups = ec_users(emu), ec_groups(emu)
    assert "app-user" not in users and users["app-user-2"]["Status"] == "active"
    assert owner(users["app-user-2"]) == (stack_id, "AppUser")
    assert set(groups) == {"app-users-2"} and sorted(groups["app-users-2"]["UserIds"]) == ["app-default", "app-user-2"]
    assert owner(groups["app-users-2"]) == (stack_id, "Group")
    out = ms.outputs(name)
    assert (out["AppUserId"], out["AppUserArn"]) == ("app-user-2", ec_arn("user", "app-user-2"))
    assert (out["GroupId"], out["GroupRef"], out["GroupArn"]) == ("app-users-2", "app-users-2",
                                                                  ec_arn("usergroup", "app-users-2"))

    # A failing update: the user changes in place, then the group fails (a member that does
    # not exist); the rollback sends the user back (Update, old and new swapped) and the
    # group its own rollback Update. State and outputs are those before the update.
    before_outputs, before = ms.outputs(name), len(ms.requests(stack_id))
    ms.deploy(name, ec_template("app-user-2", "on ~app:* +@all",
                                [ref("DefaultUser"), ref("AppUser"), "ghost-user"], "app-users-2"),
              params, expect="UPDATE_ROLLBACK_COMPLETE")
    sent = ms.requests(stack_id)[before:]
    assert request_summary(sent) == [
        ("Update", "AppUser", "app-user-2"), ("Update", "Group", "app-users-2"),
        ("Update", "AppUser", "app-user-2"), ("Update", "Group", "app-users-2")]
    assert ms.answer(sent[1])["Status"] == "FAILED" and "ghost-user" in ms.answer(sent[1])["Reason"]
    assert sent[2]["ResourceProperties"]["AccessString"] == "on ~app:* +@read +@write"
    assert sent[2]["OldResourceProperties"]["AccessString"] == "on ~app:* +@all"
    assert all(ms.answer(r)["Status"] == "SUCCESS" for r in (sent[0], sent[2], sent[3]))
    users, group = ec_users(emu), ec_groups(emu)["app-users-2"]
    assert users["app-user-2"]["AccessString"] == "on ~app:* +@read +@write" and users["app-user-2"]["Status"] == "active"
    assert sorted(group["UserIds"]) == ["app-default", "app-user-2"] and group["Status"] == "active"
    assert ms.outputs(name) == before_outputs

    # Delete: the group first, then the users; nothing is left.
    before = len(ms.requests(stack_id))
    ms.delete(name)
    deleted = request_summary(ms.requests(stack_id)[before:])
    assert deleted[0] == ("Delete", "Group", "app-users-2")
    assert sorted(deleted[1:]) == [("Delete", "AppUser", "app-user-2"), ("Delete", "DefaultUser", "app-default")]
    assert set(ec_users(emu)) == {"default"} and ec_groups(emu) == {}  # "default": ElastiCache's own
    assert all(a["Status"] == "SUCCESS" for a in map(ms.answer, ms.requests(stack_id)[before:]))

    # Neither a password nor a ResponseURL's token in the function's log (the engine's
    # CloudWatch Logs), nor in the stack's events.
    tokens = [r["ResponseURL"].rsplit("/", 1)[1] for r in ms.requests(stack_id)]
    log = engine.function_log()
    assert len(log) > 20, log
    assert not contains_any([*log, json.dumps(ms.events(stack_id), default=str)], [PW1, PW_DEFAULT, *tokens])


def mdb_mq_template(acl: str = "app-acl", mq_user: str = "app-mq", access: str = "on ~app:* +@read",
                    groups: list[str] | None = None, mdb_user: str = "app-mdb", team: str = "payments") -> dict[str, Any]:
    return template({
        "MdbUser": custom(MDB_USER, {"UserName": mdb_user, "AccessString": access,
                                     "AuthenticationMode": {"Type": "password", "Passwords": [PW1]}}),
        "Acl": custom(MDB_ACL, {"ACLName": acl, "UserNames": [ref("MdbUser")],
                                "Tags": [{"Key": "team", "Value": team}]}),
        "QueueUser": custom(MQ_USER, {"BrokerId": ref("BrokerId"), "Username": mq_user, "Password": MQ_PW,
                                      "ConsoleAccess": False, "Groups": groups or ["apps"]}),
    }, {
        "MdbUserRef": ref("MdbUser"), "MdbUserArn": getatt("MdbUser", "Arn"), "MdbUserStatus": getatt("MdbUser", "Status"),
        "AclName": getatt("Acl", "ACLName"), "AclArn": getatt("Acl", "Arn"), "AclStatus": getatt("Acl", "Status"),
        "QueueUserRef": ref("QueueUser"), "QueueUsername": getatt("QueueUser", "Username"),
        "QueueUserPending": getatt("QueueUser", "PendingChange"), "QueueUserLive": getatt("QueueUser", "LiveUsername"),
        "QueueBroker": getatt("QueueUser", "BrokerId"),
    }, params=("BrokerId",))


def test_memorydb_and_mq_stack_create_update_replace_delete(engine: Engine) -> None:
    ms, emu, name = engine.ms, engine.emulator, engine.stack_name()
    broker = create_activemq_broker(emu, "app-broker")
    params = {"ServiceToken": engine.token, "BrokerId": broker}

    stack_id = ms.deploy(name, mdb_mq_template(), params)["StackId"]
    out = ms.outputs(name)
    assert out == {
        "MdbUserRef": "app-mdb", "MdbUserArn": "arn:aws:memorydb:us-east-1:123456789012:user/app-mdb",
        "MdbUserStatus": "active", "AclName": "app-acl", "AclArn": "arn:aws:memorydb:us-east-1:123456789012:acl/app-acl",
        "AclStatus": "active", "QueueUserRef": f"{broker}/app-mq", "QueueUsername": "app-mq",
        "QueueUserPending": "CREATE", "QueueUserLive": "app-mq", "QueueBroker": broker,
    }
    assert owner(mdb_users(emu)["app-mdb"]) == (stack_id, "MdbUser")
    assert "app-mdb" in mdb_acls(emu)["app-acl"]["UserNames"] and owner(mdb_acls(emu)["app-acl"]) == (stack_id, "Acl")
    assert emu.mq_user(broker, "app-mq")["Pending"]["PendingChange"] == "CREATE"
    assert mq_owner(emu, broker, "app-mq") == f"{stack_id.rsplit('/', 1)[1]}/QueueUser"

    # In place: the MemoryDB user's access string, the ACL's tags, the broker user's groups.
    before = len(ms.requests(stack_id))
    ms.deploy(name, mdb_mq_template(access="on ~app:* +@read +@write", groups=["apps", "ops"], team="ops"), params)
    assert sorted(request_summary(ms.requests(stack_id)[before:])) == [
        ("Update", "Acl", "app-acl"), ("Update", "MdbUser", "app-mdb"), ("Update", "QueueUser", f"{broker}/app-mq")]
    assert mdb_users(emu)["app-mdb"]["AccessString"] == "on ~app:* +@read +@write"
    assert mdb_acls(emu)["app-acl"]["Tags"]["team"] == "ops"
    assert emu.mq_user(broker, "app-mq")["Pending"]["Groups"] == ["apps", "ops"]

    # Replacements of all three: a new user name (so the ACL's member changes), a new ACL name,
    # a new broker user name; the old ones go in the cleanup, the ACL before its user.
    before = len(ms.requests(stack_id))
    ms.deploy(name, mdb_mq_template("app-acl-2", "app-mq-2", "on ~app:* +@read +@write", ["apps", "ops"],
                                    "app-mdb-2", "ops"), params)
    sent = request_summary(ms.requests(stack_id)[before:])
    assert sorted(sent[:3]) == [("Update", "Acl", "app-acl"), ("Update", "MdbUser", "app-mdb"),
                                ("Update", "QueueUser", f"{broker}/app-mq")]
    assert sorted(sent[3:]) == [("Delete", "Acl", "app-acl"), ("Delete", "MdbUser", "app-mdb"),
                                ("Delete", "QueueUser", f"{broker}/app-mq")]
    assert sent.index(("Delete", "Acl", "app-acl")) < sent.index(("Delete", "MdbUser", "app-mdb"))
    out = ms.outputs(name)
    assert (out["MdbUserRef"], out["AclName"], out["QueueUserRef"], out["QueueUsername"]) == (
        "app-mdb-2", "app-acl-2", f"{broker}/app-mq-2", "app-mq-2")
    assert set(mdb_users(emu)) == {"default", "app-mdb-2"} and set(mdb_acls(emu)) == {"open-access", "app-acl-2"}
    assert "app-mdb-2" in mdb_acls(emu)["app-acl-2"]["UserNames"]
    assert emu.mq_user(broker, "app-mq") is None, "the old user's pending create is dropped"
    assert emu.mq_user(broker, "app-mq-2")["Pending"]["Groups"] == ["apps", "ops"]

    ms.delete(name)
    assert set(mdb_users(emu)) == {"default"} and set(mdb_acls(emu)) == {"open-access"}
    assert emu.mq_user(broker, "app-mq-2") is None
    assert not [k for k in emu.mq_broker(broker)["Tags"] if k.startswith("userkeeper:")]


def mq_owner(emu: Any, broker: str, username: str) -> str | None:
    """The owner part of the user's broker record (`<owner> <last request> <binding>`,
    src/services/mq/record.rs)."""
    value = emu.mq_broker(broker)["Tags"].get(f"userkeeper:user:{username}")
    return value.split(" ", 1)[0] if value else None


def queue_user_template(username: str) -> dict[str, Any]:
    # ApplyImmediately: the user is created, then the broker's reboot is asked for.
    return template({"QueueUser": custom(MQ_USER, {"BrokerId": ref("BrokerId"), "Username": username,
                                                   "Password": MQ_PW, "ApplyImmediately": True})},
                    params=("BrokerId",))


def test_failed_create_rolls_back_and_the_engine_alone_leaves_the_user_behind(engine: Engine) -> None:
    """A Create that created its user and then failed (the broker refused the reboot) answers
    FAILED with the user's real id. CloudFormation's rollback sends a Delete with that id; the
    engine as shipped sends none and the user stays behind, owned by a stack that no longer
    has it; with the launcher's patch the rollback deletes it."""
    ms, emu = engine.ms, engine.emulator
    broker = create_activemq_broker(emu, "app-broker")
    params = {"ServiceToken": engine.token, "BrokerId": broker}
    refuse_reboot = {"service": "mq", "action": "RebootBroker", "count": 1, "status": 400,
                     "code": "BadRequestException", "message": "Broker is in a state that does not allow reboot"}

    emu.fail(**refuse_reboot)
    shipped = engine.stack_name()
    shipped_id = ms.deploy(shipped, queue_user_template("left-behind"), params, expect="ROLLBACK_COMPLETE",
                           tags=[AS_SHIPPED_TAG])["StackId"]
    (create,) = ms.requests(shipped_id)
    answer = ms.answer(create)
    assert answer["Status"] == "FAILED" and answer["PhysicalResourceId"] == f"{broker}/left-behind", answer
    assert emu.mq_user(broker, "left-behind") is not None, "the user was created before the failure"
    assert mq_owner(emu, broker, "left-behind") == f"{shipped_id.rsplit('/', 1)[1]}/QueueUser"
    assert not [d for d in ms.patched_deletes() if d["stack_id"] == shipped_id]

    emu.fail(**refuse_reboot)
    patched = engine.stack_name()
    patched_id = ms.deploy(patched, queue_user_template("cleaned-up"), params, expect="ROLLBACK_COMPLETE")["StackId"]
    assert request_summary(ms.requests(patched_id)) == [
        ("Create", "QueueUser", None), ("Delete", "QueueUser", f"{broker}/cleaned-up")]
    assert [d["physical_id"] for d in ms.patched_deletes() if d["stack_id"] == patched_id] == [f"{broker}/cleaned-up"]
    assert all(ms.answer(r)["Status"] == s for r, s in zip(ms.requests(patched_id), ("FAILED", "SUCCESS")))
    assert emu.mq_user(broker, "cleaned-up") is None and mq_owner(emu, broker, "cleaned-up") is None
    events = ms.events(patched_id)
    assert statuses(events, "QueueUser") == ["CREATE_IN_PROGRESS", "CREATE_FAILED", "DELETE_IN_PROGRESS",
                                             "DELETE_COMPLETE"]
    assert events[-1]["ResourceStatus"] == "ROLLBACK_COMPLETE"


def ec_user_resource(user_id: str, access: str = "on ~app:* +@read", **extra: Any) -> dict[str, Any]:
    return custom(EC_USER, {"UserId": user_id, "UserName": user_id, "Engine": "redis", "AccessString": access,
                            "AuthenticationMode": {"Type": "password", "Passwords": [PW1]}, **extra.pop("props", {})},
                  **extra)


def test_two_stacks_naming_the_same_user(engine: Engine) -> None:
    """The first stack owns the user. A second stack naming it (even with Adopt) fails its
    Create, and its rollback (the marker id's Delete, a sibling's Delete) leaves the user to
    the first stack, which goes on updating and then deleting it."""
    ms, emu = engine.ms, engine.emulator
    params = {"ServiceToken": engine.token}
    first = engine.stack_name()
    first_id = ms.deploy(first, template({"Shared": ec_user_resource("shared-user")}), params)["StackId"]

    second = engine.stack_name()
    second_id = ms.deploy(second, template({
        "Sibling": ec_user_resource("sibling-user"),
        "Shared": ec_user_resource("shared-user", "on ~* +@all", props={"Adopt": True}, DependsOn="Sibling"),
    }), params, expect="ROLLBACK_COMPLETE")["StackId"]
    sent = ms.requests(second_id)
    answer = ms.answer(sent[1])
    assert answer["Status"] == "FAILED" and "already exists and is not managed by this stack" in answer["Reason"], answer
    marker = f"userkeeper:failed-create:{sent[1]['RequestId']}"
    assert answer["PhysicalResourceId"] == marker
    assert request_summary(sent) == [("Create", "Sibling", None), ("Create", "Shared", None),
                                     ("Delete", "Shared", marker), ("Delete", "Sibling", "sibling-user")]
    users = ec_users(emu)
    assert "sibling-user" not in users
    assert owner(users["shared-user"]) == (first_id, "Shared") and users["shared-user"]["AccessString"] == "on ~app:* +@read"
    ms.delete(second)
    assert "shared-user" in ec_users(emu)

    ms.deploy(first, template({"Shared": ec_user_resource("shared-user", "on ~app:* +@read +@write")}), params)
    assert ec_users(emu)["shared-user"]["AccessString"] == "on ~app:* +@read +@write"
    ms.delete(first)
    assert "shared-user" not in ec_users(emu)


def test_a_wait_longer_than_the_invocation_continues_inside_the_stack(engine: Engine) -> None:
    """The function (timeout 6 s) meets a user that takes 12 s to create: it hands the wait to
    a new invocation of itself through the engine's Lambda (Invoke, Event), and that one
    answers; the engine sees one request and one answer."""
    ms, emu, name = engine.ms, engine.emulator, engine.stack_name()
    token = engine.function("userkeeper-6s", 6)
    emu.config(transition_seconds=12, transition_jitter=0)
    stack_id = ms.deploy(name, template({"Slow": ec_user_resource("slow-user")},
                                        {"Arn": getatt("Slow", "Arn"), "Id": ref("Slow")}),
                         {"ServiceToken": token})["StackId"]
    assert ms.outputs(name) == {"Arn": ec_arn("user", "slow-user"), "Id": "slow-user"}
    (create,) = ms.requests(stack_id)
    chain = [e for e in ms.invocations("userkeeper-6s") if e.get("RequestId") == create["RequestId"]]
    assert len(chain) >= 2, f"a 12 s wait in 6 s invocations continues at least once: {len(chain)} invocation(s)"
    assert chain[0] == create
    for n, ev in enumerate(chain[1:], start=1):
        progress = ev["UserkeeperContinuation"]
        assert progress["Attempt"] == n and progress.get("Created") == "slow-user", progress
        assert {k: v for k, v in ev.items() if k != "UserkeeperContinuation"} == create
    assert ms.answer(create)["Status"] == "SUCCESS"
    assert emu.actions("elasticache").count("CreateUser") == 1
    assert ec_users(emu)["slow-user"]["Status"] == "active"
    emu.config(transition_seconds=1)
    ms.delete(name)
    assert "slow-user" not in ec_users(emu)


def acl_template(acl: str, **extra: Any) -> dict[str, Any]:
    return template({"Acl": custom(MDB_ACL, {"ACLName": acl, "UserNames": [], **extra})}, {"Name": getatt("Acl", "ACLName")})


def test_what_the_engine_sends_differs_from_our_events_only_where_known(engine: Engine) -> None:
    """The engine's requests against ``cfn_event`` (how every other end-to-end test builds
    them) and its stack events against CloudFormation's documented ones: each difference found
    is asserted here, so that an engine release that changes one shows up. The README's
    "Stacks" section lists them."""
    ms, emu, name = engine.ms, engine.emulator, engine.stack_name()
    stack_id = ms.deploy(name, acl_template("facts-a"), {"ServiceToken": engine.token})["StackId"]
    ms.deploy(name, acl_template("facts-b"), {"ServiceToken": engine.token})  # a replacement
    failing = engine.stack_name()
    failing_id = ms.deploy(failing, acl_template("facts-c", Bogus=1), {"ServiceToken": engine.token},
                           expect="ROLLBACK_COMPLETE")["StackId"]
    sent = ms.requests(stack_id) + ms.requests(failing_id)
    assert request_summary(sent) == [
        ("Create", "Acl", None), ("Update", "Acl", "facts-a"), ("Delete", "Acl", "facts-a"),
        ("Create", "Acl", None), ("Delete", "Acl", f"userkeeper:failed-create:{sent[3]['RequestId']}")]
    props = {"ServiceTimeout": 120, "UserNames": []}
    for request, (acl, old, sid) in zip(sent, [("facts-a", None, stack_id), ("facts-b", "facts-a", stack_id),
                                               ("facts-a", None, stack_id), ("facts-c", None, failing_id),
                                               ("facts-c", None, failing_id)]):
        extra = {"Bogus": 1} if acl == "facts-c" else {}
        ours = cfn_event(request["RequestType"], MDB_ACL, {**props, "ACLName": acl, **extra},
                         physical_id=request.get("PhysicalResourceId"),
                         old_props={**props, "ACLName": old} if old else None, response_url=request["ResponseURL"],
                         logical_id="Acl", stack_id=sid, request_id=request["RequestId"], service_token=engine.token)
        # Difference 1: CloudFormation sends ServiceToken at the top level too; the engine only
        # in ResourceProperties. Everything else matches, strings for every scalar included.
        assert "ServiceToken" not in request
        del ours["ServiceToken"]
        assert request == ours
        # Difference 2: the ResponseURL is plain http to the engine (a pre-signed https S3 URL
        # on AWS), which userkeeper takes from a loopback address only.
        assert request["ResponseURL"].startswith(f"{ms.url}/_ministack/cfn-response/")

    events = ms.events(stack_id)
    # Difference 3: no events for the replacement's cleanup (AWS: the stack's
    # UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, then DELETE_IN_PROGRESS / DELETE_COMPLETE of the old
    # physical id); the Delete is sent all the same.
    assert statuses(events, "Acl") == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" not in statuses(events, name)
    # Difference 4: a FAILED answer's Reason is the event's reason as is (AWS: "Received
    # response status [FAILED] from custom resource. Message returned: <Reason>"), and the
    # rollback's reason is "Rollback requested" (AWS names the failed resources).
    failed_events = ms.events(failing_id)
    (failed,) = [e for e in failed_events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed["ResourceStatusReason"] == ms.answer(sent[3])["Reason"]
    assert failed["ResourceStatusReason"].startswith("invalid ResourceProperties: Bogus: unknown property")
    assert [e["ResourceStatusReason"] for e in failed_events if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS"] == [
        "Rollback requested"]
    assert set(mdb_acls(emu)) == {"open-access", "facts-b"}

    # Where the function calls: its own environment decides, as the engine was started
    # without AWS_ENDPOINT_URL / LOCALSTACK_HOSTNAME. Difference 5: the engine's whole process
    # environment reaches the function (GATEWAY_PORT here), with an empty AWS_SESSION_TOKEN.
    env = ms.function_environ("userkeeper")
    assert env["AWS_ENDPOINT_URL"] == emu.url and env["AWS_ENDPOINT_URL_LAMBDA"] == ms.url
    assert "LOCALSTACK_HOSTNAME" not in env
    assert env["GATEWAY_PORT"] == str(ms.port) and env["AWS_SESSION_TOKEN"] == ""
    assert emu.actions("memorydb").count("CreateACL") == 2

    # Difference 6: an engine started with AWS_ENDPOINT_URL (as its users are told to) puts
    # it over the function's own: the function would call the engine, not our emulator.
    other = MiniStack(extra_env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    try:
        other.create_function("userkeeper", engine.binary, emu.url)
        other.lam.invoke(FunctionName="userkeeper", Payload=b"{}")
        assert other.function_environ("userkeeper")["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    finally:
        other.stop()
