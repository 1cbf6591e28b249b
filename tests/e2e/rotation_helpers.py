"""Driving a password rotation through the real binary, with the data store's side modelled.

Shared by ``test_rotation_login.py`` and ``rotation_bench.py``:

* ``seed_*``  - the AWS side of one rotated user (emulator) and the secret naming it, rotation
                enabled; the real server gets the user's starting password.
* ``sync_*``  - what the service does to the data store once an API change completes (see
                their docstrings): the emulator keeps the API state only.
* ``rotate``  - the four steps, in order, as Secrets Manager calls them; stops at the first
                failed step, as Secrets Manager does (a failed attempt is retried later).
* ``LoginProbe`` - a thread logging in again and again while a rotation runs (downtime).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from typing import Any, Callable

from .harness.constants import REPO_ROOT
from .harness.emulator import Emulator
from .harness.events import ROTATION_STEPS, rotation_event
from .harness.function import Function
from .harness.runtime_api import Invocation

#: Where the downtime figures of ``test_rotation_login.py`` go, and the name of the report
#: property (``user_properties``) that carries each test's figures there (``conftest.py``).
DOWNTIME_FILE = REPO_ROOT / "target" / "rotation-downtime.json"
DOWNTIME_PROPERTY = "rotation_downtime"

AWSCURRENT = "AWSCURRENT"
AWSPENDING = "AWSPENDING"
REDIS_ACCESS = "on ~* &* +@all"


def unique(prefix: str) -> str:
    # Servers live for the whole session; unique names keep tests apart.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def starting_password() -> str:
    return f"Start-{uuid.uuid4().hex}"


# -------------------------------------------------------------------------------------------
# seeding


@dataclasses.dataclass
class Rotated:
    """One rotated user: the secret, the service's name for the user, where it logs in."""

    engine: str  # elasticache | memorydb | mq
    arn: str
    username: str  # the login name (Redis ACL user / ActiveMQ user)
    password: str  # the starting (AWSCURRENT) password
    value: dict[str, Any]  # the starting SecretString, parsed
    user_id: str | None = None  # ElastiCache only
    broker_id: str | None = None  # MQ only


def bind(emulator: Emulator, secret_arn: str, engine: str, user: str, broker_id: str | None = None) -> None:
    """The operator's one step that binds a user made outside a stack to the secret that may
    rotate it (README, Trust model): a tag on the user, or on the broker for MQ. Done as the
    operator would, once the user has settled; a test that wants the user still in transition
    gets it bound all the same (the strict emulator refuses tag calls meanwhile, as AWS does,
    so the binding is written with that refusal off for the one call)."""
    strict = emulator.config()["strict"]
    if strict:
        emulator.config(strict=False)
    try:
        _bind(emulator, secret_arn, engine, user, broker_id)
    finally:
        if strict:
            emulator.config(strict=True)


def _bind(emulator: Emulator, secret_arn: str, engine: str, user: str, broker_id: str | None) -> None:
    if engine == "elasticache":
        ec = emulator.client("elasticache")
        arn = next(u["ARN"] for u in ec.describe_users(UserId=user)["Users"])
        ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "userkeeper:secret", "Value": secret_arn}])
    elif engine == "memorydb":
        mdb = emulator.client("memorydb")
        arn = mdb.describe_users(UserName=user)["Users"][0]["ARN"]
        mdb.tag_resource(ResourceArn=arn, Tags=[{"Key": "userkeeper:secret", "Value": secret_arn}])
    elif engine == "mq":
        mq = emulator.client("mq")
        arn = mq.describe_broker(BrokerId=broker_id)["BrokerArn"]
        mq.create_tags(ResourceArn=arn, Tags={f"userkeeper:secret:{user}": secret_arn})
    else:
        raise ValueError(engine)


def _secret(emulator: Emulator, name: str, value: dict[str, Any]) -> str:
    arn = emulator.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
    emulator.enable_rotation(arn)
    user = value.get("user_id") or value["username"]
    bind(emulator, arn, value["engine"], user.removesuffix("_clone"), value.get("broker_id"))
    return arn


