"""Amazon MQ brokers and ActiveMQ users, written to the Amazon MQ API reference.

moto 5.2.5 keeps users without passwords and without any checks, accepts a duplicate
CreateUser, applies every user change at once, has no ``Pending`` in DescribeUser, treats
RabbitMQ brokers like ActiveMQ ones, reboots in no time and tags ARNs of resources that do
not exist, with any key. AWS applies ActiveMQ user changes only when the broker reboots (or
in its maintenance window); until then they are pending. This module keeps, per user, the
live values and the pending change (passwords included, for ``GET /_emulator/state`` only),
applies pending changes when a reboot ends (``reboot_seconds`` in ``/_emulator/config``,
default 0: at once), counts reboots, refuses the user APIs on RabbitMQ brokers, checks
names and passwords as AWS documents them, and tags as AWS's general tagging rules say
(Amazon MQ documents none of its own: keys of letters, digits, spaces and ``_.:/=+-@``,
so no ``~``). Broker ids and ARNs look like AWS's
(``b-<uuid>``, ``arn:aws:mq:<region>:<account>:broker:<name>:<id>``). Error codes are those
of botocore's ``mq/2017-11-27/service-2.json`` (REST-JSON; each error carries an
``ErrorAttribute``).

With ``strict`` on (``POST /_emulator/config``), a user that would be both a replication
user and have console access is refused (see ``_check_exclusive``).

RabbitMQ brokers' users live in the broker, behind its management API (``ConsoleURL``): the
``BrokerInstances`` of RabbitMQ brokers can point at a real RabbitMQ
(``POST /_emulator/mq/rabbitmq``, see ``_set_rabbitmq_instances``).
"""

from __future__ import annotations

import re
import threading
import unicodedata
import uuid
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.mq.exceptions import BadRequestException, ConflictException, NotFoundException, UnknownUser
from moto.mq.models import Broker, Configuration, MQBackend, mq_backends
from moto.mq.responses import MQResponse
from moto.utilities.utils import get_partition

from . import core
from .core import BadRequest as ControlBadRequest

SERVICE = "mq"
ACTIVEMQ, RABBITMQ = "ACTIVEMQ", "RABBITMQ"
RUNNING, REBOOTING = "RUNNING", "REBOOT_IN_PROGRESS"
CREATE, UPDATE, DELETE = "CREATE", "UPDATE", "DELETE"
NAME = re.compile(r"^[A-Za-z0-9._~-]{2,100}$")  # usernames and group names
MIN_PASSWORD, MIN_DISTINCT = 12, 4
FORBIDDEN_PASSWORD_CHARS = set(",:=")
MAX_GROUPS = 20
# Amazon MQ quotas: "Users per broker (simple authentication): 250" (ActiveMQ); the exact
# refusal is undocumented, a BadRequestException is what the service answers for its other
# limits.
MAX_USERS = 250
# AWS's general tagging rules (Amazon MQ documents no rules of its own).
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256
TAG_PUNCTUATION = set("_.:/=+-@")

core.add_config("reboot_seconds", 0.0)


class BadRequest(BadRequestException):
    def __init__(self, attribute: str, message: str):
        super().__init__(message)
        self.error_attribute = attribute


class Conflict(ConflictException):
    def __init__(self, attribute: str, message: str):
        super().__init__(message)
        self.error_attribute = attribute


class ResourceNotFound(NotFoundException):
    def __init__(self, arn: str):
        super().__init__(f"Can't find requested resource [{arn}]. Make sure your resource exists.")
        self.error_attribute = "resource-arn"


