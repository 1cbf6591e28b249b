#!/usr/bin/env python3
"""Demo: userkeeper answering CloudFormation against a local emulator.

    .venv/bin/python tools/demo.py [--transition-seconds 1] [--json-logs] [--show-logs]

Starts the emulator, a ResponseURL receiver and the release binary, then sends
Create -> Update -> a replacing Update -> Delete (of the replaced and of the current resource)
for a user, and the same for a user group (after creating the group's `default` user).
Prints each CloudFormation response and the emulator's state (passwords masked) after each step.
Then rotates the passwords of an ElastiCache user and (alternating users, one reboot per
rotation) an Amazon MQ user through Secrets Manager's four steps, printing each step's outcome.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Run as a plain file, not as a module: the repo root on the path lets the harness in tests/e2e import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness.constants import DEFAULT_STACK_ID, GROUP_TYPE, USER_TYPE  # noqa: E402
from tests.e2e.harness.emulator import Emulator, EmulatorUnavailable, create_activemq_broker  # noqa: E402
from tests.e2e.harness.events import ROTATION_STEPS, cfn_event, rotation_event  # noqa: E402
from tests.e2e.harness.function import BinaryMissing, Function, require_binary  # noqa: E402
from tests.e2e.harness.receiver import ResponseReceiver  # noqa: E402
from tests.e2e.harness.runtime_api import LocalRuntimeApi  # noqa: E402
from tests.e2e.harness.views import mask_passwords  # noqa: E402

STACK = DEFAULT_STACK_ID.replace("e2e-stack", "userkeeper-demo")


def print_state(state: dict) -> None:
    """One compact JSON line per resource, grouped by service and kind."""
    for service, kinds in state.items():
        for kind, items in (kinds or {}).items():
            print(f"  {service}.{kind}: {len(items)}")
            for item in items:
                print(f"    {json.dumps(item, default=str)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transition-seconds", type=float, default=1.0,
                    help="how long the emulator keeps users/groups in creating/modifying/deleting")
    ap.add_argument("--json-logs", action="store_true", help="run the function with AWS_LAMBDA_LOG_FORMAT=JSON")
    ap.add_argument("--show-logs", action="store_true", help="print the function's log lines of each step")
    args = ap.parse_args()
    try:
        require_binary()
        emulator = Emulator()
    except (BinaryMissing, EmulatorUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rt = LocalRuntimeApi()
    rec = ResponseReceiver()
    fn = None
    ok = True
    try:
        emulator.reset()
        emulator.config(transition_seconds=args.transition_seconds)
        fn = Function(rt, emulator.url, log_format="JSON" if args.json_logs else None)
        print(f"emulator {emulator.url}, runtime API {rt.address}, receiver port {rec.port}, pid {fn.pid}\n")

        def step(title: str, rq: str, rtype: str, props: dict, logical: str, **kw) -> dict:
            nonlocal ok
            event = cfn_event(rq, rtype, props, response_url=rec.url(logical), logical_id=logical,
                                stack_id=STACK, **kw)
            n = len(fn.lines)
            inv = fn.invoke(event, timeout_s=120)
            puts = [p for p in rec.for_url(event["ResponseURL"]) if p.accepted]
            print("=" * 100)
            print(f"{title}   [{rq} {rtype} {logical}"
                  f"{' ' + kw['physical_id'] if 'physical_id' in kw else ''}]  "
                  f"{(inv.duration_s or 0):.2f}s")
            print("-" * 100)
            if puts:
                body = puts[0].json()
                print("CloudFormation response:")
                print(json.dumps(body, indent=2))
                ok = ok and body.get("Status") == "SUCCESS"
            else:
                body = {}
                ok = False
                print(f"NO RESPONSE reached the ResponseURL (invocation: {inv})")
            if args.show_logs:
                print("function log:")
                for ln in fn.lines[n:]:
                    print(f"  {ln.text}")
            print("emulator state (passwords masked):")
            print_state(mask_passwords(emulator.state()))
            return body

        U, G = USER_TYPE, GROUP_TYPE
        u1 = {"UserId": "demo-app", "UserName": "app", "Engine": "redis", "AccessString": "on ~app:* +@read",
              "AuthenticationMode": {"Type": "password", "Passwords": ["Demo-Password-0123456789"]},
              "Tags": [{"Key": "team", "Value": "payments"}]}
        u2 = {**u1, "AccessString": "on ~app:* +@read +@write"}
        u3 = {**u2, "UserId": "demo-app-v2"}
        step("user: create", "Create", U, u1, "AppUser")
        step("user: update (access string)", "Update", U, u2, "AppUser", physical_id="demo-app", old_props=u1)
        step("user: replacing update (new UserId)", "Update", U, u3, "AppUser", physical_id="demo-app",
             old_props=u2)
        step("user: CloudFormation deletes the replaced user", "Delete", U, u2, "AppUser", physical_id="demo-app")
        step("user: stack delete", "Delete", U, u3, "AppUser", physical_id="demo-app-v2")

        d = {"UserId": "demo-default", "UserName": "default", "Engine": "redis", "AccessString": "off ~* -@all",
             "AuthenticationMode": {"Type": "no-password-required"}}
        m = {"UserId": "demo-member", "UserName": "member", "Engine": "redis", "AccessString": "on ~* +@read",
             "AuthenticationMode": {"Type": "password", "Passwords": ["Demo-Password-9876543210"]}}
        g1 = {"UserGroupId": "demo-group", "Engine": "redis", "UserIds": ["demo-default"]}
        g2 = {**g1, "UserIds": ["demo-default", "demo-member"]}
        g3 = {**g2, "UserGroupId": "demo-group-v2"}
        step("group: its `default` user", "Create", U, d, "DefaultUser")
        step("group: a member user", "Create", U, m, "MemberUser")
        step("group: create", "Create", G, g1, "AppGroup")
        step("group: update (add a member)", "Update", G, g2, "AppGroup", physical_id="demo-group", old_props=g1)
        step("group: replacing update (new UserGroupId)", "Update", G, g3, "AppGroup", physical_id="demo-group",
             old_props=g2)
        step("group: CloudFormation deletes the replaced group", "Delete", G, g2, "AppGroup",
             physical_id="demo-group")
        step("group: stack delete", "Delete", G, g3, "AppGroup", physical_id="demo-group-v2")
        step("group: delete the member user", "Delete", U, m, "MemberUser", physical_id="demo-member")
        step("group: delete the default user", "Delete", U, d, "DefaultUser", physical_id="demo-default")

        MU, MA, Q = "Custom::MemoryDBUser", "Custom::MemoryDBACL", "Custom::AmazonMQUser"
        mu1 = {"UserName": "demo-mdb", "AccessString": "on ~app:* +@read",
               "AuthenticationMode": {"Type": "password", "Passwords": ["Demo-Password-0123456789"]}}
        mu2 = {**mu1, "AccessString": "on ~app:* +@read +@write"}
        a1 = {"ACLName": "demo-acl", "UserNames": ["demo-mdb"]}
        a2 = {**a1, "ACLName": "demo-acl-v2"}
        step("memorydb: user create", "Create", MU, mu1, "DbUser")
        step("memorydb: user update (access string)", "Update", MU, mu2, "DbUser", physical_id="demo-mdb",
             old_props=mu1)
        step("memorydb: ACL create", "Create", MA, a1, "DbAcl")
        step("memorydb: replacing ACL update (new ACLName)", "Update", MA, a2, "DbAcl", physical_id="demo-acl",
             old_props=a1)
        step("memorydb: CloudFormation deletes the replaced ACL", "Delete", MA, a1, "DbAcl",
             physical_id="demo-acl")
        step("memorydb: stack delete (ACL)", "Delete", MA, a2, "DbAcl", physical_id="demo-acl-v2")
        step("memorydb: stack delete (user)", "Delete", MU, mu2, "DbUser", physical_id="demo-mdb")

        # ActiveMQ applies user changes at the broker's next reboot: the first user stays
        # pending; the second asks for ApplyImmediately, and the broker reboots once.
        emulator.config(reboot_seconds=2.0)
        broker = create_activemq_broker(emulator, "demo-broker")
        q1 = {"BrokerId": broker, "Username": "demo-queue", "Password": "Demo-Password-0123",
              "Groups": ["apps"], "ConsoleAccess": "false"}
        q2 = {**q1, "Username": "demo-queue-now", "ApplyImmediately": "true"}
        step("mq: user create (pending until reboot)", "Create", Q, q1, "QueueUser")
        step("mq: user create with ApplyImmediately (one reboot)", "Create", Q, q2, "QueueUserNow")
        step("mq: stack delete", "Delete", Q, q1, "QueueUser", physical_id=f"{broker}/demo-queue")
        step("mq: stack delete (ApplyImmediately)", "Delete", Q, q2, "QueueUserNow",
             physical_id=f"{broker}/demo-queue-now")
        def rotate(title: str, arn: str) -> None:
            """One rotation as Secrets Manager runs it: a pending version, then the four steps."""
            nonlocal ok
            token = emulator.new_pending(arn)
            print("=" * 100)
            print(f"{title}   [rotation of {arn.rsplit(':', 1)[-1]}, token {token}]")
            print("-" * 100)
            for name in ROTATION_STEPS:
                inv = fn.invoke(rotation_event(name, arn, token), timeout_s=120)
                result = inv.result if inv.kind == "response" else None
                ok = ok and result is not None
                outcome = result["Outcome"] if result else f"FAILED: {inv.body.decode(errors='replace')}"
                print(f"  {name:<13} {(inv.duration_s or 0):5.2f}s  {outcome}")
            current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
            print(f"  AWSCURRENT is now version {token}: user {current['username']}, "
                  f"a new {len(current['password'])}-character password")

        # Rotation: the secret names the user; Secrets Manager calls the function once per step.
        sm = emulator.client("secretsmanager")
        emulator.config(transition_seconds=args.transition_seconds, reboot_seconds=2.0)
        emulator.client("elasticache").create_user(
            UserId="demo-rotated", UserName="rotated", Engine="redis", AccessString="on ~* +@all",
            Passwords=["Demo-Password-0123456789"])
        ec_secret = sm.create_secret(Name="userkeeper/demo/elasticache", SecretString=json.dumps(
            {"engine": "elasticache", "user_id": "demo-rotated", "username": "rotated",
             "password": "Demo-Password-0123456789"}))["ARN"]
        emulator.enable_rotation(ec_secret)
        rotate("rotation: ElastiCache user (two passwords: the old one keeps working)", ec_secret)
        user = next(u for u in emulator.state()["elasticache"]["users"] if u["UserId"] == "demo-rotated")
        print(f"  the user now holds {len(user['Passwords'])} passwords: the new one and the previous one")

        emulator.client("mq").create_user(BrokerId=broker, Username="demo-rotated", Password="Demo-Password-0123",
                                          Groups=["apps"])
        emulator.client("mq").reboot_broker(BrokerId=broker)
        mq_secret = sm.create_secret(Name="userkeeper/demo/mq", SecretString=json.dumps(
            {"engine": "mq", "broker_id": broker, "username": "demo-rotated", "password": "Demo-Password-0123",
             "reboot": True}))["ARN"]
        emulator.enable_rotation(mq_secret)

        def reboots() -> int:
            return emulator.mq_broker(broker)["reboots"]

        before = reboots()
        for i in (1, 2):
            rotate(f"rotation {i}: Amazon MQ user (alternating users, one reboot)", mq_secret)
        print(f"  broker reboots for the two rotations: {reboots() - before}")
        print("=" * 100)
        print("all steps SUCCESS" if ok else "SOME STEPS DID NOT SUCCEED")
    finally:
        if fn:
            fn.stop()
        rt.close()
        rec.close()
        emulator.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
