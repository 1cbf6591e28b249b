"""End-to-end: one function shared by many stacks and secrets (README, "Trust model").

Each test plays what a stack or a secret writer who shares the function could send, and checks
that nothing they do not own changes, that the answer names why, and that no password leaks in
any form.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from typing import Any

import pytest

from .cfn_helpers import CfnDriver, assert_failed, assert_success, run_chain
from .harness.constants import DEFAULT_STACK_ID, USER_TYPE
from .harness.emulator import Emulator
from .harness.function import Function
from .harness.views import contains_any
from .rotation_helpers import rotate

# Another stack: its own name and its own GUID (MQ's ownership tag records the GUID).
OTHER_STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/team-b/0d3c2b1a-4e5f-11ef-8a9b-0a1b2c3d4e5f"
PW1 = "Correct-Horse-Battery-0001"
PW2 = "Correct-Horse-Battery-0002"
MQ_PW = "Broker-Passw0rd-0001"
MQ_USER = "Custom::AmazonMQUser"


def ec_props(**extra: Any) -> dict[str, Any]:
    return {"UserId": "app-user", "UserName": "app", "Engine": "redis", "AccessString": "on ~app:* +@read",
            "AuthenticationMode": {"Type": "password", "Passwords": [PW1]}, **extra}


def users_and_brokers(emulator: Emulator) -> str:
    """Everything userkeeper may change, as one comparable text."""
    state = emulator.state()
    return json.dumps({k: v for k, v in state.items() if k != "secretsmanager"}, sort_keys=True)


def make_broker(emulator: Emulator) -> str:
    return emulator.client("mq").create_broker(
        BrokerName="shared-broker", DeploymentMode="SINGLE_INSTANCE", EngineType="ACTIVEMQ",
        HostInstanceType="mq.t3.micro", PubliclyAccessible=False,
        Users=[{"Username": "admin", "Password": "Admin-Passw0rd-9999"}],
    )["BrokerId"]


# ------------------------------------------------------------------------------------------
# ownership on every write


def test_another_stacks_update_and_delete_change_nothing(cfn_factory, fn: Function, emulator: Emulator):
    mine = cfn_factory(fn)
    assert_success(mine.create(USER_TYPE, ec_props(), logical_id="AppUser"))
    before = users_and_brokers(emulator)
    theirs = cfn_factory(fn, OTHER_STACK)
    upd = theirs.update(USER_TYPE, "app-user", ec_props(AccessString="on ~* +@all"), ec_props(),
                        logical_id="AppUser")
    assert_failed(upd, "not managed by this stack", DEFAULT_STACK_ID, "nothing was changed")
    assert upd.physical_id == "app-user"
    # Same stack, another logical id: not its user either.
    other_lid = mine.update(USER_TYPE, "app-user", ec_props(AccessString="on ~* +@all"), ec_props(),
                            logical_id="SomeoneElse")
    assert_failed(other_lid, "logical id AppUser")
    # A Delete of what this resource does not own changes nothing and succeeds: failing it would
    # wedge the other stack's rollback or deletion (README, Trust model).
    dele = theirs.delete(USER_TYPE, "app-user", ec_props(), logical_id="AppUser")
    assert_success(dele)
    assert users_and_brokers(emulator) == before
    writes = {"ModifyUser", "DeleteUser", "AddTagsToResource", "RemoveTagsFromResource"}
    assert writes.isdisjoint(emulator.actions("elasticache"))


def test_another_stacks_mq_update_neither_changes_nor_reboots(cfn_factory, fn: Function, emulator: Emulator):
    broker = make_broker(emulator)
    props = {"BrokerId": broker, "Username": "app-mq", "Password": MQ_PW}
    mine = cfn_factory(fn)
    assert_success(mine.create(MQ_USER, props, logical_id="QueueUser"))
    before = users_and_brokers(emulator)
    emulator.clear_calls()
    theirs = cfn_factory(fn, OTHER_STACK)
    upd = theirs.update(MQ_USER, f"{broker}/app-mq", {**props, "Groups": ["admins"], "ApplyImmediately": "true"},
                        props, logical_id="QueueUser")
    assert_failed(upd, "not managed by this stack")
    assert {"UpdateUser", "RebootBroker", "CreateTags", "DeleteTags"}.isdisjoint(emulator.actions("mq"))
    assert users_and_brokers(emulator) == before


# ------------------------------------------------------------------------------------------
# no escaped secret anywhere

NASTY = [
    'quote"and-more-0001',
    "back\\slash-and-more-2",
    "control\u0001chars\tand-more-3",
    "non-ascii-\u00e9\u00fc\u2603-and-more-4",
]


def escaped_forms(secret: str) -> list[str]:
    as_json = json.dumps(secret)[1:-1]
    as_debug = repr(secret)[1:-1]  # Python's repr escapes like Rust's Debug for these cases
    return sorted({secret, as_json, json.dumps(as_json)[1:-1], as_debug})


@pytest.mark.parametrize("secret", NASTY, ids=["quote", "backslash", "control", "non-ascii"])
def test_a_password_of_the_wrong_type_never_leaks_in_any_form(cfn: CfnDriver, emulator: Emulator, secret: str):
    cases = [
        {"Passwords": secret},  # a string where a list is expected
        {"AuthenticationMode": {"Type": "password", "Passwords": {"p": secret}}},
        {"AuthenticationMode": {"Type": secret}},
        {"NoPasswordRequired": [secret]},
    ]
    for bad in cases:
        props = {k: v for k, v in ec_props().items() if k != "AuthenticationMode"}
        res = cfn.create(USER_TYPE, {**props, **bad}, logical_id="AppUser")
        assert_failed(res, "invalid ResourceProperties")
        reason = res.reason
        leaks = contains_any([json.dumps(res.response), reason, *cfn.fn.log_lines()], escaped_forms(secret))
        assert not leaks, f"{bad}: {leaks}"
    assert emulator.actions("elasticache") == [], "refused before any call"


# ------------------------------------------------------------------------------------------
# continuations that always end in exactly one answer


def test_forged_continuation_progress_is_answered_failed_without_work(cfn: CfnDriver, emulator: Emulator):
    for forged in ({"StartedAtMs": 4102444800000, "Attempt": 1},
                   {"StartedAtMs": 0, "Attempt": 1},
                   {"StartedAtMs": 1, "Attempt": 99999999},
                   {"StartedAtMs": 1, "Attempt": 1, "Done": ["change-sent", "skip-checks"]}):
        ev = cfn.event("Create", USER_TYPE, ec_props(), logical_id="AppUser")
        ev["UserkeeperContinuation"] = forged
        res = cfn.send(ev)
        assert_failed(res, "UserkeeperContinuation is not valid", "Nothing was done")
    assert emulator.actions("elasticache") == []


class Blackhole:
    """A TCP server that accepts and never answers: a Lambda API with no route back."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_an_unreachable_lambda_api_still_gets_failed_before_the_deadline(start_function, receiver,
                                                                          emulator: Emulator):
    hole = Blackhole()
    try:
        fn = start_function(extra_env={"AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{hole.port}"})
        cfn = CfnDriver(fn, receiver, DEFAULT_STACK_ID)
        emulator.config(transition_seconds=30)
        ev = cfn.event("Create", USER_TYPE, ec_props(), logical_id="AppUser")
        chain = run_chain(fn, receiver, ev, first_timeout_s=6.0, total_s=20)
        invs = chain.invocations
        assert len(invs) == 1 and invs[0].finished and invs[0].before_deadline, invs
        accepted = [p for p in chain.puts if p.accepted]
        assert len(accepted) == 1, chain.puts
        body = json.loads(accepted[0].body)
        assert body["Status"] == "FAILED" and "did not answer in time" in body["Reason"], body
        assert body["PhysicalResourceId"] == "app-user", "the Delete that follows cleans it up"
    finally:
        hole.close()


