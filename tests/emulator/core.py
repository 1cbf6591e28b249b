"""Shared machinery of the emulator: moto server plus what userkeeper's tests need from it.

Service modules (``elasticache.py``, ``memorydb.py``, ``mq.py``, ``awslambda.py``,
``secretsmanager.py``) use:

* :func:`action` to add or replace the handler of one API action of a moto service;
* :func:`register` to take part in every request of their service (bring lazily computed
  state up to date, serialize requests) and to contribute to ``GET /_emulator/state``;
* :class:`AsyncStatus`, :func:`begin`, :func:`settle` and :func:`ends_at` for AWS's
  asynchronous changes, :func:`jittered` for how long one lasts;
* :func:`paginate` for Marker/MaxRecords style listings;
* :func:`add_config` for a number of seconds settable through ``POST /_emulator/config``,
  and :func:`strict` for the one fidelity switch (below);
* :func:`route` for control routes of their own, :func:`on_reset` to drop their own state
  on ``POST /_emulator/reset``, and :func:`intercept` to answer AWS requests before moto
  sees them (the call log and :func:`take_fault` still apply).

This module also keeps the call log, injects faults and throttling, serves the control API
under ``/_emulator/`` and runs the server (see :func:`serve`).
"""

from __future__ import annotations

import io
import json
import random
import signal
import sys
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse

CONTROL_PREFIX = "/_emulator/"
# "strict": refuse what AWS refuses while a resource is unsettled (and the other refusals
# the service modules mark with ``if core.strict()``). Off by default for now: userkeeper is
# being taught to live with them; the default is to become true once it does.
DEFAULT_CONFIG: dict[str, Any] = {"transition_seconds": 0.0, "transition_jitter": 0.0, "strict": False}

_config: dict[str, Any] = dict(DEFAULT_CONFIG)


def transition_seconds() -> float:
    return float(_config["transition_seconds"])


def jittered(seconds: float) -> float:
    """How long one asynchronous change lasts: ``seconds`` plus a random share of up to
    ``transition_jitter`` seconds, drawn per change (AWS's changes never take the same time
    twice). 0 stays 0: a change configured to be done at once is."""
    jitter = float(_config["transition_jitter"])
    if seconds <= 0 or jitter <= 0:
        return float(seconds)
    return float(seconds) + random.uniform(0.0, jitter)


def strict() -> bool:
    return bool(_config["strict"])


def add_config(key: str, default: float) -> None:
    """A further config key (a number of seconds >= 0), reset to ``default`` by reset."""
    DEFAULT_CONFIG[key] = float(default)
    _config.setdefault(key, float(default))


def config(key: str) -> Any:
    return _config[key]


# --------------------------------------------------------------------------------------
# Patching actions and taking part in requests


def action(response_cls: type) -> Callable[[Callable], Callable]:
    """Install the decorated function as a handler on a moto response class.

    moto dispatches the awsQuery ``Action`` (or JSON ``X-Amz-Target``) ``ModifyUser`` to the
    method ``modify_user``, so the function must carry that name. A handler moto already has
    is replaced: keep a reference to it first if the new one delegates to it.
    """

    def install(fn: Callable) -> Callable:
        setattr(response_cls, fn.__name__, fn)
        return fn

    return install


@dataclass
class Extension:
    service: str  # moto's service name, e.g. "elasticache"
    before_action: Callable[[BaseResponse], None] | None = None
    state: Callable[[], Any] | None = None
    # One request of an extended service at a time: moto's werkzeug server is threaded and
    # the extensions read-modify-write shared models.
    lock: threading.RLock = field(default_factory=threading.RLock)


_extensions: dict[str, Extension] = {}


def register(
    service: str,
    before_action: Callable[[BaseResponse], None] | None = None,
    state: Callable[[], Any] | None = None,
) -> Extension:
    """Take part in every request moto dispatches to ``service``.

    ``before_action(response)`` runs under the extension's lock before any handler of the
    service (moto's or ours), so lazily computed state is current for all of them.
    ``state()`` provides this service's part of ``GET /_emulator/state``.
    """
    ext = Extension(service, before_action, state)
    _extensions[service] = ext
    return ext


