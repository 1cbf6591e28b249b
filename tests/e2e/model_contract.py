"""Contract from the API models: every request the binary sends during an end-to-end test is
checked against the botocore service model of its operation, so that a value AWS would
refuse never reaches the (more lenient) emulator unnoticed.

How: the emulator keeps every AWS request as it arrived (``GET /_emulator/requests``,
``tests/emulator/requests_log.py``). After each test that uses the emulator, the autouse
fixture :func:`model_contract` reads the requests of that test (also the ones a test clears
with ``emulator.clear_calls()`` or ``reset()`` half way: it reads them first), parses each
back into its operation's input structure and validates that against the model botocore
ships (the version moto uses: one virtualenv). Any violation fails the test in teardown,
listing operation, member path and rule, never a value (values may be passwords).

Whose requests: those of the Rust SDK (``aws-sdk-rust`` in ``User-Agent`` or
``x-amz-user-agent``), i.e. the binary's, and any request of an unknown client. The tests'
own boto3 calls (``Botocore/`` in ``User-Agent``) are counted but not checked: boto3 sends
what the test asked for, sometimes on purpose outside the model's limits.

Parsing, per protocol (the model says which members live where):

* ``query`` (ElastiCache): the form's flattened keys (``Tags.Tag.1.Key``,
  ``UserIds.member.1``, ``Attr.entry.1.key``) are rebuilt into the structure through the
  members' ``locationName``s, list member names and ``flattened``; ``Version`` must be the
  model's ``apiVersion``;
* ``json`` (MemoryDB, Secrets Manager): ``X-Amz-Target`` (the model's ``targetPrefix``) names
  the operation, ``Content-Type`` must be ``application/x-amz-json-<jsonVersion>``, the body is
  the input; ``smithy-rpc-v2-cbor`` (MemoryDB's first protocol in this botocore) the same
  with a CBOR body under ``/service/<targetPrefix>/operation/<Op>``;
* ``rest-json`` (Amazon MQ, Lambda): method and path are matched against every operation's
  ``requestUri``; ``location: uri`` members come from the path labels, ``querystring``
  members from the query string, ``header`` members from headers, the others from the JSON
  body by ``locationName``. A ``payload`` blob (Lambda ``Invoke``'s ``Payload``) is taken as
  it is: only the envelope around it is checked.

Rules: the operation exists; required members present (URI labels not empty); no member
the input shape does not have (form keys, JSON keys, query parameters: headers are not
checked for strangers, the SDK adds its own); types (string, integer, boolean, float,
timestamp, blob, list, map, structure); enums; string/blob lengths and list/map sizes
(``min``/``max``); integer and float ranges; unions with exactly one member set; the
string ``pattern`` with Java's ``matches()`` semantics (the whole string,
:func:`re.fullmatch`), after translating Java's regex dialect (see :func:`java_regex`).
A pattern Python cannot express is skipped and named in the session summary.

Also usable as a library: ``check_request(entry)`` for one ``/_emulator/requests`` entry.
Registered from ``conftest.py`` (``pytest_plugins``); self-tests in
``test_model_contract.py``.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import io
import json
import re
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Iterator

import pytest

BINARY_AGENT = "aws-sdk-rust"
BOTO_AGENT = re.compile(r"\bbotocore/", re.IGNORECASE)
ENVELOPE = "<envelope>"
_ABSENT = object()


# --------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Violation:
    operation: str  # "elasticache CreateUser"
    path: str  # "Tags[0].Key", or ENVELOPE
    rule: str  # what is wrong, never the value

    def __str__(self) -> str:
        return f"{self.operation}: {self.path}: {self.rule}"


@dataclass
class Checked:
    operation: str  # "elasticache CreateUser", or "elasticache ?" when none matched
    violations: list[Violation] = field(default_factory=list)
    skipped_patterns: dict[str, str] = field(default_factory=dict)  # pattern -> why


class _Out:
    """Collects the violations of one request."""

    def __init__(self, operation: str) -> None:
        self.checked = Checked(operation)

    def add(self, path: str, rule: str) -> None:
        self.checked.violations.append(Violation(self.checked.operation, path or ENVELOPE, rule))

    def rename(self, operation: str) -> None:
        self.checked.operation = operation


# --------------------------------------------------------------------------------------
# Models


@lru_cache(maxsize=None)
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@lru_cache(maxsize=None)
def service_model(signing_name: str) -> Any:
    """The botocore model of the service a request was signed for."""
    session = _session()
    try:
        return session.get_service_model(signing_name)
    except Exception:
        for name in session.get_available_services():
            model = session.get_service_model(name)
            if model.signing_name == signing_name:
                return model
        raise


def botocore_version() -> str:
    import botocore

    return botocore.__version__


# --------------------------------------------------------------------------------------
# Java regex -> Python


class UnsupportedPattern(Exception):
    pass


# Java's "." stops at every line terminator, Python's at "\n" only.
_JAVA_DOT = "[^\\n\\r\\u0085\\u2028\\u2029]"


@lru_cache(maxsize=None)
def java_regex(pattern: str) -> re.Pattern[str]:
    """A Python regex that accepts what Java's ``Pattern`` (the dialect of the models'
    ``pattern``s, enforced by AWS with ``matches()``) accepts. Translated: ``.`` (Java's
    stops at ``\\r``, ``\\u0085``, ``\\u2028``, ``\\u2029`` too), ``\\w \\d \\s \\b`` (ASCII in
    Java: ``re.ASCII``), ``(?<name>`` groups, ``\\z``, ``\\Z``. Refused
    (:class:`UnsupportedPattern`): ``\\p{..}``/``\\P{..}`` classes, ``\\Q..\\E`` quoting,
    ``&&`` class intersections, ``\\G``, ``\\R``, ``\\X``, ``\\h``, ``\\H``, ``\\v``, ``\\V``
    (different or absent in Python's ``re``)."""
    out: list[str] = []
    i, depth = 0, 0  # depth: nesting of character classes
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                raise UnsupportedPattern("trailing backslash")
            n = pattern[i + 1]
            if n in "pP":
                raise UnsupportedPattern(f"Java Unicode class \\{n}{{..}} (Python's re has none)")
            if n in "QGRXhHvV":
                raise UnsupportedPattern(f"Java construct \\{n} (absent or different in Python's re)")
            if n == "z":
                out.append("\\Z")
            elif n == "Z":
                out.append("(?=[\\n\\r\\u0085\\u2028\\u2029]?\\Z)" if depth == 0 else "Z")
            else:
                out.append(c + n)
            i += 2
            continue
        if depth:
            if c == "[":
                if pattern.startswith("[:", i):
                    out.append("\\[")  # a literal "[" in Java; Python warns about POSIX classes
                    i += 1
                    continue
                raise UnsupportedPattern("nested character class (a Java union)")
            if pattern.startswith("&&", i):
                raise UnsupportedPattern("character class intersection &&")
            if c == "]" and not (out and out[-1] in ("[", "[^")):
                depth -= 1
            out.append(c)
            i += 1
            continue
        if c == "[":
            depth += 1
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            if i < len(pattern) and pattern[i] == "]":  # "[]...]": Java takes a literal "]" too
                out.append("\\]")
                i += 1
            continue
        if c == ".":
            out.append(_JAVA_DOT)
        elif pattern.startswith("(?<", i) and i + 3 < len(pattern) and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(c)
        i += 1
    try:
        return re.compile("".join(out), re.ASCII)
    except re.error as e:
        raise UnsupportedPattern(f"Python's re refuses it: {e}") from e


# --------------------------------------------------------------------------------------
# Decoding helpers


def _timestamp(text: str) -> bool:
    """Whether ``text`` is a timestamp in one of the formats AWS accepts (ISO 8601,
    RFC 822 / HTTP date, epoch seconds)."""
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        pass
    try:
        if email.utils.parsedate_to_datetime(text) is not None:
            return True
    except (TypeError, ValueError, IndexError):
        pass
    return re.fullmatch(r"-?\d+(\.\d+)?", text) is not None


class _Timestamp:
    """A decoded timestamp (only its validity matters here)."""


def _from_text(shape: Any, text: str, path: str, out: _Out) -> Any:
    """A scalar sent as text (query protocol, URI label, query string, header)."""
    t = shape.type_name
    if t == "string":
        return text
    if t in ("integer", "long"):
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        out.add(path, f"not an integer ({t} {shape.name})")
        return _ABSENT
    if t == "boolean":
        if text in ("true", "false"):
            return text == "true"
        out.add(path, f"not a boolean: must be true or false ({shape.name})")
        return _ABSENT
    if t in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            out.add(path, f"not a number ({t} {shape.name})")
            return _ABSENT
    if t == "timestamp":
        if _timestamp(text):
            return _Timestamp()
        out.add(path, f"not a timestamp ({shape.name})")
        return _ABSENT
    if t == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            out.add(path, f"not base64 ({shape.name})")
            return _ABSENT
    out.add(path, f"{_a(t)} ({shape.name}) cannot be sent as text here")
    return _ABSENT


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "byte string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, datetime):
        return "timestamp"
    return type(value).__name__


def _from_json(shape: Any, value: Any, path: str, out: _Out, cbor: bool = False) -> Any:
    """A value of a JSON (or CBOR) document, keyed by member names afterwards."""
    t = shape.type_name
    if shape.metadata.get("document"):
        return value
    if value is None:
        out.add(path, f"null where {_a(t)} ({shape.name}) is expected: leave the member out")
        return _ABSENT
    if t == "structure":
        if not isinstance(value, dict):
            out.add(path, f"expected an object ({shape.name}), got {_a(_json_type(value))}")
            return _ABSENT
        by_wire = {m.serialization.get("name", name): name for name, m in shape.members.items()}
        result = {}
        for key, item in value.items():
            name = by_wire.get(key)
            if name is None:
                out.add(_join(path, str(key)), f"unknown member: {shape.name} has no member {key!r}")
                continue
            decoded = _from_json(shape.members[name], item, _join(path, name), out, cbor)
            if decoded is not _ABSENT:
                result[name] = decoded
        return result
    if t == "list":
        if not isinstance(value, list):
            out.add(path, f"expected an array ({shape.name}), got {_a(_json_type(value))}")
            return _ABSENT
        return [_from_json(shape.member, v, f"{path}[{i}]", out, cbor) for i, v in enumerate(value)]
    if t == "map":
        if not isinstance(value, dict):
            out.add(path, f"expected an object ({shape.name}), got {_a(_json_type(value))}")
            return _ABSENT
        result = {}
        for i, (k, v) in enumerate(value.items()):
            result[k] = _from_json(shape.value, v, f"{path}{{#{i + 1}}}", out, cbor)
        return result
    if t == "string":
        if isinstance(value, str):
            return value
    elif t in ("integer", "long"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            out.add(path, f"a fractional number where an {t} ({shape.name}) is expected")
            return _ABSENT
    elif t == "boolean":
        if isinstance(value, bool):
            return value
    elif t in ("float", "double"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
            return float(value)
    elif t == "timestamp":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _Timestamp()
        if cbor and isinstance(value, datetime):
            return _Timestamp()
    elif t == "blob":
        if cbor and isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if not cbor and isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                out.add(path, f"not base64 ({shape.name})")
                return _ABSENT
    out.add(path, f"expected {_a(t)} ({shape.name}), got {_a(_json_type(value))}")
    return _ABSENT


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --------------------------------------------------------------------------------------
# query protocol


class _Node:
    __slots__ = ("value", "children")

    def __init__(self) -> None:
        self.value: str | None = None
        self.children: dict[str, _Node] = {}


def _query_wire_name(name: str, shape: Any) -> str:
    if shape.type_name == "list" and shape.serialization.get("flattened") and shape.member.serialization.get("name"):
        return shape.member.serialization["name"]  # the serializer replaces the list's own name
    return shape.serialization.get("name", name)


def _query_numbered(node: _Node, path: str, what: str, out: _Out) -> list[_Node] | None:
    keys = list(node.children)
    expected = [str(i) for i in range(1, len(keys) + 1)]
    if set(keys) != set(expected):
        out.add(path, f"{what} entries are not numbered 1..{len(keys)}")
        return None
    return [node.children[k] for k in expected]


def _from_query(shape: Any, node: _Node, path: str, out: _Out) -> Any:
    t = shape.type_name
    if t == "structure":
        if node.value is not None:
            out.add(path, f"a value where a structure ({shape.name}) is expected")
            return _ABSENT
        by_wire = {_query_wire_name(name, m): name for name, m in shape.members.items()}
        result = {}
        for key, child in node.children.items():
            name = by_wire.get(key)
            if name is None:
                out.add(_join(path, key), f"unknown member: {shape.name} has no member {key!r}")
                continue
            decoded = _from_query(shape.members[name], child, _join(path, name), out)
            if decoded is not _ABSENT:
                result[name] = decoded
        return result
    if t == "list":
        if node.value is not None and not node.children:
            if node.value == "":
                return []  # "Prefix=": the empty list
            out.add(path, f"a single value where a list ({shape.name}) is expected")
            return _ABSENT
        if node.value is not None:
            out.add(path, f"both a value and entries for a list ({shape.name})")
            return _ABSENT
        if shape.serialization.get("flattened"):
            items_node = node
        else:
            member_name = shape.member.serialization.get("name", "member")
            extra = set(node.children) - {member_name}
            if extra:
                for key in sorted(extra):
                    out.add(_join(path, key), f"unknown member: list {shape.name} takes {member_name}.N")
                return _ABSENT
            items_node = node.children[member_name]
            if items_node.value is not None:
                out.add(path, f"{member_name} without an index in list {shape.name}")
                return _ABSENT
        items = _query_numbered(items_node, path, f"list {shape.name}", out)
        if items is None:
            return _ABSENT
        return [_from_query(shape.member, item, f"{path}[{i}]", out) for i, item in enumerate(items)]
    if t == "map":
        if node.value is not None:
            out.add(path, f"a value where a map ({shape.name}) is expected")
            return _ABSENT
        if shape.serialization.get("flattened"):
            entries_node = node
        else:
            extra = set(node.children) - {"entry"}
            if extra:
                for key in sorted(extra):
                    out.add(_join(path, key), f"unknown member: map {shape.name} takes entry.N")
                return _ABSENT
            entries_node = node.children["entry"]
        entries = _query_numbered(entries_node, path, f"map {shape.name}", out)
        if entries is None:
            return _ABSENT
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        result: dict[Any, Any] = {}
        for i, entry in enumerate(entries):
            where = f"{path}{{#{i + 1}}}"
            if set(entry.children) != {key_name, value_name} or entry.value is not None:
                out.add(where, f"a map entry needs exactly {key_name} and {value_name}")
                continue
            k = _from_query(shape.key, entry.children[key_name], where + "." + key_name, out)
            v = _from_query(shape.value, entry.children[value_name], where + "." + value_name, out)
            if k is not _ABSENT:
                result[k] = v
        return result
    if node.children:
        out.add(path, f"nested keys under {_a(t)} ({shape.name})")
        return _ABSENT
    return _from_text(shape, node.value or "", path, out)


def _decode_query(model: Any, req: _Request, out: _Out) -> tuple[Any, Any] | None:
    pairs = urllib.parse.parse_qsl(req.query, keep_blank_values=True)
    pairs += urllib.parse.parse_qsl(req.text(), keep_blank_values=True)
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            out.add(key, "sent twice")
        params[key] = value
    action = params.pop("Action", None)
    version = params.pop("Version", None)
    if action is None:
        out.add(ENVELOPE, "no Action parameter")
        return None
    if action not in model.operation_names:
        out.add(ENVELOPE, f"Action {action!r} is not an operation of the {model.service_name} model")
        return None
    out.rename(f"{req.service} {action}")
    if version != model.api_version:
        out.add(ENVELOPE, f"Version must be the model's apiVersion {model.api_version}")
    op = model.operation_model(action)
    root = _Node()
    for key, value in params.items():
        node = root
        for part in key.split("."):
            node = node.children.setdefault(part, _Node())
        node.value = value
    if op.input_shape is None:
        for key in params:
            out.add(key, f"unknown member: {action} takes no input")
        return op, {}
    return op, _from_query(op.input_shape, root, "", out)


# --------------------------------------------------------------------------------------
# json and smithy-rpc-v2-cbor


def _cbor(data: bytes) -> Any:
    from botocore.parsers import RpcV2CBORParser

    parser = RpcV2CBORParser()
    stream = parser.get_peekable_stream_from_bytes(data)
    value = parser.parse_data_item(stream)
    if stream.read(1):
        raise ValueError("bytes after the CBOR data item")
    return value


def _decode_rpc(model: Any, req: _Request, out: _Out, protocol: str) -> tuple[Any, Any] | None:
    prefix = model.metadata.get("targetPrefix")
    if protocol == "json":
        target = req.headers.get("x-amz-target", "")
        got_prefix, _, action = target.rpartition(".")
        if got_prefix != prefix:
            out.add(ENVELOPE, f"X-Amz-Target must start with the model's targetPrefix {prefix}")
        expected_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
    else:
        m = re.fullmatch(r"/service/([^/]+)/operation/([^/]+)", req.path)
        if m is None:
            out.add(ENVELOPE, "the path must be /service/<targetPrefix>/operation/<Operation>")
            return None
        if urllib.parse.unquote(m[1]) != prefix:
            out.add(ENVELOPE, f"the path must name the model's targetPrefix {prefix}")
        action = urllib.parse.unquote(m[2])
        expected_type = "application/cbor"
        if req.headers.get("smithy-protocol") != "rpc-v2-cbor":
            out.add(ENVELOPE, "header smithy-protocol must be rpc-v2-cbor")
    if action not in model.operation_names:
        out.add(ENVELOPE, f"{action!r} is not an operation of the {model.service_name} model")
        return None
    out.rename(f"{req.service} {action}")
    op = model.operation_model(action)
    if req.body and req.content_type() != expected_type:
        out.add(ENVELOPE, f"Content-Type must be {expected_type}")
    if not req.body:
        document: Any = {}
    elif protocol == "json":
        try:
            document = json.loads(req.body)
        except ValueError:
            out.add(ENVELOPE, "the body is not JSON")
            return None
    else:
        try:
            document = _cbor(req.body)
        except Exception:
            out.add(ENVELOPE, "the body is not CBOR")
            return None
    if op.input_shape is None:
        if document:
            out.add(ENVELOPE, f"{action} takes no input, the body is not empty")
        return op, {}
    return op, _from_json(op.input_shape, document, "", out, cbor=protocol != "json")


# --------------------------------------------------------------------------------------
# rest-json


@dataclass
class _Route:
    op: Any
    method: str
    regex: re.Pattern[str]
    labels: dict[str, str]  # regex group -> label name
    literal: int  # characters outside labels: the most specific route wins
    query: dict[str, str | None]  # fixed query parameters of the requestUri


@lru_cache(maxsize=None)
def _routes(signing_name: str) -> tuple[list[_Route], frozenset[str]]:
    model = service_model(signing_name)
    routes, literals = [], set()
    for name in model.operation_names:
        op = model.operation_model(name)
        uri = op.http.get("requestUri", "/")
        path, _, fixed = uri.partition("?")
        parts, labels, literal = ["^"], {}, 0
        for i, piece in enumerate(re.split(r"(\{[^}]+\})", path)):
            if piece.startswith("{"):
                label = piece[1:-1]
                group = f"g{i}"
                greedy = label.endswith("+")
                labels[group] = label.rstrip("+")
                parts.append(f"(?P<{group}>{'.*' if greedy else '[^/]*'})")
            else:
                parts.append(re.escape(piece))
                literal += len(piece)
                literals.update(s for s in piece.split("/") if s)
        parts.append("$")
        query = {}
        for item in filter(None, fixed.split("&")):
            k, eq, v = item.partition("=")
            query[k] = v if eq else None
        routes.append(_Route(op, op.http.get("method", "POST"), re.compile("".join(parts)), labels, literal, query))
    return routes, frozenset(literals)


def _redacted_path(path: str, literals: frozenset[str]) -> str:
    """The request path with every segment the model does not spell out replaced by ``*``."""
    return "/".join(s if (not s or urllib.parse.unquote(s) in literals) else "*" for s in path.split("/"))


def _decode_rest(model: Any, req: _Request, out: _Out) -> tuple[Any, Any] | None:
    routes, literals = _routes(req.service)
    query = urllib.parse.parse_qs(req.query, keep_blank_values=True)
    best: tuple[_Route, re.Match[str]] | None = None
    for route in routes:
        if route.method != req.method:
            continue
        m = route.regex.match(req.path)
        if m is None:
            continue
        if any(k not in query or (v is not None and query[k] != [v]) for k, v in route.query.items()):
            continue
        if best is None or route.literal + len(route.query) > best[0].literal + len(best[0].query):
            best = (route, m)
    if best is None:
        out.add(
            ENVELOPE,
            f"no operation of the {model.service_name} model is {req.method} "
            f"{_redacted_path(req.path, literals)} (segments it does not name shown as *)",
        )
        return None
    route, match = best
    op = route.op
    out.rename(f"{req.service} {op.name}")
    shape = op.input_shape
    if shape is None:
        return op, {}
    labels = {route.labels[g]: urllib.parse.unquote(v) for g, v in match.groupdict().items()}
    params: dict[str, Any] = {}
    consumed_query = set(route.query)
    query_map = None
    payload = shape.serialization.get("payload")
    body_members = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire not in labels:
                continue
            if labels[wire] == "":
                out.add(name, "empty URI label (AWS needs a value)")
                continue
            value = _from_text(member, labels[wire], name, out)
        elif location == "querystring":
            if member.type_name == "map":
                query_map = (name, member)
                continue
            if wire not in query:
                continue
            consumed_query.add(wire)
            if member.type_name == "list":
                value = [_from_text(member.member, v, f"{name}[{i}]", out) for i, v in enumerate(query[wire])]
            else:
                if len(query[wire]) > 1:
                    out.add(name, f"query parameter {wire} sent {len(query[wire])} times")
                value = _from_text(member, query[wire][0], name, out)
        elif location == "header":
            if wire.lower() not in req.headers:
                continue
            text = req.headers[wire.lower()]
            if member.type_name == "list":
                value = [_from_text(member.member, v.strip(), f"{name}[{i}]", out) for i, v in enumerate(text.split(","))]
            elif member.serialization.get("jsonvalue"):
                try:
                    value = json.loads(base64.b64decode(text, validate=True))
                except (binascii.Error, ValueError):
                    out.add(name, f"header {wire} is not base64-encoded JSON")
                    continue
            else:
                value = _from_text(member, text, name, out)
        elif location == "headers":
            prefix = wire.lower()
            value = {h[len(prefix):]: v for h, v in req.headers.items() if h.startswith(prefix)}
            if not value:
                continue
        elif location is None:
            if name != payload:
                body_members[name] = member
            continue
        else:
            continue
        if value is not _ABSENT:
            params[name] = value
    if query_map is not None:
        rest = {k: v for k, v in query.items() if k not in consumed_query}
        consumed_query.update(rest)
        if rest:
            value_shape = query_map[1].value
            params[query_map[0]] = {
                k: ([_from_text(value_shape.member, x, query_map[0], out) for x in v]
                    if value_shape.type_name == "list" else _from_text(value_shape, v[0], query_map[0], out))
                for k, v in rest.items()
            }
    for key in query:
        if key not in consumed_query:
            out.add(key, f"unknown query parameter: {shape.name} has no querystring member {key!r}")

    if payload is not None:
        member = shape.members[payload]
        if member.type_name in ("blob", "string"):
            if req.body:
                params[payload] = req.body if member.type_name == "blob" else req.text()
        elif req.body:
            try:
                document = json.loads(req.body)
            except ValueError:
                out.add(payload, "the body is not JSON")
                return op, params
            value = _from_json(member, document, payload, out)
            if value is not _ABSENT:
                params[payload] = value
    elif req.body:
        if req.content_type() != "application/json":
            out.add(ENVELOPE, "Content-Type must be application/json for a JSON body")
        try:
            document = json.loads(req.body)
        except ValueError:
            out.add(ENVELOPE, "the body is not JSON")
            return op, params
        if not isinstance(document, dict):
            out.add(ENVELOPE, f"the body must be a JSON object, got {_a(_json_type(document))}")
            return op, params
        by_wire = {m.serialization.get("name", n): n for n, m in body_members.items()}
        for key, item in document.items():
            name = by_wire.get(key)
            if name is None:
                out.add(key, f"unknown member: {shape.name} has no body member {key!r}")
                continue
            value = _from_json(shape.members[name], item, name, out)
            if value is not _ABSENT:
                params[name] = value
    return op, params


# --------------------------------------------------------------------------------------
# Validation against the shape


def _length_rule(shape: Any, size: int, what: str) -> str | None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    shown = "" if shape.metadata.get("sensitive") else f" {size}"
    if low is not None and size < low:
        return f"{what}{shown} below min {low} ({shape.name})"
    if high is not None and size > high:
        return f"{what}{shown} above max {high} ({shape.name})"
    return None


def _validate(shape: Any, value: Any, path: str, out: _Out) -> None:
    if value is _ABSENT or isinstance(value, _Timestamp):
        return
    t = shape.type_name
    if shape.metadata.get("document"):
        return
    if t == "structure":
        for name in shape.required_members:
            if name not in value:
                out.add(_join(path, name), f"required member missing ({shape.name})")
        if shape.metadata.get("union") and len(value) != 1:
            out.add(path, f"a union ({shape.name}) needs exactly one member set, got {len(value)}")
        for name, item in value.items():
            _validate(shape.members[name], item, _join(path, name), out)
    elif t == "list":
        rule = _length_rule(shape, len(value), "list length")
        if rule:
            out.add(path, rule)
        for i, item in enumerate(value):
            _validate(shape.member, item, f"{path}[{i}]", out)
    elif t == "map":
        rule = _length_rule(shape, len(value), "map size")
        if rule:
            out.add(path, rule)
        for i, (k, v) in enumerate(value.items()):
            _validate(shape.key, k, f"{path}{{#{i + 1}}}.key", out)
            _validate(shape.value, v, f"{path}{{#{i + 1}}}.value", out)
    elif t == "string":
        enum = shape.enum
        if enum and value not in enum:
            out.add(path, f"not one of the values of enum {shape.name}: {', '.join(enum)}")
        rule = _length_rule(shape, len(value), "length")
        if rule:
            out.add(path, rule)
        pattern = shape.metadata.get("pattern")
        if pattern is not None:
            try:
                regex = java_regex(pattern)
            except UnsupportedPattern as e:
                out.checked.skipped_patterns[pattern] = f"{shape.name}: {e}"
            else:
                if regex.fullmatch(value) is None:
                    out.add(path, f"does not match pattern {pattern!r} ({shape.name})")
    elif t in ("integer", "long", "float", "double"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            out.add(path, f"below min {low} ({shape.name})")
        if high is not None and value > high:
            out.add(path, f"above max {high} ({shape.name})")
    elif t == "blob":
        rule = _length_rule(shape, len(value), "byte length")
        if rule:
            out.add(path, rule)


# --------------------------------------------------------------------------------------
# One request


@dataclass
class _Request:
    service: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @classmethod
    def of(cls, entry: dict[str, Any]) -> _Request:
        if entry.get("body_base64") is not None:
            body = base64.b64decode(entry["body_base64"])
        else:
            body = (entry.get("body") or "").encode("utf-8")
        return cls(
            service=(entry.get("service") or "").lower(),
            method=entry.get("method", "POST").upper(),
            path=entry.get("path") or "/",
            query=entry.get("query") or "",
            headers={k.lower(): v for k, v in (entry.get("headers") or {}).items()},
            body=body,
        )

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def protocol(self) -> str:
        if self.headers.get("smithy-protocol") or self.path.startswith("/service/"):
            return "smithy-rpc-v2-cbor"
        if "x-amz-target" in self.headers:
            return "json"
        if self.content_type() == "application/x-www-form-urlencoded" or "Action=" in self.query:
            return "query"
        return "rest"


def client_of(entry: dict[str, Any]) -> str:
    """``"binary"`` (the Rust SDK), ``"boto3"`` or ``"other"``."""
    headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
    agents = headers.get("user-agent", "") + " " + headers.get("x-amz-user-agent", "")
    if BINARY_AGENT in agents:
        return "binary"
    if BOTO_AGENT.search(agents):
        return "boto3"
    return "other"


def check_request(entry: dict[str, Any]) -> Checked:
    """Check one ``GET /_emulator/requests`` entry against its operation's model."""
    req = _Request.of(entry)
    out = _Out(f"{req.service or '?'} ?")
    try:
        model = service_model(req.service)
    except Exception:
        out.add(ENVELOPE, f"botocore has no model for the signing name {req.service!r}")
        return out.checked
    protocol = req.protocol()
    spoken = model.metadata.get("protocols") or [model.protocol]
    if protocol == "rest":
        rest = [p for p in spoken if p.startswith("rest-")]
        if not rest:
            out.add(ENVELOPE, f"a REST request, the model speaks {', '.join(spoken)}")
            return out.checked
        protocol = rest[0]
    elif protocol not in spoken:
        out.add(ENVELOPE, f"sent with the {protocol} protocol, the model speaks {', '.join(spoken)}")
        return out.checked
    if protocol == "query":
        decoded = _decode_query(model, req, out)
    elif protocol in ("json", "smithy-rpc-v2-cbor"):
        decoded = _decode_rpc(model, req, out, protocol)
    elif protocol == "rest-json":
        decoded = _decode_rest(model, req, out)
    else:
        out.add(ENVELOPE, f"the checker does not parse the {protocol} protocol")
        return out.checked
    if decoded is not None:
        op, params = decoded
        if op.input_shape is not None and params is not _ABSENT:
            _validate(op.input_shape, params, "", out)
    return out.checked


# --------------------------------------------------------------------------------------
# pytest plugin


@dataclass
class _Summary:
    checked: Counter[str] = field(default_factory=Counter)  # operation -> requests
    clients: Counter[str] = field(default_factory=Counter)  # client -> requests checked
    unchecked: Counter[str] = field(default_factory=Counter)  # client -> requests not checked
    failed_tests: int = 0
    violations: int = 0
    lost: int = 0
    skipped_patterns: dict[str, str] = field(default_factory=dict)


SUMMARY = _Summary()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


class Collector:
    """The requests of one test: everything the emulator logs after ``start``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.start = _get(url + "/_emulator/requests/last")["seq"]
        self.entries: dict[int, dict[str, Any]] = {}

    def collect(self) -> None:
        for entry in _get(self.url + "/_emulator/requests"):
            if entry["seq"] > self.start:
                self.entries.setdefault(entry["seq"], entry)

    def forget(self) -> None:
        """Drop everything so far (a self-test that sends bad requests on purpose)."""
        self.start = _get(self.url + "/_emulator/requests/last")["seq"]
        self.entries.clear()

    def lost(self) -> int:
        """Requests logged during the test but cleared before :meth:`collect` saw them."""
        last = _get(self.url + "/_emulator/requests/last")["seq"]
        return (last - self.start) - len(self.entries)

    def check(self, summary: _Summary = SUMMARY) -> list[str]:
        """Problems found, one line each (empty: all well)."""
        problems = []
        for seq in sorted(self.entries):
            entry = self.entries[seq]
            client = client_of(entry)
            if client == "boto3":
                summary.unchecked[client] += 1
                continue
            checked = check_request(entry)
            summary.checked[checked.operation] += 1
            summary.clients[client] += 1
            summary.skipped_patterns.update(checked.skipped_patterns)
            who = "" if client == "binary" else " (a request of neither the binary nor boto3)"
            problems += [f"request #{seq}{who}: {v}" for v in checked.violations]
        summary.violations += len(problems)
        lost = self.lost()
        if lost:
            summary.lost += lost
            problems.append(
                f"{lost} request(s) of this test were cleared from the emulator (calls/clear or "
                "reset) before they could be read, so they were not checked"
            )
        return problems


@pytest.fixture(autouse=True)
def model_contract(request: pytest.FixtureRequest) -> Iterator[Collector | None]:
    """After each test that uses the emulator: every request the binary sent during it
    must satisfy the botocore model of its operation (else the test errors in teardown)."""
    if "emulator_session" not in request.fixturenames:
        yield None
        return
    emulator = request.getfixturevalue("emulator_session")
    collector = Collector(emulator.url)
    patch = pytest.MonkeyPatch()
    for name in ("clear_calls", "reset"):  # they empty the requests log too: read it first
        original = getattr(emulator, name)

        def read_first(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            collector.collect()
            return _original(*args, **kwargs)

        patch.setattr(emulator, name, read_first)
    try:
        yield collector
    finally:
        patch.undo()
    collector.collect()
    problems = collector.check()
    if problems:
        SUMMARY.failed_tests += 1
        pytest.fail(
            f"{len(problems)} request(s) break the botocore {botocore_version()} model "
            "(operation: member: rule):\n  " + "\n  ".join(problems),
            pytrace=False,
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    s = SUMMARY
    total = sum(s.checked.values())
    if not total and not s.unchecked:
        return
    write = terminalreporter.write_line
    write(
        f"model contract (botocore {botocore_version()}): {total} requests checked "
        f"({', '.join(f'{n} of {c}' for c, n in sorted(s.clients.items()))}), "
        f"{len(s.checked)} operations; {s.violations} violations in {s.failed_tests} tests; "
        f"{sum(s.unchecked.values())} boto3 requests of the tests not checked; {s.lost} lost to a clear"
    )
    write("  " + ", ".join(f"{op} {n}" for op, n in sorted(s.checked.items())))
    for pattern, why in sorted(s.skipped_patterns.items()):
        write(f"  pattern not checked: {pattern!r}: {why}")
