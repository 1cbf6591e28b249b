"""Lambda ``Invoke`` forwarding, for userkeeper's continuations.

The binary continues a long wait in a fresh invocation of itself: ``lambda:Invoke`` with
``InvocationType: Event`` on its own function ARN. moto would run the function in Docker,
which tests cannot; instead a test registers where invokes of that function go:

    POST /_emulator/lambda/forward {"function": "<name or ARN>", "url": "http://127.0.0.1:PORT/path"}

From then on an ``Invoke`` of the function (REST: ``POST /2015-03-31/functions/{FunctionName}/
invocations``, matched by name, partial or full ARN, with or without a qualifier; no such
function needs to exist in moto) is answered here, before moto sees it:

* ``X-Amz-Invocation-Type: Event``: 202 with an empty body, as Lambda does, and the raw
  payload bytes are POSTed to ``url`` in the background (as Lambda runs an async invoke
  after answering; the target may take as long as it likes). Each delivery is listed by
  ``GET /_emulator/lambda/deliveries`` (never the payload).
* ``DryRun``: 204, nothing delivered.
* ``RequestResponse`` (the default): 400 ``InvalidParameterValueException`` saying that the
  emulator forwards only ``Event`` invokes.

The call log records these as service ``lambda``, action ``Invoke`` (never the payload: it
carries a pre-signed URL and may carry passwords), and ``POST /_emulator/fail`` with
``{"service": "lambda", "action": "Invoke", ...}`` makes the next invokes fail instead
(e.g. ``"status": 403, "code": "AccessDeniedException"``); a failed invoke delivers nothing.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from . import core

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations/?$")
# [arn:aws:lambda:REGION:]ACCOUNT:function:NAME[:QUALIFIER] | NAME[:QUALIFIER]
FUNCTION = re.compile(
    r"^(?:(?:arn:[\w-]+:lambda:(?P<region>[\w-]+):)?(?P<account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_.-]+)(?::(?P<qualifier>[a-zA-Z0-9_$.-]+))?$"
)
DELIVERY_TIMEOUT_SECONDS = 900  # Lambda's longest run

_lock = threading.Lock()
_forwards: dict[str, dict[str, Any]] = {}  # function name -> {"function", "url", "region", "account"}
_deliveries: list[dict[str, Any]] = []


def _parse(function: str) -> re.Match[str] | None:
    return FUNCTION.match(function or "")


def _lookup(function: str) -> dict[str, Any] | None:
    match = _parse(function)
    if match is None:
        return None
    with _lock:
        forward = _forwards.get(match["name"])
    if forward is None:
        return None
    for part in ("region", "account"):  # where both name them, they must agree
        if forward[part] and match[part] and forward[part] != match[part]:
            return None
    return forward


# --------------------------------------------------------------------------------------
# Control API


def _forward_list() -> list[dict[str, Any]]:
    with _lock:
        return [{"function": f["function"], "url": f["url"]} for f in _forwards.values()]


def _add_forward(body: dict[str, Any]) -> list[dict[str, Any]]:
    function, url = body.get("function"), body.get("url")
    match = _parse(function) if isinstance(function, str) else None
    if match is None:
        raise core.BadRequest('"function" must be a function name or ARN, e.g. "userkeeper"')
    if match["qualifier"]:
        raise core.BadRequest('"function" must be unqualified: invokes of every version and alias are forwarded')
    if url is None:  # unregister
        with _lock:
            _forwards.pop(match["name"], None)
        return _forward_list()
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise core.BadRequest('"url" must be an http(s) URL, or null to stop forwarding')
    with _lock:
        _forwards[match["name"]] = {
            "function": function,
            "url": url,
            "region": match["region"],
            "account": match["account"],
        }
    return _forward_list()


def _deliveries_json() -> list[dict[str, Any]]:
    with _lock:
        return [dict(d) for d in _deliveries]


def _clear() -> None:
    with _lock:
        _forwards.clear()
        _deliveries.clear()


def _clear_route(_: dict[str, Any]) -> dict[str, Any]:
    _clear()
    return {"status": "ok"}


core.route("GET", "lambda/forward", lambda _: _forward_list())
core.route("POST", "lambda/forward", _add_forward)
core.route("POST", "lambda/forward/clear", _clear_route)
core.route("GET", "lambda/deliveries", lambda _: _deliveries_json())
core.on_reset(_clear)


# --------------------------------------------------------------------------------------
# Invoke


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    if environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        return stream.read()
    return b""


def _error(status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = {"Type": "Service" if status >= 500 else "User", "message": message}
    return (
        status,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
        json.dumps(body).encode(),
    )


def _deliver(record: dict[str, Any], url: str, payload: bytes) -> None:
    request = urllib.request.Request(url, data=payload, method="POST")
    request.add_header("Content-Type", "application/json")
    status, error = None, None
    try:
        with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as e:
        status, error = e.code, f"HTTP {e.code}"
    except Exception as e:  # connection refused, timeout...
        error = f"{type(e).__name__}: {e}"
    with _lock:
        record.update(status=status, error=error, finished=time.time())


def _intercept(environ: dict[str, Any], record: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes] | None:
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    match = INVOKE_PATH.match(environ.get("PATH_INFO", ""))
    if match is None:
        return None
    function = urllib.parse.unquote(match["function"])
    forward = _lookup(function)
    if forward is None:
        return None  # moto's Lambda handles it
    record.update(service=record.get("service") or "lambda", action="Invoke", _named=True)
    payload = _read_body(environ)  # read in any case: the connection is reused

    fault = core.take_fault({"lambda", "awslambda"}, "Invoke")
    if fault is not None:
        return _error(fault.status, fault.code, fault.message)
    throttled = core.take_throttle({"lambda"}, "Invoke")
    if throttled is not None:
        return _error(throttled.status, throttled.code, throttled.message)

    request_id = str(uuid.uuid4())
    invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE") or "RequestResponse"
    if invocation_type == "DryRun":
        return 204, [("x-amzn-RequestId", request_id)], b""
    if invocation_type != "Event":
        return _error(
            400,
            "InvalidParameterValueException",
            f"The emulator forwards only InvocationType Event invokes of function {function}; "
            f"{invocation_type} is not supported (the function does not run here).",
        )

    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    qualifier = query.get("Qualifier", [None])[0] or _parse(function)["qualifier"]  # type: ignore[index]
    delivery = {
        "function": function,
        "qualifier": qualifier,
        "url": forward["url"],
        "bytes": len(payload),
        "time": time.time(),
        "status": None,  # the target's HTTP status once it answered
        "error": None,
        "finished": None,
    }
    with _lock:
        _deliveries.append(delivery)
    threading.Thread(
        target=_deliver, args=(delivery, forward["url"], payload), name="lambda-forward", daemon=True
    ).start()
    return 202, [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)], b""


core.intercept(_intercept)
