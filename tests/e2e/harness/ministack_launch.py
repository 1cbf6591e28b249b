"""Runs MiniStack (the CloudFormation engine of the stack tests) with two additions, inside
MiniStack's own virtualenv (``.venv-ministack``: its botocore pin differs from moto's).

Usage: ``.venv-ministack/bin/python tests/e2e/harness/ministack_launch.py RECORD_FILE``
(the port comes from ``GATEWAY_PORT``, as for ``python -m ministack``).

1. **A record** (JSON lines in ``RECORD_FILE``) of every Lambda invocation the engine runs
   (``{"kind": "invoke", "event": ...}``: custom-resource requests and the function's own
   asynchronous continuations) and every PUT to a custom resource's ResponseURL
   (``{"kind": "response", "token": ..., "body": ...}``), so that tests compare what the
   engine sent and received with what our own tests assume.

2. **The Delete after a failed Create** (``{"kind": "patched-delete", ...}`` in the record).
   CloudFormation sends a Delete for a custom resource whose Create answered FAILED, with the
   PhysicalResourceId of that answer, when it rolls the stack back (our notes on the
   protocol, lifecycle case 1: "Failed Create -> CloudFormation still sends a Delete later,
   carrying whatever PhysicalResourceId the failure response held"). MiniStack 1.5.33
   drops the answer's id and never sends it: a Create that had created its resource before
   failing would leave it behind. The patch keeps the id of a FAILED Create and puts the
   resource among those the rollback deletes, where the engine's own rollback then deletes
   it in its order, with its events. A stack tagged ``userkeeper-test:engine=as-shipped`` is
   left without the patch, so a test can show the gap itself.

Nothing else of the engine is changed.
"""

from __future__ import annotations

import json
import sys
import threading

from ministack.services import lambda_svc
from ministack.services.cloudformation import custom_resource, stacks

AS_SHIPPED_TAG = ("userkeeper-test:engine", "as-shipped")

_record_lock = threading.Lock()
_record_file = None


def record(entry: dict) -> None:
    with _record_lock:
        _record_file.write(json.dumps(entry, default=str) + "\n")
        _record_file.flush()


# -- 1. the record ---------------------------------------------------------------------------

_execute_function = lambda_svc._execute_function


def _recording_execute_function(func, event):
    config = func.get("config") or func
    record({"kind": "invoke", "function": config.get("FunctionName"), "event": event})
    return _execute_function(func, event)


_deliver_response = custom_resource.deliver_response
_responses: dict[str, dict] = {}


def _recording_deliver_response(token, response):
    record({"kind": "response", "token": token, "body": response})
    _responses[token] = response
    return _deliver_response(token, response)


# -- 2. the Delete after a failed Create -----------------------------------------------------

_current = threading.local()
_register_token = custom_resource.register_token


def _remembering_register_token(token):
    _current.token = token
    return _register_token(token)


# (stack id, logical id) -> what the rollback needs to delete a resource whose Create FAILED
_failed_creates: dict[tuple[str, str], dict] = {}
_invoke_custom_resource = custom_resource.invoke_custom_resource


def _invoke_keeping_failed_create(request_type, logical_id, props, stack_name, stack_id, resource_type,
                                  physical_id=None, old_props=None):
    _current.token = None
    try:
        return _invoke_custom_resource(request_type, logical_id, props, stack_name, stack_id, resource_type,
                                       physical_id=physical_id, old_props=old_props)
    except RuntimeError:
        answer = _responses.get(_current.token) or {}
        if request_type == "Create" and answer.get("Status") == "FAILED" and answer.get("PhysicalResourceId"):
            _failed_creates[(stack_id, logical_id)] = {
                "PhysicalResourceId": answer["PhysicalResourceId"],
                "ResourceType": resource_type,
                "Properties": props,
            }
        raise


_roll_back_operation = stacks._roll_back_operation


def _as_shipped(stack: dict) -> bool:
    return any((t.get("Key"), t.get("Value")) == AS_SHIPPED_TAG for t in stack.get("Tags") or [])


async def _roll_back_deleting_failed_create(stack_name, stack_id, stack, operation, reason_override=""):
    failed = _failed_creates.pop((stack_id, operation.get("failed_logical_id")), None)
    if failed is not None and not _as_shipped(stack):
        logical_id = operation["failed_logical_id"]
        stack.setdefault("_resources", {})[logical_id] = {
            **failed, "LogicalResourceId": logical_id, "ResourceStatus": "CREATE_FAILED", "Attributes": {},
        }
        operation["created"] = [*operation.get("created", []), logical_id]
        record({"kind": "patched-delete", "stack_id": stack_id, "logical_id": logical_id,
                "physical_id": failed["PhysicalResourceId"]})
    return await _roll_back_operation(stack_name, stack_id, stack, operation, reason_override)


def main() -> None:
    global _record_file
    _record_file = open(sys.argv[1], "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life
    sys.argv[1:] = []
    lambda_svc._execute_function = _recording_execute_function
    custom_resource.deliver_response = _recording_deliver_response
    custom_resource.register_token = _remembering_register_token
    custom_resource.invoke_custom_resource = _invoke_keeping_failed_create
    stacks._roll_back_operation = _roll_back_deleting_failed_create
    from ministack.app import main as ministack_main

    ministack_main()


if __name__ == "__main__":
    main()
