"""End-to-end: ``Custom::ElastiCacheUser`` and ``Custom::ElastiCacheUserGroup``, the release
binary driven through a local Lambda Runtime API against the moto-based emulator.

Every ``cfn.send``/``create``/``update``/``delete`` already checks the response protocol
(exactly one accepted PUT, empty Content-Type, byte Content-Length, JSON body fields, <= 4096
bytes, invocation returns a response before its deadline): see ``cfn_helpers.assert_protocol``.
What ElastiCache does as MemoryDB does is tested for both in ``test_redis_family.py``.

The tests of the protocol whatever the service (the PUT and its retries, deadlines, secrets in
logs, JSON logs, events that are not requests, the sample events under events/) are here too,
driving ElastiCache resources.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from . import metrics
from .cfn_helpers import CfnDriver, assert_failed, assert_success, count, marker
from .harness.constants import DEFAULT_STACK_ID
from .harness.emulator import Emulator, create_activemq_broker, with_broker
from .harness.events import event_files, load_event
from .harness.function import Function
from .harness.receiver import ResponseReceiver, check_put
from .harness.views import CfnResult, contains_any
from .redis_family import ELASTICACHE as EC, PW1, PW2, PW3

USER = EC.user_type
GROUP = EC.group_type
PLANTED = "Planted-Secret-Value-1234567"
PLANTED_IN_SECRET = "Planted-Secret-From-Manager-7654321"


# ------------------------------------------------------------------------------------------
# users: lifecycle


def test_user_name_change_without_new_user_id_fails(cfn: CfnDriver, emulator: Emulator):
    old = EC.user_props("app-user", "app")
    assert_success(cfn.create(USER, old, logical_id="AppUser"))
    emulator.clear_calls()
    new = EC.user_props("app-user", "app-renamed")
    upd = cfn.update(USER, "app-user", new, old, logical_id="AppUser")
    assert_failed(upd, "UserId")
    assert upd.physical_id == "app-user", "a failed Update must keep the physical id"
    assert EC.mutations(emulator) == []
    assert EC.describe_user(emulator, "app-user")["UserName"] == "app"


def test_rollback_of_failed_user_name_change_succeeds(cfn: CfnDriver, emulator: Emulator):
    """Lifecycle case 4: after the failed Update, CloudFormation rolls back with an Update whose
    old and new properties are swapped. The user still has its original name, so the rollback
    must succeed (else the stack ends in UPDATE_ROLLBACK_FAILED)."""
    old = EC.user_props("app-user", "app")
    assert_success(cfn.create(USER, old, logical_id="AppUser"))
    new = EC.user_props("app-user", "app-renamed")
    assert_failed(cfn.update(USER, "app-user", new, old, logical_id="AppUser"))
    rollback = cfn.update(USER, "app-user", old, new, logical_id="AppUser")
    assert_success(rollback)
    assert rollback.physical_id == "app-user"


@pytest.mark.parametrize(
    "extra,auth_type",
    [
        ({"AuthenticationMode": {"Type": "no-password-required"}}, "no-password"),
        ({"NoPasswordRequired": "true"}, "no-password"),
        ({"AuthenticationMode": {"Type": "iam"}}, "iam"),
        ({"Passwords": [PW1, PW2], "NoPasswordRequired": "false"}, "password"),
    ],
    ids=["authmode-no-password", "NoPasswordRequired-true-string", "iam", "Passwords-list-false-string"],
)
def test_user_authentication_variants(cfn: CfnDriver, emulator: Emulator, extra: dict, auth_type: str):
    props = {**EC.user_props(auth=None), **extra}
    res = cfn.create(USER, props, logical_id="AppUser")
    assert_success(res)
    u = EC.describe_user(emulator, "app-user")
    assert u["Authentication"]["Type"] in (auth_type, "no-password-required" if auth_type == "no-password" else auth_type)


def test_user_valkey_engine(cfn: CfnDriver, emulator: Emulator):
    res = cfn.create(USER, EC.user_props(engine="valkey"), logical_id="AppUser")
    assert_success(res)
    assert EC.describe_user(emulator, "app-user")["Engine"] == "valkey"


# ------------------------------------------------------------------------------------------
# users: validation before any AWS call


def test_unknown_resource_type(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", "Custom::ElastiCacheUsr", EC.user_props())
    res = cfn.send(ev)
    assert_failed(res, "Custom::ElastiCacheUser", "Custom::ElastiCacheUserGroup")
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


def test_delete_after_failed_create_of_unknown_type_is_noop(cfn: CfnDriver, emulator: Emulator):
    """Lifecycle case 1: whatever failed the Create, the Delete of its marker must succeed,
    or the stack cannot be deleted."""
    ev = cfn.event("Create", "Custom::Nonsense", {"Foo": "bar"})
    res = cfn.send(ev)
    assert_failed(res)
    dele = cfn.delete("Custom::Nonsense", res.physical_id, {"Foo": "bar"})
    assert_success(dele)
    assert dele.physical_id == res.physical_id
    assert emulator.actions() == []


@pytest.mark.parametrize("rtype,props,bad", [
    (USER, {**EC.user_props(), "UserNmae": "app"}, "UserNmae"),
    (GROUP, {**EC.group_props(), "UserIDs": ["default-user"]}, "UserIDs"),
], ids=["user", "group"])
def test_unknown_property_fails_naming_it(cfn: CfnDriver, emulator: Emulator, rtype, props, bad):
    ev = cfn.event("Create", rtype, props)
    res = cfn.send(ev)
    assert_failed(res, bad)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


@pytest.mark.parametrize("rtype,missing", [
    (USER, "UserId"), (USER, "UserName"), (USER, "Engine"), (GROUP, "UserGroupId"),
])
def test_missing_required_property_fails_naming_it(cfn: CfnDriver, emulator: Emulator, rtype, missing):
    props = EC.user_props() if rtype == USER else EC.group_props()
    del props[missing]
    ev = cfn.event("Create", rtype, props)
    res = cfn.send(ev)
    assert_failed(res, missing)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


def test_bad_boolean_string_fails_before_any_aws_call(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", USER, {**EC.user_props(auth=None), "NoPasswordRequired": "maybe"})
    res = cfn.send(ev)
    assert_failed(res, "NoPasswordRequired")
    assert emulator.actions() == []


def test_huge_bad_input_still_fits_4096_bytes(cfn: CfnDriver, emulator: Emulator):
    """A reason built from enormous input is cut so the body stays within 4096 bytes, keeps
    valid UTF-8 and has no control characters."""
    name = "Ünknown\x1b[31m" + "é" * 3000
    ev = cfn.event("Create", USER, {**EC.user_props(), name: "x", "UserId": "bad\x07id-" + "ü" * 2000})
    res = cfn.send(ev)  # assert_protocol: <= 4096 bytes, no control characters in Reason
    assert_failed(res)
    assert res.physical_id == marker(ev)
    assert emulator.actions() == []


@pytest.mark.parametrize("rtype", [USER, GROUP])
def test_service_token_and_timeout_accepted(cfn: CfnDriver, emulator: Emulator, rtype):
    if rtype == GROUP:
        assert_success(cfn.create(USER, EC.default_user_props(), logical_id="DefaultUser"))
        props = EC.group_props(ServiceTimeout="300")
    else:
        props = EC.user_props(ServiceTimeout="300")
    res = cfn.create(rtype, props, logical_id="Res")
    assert_success(res)


# ------------------------------------------------------------------------------------------
# users: idempotency and ownership


def test_create_retried_by_lambda_after_delivery_failure(cfn: CfnDriver, emulator: Emulator):
    """The ResponseURL answers 5xx until the function gives up delivering before its deadline,
    so the invocation fails and Lambda retries the same event: the retry must answer SUCCESS
    with the same physical id, without a second user."""
    cfn.receiver.statuses.extend([503] * 1000)
    ev = cfn.event("Create", USER, EC.user_props(), logical_id="AppUser")
    first = cfn.send(ev, timeout_s=8, check=False)
    inv = first.invocation
    assert inv.finished and inv.before_deadline, inv
    assert inv.kind == "error", f"an undelivered response must fail the invocation: {inv}"
    assert len(first.puts) >= 2 and all(p.status == 503 for p in first.puts), first.puts
    cfn.receiver.statuses.clear()
    retry = cfn.send(ev)
    assert_success(retry)
    assert retry.physical_id == "app-user"
    assert len(retry.puts) - len(first.puts) == 1  # the same URL: only the new PUT is counted here
    users = [u for u in emulator.state()["elasticache"]["users"] if u["UserId"] == "app-user"]
    assert len(users) == 1 and users[0]["Status"] == "active"
    assert count(emulator.actions("elasticache"), "CreateUser") == 1


@pytest.mark.parametrize("status", [403, 301])
def test_response_refused_by_the_url_is_final(cfn: CfnDriver, emulator: Emulator, status: int):
    """A 4xx (an expired or tampered pre-signed URL) or a 3xx (not followed: the response
    would go elsewhere) will not heal: one PUT, no retry, and the invocation succeeds, so that
    Lambda does not run the whole request again to meet the same refusal."""
    cfn.receiver.statuses.extend([status] * 5)
    ev = cfn.event("Create", USER, EC.user_props(), logical_id="AppUser")
    res = cfn.send(ev, timeout_s=15, check=False)
    inv = res.invocation
    assert inv.finished and inv.before_deadline and inv.kind == "response", inv
    assert [p.status for p in res.puts] == [status], res.puts
    assert not check_put(res.puts[0], ev)
    assert json.loads(res.puts[0].body)["Status"] == "SUCCESS"
    assert inv.result.get("Delivered") is False and inv.result.get("HttpStatus") == status, inv.result
    assert EC.state_user(emulator, "app-user")["Status"] == "active"


@pytest.mark.parametrize("url", ["http://192.0.2.10:9001/cfn-response/x?X-Amz-Signature=abc",
                                 "http://127.0.0.1.example.com/cfn-response/x", "ftp://127.0.0.1/x"],
                         ids=["http-not-loopback", "loopback-lookalike", "ftp"])
def test_response_url_must_be_https_or_loopback(cfn: CfnDriver, emulator: Emulator, url: str):
    """CloudFormation's ResponseURL is always https: an event naming another place for the
    response (which carries the resource's Data) is refused before anything is done."""
    ev = cfn.event("Create", USER, EC.user_props(), logical_id="AppUser", response_url=url)
    inv = cfn.fn.invoke(ev, timeout_s=15)
    assert inv.finished and inv.before_deadline and inv.kind == "error", inv
    assert "https" in json.dumps(inv.result), inv.result
    assert emulator.actions() == []
    assert cfn.receiver.requests == []


def test_create_colliding_with_user_of_another_stack(cfn_factory, fn: Function, emulator: Emulator):
    other = DEFAULT_STACK_ID.replace("e2e-stack", "other-stack")
    assert_success(cfn_factory(fn, other).create(USER, EC.user_props(), logical_id="AppUser"))
    ev_driver = cfn_factory(fn)
    res = ev_driver.create(USER, EC.user_props(), logical_id="AppUser")
    assert_failed(res, "not managed by this stack")
    assert res.physical_id.startswith("userkeeper:failed-create:")


@pytest.mark.parametrize("rtype", [USER, GROUP])
@pytest.mark.parametrize("physical_id", [
    "userkeeper:failed-create:2f1c0d9e-5b8a-4e7f-9c6d-3a2b1c0d9e8f",
    "mystack-MyUser-ABC:def",
    "arn:aws:cloudformation:us-east-1:123456789012:stack/mystack/1234",
    "e2e-stack-MyResource-1X2Y3Z4W5V6U/with/slash",
], ids=["failed-create-marker", "colon", "arn", "slash"])
def test_delete_of_ids_we_never_issue_is_a_noop(cfn: CfnDriver, emulator: Emulator, rtype, physical_id):
    props = EC.user_props() if rtype == USER else EC.group_props()
    res = cfn.delete(rtype, physical_id, props)
    assert_success(res)
    assert res.physical_id == physical_id
    assert emulator.actions() == []


def test_failed_create_then_delete_marker(cfn: CfnDriver, emulator: Emulator):
    ev = cfn.event("Create", USER, EC.user_props(passwords=["too-short"]), logical_id="AppUser")
    res = cfn.send(ev)
    assert_failed(res)
    assert res.physical_id == f"userkeeper:failed-create:{ev['RequestId']}"
    dele = cfn.delete(USER, res.physical_id, ev["ResourceProperties"], logical_id="AppUser")
    assert_success(dele)
    assert dele.physical_id == res.physical_id
    assert emulator.actions() == []


# ------------------------------------------------------------------------------------------
# the PUT to the ResponseURL


def test_put_retried_after_500(cfn: CfnDriver, emulator: Emulator):
    cfn.receiver.statuses.extend([500])
    res = cfn.create(USER, EC.user_props(), logical_id="AppUser")
    assert_success(res)
    assert [p.status for p in res.puts] == [500, 200]
    assert res.puts[0].body == res.puts[1].body


def test_put_retried_after_several_errors(cfn: CfnDriver, emulator: Emulator):
    cfn.receiver.statuses.extend([500, 503, 502])
    ev = cfn.event("Delete", USER, EC.user_props("gone"), physical_id="gone")
    res = cfn.send(ev)
    assert_success(res)
    assert [p.status for p in res.puts] == [500, 503, 502, 200]
    assert len({p.body for p in res.puts}) == 1


def test_slow_receiver_gets_one_put(cfn: CfnDriver, emulator: Emulator):
    cfn.receiver.delay_s = 1.5
    res = cfn.delete(USER, "gone", EC.user_props("gone"))
    assert_success(res)
    assert len(res.puts) == 1


@pytest.mark.parametrize("mode", ["refused", "blackhole"])
def test_receiver_down_invocation_ends_before_deadline(cfn: CfnDriver, emulator: Emulator, mode: str):
    if mode == "refused":
        cfn.receiver.down()
    else:
        cfn.receiver.blackhole()
    ev = cfn.event("Delete", USER, EC.user_props("gone"), physical_id="gone")
    res = cfn.send(ev, timeout_s=15, check=False)
    inv = res.invocation
    assert inv.finished, f"no result at all (hang): {inv}"
    assert inv.before_deadline, f"result came after the deadline: {inv}"
    assert inv.kind in ("response", "error")
    assert cfn.receiver.requests == []  # nothing reached the real receiver
    assert cfn.fn.exited() is None, "the function died"


# ------------------------------------------------------------------------------------------
# deadlines


def test_create_times_out_before_the_lambda_deadline(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=60)
    ev = cfn.event("Create", USER, EC.user_props(), logical_id="AppUser")
    res = cfn.send(ev, timeout_s=10)
    assert_failed(res, "timed out while waiting for")
    put = res.accepted[0]
    assert put.wall_ms < res.invocation.deadline_ms
    assert res.invocation.duration_s < 10


def test_service_timeout_bounds_the_wait(cfn: CfnDriver, emulator: Emulator):
    emulator.config(transition_seconds=60)
    ev = cfn.event("Create", USER, EC.user_props(ServiceTimeout="8"), logical_id="AppUser")
    res = cfn.send(ev, timeout_s=60)
    assert_failed(res, "timed out while waiting for")
    waited = res.accepted[0].at - res.invocation.served_at
    assert waited <= 8.5, f"answered {waited:.2f}s after the event, ServiceTimeout is 8"
    assert waited >= 3, f"gave up suspiciously early ({waited:.2f}s)"


# ------------------------------------------------------------------------------------------
# secrets never reach logs or responses


def _secret_scenario(cfn: CfnDriver, emulator: Emulator) -> None:
    sm = emulator.client("secretsmanager")
    arn = sm.create_secret(Name="app/redis", SecretString=json.dumps({"password": PLANTED_IN_SECRET}))["ARN"]
    p1 = EC.user_props(passwords=[PLANTED])
    assert_success(cfn.create(USER, p1, logical_id="AppUser"))
    p2 = EC.user_props(auth=None, PasswordSecretArn=arn)
    assert_success(cfn.update(USER, "app-user", p2, p1, logical_id="AppUser"))
    # a bad password that contains the planted one
    bad = EC.user_props(passwords=[PLANTED + "/"])
    assert_failed(cfn.update(USER, "app-user", bad, p2, logical_id="AppUser"))
    # an unknown property whose value is a secret
    assert_failed(cfn.create(USER, {**EC.user_props("other"), "Pasword": PLANTED}, logical_id="Other"))
    # AWS refuses: a collision with a foreign user
    emulator.client("elasticache").create_user(UserId="foreign", UserName="f", Engine="redis",
                                               AccessString="on", Passwords=[PW3])
    assert_failed(cfn.create(USER, EC.user_props("foreign", passwords=[PLANTED]), logical_id="Foreign"))
    assert_success(cfn.delete(USER, "app-user", p2, logical_id="AppUser"))


@pytest.mark.parametrize("log_format,extra_env", [
    (None, {}),
    ("JSON", {}),
    ("JSON", {"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}),
    (None, {"RUST_LOG": "debug"}),
    # Lambda's advanced logging controls let an operator pick TRACE (ApplicationLogLevel).
    ("JSON", {"AWS_LAMBDA_LOG_LEVEL": "TRACE"}),
], ids=["text", "json", "json-debug", "text-rust-log-debug", "json-trace"])
def test_secrets_never_logged(start_function, cfn_factory, emulator: Emulator, log_format, extra_env):
    fn = start_function(log_format=log_format, extra_env=extra_env)
    cfn = cfn_factory(fn)
    _secret_scenario(cfn, emulator)
    fn.stop()
    lines = fn.log_lines()
    assert lines, "the function logged nothing at all; the test would prove nothing"
    needles = [PLANTED, PLANTED_IN_SECRET, *cfn.receiver.secrets]
    leaks = contains_any(lines, needles)
    assert not leaks, f"secrets in logs: {leaks[:5]}"
    bodies = [p.body for r in cfn.results for p in r.puts]
    bodies += [r.invocation.body or b"" for r in cfn.results]
    leaks = contains_any(bodies, needles)
    assert not leaks, f"secrets in responses: {leaks[:5]}"


def _walk(node: Any, path: str = ""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, node


def test_json_logs_carry_request_context(start_function, cfn_factory, emulator: Emulator):
    """AWS_LAMBDA_LOG_FORMAT=JSON: every line is one JSON object (lambda_runtime's tracing JSON:
    ``{"level", "fields": {"message", ...}, "span": {...}, "spans": [...]}``). Every line logged
    while handling a custom-resource event sits in the ``Lambda runtime invoke`` span (with
    ``requestId`` = the Lambda request id) and in the ``custom_resource`` span (with
    ``logical_id`` and ``resource_type`` of the request)."""
    fn = start_function(log_format="JSON")
    cfn = cfn_factory(fn)
    results = [
        cfn.create(USER, EC.user_props(), logical_id="AppUser"),
        cfn.create("Custom::Nope", {"A": "b"}, logical_id="Strange"),
        cfn.create(USER, {**EC.user_props("x"), "UserNmae": "y"}, logical_id="Typo"),
        cfn.delete(USER, "app-user", EC.user_props(), logical_id="AppUser"),
    ]
    fn.stop()
    objs = []
    for ln in fn.lines:
        if metrics.is_emf_line(ln.text):
            continue  # a metric line (EMF, no level): test_metrics.py checks those
        try:
            obj = json.loads(ln.text)
        except ValueError:
            pytest.fail(f"not JSON ({ln.stream}): {ln.text!r}")
        assert isinstance(obj, dict), ln.text
        assert obj.get("level") in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR"), obj
        assert isinstance(obj.get("fields", {}).get("message"), str), obj
        objs.append(obj)
    # Lines before the first invocation (init) cannot carry a request; every later one must.
    first = next((i for i, o in enumerate(objs) if o.get("spans")), len(objs))
    by_request: dict[str, list[dict]] = {}
    for o in objs[first:]:
        invoke = [sp for sp in o.get("spans", []) if sp.get("name") == "Lambda runtime invoke"]
        assert invoke and invoke[0].get("requestId"), f"line without the request id: {o}"
        by_request.setdefault(invoke[0]["requestId"], []).append(o)
    for r in results:
        lines = by_request.get(r.invocation.request_id)
        assert lines, f"no log line for request {r.invocation.request_id} ({r.event['ResourceType']})"
        for o in lines:
            cr = [sp for sp in o["spans"] if sp.get("name") == "custom_resource"]
            assert cr, f"line outside the custom_resource span: {o}"
            assert cr[-1].get("logical_id") == r.event["LogicalResourceId"], o
            assert cr[-1].get("resource_type") == r.event["ResourceType"], o
    assert set(by_request) <= {r.invocation.request_id for r in results}


# ------------------------------------------------------------------------------------------
# events that are not custom-resource requests


def test_rotation_event_is_an_invocation_error(fn: Function, receiver: ResponseReceiver, emulator: Emulator):
    ev = {"Step": "createSecret", "SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
          "ClientRequestToken": str(uuid.uuid4())}
    inv = fn.invoke(ev, timeout_s=20)
    assert inv.kind == "error", inv
    assert inv.before_deadline
    err = inv.result
    assert isinstance(err, dict) and err.get("errorMessage"), err
    assert receiver.requests == []


@pytest.mark.parametrize("event", [
    {"hello": "world"},
    {"RequestType": "Create", "ResourceType": USER, "ResourceProperties": {}},  # no ResponseURL
    [1, 2, 3],
    "just a string",
], ids=["object", "cfn-like-without-url", "array", "string"])
def test_unrecognised_event_is_an_invocation_error(fn: Function, receiver: ResponseReceiver,
                                                   emulator: Emulator, event):
    inv = fn.invoke(event, timeout_s=20)
    assert inv.kind == "error", inv
    assert inv.before_deadline
    err = inv.result
    assert isinstance(err, dict) and err.get("errorMessage"), err
    assert receiver.requests == []
    assert emulator.actions() == []
    assert fn.exited() is None


# ------------------------------------------------------------------------------------------
# user groups


def test_group_create_times_out_before_deadline(cfn: CfnDriver, emulator: Emulator):
    EC.make_users(cfn)
    emulator.config(transition_seconds=60)
    res = cfn.create(GROUP, EC.group_props("app-users"), logical_id="Group", timeout_s=10)
    assert_failed(res, "timed out while waiting for")


def test_valkey_group_with_a_no_password_member_is_refused_before_any_change(cfn: CfnDriver, emulator: Emulator):
    """A valkey user group takes only users that authenticate (ElastiCache RBAC guide): a
    member without a password is refused, naming it, before the group is created or changed."""
    assert_success(cfn.create(USER, EC.default_user_props(), logical_id="DefaultUser"))  # no password
    assert_success(cfn.create(USER, EC.user_props("default-pw", "default", passwords=[PW2], access="off ~* -@all",
                                                  engine="valkey"), logical_id="DefaultPw"))
    assert_success(cfn.create(USER, EC.user_props("app-a", "app-a", engine="valkey"), logical_id="AppA"))
    emulator.clear_calls()
    ev = cfn.event("Create", GROUP, EC.group_props("vk", ["default-user", "app-a"], Engine="valkey"),
                   logical_id="Group")
    res = cfn.send(ev)
    assert_failed(res, "valkey", '"default-user"')
    assert res.physical_id == marker(ev)
    assert EC.mutations(emulator) == []
    assert EC.describe_group(emulator, "vk") is None

    ok = EC.group_props("vk", ["default-pw", "app-a"], Engine="valkey")
    assert_success(cfn.create(GROUP, ok, logical_id="Group"))
    emulator.clear_calls()
    bad = {**ok, "UserIds": ["default-pw", "app-a", "default-user"]}
    upd = cfn.update(GROUP, "vk", bad, ok, logical_id="Group")
    assert_failed(upd, "valkey", '"default-user"')
    assert upd.physical_id == "vk"
    assert EC.mutations(emulator) == []
    assert sorted(EC.state_group(emulator, "vk")["UserIds"]) == ["app-a", "default-pw"]


def test_group_delete_refused_while_a_serverless_cache_uses_it(cfn: CfnDriver, emulator: Emulator):
    EC.make_users(cfn)
    props = EC.group_props("app-users")
    assert_success(cfn.create(GROUP, props, logical_id="Group"))
    EC.client(emulator).create_serverless_cache(ServerlessCacheName="sc-app", Engine="redis",
                                                UserGroupId="app-users", Description="e2e")
    emulator.clear_calls()
    res = cfn.delete(GROUP, "app-users", props, logical_id="Group")
    assert_failed(res, "sc-app")
    assert res.physical_id == "app-users"
    assert EC.describe_group(emulator, "app-users")["Status"] == "active"


# ------------------------------------------------------------------------------------------
# the sample events under events/ (the files users pass to `cargo lambda invoke --data-file`)


def test_sample_events_drive_the_binary(fn: Function, receiver: ResponseReceiver, emulator: Emulator):
    driver = CfnDriver(fn, receiver, stack_id="unused")
    seen = []

    def run(name: str, **overrides: Any) -> CfnResult:
        ev = load_event(name, response_url=receiver.url(name), **overrides)
        res = driver.send(ev)
        seen.append(name)
        assert_success(res)
        if ev["RequestType"] == "Delete":
            assert res.physical_id == ev["PhysicalResourceId"]
        return res

    assert run("elasticache-user-default-create").physical_id == "app-default"
    assert run("elasticache-user-create").physical_id == "app-user"
    assert run("elasticache-user-update").physical_id == "app-user"
    assert EC.describe_user(emulator, "app-user")["AccessString"] == "on ~app:* +@read +@write"
    assert run("elasticache-user-group-create").physical_id == "app-users"
    assert run("elasticache-user-group-update").physical_id == "app-users"
    assert sorted(EC.describe_group(emulator, "app-users")["UserIds"]) == ["app-default", "app-user"]
    assert run("elasticache-user-group-update-replace").physical_id == "app-users-v2"
    run("elasticache-user-group-delete")
    assert EC.describe_group(emulator, "app-users") is None
    assert EC.describe_group(emulator, "app-users-v2") is not None
    assert run("elasticache-user-update-replace").physical_id == "app-user-v2"
    run("elasticache-user-delete")
    assert EC.describe_user(emulator, "app-user") is None
    assert EC.describe_user(emulator, "app-user-v2") is not None

    mdb = emulator.client("memorydb")
    run("memorydb-user-create")
    run("memorydb-acl-create")
    assert mdb.describe_acls(ACLName="app-acl")["ACLs"][0]["UserNames"] == ["app-mdb"]
    run("memorydb-user-update")
    assert mdb.describe_users(UserName="app-mdb")["Users"][0]["AccessString"] == "on ~app:* +@read +@write"
    assert run("memorydb-user-update-replace").physical_id == "app-mdb-v2"
    run("memorydb-acl-update")
    assert mdb.describe_acls(ACLName="app-acl")["ACLs"][0]["UserNames"] == ["app-mdb-v2"]
    assert run("memorydb-acl-update-replace").physical_id == "app-acl-v2"
    run("memorydb-acl-delete")
    run("memorydb-user-delete")
    assert [u["Name"] for u in mdb.describe_users()["Users"] if u["Name"].startswith("app-mdb")] == ["app-mdb-v2"]

    broker = create_activemq_broker(emulator)

    def run_mq(name: str) -> CfnResult:
        ev = with_broker(load_event(name, response_url=receiver.url(name)), broker)
        res = driver.send(ev)
        seen.append(name)
        assert_success(res)
        return res

    created = run_mq("mq-user-create")
    assert created.physical_id == f"{broker}/app-mq"
    assert created.data["PendingChange"] == "CREATE", "ActiveMQ applies users at the next reboot"
    run_mq("mq-user-update")
    assert run_mq("mq-user-update-replace").physical_id == f"{broker}/app-mq-v2"
    assert run_mq("mq-user-delete").physical_id == f"{broker}/app-mq"
    pending = {u["Username"]: u.get("PendingChange") for u in emulator.client("mq").list_users(BrokerId=broker)["Users"]}
    assert pending.get("app-mq-v2") == "CREATE" and pending.get("app-mq") in (None, "DELETE"), pending
    # The RabbitMQ samples need a real RabbitMQ: test_rabbitmq.py runs them.
    assert {p.stem for p in event_files() if not p.stem.startswith("rabbitmq-")} == set(seen)
