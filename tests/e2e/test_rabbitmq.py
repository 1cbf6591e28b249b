"""End-to-end: ``Custom::AmazonMQRabbitMQUser`` and ``"engine": "rabbitmq"`` rotation against a
real RabbitMQ.

Amazon MQ's API has no RabbitMQ users: they live in the broker, behind its management HTTP API.
So the emulator holds the broker (``DescribeBroker``: ``ConsoleURL`` and the ``amqps://``
endpoint point at the worker's ``rabbitmq-server``, ``servers.RabbitMqServer``) and the secrets;
everything the function does to users happens in RabbitMQ for real, and every check here reads
RabbitMQ back (management API) or logs in to it (AMQP 0-9-1 over TLS). The function trusts the
test CA through ``USERKEEPER_TLS_CA_FILE``.

The downtime probes of the rotations log in afresh every ~20 ms with what AWSCURRENT holds at
that moment (and with the starting password), and check a connection opened before the
rotation; the figures go to ``target/rotation-downtime.json`` with the others
(``test_rotation_login.py``).
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest

from .cfn_helpers import CfnDriver, assert_failed, assert_success, marker
from .harness.emulator import Emulator, create_activemq_broker
from .harness.events import ROTATION_STEPS
from .harness.function import Function
from .harness.loopback import free_port
from .harness.receiver import ResponseReceiver
from .harness.views import contains_any
from .rabbitmq_helpers import (
    CLONE,
    RMQ_USER,
    ROTATED_PERMISSIONS,
    RabbitBroker,
    instances_of,
    make_rabbit_broker,
    new_password,
    owner_tag,
    password_secret,
    rabbitmq_samples,
    secret_tag,
    seed_rotated_user,
    user_state,
    users_snapshot,
)
from .rotation_helpers import (
    AWSPENDING,
    DOWNTIME_PROPERTY,
    LoginProbe,
    Rotated,
    RotationRun,
    rotate,
    secret_value,
    unique,
)
from .servers import Pki, RabbitMqServer

OTHER_STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/team-b/0d3c2b1a-4e5f-11ef-8a9b-0a1b2c3d4e5f"
PROBE_INTERVAL_S = 0.02
TWO_VHOSTS = [
    {"VirtualHost": "/", "Configure": "^app\\.", "Write": "^app\\.", "Read": "^app\\."},
    {"VirtualHost": "orders", "Configure": "", "Write": "^orders\\.", "Read": ".*"},
]


# ------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture
def fn(start_function, pki: Pki) -> Function:
    """The function trusting the test CA (the management API and AMQP are HTTPS/TLS only)."""
    return start_function(extra_env={"USERKEEPER_TLS_CA_FILE": str(pki.ca_cert)})


@pytest.fixture
def broker(emulator: Emulator, rabbitmq_server: RabbitMqServer) -> RabbitBroker:
    return make_rabbit_broker(emulator, rabbitmq_server)


@pytest.fixture
def downtime_report(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """This test's figures, attached to its report for ``conftest.py`` to write out."""
    report: dict[str, Any] = {}
    yield report
    if report:
        request.node.user_properties.append((DOWNTIME_PROPERTY, report))


def perms(configure: str = "", write: str = "", read: str = "") -> dict[str, str]:
    return {"configure": configure, "write": write, "read": read}