def locked(service: str) -> threading.RLock:
    return _extensions[service].lock


# --------------------------------------------------------------------------------------
# Asynchronous status


class _Transition(NamedTuple):
    during: Any
    after: Any  # None: the resource disappears
    deadline: float  # time.monotonic()
    on_done: Callable[[], None] | None


class AsyncStatus:
    """A model attribute (usually ``status``) that changes like AWS's: asynchronously.

    Reading it gives the transitional value until the transition's deadline, then the final
    one; nothing runs in the background. Plain assignment (as moto's own code does) sets a
    settled value. A resource on its way out keeps showing its transitional value until
    :func:`settle` removes it, so the response to a delete always shows e.g. ``deleting``;
    likewise a change with an ``on_done`` (a group's pending members) until :func:`settle` has
    applied it, so that no response shows the final status without the change (the deadline
    can pass between a request's settle and its read of the status).
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_emulator_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        t = obj.__dict__.get(self.slot)
        if t is None:
            return None
        if t.after is not None and t.on_done is None and time.monotonic() >= t.deadline:
            return t.after
        return t.during

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = _Transition(value, value, 0.0, None)


def track_status(cls: type, attr: str = "status") -> None:
    """Give an existing (moto) model class an :class:`AsyncStatus` attribute."""
    descriptor = AsyncStatus()
    descriptor.__set_name__(cls, attr)
    setattr(cls, attr, descriptor)


def begin(
    obj: Any,
    during: str,
    after: str | None,
    on_done: Callable[[], None] | None = None,
    attr: str = "status",
    seconds: float | None = None,
) -> None:
    """Start an asynchronous change: ``during`` for ``seconds`` (default: the configured
    ``transition_seconds``, :func:`jittered`), then ``after`` (``None``: the resource is gone).
    ``on_done`` runs once, in :func:`settle`, after the deadline. With 0 seconds the change is
    complete at once (as soon as :func:`settle` runs)."""
    if seconds is None:
        seconds = jittered(transition_seconds())
    deadline = time.monotonic() + float(seconds)
    obj.__dict__[f"_emulator_{attr}"] = _Transition(during, after, deadline, on_done)


def ends_at(obj: Any, attr: str = "status") -> float:
    """When the transition of ``obj`` under way ends (``time.monotonic()``; 0.0: settled)."""
    t = obj.__dict__.get(f"_emulator_{attr}")
    return t.deadline if t is not None else 0.0


def settle(mapping: MutableMapping[Any, Any], attr: str = "status") -> list[Any]:
    """Complete the elapsed transitions of the resources in ``mapping``: run their
    ``on_done`` and remove the ones that are gone. Returns the removed resources."""
    slot = f"_emulator_{attr}"
    now = time.monotonic()
    gone = []
    for key, obj in list(mapping.items()):
        t = obj.__dict__.get(slot)
        if t is None or now < t.deadline:
            continue
        if t.on_done is not None:
            obj.__dict__[slot] = t._replace(on_done=None)
            t.on_done()
        if t.after is None:
            del mapping[key]
            gone.append(obj)
    return gone


# --------------------------------------------------------------------------------------
# Pagination


class InvalidMarker(ServiceException):
    code = "InvalidParameterValue"


def paginate(
    items: list[Any],
    key: Callable[[Any], str],
    max_records: int | None,
    marker: str | None,
    default_max: int = 100,
    error: Callable[[str], Exception] = InvalidMarker,
    size_param: str = "MaxRecords",
) -> tuple[list[Any], str | None]:
    """One page of ``items``; the marker is the key of the first item of the next page.
    ``error(message)`` is raised for an unknown marker or a page size below 1."""
    start = 0
    if marker:
        keys = [key(item) for item in items]
        if marker not in keys:
            raise error(f"Invalid marker: {marker}")
        start = keys.index(marker)
    size = default_max if max_records is None else max_records
    if size < 1:
        raise error(f"{size_param} must be greater than 0.")
    page = items[start : start + size]
    rest = items[start + size :]
    return page, (key(rest[0]) if rest else None)


# --------------------------------------------------------------------------------------
# Call log and fault injection


_calls: list[dict[str, Any]] = []
_calls_lock = threading.Lock()
_current = threading.local()


@dataclass
class Fault:
    service: str
    action: str | None  # None: any action of the service
    count: int
    status: int = 500
    code: str = "InternalFailure"
    message: str = "We encountered an internal error. Please try again."

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class InjectedFault(ServiceException):
    """Defined here, not in moto: moto looks up the model of a ``moto.*`` exception's package."""


