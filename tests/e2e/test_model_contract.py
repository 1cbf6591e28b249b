"""Self-tests of the model contract (``model_contract.py``): well-formed requests of every
protocol the binary speaks pass, and deliberately bad ones (missing required member, bad
enum, too long, bad pattern, unknown member, wrong type...) fail with the operation, the
member path and the rule, never the value. Requests are built with botocore's own
serializers (without its validation) or written out as the Rust SDK sends them; the last
test sends bad requests through the emulator and the plugin's collector."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from typing import Any

import pytest
from botocore.serialize import create_serializer

from .harness.emulator import Emulator
from .model_contract import (
    ENVELOPE,
    Collector,
    UnsupportedPattern,
    _Summary,
    check_request,
    client_of,
    java_regex,
    service_model,
)

RUST_UA = "aws-sdk-rust/1.3.9 os/linux lang/rust/1.88.0"
SECRET = "Sup3r-Secret-Passw0rd-Value"  # must never appear in a violation
STACK_ARN = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/5b918d10-cd98-11ea-90d5-0a9cd3354c10"
BROKER = "b-4806c390-d19c-45d0-9d18-fb5ad1ad5eb2"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:userkeeper"
TOKEN = "9b0d1a3e-6c4f-4a53-8e0b-1c2d3e4f5a6b"


def entry(service: str, operation: str, params: dict[str, Any], protocol: str | None = None) -> dict[str, Any]:
    """A ``/_emulator/requests`` entry for ``params``, serialized by botocore without validation."""
    model = service_model(service)
    protocol = protocol or model.protocol
    request = create_serializer(protocol, include_validation=False).serialize_to_request(
        params, model.operation_model(operation))
    headers = {k.lower(): v for k, v in request["headers"].items()}
    headers["user-agent"] = RUST_UA
    body = request["body"]
    if isinstance(body, dict):  # query protocol: the form
        body = urllib.parse.urlencode(body).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    query = request["query_string"]
    if isinstance(query, dict):
        query = urllib.parse.urlencode(query, doseq=True)
    try:
        text, b64 = body.decode("utf-8"), None
    except UnicodeDecodeError:
        import base64

        text, b64 = None, base64.b64encode(body).decode()
    return {"seq": 1, "service": service, "action": operation, "method": request["method"],
            "path": request["url_path"], "query": query, "headers": headers, "body": text, "body_base64": b64}


def raw(service: str, method: str, path: str, body: str = "", query: str = "", **headers: str) -> dict[str, Any]:
    """An entry written out by hand, as the Rust SDK sends it."""
    h = {"user-agent": RUST_UA, **{k.replace("_", "-").lower(): v for k, v in headers.items()}}
    return {"seq": 1, "service": service, "action": None, "method": method, "path": path, "query": query,
            "headers": h, "body": body, "body_base64": None}


def rules(e: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, rule) of every violation; also checks that no value leaks into them."""
    checked = check_request(e)
    for v in checked.violations:
        assert SECRET not in str(v)
        assert v.operation == checked.operation
    return [(v.path, v.rule) for v in checked.violations]


def assert_rule(e: dict[str, Any], path: str, pattern: str) -> None:
    found = rules(e)
    assert any(p == path and re.search(pattern, r) for p, r in found), found


def form(**params: str) -> str:
    return urllib.parse.urlencode({"Action": params.pop("Action"), "Version": "2015-02-02", **params})


# --------------------------------------------------------------------------------------
# query (ElastiCache)

EC_USER = {"UserId": "app-user", "UserName": "app", "Engine": "redis", "AccessString": "on ~* +@all",
           "Passwords": [SECRET], "Tags": [{"Key": "userkeeper:stack-id", "Value": STACK_ARN}]}


def test_query_good_requests_pass() -> None:
    assert rules(entry("elasticache", "CreateUser", EC_USER)) == []
    assert check_request(entry("elasticache", "CreateUser", EC_USER)).operation == "elasticache CreateUser"
    assert rules(entry("elasticache", "ModifyUserGroup", {"UserGroupId": "g", "UserIdsToAdd": ["a", "b"]})) == []
    assert rules(entry("elasticache", "CreateUser", {**EC_USER, "AuthenticationMode": {"Type": "password", "Passwords": [SECRET]}})) == []
    # as the Rust SDK writes it
    body = form(Action="CreateUser", UserId="app-user", UserName="app", Engine="redis", AccessString="on ~* +@all",
                **{"Passwords.member.1": SECRET, "Tags.Tag.1.Key": "k", "Tags.Tag.1.Value": "v", "Tags.Tag.2.Key": "k2"})
    assert rules(raw("elasticache", "POST", "/", body, content_type="application/x-www-form-urlencoded")) == []


