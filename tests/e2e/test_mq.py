"""End-to-end: ``Custom::AmazonMQUser`` (ActiveMQ broker users) against the emulator.

ActiveMQ applies user changes at the broker's next reboot: the emulator keeps each change
pending (``/_emulator/state`` -> ``mq.brokers[].users[].Pending``) until a ``RebootBroker``
has run for ``reboot_seconds``, and counts the reboots per broker.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .cfn_helpers import CfnDriver, assert_failed, assert_success, count, marker
from .harness.constants import DEFAULT_STACK_ID
from .harness.emulator import Emulator
from .harness.receiver import ResponseReceiver, check_put
from .harness.runtime_api import LocalRuntimeApi

MQUSER = "Custom::AmazonMQUser"
PW1 = "Broker-Passw0rd-0001"
PW2 = "Broker-Passw0rd-0002"
PW3 = "Broker-Passw0rd-0003"
ADMIN_PW = "Admin-Passw0rd-9999"
STACK_GUID = DEFAULT_STACK_ID.rsplit("/", 1)[-1]
MUTATING = {"CreateUser", "UpdateUser", "DeleteUser", "RebootBroker", "CreateTags", "DeleteTags"}


# ------------------------------------------------------------------------------------------
# helpers


def make_broker(emulator: Emulator, name: str = "app-broker", engine: str = "ACTIVEMQ") -> str:
    return emulator.client("mq").create_broker(
        BrokerName=name,
        DeploymentMode="SINGLE_INSTANCE",
        EngineType=engine,
        HostInstanceType="mq.t3.micro",
        PubliclyAccessible=False,
        Users=[{"Username": "admin", "Password": ADMIN_PW, "ConsoleAccess": True}],
    )["BrokerId"]


def mq_props(broker_id: str, username: str = "app-mq", password: str | None = PW1, **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"BrokerId": broker_id, "Username": username}
    if password is not None:
        props["Password"] = password
    props.update(extra)
    return props


def owner_tag(username: str) -> str:
    return "userkeeper:user:" + username.replace("~", "+")


def mutations(emulator: Emulator) -> list[str]:
    return [a for a in emulator.actions("mq") if a in MUTATING]


def owners(tags: dict[str, str]) -> dict[str, str]:
    """Broker tags with each user record cut to its owner part ("<stack guid>/<logical id>");
    after it come the id of the request that last sent a change and the bound secret's digest
    (src/services/mq/record.rs)."""
    return {k: v.split(" ", 1)[0] for k, v in tags.items()}


def pid(broker_id: str, username: str = "app-mq") -> str:
    return f"{broker_id}/{username}"


# ------------------------------------------------------------------------------------------
# lifecycle, changes left pending (the default)


def test_create_leaves_the_user_pending_without_reboot(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    emulator.clear_calls()
    props = mq_props(broker, ConsoleAccess="true", Groups=["apps", "admins"])
    res = cfn.create(MQUSER, props, logical_id="QueueUser")
    assert_success(res)
    assert res.physical_id == pid(broker)
    assert res.data == {"BrokerId": broker, "Username": "app-mq", "PendingChange": "CREATE", "LiveUsername": "app-mq"}
    acts = emulator.actions("mq")
    assert count(acts, "CreateUser") == 1 and count(acts, "RebootBroker") == 0
    assert acts.index("CreateTags") < acts.index("CreateUser"), "ownership is recorded before the user exists"
    b = emulator.mq_broker(broker)
    assert b["reboots"] == 0 and b["BrokerState"] == "RUNNING"
    assert owners(b["Tags"]) == {owner_tag("app-mq"): f"{STACK_GUID}/QueueUser"}
    u = emulator.mq_user(broker, "app-mq")
    assert u["Password"] is None, "not live before a reboot"
    assert u["Pending"] == {"PendingChange": "CREATE", "Password": PW1, "Groups": ["apps", "admins"],
                            "ConsoleAccess": True, "ReplicationUser": False}
    assert emulator.mq_user(broker, "admin")["Password"] == ADMIN_PW


def test_update_password_left_pending(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    props = mq_props(broker)
    assert_success(cfn.create(MQUSER, props, logical_id="QueueUser"))
    emulator.client("mq").reboot_broker(BrokerId=broker)  # the maintenance window: now live
    emulator.wait_settled()
    assert emulator.mq_user(broker, "app-mq")["Password"] == PW1
    emulator.clear_calls()
    new = {**props, "Password": PW2}
    upd = cfn.update(MQUSER, pid(broker), new, props, logical_id="QueueUser")
    assert_success(upd)
    assert upd.physical_id == pid(broker)
    assert upd.data == {"BrokerId": broker, "Username": "app-mq", "PendingChange": "UPDATE", "LiveUsername": "app-mq"}
    acts = emulator.actions("mq")
    assert count(acts, "UpdateUser") == 1 and count(acts, "RebootBroker") == 0 and count(acts, "CreateUser") == 0
    u = emulator.mq_user(broker, "app-mq")
    assert u["Password"] == PW1, "the live password changes only at a reboot"
    assert u["Pending"]["PendingChange"] == "UPDATE" and u["Pending"]["Password"] == PW2
    assert emulator.mq_broker(broker)["reboots"] == 1  # the one above only


def test_update_of_live_user_without_change_reports_no_pending(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    props = mq_props(broker)
    assert_success(cfn.create(MQUSER, props, logical_id="QueueUser"))
    emulator.client("mq").reboot_broker(BrokerId=broker)
    emulator.wait_settled()
    emulator.clear_calls()
    upd = cfn.update(MQUSER, pid(broker), {**props, "ServiceTimeout": "600"}, props, logical_id="QueueUser")
    assert_success(upd)
    assert upd.data == {"BrokerId": broker, "Username": "app-mq", "PendingChange": "", "LiveUsername": "app-mq"}
    assert mutations(emulator) == []


def test_update_without_password_change_keeps_a_rotated_password(cfn: CfnDriver, emulator: Emulator):
    """The password is sent only when Password/PasswordSecretArn changed: one set behind the
    template's back survives an Update of other properties."""
    broker = make_broker(emulator)
    props = mq_props(broker, ApplyImmediately="true")
    assert_success(cfn.create(MQUSER, props, logical_id="QueueUser"))
    mq = emulator.client("mq")
    mq.update_user(BrokerId=broker, Username="app-mq", Password=PW3)
    mq.reboot_broker(BrokerId=broker)
    emulator.wait_settled()
    assert emulator.mq_user(broker, "app-mq")["Password"] == PW3
    reboots = emulator.mq_broker(broker)["reboots"]
    emulator.clear_calls()
    new = {**props, "ConsoleAccess": "true", "Groups": ["apps"]}
    upd = cfn.update(MQUSER, pid(broker), new, props, logical_id="QueueUser")
    assert_success(upd)
    assert upd.data["PendingChange"] == ""
    assert count(emulator.actions("mq"), "UpdateUser") == 1
    assert emulator.mq_broker(broker)["reboots"] == reboots + 1
    u = emulator.mq_user(broker, "app-mq")
    assert u["Pending"] is None
    assert u["ConsoleAccess"] is True and u["Groups"] == ["apps"]
    assert u["Password"] == PW3, "the Update re-sent the template's password although it did not change"


