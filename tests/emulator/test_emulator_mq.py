"""Self-tests of the emulator's Amazon MQ brokers and users (``mq.py``), with boto3."""

from __future__ import annotations

import json
import re
import time
import urllib.error
from typing import Any

import pytest

from .selftest import ACCOUNT, REGION, Server, client, control, error_of, error_response, sequence, strict

ADMIN_PW = "admin-password-01"
PW1, PW2 = "app-password-0001", "app-password-0002"


@pytest.fixture
def mq(server: Server) -> Any:
    return client(server, "mq")


def make_broker(mq: Any, name: str = "b1", engine: str = "ACTIVEMQ", **kw: Any) -> str:
    kw.setdefault("Users", [{"Username": "admin", "Password": ADMIN_PW, "ConsoleAccess": True}])
    out = mq.create_broker(
        BrokerName=name,
        DeploymentMode="SINGLE_INSTANCE",
        EngineType=engine,
        HostInstanceType="mq.t3.micro",
        PubliclyAccessible=False,
        **kw,
    )
    return out["BrokerId"]


@pytest.fixture
def broker(mq: Any) -> str:
    return make_broker(mq)


def state_broker(server: Server, broker_id: str) -> dict:
    brokers = control(server, "GET", "state")["mq"]["brokers"]
    return next(b for b in brokers if b["BrokerId"] == broker_id)


def state_user(server: Server, broker_id: str, username: str) -> dict | None:
    return next((u for u in state_broker(server, broker_id)["users"] if u["Username"] == username), None)


def users(mq: Any, broker_id: str) -> list[dict]:
    return mq.list_users(BrokerId=broker_id)["Users"]


def described(mq: Any, broker_id: str, username: str) -> dict:
    out = mq.describe_user(BrokerId=broker_id, Username=username)
    out.pop("ResponseMetadata")
    return out


def broker_state(mq: Any, broker_id: str) -> str:
    return mq.describe_broker(BrokerId=broker_id)["BrokerState"]


def reboot_seconds(server: Server, seconds: float) -> None:
    control(server, "POST", "config", {"reboot_seconds": seconds})


# --------------------------------------------------------------------------------------
# Brokers


def test_create_brokers_of_both_engines(server: Server, mq: Any) -> None:
    active = make_broker(mq, "active", Tags={"userkeeper:owner": "stack-1"})
    rabbit = make_broker(mq, "rabbit", "RABBITMQ", Users=[{"Username": "admin", "Password": ADMIN_PW}])
    for broker_id, name, engine in ((active, "active", "ACTIVEMQ"), (rabbit, "rabbit", "RABBITMQ")):
        assert re.fullmatch(r"b-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", broker_id)
        out = mq.describe_broker(BrokerId=broker_id)
        assert out["BrokerArn"] == f"arn:aws:mq:{REGION}:{ACCOUNT}:broker:{name}:{broker_id}"
        assert out["BrokerState"] == "RUNNING" and out["EngineType"] == engine
        assert state_broker(server, broker_id)["reboots"] == 0
    # The users given to CreateBroker are live at once; AWS lists no RabbitMQ users.
    assert mq.describe_broker(BrokerId=active)["Users"] == [{"Username": "admin"}]
    assert mq.describe_broker(BrokerId=rabbit)["Users"] == []
    assert mq.describe_broker(BrokerId=active)["Tags"] == {"userkeeper:owner": "stack-1"}
    admin = state_user(server, active, "admin")
    assert admin == {"Username": "admin", "Password": ADMIN_PW, "Groups": [], "ConsoleAccess": True,
                     "ReplicationUser": False, "Pending": None}
    assert state_user(server, rabbit, "admin")["Password"] == ADMIN_PW
    assert described(mq, active, "admin") == {"BrokerId": active, "Username": "admin", "ConsoleAccess": True,
                                              "Groups": [], "ReplicationUser": False}


