"""The emulator (moto + tests/emulator extensions) as a child process, and a client for its
control API."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from .constants import FUNCTION_ARN, INSTALL_HINT, REGION, REPO_ROOT
from .loopback import free_port


class EmulatorUnavailable(RuntimeError):
    pass


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ValueError(f"{name}={raw!r}: give a number of seconds >= 0")
    return value


def timings() -> dict[str, float]:
    """The emulator config every end-to-end test starts with (with ``strict`` on), from the
    environment: AWS takes seconds to create or change a user, a group or an ACL, and minutes
    to reboot a broker, never twice the same time. So each change takes
    ``USERKEEPER_E2E_TRANSITION_S`` (default 1 s) plus a random 0..``USERKEEPER_E2E_JITTER_S``
    (default 0.5 s), drawn per change by the emulator. ``USERKEEPER_E2E_FAST=1``: every change
    instant, for local iteration only (CI runs the default)."""
    if os.environ.get("USERKEEPER_E2E_FAST", "").strip() not in ("", "0"):
        return {"transition_seconds": 0.0, "reboot_seconds": 0.0, "transition_jitter": 0.0}
    base = _seconds("USERKEEPER_E2E_TRANSITION_S", 1.0)
    return {"transition_seconds": base, "reboot_seconds": base,
            "transition_jitter": _seconds("USERKEEPER_E2E_JITTER_S", 0.5)}


#: What every end-to-end test starts with (``conftest.emulator``), read once.
TIMINGS = timings()


class Emulator:
    """``python -m tests.emulator`` on a free port, plus a client for its control API."""

    def __init__(self, python: str | None = None, ready_timeout_s: float = 60) -> None:
        try:
            import moto  # noqa: F401
        except ImportError as e:
            raise EmulatorUnavailable(
                f"moto is not installed for {sys.executable} ({e}); run `{INSTALL_HINT}`"
            ) from e
        self.port = free_port()
        self.host = "127.0.0.1"
        self.output: collections.deque[str] = collections.deque(maxlen=300)  # the access log is long
        self.proc = subprocess.Popen(
            [python or sys.executable, "-m", "tests.emulator", "--host", self.host, "--port", str(self.port)],
            cwd=str(REPO_ROOT),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.url: str | None = None
        ready = threading.Event()

        def pump() -> None:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                self.output.append(line)
                if self.url is None and "emulator ready on " in line:
                    self.url = line.split("emulator ready on ", 1)[1].strip()
                    ready.set()
            ready.set()

        threading.Thread(target=pump, name="emulator-output", daemon=True).start()
        if not ready.wait(ready_timeout_s) or self.url is None:
            tail = "\n".join(list(self.output)[-30:])
            self.stop()
            raise EmulatorUnavailable(
                f"the emulator did not print 'emulator ready on ...' within {ready_timeout_s}s "
                f"(is moto installed? `{INSTALL_HINT}`). Its output:\n{tail}"
            )

    # -- control API ---------------------------------------------------------------------
    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body.strip() else None

    def config(self, **settings: Any) -> Any:
        return self._call("POST", "/_emulator/config", settings)

    def reset(self) -> Any:
        return self._call("POST", "/_emulator/reset")

    def state(self) -> Any:
        return self._call("GET", "/_emulator/state")

    def calls(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_emulator/calls")

    def clear_calls(self) -> Any:
        return self._call("POST", "/_emulator/calls/clear")

    def requests(self, after: int = 0) -> list[dict[str, Any]]:
        """The AWS requests as they arrived (``GET /_emulator/requests``: service, action,
        body...; bodies carry passwords), those numbered above ``after`` (see ``last_request``)."""
        return [r for r in self._call("GET", "/_emulator/requests") if r["seq"] > after]

    def last_request(self) -> int:
        """The number of the latest AWS request (0: none yet)."""
        return self._call("GET", "/_emulator/requests/last")["seq"]

    def fail(self, **fault: Any) -> Any:
        """Queue a fault (``/_emulator/fail``): the next matching calls answer this error."""
        return self._call("POST", "/_emulator/fail", fault)

    def throttle(self, **settings: Any) -> dict[str, Any]:
        """``share=0.2`` and/or ``shares={"mq": 0.3}``, ``seed=7`` (``POST /_emulator/throttle``);
        without settings, what was injected so far (``GET``): ``{"shares", "injected", "by_action"}``."""
        if not settings:
            return self._call("GET", "/_emulator/throttle")
        return self._call("POST", "/_emulator/throttle", settings)

    def clear_throttle(self) -> dict[str, Any]:
        """No throttling from now on, counts back to zero."""
        return self._call("POST", "/_emulator/throttle/clear")

    def lambda_forward(self, function: str, url: str | None) -> Any:
        """Answer the function's ``Invoke`` (``InvocationType: Event``) by POSTing the payload to ``url``."""
        return self._call("POST", "/_emulator/lambda/forward", {"function": function, "url": url})

    def lambda_deliveries(self) -> list[dict[str, Any]]:
        """Every forwarded Event invoke (no payloads): function, url, bytes, status, error, ..."""
        return self._call("GET", "/_emulator/lambda/deliveries")

    def enable_rotation(self, secret: str, function_arn: str = FUNCTION_ARN, enabled: bool = True) -> Any:
        """Mark ``secret`` rotated by ``function_arn`` without invoking anything (moto's
        RotateSecret would insist the function lives inside moto and run it)."""
        return self._call("POST", "/_emulator/secretsmanager/rotation",
                          {"secret": secret, "lambda": function_arn, "enabled": enabled})

    def new_pending(self, secret: str, token: str | None = None) -> str:
        """What Secrets Manager does before it calls the rotation function: a new version id
        staged AWSPENDING with no value. Answers the token (the version id)."""
        body: dict[str, Any] = {"secret": secret}
        if token:
            body["token"] = token
        return self._call("POST", "/_emulator/secretsmanager/pending", body)["token"]

    def rabbitmq_instances(self, instances: list[dict[str, Any]] | None, broker: str | None = None) -> Any:
        """Where RabbitMQ brokers send clients (``POST /_emulator/mq/rabbitmq``): ``instances``
        is ``[{"console_url": "https://...", "endpoints": ["amqps://..."]}]``, for the brokers
        created from now on, or for ``broker`` only."""
        body: dict[str, Any] = {"instances": instances}
        if broker is not None:
            body["broker"] = broker
        return self._call("POST", "/_emulator/mq/rabbitmq", body)

    def mq_broker(self, broker_id: str) -> dict[str, Any]:
        """The broker's part of the state (``reboots``, ``Tags``, ``users``...)."""
        brokers = [b for b in self.state()["mq"]["brokers"] if b["BrokerId"] == broker_id]
        assert len(brokers) == 1, f"broker {broker_id} is not in the emulator: {brokers}"
        return brokers[0]

    def mq_user(self, broker_id: str, username: str) -> dict[str, Any] | None:
        """One broker user's state (``Password`` live, ``Pending``), None if there is none."""
        users = [u for u in self.mq_broker(broker_id)["users"] if u["Username"] == username]
        return users[0] if users else None

    def secret_versions(self, secret_arn: str) -> dict[str, Any]:
        """``{version id: {"Stages", "HasValue", "SecretString", "RotationToken"}}`` from the state."""
        for s in self.state()["secretsmanager"]["secrets"]:
            if s["ARN"] == secret_arn or s["Name"] == secret_arn:
                return s["Versions"]
        raise KeyError(secret_arn)

    def unsettled(self) -> list[str]:
        """What is in a transitional status now: ElastiCache/MemoryDB users, user groups and
        ACLs that are not ``active``, brokers that are not ``RUNNING``."""
        state = self.state()
        ec, mdb = state["elasticache"], state["memorydb"]
        out = [f"elasticache user {u['UserId']}: {u['Status']}" for u in ec["users"] if u["Status"] != "active"]
        out += [f"elasticache user group {g['UserGroupId']}: {g['Status']}"
                for g in ec["user_groups"] if g["Status"] != "active"]
        out += [f"memorydb user {u['Name']}: {u['Status']}" for u in mdb["users"] if u["Status"] != "active"]
        out += [f"memorydb acl {a['Name']}: {a['Status']}" for a in mdb["acls"] if a["Status"] != "active"]
        out += [f"mq broker {b['BrokerId']}: {b['BrokerState']}"
                for b in state["mq"]["brokers"] if b["BrokerState"] != "RUNNING"]
        return out

    def wait_settled(self, timeout_s: float = 30) -> None:
        """Until every change under way has completed (``unsettled()`` is empty): what a
        test that changed something straight through the API waits for before it looks at
        the result or goes on, as AWS's changes take their time (``TIMINGS``)."""
        deadline = time.monotonic() + timeout_s
        while (busy := self.unsettled()):
            assert time.monotonic() < deadline, f"still unsettled after {timeout_s} s: {busy}"
            time.sleep(0.05)

    def actions(self, service: str | None = None) -> list[str]:
        """Action names from the call log, in order (optionally one service only)."""
        return [
            c.get("action")
            for c in self.calls()
            if service is None or (c.get("service") or "").lower() == service.lower()
        ]

    def client(self, service: str) -> Any:
        import boto3  # lazily: only needed to seed / inspect the emulator

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --------------------------------------------------------------------------------------------
# Amazon MQ brokers for the sample events
# --------------------------------------------------------------------------------------------

#: The BrokerId the MQ sample events carry; replace it with a real broker's id.
PLACEHOLDER_BROKER_ID = "b-00000000-0000-0000-0000-000000000000"


def create_activemq_broker(emulator: Emulator, name: str = "sample-broker") -> str:
    """An ActiveMQ broker in the emulator, as the MQ sample events need; returns its id."""
    out = emulator.client("mq").create_broker(
        BrokerName=name,
        DeploymentMode="SINGLE_INSTANCE",
        EngineType="ACTIVEMQ",
        HostInstanceType="mq.t3.micro",
        PubliclyAccessible=False,
        Users=[{"Username": "admin", "Password": "Admin-Passw0rd-123", "ConsoleAccess": True}],
    )
    return out["BrokerId"]


def with_broker(event: dict[str, Any], broker_id: str) -> dict[str, Any]:
    """`event` with the placeholder BrokerId (in properties and physical id) replaced."""
    return json.loads(json.dumps(event).replace(PLACEHOLDER_BROKER_ID, broker_id))
