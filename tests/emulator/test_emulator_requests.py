"""Self-tests of the requests log (``requests_log.py``): ``GET /_emulator/requests`` gives
every AWS request as it arrived, whatever the protocol, and moto still gets the body."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import urllib.request
from typing import Any

from .selftest import ACCOUNT, REGION, Server, client, control, error_of

PW = "request-log-password-01"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:userkeeper"


def requests(server: Server) -> list[dict[str, Any]]:
    return control(server, "GET", "requests")


def last(server: Server) -> int:
    return control(server, "GET", "requests/last")["seq"]


def test_query_request_as_sent(server: Server) -> None:
    ec = client(server, "elasticache")
    ec.create_user(UserId="u1", UserName="u1", Engine="redis", AccessString="on ~* +@all", Passwords=[PW],
                   Tags=[{"Key": "k", "Value": "v"}])
    [entry] = requests(server)
    assert set(entry) == {"seq", "time", "service", "action", "method", "path", "query", "headers", "body", "body_base64"}
    assert (entry["service"], entry["action"], entry["method"], entry["path"], entry["query"]) == (
        "elasticache", "CreateUser", "POST", "/", "")
    form = dict(urllib.parse.parse_qsl(entry["body"]))
    assert form["Action"] == "CreateUser" and form["Passwords.member.1"] == PW  # test-only: passwords included
    assert form["Tags.Tag.1.Key"] == "k"
    assert entry["body_base64"] is None
    assert entry["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    assert "Botocore/" in entry["headers"]["user-agent"]
    assert "authorization" not in entry["headers"] and "x-amz-date" in entry["headers"]
    # moto got the body although the log read it first
    assert ec.describe_users(UserId="u1")["Users"][0]["UserName"] == "u1"


def test_json_and_rest_requests_as_sent(server: Server) -> None:
    sm = client(server, "secretsmanager")
    sm.create_secret(Name="s1", SecretString="x")
    mq = client(server, "mq")
    broker = mq.create_broker(BrokerName="b1", DeploymentMode="SINGLE_INSTANCE", EngineType="ACTIVEMQ",
                              HostInstanceType="mq.t3.micro", PubliclyAccessible=False,
                              Users=[{"Username": "admin", "Password": "Admin-Passw0rd-123"}])
    arn = mq.describe_broker(BrokerId=broker["BrokerId"])["BrokerArn"]
    mq.create_tags(ResourceArn=arn, Tags={"a:b": "1", "c": "2"})
    mq.delete_tags(ResourceArn=arn, TagKeys=["a:b", "c"])
    entries = requests(server)
    assert [(e["service"], e["action"]) for e in entries] == [
        ("secretsmanager", "CreateSecret"), ("mq", "CreateBroker"), ("mq", "DescribeBroker"),
        ("mq", "CreateTags"), ("mq", "DeleteTags")]
    create_secret = entries[0]
    assert create_secret["headers"]["x-amz-target"] == "secretsmanager.CreateSecret"
    assert json.loads(create_secret["body"])["Name"] == "s1"
    delete_tags = entries[-1]
    assert delete_tags["method"] == "DELETE"
    # the path keeps its percent-encoding (an ARN label), the query string is raw
    assert delete_tags["path"] == "/v1/tags/" + urllib.parse.quote(arn, safe="")
    assert urllib.parse.parse_qs(delete_tags["query"]) == {"tagKeys": ["a:b", "c"]}
    assert delete_tags["body"] == ""
    assert [e["seq"] for e in entries] == list(range(entries[0]["seq"], entries[0]["seq"] + 5))
    assert mq.list_tags(ResourceArn=arn)["Tags"] == {}


def test_forwarded_invoke_binary_body_faults_and_chunked_bodies(server: Server) -> None:
    control(server, "POST", "lambda/forward", {"function": FUNCTION_ARN, "url": "http://127.0.0.1:9/"})
    lam = client(server, "lambda")
    lam.invoke(FunctionName=FUNCTION_ARN, InvocationType="DryRun", Payload=b"\x00\xff raw")
    control(server, "POST", "fail", {"service": "secretsmanager", "action": "ListSecrets"})
    sm = client(server, "secretsmanager")
    assert error_of(sm.list_secrets)[0] == "InternalFailure"

    # a chunked body (no Content-Length) is logged and still reaches moto
    body = json.dumps({"Name": "chunked", "SecretString": "y"}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", "/")
    for name, value in (
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "secretsmanager.CreateSecret"),
        ("Transfer-Encoding", "chunked"),
        ("Authorization", f"AWS4-HMAC-SHA256 Credential=testing/20240101/{REGION}/secretsmanager/aws4_request, "
                          "SignedHeaders=host, Signature=0"),
    ):
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    response = conn.getresponse()
    assert response.status == 200, response.read()
    conn.close()

    invoke, failed, chunked = requests(server)
    assert (invoke["service"], invoke["action"], invoke["body"]) == ("lambda", "Invoke", None)
    assert invoke["body_base64"] == "AP8gcmF3"  # b"\x00\xff raw": not UTF-8
    assert invoke["headers"]["x-amz-invocation-type"] == "DryRun"
    assert invoke["path"] == "/2015-03-31/functions/" + urllib.parse.quote(FUNCTION_ARN, safe="") + "/invocations"
    assert (failed["action"], failed["body"]) == ("ListSecrets", "{}")  # answered by a fault: logged all the same
    assert chunked["action"] == "CreateSecret" and json.loads(chunked["body"]) == {"Name": "chunked", "SecretString": "y"}
    assert "authorization" not in chunked["headers"]
    assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["chunked"]


def test_cleared_with_the_call_log_and_by_reset_seq_goes_on(server: Server) -> None:
    sm = client(server, "secretsmanager")
    sm.list_secrets()
    first = last(server)
    assert [e["seq"] for e in requests(server)] == [first]
    control(server, "GET", "state")
    control(server, "GET", "calls")
    with urllib.request.urlopen(server.url + "/moto-api/", timeout=10) as r:
        r.read()
    assert [e["seq"] for e in requests(server)] == [first]  # control and /moto-api calls: not AWS requests

    control(server, "POST", "calls/clear")
    assert requests(server) == [] and last(server) == first  # "last" outlives the clear
    sm.list_secrets()
    sm.list_secrets()
    assert [e["seq"] for e in requests(server)] == [first + 1, first + 2]
    control(server, "POST", "reset")
    assert requests(server) == [] and control(server, "GET", "calls") == []
    sm.list_secrets()
    assert [e["seq"] for e in requests(server)] == [first + 3] and last(server) == first + 3
