"""End-to-end: Secrets Manager password rotation of ElastiCache, MemoryDB and Amazon MQ users.

Each test seeds a user and a secret in the emulator, turns rotation on and puts a value-less
``AWSPENDING`` version in place (what Secrets Manager does before it calls the function), then
sends the four rotation steps to the release binary one by one, as Secrets Manager would.

What is checked: the end state (``AWSCURRENT``, read with ``VersionStage``, and the user in the
emulator's state), the emulator's call log (which writes happened, how often), and the
function's log (never a password).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from typing import Any

import pytest

from .harness.emulator import Emulator
from .harness.events import ROTATION_STEPS, rotation_event
from .harness.function import Function
from .harness.runtime_api import Invocation
from .rotation_helpers import bind

# ------------------------------------------------------------------------------------------
# helpers

OLD_PW = "Old-Cache-Passw0rd-0001"  # valid for all three services
OLD_MQ_PW = "Old-Broker-Passw0rd-01"
ADMIN_PW = "Admin-Passw0rd-9999"
EC_USER_ID = "app-user"
EC_USERNAME = "app"
MDB_USER = "app-mdb"
MQ_USER = "app"
MQ_GROUPS = ["apps", "ops"]
DEFAULT_LENGTH = 32

#: ElastiCache/MemoryDB refuse , " / @; ' \ and space are kept out for client quoting.
REDIS_EXCLUDED = set(",\"/@'\\ ")
MQ_EXCLUDED = set(",:=")

#: Everything that changes a secret, a user or a broker.
WRITE_ACTIONS = {
    "PutSecretValue", "UpdateSecretVersionStage", "UpdateSecret", "CreateSecret", "DeleteSecret",
    "ModifyUser", "UpdateUser", "CreateUser", "DeleteUser", "RebootBroker",
    "CreateTags", "DeleteTags", "TagResource", "UntagResource", "AddTagsToResource",
}
#: The kinds of rotation every protocol test runs: service and strategy.
KINDS = ["elasticache", "memorydb", "mq-alternating", "mq-single"]


@dataclasses.dataclass
class Case:
    """A user and its secret in the emulator, ready to rotate."""

    kind: str
    arn: str
    doc: dict[str, Any]  # the secret's value before rotation
    broker: str | None = None

    @property
    def engine(self) -> str:
        return self.kind.split("-", 1)[0]

    @property
    def is_mq(self) -> bool:
        return self.engine == "mq"

    @property
    def alternating(self) -> bool:
        return self.kind == "mq-alternating"


def make_secret(emulator: Emulator, doc: dict[str, Any] | str, rotation: bool = True) -> str:
    value = doc if isinstance(doc, str) else json.dumps(doc)
    arn = emulator.client("secretsmanager").create_secret(
        Name=f"rot-{uuid.uuid4().hex[:10]}", SecretString=value)["ARN"]
    if rotation:
        emulator.enable_rotation(arn)
    return arn


def make_ec_user(emulator: Emulator, password: str = OLD_PW) -> None:
    emulator.client("elasticache").create_user(
        UserId=EC_USER_ID, UserName=EC_USERNAME, Engine="redis", AccessString="on ~* +@all",
        Passwords=[password])


def make_mdb_user(emulator: Emulator, auth: str = "password", password: str = OLD_PW) -> None:
    mode = {"Type": "password", "Passwords": [password]} if auth == "password" else {"Type": auth}
    emulator.client("memorydb").create_user(UserName=MDB_USER, AccessString="on ~* &* +@all",
                                             AuthenticationMode=mode)


def make_broker(emulator: Emulator, password: str = OLD_MQ_PW) -> str:
    """An ActiveMQ broker running an admin and the user ``app`` (live, with groups)."""
    return emulator.client("mq").create_broker(
        BrokerName="rot-broker", DeploymentMode="SINGLE_INSTANCE", EngineType="ACTIVEMQ",
        HostInstanceType="mq.t3.micro", PubliclyAccessible=False,
        Users=[{"Username": "admin", "Password": ADMIN_PW, "ConsoleAccess": True},
               {"Username": MQ_USER, "Password": password, "ConsoleAccess": True, "Groups": MQ_GROUPS}],
    )["BrokerId"]


def setup_case(emulator: Emulator, kind: str, settle: bool = True, **extra: Any) -> Case:
    """Seeds the user of ``kind`` and its secret (``extra``: more keys for the secret; a key
    given as None is left out; a ``password`` is the user's too). The call log is empty
    afterwards. ``settle``: wait until the user's creation is complete (an existing user, as
    a rotation usually finds it); else it is still ``modifying``."""
    broker = None
    if kind == "elasticache":
        password = extra.get("password", OLD_PW)
        make_ec_user(emulator, password)
        doc = {"engine": "elasticache", "user_id": EC_USER_ID, "username": EC_USERNAME, "password": password}
    elif kind == "memorydb":
        password = extra.get("password", OLD_PW)
        make_mdb_user(emulator, password=password)
        doc = {"engine": "memorydb", "username": MDB_USER, "password": password}
    elif kind in ("mq-alternating", "mq-single"):
        password = extra.get("password", OLD_MQ_PW)
        broker = make_broker(emulator, password)
        doc = {"engine": "mq", "broker_id": broker, "username": MQ_USER, "password": password,
               "strategy": kind.split("-", 1)[1], "reboot": True}
    else:
        raise ValueError(kind)
    doc.update(extra)
    doc = {k: v for k, v in doc.items() if v is not None}
    case = Case(kind, make_secret(emulator, doc), doc, broker)
    user = {"elasticache": EC_USER_ID, "memorydb": MDB_USER}.get(kind, MQ_USER)
    bind(emulator, case.arn, case.engine, user, broker)
    if settle:
        emulator.wait_settled()
    emulator.clear_calls()
    return case


class Driver:
    """Sends rotation steps for one secret through the function."""

    def __init__(self, emulator: Emulator, fn: Function, arn: str) -> None:
        self.emulator = emulator
        self.fn = fn
        self.arn = arn
        self.sm = emulator.client("secretsmanager")

    def new_pending(self, token: str | None = None) -> str:
        return self.emulator.new_pending(self.arn, token)

    def invoke(self, step: str, token: str, rotation_token: str | None = None,
               timeout_s: float = 30) -> Invocation:
        inv = self.fn.invoke(rotation_event(step, self.arn, token, rotation_token), timeout_s=timeout_s)
        assert inv.finished, f"{step}: no result before the deadline: {inv}"
        return inv

    def ok(self, step: str, token: str, **kw: Any) -> str:
        """Runs a step that must succeed; its Outcome."""
        inv = self.invoke(step, token, **kw)
        assert inv.kind == "response", f"{step} failed: {inv}"
        result = inv.result
        assert isinstance(result, dict) and result.get("Step") == step, f"{step}: {result!r}"
        assert isinstance(result.get("Outcome"), str) and result["Outcome"], result
        return result["Outcome"]

    def fails(self, step: str, token: str, **kw: Any) -> str:
        """Runs a step that must fail; its errorMessage."""
        inv = self.invoke(step, token, **kw)
        assert inv.kind == "error", f"{step} should fail: {inv}"
        body = json.loads(inv.body)
        assert body.get("errorType") == "RotationFailed", body
        assert isinstance(body.get("errorMessage"), str) and body["errorMessage"], body
        return body["errorMessage"]

    def rotate(self, token: str, steps: tuple[str, ...] = ROTATION_STEPS, **kw: Any) -> list[str]:
        return [self.ok(step, token, **kw) for step in steps]

    def full(self, **kw: Any) -> str:
        """A whole rotation on a new pending version; its token."""
        token = self.new_pending()
        self.rotate(token, **kw)
        return token

    def stage(self, stage: str) -> tuple[str, dict[str, Any]]:
        """(version id, parsed value) of the version with ``stage``, read by stage."""
        out = self.sm.get_secret_value(SecretId=self.arn, VersionStage=stage)
        return out["VersionId"], json.loads(out["SecretString"])

    def versions(self) -> dict[str, Any]:
        return self.emulator.secret_versions(self.arn)


@pytest.fixture
def drive(emulator: Emulator, fn: Function):
    """``drive(case_or_arn)`` -> a Driver for that secret."""
    return lambda target: Driver(emulator, fn, target.arn if isinstance(target, Case) else target)


# -- emulator state -------------------------------------------------------------------------

def ec_user(emulator: Emulator, user_id: str = EC_USER_ID) -> dict[str, Any]:
    users = [u for u in emulator.state()["elasticache"]["users"] if u["UserId"] == user_id]
    assert len(users) == 1, users
    return users[0]


def mdb_user(emulator: Emulator, name: str = MDB_USER) -> dict[str, Any]:
    users = [u for u in emulator.state()["memorydb"]["users"] if u["Name"] == name]
    assert len(users) == 1, users
    return users[0]


def reboots(emulator: Emulator, broker: str) -> int:
    return emulator.mq_broker(broker)["reboots"]


def calls(emulator: Emulator) -> list[tuple[str, str]]:
    return [(c.get("service") or "", c.get("action") or "") for c in emulator.calls()]


def writes(emulator: Emulator) -> list[tuple[str, str]]:
    return [c for c in calls(emulator) if c[1] in WRITE_ACTIONS]


def count(emulator: Emulator, action: str, service: str | None = None) -> int:
    return sum(1 for s, a in calls(emulator) if a == action and (service is None or s == service))


# -- assertions -----------------------------------------------------------------------------

def assert_password_rule(engine: str, password: str, length: int = DEFAULT_LENGTH) -> None:
    assert len(password) == length, f"{len(password)} characters, expected {length}"
    assert all(0x21 <= ord(c) <= 0x7E for c in password), "printable ASCII, no space"
    if engine == "mq":
        assert not set(password) & MQ_EXCLUDED, "MQ refuses , : ="
        assert len(set(password)) >= 4, "MQ needs 4 distinct characters"
        assert len(password) >= 12
    else:
        assert not set(password) & REDIS_EXCLUDED, "none of , \" / @ ' \\ or space"
        assert 16 <= len(password) <= 128


def assert_service_uses(emulator: Emulator, case: Case, new: dict[str, Any]) -> None:
    """The user in the service's state accepts the new value's password (ElastiCache/MemoryDB:
    exactly [new, old]; MQ: live, nothing pending, the other user of a pair untouched)."""
    old = case.doc
    if case.engine == "elasticache":
        assert ec_user(emulator)["Passwords"] == [new["password"], old["password"]]
        assert ec_user(emulator)["Status"] == "active"
    elif case.engine == "memorydb":
        assert mdb_user(emulator)["Passwords"] == [new["password"], old["password"]]
        assert mdb_user(emulator)["Status"] == "active"
    else:
        b = emulator.mq_broker(case.broker)
        assert b["BrokerState"] == "RUNNING"
        u = emulator.mq_user(case.broker, new["username"])
        assert u is not None, f"no user {new['username']}"
        assert u["Pending"] is None, "the change is live"
        assert u["Password"] == new["password"], "the broker runs with the new password"
        if case.alternating:
            assert new["username"] == MQ_USER + "_clone"
            other = emulator.mq_user(case.broker, MQ_USER)
            assert other["Password"] == old["password"] and other["Pending"] is None, \
                "the current user is never touched"
        else:
            assert new["username"] == MQ_USER


def assert_rotated(drv: Driver, emulator: Emulator, case: Case, token: str,
                   length: int = DEFAULT_LENGTH) -> dict[str, Any]:
    """AWSCURRENT is the token's version with a new, valid password and every other key as
    before; the service uses it. Returns the new value."""
    version, new = drv.stage("AWSCURRENT")
    assert version == token, "AWSCURRENT is on the rotated version"
    assert new["password"] != case.doc["password"]
    assert_password_rule(case.engine, new["password"], length)
    expected_user = MQ_USER + "_clone" if case.alternating else case.doc["username"]
    assert new == {**case.doc, "username": expected_user, "password": new["password"]}, \
        "every other key is kept as it was"
    assert_service_uses(emulator, case, new)
    return new


def assert_unchanged(drv: Driver, emulator: Emulator, case: Case, current_version: str) -> None:
    """AWSCURRENT did not move and the user still has only its old password."""
    version, value = drv.stage("AWSCURRENT")
    assert (version, value) == (current_version, case.doc), "AWSCURRENT did not move"
    if case.engine == "elasticache":
        assert ec_user(emulator)["Passwords"] == [case.doc["password"]]
    elif case.engine == "memorydb":
        assert mdb_user(emulator)["Passwords"] == [case.doc["password"]]
    else:
        assert reboots(emulator, case.broker) == 0
        assert emulator.mq_user(case.broker, MQ_USER)["Pending"] is None
        assert emulator.mq_user(case.broker, MQ_USER + "_clone") is None


def assert_once_per_token(emulator: Emulator, case: Case) -> None:
    """One rotation's writes, however often its steps ran: one pending value, one stage move,
    and for MQ one user change and one reboot."""
    assert count(emulator, "PutSecretValue") == 1, calls(emulator)
    assert count(emulator, "UpdateSecretVersionStage") == 1, calls(emulator)
    if case.is_mq:
        assert count(emulator, "CreateUser", "mq") + count(emulator, "UpdateUser", "mq") == 1, calls(emulator)
        assert count(emulator, "RebootBroker", "mq") == 1, calls(emulator)
        assert reboots(emulator, case.broker) == 1


def assert_no_secret_in(text: str, *passwords: str) -> None:
    for pw in passwords:
        assert pw and pw not in text, "a password appears in the text"


# ------------------------------------------------------------------------------------------
# 1. a full rotation, per service and strategy


@pytest.mark.parametrize("kind", KINDS)
def test_full_rotation(kind: str, emulator: Emulator, drive):
    case = setup_case(emulator, kind, dbname="orders", port=6379 if kind != "mq-single" else 61614,
                      note="kept as is")
    drv = drive(case)
    old_version, _ = drv.stage("AWSCURRENT")
    token = drv.new_pending()
    # What Secrets Manager sends: 36-256 of [a-zA-Z0-9-] (the model's RotationTokenType).
    rotation_token = f"rt-{uuid.uuid4()}"
    drv.rotate(token, rotation_token=rotation_token)
    new = assert_rotated(drv, emulator, case, token)
    versions = drv.versions()
    assert versions[token]["RotationToken"] == rotation_token, "the event's RotationToken is passed back"
    assert json.loads(versions[token]["SecretString"]) == new
    assert "AWSPREVIOUS" in versions[old_version]["Stages"]
    assert_once_per_token(emulator, case)


@pytest.mark.parametrize("kind, length", [("elasticache", 128), ("memorydb", 16), ("mq-single", 12),
                                          ("mq-alternating", "40")])
def test_password_length_is_honoured(kind: str, length: Any, emulator: Emulator, drive):
    case = setup_case(emulator, kind, password_length=length)
    drv = drive(case)
    token = drv.full()
    new = assert_rotated(drv, emulator, case, token, length=int(length))
    assert new["password_length"] == length, "the key is kept as it was written"


@pytest.mark.parametrize("kind, length", [("elasticache", 15), ("memorydb", 129), ("mq-single", 11)])
def test_password_length_outside_the_service_rule_is_refused(kind: str, length: int, emulator: Emulator,
                                                             drive):
    case = setup_case(emulator, kind, password_length=length)
    drv = drive(case)
    current, _ = drv.stage("AWSCURRENT")
    token = drv.new_pending()
    msg = drv.fails("createSecret", token)
    assert 'key "password_length"' in msg, msg
    assert writes(emulator) == []
    assert_unchanged(drv, emulator, case, current)


# ------------------------------------------------------------------------------------------
# 2. every step twice in a row: the second run changes nothing


@pytest.mark.parametrize("kind", KINDS)
def test_every_step_run_twice(kind: str, emulator: Emulator, drive):
    case = setup_case(emulator, kind)
    drv = drive(case)
    token = drv.new_pending()
    drv.ok("createSecret", token)
    pending_value = drv.versions()[token]["SecretString"]
    assert "kept" in drv.ok("createSecret", token)
    assert drv.versions()[token]["SecretString"] == pending_value, "the pending value is not replaced"
    for step in ROTATION_STEPS[1:]:
        drv.ok(step, token)
        written, versions = len(writes(emulator)), drv.versions()
        second = drv.ok(step, token)
        if step == "finishSecret":
            assert "AWSCURRENT already" in second, second
        again = writes(emulator)[written:]
        if case.is_mq or step != "setSecret":
            assert again == [], f"the second {step} wrote: {again}"
        else:
            # ElastiCache/MemoryDB cannot read passwords back: without a host to log in to,
            # a second setSecret sends the same two passwords again, and only that.
            assert again in ([], [(case.engine, "ModifyUser" if case.engine == "elasticache" else "UpdateUser")])
        assert drv.versions() == versions, f"the second {step} changed the secret"
    assert json.loads(pending_value) == assert_rotated(drv, emulator, case, token)
    assert_once_per_token(emulator, case)


# ------------------------------------------------------------------------------------------
# 3. a rotation cut off after any step completes when Secrets Manager retries it


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_rotation_killed_after_a_step_completes_on_retry(kind: str, k: int, emulator: Emulator, drive):
    case = setup_case(emulator, kind)
    drv = drive(case)
    token = drv.new_pending()
    drv.rotate(token, ROTATION_STEPS[:k])
    done_writes = len(writes(emulator))
    outcomes = drv.rotate(token)  # the retry starts again at createSecret, same token
    assert_rotated(drv, emulator, case, token)
    assert_once_per_token(emulator, case)
    if k == 4:
        assert all("AWSCURRENT already" in o for o in outcomes), outcomes
        assert writes(emulator)[done_writes:] == [], "a retry of a finished rotation writes nothing"


@pytest.mark.parametrize("kind", ["mq-alternating", "mq-single"])
def test_mq_set_secret_cut_off_during_the_reboot_does_not_reboot_again(kind: str, emulator: Emulator, drive):
    """setSecret runs out of time while the broker reboots (after the tag write and the
    RebootBroker call); the retry waits for that reboot instead of starting another."""
    emulator.config(reboot_seconds=4)
    case = setup_case(emulator, kind)
    drv = drive(case)
    token = drv.new_pending()
    drv.ok("createSecret", token)
    msg = drv.fails("setSecret", token, timeout_s=5.5)  # 2.5 s of work before the 3 s reserve
    assert "ran out of time" in msg, msg
    b = emulator.mq_broker(case.broker)
    assert b["reboots"] == 1 and b["BrokerState"] == "REBOOT_IN_PROGRESS"
    assert drv.stage("AWSCURRENT")[1] == case.doc
    drv.rotate(token)
    assert_rotated(drv, emulator, case, token)
    assert_once_per_token(emulator, case)


@pytest.mark.parametrize("where", ["secret", "broker-before-upgrade"])
@pytest.mark.parametrize("kind", ["mq-alternating", "mq-single"])
def test_mq_set_secret_stopped_between_tag_write_and_reboot_completes_on_retry(kind: str, where: str,
                                                                               emulator: Emulator, drive):
    """setSecret dies after recording "reboot" but before any reboot started (here:
    RebootBroker refused, and the progress tag set to what a crash at that point leaves: on
    the secret, or on the broker where versions before 0.2 kept it). The retry must get the
    change applied, with one reboot in all, instead of waiting for a reboot that never
    started."""
    case = setup_case(emulator, kind)
    drv = drive(case)
    token = drv.new_pending()
    drv.ok("createSecret", token)
    emulator.fail(service="mq", action="RebootBroker", count=1, status=400, code="BadRequestException",
                  message="Broker is not ready for reboot.")
    msg = drv.fails("setSecret", token)
    assert "RebootBroker" in msg, msg
    assert reboots(emulator, case.broker) == 0
    pending_user = MQ_USER + "_clone" if case.alternating else MQ_USER
    assert emulator.mq_user(case.broker, pending_user)["Pending"] is not None
    if where == "secret":
        emulator.client("secretsmanager").tag_resource(
            SecretId=case.arn, Tags=[{"Key": "userkeeper:rotation", "Value": f"{token} reboot"}])
    else:
        b = emulator.mq_broker(case.broker)
        emulator.client("mq").create_tags(ResourceArn=b["BrokerArn"],
                                          Tags={f"userkeeper:rotation:{pending_user}": f"{token} reboot"})
    assert drv.stage("AWSCURRENT")[1] == case.doc
    drv.rotate(token, timeout_s=6)  # 3 s of work: ample when nothing hangs
    assert_rotated(drv, emulator, case, token)
    assert reboots(emulator, case.broker) == 1, "one reboot in all"
    assert count(emulator, "PutSecretValue") == count(emulator, "UpdateSecretVersionStage") == 1
    assert count(emulator, "CreateUser", "mq") + count(emulator, "UpdateUser", "mq") == 1


# ------------------------------------------------------------------------------------------
# 4. testSecret alone on a fresh pending version (RotateImmediately: false)


@pytest.mark.parametrize("kind", KINDS)
def test_test_secret_alone_checks_the_current_credentials_and_changes_nothing(kind: str, emulator: Emulator,
                                                                              drive):
    case = setup_case(emulator, kind)
    drv = drive(case)
    current, _ = drv.stage("AWSCURRENT")
    token = drv.new_pending()
    versions = drv.versions()
    emulator.clear_calls()
    outcome = drv.ok("testSecret", token)
    assert "createSecret has not run" in outcome, outcome
    acts = calls(emulator)
    assert acts, "testSecret checked something"
    assert all(a.startswith(("Describe", "Get", "List")) for _, a in acts), acts
    assert ("secretsmanager", "GetRandomPassword") not in acts
    assert drv.versions() == versions
    assert drv.versions()[token]["HasValue"] is False
    assert_unchanged(drv, emulator, case, current)


# ------------------------------------------------------------------------------------------
# 5. MQ alternating over three rotations


def test_mq_alternating_users_take_turns(emulator: Emulator, drive):
    case = setup_case(emulator, "mq-alternating")
    drv = drive(case)
    passwords = {MQ_USER: OLD_MQ_PW}
    previous_user = MQ_USER
    for i, want in enumerate(["app_clone", "app", "app_clone"]):
        emulator.clear_calls()
        token = drv.full()
        version, cur = drv.stage("AWSCURRENT")
        assert version == token and cur["username"] == want, f"rotation {i + 1}: {cur['username']}"
        assert_password_rule("mq", cur["password"])
        assert cur == {**case.doc, "username": want, "password": cur["password"]}
        assert drv.stage("AWSPREVIOUS")[1]["username"] == previous_user
        live = emulator.mq_user(case.broker, want)
        assert live["Password"] == cur["password"] and live["Pending"] is None
        other = emulator.mq_user(case.broker, previous_user)
        assert other["Password"] == passwords[previous_user] and other["Pending"] is None, \
            "the user not in AWSCURRENT keeps its password until the next rotation"
        assert count(emulator, "CreateUser", "mq") == (1 if i == 0 else 0), "the clone is created once"
        assert count(emulator, "UpdateUser", "mq") == (0 if i == 0 else 1)
        assert count(emulator, "RebootBroker", "mq") == 1
        assert reboots(emulator, case.broker) == i + 1
        passwords[want] = cur["password"]
        previous_user = want
    clone, original = (emulator.mq_user(case.broker, u) for u in ("app_clone", MQ_USER))
    assert clone["Groups"] == original["Groups"] == MQ_GROUPS
    assert clone["ConsoleAccess"] is original["ConsoleAccess"] is True
    assert clone["ReplicationUser"] is False


# ------------------------------------------------------------------------------------------
# 6. MQ without "reboot": the change waits for a reboot, AWSCURRENT does not move before


@pytest.mark.parametrize("kind", ["mq-alternating", "mq-single"])
def test_mq_without_reboot_waits_for_the_broker_to_reboot(kind: str, emulator: Emulator, drive):
    case = setup_case(emulator, kind, reboot=None if kind == "mq-alternating" else False)
    drv = drive(case)
    current, _ = drv.stage("AWSCURRENT")
    token = drv.new_pending()
    drv.ok("createSecret", token)
    pending = json.loads(drv.versions()[token]["SecretString"])
    outcome = drv.ok("setSecret", token)
    assert "reboot" in outcome, outcome
    user = emulator.mq_user(case.broker, pending["username"])
    if case.alternating:
        assert user["Pending"]["PendingChange"] == "CREATE" and user["Password"] is None
    else:
        assert user["Pending"]["PendingChange"] == "UPDATE" and user["Password"] == OLD_MQ_PW, \
            "clients keep working with the current password"
    assert user["Pending"]["Password"] == pending["password"]

    msg = drv.fails("testSecret", token)
    assert "pending" in msg and "reboot" in msg and '"reboot": true' in msg, msg
    assert_no_secret_in(msg, OLD_MQ_PW, pending["password"])
    assert drv.stage("AWSCURRENT") == (current, case.doc), "AWSCURRENT did not move"
    assert reboots(emulator, case.broker) == 0
    assert count(emulator, "RebootBroker") == 0

    emulator.client("mq").reboot_broker(BrokerId=case.broker)  # maintenance window / operator
    emulator.clear_calls()
    drv.rotate(token)  # Secrets Manager's retry, same token
    assert count(emulator, "CreateUser", "mq") == count(emulator, "UpdateUser", "mq") == 0, calls(emulator)
    assert count(emulator, "RebootBroker", "mq") == 0 and count(emulator, "PutSecretValue") == 0
    assert reboots(emulator, case.broker) == 1
    assert assert_rotated(drv, emulator, case, token) == pending
    assert_no_secret_in(drv.fn.log_text(), OLD_MQ_PW, pending["password"])


# ------------------------------------------------------------------------------------------
# 7. the secret shape of AWS's own ElastiCache rotation template


def test_aws_template_shaped_elasticache_secret_keeps_its_shape(emulator: Emulator, drive):
    make_ec_user(emulator)
    user_arn = emulator.client("elasticache").describe_users(UserId=EC_USER_ID)["Users"][0]["ARN"]
    doc = {"user_arn": user_arn, "username": EC_USERNAME, "password": OLD_PW}
    arn = make_secret(emulator, doc)
    bind(emulator, arn, "elasticache", EC_USER_ID)
    emulator.clear_calls()
    drv = drive(arn)
    token = drv.full()
    version, new = drv.stage("AWSCURRENT")
    assert version == token
    assert set(new) == set(doc), "no key added or removed"
    assert new == {**doc, "password": new["password"]}
    assert_password_rule("elasticache", new["password"])
    assert ec_user(emulator)["Passwords"] == [new["password"], OLD_PW]
    assert count(emulator, "PutSecretValue") == count(emulator, "ModifyUser") == 1


# ------------------------------------------------------------------------------------------
# 8. bad input: refused, named, nothing written, no password shown

BAD_PW = "Bad-Input-Passw0rd-7731"


def run_until_failure(drv: Driver, token: str) -> tuple[str, str]:
    """Runs the steps in order as Secrets Manager does, stopping at the first failure:
    (the step, its errorMessage). Fails the test if every step succeeds."""
    for step in ROTATION_STEPS:
        inv = drv.invoke(step, token)
        if inv.kind == "error":
            body = json.loads(inv.body)
            assert body.get("errorType") == "RotationFailed", body
            return step, body["errorMessage"]
    pytest.fail("every step succeeded")


BAD_SECRETS = {
    "unknown engine": ("elasticache", {"engine": "redis"}, ['key "engine"', '"elasticache"']),
    "missing user_id": ("elasticache", {"user_id": None}, ['key "user_id" is missing']),
    "malformed port": ("elasticache", {"port": "six-three-seven-nine"}, ['key "port"']),
    "strategy not allowed (ElastiCache)": ("elasticache", {"strategy": "alternating"}, ['key "strategy"']),
    "strategy not allowed (MQ)": ("mq-single", {"strategy": "rolling"}, ['key "strategy"']),
    "MemoryDB IAM user": ("memorydb-iam", {}, ["not passwords"]),
}


@pytest.mark.parametrize("name", list(BAD_SECRETS))
def test_bad_secret_is_refused_before_anything_is_written(name: str, emulator: Emulator, drive):
    kind, changes, expected = BAD_SECRETS[name]
    if kind == "memorydb-iam":
        make_mdb_user(emulator, auth="iam")
        case = Case("memorydb", make_secret(emulator, {"engine": "memorydb", "username": MDB_USER,
                                                        "password": BAD_PW}), {})
        emulator.clear_calls()
    else:
        case = setup_case(emulator, kind, password=BAD_PW, **changes)
    drv = drive(case)
    current = drv.stage("AWSCURRENT")
    token = drv.new_pending()
    step, msg = run_until_failure(drv, token)
    assert step == "createSecret", f"{step} failed first ({msg}); expected createSecret to refuse"
    for want in expected:
        assert want in msg, f"{msg!r} should contain {want!r}"
    assert writes(emulator) == [], "nothing is written for a secret that cannot be rotated"
    assert drv.stage("AWSCURRENT") == current
    assert drv.versions()[token]["HasValue"] is False
    assert_no_secret_in(msg, BAD_PW)
    assert_no_secret_in(drv.fn.log_text(), BAD_PW)
    assert "rotation step failed" in drv.fn.log_text()


@pytest.mark.parametrize("kind", ["elasticache", "memorydb", "mq-alternating"])
def test_a_secret_naming_a_user_bound_to_another_secret_changes_nothing(kind: str, emulator: Emulator, drive):
    """Whoever can write a secret chooses the user it names: a new secret naming someone's
    user, with rotation on, must not give that user a password the secret's writer can read
    (nor, for MQ, create the user's clone)."""
    case = setup_case(emulator, kind, password=BAD_PW)
    users_before = json.dumps(emulator.state(), sort_keys=True)
    intruder = make_secret(emulator, {**case.doc, "password": BAD_PW})
    emulator.clear_calls()
    drv = drive(intruder)
    token = drv.new_pending()
    step, msg = run_until_failure(drv, token)
    assert step == "createSecret", f"{step} failed first ({msg})"
    assert "is not bound to secret" in msg and intruder in msg, msg
    assert f"it is bound to {case.arn}" in msg, msg
    assert "userkeeper:secret" in msg, "names the one step that binds a user made elsewhere"
    assert writes(emulator) == [], "nothing is written"
    assert drv.versions()[token]["HasValue"] is False
    state = emulator.state()
    assert json.dumps({**state, "secretsmanager": None}, sort_keys=True) == json.dumps(
        {**json.loads(users_before), "secretsmanager": None}, sort_keys=True), "no user changed"
    assert_no_secret_in(msg, BAD_PW)
    assert_no_secret_in(drv.fn.log_text(), BAD_PW)


def test_an_unbound_user_is_refused_naming_the_binding_to_add(emulator: Emulator, drive):
    make_ec_user(emulator, BAD_PW)
    doc = {"engine": "elasticache", "user_id": EC_USER_ID, "username": EC_USERNAME, "password": BAD_PW}
    arn = make_secret(emulator, doc)
    emulator.clear_calls()
    drv = drive(arn)
    token = drv.new_pending()
    step, msg = run_until_failure(drv, token)
    assert step == "createSecret", msg
    assert "is not bound to secret" in msg and "it is bound to" not in msg, msg
    assert f"--tags Key=userkeeper:secret,Value={arn}" in msg, msg
    assert writes(emulator) == []
    # the one step it names, and the rotation goes through
    bind(emulator, arn, "elasticache", EC_USER_ID)
    drv.rotate(token)
    assert drv.stage("AWSCURRENT")[0] == token
    assert ec_user(emulator)["Passwords"][1] == BAD_PW


def test_rotation_not_enabled_is_refused(emulator: Emulator, drive):
    make_ec_user(emulator, BAD_PW)
    doc = {"engine": "elasticache", "user_id": EC_USER_ID, "username": EC_USERNAME, "password": BAD_PW}
    arn = make_secret(emulator, doc, rotation=False)
    drv = drive(arn)
    token = drv.new_pending()
    emulator.clear_calls()
    for step in ROTATION_STEPS:
        msg = drv.fails(step, token)
        assert "rotation is not enabled" in msg and arn in msg, msg
        assert_no_secret_in(msg, BAD_PW)
    assert writes(emulator) == []
    assert drv.versions()[token]["HasValue"] is False
    assert ec_user(emulator)["Passwords"] == [BAD_PW]
    assert_no_secret_in(drv.fn.log_text(), BAD_PW)


@pytest.mark.parametrize("which", ["not a version", "not AWSPENDING"])
def test_token_that_is_not_the_pending_version_is_refused(which: str, emulator: Emulator, drive):
    case = setup_case(emulator, "elasticache", password=BAD_PW)
    drv = drive(case)
    current = drv.stage("AWSCURRENT")
    other_pw = "Other-Version-Passw0rd-42"
    if which == "not a version":
        token, expected = str(uuid.uuid4()), "is not a version"
    else:
        token = str(uuid.uuid4())
        drv.sm.put_secret_value(SecretId=case.arn, ClientRequestToken=token, VersionStages=["staged-by-hand"],
                                SecretString=json.dumps({**case.doc, "password": other_pw}))
        expected = "neither AWSCURRENT nor AWSPENDING"
    drv.new_pending()  # a rotation is under way, on another version
    emulator.clear_calls()
    for step in ROTATION_STEPS:
        msg = drv.fails(step, token)
        assert expected in msg and token in msg, msg
        assert_no_secret_in(msg, BAD_PW, other_pw)
    assert writes(emulator) == []
    assert drv.stage("AWSCURRENT") == current
    assert ec_user(emulator)["Passwords"] == [BAD_PW]
    assert_no_secret_in(drv.fn.log_text(), BAD_PW, other_pw)


# ------------------------------------------------------------------------------------------
# 9. users that are busy: setSecret waits, and retries a change refused as "not active"


def test_elasticache_set_secret_waits_while_the_user_is_modifying(emulator: Emulator, drive):
    emulator.config(transition_seconds=1.0)
    case = setup_case(emulator, "elasticache", settle=False)  # CreateUser leaves it "modifying" for 1 s
    assert ec_user(emulator)["Status"] == "modifying"
    drv = drive(case)
    token = drv.new_pending()
    drv.ok("createSecret", token)
    started = time.monotonic()
    drv.ok("setSecret", token)
    assert time.monotonic() - started >= 0.9, "setSecret waited for the user"
    user = ec_user(emulator)
    assert user["Status"] == "active", "setSecret returns once the change is done"
    assert count(emulator, "ModifyUser") == 1, "ModifyUser only once the user was active"
    drv.rotate(token, ROTATION_STEPS[2:])
    assert_rotated(drv, emulator, case, token)


@pytest.mark.parametrize("kind, action, code", [("elasticache", "ModifyUser", "InvalidUserState"),
                                                ("memorydb", "UpdateUser", "InvalidUserStateFault")])
def test_change_refused_as_user_not_active_is_retried(kind: str, action: str, code: str,
                                                      emulator: Emulator, drive):
    case = setup_case(emulator, kind)
    drv = drive(case)
    token = drv.new_pending()
    drv.ok("createSecret", token)
    emulator.fail(service=kind, action=action, count=1, status=400, code=code,
                  message="User is not in active state.")
    drv.ok("setSecret", token)
    assert count(emulator, action, kind) == 2, calls(emulator)
    drv.rotate(token, ROTATION_STEPS[2:])
    assert_rotated(drv, emulator, case, token)


# ------------------------------------------------------------------------------------------
# 10. finishSecret


def test_finish_secret_moves_current_once_and_leaves_previous_on_the_old_version(emulator: Emulator, drive):
    case = setup_case(emulator, "memorydb")
    drv = drive(case)
    old_version, _ = drv.stage("AWSCURRENT")
    token = drv.new_pending()
    drv.rotate(token, ROTATION_STEPS[:3])
    emulator.clear_calls()
    outcome = drv.ok("finishSecret", token)
    assert old_version in outcome and token in outcome, outcome
    assert writes(emulator) == [("secretsmanager", "UpdateSecretVersionStage")]
    versions = drv.versions()
    assert "AWSCURRENT" in versions[token]["Stages"]
    assert versions[old_version]["Stages"] == ["AWSPREVIOUS"]
    assert drv.stage("AWSPREVIOUS") == (old_version, case.doc)
    assert drv.stage("AWSCURRENT")[0] == token

    emulator.clear_calls()
    again = drv.ok("finishSecret", token)
    assert "AWSCURRENT already" in again, again
    assert writes(emulator) == []
    assert drv.versions() == versions


def test_finish_secret_never_makes_a_version_without_a_value_current(emulator: Emulator, drive):
    """Secrets Manager runs finishSecret only after the other steps; a manual run on a pending
    version that has no value yet must not leave the secret with a value-less AWSCURRENT."""
    case = setup_case(emulator, "elasticache")
    drv = drive(case)
    current = drv.stage("AWSCURRENT")
    token = drv.new_pending()
    msg = drv.fails("finishSecret", token)
    assert "createSecret" in msg, msg
    assert count(emulator, "UpdateSecretVersionStage") == 0
    assert drv.stage("AWSCURRENT") == current


# ------------------------------------------------------------------------------------------
# 11. logs: every step is logged with the secret, the step and the outcome; never a password


@pytest.mark.parametrize("kind", KINDS)
def test_logs_name_secret_step_and_outcome_never_a_password(kind: str, emulator: Emulator, drive):
    case = setup_case(emulator, kind)
    drv = drive(case)
    token = drv.new_pending()
    outcomes = drv.rotate(token)
    _, new = drv.stage("AWSCURRENT")
    text = drv.fn.log_text()
    assert_no_secret_in(text, case.doc["password"], new["password"])
    lines = drv.fn.log_lines()
    for step, outcome in zip(ROTATION_STEPS, outcomes):
        done = [ln for ln in lines if case.arn in ln and f"step={step}" in ln and "rotation step done" in ln]
        assert len(done) == 1, f"{step}: {done}"
        assert outcome in done[0], f"{step}: the outcome is logged"


def test_a_service_error_quoting_a_password_is_masked_everywhere(emulator: Emulator, drive):
    """A service message that quotes a password (never expected, but out of userkeeper's
    hands) is masked in the step's error and in every log line."""
    case = setup_case(emulator, "elasticache")
    drv = drive(case)
    token = drv.new_pending()
    drv.ok("createSecret", token)
    new_pw = json.loads(drv.versions()[token]["SecretString"])["password"]
    emulator.fail(service="elasticache", action="ModifyUser", count=1, status=400,
                  code="InvalidParameterValue", message=f"Passwords [{new_pw}, {OLD_PW}] are not accepted")
    msg = drv.fails("setSecret", token)
    assert "are not accepted" in msg, msg
    assert_no_secret_in(msg, new_pw, OLD_PW)
    assert_no_secret_in(drv.fn.log_text(), new_pw, OLD_PW)