def test_create_broker_errors(mq: Any) -> None:
    for rabbit_users in ([], [{"Username": "a1", "Password": ADMIN_PW}, {"Username": "a2", "Password": ADMIN_PW}]):
        err = error_response(make_broker, mq, "r", "RABBITMQ", Users=rabbit_users)
        assert (err["Error"]["Code"], err["ErrorAttribute"]) == ("BadRequestException", "users")
        assert err["Error"]["Message"] == "Specify exactly one user for engine type [RABBITMQ]."
    bad_pw = "short:pw"
    code, message, status = error_of(make_broker, mq, "a", Users=[{"Username": "admin", "Password": bad_pw}])
    assert (code, status) == ("BadRequestException", 400) and bad_pw not in message
    dup = [{"Username": "admin", "Password": ADMIN_PW}, {"Username": "admin", "Password": ADMIN_PW}]
    assert error_of(make_broker, mq, "a", Users=dup)[0] == "BadRequestException"
    assert mq.list_brokers()["BrokerSummaries"] == []
    assert error_of(mq.describe_broker, BrokerId="b-nope")[:3] == (
        "NotFoundException", "Can't find requested broker [b-nope]. Make sure your broker exists.", 404)


@pytest.mark.parametrize(
    "tags",
    [
        {"userkeeper:user:app.user~1": "owner"},  # "~" is fine in MQ usernames, not in tag keys
        {"k" * 129: "v"},
        {"": "v"},
        {"aws:reserved": "v"},
        {"k": "v" * 257},
        {"k": "bad~value"},
    ],
)
def test_tag_rules(mq: Any, tags: dict) -> None:
    broker_id = make_broker(mq)
    arn = mq.describe_broker(BrokerId=broker_id)["BrokerArn"]
    err = error_response(mq.create_tags, ResourceArn=arn, Tags=tags)
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["ErrorAttribute"]) == (
        "BadRequestException", 400, "tags")
    assert error_of(make_broker, mq, "b2", Tags=tags)[0] == "BadRequestException"
    assert mq.list_tags(ResourceArn=arn)["Tags"] == {}


def test_tag_limits_are_fine_and_fifty_is_the_most(mq: Any) -> None:
    broker_id = make_broker(mq, Tags={"Ünïcode key 1 _.:/=+-@": "välue _.:/=+-@ 2", "k" * 128: "v" * 256})
    arn = mq.describe_broker(BrokerId=broker_id)["BrokerArn"]
    mq.create_tags(ResourceArn=arn, Tags={f"t{i}": "" for i in range(48)})
    assert len(mq.list_tags(ResourceArn=arn)["Tags"]) == 50
    mq.create_tags(ResourceArn=arn, Tags={"t0": "replaced"})  # replacing keeps the count
    err = error_response(mq.create_tags, ResourceArn=arn, Tags={"one-more": "x"})
    assert (err["Error"]["Code"], err["ErrorAttribute"]) == ("BadRequestException", "tags")


def test_a_broker_holds_at_most_250_users(mq: Any, broker: str) -> None:
    # The broker was made with its admin: 249 more fill it.
    for i in range(249):
        mq.create_user(BrokerId=broker, Username=f"user-{i}", Password=PW1)
    err = error_response(mq.create_user, BrokerId=broker, Username="one-more", Password=PW1)
    assert err["Error"]["Code"] == "BadRequestException" and "250" in err["Message"], err
    assert error_of(mq.describe_user, BrokerId=broker, Username="one-more")[0] == "NotFoundException"
    mq.describe_user(BrokerId=broker, Username="user-248")


def test_broker_tags(server: Server, mq: Any) -> None:
    broker_id = make_broker(mq, Tags={"a": "1"})
    arn = mq.describe_broker(BrokerId=broker_id)["BrokerArn"]
    mq.create_tags(ResourceArn=arn, Tags={"userkeeper:user:app": "stack-1", "b": "2"})
    assert mq.list_tags(ResourceArn=arn)["Tags"] == {"a": "1", "userkeeper:user:app": "stack-1", "b": "2"}
    mq.delete_tags(ResourceArn=arn, TagKeys=["a", "b"])
    assert mq.list_tags(ResourceArn=arn)["Tags"] == {"userkeeper:user:app": "stack-1"}
    assert state_broker(server, broker_id)["Tags"] == {"userkeeper:user:app": "stack-1"}

    ghost = arn.replace(broker_id, "b-00000000-0000-0000-0000-000000000000")
    for call, kw in ((mq.list_tags, {}), (mq.create_tags, {"Tags": {"x": "1"}}), (mq.delete_tags, {"TagKeys": ["x"]})):
        err = error_response(call, ResourceArn=ghost, **kw)
        assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("NotFoundException", 404)

    mq.delete_broker(BrokerId=broker_id)
    assert error_of(mq.list_tags, ResourceArn=arn)[0] == "NotFoundException"
    new_id = make_broker(mq)  # a new broker never sees the old one's tags
    assert mq.list_tags(ResourceArn=mq.describe_broker(BrokerId=new_id)["BrokerArn"])["Tags"] == {}


