"""The account, region, function and stack every piece of the harness agrees on."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
EVENTS_DIR = REPO_ROOT / "events"

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
FUNCTION_NAME = "userkeeper"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{FUNCTION_NAME}"
SERVICE_TOKEN = FUNCTION_ARN
DEFAULT_STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/e2e-stack/"
    "5b918d10-cd98-11ea-90d5-0a9cd3354c10"
)
INSTALL_HINT = "pip install -r tests/requirements.txt"
BUILD_HINT = "cargo build --release"

USER_TYPE = "Custom::ElastiCacheUser"
GROUP_TYPE = "Custom::ElastiCacheUserGroup"