def test_query_bad_requests_fail() -> None:
    def bad(**change: Any) -> dict[str, Any]:
        params = {**EC_USER, **change}
        return entry("elasticache", "CreateUser", {k: v for k, v in params.items() if v is not None})

    assert_rule(bad(AccessString=None), "AccessString", "required member missing")
    assert_rule(bad(AuthenticationMode={"Type": "kerberos"}), "AuthenticationMode.Type",
                "not one of the values of enum InputAuthenticationType: password, no-password-required, iam")
    assert_rule(bad(UserId="1-starts-with-a-digit"), "UserId", r"does not match pattern '\[a-zA-Z\]")
    assert_rule(bad(UserId=""), "UserId", "length 0 below min 1")
    assert_rule(bad(AccessString="   "), "AccessString", r"does not match pattern '\.\*\\\\S\.\*'")
    assert_rule(bad(Passwords=[]), "Passwords", "list length 0 below min 1")
    assert_rule(entry("elasticache", "DescribeUsers", {"Filters": [{"Values": ["x"]}]}), "Filters[0].Name",
                r"required member missing \(Filter\)")
    assert_rule(entry("elasticache", "ModifyUserGroup", {"UserGroupId": "g", "UserIdsToAdd": []}),
                "UserIdsToAdd", "list length 0 below min 1")
    # hand-written: unknown members, wrong types, broken numbering, envelope
    good = {"Action": "CreateUser", "UserId": "u", "UserName": "u", "Engine": "redis", "AccessString": "on"}
    ct = {"content_type": "application/x-www-form-urlencoded"}
    assert_rule(raw("elasticache", "POST", "/", form(**good, Password=SECRET), **ct), "Password",
                "unknown member: CreateUserMessage has no member 'Password'")
    assert_rule(raw("elasticache", "POST", "/", form(**good, **{"Tags.Tag.1.Colour": "x"}), **ct), "Tags[0].Colour",
                "unknown member: Tag has no member 'Colour'")
    assert_rule(raw("elasticache", "POST", "/", form(**good, **{"Passwords.item.1": SECRET}), **ct), "Passwords.item",
                "unknown member: list PasswordListInput takes member.N")
    assert_rule(raw("elasticache", "POST", "/", form(**good, **{"Passwords.member.2": SECRET}), **ct), "Passwords",
                r"entries are not numbered 1\.\.1")
    assert_rule(raw("elasticache", "POST", "/", form(**good, NoPasswordRequired="yes"), **ct), "NoPasswordRequired",
                "not a boolean")
    assert_rule(raw("elasticache", "POST", "/", form(Action="DescribeUsers", MaxRecords="ten"), **ct), "MaxRecords",
                "not an integer")
    assert_rule(raw("elasticache", "POST", "/", form(Action="CreateUsr"), **ct), ENVELOPE, "not an operation")
    wrong_version = urllib.parse.urlencode({"Action": "DescribeUsers", "Version": "2014-01-01"})
    assert_rule(raw("elasticache", "POST", "/", wrong_version, **ct), ENVELOPE, "Version must be the model's apiVersion 2015-02-02")


# --------------------------------------------------------------------------------------
# json (MemoryDB, Secrets Manager) and smithy-rpc-v2-cbor (MemoryDB)

MDB_USER = {"UserName": "app-mdb", "AuthenticationMode": {"Type": "password", "Passwords": [SECRET]},
            "AccessString": "on ~app:* +@all", "Tags": [{"Key": "userkeeper:logical-id", "Value": "AppUser"}]}