_faults: list[Fault] = []
_faults_lock = threading.Lock()


def take_fault(services: set[str], action_name: str | None) -> Fault | None:
    """The pending fault for this call, if any (its count is used up by one)."""
    with _faults_lock:
        for fault in _faults:
            if fault.service in services and fault.action in (None, action_name):
                fault.count -= 1
                if fault.count <= 0:
                    _faults.remove(fault)
                return fault
    return None


# --------------------------------------------------------------------------------------
# Throttling: a share of each service's calls answered with its own throttling error


@dataclass(frozen=True)
class ThrottleError:
    status: int
    code: str
    message: str = "Rate exceeded"


# What each service answers a caller over its request rate, by signing name. None of these
# is in the service's botocore model except Lambda's; they are the services' common errors.
THROTTLE_ERRORS: dict[str, ThrottleError] = {
    # awsQuery, like RDS: `Throttling` / "Rate exceeded", HTTP 400, <Type>Sender</Type> (aws/aws-cli
    # #8604 for RDS's DescribeDBInstances; botocore `_retry.json` "throttling" policy: code
    # Throttling, 400). ElastiCache's own Common Errors page lists `ThrottlingException`, as the
    # generic page of every service does; the Query services answer `Throttling` on the wire.
    # Both are retried as throttling by every SDK.
    "elasticache": ThrottleError(400, "Throttling"),
    # MemoryDB API Reference, Common Errors: `ThrottlingException`, HTTP 400.
    "memorydb": ThrottleError(400, "ThrottlingException"),
    # Secrets Manager API Reference, Common Errors: `ThrottlingException`, HTTP 400, "Rate
    # exceeded" (as reported in external-secrets/external-secrets #4065: "ThrottlingException:
    # Rate exceeded, status code: 400").
    "secretsmanager": ThrottleError(400, "ThrottlingException"),
    # Lambda's botocore model: `TooManyRequestsException`, HTTP 429 (with `Reason`, e.g.
    # CallerRateLimitExceeded, and an optional Retry-After header).
    "lambda": ThrottleError(429, "TooManyRequestsException"),
    # Amazon MQ: INFERRED. Its model and API reference list no throttling error; a REST-JSON
    # service over its rate answers HTTP 429 `TooManyRequestsException` (as API Gateway, MSK and
    # Lambda do), which botocore's `_retry.json` retries by status (429) and the Rust SDK by code.
    "mq": ThrottleError(429, "TooManyRequestsException"),
}
# moto's service names where they differ from the signing name.
_THROTTLE_ALIASES = {"awslambda": "lambda"}
THROTTLE_ENV = "USERKEEPER_EMULATOR_THROTTLE"


def _parse_shares(raw: str) -> dict[str, float]:
    """``"0.2"`` (every service) or ``"elasticache=0.1,mq=0.3"``."""
    raw = raw.strip()
    if not raw:
        return {}
    if "=" not in raw:
        return _check_shares({name: raw for name in THROTTLE_ERRORS})
    pairs = dict(part.split("=", 1) for part in raw.split(",") if part.strip())
    return _check_shares({k.strip(): v for k, v in pairs.items()})


def _check_shares(shares: dict[str, Any]) -> dict[str, float]:
    out = {}
    for name, value in shares.items():
        if name not in THROTTLE_ERRORS:
            raise BadRequest(f"no throttling error known for service {name!r}: one of {sorted(THROTTLE_ERRORS)}")
        try:
            share = float(value)
        except (TypeError, ValueError):
            share = -1.0
        if isinstance(value, bool) or not 0.0 <= share <= 1.0:
            raise BadRequest(f"the share of {name} must be a number from 0 to 1, got {value!r}")
        out[name] = share
    return out


