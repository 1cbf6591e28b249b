"""userkeeper's metric lines: CloudWatch embedded metric format (EMF), checked twice.

1. Against the EMF specification
   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
   its published JSON schema (``emf_schema.json``, with its source) plus the rules the
   specification states in prose only (``spec_problems``).
2. Against our contract (issue 16; README, "Operating it"): namespace ``userkeeper``, the two
   kinds of line with their dimension sets, metric names and units, the values each dimension
   may take, outcomes consistent with the counts, and nothing that names a secret, a user, a
   broker, a stack or a request anywhere in the line (``contract_problems``).

``problems(line)`` runs both and returns what is wrong (empty: valid). ``emf_lines`` picks the
metric lines out of the function's output. Self-tests: ``test_metrics_validator.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

SCHEMA_FILE = Path(__file__).with_name("emf_schema.json")
INSTALL_HINT = "pip install -r tests/requirements.txt"

NAMESPACE = "userkeeper"
#: The specification's size limit of a log event (the stricter of the values it has stated).
MAX_LINE_BYTES = 256 * 1024
#: "This array MUST NOT contain more than 100 MetricDefinition objects" / "Numeric array metric
#: targets MUST NOT have more than 100 members".
MAX_METRICS = 100
MAX_VALUES = 100

RESOURCE_TYPES = {
    "Custom::ElastiCacheUser", "Custom::ElastiCacheUserGroup", "Custom::MemoryDBUser",
    "Custom::MemoryDBACL", "Custom::AmazonMQUser", "Custom::AmazonMQRabbitMQUser", "unknown",
}
REQUEST_TYPES = {"Create", "Update", "Delete", "unknown"}
ENGINES = {"elasticache", "memorydb", "mq", "rabbitmq", "unknown"}
STEPS = {"createSecret", "setSecret", "testSecret", "finishSecret", "unknown"}

REQUEST = "request"
ROTATION = "rotation"

#: Per kind of line: its dimension sets, its metrics (name -> unit), the dimensions' allowed
#: values, the outcomes (success, failure), and its success/failure counters.
KINDS: dict[str, dict[str, Any]] = {
    REQUEST: {
        "dimensions": [["Function"], ["Function", "ResourceType", "RequestType"]],
        "metrics": {"RequestSucceeded": "Count", "RequestFailed": "Count",
                    "RequestDuration": "Milliseconds", "Continuations": "Count"},
        "values": {"ResourceType": RESOURCE_TYPES, "RequestType": REQUEST_TYPES},
        "outcomes": ("SUCCESS", "FAILED"),
        "counters": ("RequestSucceeded", "RequestFailed"),
        "duration": "RequestDuration",
    },
    ROTATION: {
        "dimensions": [["Function"], ["Function", "Engine", "Step"]],
        "metrics": {"RotationStepSucceeded": "Count", "RotationStepFailed": "Count",
                    "RotationStepDuration": "Milliseconds", "LoginTests": "Count"},
        "values": {"Engine": ENGINES, "Step": STEPS},
        "outcomes": ("succeeded", "failed"),
        "counters": ("RotationStepSucceeded", "RotationStepFailed"),
        "duration": "RotationStepDuration",
    },
}

#: A Lambda function name (what AWS_LAMBDA_FUNCTION_NAME holds), or "local".
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: A short error code: an AWS service's (InvalidUserStateFault) or userkeeper's own kind.
ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")
#: What identifies a secret, stack, request, broker or resource: never in a metric line.
IDENTIFYING = [
    (re.compile(r"arn:aws[a-z-]*:"), "an ARN"),
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
     "a UUID (request id, stack id, token)"),
    (re.compile(r"\bb-[0-9a-fA-F]{8}-"), "an Amazon MQ broker id"),
]


# ------------------------------------------------------------------------------------------
# finding the lines

def is_emf_line(line: str) -> bool:
    """Whether ``line`` is, or tries to be, a metric line: it mentions ``"_aws"`` (a broken
    one counts too, so that validating it fails)."""
    return '"_aws"' in line


def emf_lines(lines: Iterable[str]) -> list[str]:
    return [ln for ln in lines if is_emf_line(ln)]


def parse(line: str) -> dict[str, Any]:
    return json.loads(line)


# ------------------------------------------------------------------------------------------
# 1. the specification

_validator = None


def _schema_validator() -> Any:
    global _validator
    if _validator is None:
        try:
            import jsonschema
        except ImportError as e:  # a missing dependency fails loudly, with the fix
            raise RuntimeError(f"the EMF validator needs jsonschema: {INSTALL_HINT}") from e
        schema = json.loads(SCHEMA_FILE.read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _validator = cls(schema)
    return _validator


def schema_problems(doc: Any) -> list[str]:
    return [f"schema: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in sorted(_schema_validator().iter_errors(doc), key=lambda e: list(map(str, e.path)))]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def spec_problems(line: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The parsed document (None if it is not one JSON object) and what breaks the
    specification: its schema, and its prose rules on the root node and target members."""
    if len(line.encode("utf-8")) > MAX_LINE_BYTES:
        return None, [f"spec: {len(line.encode())} bytes, over the {MAX_LINE_BYTES}-byte log event limit"]
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as e:
        # "a valid JSON object with no additional data at the beginning or end"
        return None, [f"spec: not one JSON object with nothing before or after it: {e}"]
    if not isinstance(doc, dict):
        return None, [f"spec: the root node must be a JSON object, got {type(doc).__name__}"]
    out = schema_problems(doc)
    if out:
        return doc, out
    for i, directive in enumerate(doc["_aws"]["CloudWatchMetrics"]):
        where = f"spec: CloudWatchMetrics[{i}]"
        if len(directive["Metrics"]) > MAX_METRICS:
            out.append(f"{where}: more than {MAX_METRICS} metrics")
        for dset in directive["Dimensions"]:
            for name in dset:
                # "The values within this array MUST also be members on the root-node";
                # "A dimension target MUST have a string value".
                if name not in doc:
                    out.append(f"{where}: dimension {name!r} is not a member of the root node")
                elif not isinstance(doc[name], str):
                    out.append(f"{where}: dimension {name!r} must be a string, got {doc[name]!r}")
        for metric in directive["Metrics"]:
            name = metric["Name"]
            value = doc.get(name)
            # "Metric targets MUST be either a numeric value or an array of numeric values."
            if name not in doc:
                out.append(f"{where}: metric {name!r} is not a member of the root node")
            elif isinstance(value, list):
                if not all(_is_number(v) for v in value) or len(value) > MAX_VALUES:
                    out.append(f"{where}: metric {name!r} must be at most {MAX_VALUES} numbers, got {value!r}")
            elif not _is_number(value):
                out.append(f"{where}: metric {name!r} must be numeric, got {value!r}")
    return doc, out