class MQUser:
    """One ActiveMQ user: what the broker runs with (``live``, None until a pending CREATE
    is applied) and the change waiting for the next reboot (``pending``)."""

    def __init__(self, username: str, live: dict[str, Any] | None = None, pending: dict[str, Any] | None = None):
        self.username = username
        self.live = live  # {"Password", "Groups", "ConsoleAccess", "ReplicationUser"}
        self.pending = pending  # {"PendingChange": CREATE|UPDATE, ...same keys} or {"PendingChange": DELETE}

    @property
    def change(self) -> str | None:
        return self.pending["PendingChange"] if self.pending else None

    def apply_pending(self) -> bool:
        """Apply the pending change; False if the user is gone afterwards."""
        if self.change == DELETE:
            return False
        if self.pending:  # CREATE or UPDATE
            self.live = {k: v for k, v in self.pending.items() if k != "PendingChange"}
        self.pending = None
        return True


# --------------------------------------------------------------------------------------
# Backend state

core.track_status(Broker, "state")

_moto_broker_init = Broker.__init__


def _broker_init(self: Broker, *args: Any, **kwargs: Any) -> None:
    users = kwargs.pop("users", None) or []
    _moto_broker_init(self, *args, users=[], **kwargs)
    region, account = kwargs["region"], kwargs["account_id"]
    self.id = f"b-{uuid.uuid4()}"
    self.arn = f"arn:{get_partition(region)}:mq:{region}:{account}:broker:{self.name}:{self.id}"
    self.reboots = 0
    # Users given to CreateBroker exist once the broker runs: live, nothing pending.
    self.mq_users: dict[str, MQUser] = {
        u["Username"]: MQUser(u["Username"], live=_values(u, None)) for u in users
    }
    if _engine(self) == RABBITMQ:
        self.instances = _rabbitmq_instances(self.id, region)


Broker.__init__ = _broker_init  # type: ignore[method-assign]


def _summaries(self: Broker) -> list[dict[str, Any]]:
    # DescribeBroker's Users; AWS lists no users of RabbitMQ brokers.
    if _engine(self) == RABBITMQ:
        return []
    return [_summary(u) for u in self.mq_users.values()]


Broker.users = property(_summaries)  # type: ignore[assignment]


def _engine(broker: Broker) -> str:
    return (broker.engine_type or "").upper()


# --------------------------------------------------------------------------------------
# Where RabbitMQ brokers send their clients

# What DescribeBroker gives a RabbitMQ broker (aws/aws-sdk #32, a SINGLE_INSTANCE broker):
#   "BrokerInstances": [{"ConsoleURL": "https://b-<id>.mq.<region>.amazonaws.com",
#                        "Endpoints": ["amqps://b-<id>.mq.<region>.amazonaws.com:5671"]}]
# (no IpAddress; a CLUSTER_MULTI_AZ broker is reached through one load-balanced instance too).
# moto gives every RabbitMQ broker https://0000.mq... and amqps://mockmq:5671. Tests point
# them at a real RabbitMQ instead: its management API is where RabbitMQ users live.
_targets_lock = threading.Lock()
_targets: list[dict[str, Any]] | None = None  # None: AWS-shaped names


def _rabbitmq_instances(broker_id: str, region: str) -> list[dict[str, Any]]:
    with _targets_lock:
        if _targets is not None:
            return [{"consoleURL": t["consoleURL"], "endpoints": list(t["endpoints"])} for t in _targets]
    host = f"{broker_id}.mq.{region}.amazonaws.com"
    return [{"consoleURL": f"https://{host}", "endpoints": [f"amqps://{host}:5671"]}]