# ------------------------------------------------------------------------------------------
# MQ: the rotation clone goes with its user


def test_mq_stack_delete_leaves_no_clone(cfn: CfnDriver, fn: Function, emulator: Emulator):
    broker = make_broker(emulator)
    sm = emulator.client("secretsmanager")
    value = {"engine": "mq", "broker_id": broker, "username": "app-mq", "password": MQ_PW}
    arn = sm.create_secret(Name="rotated/app-mq", SecretString=json.dumps(value))["ARN"]
    props = {"BrokerId": broker, "Username": "app-mq", "PasswordSecretArn": arn,
             "Groups": ["apps"], "ConsoleAccess": "true", "ApplyImmediately": "true"}
    created = cfn.create(MQ_USER, props, logical_id="QueueUser")
    assert_success(created)
    assert created.data["LiveUsername"] == "app-mq"
    tags = next(b for b in emulator.state()["mq"]["brokers"] if b["BrokerId"] == broker)["Tags"]
    # One record per user: owner, last request, and the first 128 bits of the bound secret's
    # SHA-256 (src/services/mq/record.rs), within a tag value's 256 characters.
    owner, request, binding = tags["userkeeper:user:app-mq"].split(" ")
    assert owner.endswith("/QueueUser") and request != "-", tags
    assert binding == hashlib.sha256(arn.encode()).hexdigest()[:32], "bound to its secret"
    assert not any(k.startswith(("userkeeper:secret:", "userkeeper:rotation:")) for k in tags), tags
    # One alternating rotation (with the reboot the secret allows): the clone is live now.
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps({**value, "reboot": True}))
    emulator.enable_rotation(arn)
    token = emulator.new_pending(arn)
    run = rotate(fn, arn, token)
    assert run.ok, run
    # The rotation's progress is on the secret; the broker's tags stay one per managed user.
    secret_tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=arn)["Tags"]}
    assert secret_tags["userkeeper:rotation"].startswith(f"{token} reboot "), secret_tags
    tags = next(b for b in emulator.state()["mq"]["brokers"] if b["BrokerId"] == broker)["Tags"]
    assert [k for k in tags if k.startswith("userkeeper:")] == ["userkeeper:user:app-mq"], tags
    users = {u["Username"] for u in next(b for b in emulator.state()["mq"]["brokers"]
                                          if b["BrokerId"] == broker)["users"]}
    assert {"app-mq", "app-mq_clone"} <= users
    # Groups follow to the clone.
    upd = cfn.update(MQ_USER, f"{broker}/app-mq", {**props, "Groups": ["apps", "ops"]}, props,
                     logical_id="QueueUser")
    assert_success(upd)
    assert upd.data["LiveUsername"] == "app-mq_clone"
    users = {u["Username"]: u for u in next(b for b in emulator.state()["mq"]["brokers"]
                                             if b["BrokerId"] == broker)["users"]}
    assert users["app-mq_clone"]["Groups"] == ["apps", "ops"]
    # The stack's Delete removes both: a clone left behind would still log in.
    dele = cfn.delete(MQ_USER, f"{broker}/app-mq", props, logical_id="QueueUser")
    assert_success(dele)
    broker_state = next(b for b in emulator.state()["mq"]["brokers"] if b["BrokerId"] == broker)
    assert {u["Username"] for u in broker_state["users"]} == {"admin"}, broker_state["users"]
    assert not any(k.startswith(("userkeeper:user:", "userkeeper:secret:")) for k in broker_state["Tags"])