# --------------------------------------------------------------------------------------
# User validation


@pytest.mark.parametrize(
    "kwargs, attribute",
    [
        ({"Username": "a"}, "username"),
        ({"Username": "x" * 101}, "username"),
        ({"Username": "has space"}, "username"),
        ({"Username": "at@sign"}, "username"),
        ({"Password": "short-pw-01"}, "password"),  # 11 characters
        ({"Password": "aaaabbbbcccc"}, "password"),  # 3 distinct characters
        ({"Password": "comma,password-01"}, "password"),
        ({"Password": "colon:password-01"}, "password"),
        ({"Password": "equal=password-01"}, "password"),
        ({"Groups": [f"group{i}" for i in range(21)]}, "groups"),
        ({"Groups": ["g"]}, "groups"),
        ({"Groups": ["bad group"]}, "groups"),
    ],
)
def test_create_user_validation(server: Server, mq: Any, broker: str, kwargs: dict, attribute: str) -> None:
    args = {"BrokerId": broker, "Username": "app", "Password": PW1, **kwargs}
    err = error_response(mq.create_user, **args)
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["ErrorAttribute"]) == (
        "BadRequestException", 400, attribute)
    assert args["Password"] not in err["Error"]["Message"]
    assert users(mq, broker) == [{"Username": "admin"}]


def test_create_user_limits_are_fine(mq: Any, broker: str) -> None:
    mq.create_user(BrokerId=broker, Username="a" * 100, Password="abcdabcdabcd")  # 12 chars, 4 distinct
    mq.create_user(BrokerId=broker, Username="x.-_~", Password=PW1, Groups=[f"g-{i}" for i in range(20)])
    assert [u["Username"] for u in users(mq, broker)] == ["admin", "a" * 100, "x.-_~"]


def test_user_not_found_and_conflict(mq: Any, broker: str) -> None:
    mq.create_user(BrokerId=broker, Username="app", Password=PW1)
    err = error_response(mq.create_user, BrokerId=broker, Username="app", Password=PW2)
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["ErrorAttribute"]) == (
        "ConflictException", 409, "username")
    assert PW2 not in err["Error"]["Message"]
    assert error_of(mq.create_user, BrokerId=broker, Username="admin", Password=PW2)[0] == "ConflictException"
    for call in (mq.describe_user, mq.delete_user):
        assert error_of(call, BrokerId=broker, Username="ghost")[:3] == (
            "NotFoundException", "Can't find requested user [ghost]. Make sure your user exists.", 404)
    assert error_of(mq.update_user, BrokerId=broker, Username="ghost", Password=PW2)[0] == "NotFoundException"
    assert error_of(mq.create_user, BrokerId="b-nope", Username="app", Password=PW1)[0] == "NotFoundException"
    assert error_of(mq.list_users, BrokerId="b-nope")[0] == "NotFoundException"


