"""The Python peer: the same ElastiCache-user custom resource, written the way crhelper's README
teaches (module-level helper and client, one decorated function per request type).

The bench runs it under the Lambda runtime interface client (``python -m awslambdaric
handler.handler``), as Lambda's Python runtime runs a handler."""

import time

import boto3
from crhelper import CfnResource

# INFO, not the README's DEBUG: the peer should not pay for log lines ours does not write.
helper = CfnResource(json_logging=False, log_level="INFO", boto_level="CRITICAL")

try:
    client = boto3.client("elasticache")
except Exception as e:  # crhelper's pattern: report init failures through the helper
    helper.init_failure(e)


def wait_active(user_id):
    # ElastiCache has no waiter for users; poll as a hand-written custom resource does.
    while True:
        user = client.describe_users(UserId=user_id)["Users"][0]
        if user["Status"] == "active":
            return
        time.sleep(1)


@helper.create
def create(event, context):
    p = event["ResourceProperties"]
    client.create_user(
        UserId=p["UserId"],
        UserName=p["UserName"],
        Engine=p["Engine"],
        AccessString=p["AccessString"],
        AuthenticationMode=p["AuthenticationMode"],
    )
    wait_active(p["UserId"])
    return p["UserId"]


@helper.update
def update(event, context):
    p = event["ResourceProperties"]
    client.modify_user(
        UserId=event["PhysicalResourceId"],
        AccessString=p["AccessString"],
        AuthenticationMode=p["AuthenticationMode"],
    )
    wait_active(event["PhysicalResourceId"])


@helper.delete
def delete(event, context):
    try:
        client.delete_user(UserId=event["PhysicalResourceId"])
    except client.exceptions.UserNotFoundFault:
        pass


def handler(event, context):
    helper(event, context)