def _endpoint(host: str | None, port: int | None, extra: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if host is not None:
        out.update(host=host, port=port)
    out.update(extra or {})
    return out


def seed_elasticache(emulator: Emulator, redis_server: Any | None, host: str | None = None,
                     port: int | None = None, **extra: Any) -> Rotated:
    user_id = unique("app")
    pw = starting_password()
    emulator.client("elasticache").create_user(
        UserId=user_id, UserName=user_id, Engine="redis", AccessString=REDIS_ACCESS,
        AuthenticationMode={"Type": "password", "Passwords": [pw]})
    value = {"engine": "elasticache", "user_id": user_id, "username": user_id, "password": pw,
             **_endpoint(host, port, extra)}
    if redis_server is not None:
        redis_server.set_user(user_id, [pw])
    return Rotated("elasticache", _secret(emulator, f"rotated/{user_id}", value), user_id, pw, value,
                   user_id=user_id)


def seed_memorydb(emulator: Emulator, redis_server: Any | None, host: str | None = None,
                  port: int | None = None, **extra: Any) -> Rotated:
    name = unique("app")
    pw = starting_password()
    emulator.client("memorydb").create_user(
        UserName=name, AccessString=REDIS_ACCESS, AuthenticationMode={"Type": "password", "Passwords": [pw]})
    value = {"engine": "memorydb", "username": name, "password": pw, **_endpoint(host, port, extra)}
    if redis_server is not None:
        redis_server.set_user(name, [pw])
    return Rotated("memorydb", _secret(emulator, f"rotated/{name}", value), name, pw, value)


def seed_mq(emulator: Emulator, activemq_server: Any | None, host: str | None = None,
            port: int | None = None, extra_users: dict[str, str] | None = None, **extra: Any) -> Rotated:
    """An ActiveMQ broker whose user ``app`` is rotated (alternating, the default), plus
    ``extra_users`` (name -> password), all live at creation."""
    user = "app"
    pw = starting_password()
    users = [{"Username": user, "Password": pw, "ConsoleAccess": True, "Groups": ["apps"]}]
    users += [{"Username": u, "Password": p} for u, p in (extra_users or {}).items()]
    broker_id = emulator.client("mq").create_broker(
        BrokerName=unique("broker"), DeploymentMode="SINGLE_INSTANCE", EngineType="ACTIVEMQ",
        HostInstanceType="mq.t3.micro", PubliclyAccessible=False, Users=users)["BrokerId"]
    value = {"engine": "mq", "broker_id": broker_id, "username": user, "password": pw,
             **_endpoint(host, port, extra)}
    rotated = Rotated("mq", _secret(emulator, f"rotated/{broker_id}", value), user, pw, value,
                      broker_id=broker_id)
    if activemq_server is not None:
        sync_mq_users(emulator, activemq_server, broker_id)
    return rotated


# -------------------------------------------------------------------------------------------
# the service's side, modelled


def _user_passwords(emulator: Emulator, engine: str, name: str) -> list[str]:
    state = emulator.state()
    if engine == "elasticache":
        users = [u for u in state["elasticache"]["users"] if u["UserId"] == name]
    else:
        users = [u for u in state["memorydb"]["users"] if u["Name"] == name]
    assert len(users) == 1, f"{engine} user {name} is not in the emulator"
    return list(users[0]["Passwords"])


def sync_redis_user(emulator: Emulator, redis_server: Any, rotated: Rotated) -> list[str]:
    """Copy the user's password list from the emulator's API state into redis-server.

    This is what AWS does and the emulator cannot: when an ElastiCache ``ModifyUser`` (or a
    MemoryDB ``UpdateUser``) completes, the service rebuilds the user's ACL entry on every node
    of the clusters using it with exactly the new ``Passwords``, and the user is ``active``
    again. setSecret returns only after that (it waits for ``active``), so a sync right after
    setSecret is the moment the real nodes would have the list. Connections already
    authenticated are kept, as ElastiCache keeps them. Returns the list copied.
    """
    name = rotated.user_id if rotated.engine == "elasticache" else rotated.username
    passwords = _user_passwords(emulator, rotated.engine, name)
    redis_server.set_user(rotated.username, passwords)
    return passwords


def live_mq_users(emulator: Emulator, broker_id: str) -> dict[str, str]:
    users = emulator.mq_broker(broker_id)["users"]
    return {u["Username"]: u["Password"] for u in users if u["Password"] is not None}


def sync_mq_users(emulator: Emulator, activemq_server: Any, broker_id: str) -> dict[str, str]:
    """Give ActiveMQ exactly the broker users that are live in the emulator.

    Models Amazon MQ: ``CreateUser``/``UpdateUser`` on an ActiveMQ broker are only recorded as
    pending changes; the broker runs with them from its next reboot (which setSecret starts
    with ``"reboot": true`` and waits for). So the live users are the state's
    ``users[].Password`` (not ``Pending``), and a sync after setSecret is the broker coming back
    up with them. Returns the users copied (name -> password).
    """
    users = live_mq_users(emulator, broker_id)
    activemq_server.set_users(users)
    return users


def sync(emulator: Emulator, server: Any, rotated: Rotated) -> None:
    if rotated.engine == "mq":
        sync_mq_users(emulator, server, rotated.broker_id)
    else:
        sync_redis_user(emulator, server, rotated)


# -------------------------------------------------------------------------------------------
# secrets


def secret_value(emulator: Emulator, arn: str, stage: str = AWSCURRENT, client: Any = None) -> tuple[str, dict]:
    """(version id, parsed value) of the version with ``stage`` (always asked by stage: the
    emulator, like moto, answers a stale version to a read without one)."""
    out = (client or emulator.client("secretsmanager")).get_secret_value(SecretId=arn, VersionStage=stage)
    return out["VersionId"], json.loads(out["SecretString"])


def put_pending(emulator: Emulator, arn: str, token: str, value: dict[str, Any]) -> None:
    """A pending value stored by hand, as createSecret would store it."""
    emulator.client("secretsmanager").put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(value), VersionStages=[AWSPENDING])


