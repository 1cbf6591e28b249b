"""Password rotation end to end, with testSecret logging in to real servers.

The emulator holds the AWS API state; a TLS-only ``redis-server`` (ElastiCache, MemoryDB) and an
ActiveMQ broker speaking ``stomp+ssl`` (Amazon MQ) hold the real credentials. The service's side
of a change is modelled by syncing the emulator's state into the server after setSecret
(``rotation_helpers.sync_*``). The function trusts the test CA through
``USERKEEPER_TLS_CA_FILE``, except where the test is about not trusting it.

Downtime is measured during the full rotations: a thread logs in every ~20 ms with the value
AWSCURRENT holds at that moment and with the starting password. The figures are printed
(``-s``) and written to ``target/rotation-downtime.json`` at the end of the run (by
``conftest.py``, from every test's report: with xdist the tests may run on different workers).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Iterator

import pytest

from .harness.emulator import Emulator
from .harness.function import Function
from .harness.views import contains_any
from .rotation_helpers import (
    DOWNTIME_PROPERTY,
    LoginProbe,
    Rotated,
    live_mq_users,
    put_pending,
    rotate,
    secret_value,
    seed_elasticache,
    seed_memorydb,
    seed_mq,
    sync,
)
from .servers import ActiveMqServer, Pki, RedisServer, activemq_passcode

PROBE_INTERVAL_S = 0.02
#: How long the emulator keeps a user `modifying` / a broker rebooting in the measured
#: rotations: long enough that the probes run through setSecret's wait, not only around it.
TRANSITION_S = 1.0

SEED = {"elasticache": seed_elasticache, "memorydb": seed_memorydb}


@pytest.fixture
def downtime_report(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """This test's figures per service, attached to its report (``user_properties``) for
    ``conftest.py`` to write to ``DOWNTIME_FILE`` once the run is done."""
    report: dict[str, Any] = {}
    yield report
    if report:
        request.node.user_properties.append((DOWNTIME_PROPERTY, report))


@pytest.fixture
def fn(start_function, pki: Pki) -> Function:
    """The function trusting the test CA."""
    return start_function(extra_env={"USERKEEPER_TLS_CA_FILE": str(pki.ca_cert)})


def seed_redis_user(engine: str, emulator: Emulator, redis_server: RedisServer, **extra: Any) -> Rotated:
    return SEED[engine](emulator, redis_server, host=redis_server.host, port=redis_server.port, **extra)


def assert_no_password(texts: list[str], *passwords: str) -> None:
    leaks = contains_any(texts, passwords)
    assert not leaks, f"a password was written out: {leaks}"


def assert_step_failed(run, step: str, *substrings: str) -> str:
    """``step`` was the last step run, and failed with a message holding ``substrings``."""
    last = run.steps[-1]
    assert last.step == step and not last.ok, f"expected {step} to fail last, got {[(s.step, s.ok) for s in run.steps]}"
    assert (last.invocation.result or {}).get("errorType") == "RotationFailed", last.invocation
    for s in substrings:
        assert s in last.error, f"{step}'s error {last.error!r} should contain {s!r}"
    return last.error


def record(report: dict[str, Any], key: str, run, probe: LoginProbe, **settings: Any) -> dict[str, Any]:
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
    lines += [f"  {name:<12} {p['attempts']:4d} logins, {p['failures']} failed" for name, p in figures["probes"].items()]
    print("\n" + "\n".join(lines))
    return figures


# -------------------------------------------------------------------------------------------
# ElastiCache and MemoryDB: two passwords per user


@pytest.mark.parametrize("engine", ["elasticache", "memorydb"])
def test_rotation_logs_in_and_keeps_the_old_password_working(
        engine: str, fn: Function, emulator: Emulator, redis_server: RedisServer,
        downtime_report: dict[str, Any]):
    r = seed_redis_user(engine, emulator, redis_server)
    emulator.config(transition_seconds=TRANSITION_S)  # setSecret's change takes this, whatever the run's timings
    old_version, _ = secret_value(emulator, r.arn)
    sm = emulator.client("secretsmanager")  # the probe's own client, used by its thread only

    def current_logs_in() -> bool:
        _, value = secret_value(emulator, r.arn, client=sm)
        return redis_server.login(value["username"], value["password"])

    probe = LoginProbe({"awscurrent": current_logs_in,
                        "old_password": lambda: redis_server.login(r.username, r.password)}, PROBE_INTERVAL_S)
    with redis_server.connect(r.username, r.password) as held:
        assert held.ping()
        probe.start()
        time.sleep(0.1)  # logins before the rotation starts, too
        token = emulator.new_pending(r.arn)
        run = rotate(fn, r.arn, token, after_set=lambda: sync(emulator, redis_server, r))
        time.sleep(0.1)
        probe.stop()
        held_answers = held.ping()

    assert run.ok, f"rotation failed: {[(s.step, s.error or s.outcome) for s in run.steps]}"
    assert f"logged in to {redis_server.host}:{redis_server.port} as {r.username}" in run["testSecret"].outcome, \
        run["testSecret"].outcome
    version, value = secret_value(emulator, r.arn)
    new = value["password"]
    assert version == token and version != old_version
    assert new != r.password and value["username"] == r.username
    assert redis_server.login(r.username, new), "a new connection with the new password"
    assert redis_server.login(r.username, r.password), "a new connection with the old password (overlap)"
    assert held_answers, "the connection opened before the rotation was dropped"
    figures = record(downtime_report, engine, run, probe, transition_seconds=TRANSITION_S)
    assert all(p["attempts"] >= 10 for p in figures["probes"].values()), figures
    assert {k: p["failures"] for k, p in figures["probes"].items()} == {"awscurrent": 0, "old_password": 0}, figures
    assert_no_password(fn.log_lines(), new, r.password)


@pytest.mark.parametrize("engine", ["elasticache", "memorydb"])
def test_a_pending_password_the_server_does_not_know_fails_test_secret(
        engine: str, fn: Function, emulator: Emulator, redis_server: RedisServer):
    """The pending value is put by hand, and the change never reaches the server (no sync
    after setSecret): the API accepted it, the login refuses it."""
    r = seed_redis_user(engine, emulator, redis_server)
    old_version, _ = secret_value(emulator, r.arn)
    token = emulator.new_pending(r.arn)
    wrong = f"Unknown-{uuid.uuid4().hex}"
    put_pending(emulator, r.arn, token, {**r.value, "password": wrong})

    run = rotate(fn, r.arn, token)  # stops at the first failed step, as Secrets Manager does

    assert "kept it" in run["createSecret"].outcome
    error = assert_step_failed(run, "testSecret", f"{redis_server.host}:{redis_server.port}",
                               f"user {r.username}", "refused")
    assert [s.step for s in run.steps] == ["createSecret", "setSecret", "testSecret"], "finishSecret must not run"
    assert secret_value(emulator, r.arn)[0] == old_version, "AWSCURRENT moved to a password that does not log in"
    assert redis_server.login(r.username, r.password)
    assert_no_password([error, *fn.log_lines()], wrong, r.password)


# -------------------------------------------------------------------------------------------
# Amazon MQ: alternating users, the change live after a reboot


def seed_activemq_user(emulator: Emulator, activemq_server: ActiveMqServer, **extra: Any) -> Rotated:
    return seed_mq(emulator, activemq_server, host=activemq_server.host, port=activemq_server.port,
                   reboot=True, **extra)


def test_mq_alternating_rotation_logs_in_as_the_clone(
        fn: Function, emulator: Emulator, activemq_server: ActiveMqServer, downtime_report: dict[str, Any]):
    r = seed_activemq_user(emulator, activemq_server)
    emulator.config(reboot_seconds=TRANSITION_S)
    clone = f"{r.username}_clone"
    old_version, _ = secret_value(emulator, r.arn)
    sm = emulator.client("secretsmanager")

    def current_logs_in() -> bool:
        _, value = secret_value(emulator, r.arn, client=sm)
        return activemq_server.stomp_login(value["username"], activemq_passcode(value["password"]))

    probe = LoginProbe({"awscurrent": current_logs_in,
                        "old_password": lambda: activemq_server.stomp_login(r.username,
                                                                            activemq_passcode(r.password))},
                       PROBE_INTERVAL_S).start()
    time.sleep(0.1)
    token = emulator.new_pending(r.arn)
    run = rotate(fn, r.arn, token, after_set=lambda: sync(emulator, activemq_server, r))
    time.sleep(0.1)
    probe.stop()

    assert run.ok, f"rotation failed: {[(s.step, s.error or s.outcome) for s in run.steps]}"
    assert f"logged in to {activemq_server.host}:{activemq_server.port} (STOMP) as {clone}" \
        in run["testSecret"].outcome, run["testSecret"].outcome
    version, value = secret_value(emulator, r.arn)
    assert version == token and version != old_version
    assert value["username"] == clone and value["password"] != r.password
    assert activemq_server.stomp_login(clone, activemq_passcode(value["password"]))
    assert activemq_server.stomp_login(r.username, activemq_passcode(r.password)), \
        "the original user must keep working"
    broker = emulator.mq_broker(r.broker_id)
    assert broker["reboots"] == 1 and broker["BrokerState"] == "RUNNING"
    assert live_mq_users(emulator, r.broker_id) == {r.username: r.password, clone: value["password"]}
    figures = record(downtime_report, "mq", run, probe, reboot_seconds=TRANSITION_S,
                     note="ActiveMQ is not restarted: the broker's own reboot outage is not modelled")
    assert all(p["attempts"] >= 10 for p in figures["probes"].values()), figures
    assert {k: p["failures"] for k, p in figures["probes"].items()} == {"awscurrent": 0, "old_password": 0}, figures
    assert_no_password(fn.log_lines(), value["password"], r.password)


def test_mq_a_pending_password_the_broker_does_not_know_fails_test_secret(
        fn: Function, emulator: Emulator, activemq_server: ActiveMqServer):
    """The clone exists and is live; the pending value (put by hand) gives it a password that
    never reaches the broker (no sync after setSecret's reboot)."""
    clone_pw = f"Clone-{uuid.uuid4().hex}"
    r = seed_activemq_user(emulator, activemq_server, extra_users={"app_clone": clone_pw})
    old_version, _ = secret_value(emulator, r.arn)
    token = emulator.new_pending(r.arn)
    wrong = f"Unknown-{uuid.uuid4().hex}"
    put_pending(emulator, r.arn, token, {**r.value, "username": "app_clone", "password": wrong})

    run = rotate(fn, r.arn, token)

    error = assert_step_failed(run, "testSecret", f"{activemq_server.host}:{activemq_server.port}",
                               "user app_clone", "refused")
    assert [s.step for s in run.steps] == ["createSecret", "setSecret", "testSecret"], "finishSecret must not run"
    assert secret_value(emulator, r.arn)[0] == old_version
    assert activemq_server.stomp_login(r.username, activemq_passcode(r.password))
    assert_no_password([error, *fn.log_lines()], wrong, r.password, clone_pw)


def test_mq_a_password_with_backslashes_logs_in(
        fn: Function, emulator: Emulator, activemq_server: ActiveMqServer):
    """Amazon MQ allows ``\\`` in passwords, and GetRandomPassword may generate one (the MQ
    exclusions are ``, : =``). ActiveMQ unescapes ``\\\\``, ``\\n`` and ``\\c`` in STOMP CONNECT
    headers, whatever the version negotiated, so the login must send them escaped."""
    r = seed_activemq_user(emulator, activemq_server)
    token = emulator.new_pending(r.arn)
    tricky = f"Back\\slash\\n\\c\\\\-{uuid.uuid4().hex[:12]}"
    put_pending(emulator, r.arn, token, {**r.value, "username": "app_clone", "password": tricky})

    run = rotate(fn, r.arn, token, after_set=lambda: sync(emulator, activemq_server, r))

    assert activemq_server.stomp_login("app_clone", activemq_passcode(tricky)), \
        "the broker has the password (sent escaped, as ActiveMQ reads it)"
    assert run.ok, f"rotation failed: {[(s.step, s.error or s.outcome) for s in run.steps]}"
    assert secret_value(emulator, r.arn)[0] == token


# -------------------------------------------------------------------------------------------
# TLS failures: a clear message, soon


@pytest.fixture(params=["redis", "activemq"])
def login_target(request: pytest.FixtureRequest, emulator: Emulator):
    """(seed(**extra) -> Rotated, server) for each kind of login."""
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        return (lambda **extra: seed_redis_user("elasticache", emulator, server, **extra)), server
    server = request.getfixturevalue("activemq_server")
    return (lambda **extra: seed_activemq_user(emulator, server, **extra)), server


def test_without_the_ca_file_the_tls_failure_names_the_setting(start_function, emulator: Emulator,
                                                              login_target):
    seed, server = login_target
    fn = start_function()  # no USERKEEPER_TLS_CA_FILE: the system's CAs only
    r = seed()
    token = emulator.new_pending(r.arn)

    run = rotate(fn, r.arn, token, steps=("testSecret",))  # no pending value: tests AWSCURRENT

    error = assert_step_failed(run, "testSecret", "TLS", "USERKEEPER_TLS_CA_FILE", f"{server.host}:{server.port}")
    assert_no_password([error, *fn.log_lines()], r.password)


def test_plain_text_to_the_tls_port_fails_soon_and_clearly(fn: Function, emulator: Emulator, login_target):
    seed, server = login_target
    r = seed(tls=False)
    token = emulator.new_pending(r.arn)

    run = rotate(fn, r.arn, token, steps=("testSecret",), timeout_s=60)

    error = assert_step_failed(run, "testSecret", f"{server.host}:{server.port}")
    assert run.steps[-1].wall_s < 12, f"took {run.steps[-1].wall_s:.1f} s: {error}"
    assert "tls" in error.lower(), f"the message should point at the \"tls\" setting: {error}"
    assert_no_password([error, *fn.log_lines()], r.password)
