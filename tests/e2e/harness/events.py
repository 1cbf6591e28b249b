"""CloudFormation custom-resource and Secrets Manager rotation events, exactly as sent."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from .constants import DEFAULT_STACK_ID, EVENTS_DIR, SERVICE_TOKEN


ROTATION_STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def rotation_event(step: str, secret_id: str, token: str, rotation_token: str | None = None) -> dict[str, Any]:
    """A Secrets Manager rotation event, exactly as sent."""
    event = {"Step": step, "SecretId": secret_id, "ClientRequestToken": token}
    if rotation_token is not None:
        event["RotationToken"] = rotation_token
    return event


def cfn_strings(value: Any) -> Any:
    """CloudFormation's rendering of template values: every scalar leaf becomes a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {k: cfn_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cfn_strings(v) for v in value]
    return value


def cfn_event(
    request_type: str,
    resource_type: str,
    props: dict[str, Any] | None,
    physical_id: str | None = None,
    old_props: dict[str, Any] | None = None,
    response_url: str = "http://127.0.0.1:9001/cfn-response/unset",
    logical_id: str = "MyResource",
    stack_id: str = DEFAULT_STACK_ID,
    request_id: str | None = None,
    service_token: str = SERVICE_TOKEN,
) -> dict[str, Any]:
    """One custom-resource request exactly as CloudFormation sends it to Lambda."""
    if request_type not in ("Create", "Update", "Delete"):
        raise ValueError(request_type)
    if request_type in ("Update", "Delete") and physical_id is None:
        raise ValueError(f"{request_type} needs a physical_id")
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": request_id or str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": {"ServiceToken": service_token, **cfn_strings(props or {})},
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = physical_id
    if request_type == "Update":
        event["OldResourceProperties"] = {"ServiceToken": service_token, **cfn_strings(old_props or {})}
    return event


def event_files() -> list[Path]:
    return sorted(EVENTS_DIR.glob("*.json"))


def load_event(name_or_path: str | Path, response_url: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Load a sample from events/ (name with or without .json, or a path); substitute ResponseURL."""
    p = Path(name_or_path)
    if not p.is_absolute() and not p.exists():
        p = EVENTS_DIR / (p.name if p.suffix == ".json" else f"{p.name}.json")
    event = json.loads(p.read_text())
    if response_url is not None:
        event["ResponseURL"] = response_url
    event.update(overrides)
    return event