# -------------------------------------------------------------------------------------------
# the rotation


@dataclasses.dataclass
class StepRun:
    step: str
    invocation: Invocation
    wall_s: float  # submit -> result, as the caller sees it

    @property
    def ok(self) -> bool:
        return self.invocation.kind == "response"

    @property
    def outcome(self) -> str:
        res = self.invocation.result
        return res.get("Outcome", "") if isinstance(res, dict) else ""

    @property
    def error(self) -> str:
        res = self.invocation.result
        return res.get("errorMessage", "") if isinstance(res, dict) else str(res)


@dataclasses.dataclass
class RotationRun:
    token: str
    steps: list[StepRun]
    wall_s: float  # first step submitted -> last step answered, syncs included

    def __getitem__(self, step: str) -> StepRun:
        for s in self.steps:
            if s.step == step:
                return s
        raise KeyError(f"{step} was not run (steps run: {[s.step for s in self.steps]})")

    @property
    def ok(self) -> bool:
        return len(self.steps) == len(ROTATION_STEPS) and all(s.ok for s in self.steps)


def rotate(fn: Function, arn: str, token: str, after_set: Callable[[], Any] | None = None,
           steps: tuple[str, ...] = ROTATION_STEPS, timeout_s: float = 30) -> RotationRun:
    """Run ``steps`` for ``token`` through the function, calling ``after_set`` (the service's
    sync) once setSecret succeeded; stop at the first step that fails."""
    runs: list[StepRun] = []
    t0 = time.monotonic()
    for step in steps:
        s0 = time.monotonic()
        inv = fn.invoke(rotation_event(step, arn, token), timeout_s=timeout_s)
        runs.append(StepRun(step, inv, time.monotonic() - s0))
        if inv.kind != "response":
            break
        if step == "setSecret" and after_set is not None:
            after_set()
    return RotationRun(token, runs, time.monotonic() - t0)


# -------------------------------------------------------------------------------------------
# downtime


class LoginProbe:
    """Every ``interval_s``, runs each named check (a fresh login; True = logged in) in one
    background thread, counting attempts and failures per check, until ``stop()``."""

    def __init__(self, checks: dict[str, Callable[[], bool]], interval_s: float = 0.02) -> None:
        self.checks = checks
        self.interval_s = interval_s
        self.attempts = {name: 0 for name in checks}
        self.failures: dict[str, list[str]] = {name: [] for name in checks}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="login-probe", daemon=True)
        self._t0 = 0.0
        self.window_s = 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            tick = time.monotonic()
            for name, check in self.checks.items():
                try:
                    ok, why = bool(check()), "refused"
                except Exception as e:  # noqa: BLE001 - any failure to log in counts
                    ok, why = False, f"{type(e).__name__}: {e}"
                self.attempts[name] += 1
                if not ok:
                    self.failures[name].append(f"+{tick - self._t0:.3f}s {why}")
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - tick)))

    def start(self) -> "LoginProbe":
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> "LoginProbe":
        self._stop.set()
        self._thread.join(15)
        self.window_s = time.monotonic() - self._t0
        return self

    def figures(self) -> dict[str, dict[str, Any]]:
        return {name: {"attempts": self.attempts[name], "failures": len(self.failures[name]),
                       "window_s": round(self.window_s, 3), "first_failures": self.failures[name][:5]}
                for name in self.checks}