class _Throttle:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.defaults: dict[str, float] = {}
        self.shares: dict[str, float] = {}
        self.random = random.Random()
        self.injected: dict[str, int] = {}
        self.by_action: dict[str, int] = {}

    def reset(self) -> None:
        with self.lock:
            self.shares = dict(self.defaults)
            self.random = random.Random()
            self.injected.clear()
            self.by_action.clear()

    def take(self, names: set[str], action_name: str | None) -> ThrottleError | None:
        names = {_THROTTLE_ALIASES.get(n, n) for n in names}
        with self.lock:
            for name in names:
                share = self.shares.get(name, 0.0)
                if share > 0.0 and self.random.random() < share:
                    self.injected[name] = self.injected.get(name, 0) + 1
                    key = f"{name}:{action_name}"
                    self.by_action[key] = self.by_action.get(key, 0) + 1
                    return THROTTLE_ERRORS[name]
        return None

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {"shares": dict(self.shares), "injected": dict(self.injected),
                    "by_action": dict(self.by_action)}


_throttle = _Throttle()


def take_throttle(services: set[str], action_name: str | None) -> ThrottleError | None:
    """The throttling error this call gets, drawn at the service's configured share (None:
    the call goes through). Counted per service and per action."""
    return _throttle.take(services, action_name)


def configure_throttle_from_env(environ: MutableMapping[str, str]) -> None:
    """The shares the emulator starts with (and returns to on reset), from ``THROTTLE_ENV``."""
    try:
        _throttle.defaults = _parse_shares(environ.get(THROTTLE_ENV, ""))
    except (BadRequest, ValueError) as e:
        raise SystemExit(f"{THROTTLE_ENV}={environ.get(THROTTLE_ENV)!r}: {e}") from e
    _throttle.reset()


def _set_throttle(body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - {"share", "shares", "seed"}
    if unknown:
        raise BadRequest(f"unknown throttle keys: {sorted(unknown)} (share, shares, seed)")
    shares: dict[str, float] = {}
    if "share" in body:
        shares.update(_check_shares({name: body["share"] for name in THROTTLE_ERRORS}))
    if "shares" in body:
        if not isinstance(body["shares"], dict):
            raise BadRequest('"shares" must be an object, e.g. {"mq": 0.2}')
        shares.update(_check_shares(body["shares"]))
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest('"seed" must be an integer')
    with _throttle.lock:
        _throttle.shares.update(shares)
        if seed is not None:
            _throttle.random = random.Random(seed)
    return _throttle.to_json()


def _clear_throttle() -> dict[str, Any]:
    with _throttle.lock:
        _throttle.shares.clear()
        _throttle.injected.clear()
        _throttle.by_action.clear()
    return _throttle.to_json()


def _signing_service(environ: dict[str, Any]) -> str | None:
    # Credential=AKID/20240101/us-east-1/elasticache/aws4_request: the same part of the
    # signature moto itself routes on when every service shares one endpoint.
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
        return scope.split("/")[3].lower()
    except IndexError:
        return None


def _form_action(environ: dict[str, Any]) -> str | None:
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
    return urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]


def _begin_call(environ: dict[str, Any]) -> dict[str, Any]:
    target = environ.get("HTTP_X_AMZ_TARGET")
    record = {
        "service": _signing_service(environ),
        "action": target.rsplit(".", 1)[-1] if target else _form_action(environ),
        "time": time.time(),
    }
    with _calls_lock:
        _calls.append(record)
    return record


_moto_call_action = BaseResponse.call_action