@pytest.mark.parametrize("protocol", ["json", "smithy-rpc-v2-cbor"])
def test_json_and_cbor_good_and_bad(protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Newer botocore models list CBOR for MemoryDB, older ones (the one aws-sam-cli pins, when
    # it shares the venv) only JSON: the parser is tested either way, against a model that
    # speaks the protocol under test.
    metadata = service_model("memorydb").metadata
    spoken = metadata.get("protocols") or [service_model("memorydb").protocol]
    if protocol not in spoken:
        monkeypatch.setitem(metadata, "protocols", [*spoken, protocol])
    def mdb(operation: str = "CreateUser", **change: Any) -> dict[str, Any]:
        params = {**MDB_USER, **change} if operation == "CreateUser" else change
        return entry("memorydb", operation, {k: v for k, v in params.items() if v is not None}, protocol)

    assert rules(mdb()) == []
    assert rules(mdb("UpdateACL", ACLName="acl", UserNamesToAdd=["a"])) == []
    assert_rule(mdb(UserName=None), "UserName", "required member missing")
    assert_rule(mdb(AuthenticationMode={"Type": "kerberos"}), "AuthenticationMode.Type",
                "not one of the values of enum InputAuthenticationType")
    assert_rule(mdb(UserName="app_mdb"), "UserName", "does not match pattern")
    assert_rule(mdb(AuthenticationMode={"Type": "password", "Passwords": []}), "AuthenticationMode.Passwords",
                "list length 0 below min 1")
    assert_rule(mdb("UpdateACL", ACLName="acl", UserNamesToAdd=[]), "UserNamesToAdd", "list length 0 below min 1")
    if protocol == "json":
        wrong_type = mdb("DescribeUsers", MaxResults="50")
    else:  # botocore's CBOR serializer refuses it: {"MaxResults": "50"} by hand
        wrong_type = {**mdb("DescribeUsers"), "body": None, "body_base64": "oWpNYXhSZXN1bHRzYjUw"}
    assert_rule(wrong_type, "MaxResults", "expected an integer .*got a string")
    assert_rule(mdb("CreateUser", **{**MDB_USER, "Tags": [{"Key": "k", "Value": "v"}] * 201}), "Tags",
                "list length 201 above max 200")


def test_json_unknown_member_and_envelope() -> None:
    def body(**doc: Any) -> str:
        return json.dumps({"UserName": "app-mdb", "AuthenticationMode": {"Type": "iam"}, "AccessString": "on", **doc})

    headers = {"x_amz_target": "AmazonMemoryDB.CreateUser", "content_type": "application/x-amz-json-1.1"}
    assert rules(raw("memorydb", "POST", "/", body(), **headers)) == []
    assert_rule(raw("memorydb", "POST", "/", body(Password=SECRET), **headers), "Password",
                "unknown member: CreateUserRequest has no member 'Password'")
    assert_rule(raw("memorydb", "POST", "/", body(AuthenticationMode={"Type": "iam", "Pass": SECRET}), **headers),
                "AuthenticationMode.Pass", "unknown member: AuthenticationMode has no member 'Pass'")
    assert_rule(raw("memorydb", "POST", "/", body(AccessString=None), **headers), "AccessString", "null")
    assert_rule(raw("memorydb", "POST", "/", body(), **{**headers, "content_type": "application/json"}),
                ENVELOPE, "Content-Type must be application/x-amz-json-1.1")
    assert_rule(raw("memorydb", "POST", "/", body(), **{**headers, "x_amz_target": "AmazonMemoryDB.Nope"}),
                ENVELOPE, "'Nope' is not an operation")
    assert_rule(raw("memorydb", "POST", "/", "{", **headers), ENVELOPE, "the body is not JSON")


def test_secretsmanager_rotation_token() -> None:
    def put(**change: Any) -> dict[str, Any]:
        params = {"SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
                  "ClientRequestToken": TOKEN, "SecretString": SECRET, "VersionStages": ["AWSPENDING"],
                  "RotationToken": TOKEN, **change}
        return entry("secretsmanager", "PutSecretValue", {k: v for k, v in params.items() if v is not None})

    assert rules(put()) == []
    assert_rule(put(RotationToken="short"), "RotationToken", r"^length below min 36 \(RotationTokenType\)$")  # sensitive: no size shown
    assert_rule(put(RotationToken="x" * 257), "RotationToken", "length above max 256")
    assert_rule(put(RotationToken=TOKEN.replace("-", "_")), "RotationToken", r"does not match pattern '\^\[a-zA-Z0-9")
    assert_rule(put(ClientRequestToken="t" * 65), "ClientRequestToken", "length 65 above max 64")
    assert_rule(put(SecretId=None), "SecretId", "required member missing")
    assert_rule(entry("secretsmanager", "GetRandomPassword", {"PasswordLength": 4097}), "PasswordLength",
                r"above max 4096")


# --------------------------------------------------------------------------------------
# rest-json (Amazon MQ, Lambda)


def test_rest_json_good_requests_pass() -> None:
    assert rules(entry("mq", "CreateUser", {"BrokerId": BROKER, "Username": "app-mq", "Password": SECRET,
                                            "Groups": ["apps"], "ConsoleAccess": True})) == []
    assert rules(entry("mq", "DeleteTags", {"ResourceArn": f"arn:aws:mq:us-east-1:123456789012:broker:b:{BROKER}",
                                            "TagKeys": ["userkeeper:user:app-mq"]})) == []
    assert check_request(entry("mq", "DescribeBroker", {"BrokerId": BROKER})).operation == "mq DescribeBroker"
    assert check_request(entry("mq", "DescribeUser", {"BrokerId": BROKER, "Username": "u"})).operation == "mq DescribeUser"
    invoke = entry("lambda", "Invoke", {"FunctionName": FUNCTION_ARN, "InvocationType": "Event", "Payload": b"\x00 any bytes"})
    assert rules(invoke) == [] and check_request(invoke).operation == "lambda Invoke"
    # as the Rust SDK sends it
    assert rules(raw("mq", "PUT", f"/v1/brokers/{BROKER}/users/app-mq", json.dumps({"password": SECRET}),
                     content_type="application/json")) == []


def test_rest_json_bad_requests_fail() -> None:
    def create(**body: Any) -> dict[str, Any]:
        return raw("mq", "POST", f"/v1/brokers/{BROKER}/users/app-mq", json.dumps(body), content_type="application/json")

    assert_rule(create(consoleAccess=True), "Password", r"required member missing \(CreateUserRequest\)")
    assert_rule(create(password=SECRET, Password=SECRET), "Password", "unknown member: CreateUserRequest has no body member 'Password'")
    assert_rule(create(password=SECRET, username="app-mq"), "username", "unknown member")  # a URI member in the body
    assert_rule(create(password=SECRET, consoleAccess="yes"), "ConsoleAccess", "expected a boolean .*got a string")
    assert_rule(create(password=SECRET, groups="apps"), "Groups", "expected an array")
    assert_rule(raw("mq", "POST", f"/v1/brokers/{BROKER}/users/app-mq", json.dumps({"password": SECRET})),
                ENVELOPE, "Content-Type must be application/json")
    assert_rule(raw("mq", "POST", f"/v1/brokers/{BROKER}/users/", json.dumps({"password": SECRET}),
                    content_type="application/json"), "Username", "empty URI label")
    assert_rule(raw("mq", "DELETE", f"/v1/tags/arn%3Aaws%3Amq%3A%3A{BROKER}", query="tagKey=a"), "tagKey",
                "unknown query parameter")
    assert_rule(raw("mq", "DELETE", f"/v1/tags/arn%3Aaws%3Amq%3A%3A{BROKER}"), "TagKeys", "required member missing")
    found = rules(raw("mq", "PATCH", f"/v1/brokers/{BROKER}/users/{SECRET}"))
    assert found == [(ENVELOPE, "no operation of the mq model is PATCH /v1/brokers/*/users/* (segments it does not name shown as *)")]
    assert_rule(entry("mq", "CreateBroker", {"BrokerName": "b", "DeploymentMode": "TRIPLE", "EngineType": "ACTIVEMQ",
                                             "HostInstanceType": "mq.t3.micro", "PubliclyAccessible": False, "Users": []}),
                "DeploymentMode", "not one of the values of enum DeploymentMode")


def test_lambda_invoke_envelope() -> None:
    def invoke(**change: Any) -> dict[str, Any]:
        params = {"FunctionName": FUNCTION_ARN, "InvocationType": "Event", "Payload": b"{}", **change}
        return entry("lambda", "Invoke", {k: v for k, v in params.items() if v is not None})

    assert_rule(invoke(InvocationType="Later"), "InvocationType", "not one of the values of enum InvocationType: Event, RequestResponse, DryRun")
    assert_rule(invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:user keeper"), "FunctionName",
                "does not match pattern")
    assert_rule(invoke(FunctionName="f" * 257), "FunctionName", "length 257 above max 256")
    assert_rule(invoke(Qualifier="a/b"), "Qualifier", "does not match pattern")
    assert_rule(invoke(FunctionName=""), "FunctionName", "empty URI label")


# --------------------------------------------------------------------------------------
# Pieces


def test_java_regex_dialect() -> None:
    assert java_regex(r".*\S.*").fullmatch("on ~* +@all")
    assert java_regex(r".*\S.*").fullmatch("on\r") is None  # Java's "." stops at \r
    assert java_regex(r"[a-z]+").fullmatch("abc\n") is None  # matches(): the whole string
    assert java_regex(r"\w+").fullmatch("é") is None  # Java's \w is ASCII
    assert java_regex(r"(?<year>\d{4})-(?<!x)\d").fullmatch("2024-1")
    assert java_regex(r"[.]+").fullmatch("..") and java_regex(r"[.]+").fullmatch("a") is None
    for unsupported in (r"[\p{L}\p{Z}]*", r"\Qa.b\E", r"[a-z&&[^b]]"):
        with pytest.raises(UnsupportedPattern):
            java_regex(unsupported)


def test_every_pattern_of_the_binarys_services_is_usable() -> None:
    """Every ``pattern`` in the input shapes of ElastiCache, MemoryDB, Amazon MQ and Secrets
    Manager compiles; Lambda's only unusable ones are its tag shapes (``\\p{L}``), outside ``Invoke``."""
    skipped = set()
    for service in ("elasticache", "memorydb", "mq", "secretsmanager", "lambda"):
        model = service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern is None:
                continue
            try:
                java_regex(pattern)
            except UnsupportedPattern:
                skipped.add((service, name))
    assert skipped == {("lambda", "TagKey"), ("lambda", "TagValue")}, skipped


def test_unknown_service_and_protocol_mismatch() -> None:
    assert_rule(raw("nosuchservice", "POST", "/"), ENVELOPE, "botocore has no model")
    assert_rule(raw("mq", "POST", "/", "{}", x_amz_target="mq.CreateUser", content_type="application/x-amz-json-1.1"),
                ENVELOPE, "sent with the json protocol, the model speaks rest-json")
    assert_rule(raw("elasticache", "GET", "/v1/users"), ENVELOPE, "a REST request, the model speaks query")


def test_client_of() -> None:
    assert client_of({"headers": {"user-agent": RUST_UA}}) == "binary"
    assert client_of({"headers": {"x-amz-user-agent": RUST_UA, "user-agent": "other"}}) == "binary"
    assert client_of({"headers": {"User-Agent": "Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux Botocore/1.44.8"}}) == "boto3"
    assert client_of({"headers": {"user-agent": "curl/8"}}) == "other"


def test_the_plugin_catches_bad_requests_sent_to_the_emulator(emulator: Emulator, model_contract: Collector) -> None:
    """End to end through the requests log: bad requests signed like the binary's are
    reported; boto3's are not checked. (Then forgotten, so this test itself passes.)"""

    def send(method: str, path: str, body: bytes, service: str, **headers: str) -> None:
        req = urllib.request.Request(emulator.url + path, data=body, method=method)
        req.add_header("Authorization", f"AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/{service}/aws4_request, "
                                        "SignedHeaders=host, Signature=0")
        req.add_header("User-Agent", RUST_UA)
        for k, v in headers.items():
            req.add_header(k.replace("_", "-"), v)
        try:
            urllib.request.urlopen(req, timeout=10).read()
        except urllib.error.HTTPError:
            pass  # moto may refuse it too: what counts is what was sent

    send("POST", "/", form(Action="CreateUser", UserId="9lives", UserName="u", Engine="redis", AccessString="on",
                           **{"Passwords.member.1": SECRET}).encode(),
         "elasticache", Content_Type="application/x-www-form-urlencoded")
    send("POST", "/", json.dumps({"UserName": "u", "AccessString": "on", "AuthenticationMode": {"Type": "x"}}).encode(),
         "memorydb", Content_Type="application/x-amz-json-1.1", X_Amz_Target="AmazonMemoryDB.CreateUser")
    emulator.client("secretsmanager").list_secrets()  # boto3: counted, not checked
    summary = _Summary()
    model_contract.collect()
    try:
        problems = model_contract.check(summary)
    finally:
        model_contract.forget()  # sent on purpose: not this test's teardown's business
    assert all(SECRET not in p for p in problems)
    assert any(p.endswith("elasticache CreateUser: UserId: does not match pattern '[a-zA-Z][a-zA-Z0-9\\\\-]*' (UserId)")
               for p in problems), problems
    assert any("memorydb CreateUser: AuthenticationMode.Type: not one of the values of enum" in p for p in problems), problems
    assert summary.unchecked == {"boto3": 1} and summary.checked == {"elasticache CreateUser": 1, "memorydb CreateUser": 1}