def test_strict_replication_user_cannot_have_console_access(server: Server, mq: Any, broker: str) -> None:
    exclusive = ("BadRequestException", 400, "replicationUser",
                 "Replication user couldn't have console access. "
                 "[replicationUser] and [consoleAccess] are mutually exclusive parameters.")

    def refusal(call: Any, *args: Any, **kw: Any) -> tuple:
        err = error_response(call, *args, **kw)
        return (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["ErrorAttribute"],
                err["Error"]["Message"])

    both = {"ConsoleAccess": True, "ReplicationUser": True}
    mq.create_user(BrokerId=broker, Username="off", Password=PW1, **both)  # strict off: as before
    strict(server)
    assert refusal(mq.create_user, BrokerId=broker, Username="app", Password=PW1, **both) == exclusive
    assert refusal(make_broker, mq, "b2", Users=[{"Username": "admin", "Password": ADMIN_PW, **both}]) == exclusive
    mq.create_user(BrokerId=broker, Username="app", Password=PW1, ConsoleAccess=True)
    mq.create_user(BrokerId=broker, Username="repl", Password=PW2, ReplicationUser=True)
    # UpdateUser: what the user would have, the fields it leaves out included.
    assert refusal(mq.update_user, BrokerId=broker, Username="app", ReplicationUser=True) == exclusive
    assert refusal(mq.update_user, BrokerId=broker, Username="repl", ConsoleAccess=True) == exclusive
    assert refusal(mq.update_user, BrokerId=broker, Username="admin", ReplicationUser=True) == exclusive  # live
    mq.update_user(BrokerId=broker, Username="app", ConsoleAccess=False, ReplicationUser=True)
    assert state_user(server, broker, "app")["Pending"]["ReplicationUser"] is True


def test_rabbitmq_refuses_the_user_apis(server: Server, mq: Any) -> None:
    rabbit = make_broker(mq, "rabbit", "RABBITMQ", Users=[{"Username": "admin", "Password": ADMIN_PW}])
    calls = [
        (mq.create_user, {"Username": "app", "Password": PW1}),
        (mq.update_user, {"Username": "admin", "Password": PW1}),
        (mq.delete_user, {"Username": "admin"}),
        (mq.describe_user, {"Username": "admin"}),
        (mq.list_users, {}),
    ]
    for call, kw in calls:
        err = error_response(call, BrokerId=rabbit, **kw)
        assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["ErrorAttribute"]) == (
            "BadRequestException", 400, "engineType")
        assert "RabbitMQ" in err["Error"]["Message"]
    assert state_user(server, rabbit, "admin")["Password"] == ADMIN_PW  # untouched
    mq.reboot_broker(BrokerId=rabbit)
    assert state_broker(server, rabbit)["reboots"] == 1


def instances(mq: Any, broker_id: str) -> list[dict]:
    return mq.describe_broker(BrokerId=broker_id)["BrokerInstances"]


def control_error(server: Server, path: str, body: Any) -> str:
    with pytest.raises(urllib.error.HTTPError) as info:
        control(server, "POST", path, body)
    assert info.value.code == 400
    return json.loads(info.value.read())["error"]


def test_rabbitmq_brokers_describe_aws_shaped_instances_by_default(mq: Any) -> None:
    rabbit = make_broker(mq, "rabbit", "RABBITMQ", Users=[{"Username": "admin", "Password": ADMIN_PW}])
    host = f"{rabbit}.mq.{REGION}.amazonaws.com"
    assert instances(mq, rabbit) == [{"ConsoleURL": f"https://{host}", "Endpoints": [f"amqps://{host}:5671"]}]


def test_rabbitmq_brokers_point_at_the_configured_instances(server: Server, mq: Any) -> None:
    local = [{"console_url": "https://127.0.0.1:15671", "endpoints": ["amqps://127.0.0.1:5671"]},
             {"console_url": "https://localhost:15672", "endpoints": []}]
    assert control(server, "POST", "mq/rabbitmq", {"instances": local})["instances"] == [
        {"consoleURL": "https://127.0.0.1:15671", "endpoints": ["amqps://127.0.0.1:5671"]},
        {"consoleURL": "https://localhost:15672", "endpoints": []}]
    rabbit = make_broker(mq, "rabbit", "RABBITMQ", Users=[{"Username": "admin", "Password": ADMIN_PW}])
    active = make_broker(mq, "active")
    assert instances(mq, rabbit) == [
        {"ConsoleURL": "https://127.0.0.1:15671", "Endpoints": ["amqps://127.0.0.1:5671"]},
        {"ConsoleURL": "https://localhost:15672", "Endpoints": []}]
    assert all("127.0.0.1" not in i["ConsoleURL"] for i in instances(mq, active)), "ActiveMQ brokers keep theirs"
    # One broker retargeted; the others, and brokers made later, keep the setting.
    control(server, "POST", "mq/rabbitmq", {"broker": rabbit, "instances": [
        {"console_url": "https://127.0.0.1:1", "endpoints": ["amqps://127.0.0.1:2"]}]})
    assert instances(mq, rabbit) == [{"ConsoleURL": "https://127.0.0.1:1", "Endpoints": ["amqps://127.0.0.1:2"]}]
    other = make_broker(mq, "rabbit2", "RABBITMQ", Users=[{"Username": "admin", "Password": ADMIN_PW}])
    assert instances(mq, other)[0]["ConsoleURL"] == "https://127.0.0.1:15671"
    assert control(server, "GET", "mq/rabbitmq")["instances"][0]["consoleURL"] == "https://127.0.0.1:15671"
    control(server, "POST", "reset")
    assert control(server, "GET", "mq/rabbitmq") == {"instances": None}
    again = make_broker(mq, "rabbit", "RABBITMQ", Users=[{"Username": "admin", "Password": ADMIN_PW}])
    assert instances(mq, again)[0]["ConsoleURL"] == f"https://{again}.mq.{REGION}.amazonaws.com"