# ------------------------------------------------------------------------------------------
# explicit adoption of what was made by hand


def test_adopt_takes_over_a_hand_made_user_only_when_asked(cfn_factory, fn: Function, emulator: Emulator):
    ec = emulator.client("elasticache")
    ec.create_user(UserId="app-user", UserName="app", Engine="redis", AccessString="on ~* +@all",
                   Passwords=[PW2])
    mine = cfn_factory(fn)
    refused = mine.create(USER_TYPE, ec_props(), logical_id="AppUser")
    assert_failed(refused, "not managed by this stack")
    adopted = mine.create(USER_TYPE, ec_props(Adopt="true"), logical_id="AppUser")
    assert_success(adopted)
    assert adopted.physical_id == "app-user"
    u = next(u for u in emulator.state()["elasticache"]["users"] if u["UserId"] == "app-user")
    assert u["Tags"]["userkeeper:stack-id"] == DEFAULT_STACK_ID
    assert u["Tags"]["userkeeper:logical-id"] == "AppUser"
    assert u["AccessString"] == ec_props()["AccessString"], "brought to the template"
    assert u["Passwords"] == [PW1]
    # Another stack cannot adopt it now that it is owned.
    theirs = cfn_factory(fn, OTHER_STACK).create(USER_TYPE, ec_props(Adopt="true"), logical_id="AppUser")
    assert_failed(theirs, "not managed by this stack")
    # Adopted means managed: the Delete deletes it.
    assert_success(mine.delete(USER_TYPE, "app-user", ec_props(Adopt="true"), logical_id="AppUser"))
    assert not any(u["UserId"] == "app-user" for u in emulator.state()["elasticache"]["users"])


def test_adopt_takes_over_a_hand_made_broker_user(cfn: CfnDriver, emulator: Emulator):
    broker = emulator.client("mq").create_broker(
        BrokerName="adopt-broker", DeploymentMode="SINGLE_INSTANCE", EngineType="ACTIVEMQ",
        HostInstanceType="mq.t3.micro", PubliclyAccessible=False,
        Users=[{"Username": "admin", "Password": "Admin-Passw0rd-9999"},
               {"Username": "app-mq", "Password": "Hand-made-Passw0rd-1"}])["BrokerId"]
    props = {"BrokerId": broker, "Username": "app-mq", "Password": MQ_PW, "Groups": ["apps"]}
    assert_failed(cfn.create(MQ_USER, props, logical_id="QueueUser"), "not managed by this stack")
    res = cfn.create(MQ_USER, {**props, "Adopt": "true"}, logical_id="QueueUser")
    assert_success(res)
    b = next(b for b in emulator.state()["mq"]["brokers"] if b["BrokerId"] == broker)
    assert b["Tags"]["userkeeper:user:app-mq"].startswith(DEFAULT_STACK_ID.rsplit("/", 1)[-1] + "/QueueUser ")
    user = next(u for u in b["users"] if u["Username"] == "app-mq")
    assert user["Pending"]["PendingChange"] == "UPDATE" and user["Pending"]["Groups"] == ["apps"]
    assert res.data["PendingChange"] == "UPDATE"