def as_rabbitmq(permissions: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """The template's ``Permissions`` as the management API lists them (regexes default to "")."""
    return {p["VirtualHost"]: perms(p.get("Configure", ""), p.get("Write", ""), p.get("Read", ""))
            for p in permissions}


def assert_no_leak(texts: list[str], *secrets: str) -> None:
    leaks = contains_any(texts, secrets)
    assert not leaks, f"a secret was written out: {leaks}"


def texts_of(fn: Function, *results: Any) -> list[str]:
    """Everything that leaves the function: its log and every response it sent."""
    return [*fn.log_lines(), *(json.dumps(r.response) for r in results)]


def outcome(run: RotationRun, step: str) -> str:
    return run[step].outcome


def assert_ran(run: RotationRun, steps: tuple[str, ...] = ROTATION_STEPS) -> None:
    assert [s.step for s in run.steps] == list(steps) and run.steps and all(s.ok for s in run.steps), \
        f"rotation failed: {[(s.step, s.error or s.outcome) for s in run.steps]}"


def assert_step_failed(run: RotationRun, step: str, *substrings: str) -> str:
    """``step`` was the last step run, and failed with a message holding ``substrings``."""
    last = run.steps[-1]
    assert last.step == step and not last.ok, f"expected {step} to fail last, got {[(s.step, s.ok) for s in run.steps]}"
    assert (last.invocation.result or {}).get("errorType") == "RotationFailed", last.invocation
    for s in substrings:
        assert s in last.error, f"{step}'s error {last.error!r} should contain {s!r}"
    return last.error


class Probes:
    """One ``LoginProbe`` thread per check, so that a slow check (a fresh TLS login) does not
    thin out the others."""

    def __init__(self, checks: dict[str, Any]) -> None:
        self.probes = [LoginProbe({name: check}, PROBE_INTERVAL_S) for name, check in checks.items()]

    def start(self) -> "Probes":
        for p in self.probes:
            p.start()
        return self

    def stop(self) -> "Probes":
        for p in self.probes:
            p.stop()
        return self

    def figures(self) -> dict[str, dict[str, Any]]:
        return {name: f for p in self.probes for name, f in p.figures().items()}


def record(report: dict[str, Any], key: str, run: RotationRun, probe: Probes, **settings: Any) -> dict[str, Any]:
    figures = {
        "rotation_wall_s": round(run.wall_s, 3),
        "steps_s": {s.step: round(s.invocation.duration_s or 0.0, 3) for s in run.steps},
        "probe_interval_ms": PROBE_INTERVAL_S * 1000,
        "probes": probe.figures(),
        **settings,
    }
    report[key] = figures
    lines = [f"{key}: rotation {figures['rotation_wall_s']:.3f} s "
             f"({', '.join(f'{k} {v:.3f} s' for k, v in figures['steps_s'].items())})"]
    lines += [f"  {name:<16} {p['attempts']:4d} checks, {p['failures']} failed"
              for name, p in figures["probes"].items()]
    print("\n" + "\n".join(lines))
    return figures


def without_hash(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """A user's tags and permissions: RabbitMQ salts every password it is sent afresh, so the
    hash changes on every PUT, also of the same password."""
    return None if state is None else {k: v for k, v in state.items() if k != "password_hash"}


# ------------------------------------------------------------------------------------------
# custom resource: the lifecycle, read back from RabbitMQ


def test_create_update_delete_with_permissions_on_two_vhosts(cfn: CfnDriver, emulator: Emulator,
                                                             broker: RabbitBroker):
    server = broker.server
    name, pw = unique("app"), new_password()
    arn = password_secret(emulator, pw)
    props = broker.props(name, arn, Tags=["management"], Permissions=TWO_VHOSTS)

    res = cfn.create(RMQ_USER, props, logical_id="AppUser")
    assert_success(res)
    assert res.physical_id == broker.pid(name)
    assert res.data == {"Username": name, "LiveUsername": name, "ConsoleUrl": server.console_url}
    created = user_state(server, name)
    assert created["tags"] == sorted(["management", owner_tag("AppUser"), secret_tag(arn)])
    assert created["permissions"] == as_rabbitmq(TWO_VHOSTS)
    assert server.login(name, pw, "/") and server.login(name, pw, "orders")
    assert {"CreateUser", "UpdateUser", "DeleteUser"}.isdisjoint(emulator.actions("mq")), \
        "Amazon MQ's user API is ActiveMQ's only"

    # Tags replaced, "/" changed, "orders" dropped; the password stays (same PasswordSecretArn).
    one_vhost = [{"VirtualHost": "/", "Configure": "", "Write": "^app\\.", "Read": ".*"}]
    changed = {**props, "Tags": ["monitoring"], "Permissions": one_vhost}
    upd = cfn.update(RMQ_USER, res.physical_id, changed, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == res.physical_id
    assert upd.data == res.data
    updated = user_state(server, name)
    assert updated["tags"] == sorted(["monitoring", owner_tag("AppUser"), secret_tag(arn)])
    assert updated["permissions"] == {"/": perms("", "^app\\.", ".*")}
    assert updated["password_hash"] == created["password_hash"], "the password is sent only when its secret changes"
    with pytest.raises(Exception, match="(?i)access|vhost|530"):
        server.login(name, pw, "orders")

    # "orders" back, its regexes left out: no access of that kind.
    again = {**changed, "Permissions": [*one_vhost, {"VirtualHost": "orders", "Read": "^orders$"}]}
    assert_success(cfn.update(RMQ_USER, res.physical_id, again, changed, logical_id="AppUser"))
    assert server.permissions(name) == {"/": perms("", "^app\\.", ".*"), "orders": perms(read="^orders$")}
    assert server.login(name, pw, "orders")

    dele = cfn.delete(RMQ_USER, res.physical_id, again, logical_id="AppUser")
    assert_success(dele)
    assert dele.physical_id == res.physical_id
    assert server.user(name) is None and server.permissions(name) == {}
    assert not server.login(name, pw, "/")
    assert_no_leak(texts_of(cfn.fn, res, upd, dele), pw, server.admin_password)


def test_password_changes_only_with_the_password_secret(cfn: CfnDriver, emulator: Emulator, broker: RabbitBroker):
    server = broker.server
    name, pw1, pw2, pw3 = unique("app"), new_password(), new_password(), new_password()
    arn1 = password_secret(emulator, pw1)
    props = broker.props(name, arn1, Permissions=TWO_VHOSTS[:1])
    assert_success(cfn.create(RMQ_USER, props, logical_id="AppUser"))
    # The secret's value changes behind the stack's back (a rotation would): an Update of
    # something else leaves the password alone.
    emulator.client("secretsmanager").put_secret_value(SecretId=arn1, SecretString=json.dumps({"password": pw2}))
    tagged = {**props, "Tags": ["management"]}
    assert_success(cfn.update(RMQ_USER, broker.pid(name), tagged, props, logical_id="AppUser"))
    assert server.login(name, pw1) and not server.login(name, pw2)

    arn3 = password_secret(emulator, pw3)
    moved = {**tagged, "PasswordSecretArn": arn3}
    upd = cfn.update(RMQ_USER, broker.pid(name), moved, tagged, logical_id="AppUser")
    assert_success(upd)
    assert server.login(name, pw3) and not server.login(name, pw1)
    assert user_state(server, name)["tags"] == sorted(["management", owner_tag("AppUser"), secret_tag(arn3)]), \
        "bound to the new secret, no longer to the old one"
    assert_no_leak(texts_of(cfn.fn, upd), pw1, pw2, pw3, server.admin_password)


def test_username_change_is_a_replacement(cfn: CfnDriver, emulator: Emulator, broker: RabbitBroker):
    server = broker.server
    old_name, pw = unique("app"), new_password()
    new_name = f"{old_name}-v2"
    arn = password_secret(emulator, pw)
    old = broker.props(old_name, arn, Tags=["management"], Permissions=TWO_VHOSTS)
    assert_success(cfn.create(RMQ_USER, old, logical_id="AppUser"))
    before = user_state(server, old_name)

    new = {**old, "Username": new_name}
    upd = cfn.update(RMQ_USER, broker.pid(old_name), new, old, logical_id="AppUser")
    assert_success(upd)
    assert upd.physical_id == broker.pid(new_name)
    assert upd.data == {"Username": new_name, "LiveUsername": new_name, "ConsoleUrl": server.console_url}
    assert user_state(server, old_name) == before, "the old user stays until CloudFormation's cleanup"
    replacement = user_state(server, new_name)
    assert replacement["tags"] == before["tags"] and replacement["permissions"] == before["permissions"]
    assert server.login(new_name, pw, "orders")

    cleanup = cfn.delete(RMQ_USER, broker.pid(old_name), old, logical_id="AppUser")
    assert_success(cleanup)
    assert server.user(old_name) is None
    assert user_state(server, new_name) == replacement


def test_the_first_console_url_that_answers_is_used(cfn: CfnDriver, emulator: Emulator,
                                                    rabbitmq_server: RabbitMqServer):
    """Active/standby or several instances: ``BrokerInstances[].ConsoleURL`` in order, the first
    that answers."""
    dead = f"https://127.0.0.1:{free_port()}"
    broker = make_rabbit_broker(emulator, rabbitmq_server, instances=[
        *instances_of(rabbitmq_server, console_url=dead), *instances_of(rabbitmq_server)])
    name = unique("app")
    res = cfn.create(RMQ_USER, broker.props(name, password_secret(emulator, new_password())), logical_id="AppUser")
    assert_success(res)
    assert res.data["ConsoleUrl"] == rabbitmq_server.console_url
    assert rabbitmq_server.user(name) is not None


def test_an_activemq_broker_is_refused_naming_the_other_type(cfn: CfnDriver, emulator: Emulator,
                                                             broker: RabbitBroker):
    active = create_activemq_broker(emulator)
    name = unique("app")
    ev = cfn.event("Create", RMQ_USER, {**broker.props(name, password_secret(emulator, new_password())),
                                        "BrokerId": active}, logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, "Custom::AmazonMQUser")
    assert res.physical_id == marker(ev)
    assert broker.server.user(name) is None


# ------------------------------------------------------------------------------------------
# ownership: someone else's user is never taken over


def test_a_hand_made_user_is_neither_overwritten_updated_nor_deleted(cfn: CfnDriver, emulator: Emulator,
                                                                     broker: RabbitBroker):
    server = broker.server
    name, theirs = unique("app"), new_password()
    server.put_user(name, theirs, ["monitoring"])
    server.set_permissions(name, "/")
    before = user_state(server, name)
    pw = new_password()
    props = broker.props(name, password_secret(emulator, pw), Tags=["management"], Permissions=TWO_VHOSTS)

    ev = cfn.event("Create", RMQ_USER, props, logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, "not managed by this stack")
    assert res.physical_id == marker(ev)
    assert user_state(server, name) == before
    upd = cfn.update(RMQ_USER, broker.pid(name), {**props, "Tags": ["administrator"]}, props, logical_id="AppUser")
    assert_failed(upd, "not managed by this stack")
    assert user_state(server, name) == before
    for physical_id in (res.physical_id, broker.pid(name)):
        dele = cfn.delete(RMQ_USER, physical_id, props, logical_id="AppUser")
        assert_success(dele)
        assert dele.physical_id == physical_id
    assert user_state(server, name) == before
    assert server.login(name, theirs)
    assert_no_leak(texts_of(cfn.fn, res, upd), pw, theirs, server.admin_password)


def test_another_stacks_user_is_left_alone(cfn_factory, fn: Function, emulator: Emulator, broker: RabbitBroker):
    server = broker.server
    name = unique("app")
    props = broker.props(name, password_secret(emulator, new_password()), Permissions=TWO_VHOSTS)
    mine = cfn_factory(fn)
    assert_success(mine.create(RMQ_USER, props, logical_id="AppUser"))
    before = user_state(server, name)
    theirs = cfn_factory(fn, OTHER_STACK)
    intruder = {**props, "PasswordSecretArn": password_secret(emulator, new_password()), "Tags": ["administrator"]}
    assert_failed(theirs.create(RMQ_USER, {**intruder, "Adopt": "true"}, logical_id="AppUser"),
                  "not managed by this stack")
    assert_failed(theirs.update(RMQ_USER, broker.pid(name), intruder, props, logical_id="AppUser"),
                  "not managed by this stack")
    # Same stack, another logical id: not its user either.
    assert_failed(mine.update(RMQ_USER, broker.pid(name), intruder, props, logical_id="SomeoneElse"),
                  "not managed by this stack")
    assert_success(theirs.delete(RMQ_USER, broker.pid(name), props, logical_id="AppUser"))
    assert user_state(server, name) == before


def test_adopt_takes_over_a_hand_made_user(cfn: CfnDriver, emulator: Emulator, broker: RabbitBroker):
    server = broker.server
    name = unique("app")
    server.put_user(name, new_password(), ["monitoring"])
    server.set_permissions(name, "/")
    pw = new_password()
    arn = password_secret(emulator, pw)
    props = broker.props(name, arn, Tags=["management"], Permissions=TWO_VHOSTS[1:], Adopt="true")
    res = cfn.create(RMQ_USER, props, logical_id="AppUser")
    assert_success(res)
    adopted = user_state(server, name)
    assert adopted["tags"] == sorted(["management", owner_tag("AppUser"), secret_tag(arn)])
    assert adopted["permissions"] == as_rabbitmq(TWO_VHOSTS[1:]), "brought to the template"
    assert server.login(name, pw, "orders")
    assert_success(cfn.delete(RMQ_USER, broker.pid(name), props, logical_id="AppUser"))
    assert server.user(name) is None


def test_the_administrator_userkeeper_works_as_is_never_managed(cfn: CfnDriver, fn: Function, emulator: Emulator,
                                                                broker: RabbitBroker):
    """Adopting (or rotating) the admin of AdminSecretArn would change the password every later
    call logs in with: every call after it, Delete included, would be locked out."""
    server = broker.server
    admin = server.admin_user
    before = user_state(server, admin)
    props = broker.props(admin, password_secret(emulator, new_password()), Tags=["management"], Adopt="true")
    res = cfn.create(RMQ_USER, props, logical_id="AppUser")
    assert_failed(res, "is the administrator userkeeper works as")
    assert user_state(server, admin) == before
    assert server.login(admin, server.admin_password)
    # Nor as the pair of a rotated user whose clone name would be the admin's.
    base = admin.removesuffix(CLONE) if admin.endswith(CLONE) else None
    value = {"engine": "rabbitmq", "broker_id": broker.broker_id, "username": base or admin,
             "password": new_password(), "admin_secret_arn": broker.admin_secret_arn, "strategy": "single"}
    arn = emulator.client("secretsmanager").create_secret(Name=unique("admin-rotation"),
                                                          SecretString=json.dumps(value))["ARN"]
    emulator.enable_rotation(arn)
    run = rotate(fn, arn, emulator.new_pending(arn))
    error = assert_step_failed(run, "createSecret", "is the administrator userkeeper works as")
    assert user_state(server, admin) == before
    assert server.login(admin, server.admin_password)
    assert_no_leak([error, *fn.log_lines()], server.admin_password)


def test_a_hand_made_user_with_the_clone_name_is_not_overwritten(fn: Function, emulator: Emulator,
                                                                 broker: RabbitBroker):
    """The secret is bound to the user, not to whatever else carries its clone's name."""
    server = broker.server
    r = seed_rotated_user(emulator, broker)
    clone, theirs = r.username + CLONE, new_password()
    server.put_user(clone, theirs, ["monitoring"])
    server.set_permissions(clone, "/")
    before = user_state(server, clone)
    token = emulator.new_pending(r.arn)
    run = rotate(fn, r.arn, token)
    error = assert_step_failed(run, "setSecret", clone, "is not the alternate user")
    assert user_state(server, clone) == before
    assert server.login(clone, theirs)
    assert secret_value(emulator, r.arn)[0] != token, "AWSCURRENT stays"
    assert_no_leak([error, *fn.log_lines()], theirs, r.password, server.admin_password)


# ------------------------------------------------------------------------------------------
# bad input: named, never echoed, refused before any call


BROKER_ID = "b-1234a5b6-78cd-901e-2fab-3c45d6e178f9"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-rabbit-AbCdEf"
ADMIN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rabbit-admin-GhIjKl"
INLINE_PASSWORD = "Inline-Passw0rd-Never-Echoed"


@pytest.mark.parametrize("change,field", [
    ({"Username": "a"}, "Username"),
    ({"Username": "u" * 95}, "Username"),
    ({"Username": "app rmq"}, "Username"),
    ({"Username": "app_clone"}, "Username"),
    ({"BrokerId": "not a broker"}, "BrokerId"),
    ({"PasswordSecretArn": None}, "PasswordSecretArn"),
    ({"AdminSecretArn": None}, "AdminSecretArn"),
    ({"Password": INLINE_PASSWORD}, "Password"),
    ({"Tags": ["bad tag"]}, "Tags"),
    ({"Tags": ["t" * 65]}, "Tags"),
    ({"Tags": [f"t{i}" for i in range(21)]}, "Tags"),
    ({"Tags": ["userkeeper-owner"]}, "Tags"),
    ({"Permissions": [{"Read": ".*"}]}, "VirtualHost"),
    ({"Permissions": [{"VirtualHost": ""}]}, "VirtualHost"),
    ({"Permissions": [{"VirtualHost": "/"}, {"VirtualHost": "/", "Read": ".*"}]}, "VirtualHost"),
    ({"Permissions": [{"VirtualHost": "/", "Read": "(unclosed"}]}, "Read"),
    ({"Permissions": [{"VirtualHost": "/", "Write": "[a-z"}]}, "Write"),
    ({"Permissions": [{"VirtualHost": "/", "Configure": "trailing\\"}]}, "Configure"),
    ({"Permissions": [{"VirtualHost": "/", "Read": "*nothing-to-repeat"}]}, "Read"),
    ({"Adopt": "maybe"}, "Adopt"),
], ids=["user-1-char", "user-95-chars", "user-space", "user-clone-suffix", "bad-broker-id", "no-password-secret",
        "no-admin-secret", "inline-password", "tag-space", "tag-65-chars", "21-tags", "reserved-tag",
        "vhost-missing", "vhost-empty", "vhost-twice", "regex-paren", "regex-bracket", "regex-backslash",
        "regex-quantifier", "bad-boolean"])
def test_bad_properties_fail_before_any_call(cfn: CfnDriver, emulator: Emulator, rabbitmq_server: RabbitMqServer,
                                             change: dict[str, Any], field: str):
    props = {"BrokerId": BROKER_ID, "Username": "app-rmq", "PasswordSecretArn": SECRET_ARN,
             "AdminSecretArn": ADMIN_ARN, "Permissions": TWO_VHOSTS[:1], **change}
    props = {k: v for k, v in props.items() if v is not None}
    users_before = rabbitmq_server.user_names()
    ev = cfn.event("Create", RMQ_USER, props, logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, field)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == [], "not even a read"
    assert rabbitmq_server.user_names() == users_before
    assert_no_leak(texts_of(cfn.fn, res), INLINE_PASSWORD)


def test_the_limits_are_accepted(cfn: CfnDriver, emulator: Emulator, broker: RabbitBroker):
    name = unique("u")[:10] + "~._-" + "x" * 80  # 94 characters: 100 with "_clone"
    assert len(name) == 94
    tags = [f"tag_{i:02d}" for i in range(19)] + ["T" * 64]
    res = cfn.create(RMQ_USER, broker.props(name, password_secret(emulator, new_password()), Tags=tags),
                     logical_id="AppUser")
    assert_success(res)
    assert sorted(broker.server.user(name)["tags"]) == sorted([*tags, owner_tag("AppUser"),
                                                                secret_tag(res.event["ResourceProperties"]["PasswordSecretArn"])])


def test_a_virtual_host_that_does_not_exist_is_named_before_any_write(cfn: CfnDriver, emulator: Emulator,
                                                                       broker: RabbitBroker):
    name, missing = unique("app"), unique("nowhere")
    props = broker.props(name, password_secret(emulator, new_password()),
                         Permissions=[*TWO_VHOSTS, {"VirtualHost": missing, "Read": ".*"}])
    ev = cfn.event("Create", RMQ_USER, props, logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res, missing)
    assert res.physical_id == marker(ev)
    assert broker.server.user(name) is None


@pytest.mark.parametrize("secret", [
    {"password": "has:colon-in-it"},
    {"password": "short-1"},
    {"username": "no-password-key"},
], ids=["forbidden-char", "too-short", "no-password"])
def test_a_bad_password_secret_fails_without_writing_or_echoing(cfn: CfnDriver, emulator: Emulator,
                                                                broker: RabbitBroker, secret: dict[str, str]):
    name = unique("app")
    arn = emulator.client("secretsmanager").create_secret(Name=unique("bad"), SecretString=json.dumps(secret))["ARN"]
    ev = cfn.event("Create", RMQ_USER, broker.props(name, arn), logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res)
    assert "PasswordSecretArn" in res.reason or arn in res.reason, f"the secret is not named: {res.reason}"
    assert broker.server.user(name) is None
    assert_no_leak(texts_of(cfn.fn, res), *secret.values())


def test_wrong_admin_credentials_fail_without_leaking_them(cfn: CfnDriver, emulator: Emulator, broker: RabbitBroker):
    server = broker.server
    wrong = new_password()
    admin = emulator.client("secretsmanager").create_secret(
        Name=unique("admin"), SecretString=json.dumps({"username": server.admin_user, "password": wrong}))["ARN"]
    name, pw = unique("app"), new_password()
    res = cfn.create(RMQ_USER, {**broker.props(name, password_secret(emulator, pw)), "AdminSecretArn": admin},
                     logical_id="AppUser")
    assert_failed(res)
    assert server.user(name) is None
    assert_no_leak(texts_of(cfn.fn, res), wrong, pw, server.admin_password)


# ------------------------------------------------------------------------------------------
# rotation: zero downtime, for real


def test_alternating_rotation_keeps_connections_and_logs_in_without_a_gap(
        fn: Function, emulator: Emulator, broker: RabbitBroker, downtime_report: dict[str, Any]):
    server = broker.server
    r = seed_rotated_user(emulator, broker)
    clone = r.username + CLONE
    base_before = user_state(server, r.username)
    old_version, _ = secret_value(emulator, r.arn)
    sm = emulator.client("secretsmanager")  # the probe thread's own client

    def current_logs_in() -> bool:
        _, value = secret_value(emulator, r.arn, client=sm)
        return server.login(value["username"], value["password"])

    with server.connect(r.username, r.password) as held:
        probe = Probes({"awscurrent": current_logs_in,
                        "old_password": lambda: server.login(r.username, r.password),
                        "held_connection": held.alive}).start()
        time.sleep(0.3)  # logins before the rotation starts, too
        token = emulator.new_pending(r.arn)
        run = rotate(fn, r.arn, token)
        time.sleep(0.3)
        probe.stop()
        held_alive = held.alive()

    assert_ran(run)
    assert "logged in over AMQP" in outcome(run, "testSecret") and clone in outcome(run, "testSecret"), \
        outcome(run, "testSecret")
    version, value = secret_value(emulator, r.arn)
    assert version == token != old_version
    assert value == {**r.value, "username": clone, "password": value["password"]}, "every other key kept"
    assert value["password"] != r.password
    assert user_state(server, r.username) == base_before, "the current user is never touched"
    cloned = user_state(server, clone)
    assert cloned["tags"] == base_before["tags"], "the clone carries the user's tags, userkeeper's included"
    assert cloned["permissions"] == base_before["permissions"] == ROTATED_PERMISSIONS
    assert server.login(clone, value["password"], "/") and server.login(clone, value["password"], "orders")
    assert server.login(r.username, r.password)
    assert held_alive, "the connection opened before the rotation was dropped"
    figures = record(downtime_report, "rabbitmq", run, probe, strategy="alternating")
    assert all(p["attempts"] >= 5 for p in figures["probes"].values()), figures
    assert {k: p["failures"] for k, p in figures["probes"].items()} == \
        {"awscurrent": 0, "old_password": 0, "held_connection": 0}, figures
    assert_no_leak(fn.log_lines(), r.password, value["password"], server.admin_password)

    # The next rotation goes back to the first user; the clone, now current, is not touched.
    clone_before = user_state(server, clone)
    token2 = emulator.new_pending(r.arn)
    assert_ran(rotate(fn, r.arn, token2))
    _, value2 = secret_value(emulator, r.arn)
    assert value2["username"] == r.username
    assert server.login(r.username, value2["password"], "orders") and not server.login(r.username, r.password)
    assert user_state(server, clone) == clone_before


def test_single_rotation_keeps_connections_and_changes_the_password(
        fn: Function, emulator: Emulator, broker: RabbitBroker, downtime_report: dict[str, Any]):
    server = broker.server
    r = seed_rotated_user(emulator, broker, strategy="single")
    before = user_state(server, r.username)
    sm = emulator.client("secretsmanager")

    def current_logs_in() -> bool:
        _, value = secret_value(emulator, r.arn, client=sm)
        return server.login(value["username"], value["password"])

    with server.connect(r.username, r.password, "orders") as held:
        probe = Probes({"awscurrent": current_logs_in, "held_connection": held.alive}).start()
        time.sleep(0.3)
        token = emulator.new_pending(r.arn)
        run = rotate(fn, r.arn, token)
        time.sleep(0.3)
        probe.stop()
        held_alive = held.alive()

    assert_ran(run)
    assert "logged in over AMQP" in outcome(run, "testSecret"), outcome(run, "testSecret")
    version, value = secret_value(emulator, r.arn)
    assert version == token and value["username"] == r.username and value["password"] != r.password
    assert server.login(r.username, value["password"]) and not server.login(r.username, r.password)
    assert without_hash(user_state(server, r.username)) == without_hash(before), "tags and permissions kept"
    assert server.user(r.username + CLONE) is None
    assert held_alive, "RabbitMQ keeps a connection whose user's password changed"
    # New logins with AWSCURRENT fail from setSecret until finishSecret: single's known gap,
    # reported, not hidden.
    figures = record(downtime_report, "rabbitmq_single", run, probe, strategy="single")
    assert figures["probes"]["held_connection"]["failures"] == 0, figures
    assert figures["probes"]["awscurrent"]["attempts"] >= 5, figures
    assert_no_leak(fn.log_lines(), r.password, value["password"], server.admin_password)


def test_a_pending_password_the_broker_refuses_fails_test_secret(fn: Function, emulator: Emulator,
                                                                broker: RabbitBroker):
    server = broker.server
    r = seed_rotated_user(emulator, broker)
    clone = r.username + CLONE
    old_version, _ = secret_value(emulator, r.arn)
    token = emulator.new_pending(r.arn)
    assert_ran(rotate(fn, r.arn, token, steps=("createSecret", "setSecret")), ("createSecret", "setSecret"))
    _, pending = secret_value(emulator, r.arn, AWSPENDING)
    # The clone's password changed behind userkeeper's back: the broker refuses the pending one.
    other = new_password()
    server.put_user(clone, other, server.user(clone)["tags"])

    run = rotate(fn, r.arn, token, steps=("testSecret", "finishSecret"))

    error = assert_step_failed(run, "testSecret", clone, f"{server.host}:{server.amqps_port}", "refused")
    assert len(run.steps) == 1, "finishSecret must not run"
    assert secret_value(emulator, r.arn)[0] == old_version, "AWSCURRENT moved to a password that does not log in"
    assert server.login(r.username, r.password)
    assert_no_leak([error, *fn.log_lines()], pending["password"], other, r.password, server.admin_password)


@pytest.mark.parametrize("where", ["broker-endpoint", "secret-host"])
def test_test_secret_falls_back_to_the_management_api(where: str, fn: Function, emulator: Emulator,
                                                      rabbitmq_server: RabbitMqServer):
    """No AMQP endpoint answers (nothing listens on the port): testSecret checks the password
    through the management API, says so, and still catches a wrong one."""
    server = rabbitmq_server
    closed = free_port()
    if where == "broker-endpoint":
        broker = make_rabbit_broker(emulator, server,
                                    instances=instances_of(server, amqps_endpoint=f"amqps://127.0.0.1:{closed}"))
        r = seed_rotated_user(emulator, broker)
    else:
        broker = make_rabbit_broker(emulator, server)
        r = seed_rotated_user(emulator, broker, host="127.0.0.1", port=closed)
    token = emulator.new_pending(r.arn)
    run = rotate(fn, r.arn, token)
    assert_ran(run)
    said = outcome(run, "testSecret")
    assert "checked through the management API" in said and "logged in over AMQP" not in said, said
    assert secret_value(emulator, r.arn)[0] == token

    # A refused password is caught that way too; the message names the check.
    current = secret_value(emulator, r.arn)[0]
    token2 = emulator.new_pending(r.arn)
    assert_ran(rotate(fn, r.arn, token2, steps=("createSecret", "setSecret")), ("createSecret", "setSecret"))
    other = new_password()
    server.put_user(r.username, other, server.user(r.username)["tags"])  # the pending user, this time
    failed = rotate(fn, r.arn, token2, steps=("testSecret",))
    error = assert_step_failed(failed, "testSecret", r.username, "management API")
    assert secret_value(emulator, r.arn)[0] == current
    _, pending = secret_value(emulator, r.arn, AWSPENDING)
    assert_no_leak([error, *fn.log_lines()], pending["password"], other, r.password, server.admin_password)


@pytest.mark.parametrize("binding", ["unbound", "bound-to-another-secret"])
def test_a_secret_not_bound_to_the_user_changes_nothing(binding: str, fn: Function, emulator: Emulator,
                                                        broker: RabbitBroker):
    server = broker.server
    r = seed_rotated_user(emulator, broker, bound=binding != "unbound")
    arn = r.arn
    if binding == "bound-to-another-secret":
        # Whoever can write a secret chooses the user it names.
        arn = emulator.client("secretsmanager").create_secret(
            Name=unique("intruder"), SecretString=json.dumps({**r.value, "password": new_password()}))["ARN"]
        emulator.enable_rotation(arn)
    names = [r.username, r.username + CLONE]
    before = users_snapshot(server, names)
    token = emulator.new_pending(arn)
    run = rotate(fn, arn, token)
    error = assert_step_failed(run, "createSecret", secret_tag(arn))
    assert users_snapshot(server, names) == before, "nothing is written, no clone is made"
    assert emulator.secret_versions(arn)[token]["HasValue"] is False
    assert_no_leak([error, *fn.log_lines()], r.password, server.admin_password)


# ------------------------------------------------------------------------------------------
# rotation: every step twice, and cut off after any step


STRATEGIES = ["alternating", "single"]


def assert_rotated(emulator: Emulator, server: RabbitMqServer, r: Rotated, token: str, strategy: str) -> dict[str, Any]:
    version, value = secret_value(emulator, r.arn)
    assert version == token, "AWSCURRENT is on the rotated version"
    user = r.username + CLONE if strategy == "alternating" else r.username
    assert value["username"] == user and value["password"] != r.password
    assert server.login(user, value["password"], "orders")
    assert server.permissions(user) == ROTATED_PERMISSIONS
    if strategy == "alternating":
        assert server.login(r.username, r.password), "the current user is never touched"
    return value


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_step_run_twice(strategy: str, fn: Function, emulator: Emulator, broker: RabbitBroker):
    server = broker.server
    r = seed_rotated_user(emulator, broker, strategy=strategy)
    token = emulator.new_pending(r.arn)
    names = [r.username, r.username + CLONE]
    for step in ROTATION_STEPS:
        assert_ran(rotate(fn, r.arn, token, steps=(step,)), (step,))
        versions, users = emulator.secret_versions(r.arn), users_snapshot(server, names)
        again = rotate(fn, r.arn, token, steps=(step,))
        assert_ran(again, (step,))
        assert emulator.secret_versions(r.arn) == versions, f"the second {step} changed the secret"
        assert {n: without_hash(s) for n, s in users_snapshot(server, names).items()} == \
            {n: without_hash(s) for n, s in users.items()}, f"the second {step} changed a user"
        if step == "createSecret":
            assert "kept" in outcome(again, step), outcome(again, step)
        if step == "finishSecret":
            assert "AWSCURRENT already" in outcome(again, step), outcome(again, step)
    assert_rotated(emulator, server, r, token, strategy)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_rotation_killed_after_a_step_completes_on_retry(strategy: str, k: int, fn: Function, emulator: Emulator,
                                                         broker: RabbitBroker):
    r = seed_rotated_user(emulator, broker, strategy=strategy)
    token = emulator.new_pending(r.arn)
    assert_ran(rotate(fn, r.arn, token, steps=ROTATION_STEPS[:k]), ROTATION_STEPS[:k])
    retry = rotate(fn, r.arn, token)  # Secrets Manager starts again at createSecret, same token
    assert_ran(retry)
    value = assert_rotated(emulator, broker.server, r, token, strategy)
    if k == 4:
        assert all("AWSCURRENT already" in s.outcome for s in retry.steps), [s.outcome for s in retry.steps]
    assert_no_leak(fn.log_lines(), r.password, value["password"])


# ------------------------------------------------------------------------------------------
# the resource and its rotation together: the clone follows, and goes with it


def test_the_clone_follows_its_user_and_goes_with_it(cfn: CfnDriver, emulator: Emulator, broker: RabbitBroker):
    server = broker.server
    name = unique("app")
    clone = name + CLONE
    pw = new_password()
    # One secret for both: the resource's password, and the rotation's document.
    doc = {"engine": "rabbitmq", "broker_id": broker.broker_id, "username": name, "password": pw,
           "admin_secret_arn": broker.admin_secret_arn}
    arn = emulator.client("secretsmanager").create_secret(Name=unique("app-secret"), SecretString=json.dumps(doc))["ARN"]
    emulator.enable_rotation(arn)
    props = broker.props(name, arn, Tags=["management"], Permissions=TWO_VHOSTS)
    assert_success(cfn.create(RMQ_USER, props, logical_id="AppUser"))
    token = emulator.new_pending(arn)
    assert_ran(rotate(cfn.fn, arn, token))  # creating the resource bound the user to its secret
    _, value = secret_value(emulator, arn)
    assert value["username"] == clone

    changed = {**props, "Tags": ["monitoring"], "Permissions": TWO_VHOSTS[1:]}
    upd = cfn.update(RMQ_USER, broker.pid(name), changed, props, logical_id="AppUser")
    assert_success(upd)
    assert upd.data == {"Username": name, "LiveUsername": clone, "ConsoleUrl": server.console_url}
    for user in (name, clone):
        state = user_state(server, user)
        assert state["tags"] == sorted(["monitoring", owner_tag("AppUser"), secret_tag(arn)]), user
        assert state["permissions"] == as_rabbitmq(TWO_VHOSTS[1:]), user
    assert server.login(clone, value["password"], "orders"), "the update kept the live password"

    dele = cfn.delete(RMQ_USER, broker.pid(name), changed, logical_id="AppUser")
    assert_success(dele)
    assert server.user(name) is None and server.user(clone) is None
    assert_no_leak(texts_of(cfn.fn, upd, dele), pw, value["password"], server.admin_password)


# ------------------------------------------------------------------------------------------
# the sample events (events/rabbitmq-user-*.json)


def test_sample_events_drive_the_binary(fn: Function, receiver: ResponseReceiver, emulator: Emulator,
                                        rabbitmq_server: RabbitMqServer):
    server = rabbitmq_server
    load = rabbitmq_samples(emulator, server)
    driver = CfnDriver(fn, receiver, stack_id="unused")
    for leftover in ("app-rmq", "app-rmq-v2"):  # from an earlier run on this worker's server
        server.delete_user(leftover)

    def run(name: str):
        res = driver.send(load(name, response_url=receiver.url(name)))
        assert_success(res)
        return res

    assert run("rabbitmq-user-create").physical_id == f"{load.broker.broker_id}/app-rmq"
    assert server.login("app-rmq", load.password, "orders")
    run("rabbitmq-user-update")
    assert {"management", "monitoring"} <= set(server.user("app-rmq")["tags"])
    assert server.permissions("app-rmq")["/"] == perms("^app\\.", "^app\\.", ".*")
    assert run("rabbitmq-user-update-replace").physical_id == f"{load.broker.broker_id}/app-rmq-v2"
    assert run("rabbitmq-user-delete").physical_id == f"{load.broker.broker_id}/app-rmq"
    assert server.user("app-rmq") is None
    assert server.login("app-rmq-v2", load.password, "/")
    server.delete_user("app-rmq-v2")
    assert_no_leak(fn.log_lines(), load.password, server.admin_password)