def test_delete_leaves_the_deletion_pending(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    props = mq_props(broker)
    assert_success(cfn.create(MQUSER, props, logical_id="QueueUser"))
    emulator.client("mq").reboot_broker(BrokerId=broker)
    emulator.wait_settled()
    emulator.clear_calls()
    dele = cfn.delete(MQUSER, pid(broker), props, logical_id="QueueUser")
    assert_success(dele)
    assert dele.physical_id == pid(broker)
    acts = emulator.actions("mq")
    assert count(acts, "DeleteUser") == 1 and count(acts, "RebootBroker") == 0
    assert count(acts, "DeleteTags") == 1
    u = emulator.mq_user(broker, "app-mq")
    assert u["Pending"] == {"PendingChange": "DELETE"} and u["Password"] == PW1
    assert owner_tag("app-mq") not in emulator.mq_broker(broker)["Tags"]


def test_delete_of_a_pending_create_drops_it(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    props = mq_props(broker)
    assert_success(cfn.create(MQUSER, props, logical_id="QueueUser"))
    dele = cfn.delete(MQUSER, pid(broker), props, logical_id="QueueUser")
    assert_success(dele)
    assert emulator.mq_user(broker, "app-mq") is None
    assert emulator.mq_broker(broker)["Tags"] == {}
    assert emulator.mq_broker(broker)["reboots"] == 0


# ------------------------------------------------------------------------------------------
# ApplyImmediately: one reboot per request, and wait until the change is live


def test_apply_immediately_create_update_delete(cfn: CfnDriver, emulator: Emulator):
    emulator.config(reboot_seconds=2)
    broker = make_broker(emulator)
    emulator.clear_calls()
    props = mq_props(broker, ApplyImmediately="true", Groups=["apps"])
    create = cfn.create(MQUSER, props, logical_id="QueueUser")
    assert_success(create)
    assert create.physical_id == pid(broker)
    assert create.data == {"BrokerId": broker, "Username": "app-mq", "PendingChange": "", "LiveUsername": "app-mq"}
    assert create.invocation.duration_s >= 1.9, f"answered before the reboot ended: {create.invocation}"
    acts = emulator.actions("mq")
    assert count(acts, "CreateUser") == 1 and count(acts, "RebootBroker") == 1
    assert acts.index("CreateUser") < acts.index("RebootBroker")
    b = emulator.mq_broker(broker)
    assert b["reboots"] == 1 and b["BrokerState"] == "RUNNING"
    u = emulator.mq_user(broker, "app-mq")
    assert u["Pending"] is None and u["Password"] == PW1 and u["Groups"] == ["apps"]

    emulator.clear_calls()
    new = {**props, "Password": PW2}
    upd = cfn.update(MQUSER, pid(broker), new, props, logical_id="QueueUser")
    assert_success(upd)
    assert upd.data == {"BrokerId": broker, "Username": "app-mq", "PendingChange": "", "LiveUsername": "app-mq"}
    assert upd.invocation.duration_s >= 1.9, upd.invocation
    acts = emulator.actions("mq")
    assert count(acts, "UpdateUser") == 1 and count(acts, "RebootBroker") == 1
    assert emulator.mq_broker(broker)["reboots"] == 2
    u = emulator.mq_user(broker, "app-mq")
    assert u["Pending"] is None and u["Password"] == PW2

    emulator.clear_calls()
    dele = cfn.delete(MQUSER, pid(broker), new, logical_id="QueueUser")
    assert_success(dele)
    assert dele.invocation.duration_s >= 1.9, dele.invocation
    acts = emulator.actions("mq")
    assert count(acts, "DeleteUser") == 1 and count(acts, "RebootBroker") == 1 and count(acts, "DeleteTags") == 1
    b = emulator.mq_broker(broker)
    assert b["reboots"] == 3 and b["BrokerState"] == "RUNNING"
    assert emulator.mq_user(broker, "app-mq") is None
    assert b["Tags"] == {}
    assert emulator.mq_user(broker, "admin")["Password"] == ADMIN_PW


def test_apply_immediately_without_pending_change_does_not_reboot(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    props = mq_props(broker, ApplyImmediately="true")
    assert_success(cfn.create(MQUSER, props, logical_id="QueueUser"))
    assert emulator.mq_broker(broker)["reboots"] == 1
    emulator.clear_calls()
    upd = cfn.update(MQUSER, pid(broker), {**props, "ServiceTimeout": "900"}, props, logical_id="QueueUser")
    assert_success(upd)
    assert upd.data["PendingChange"] == ""
    assert mutations(emulator) == []
    assert emulator.mq_broker(broker)["reboots"] == 1


def test_redelivered_apply_immediately_create_reboots_once(cfn: CfnDriver, emulator: Emulator):
    emulator.config(reboot_seconds=2)
    broker = make_broker(emulator)
    emulator.clear_calls()
    ev = cfn.event("Create", MQUSER, mq_props(broker, ApplyImmediately="true"), logical_id="QueueUser")
    first = cfn.send(ev)
    assert_success(first)
    again = cfn.send(dict(ev, ResponseURL=cfn.receiver.url("redelivered")))
    assert_success(again)
    assert again.physical_id == first.physical_id == pid(broker)
    assert again.data == {"BrokerId": broker, "Username": "app-mq", "PendingChange": "", "LiveUsername": "app-mq"}
    acts = emulator.actions("mq")
    assert count(acts, "CreateUser") == 1
    assert count(acts, "RebootBroker") == 1
    assert emulator.mq_broker(broker)["reboots"] == 1
    assert emulator.mq_user(broker, "app-mq")["Password"] == PW1


def test_redelivered_apply_immediately_update_reboots_once(cfn: CfnDriver, emulator: Emulator):
    """Lambda may deliver an Update twice: the copy must neither send the change again (a new
    pending change) nor reboot again."""
    emulator.config(reboot_seconds=2)
    broker = make_broker(emulator)
    old = mq_props(broker, ApplyImmediately="true")
    assert_success(cfn.create(MQUSER, old, logical_id="QueueUser"))
    emulator.clear_calls()
    reboots_before = emulator.mq_broker(broker)["reboots"]
    new = mq_props(broker, password=PW2, ApplyImmediately="true")
    ev = cfn.event("Update", MQUSER, new, logical_id="QueueUser", physical_id=pid(broker), old_props=old)
    first = cfn.send(ev)
    assert_success(first)
    again = cfn.send(dict(ev, ResponseURL=cfn.receiver.url("redelivered-update")))
    assert_success(again)
    assert again.data == first.data == {"BrokerId": broker, "Username": "app-mq", "PendingChange": "", "LiveUsername": "app-mq"}
    acts = emulator.actions("mq")
    assert count(acts, "UpdateUser") == 1, acts
    assert count(acts, "RebootBroker") == 1, acts
    assert emulator.mq_broker(broker)["reboots"] == reboots_before + 1
    user = emulator.mq_user(broker, "app-mq")
    assert user["Password"] == PW2 and user["Pending"] is None, user


def test_redelivered_create_during_the_reboot_reboots_once(start_function, runtime: LocalRuntimeApi,
                                                           receiver: ResponseReceiver, emulator: Emulator):
    """Two execution environments: the copy of the event arrives while the first one's reboot
    is under way. The broker reboots once; both answer SUCCESS once each."""
    emulator.config(reboot_seconds=3)
    broker = make_broker(emulator)
    fns = [start_function(), start_function()]
    drivers = [CfnDriver(f, receiver, DEFAULT_STACK_ID) for f in fns]
    end = time.monotonic() + 10
    while runtime.next_requests < 2 and time.monotonic() < end:  # both environments are polling
        time.sleep(0.02)
    assert runtime.next_requests >= 2
    emulator.clear_calls()
    ev = drivers[0].event("Create", MQUSER, mq_props(broker, ApplyImmediately="true"), logical_id="QueueUser")
    copy = dict(ev, ResponseURL=receiver.url("redelivered"))
    first = runtime.submit(ev, 30)
    end = time.monotonic() + 10
    while emulator.mq_broker(broker)["BrokerState"] != "REBOOT_IN_PROGRESS" and time.monotonic() < end:
        time.sleep(0.05)
    assert emulator.mq_broker(broker)["BrokerState"] == "REBOOT_IN_PROGRESS"
    second = runtime.submit(copy, 30)
    for inv in (first, second):
        runtime.wait(inv)
        assert inv.finished and inv.kind == "response" and inv.before_deadline, inv
    for e in (ev, copy):
        puts = receiver.for_url(e["ResponseURL"])
        assert [p.status for p in puts] == [200], puts
        body = puts[0].json()
        assert not check_put(puts[0], e)
        assert body["Status"] == "SUCCESS", body
        assert body["PhysicalResourceId"] == pid(broker)
        assert body["Data"]["PendingChange"] == ""
    assert second.served_at < first.finished_at, "the copy was not handled while the first was running"
    acts = emulator.actions("mq")
    assert count(acts, "CreateUser") == 1
    assert count(acts, "RebootBroker") == 1
    assert emulator.mq_broker(broker)["reboots"] == 1
    assert emulator.mq_user(broker, "app-mq")["Password"] == PW1


def test_password_from_secret(cfn: CfnDriver, emulator: Emulator):
    sm = emulator.client("secretsmanager")
    arn = sm.create_secret(Name="app/mq", SecretString=json.dumps({"username": "app-mq", "password": PW2}))["ARN"]
    broker = make_broker(emulator)
    props = mq_props(broker, password=None, PasswordSecretArn=arn, ApplyImmediately="true")
    res = cfn.create(MQUSER, props, logical_id="QueueUser")
    assert_success(res)
    assert "GetSecretValue" in emulator.actions("secretsmanager")
    assert emulator.mq_user(broker, "app-mq")["Password"] == PW2
    assert PW2 not in json.dumps(res.response) and PW2 not in cfn.fn.log_text()

    # A new secret (the ARN changed): the password is set again, the new secret's current one.
    arn2 = sm.create_secret(Name="app/mq-2", SecretString=json.dumps({"password": PW3}))["ARN"]
    new = {**props, "PasswordSecretArn": arn2}
    assert_success(cfn.update(MQUSER, pid(broker), new, props, logical_id="QueueUser"))
    assert emulator.mq_user(broker, "app-mq")["Password"] == PW3


def test_secret_with_bad_password_fails_without_creating(cfn: CfnDriver, emulator: Emulator):
    sm = emulator.client("secretsmanager")
    arn = sm.create_secret(Name="app/mq", SecretString=json.dumps({"password": "has:colon-in-it"}))["ARN"]
    broker = make_broker(emulator)
    ev = cfn.event("Create", MQUSER, mq_props(broker, password=None, PasswordSecretArn=arn), logical_id="QueueUser")
    res = cfn.send(ev)
    assert_failed(res, "PasswordSecretArn")
    assert "has:colon-in-it" not in res.reason
    assert count(emulator.actions("mq"), "CreateUser") == 0
    assert emulator.mq_user(broker, "app-mq") is None


# ------------------------------------------------------------------------------------------
# replacement


def test_username_change_is_a_replacement(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    old = mq_props(broker)
    assert_success(cfn.create(MQUSER, old, logical_id="QueueUser"))
    emulator.clear_calls()
    new = mq_props(broker, "app-mq-v2")
    upd = cfn.update(MQUSER, pid(broker), new, old, logical_id="QueueUser")
    assert_success(upd)
    assert upd.physical_id == pid(broker, "app-mq-v2")
    assert upd.data == {"BrokerId": broker, "Username": "app-mq-v2", "PendingChange": "CREATE", "LiveUsername": "app-mq-v2"}
    acts = emulator.actions("mq")
    assert count(acts, "CreateUser") == 1 and count(acts, "DeleteUser") == 0 and count(acts, "UpdateUser") == 0
    assert emulator.mq_user(broker, "app-mq") is not None, "the old user stays until CloudFormation's cleanup"
    tags = emulator.mq_broker(broker)["Tags"]
    tags = owners(tags)
    assert tags[owner_tag("app-mq")] == tags[owner_tag("app-mq-v2")] == f"{STACK_GUID}/QueueUser"

    cleanup = cfn.delete(MQUSER, pid(broker), old, logical_id="QueueUser")
    assert_success(cleanup)
    assert cleanup.physical_id == pid(broker)
    assert emulator.mq_user(broker, "app-mq") is None
    assert emulator.mq_user(broker, "app-mq-v2") is not None
    assert set(emulator.mq_broker(broker)["Tags"]) == {owner_tag("app-mq-v2")}


def test_broker_change_is_a_replacement(cfn: CfnDriver, emulator: Emulator):
    b1 = make_broker(emulator, "broker-one")
    b2 = make_broker(emulator, "broker-two")
    old = mq_props(b1)
    assert_success(cfn.create(MQUSER, old, logical_id="QueueUser"))
    emulator.clear_calls()
    new = mq_props(b2)
    upd = cfn.update(MQUSER, pid(b1), new, old, logical_id="QueueUser")
    assert_success(upd)
    assert upd.physical_id == pid(b2)
    assert upd.data["BrokerId"] == b2
    assert count(emulator.actions("mq"), "CreateUser") == 1 and count(emulator.actions("mq"), "DeleteUser") == 0
    assert emulator.mq_user(b1, "app-mq") is not None and emulator.mq_user(b2, "app-mq") is not None
    assert_success(cfn.delete(MQUSER, pid(b1), old, logical_id="QueueUser"))
    assert emulator.mq_user(b1, "app-mq") is None
    assert emulator.mq_user(b2, "app-mq") is not None


def test_username_with_tilde_is_tagged_with_plus(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    props = mq_props(broker, "app~mq")
    res = cfn.create(MQUSER, props, logical_id="QueueUser")
    assert_success(res)
    assert res.physical_id == pid(broker, "app~mq")
    assert owners(emulator.mq_broker(broker)["Tags"]) == {"userkeeper:user:app+mq": f"{STACK_GUID}/QueueUser"}
    assert_success(cfn.delete(MQUSER, pid(broker, "app~mq"), props, logical_id="QueueUser"))
    assert emulator.mq_user(broker, "app~mq") is None
    assert emulator.mq_broker(broker)["Tags"] == {}


# ------------------------------------------------------------------------------------------
# validation before any AWS call: each rule on its own


BROKER_ID = "b-1234a5b6-78cd-901e-2fab-3c45d6e178f9"


@pytest.mark.parametrize("change,field", [
    ({"Username": "a"}, "Username"),
    ({"Username": "u" * 101}, "Username"),
    ({"Username": "app mq"}, "Username"),
    ({"Username": "app@mq"}, "Username"),
    ({"Password": "Elevn-chars"}, "Password"),
    ({"Password": "abcabcabcabcabc"}, "Password"),
    ({"Password": "Has,Comma-0123"}, "Password"),
    ({"Password": "Has:Colon-0123"}, "Password"),
    ({"Password": "Has=Equal-0123"}, "Password"),
    ({"Groups": [f"group-{i}" for i in range(21)]}, "Groups"),
    ({"Groups": ["apps", "g"]}, "Groups[1]"),
    ({"Groups": ["g" * 101]}, "Groups[0]"),
    ({"Groups": ["bad group"]}, "Groups[0]"),
    ({"Password": None}, "Password"),
    ({"PasswordSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf"}, "exclusive"),
    ({"BrokerId": "not a broker"}, "BrokerId"),
    ({"Engine": "activemq"}, "Engine"),
    ({"ConsoleAccess": "maybe"}, "ConsoleAccess"),
    ({"ConsoleAccess": "true", "ReplicationUser": "true"}, "ConsoleAccess and ReplicationUser"),
], ids=["user-1-char", "user-101-chars", "user-space", "user-at", "pw-11-chars", "pw-3-distinct", "pw-comma",
        "pw-colon", "pw-equals", "21-groups", "group-1-char", "group-101-chars", "group-space", "no-password",
        "password-and-secret", "bad-broker-id", "unknown-property", "bad-boolean",
        "console-and-replication-user"])
def test_bad_properties_fail_before_any_aws_call(cfn: CfnDriver, emulator: Emulator, change, field):
    props = {**mq_props(BROKER_ID), **change}
    props = {k: v for k, v in props.items() if v is not None}
    ev = cfn.event("Create", MQUSER, props, logical_id="QueueUser")
    res = cfn.send(ev)
    assert_failed(res, field)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []
    if "Password" in change and change["Password"]:
        assert change["Password"] not in res.reason


def test_limits_accepted(cfn: CfnDriver, emulator: Emulator):
    """The edges of each rule pass: 2 and 100 character names, a 12-character password of 4
    distinct characters, 20 groups."""
    broker = make_broker(emulator)
    groups = [f"g{i:02d}" for i in range(19)] + ["G" * 100]
    for username in ("ab", "U" * 100):
        res = cfn.create(MQUSER, mq_props(broker, username, "aabbccddaabb", Groups=groups), logical_id=f"L{len(username)}")
        assert_success(res)
        u = emulator.mq_user(broker, username)
        assert u["Pending"]["Groups"] == groups and u["Pending"]["Password"] == "aabbccddaabb"


# ------------------------------------------------------------------------------------------
# what this function refuses, and ownership


def test_rabbitmq_broker_fails_at_once(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator, "rabbit", engine="RABBITMQ")
    emulator.clear_calls()
    ev = cfn.event("Create", MQUSER, mq_props(broker, ApplyImmediately="true"), logical_id="QueueUser")
    res = cfn.send(ev)
    assert_failed(res, "RabbitMQ")
    assert "live in RabbitMQ" in res.reason, res.reason
    assert res.physical_id == marker(ev)
    assert res.invocation.duration_s < 5, res.invocation
    assert {"CreateUser", "CreateTags", "RebootBroker"}.isdisjoint(emulator.actions("mq"))
    b = emulator.mq_broker(broker)
    assert b["Tags"] == {} and b["reboots"] == 0
    dele = cfn.delete(MQUSER, res.physical_id, ev["ResourceProperties"], logical_id="QueueUser")
    assert_success(dele)


def test_unknown_broker_fails_with_marker(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", MQUSER, mq_props(BROKER_ID), logical_id="QueueUser")
    res = cfn.send(ev)
    assert_failed(res, BROKER_ID)
    assert res.physical_id == marker(ev)
    assert mutations(emulator) == []


def test_collision_with_a_user_the_stack_did_not_create(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    emulator.client("mq").create_user(BrokerId=broker, Username="app-mq", Password=PW3)
    emulator.clear_calls()
    ev = cfn.event("Create", MQUSER, mq_props(broker, ApplyImmediately="true"), logical_id="QueueUser")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    assert mutations(emulator) == []
    b = emulator.mq_broker(broker)
    assert b["Tags"] == {} and b["reboots"] == 0
    assert emulator.mq_user(broker, "app-mq")["Pending"]["Password"] == PW3

    emulator.clear_calls()
    dele = cfn.delete(MQUSER, res.physical_id, ev["ResourceProperties"], logical_id="QueueUser")
    assert_success(dele)
    assert dele.physical_id == res.physical_id
    assert emulator.actions() == []
    assert emulator.mq_user(broker, "app-mq")["Pending"]["Password"] == PW3


def test_collision_with_a_user_of_another_logical_id(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    assert_success(cfn.create(MQUSER, mq_props(broker), logical_id="FirstUser"))
    ev = cfn.event("Create", MQUSER, mq_props(broker, password=PW2), logical_id="SecondUser")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    assert owners(emulator.mq_broker(broker)["Tags"]) == {owner_tag("app-mq"): f"{STACK_GUID}/FirstUser"}
    assert emulator.mq_user(broker, "app-mq")["Pending"]["Password"] == PW1
    # the other resource's Delete of that id leaves the user alone
    emulator.clear_calls()
    assert_success(cfn.delete(MQUSER, pid(broker), mq_props(broker), logical_id="SecondUser"))
    assert mutations(emulator) == []
    assert emulator.mq_user(broker, "app-mq") is not None


def test_update_of_a_user_of_another_logical_id_changes_nothing(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    props = mq_props(broker)
    assert_success(cfn.create(MQUSER, props, logical_id="FirstUser"))
    before = emulator.mq_broker(broker)
    emulator.clear_calls()
    new = {**props, "Password": PW2, "Groups": ["apps"], "ApplyImmediately": "true"}
    upd = cfn.update(MQUSER, pid(broker), new, props, logical_id="SecondUser")
    assert_failed(upd, "not managed by this stack and logical id", "FirstUser", "nothing was changed")
    assert upd.physical_id == pid(broker)
    assert mutations(emulator) == []
    assert emulator.mq_broker(broker) == before


def test_delete_of_absent_user_and_broker_succeeds(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    emulator.clear_calls()
    res = cfn.delete(MQUSER, pid(broker, "never-created"), mq_props(broker, "never-created"))
    assert_success(res)
    assert res.physical_id == pid(broker, "never-created")
    assert {"DeleteUser", "RebootBroker", "CreateTags"}.isdisjoint(emulator.actions("mq"))
    res = cfn.delete(MQUSER, pid(BROKER_ID), mq_props(BROKER_ID, ApplyImmediately="true"))
    assert_success(res)
    assert res.physical_id == pid(BROKER_ID)
    assert emulator.mq_broker(broker)["reboots"] == 0


def test_delete_of_user_removed_out_of_band_clears_the_tag(cfn: CfnDriver, emulator: Emulator):
    broker = make_broker(emulator)
    props = mq_props(broker, ApplyImmediately="true")
    assert_success(cfn.create(MQUSER, props, logical_id="QueueUser"))
    mq = emulator.client("mq")
    mq.delete_user(BrokerId=broker, Username="app-mq")
    mq.reboot_broker(BrokerId=broker)
    emulator.wait_settled()
    assert emulator.mq_user(broker, "app-mq") is None
    reboots = emulator.mq_broker(broker)["reboots"]
    res = cfn.delete(MQUSER, pid(broker), props, logical_id="QueueUser")
    assert_success(res)
    b = emulator.mq_broker(broker)
    assert b["reboots"] == reboots
    assert b["Tags"] == {}
