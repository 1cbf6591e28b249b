#!/usr/bin/env python3
"""Demo: userkeeper as a user sees it, a stack deployed by a CloudFormation engine.

    .venv/bin/python tools/demo.py [--transition-seconds 1] [--show-logs]

Starts the AWS emulator (ElastiCache, MemoryDB, Amazon MQ, Secrets Manager: tests/emulator)
and MiniStack (a local CloudFormation engine and Lambda, from .venv-ministack), creates the
release binary as the function, then deploys one stack through boto3's CloudFormation API:
create, an update in place, a replacing update, a failing update that the engine rolls back,
and the stack's deletion. After each it prints the new stack events, the outputs and what the
emulator holds. Then Secrets Manager's four rotation steps invoke the same function: an
ElastiCache user (two passwords) and, twice, an Amazon MQ user (alternating users, one reboot
each), printing each step's outcome.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# Run as a plain file, not as a module: the repo root on the path lets the harness in tests/e2e import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness.cfn_engine import EngineUnavailable, MiniStack, StackFailed  # noqa: E402
from tests.e2e.harness.emulator import Emulator, EmulatorUnavailable, create_activemq_broker  # noqa: E402
from tests.e2e.harness.events import ROTATION_STEPS, rotation_event  # noqa: E402
from tests.e2e.harness.function import BinaryMissing, require_binary  # noqa: E402

STACK = "userkeeper-demo"
RULE = "=" * 100
TOKEN = {"Ref": "ServiceToken"}


def custom(rtype: str, **props: Any) -> dict[str, Any]:
    return {"Type": f"Custom::{rtype}", "Properties": {"ServiceToken": TOKEN, "ServiceTimeout": 300, **props}}


def template(app_user_id: str = "demo-app", access: str = "on ~app:* +@read",
             members: list[Any] | None = None) -> dict[str, Any]:
    """ElastiCache: a `default` user, an app user, a group of both; MemoryDB: a user and an
    ACL; Amazon MQ: a broker user. Outputs through Ref and Fn::GetAtt."""
    return {
        "Parameters": {"ServiceToken": {"Type": "String"}, "BrokerId": {"Type": "String"}},
        "Resources": {
            "DefaultUser": custom("ElastiCacheUser", UserId="demo-default", UserName="default", Engine="valkey",
                                  AccessString="off ~* -@all", Passwords=["Demo-Default-Password-0123"]),
            "AppUser": custom("ElastiCacheUser", UserId=app_user_id, UserName="app", Engine="valkey",
                              AccessString=access,
                              AuthenticationMode={"Type": "password", "Passwords": ["Demo-Password-0123456789"]}),
            "AppUsers": custom("ElastiCacheUserGroup", UserGroupId="demo-users", Engine="valkey",
                               UserIds=members or [{"Ref": "DefaultUser"}, {"Ref": "AppUser"}]),
            "DbUser": custom("MemoryDBUser", UserName="demo-mdb", AccessString="on ~app:* +@read",
                             AuthenticationMode={"Type": "password", "Passwords": ["Demo-Password-0123456789"]}),
            "DbAcl": custom("MemoryDBACL", ACLName="demo-acl", UserNames=[{"Ref": "DbUser"}]),
            "QueueUser": custom("AmazonMQUser", BrokerId={"Ref": "BrokerId"}, Username="demo-queue",
                                Password="Demo-Password-0123", Groups=["apps"]),
        },
        "Outputs": {
            "AppUserId": {"Value": {"Ref": "AppUser"}},
            "AppUserArn": {"Value": {"Fn::GetAtt": ["AppUser", "Arn"]}},
            "UserGroupId": {"Value": {"Fn::GetAtt": ["AppUsers", "UserGroupId"]}},
            "AclName": {"Value": {"Fn::GetAtt": ["DbAcl", "ACLName"]}},
            "QueueUser": {"Value": {"Ref": "QueueUser"}},
            "QueueUserPendingChange": {"Value": {"Fn::GetAtt": ["QueueUser", "PendingChange"]}},
        },
    }


def holdings(emulator: Emulator, broker: str) -> list[str]:
    """What the emulator holds, one line per user, group, ACL (AWS's own `default`s left out)."""
    s = emulator.state()
    ec, mdb = s["elasticache"], s["memorydb"]
    lines = [f"elasticache user  {u['UserId']:<14} {u['Status']:<9} {u['AccessString']!r}, "
             f"{len(u.get('Passwords') or [])} password(s), owner {u['Tags'].get('userkeeper:logical-id')}"
             for u in ec["users"] if u["UserId"] != "default"]
    lines += [f"elasticache group {g['UserGroupId']:<14} {g['Status']:<9} members {sorted(g['UserIds'])}"
              for g in ec["user_groups"]]
    lines += [f"memorydb user     {u['Name']:<14} {u['Status']:<9} {u['AccessString']!r}"
              for u in mdb["users"] if u["Name"] != "default"]
    lines += [f"memorydb acl      {a['Name']:<14} {a['Status']:<9} users {sorted(a['UserNames'])}"
              for a in mdb["acls"] if a["Name"] != "open-access"]
    lines += [f"mq user           {u['Username']:<14} {'pending ' + u['Pending']['PendingChange'] if u['Pending'] else 'live'}"
              for u in emulator.mq_broker(broker)["users"] if u["Username"] != "admin"]
    return lines or ["(nothing)"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transition-seconds", type=float, default=1.0,
                    help="how long the emulator keeps users/groups in creating/modifying/deleting")
    ap.add_argument("--show-logs", action="store_true", help="print the function's log at the end")
    args = ap.parse_args()
    try:
        binary = require_binary()
        emulator = Emulator()
    except (BinaryMissing, EmulatorUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        engine = MiniStack()
    except EngineUnavailable as e:
        emulator.stop()
        print(f"error: {e}", file=sys.stderr)
        return 2
    ok = True
    try:
        emulator.config(strict=True, transition_seconds=args.transition_seconds, reboot_seconds=2.0)
        token = engine.create_function("userkeeper", binary, emulator.url)
        broker = create_activemq_broker(emulator, "demo-broker")
        print(f"emulator {emulator.url}, CloudFormation and Lambda (MiniStack) {engine.url}")
        print(f"function {token}: the release binary, provided.al2023")
        params = {"ServiceToken": token, "BrokerId": broker}
        seen = 0

        def deploy(title: str, tpl: dict[str, Any] | None, expect: str | None = None) -> None:
            nonlocal ok, seen
            print(RULE)
            print(title)
            print("-" * 100)
            try:
                if tpl is None:
                    stack_id = engine.cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackId"]
                    engine.delete(STACK, timeout_s=300)
                    name = stack_id
                else:
                    engine.deploy(STACK, tpl, params, expect=expect, timeout_s=300)
                    name = STACK
            except StackFailed as e:
                ok = False
                print(e)
                return
            events = engine.events(name)
            print("stack events:")
            print(engine.events_text(name, since=seen))
            seen = len(events)
            if tpl is not None:
                print("outputs:")
                for k, v in engine.outputs(STACK).items():
                    print(f"  {k:<24} {v}")
            print("emulator:")
            for line in holdings(emulator, broker):
                print(f"  {line}")

        deploy("create the stack", template())
        deploy("update in place (the app user's access string)", template(access="on ~app:* +@read +@write"))
        deploy("replacing update (a new UserId: new user, group updated, old user deleted in the cleanup)",
               template("demo-app-v2", "on ~app:* +@read +@write"))
        deploy("failing update (a group member that does not exist): rolled back",
               template("demo-app-v2", "on ~app:* +@all",
                        [{"Ref": "DefaultUser"}, {"Ref": "AppUser"}, "ghost-user"]),
               expect="UPDATE_ROLLBACK_COMPLETE")
        deploy("delete the stack", None)

        def rotate(title: str, arn: str) -> None:
            """One rotation as Secrets Manager runs it: a pending version, then the four steps."""
            nonlocal ok
            pending = emulator.new_pending(arn)
            print(RULE)
            print(f"{title}   [rotation of {arn.rsplit(':', 1)[-1]}, token {pending}]")
            print("-" * 100)
            for step in ROTATION_STEPS:
                out = engine.lam.invoke(FunctionName="userkeeper",
                                        Payload=json.dumps(rotation_event(step, arn, pending)).encode())
                result = json.loads(out["Payload"].read() or b"null")
                good = "FunctionError" not in out and isinstance(result, dict) and "Outcome" in result
                ok = ok and good
                print(f"  {step:<13} {result['Outcome'] if good else f'FAILED: {result}'}")
            current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
            print(f"  AWSCURRENT is now version {pending}: user {current['username']}, "
                  f"a new {len(current['password'])}-character password")

        # Rotation: Secrets Manager invokes the function once per step; the secret names the user.
        sm = emulator.client("secretsmanager")
        emulator.client("elasticache").create_user(
            UserId="demo-rotated", UserName="rotated", Engine="redis", AccessString="on ~* +@all",
            Passwords=["Demo-Password-0123456789"])
        ec_secret = sm.create_secret(Name="userkeeper/demo/elasticache", SecretString=json.dumps(
            {"engine": "elasticache", "user_id": "demo-rotated", "username": "rotated",
             "password": "Demo-Password-0123456789"}))["ARN"]
        emulator.wait_settled()
        # The binding a user made outside userkeeper needs (README, Trust model).
        emulator.client("elasticache").add_tags_to_resource(
            ResourceName="arn:aws:elasticache:us-east-1:123456789012:user:demo-rotated",
            Tags=[{"Key": "userkeeper:secret", "Value": ec_secret}])
        emulator.enable_rotation(ec_secret, token)
        rotate("rotation: ElastiCache user (two passwords: the old one keeps working)", ec_secret)
        user = next(u for u in emulator.state()["elasticache"]["users"] if u["UserId"] == "demo-rotated")
        print(f"  the user now holds {len(user['Passwords'])} passwords: the new one and the previous one")

        emulator.client("mq").create_user(BrokerId=broker, Username="demo-rotated", Password="Demo-Password-0123",
                                          Groups=["apps"])
        emulator.client("mq").reboot_broker(BrokerId=broker)
        emulator.wait_settled()
        mq_secret = sm.create_secret(Name="userkeeper/demo/mq", SecretString=json.dumps(
            {"engine": "mq", "broker_id": broker, "username": "demo-rotated", "password": "Demo-Password-0123",
             "reboot": True}))["ARN"]
        emulator.client("mq").create_tags(ResourceArn=emulator.client("mq").describe_broker(BrokerId=broker)["BrokerArn"],
                                          Tags={"userkeeper:secret:demo-rotated": mq_secret})
        emulator.enable_rotation(mq_secret, token)

        def reboots() -> int:
            return emulator.mq_broker(broker)["reboots"]

        before = reboots()
        for i in (1, 2):
            rotate(f"rotation {i}: Amazon MQ user (alternating users, one reboot)", mq_secret)
        print(f"  broker reboots for the two rotations: {reboots() - before}")
        if args.show_logs:
            print(RULE)
            logs = engine.client("logs").filter_log_events(logGroupName="/aws/lambda/userkeeper")["events"]
            print("\n".join(e["message"].rstrip() for e in logs))
        print(RULE)
        print("all steps as expected" if ok else "SOME STEPS DID NOT GO AS EXPECTED")
    finally:
        engine.stop()
        emulator.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