# ------------------------------------------------------------------------------------------
# 2. our contract

def kind_of(doc: dict[str, Any]) -> str | None:
    """``REQUEST`` or ``ROTATION`` by the line's dimension sets, else None."""
    try:
        dims = doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    except (KeyError, IndexError, TypeError):
        return None
    for kind, spec in KINDS.items():
        if dims == spec["dimensions"]:
            return kind
    return None


def contract_problems(line: str, doc: dict[str, Any], function_name: str | None = None,
                      forbidden: Iterable[str] = ()) -> list[str]:
    out: list[str] = []
    # Nothing identifying, anywhere in the line: values, keys, error codes alike.
    for pattern, what in IDENTIFYING:
        m = pattern.search(line)
        if m:
            out.append(f"contract: {what} in the line: {m.group(0)!r}")
    for text in forbidden:
        if text and text in line:
            out.append(f"contract: {text!r} (a name or id of a secret, user, broker, stack or request) in the line")

    directives = doc["_aws"]["CloudWatchMetrics"]
    if len(directives) != 1:
        return out + [f"contract: exactly one metric directive, got {len(directives)}"]
    directive = directives[0]
    if directive["Namespace"] != NAMESPACE:
        out.append(f"contract: namespace {directive['Namespace']!r}, expected {NAMESPACE!r}")
    kind = kind_of(doc)
    if kind is None:
        return out + ["contract: dimension sets are neither "
                      + " nor ".join(json.dumps(k["dimensions"]) for k in KINDS.values())
                      + f": {json.dumps(directive['Dimensions'])}"]
    spec = KINDS[kind]
    metrics = {m["Name"]: m.get("Unit") for m in directive["Metrics"]}
    if metrics != spec["metrics"] or len(directive["Metrics"]) != len(spec["metrics"]):
        out.append(f"contract: {kind} metrics (name: unit) {metrics}, expected {spec['metrics']}")

    # Only the members the contract names: anything else could carry an identifier.
    allowed = {"_aws", "Function", "Outcome", "ErrorCode", *spec["values"], *spec["metrics"]}
    extra = sorted(set(doc) - allowed)
    if extra:
        out.append(f"contract: members not in the contract: {extra}")

    fn = doc.get("Function")
    if not isinstance(fn, str) or not FUNCTION_NAME.match(fn):
        out.append(f"contract: Function must be a Lambda function name, got {fn!r}")
    elif function_name is not None and fn != function_name:
        out.append(f"contract: Function {fn!r}, expected {function_name!r}")
    for dim, values in spec["values"].items():
        if doc.get(dim) not in values:
            out.append(f"contract: {dim} {doc.get(dim)!r} is not one of {sorted(values)}")

    ok, failed = spec["outcomes"]
    outcome = doc.get("Outcome")
    if outcome not in spec["outcomes"]:
        out.append(f"contract: Outcome {outcome!r} is not one of {list(spec['outcomes'])}")
    succeeded_n, failed_n = (doc.get(c) for c in spec["counters"])
    expected = {ok: (1, 0), failed: (0, 1)}.get(outcome)
    if expected is not None and (succeeded_n, failed_n) != expected:
        out.append(f"contract: Outcome {outcome} with {spec['counters'][0]}={succeeded_n!r}, "
                   f"{spec['counters'][1]}={failed_n!r}; expected {expected}")
    if outcome == failed:
        code = doc.get("ErrorCode")
        if not isinstance(code, str) or not ERROR_CODE.match(code):
            out.append(f"contract: a failure needs a short ErrorCode, got {code!r}")
    elif "ErrorCode" in doc:
        out.append(f"contract: ErrorCode on a {outcome!r} line")

    duration = doc.get(spec["duration"])
    if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
        out.append(f"contract: {spec['duration']} must be whole milliseconds >= 0, got {duration!r}")
    if kind == REQUEST:
        cont = doc.get("Continuations")
        if not isinstance(cont, int) or isinstance(cont, bool) or cont < 0:
            out.append(f"contract: Continuations must be a count >= 0, got {cont!r}")
    else:
        logins = doc.get("LoginTests")
        if logins not in (0, 1) or isinstance(logins, bool):
            out.append(f"contract: LoginTests must be 0 or 1, got {logins!r}")
        elif logins == 1 and doc.get("Step") not in ("setSecret", "testSecret"):
            # testSecret logs in to test; setSecret to see whether a retry's work is done
            # already (src/services/common/two_passwords.rs). No other step touches the store.
            out.append(f"contract: LoginTests=1 on {doc.get('Step')!r}: only setSecret and testSecret log in")
    return out


def problems(line: str, function_name: str | None = None, forbidden: Iterable[str] = ()) -> list[str]:
    """Everything wrong with one metric line: the specification first, then our contract."""
    doc, out = spec_problems(line)
    if doc is None or out:
        return out
    return contract_problems(line, doc, function_name, forbidden)


def assert_valid(line: str, function_name: str | None = None, forbidden: Iterable[str] = ()) -> dict[str, Any]:
    found = problems(line, function_name, forbidden)
    assert not found, "invalid metric line:\n  " + "\n  ".join(found) + f"\nline: {line}"
    return json.loads(line)
