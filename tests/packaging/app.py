"""A CDK app in Python as a user writes it: the wheel jsii-pacmak built, installed in a fresh
virtualenv, no codePath (the package's own arm64 bootstrap)."""

import sys

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from userkeeper_cdk import (
    AmazonMqRabbitMqUser,
    AmazonMqUser,
    ElastiCacheEngine,
    ElastiCacheUser,
    ElastiCacheUserGroup,
    MemoryDbAcl,
    MemoryDbUser,
    RabbitMqPermission,
    RotatedSecretString,
    UserKeeper,
)

app = cdk.App(outdir=sys.argv[1])
stack = cdk.Stack(app, "Installed")
keeper = UserKeeper(stack, "UserKeeper")

secret = secretsmanager.Secret(
    stack, "AppSecret", generate_secret_string=RotatedSecretString.elasti_cache(user_id="app", user_name="app")
)
default_user = ElastiCacheUser(
    stack, "Default", user_keeper=keeper, user_id="app-default", user_name="default",
    engine=ElastiCacheEngine.REDIS, access_string="off ~* -@all", no_password_required=True,
)
user = ElastiCacheUser(
    stack, "App", user_keeper=keeper, user_id="app", user_name="app", engine=ElastiCacheEngine.REDIS,
    access_string="on ~app:* +@read", password_secret=secret,
)
keeper.rotate(user, automatically_after=cdk.Duration.days(7))
ElastiCacheUserGroup(
    stack, "Group", user_keeper=keeper, user_group_id="app", engine=ElastiCacheEngine.REDIS,
    user_ids=[default_user.user_id, user.user_id],
)

mdb_secret = secretsmanager.Secret(
    stack, "MemoryDbSecret", generate_secret_string=RotatedSecretString.memory_db(user_name="app")
)
mdb_user = MemoryDbUser(
    stack, "MemoryDbUser", user_keeper=keeper, user_name="app", access_string="on ~* +@read", password_secret=mdb_secret
)
keeper.rotate(mdb_user)
MemoryDbAcl(stack, "Acl", user_keeper=keeper, acl_name="app", user_names=[mdb_user.user_name])

broker = AmazonMqUser.broker_from_arn("arn:aws:mq:us-east-1:123456789012:broker:app:b-1234abcd-12ab-34cd-56ef-1234567890ab")
mq_secret = secretsmanager.Secret(
    stack, "MqSecret", generate_secret_string=RotatedSecretString.amazon_mq(broker=broker, username="app")
)
mq_user = AmazonMqUser(stack, "MqUser", user_keeper=keeper, broker=broker, username="app", password_secret=mq_secret)
keeper.rotate(mq_user)

rabbit_broker = AmazonMqUser.broker_from_arn("arn:aws:mq:us-east-1:123456789012:broker:events:b-9876abcd-12ab-34cd-56ef-1234567890ab")
rabbit_admin = secretsmanager.Secret.from_secret_complete_arn(
    stack, "RabbitAdmin", "arn:aws:secretsmanager:us-east-1:123456789012:secret:mq/events-admin-AbCdEf"
)
rabbit_secret = secretsmanager.Secret(
    stack, "RabbitSecret",
    generate_secret_string=RotatedSecretString.rabbit_mq(broker=rabbit_broker, username="app", admin_secret=rabbit_admin),
)
rabbit_user = AmazonMqRabbitMqUser(
    stack, "RabbitUser", user_keeper=keeper, broker=rabbit_broker, username="app", password_secret=rabbit_secret,
    admin_secret=rabbit_admin, tags=["management"],
    permissions=[RabbitMqPermission(virtual_host="/", configure=r"^app\.", write=r"^app\.", read=r"^app\.")],
)
keeper.rotate(rabbit_user)
keeper.alarms(topic=sns.Topic(stack, "Alarms"))

app.synth()