def _parse_instances(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise ControlBadRequest('"instances" must be a non-empty list of {"console_url", "endpoints"}')
    out = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {"console_url", "endpoints"}:
            raise ControlBadRequest(f'each instance is {{"console_url", "endpoints"}}, not {item!r}')
        url, endpoints = item.get("console_url"), item.get("endpoints", [])
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+$", url):
            raise ControlBadRequest(f"console_url {url!r}: http(s)://host[:port], no path")
        if not isinstance(endpoints, list) or not all(
                isinstance(e, str) and re.match(r"^amqps?://[^/\s]+$", e) for e in endpoints):
            raise ControlBadRequest(f"endpoints {endpoints!r}: a list of amqp(s)://host:port")
        out.append({"consoleURL": url, "endpoints": list(endpoints)})
    return out


def _set_rabbitmq_instances(body: dict[str, Any]) -> dict[str, Any]:
    """``POST /_emulator/mq/rabbitmq``: ``{"instances": [{"console_url", "endpoints"}, ...]}``
    makes RabbitMQ brokers created from now on describe these ``BrokerInstances``, in order
    (``null``: back to AWS-shaped names); with ``"broker": id``, that existing RabbitMQ broker
    only, from now on. Reset forgets it."""
    global _targets
    if set(body) - {"instances", "broker"}:
        raise ControlBadRequest(f"unknown keys: {sorted(set(body) - {'instances', 'broker'})}")
    broker_id = body.get("broker")
    instances = None if body.get("instances") is None and broker_id is None else _parse_instances(
        body.get("instances"))
    if broker_id is None:
        with _targets_lock:
            _targets = instances
        return {"instances": instances}
    with core.locked(SERVICE):
        brokers = [b for backend in _backends() for b in backend.brokers.values() if b.id == broker_id]
        if len(brokers) != 1 or _engine(brokers[0]) != RABBITMQ:
            raise ControlBadRequest(f"no RabbitMQ broker {broker_id!r}")
        brokers[0].instances = instances
    return {"broker": broker_id, "instances": instances}


def _get_rabbitmq_instances(_: dict[str, Any]) -> dict[str, Any]:
    with _targets_lock:
        return {"instances": _targets}


def _forget_targets() -> None:
    global _targets
    with _targets_lock:
        _targets = None


core.route("POST", "mq/rabbitmq", _set_rabbitmq_instances)
core.route("GET", "mq/rabbitmq", _get_rabbitmq_instances)
core.on_reset(_forget_targets)


def _apply_pending(broker: Broker) -> None:
    for name, user in list(broker.mq_users.items()):
        if not user.apply_pending():
            del broker.mq_users[name]


def _sync(backend: MQBackend) -> None:
    """Finish elapsed reboots (which applies the pending user changes)."""
    core.settle(backend.brokers, attr="state")


def _before_action(response: MQResponse) -> None:
    _sync(response.mq_backend)


def _backends() -> list[MQBackend]:
    return [b for regions in list(mq_backends.values()) for b in list(regions.values())]


def _state() -> dict[str, Any]:
    brokers = []
    for backend in _backends():
        _sync(backend)
        for broker in backend.brokers.values():
            users = []
            for user in broker.mq_users.values():
                live = user.live or {}
                users.append(
                    {
                        "Username": user.username,
                        "Password": live.get("Password"),  # None: not live (pending CREATE)
                        "Groups": live.get("Groups"),
                        "ConsoleAccess": live.get("ConsoleAccess"),
                        "ReplicationUser": live.get("ReplicationUser"),
                        "Pending": dict(user.pending) if user.pending else None,
                    }
                )
            brokers.append(
                {
                    "BrokerId": broker.id,
                    "BrokerArn": broker.arn,
                    "BrokerName": broker.name,
                    "BrokerState": broker.state,
                    "EngineType": _engine(broker),
                    "reboots": broker.reboots,
                    "Tags": backend.list_tags(broker.arn),
                    "users": users,
                }
            )
    return {"brokers": brokers}


core.register(SERVICE, before_action=_before_action, state=_state)


# --------------------------------------------------------------------------------------
# Helpers


def _summary(user: MQUser) -> dict[str, Any]:
    out: dict[str, Any] = {"Username": user.username}
    if user.change:
        out["PendingChange"] = user.change
    return out


def _values(params: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """A user's values from request ``params``; what they leave out stays as in ``base``."""
    base = base or {"Password": None, "Groups": [], "ConsoleAccess": False, "ReplicationUser": False}
    return {
        "Password": params.get("Password") if params.get("Password") is not None else base["Password"],
        "Groups": list(params["Groups"]) if params.get("Groups") is not None else list(base["Groups"]),
        "ConsoleAccess": bool(params["ConsoleAccess"]) if params.get("ConsoleAccess") is not None else base["ConsoleAccess"],
        "ReplicationUser": bool(params["ReplicationUser"]) if params.get("ReplicationUser") is not None else base["ReplicationUser"],
    }


def _check_username(username: Any) -> None:
    if not isinstance(username, str) or not NAME.match(username):
        raise BadRequest(
            "username",
            "The username must be 2-100 characters long and contain only alphanumeric characters, "
            "dashes, periods, underscores and tildes (- . _ ~).",
        )


def _check_password(password: Any) -> None:
    # Messages never include the password itself: they end up in logs.
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise BadRequest("password", f"The password must be at least {MIN_PASSWORD} characters long.")
    if len(set(password)) < MIN_DISTINCT:
        raise BadRequest("password", f"The password must contain at least {MIN_DISTINCT} unique characters.")
    if FORBIDDEN_PASSWORD_CHARS & set(password):
        raise BadRequest("password", "The password must not contain commas, colons, or equal signs (,:=).")


def _check_groups(groups: Any) -> None:
    if groups is None:
        return
    if len(groups) > MAX_GROUPS:
        raise BadRequest("groups", f"A user can belong to at most {MAX_GROUPS} groups.")
    for group in groups:
        if not isinstance(group, str) or not NAME.match(group):
            raise BadRequest(
                "groups",
                "Group names must be 2-100 characters long and contain only alphanumeric characters, "
                "dashes, periods, underscores and tildes (- . _ ~).",
            )


def _check_exclusive(values: dict[str, Any]) -> None:
    """``values``: what the user would have once the call is applied. AWS: "BadRequestException:
    Replication user couldn't have console access. [replicationUser] and [consoleAccess] are
    mutually exclusive parameters." (terraform-provider-aws #32446). The ErrorAttribute is the
    emulator's choice."""
    if core.strict() and values.get("ConsoleAccess") and values.get("ReplicationUser"):
        raise BadRequest(
            "replicationUser",
            "Replication user couldn't have console access. "
            "[replicationUser] and [consoleAccess] are mutually exclusive parameters.",
        )


def _check_user_params(params: dict[str, Any], password_required: bool) -> None:
    _check_username(params.get("Username"))
    if password_required or params.get("Password") is not None:
        _check_password(params.get("Password"))
    _check_groups(params.get("Groups"))


def _user_params(response: MQResponse) -> dict[str, Any]:
    return {
        k: response._get_param(k)
        for k in ("Username", "Password", "Groups", "ConsoleAccess", "ReplicationUser")
    }


def _activemq_broker(response: MQResponse, write: bool) -> Broker:
    """The request's broker, which must be an ActiveMQ one (and RUNNING for a change).

    The user APIs are ActiveMQ's only: the API reference says "Creates an ActiveMQ user"
    (botocore/boto3 ``MQ.Client.create_user``); on a RabbitMQ broker AWS answers a
    BadRequestException ending "To manage broker users, please use the RabbitMQ web console,
    or the management API" (crossplane-contrib/provider-aws PR #734). The start of the
    message and the ErrorAttribute are the emulator's."""
    broker = response.mq_backend.describe_broker(response._get_param("BrokerId"))  # NotFound
    if _engine(broker) == RABBITMQ:
        raise BadRequest(
            "engineType",
            "Broker users of engine type [RABBITMQ] are not managed with the Amazon MQ API. "
            "To manage broker users, please use the RabbitMQ web console, or the management API.",
        )
    if write:
        _check_running(broker)
    return broker


def _check_running(broker: Broker) -> None:
    if broker.state != RUNNING:
        raise BadRequest(
            "broker-id",
            f"Broker [{broker.id}] is in state [{broker.state}]. "
            f"This operation requires the broker to be in state [{RUNNING}].",
        )


def _get_user(broker: Broker, username: str) -> MQUser:
    if username not in broker.mq_users:
        raise UnknownUser(username)
    return broker.mq_users[username]


# --------------------------------------------------------------------------------------
# Brokers

_moto_create_broker = MQResponse.create_broker
_moto_delete_broker = MQResponse.delete_broker


@core.action(MQResponse)
def create_broker(self: MQResponse) -> ActionResult:
    engine = (self._get_param("EngineType") or "").upper()
    users = self._get_param("Users") or []
    if engine == RABBITMQ and len(users) != 1:
        raise BadRequest("users", "Specify exactly one user for engine type [RABBITMQ].")
    names = [u.get("Username") for u in users]
    for user in users:
        _check_user_params(user, password_required=True)
        _check_exclusive(_values(user, None))
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BadRequest("users", f"The username [{duplicates[0]}] is used more than once.")
    _check_tags(self._get_param("Tags"), {})
    return _moto_create_broker(self)


@core.action(MQResponse)
def delete_broker(self: MQResponse) -> ActionResult:
    backend = self.mq_backend
    broker = backend.describe_broker(self._get_param("BrokerId"))
    result = _moto_delete_broker(self)
    backend.tagger.delete_all_tags_for_resource(broker.arn)
    return result


@core.action(MQResponse)
def reboot_broker(self: MQResponse) -> ActionResult:
    backend = self.mq_backend
    broker = backend.describe_broker(self._get_param("BrokerId"))
    _check_running(broker)
    broker.reboots += 1
    core.begin(
        broker,
        REBOOTING,
        RUNNING,
        on_done=lambda: _apply_pending(broker),
        attr="state",
        seconds=core.jittered(core.config("reboot_seconds")),
    )
    _sync(backend)
    return EmptyResult()


# --------------------------------------------------------------------------------------
# Users


@core.action(MQResponse)
def create_user(self: MQResponse) -> ActionResult:
    broker = _activemq_broker(self, write=True)
    params = _user_params(self)
    _check_user_params(params, password_required=True)
    username = params["Username"]
    if username in broker.mq_users:
        raise Conflict("username", f"User [{username}] already exists on broker [{broker.id}].")
    if len(broker.mq_users) >= MAX_USERS:
        raise BadRequest("username", f"Broker [{broker.id}] already has the maximum of {MAX_USERS} users.")
    values = _values(params, None)
    _check_exclusive(values)
    broker.mq_users[username] = MQUser(username, pending={"PendingChange": CREATE, **values})
    return EmptyResult()


@core.action(MQResponse)
def update_user(self: MQResponse) -> ActionResult:
    broker = _activemq_broker(self, write=True)
    params = _user_params(self)
    _check_user_params(params, password_required=False)
    user = _get_user(broker, params["Username"])
    if user.change == DELETE:
        raise Conflict("username", f"User [{user.username}] is pending deletion on broker [{broker.id}].")
    # A user not yet created stays a pending CREATE, with the new values.
    change = CREATE if user.change == CREATE else UPDATE
    base = {k: v for k, v in (user.pending or user.live or {}).items() if k != "PendingChange"}
    values = _values(params, base)
    _check_exclusive(values)
    user.pending = {"PendingChange": change, **values}
    return EmptyResult()


@core.action(MQResponse)
def delete_user(self: MQResponse) -> ActionResult:
    broker = _activemq_broker(self, write=True)
    username = self._get_param("Username")
    user = _get_user(broker, username)
    if user.change == CREATE:
        del broker.mq_users[username]  # never reached the broker: nothing left to do
    else:
        user.pending = {"PendingChange": DELETE}
    return EmptyResult()


@core.action(MQResponse)
def describe_user(self: MQResponse) -> ActionResult:
    broker = _activemq_broker(self, write=False)
    user = _get_user(broker, self._get_param("Username"))
    out: dict[str, Any] = {"BrokerId": broker.id, "Username": user.username}
    if user.live is not None:
        out.update(
            ConsoleAccess=user.live["ConsoleAccess"],
            Groups=list(user.live["Groups"]),
            ReplicationUser=user.live["ReplicationUser"],
        )
    if user.pending:
        pending: dict[str, Any] = {"PendingChange": user.change}
        if user.change != DELETE:
            pending.update(ConsoleAccess=user.pending["ConsoleAccess"], Groups=list(user.pending["Groups"]))
        out["Pending"] = pending
    return ActionResult(out)


@core.action(MQResponse)
def list_users(self: MQResponse) -> ActionResult:
    broker = _activemq_broker(self, write=False)
    max_results = self._get_param("MaxResults")
    page, token = core.paginate(
        list(broker.mq_users.values()),
        lambda u: u.username,
        max_results,
        self._get_param("NextToken"),
        error=lambda message: BadRequest("nextToken", message),
        size_param="MaxResults",
    )
    return ActionResult(
        {
            "BrokerId": broker.id,
            "MaxResults": max_results or 100,
            "NextToken": token,
            "Users": [_summary(u) for u in page],
        }
    )


# --------------------------------------------------------------------------------------
# Tags: moto tags any ARN, also of brokers and configurations that do not exist, and
# takes any key or value.

_moto_create_tags = MQResponse.create_tags
_moto_delete_tags = MQResponse.delete_tags
_moto_list_tags = MQResponse.list_tags


def _check_resource(response: MQResponse) -> None:
    backend = response.mq_backend
    arn = response._get_param("ResourceArn")
    resources: list[Broker | Configuration] = [*backend.brokers.values(), *backend.configs.values()]
    if arn not in {r.arn for r in resources}:
        raise ResourceNotFound(arn)


def _tag_chars_ok(text: str) -> bool:
    # [\p{L}\p{Z}\p{N}_.:/=+\-@]*
    return all(unicodedata.category(c)[0] in "LZN" or c in TAG_PUNCTUATION for c in text)


def _check_tags(tags: dict[str, Any] | None, existing: dict[str, str]) -> None:
    for key, value in (tags or {}).items():
        value = value or ""
        if not 1 <= len(key) <= MAX_TAG_KEY or not _tag_chars_ok(key):
            raise BadRequest(
                "tags",
                f"Tag key [{key}] is invalid: it must be 1-{MAX_TAG_KEY} characters of Unicode letters, "
                "digits, white space and _ . : / = + - @.",
            )
        if key.lower().startswith("aws:"):
            raise BadRequest("tags", f"Tag key [{key}] is invalid: the prefix aws: is reserved.")
        if len(value) > MAX_TAG_VALUE or not _tag_chars_ok(value):
            raise BadRequest(
                "tags",
                f"The value of tag [{key}] is invalid: it must be at most {MAX_TAG_VALUE} characters of "
                "Unicode letters, digits, white space and _ . : / = + - @.",
            )
    if len(set(existing) | set(tags or {})) > MAX_TAGS:
        raise BadRequest("tags", f"A resource can have at most {MAX_TAGS} tags.")


@core.action(MQResponse)
def create_tags(self: MQResponse) -> ActionResult:
    _check_resource(self)
    _check_tags(self._get_param("Tags"), self.mq_backend.list_tags(self._get_param("ResourceArn")))
    return _moto_create_tags(self)


@core.action(MQResponse)
def delete_tags(self: MQResponse) -> ActionResult:
    _check_resource(self)
    return _moto_delete_tags(self)


@core.action(MQResponse)
def list_tags(self: MQResponse) -> ActionResult:
    _check_resource(self)
    return _moto_list_tags(self)
