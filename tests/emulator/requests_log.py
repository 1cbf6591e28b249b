"""The requests log: every AWS request exactly as it arrived, for tests that check what a
client sends (``tests/e2e/model_contract.py`` checks each against the botocore model).

    GET /_emulator/requests

answers, in arrival order, one entry per AWS request the call log lists (never control or
``/moto-api`` calls)::

    {"seq": 17, "time": 1700000000.1, "service": "elasticache", "action": "CreateUser",
     "method": "POST", "path": "/", "query": "", "headers": {"content-type": "...", ...},
     "body": "Action=CreateUser&Version=2015-02-02&UserId=...", "body_base64": null}

* ``seq`` counts every AWS request since the emulator started (1, 2, ...); reset and clear
  do not restart it, so a reader that fetched up to ``seq`` N and later sees N + 3 first
  knows that two requests were cleared before it could read them.
  ``GET /_emulator/requests/last`` answers ``{"seq": N}``, the latest one given (0: none yet),
  whether or not its request has been cleared since.
* ``service``/``action`` are the call log's (filled in once moto has named the action).
* ``path`` is the request target as sent, percent-encoding kept, without the query string;
  ``query`` is the raw query string.
* ``headers``: names in lower case, every header except ``authorization``,
  ``x-amz-security-token`` and ``cookie``.
* ``body``: the body decoded as UTF-8, or ``null`` with the bytes in ``body_base64`` when
  it is not UTF-8 (CBOR, binary payloads).

Test-only, like ``GET /_emulator/state``: bodies carry passwords. The entries live in the
call log's records (under a private key the call log never shows), so
``POST /_emulator/calls/clear`` and ``POST /_emulator/reset`` empty this log too.
"""

from __future__ import annotations

import base64
import io
import itertools
import threading
import urllib.parse
from typing import Any

from . import core

KEY = "_request"  # the private key of a call-log record holding its request
HIDDEN_HEADERS = {"authorization", "x-amz-security-token", "cookie"}

_seq = itertools.count(1)
_seq_lock = threading.Lock()
_last = 0  # the seq of the latest request, also when it has been cleared since


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        body = stream.read()
    else:
        return b""
    environ["wsgi.input"] = io.BytesIO(body)  # moto (or an interceptor) reads it again
    return body


def _target(environ: dict[str, Any]) -> tuple[str, str]:
    """(path as sent, raw query string)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if "://" in raw:  # absolute-form request target
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        path, _, query = raw.partition("?")
        return path, query
    path = urllib.parse.quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/:@!$&'()*+,;=-._~")
    return path, environ.get("QUERY_STRING", "")


def capture(environ: dict[str, Any], record: dict[str, Any]) -> None:
    body = _read_body(environ)
    try:
        text, b64 = body.decode("utf-8"), None
    except UnicodeDecodeError:
        text, b64 = None, base64.b64encode(body).decode("ascii")
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key.replace("_", "-").lower()
        else:
            continue
        if name not in HIDDEN_HEADERS:
            headers[name] = value
    path, query = _target(environ)
    global _last
    with _seq_lock:
        seq = _last = next(_seq)
    record[KEY] = {
        "seq": seq,
        "method": environ.get("REQUEST_METHOD", ""),
        "path": path,
        "query": query,
        "headers": headers,
        "body": text,
        "body_base64": b64,
    }


def entries() -> list[dict[str, Any]]:
    out = []
    for record in core.call_records():
        request = record.get(KEY)
        if request is not None:
            out.append(
                {
                    "seq": request["seq"],
                    "time": record["time"],
                    "service": record["service"],
                    "action": record["action"],
                    **{k: v for k, v in request.items() if k != "seq"},
                }
            )
    return out


core.observe(capture)
core.route("GET", "requests", lambda _: entries())
core.route("GET", "requests/last", lambda _: {"seq": _last})