def test_rabbitmq_instances_refuse_bad_settings(server: Server, mq: Any) -> None:
    active = make_broker(mq, "active")
    good = [{"console_url": "https://127.0.0.1:1", "endpoints": ["amqps://127.0.0.1:2"]}]
    for body, why in [
        ({"instances": []}, "non-empty"),
        ({"instances": [{"console_url": "https://127.0.0.1:1/api"}]}, "no path"),
        ({"instances": [{"console_url": "ftp://x"}]}, "console_url"),
        ({"instances": [{"console_url": "https://x", "endpoints": ["tcp://x:1"]}]}, "endpoints"),
        ({"instances": good, "extra": 1}, "unknown keys"),
        ({"broker": active, "instances": good}, "no RabbitMQ broker"),
        ({"broker": "b-missing", "instances": good}, "no RabbitMQ broker"),
    ]:
        assert why in control_error(server, "mq/rabbitmq", body), body
    assert control(server, "GET", "mq/rabbitmq") == {"instances": None}, "nothing changed"


# --------------------------------------------------------------------------------------
# Pending changes and reboots


def test_create_user_is_pending_until_reboot(server: Server, mq: Any, broker: str) -> None:
    mq.create_user(BrokerId=broker, Username="app", Password=PW1, Groups=["g1"], ConsoleAccess=True)
    # Known, but not on the broker yet.
    assert described(mq, broker, "app") == {
        "BrokerId": broker,
        "Username": "app",
        "Pending": {"PendingChange": "CREATE", "ConsoleAccess": True, "Groups": ["g1"]},
    }
    assert users(mq, broker) == [{"Username": "admin"}, {"Username": "app", "PendingChange": "CREATE"}]
    assert mq.describe_broker(BrokerId=broker)["Users"] == users(mq, broker)
    app = state_user(server, broker, "app")
    assert app["Password"] is None  # no login yet
    assert app["Pending"] == {"PendingChange": "CREATE", "Password": PW1, "Groups": ["g1"],
                              "ConsoleAccess": True, "ReplicationUser": False}

    # Changing a user not created yet changes what will be created.
    mq.update_user(BrokerId=broker, Username="app", Password=PW2)
    assert described(mq, broker, "app")["Pending"]["PendingChange"] == "CREATE"
    assert state_user(server, broker, "app")["Pending"]["Password"] == PW2

    mq.reboot_broker(BrokerId=broker)  # reboot_seconds 0: done at once
    assert described(mq, broker, "app") == {"BrokerId": broker, "Username": "app", "ConsoleAccess": True,
                                            "Groups": ["g1"], "ReplicationUser": False}
    assert users(mq, broker) == [{"Username": "admin"}, {"Username": "app"}]
    assert state_user(server, broker, "app") == {"Username": "app", "Password": PW2, "Groups": ["g1"],
                                                  "ConsoleAccess": True, "ReplicationUser": False, "Pending": None}
    assert state_broker(server, broker)["reboots"] == 1