def _call_action(self: BaseResponse) -> Any:
    """Every AWS request moto dispatches passes here, with the action already known
    (also for REST protocols, where only moto's router can name it)."""
    service = getattr(self, "service_name", None)  # moto's name: "awslambda" for lambda
    try:
        action_name = self._get_action() or None
    except Exception:
        action_name = None
    record = getattr(_current, "record", None)
    if record is not None and not record.get("_named"):
        record["_named"] = True
        record["service"] = record["service"] or service  # the signing name, as AWS says it
        record["action"] = action_name or record["action"]

    names = {service, record["service"] if record else None} - {None}
    fault = take_fault(names, action_name)
    if fault is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # moto warns about codes outside the model
            _, headers, body = self.serialized(
                ActionResult(InjectedFault(fault.code, fault.message))
            )
        if fault.status >= 500 and isinstance(body, str):
            # awsQuery errors name the side at fault; a 5xx is the service's.
            body = body.replace("<Type>Sender</Type>", "<Type>Receiver</Type>", 1)
        headers, body = self._enrich_response(headers, body)
        return fault.status, headers, body

    throttled = take_throttle(names, action_name)
    if throttled is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, headers, body = self.serialized(
                ActionResult(InjectedFault(throttled.code, throttled.message))
            )
        headers, body = self._enrich_response(headers, body)
        return throttled.status, headers, body

    ext = _extensions.get(service or "")
    if ext is None:
        return _moto_call_action(self)
    with ext.lock:
        if ext.before_action is not None:
            ext.before_action(self)
        return _moto_call_action(self)


BaseResponse.call_action = _call_action  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------
# Control API


class BadRequest(Exception):
    pass


_reset_hooks: list[Callable[[], None]] = []


def on_reset(hook: Callable[[], None]) -> None:
    """Run ``hook()`` on ``POST /_emulator/reset`` (after moto's state is wiped)."""
    _reset_hooks.append(hook)


def _reset() -> dict[str, Any]:
    from moto.moto_api._internal.models import moto_api_backend

    locks = [ext.lock for ext in _extensions.values()]
    for lock in locks:
        lock.acquire()
    try:
        moto_api_backend.reset()  # what POST /moto-api/reset does
    finally:
        for lock in reversed(locks):
            lock.release()
    _config.clear()
    _config.update(DEFAULT_CONFIG)
    with _calls_lock:
        _calls.clear()
    with _faults_lock:
        _faults.clear()
    _throttle.reset()
    for hook in _reset_hooks:
        hook()
    return {"status": "ok"}