def test_update_user_is_pending_until_reboot(server: Server, mq: Any, broker: str) -> None:
    mq.create_user(BrokerId=broker, Username="app", Password=PW1, Groups=["g1"])
    mq.reboot_broker(BrokerId=broker)
    mq.update_user(BrokerId=broker, Username="app", Password=PW2, Groups=["g2", "g3"])
    assert described(mq, broker, "app") == {
        "BrokerId": broker,
        "Username": "app",
        "ConsoleAccess": False,
        "Groups": ["g1"],  # live
        "ReplicationUser": False,
        "Pending": {"PendingChange": "UPDATE", "ConsoleAccess": False, "Groups": ["g2", "g3"]},
    }
    assert users(mq, broker)[1] == {"Username": "app", "PendingChange": "UPDATE"}
    app = state_user(server, broker, "app")
    assert app["Password"] == PW1 and app["Pending"]["Password"] == PW2  # the old password still logs in

    mq.update_user(BrokerId=broker, Username="app", ConsoleAccess=True)  # adds to the pending change
    assert state_user(server, broker, "app")["Pending"] == {
        "PendingChange": "UPDATE", "Password": PW2, "Groups": ["g2", "g3"], "ConsoleAccess": True, "ReplicationUser": False}

    mq.reboot_broker(BrokerId=broker)
    app = state_user(server, broker, "app")
    assert (app["Password"], app["Groups"], app["ConsoleAccess"], app["Pending"]) == (PW2, ["g2", "g3"], True, None)
    assert "Pending" not in described(mq, broker, "app")
    assert state_broker(server, broker)["reboots"] == 2


def test_delete_user_is_pending_until_reboot(server: Server, mq: Any, broker: str) -> None:
    mq.create_user(BrokerId=broker, Username="app", Password=PW1)
    mq.create_user(BrokerId=broker, Username="never", Password=PW1)
    mq.reboot_broker(BrokerId=broker)
    mq.delete_user(BrokerId=broker, Username="app")
    assert described(mq, broker, "app") == {"BrokerId": broker, "Username": "app", "ConsoleAccess": False,
                                            "Groups": [], "ReplicationUser": False, "Pending": {"PendingChange": "DELETE"}}
    assert {"Username": "app", "PendingChange": "DELETE"} in users(mq, broker)
    assert state_user(server, broker, "app")["Password"] == PW1  # still logs in
    assert error_of(mq.update_user, BrokerId=broker, Username="app", Password=PW2)[0] == "ConflictException"
    assert error_of(mq.create_user, BrokerId=broker, Username="app", Password=PW2)[0] == "ConflictException"
    mq.delete_user(BrokerId=broker, Username="app")  # again: still pending DELETE

    # A pending CREATE that is deleted never reaches the broker.
    mq.create_user(BrokerId=broker, Username="fresh", Password=PW1)
    mq.delete_user(BrokerId=broker, Username="fresh")
    assert error_of(mq.describe_user, BrokerId=broker, Username="fresh")[0] == "NotFoundException"

    mq.reboot_broker(BrokerId=broker)
    assert error_of(mq.describe_user, BrokerId=broker, Username="app")[0] == "NotFoundException"
    assert users(mq, broker) == [{"Username": "admin"}, {"Username": "never"}]
    assert state_user(server, broker, "app") is None
    mq.create_user(BrokerId=broker, Username="app", Password=PW2)  # the name is free again