def _set_config(body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - set(DEFAULT_CONFIG)
    if unknown:
        raise BadRequest(f"unknown config keys: {sorted(unknown)}")
    for key, value in body.items():  # a switch, or a number of seconds
        if isinstance(DEFAULT_CONFIG[key], bool):
            if not isinstance(value, bool):
                raise BadRequest(f"{key} must be true or false")
        elif not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise BadRequest(f"{key} must be a number >= 0")
    for key, value in body.items():
        _config[key] = value if isinstance(value, bool) else float(value)
    return dict(_config)


def _state() -> dict[str, Any]:
    result = {}
    for name, ext in _extensions.items():
        if ext.state is not None:
            with ext.lock:
                result[name] = ext.state()
    return result


def call_records() -> list[dict[str, Any]]:
    """The call log's records themselves, private ``_`` keys included (``requests_log.py``)."""
    with _calls_lock:
        return list(_calls)


def _calls_json() -> list[dict[str, Any]]:
    with _calls_lock:
        return [{k: v for k, v in c.items() if not k.startswith("_")} for c in _calls]


def _clear_calls() -> dict[str, Any]:
    with _calls_lock:
        _calls.clear()
    return {"status": "ok"}


def _add_fault(body: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(body.get("service"), str):
        raise BadRequest('"service" is required, e.g. "elasticache"')
    try:
        fault = Fault(
            service=body["service"],
            action=body.get("action"),
            count=int(body.get("count", 1)),
            status=int(body.get("status", 500)),
            code=str(body.get("code", Fault.code)),
            message=str(body.get("message", Fault.message)),
        )
    except (TypeError, ValueError) as e:
        raise BadRequest(str(e)) from e
    with _faults_lock:
        _faults.append(fault)
        return [f.to_json() for f in _faults]


def _list_faults() -> list[dict[str, Any]]:
    with _faults_lock:
        return [f.to_json() for f in _faults]


def _clear_faults() -> dict[str, Any]:
    with _faults_lock:
        _faults.clear()
    return {"status": "ok"}


_ROUTES: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
    ("GET", "health"): lambda _: {"status": "ok"},
    ("GET", "config"): lambda _: dict(_config),
    ("POST", "config"): _set_config,
    ("POST", "reset"): lambda _: _reset(),
    ("GET", "state"): lambda _: _state(),
    ("GET", "calls"): lambda _: _calls_json(),
    ("POST", "calls/clear"): lambda _: _clear_calls(),
    ("GET", "fail"): lambda _: _list_faults(),
    ("POST", "fail"): _add_fault,
    ("POST", "fail/clear"): lambda _: _clear_faults(),
    ("GET", "throttle"): lambda _: _throttle.to_json(),
    ("POST", "throttle"): _set_throttle,
    ("POST", "throttle/clear"): lambda _: _clear_throttle(),
}


def route(method: str, path: str, handler: Callable[[dict[str, Any]], Any]) -> None:
    """Serve ``METHOD /_emulator/<path>``: ``handler(json_body)`` answers JSON; raise
    :class:`BadRequest` for a 400."""
    _ROUTES[(method, path.strip("/"))] = handler


# An interceptor sees every AWS request (``environ``, and its call-log ``record``, which
# it may name) before moto does, and answers ``(status, headers, body)`` to take it over,
# or None to pass it on.
Interceptor = Callable[[dict[str, Any], dict[str, Any]], "tuple[int, list[tuple[str, str]], bytes] | None"]
_interceptors: list[Interceptor] = []


def intercept(hook: Interceptor) -> None:
    _interceptors.append(hook)


# An observer sees every AWS request (``environ`` and its call-log ``record``) before the
# interceptors and moto, and answers nothing; if it reads the body it puts it back.
_observers: list[Callable[[dict[str, Any], dict[str, Any]], None]] = []


def observe(hook: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    _observers.append(hook)


def _control(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    route = environ.get("PATH_INFO", "")[len(CONTROL_PREFIX) :].strip("/")
    handler = _ROUTES.get((environ["REQUEST_METHOD"], route))
    status, payload = "200 OK", None
    if handler is None:
        status, payload = "404 Not Found", {"error": f"no control route {route!r}"}
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            payload = handler(body)
        except (BadRequest, json.JSONDecodeError) as e:
            status, payload = "400 Bad Request", {"error": str(e)}
    data = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def _respond(
    start_response: Callable, status: int, headers: list[tuple[str, str]], body: bytes
) -> list[bytes]:
    from werkzeug.http import HTTP_STATUS_CODES

    headers = [h for h in headers if h[0].lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", headers)
    return [body]


class EmulatorApp:
    """WSGI middleware in front of moto's app: control API, call log, interceptors."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return _control(environ, start_response)
        if path.startswith("/moto-api") or path == "/favicon.ico":
            return self.app(environ, start_response)
        # Recorded before dispatch, so requests moto cannot route are logged too.
        _current.record = record = _begin_call(environ)
        for observer in _observers:
            observer(environ, record)
        try:
            for hook in _interceptors:
                answer = hook(environ, record)
                if answer is not None:
                    return _respond(start_response, *answer)
            return self.app(environ, start_response)
        finally:
            _current.record = None
            if not record["action"]:
                record["action"] = f"{environ['REQUEST_METHOD']} {path}"


# --------------------------------------------------------------------------------------
# Server


def make_app() -> EmulatorApp:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return EmulatorApp(DomainDispatcherApplication(create_backend_app))


def serve(host: str, port: int) -> None:
    """Run until SIGTERM/SIGINT. Prints the ready line once the socket accepts connections."""
    import os

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    os.environ.setdefault("MOTO_PORT", str(port))  # as moto_server does: moto calls itself on it
    configure_throttle_from_env(os.environ)
    server = make_server(host, port, make_app(), threaded=True, request_handler=MotoRequestHandler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
    thread.start()
    # make_server has bound and is listening: connections are accepted from here on.
    print(f"emulator ready on http://{host}:{server.port}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    thread.join(5)
    sys.stdout.flush()