def test_reboot_takes_reboot_seconds_and_applies_changes_at_its_end(server: Server, mq: Any, broker: str) -> None:
    other = make_broker(mq, "other")
    mq.create_user(BrokerId=broker, Username="app", Password=PW1)
    reboot_seconds(server, 0.5)
    mq.reboot_broker(BrokerId=broker)
    assert broker_state(mq, broker) == "REBOOT_IN_PROGRESS"
    assert broker_state(mq, other) == "RUNNING"
    # During the reboot: reads work, changes and another reboot are refused, nothing applied yet.
    assert described(mq, broker, "app")["Pending"]["PendingChange"] == "CREATE"
    assert state_user(server, broker, "app")["Password"] is None
    for call, kw in ((mq.create_user, {"Username": "app2", "Password": PW1}),
                     (mq.update_user, {"Username": "app", "Password": PW2}),
                     (mq.delete_user, {"Username": "app"}),
                     (mq.reboot_broker, {})):
        err = error_response(call, BrokerId=broker, **kw)
        assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["ErrorAttribute"]) == (
            "BadRequestException", 400, "broker-id")
        assert "REBOOT_IN_PROGRESS" in err["Error"]["Message"]
    assert state_broker(server, broker)["BrokerState"] == "REBOOT_IN_PROGRESS"

    assert sequence(lambda: broker_state(mq, broker), "RUNNING") == ["REBOOT_IN_PROGRESS", "RUNNING"]
    assert described(mq, broker, "app") == {"BrokerId": broker, "Username": "app", "ConsoleAccess": False,
                                            "Groups": [], "ReplicationUser": False}
    assert state_user(server, broker, "app")["Password"] == PW1
    assert state_broker(server, broker)["reboots"] == 1
    assert state_broker(server, other)["reboots"] == 0

    mq.reboot_broker(BrokerId=broker)
    assert sequence(lambda: broker_state(mq, broker), "RUNNING") == ["REBOOT_IN_PROGRESS", "RUNNING"]
    assert state_broker(server, broker)["reboots"] == 2


def test_reboot_is_jittered_by_transition_jitter(server: Server, mq: Any, broker: str) -> None:
    """reboot_seconds plus up to transition_jitter, drawn per reboot; 0 s stays at once."""
    control(server, "POST", "config", {"transition_jitter": 5})
    mq.reboot_broker(BrokerId=broker)
    assert broker_state(mq, broker) == "RUNNING"
    control(server, "POST", "config", {"reboot_seconds": 0.2, "transition_jitter": 0.4})
    took = []
    for _ in range(5):
        started = time.monotonic()
        mq.reboot_broker(BrokerId=broker)
        while broker_state(mq, broker) != "RUNNING":
            assert time.monotonic() - started < 5
            time.sleep(0.02)
        took.append(time.monotonic() - started)
    assert min(took) >= 0.2 and max(took) <= 0.6 + 0.3, took
    assert max(took) - min(took) >= 0.03, f"every reboot took the same time: {took}"


def test_list_users_pages(mq: Any, broker: str) -> None:
    for i in range(4):
        mq.create_user(BrokerId=broker, Username=f"user{i}", Password=PW1)
    first = mq.list_users(BrokerId=broker, MaxResults=2)
    assert [u["Username"] for u in first["Users"]] == ["admin", "user0"] and first["NextToken"] == "user1"
    second = mq.list_users(BrokerId=broker, MaxResults=2, NextToken=first["NextToken"])
    assert [u["Username"] for u in second["Users"]] == ["user1", "user2"]
    assert "NextToken" not in mq.list_users(BrokerId=broker)
    assert error_of(mq.list_users, BrokerId=broker, NextToken="nope")[0] == "BadRequestException"


def test_passwords_never_leave_through_aws_responses(server: Server, mq: Any, broker: str) -> None:
    mq.create_user(BrokerId=broker, Username="app", Password=PW1)
    mq.update_user(BrokerId=broker, Username="app", Password=PW2)
    outputs = [
        mq.describe_user(BrokerId=broker, Username="app"),
        mq.describe_user(BrokerId=broker, Username="admin"),
        mq.list_users(BrokerId=broker),
        mq.describe_broker(BrokerId=broker),
        mq.list_brokers(),
    ]
    text = json.dumps(outputs, default=str) + json.dumps(control(server, "GET", "calls"))
    assert not any(p in text for p in (ADMIN_PW, PW1, PW2))


def test_call_log_and_faults(server: Server, mq: Any, broker: str) -> None:
    control(server, "POST", "fail", {"service": "mq", "action": "RebootBroker", "status": 500,
                                     "code": "InternalServerErrorException", "message": "try later"})
    assert error_of(mq.reboot_broker, BrokerId=broker) == ("InternalServerErrorException", "try later", 500)
    assert state_broker(server, broker)["reboots"] == 0
    mq.reboot_broker(BrokerId=broker)
    calls = [(c["service"], c["action"]) for c in control(server, "GET", "calls")]
    assert calls == [("mq", "CreateBroker"), ("mq", "RebootBroker"), ("mq", "RebootBroker")]
