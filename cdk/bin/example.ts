#!/usr/bin/env node
// Example app: userkeeper plus, for each service, users whose passwords live in Secrets Manager
// (in userkeeper's rotated-secret format) and are rotated every 30 days:
//   ElastiCache  a `default` user, an app user, and a user group holding both;
//   MemoryDB     a password user, an IAM user, and an ACL holding both;
//   Amazon MQ    a broker user, only when the MqBrokerArn parameter names an ActiveMQ broker
//                (rotated only with RotateMqExample=true, once that user is live);
//   RabbitMQ     a broker user with a tag and permissions on one virtual host, only when the
//                RabbitMqBrokerArn and RabbitMqAdminSecretArn parameters name a RabbitMQ broker
//                and its administrator's secret.
// None is attached to a cache or cluster. Synthesizes offline (no account, no region):
//   npx cdk synth            (cdk.json runs this file with ts-node)
// Deploy after `cargo lambda build --release --arm64` at the repository root:
//   npx cdk deploy UserKeeperExample [--parameters MqBrokerArn=arn:aws:mq:...:broker:NAME:ID]
//     [--parameters RabbitMqBrokerArn=arn:aws:mq:...:broker:NAME:ID --parameters RabbitMqAdminSecretArn=arn:...]
import { App, Annotations, CfnCondition, CfnOutput, CfnParameter, CfnResource, Duration, Fn, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';
import {
  AmazonMqRabbitMqUser,
  AmazonMqUser,
  DEFAULT_CODE_PATH,
  ElastiCacheEngine,
  ElastiCacheUser,
  ElastiCacheUserGroup,
  MemoryDbAcl,
  MemoryDbAuthenticationType,
  MemoryDbUser,
  RotatedSecretString,
  UserKeeper,
} from '../lib';
import { codePathOrPlaceholder } from '../lib/dummy-asset';

/** Every CloudFormation resource under `scopes` exists only when `condition` holds. */
function onlyIf(condition: CfnCondition, ...scopes: IConstruct[]): void {
  for (const scope of scopes) {
    for (const c of scope.node.findAll()) {
      if (CfnResource.isCfnResource(c)) {
        c.cfnOptions.condition = condition;
      }
    }
  }
}

export class UserKeeperExampleStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps & { codePath?: string } = {}) {
    super(scope, id, props);
    const asset = codePathOrPlaceholder(props.codePath ?? DEFAULT_CODE_PATH);
    if (asset.placeholder) {
      Annotations.of(this).addWarningV2(
        'userkeeper:placeholder-bootstrap',
        `no bootstrap in ${props.codePath ?? DEFAULT_CODE_PATH}: synthesized with a placeholder. ` +
          'Run `cargo lambda build --release --arm64` before deploying.',
      );
    }
    const keeper = new UserKeeper(this, 'UserKeeper', { codePath: asset.codePath });

    // The secret names the user (what rotation needs) and excludes what Valkey refuses.
    const secret = new secretsmanager.Secret(this, 'AppUserSecret', {
      description: 'Password of the example ElastiCache user (userkeeper rotated-secret format)',
      generateSecretString: RotatedSecretString.elastiCache({ userId: 'cdk-example-app', userName: 'app' }),
    });

    // A valkey user group takes only users that authenticate (ElastiCache RBAC guide): the
    // `default` user, which can do nothing, has a password too, never handed out.
    const defaultUserSecret = new secretsmanager.Secret(this, 'DefaultUserSecret', {
      description: 'Password of the example ElastiCache default user (never used to log in)',
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'password',
        excludeCharacters: ',"/@\'\\ ',
        passwordLength: 32,
      },
    });
    // cdk-nag's AwsSolutions asks every secret to be rotated; this one guards a user that is
    // `off` and whose password nobody is given.
    Validations.of(defaultUserSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The ElastiCache default user is off (no commands, no keys) and its password is never handed out: rotating it protects nothing',
    });
    const defaultUser = new ElastiCacheUser(this, 'DefaultUser', {
      userKeeper: keeper,
      userId: 'cdk-example-default',
      userName: 'default',
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'off ~* -@all',
      passwordSecret: defaultUserSecret,
    });
    const appUser = new ElastiCacheUser(this, 'AppUser', {
      userKeeper: keeper,
      userId: 'cdk-example-app',
      userName: 'app',
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'on ~app:* +@read +@write -@dangerous',
      passwordSecret: secret,
      tags: { app: 'userkeeper-example' },
    });
    // Every 30 days the user gets [new, current]: clients holding the current password keep
    // working until the next rotation.
    keeper.rotate(appUser, { automaticallyAfter: Duration.days(30) });
    const group = new ElastiCacheUserGroup(this, 'UserGroup', {
      userKeeper: keeper,
      userGroupId: 'cdk-example-app',
      engine: ElastiCacheEngine.VALKEY,
      userIds: [defaultUser.userId, appUser.userId],
    });

    // --- MemoryDB ---------------------------------------------------------------------------
    const memoryDbSecret = new secretsmanager.Secret(this, 'MemoryDbUserSecret', {
      description: 'Password of the example MemoryDB user (userkeeper rotated-secret format)',
      generateSecretString: RotatedSecretString.memoryDb({ userName: 'cdk-example-app' }),
    });
    const memoryDbUser = new MemoryDbUser(this, 'MemoryDbUser', {
      userKeeper: keeper,
      userName: 'cdk-example-app',
      accessString: 'on ~app:* +@read +@write -@dangerous',
      passwordSecret: memoryDbSecret,
      tags: { app: 'userkeeper-example' },
    });
    keeper.rotate(memoryDbUser);
    const memoryDbIamUser = new MemoryDbUser(this, 'MemoryDbIamUser', {
      userKeeper: keeper,
      userName: 'cdk-example-app-iam',
      accessString: 'on ~app:* +@read',
      authenticationType: MemoryDbAuthenticationType.IAM,
    });
    const acl = new MemoryDbAcl(this, 'MemoryDbAcl', {
      userKeeper: keeper,
      aclName: 'cdk-example-app',
      userNames: [memoryDbUser.userName, memoryDbIamUser.userName],
    });

    // --- Amazon MQ (optional: a broker of yours) -----------------------------------------------
    const brokerArn = new CfnParameter(this, 'MqBrokerArn', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^arn:aws[a-z-]*:mq:[a-z0-9-]+:[0-9]{12}:broker:[A-Za-z0-9._~-]+:b-[A-Za-z0-9-]+$',
      description:
        'Optional: the ARN of an ActiveMQ broker. When given, an example broker user is created on it ' +
        '(pending until the next reboot or maintenance window: the example never reboots the broker).',
    });
    const rotateMq = new CfnParameter(this, 'RotateMqExample', {
      type: 'String',
      default: 'false',
      allowedValues: ['true', 'false'],
      description:
        'true (with MqBrokerArn): also rotate the example broker user\'s secret every 30 days (alternating: the first ' +
        'rotation creates cdk-example-app_clone, which deleting the stack leaves behind). Set it once the user is live ' +
        '(after the broker\'s next reboot): Secrets Manager tests the current credentials when the schedule is created. ' +
        'The example never reboots the broker, so each rotation completes only after a reboot.',
    });
    const withBroker = new CfnCondition(this, 'CreateMqExample', {
      expression: Fn.conditionNot(Fn.conditionEquals(brokerArn.valueAsString, '')),
    });
    const withMqRotation = new CfnCondition(this, 'RotateMqExampleSecret', {
      expression: Fn.conditionAnd(withBroker, Fn.conditionEquals(rotateMq.valueAsString, 'true')),
    });
    const broker = AmazonMqUser.brokerFromArn(brokerArn.valueAsString);
    const mqSecret = new secretsmanager.Secret(this, 'MqUserSecret', {
      description: 'Password of the example Amazon MQ broker user (userkeeper rotated-secret format)',
      // Alternating users, and never a reboot: a rotation completes at the broker's next one.
      generateSecretString: RotatedSecretString.amazonMq({ broker, username: 'cdk-example-app' }),
    });
    const mqUser = new AmazonMqUser(this, 'MqUser', {
      userKeeper: keeper,
      broker,
      username: 'cdk-example-app',
      passwordSecret: mqSecret,
      groups: ['apps'],
      consoleAccess: false,
      applyImmediately: false,
    });
    // The secret, the user and the user's grants: all or nothing, with the broker.
    onlyIf(withBroker, mqSecret, mqUser);
    // Its rotation (schedule and grants) only when asked for, too.
    onlyIf(withMqRotation, keeper.rotate(mqUser, { automaticallyAfter: Duration.days(30) }));

    // --- Amazon MQ for RabbitMQ (optional: a broker of yours and its administrator) ----------
    const rabbitBrokerArn = new CfnParameter(this, 'RabbitMqBrokerArn', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^arn:aws[a-z-]*:mq:[a-z0-9-]+:[0-9]{12}:broker:[A-Za-z0-9._~-]+:b-[A-Za-z0-9-]+$',
      description:
        'Optional: the ARN of a RabbitMQ broker. Given with RabbitMqAdminSecretArn, an example broker user is ' +
        'created on it and its password rotated every 30 days (alternating users, no reboot).',
    });
    const rabbitAdminArn = new CfnParameter(this, 'RabbitMqAdminSecretArn', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$',
      description:
        'With RabbitMqBrokerArn: the full ARN of the secret holding that broker\'s administrator ({"username", "password"}), ' +
        'with which userkeeper calls the management API.',
    });
    Validations.of(this).acknowledge({
      id: 'CloudFormation-Validate::W2509',
      reason: 'RabbitMqAdminSecretArn is the ARN of a secret, not a secret: the function reads the credentials from Secrets Manager',
    });
    const withRabbit = new CfnCondition(this, 'CreateRabbitMqExample', {
      expression: Fn.conditionAnd(
        Fn.conditionNot(Fn.conditionEquals(rabbitBrokerArn.valueAsString, '')),
        Fn.conditionNot(Fn.conditionEquals(rabbitAdminArn.valueAsString, '')),
      ),
    });
    const rabbitBroker = AmazonMqUser.brokerFromArn(rabbitBrokerArn.valueAsString);
    const rabbitAdmin = secretsmanager.Secret.fromSecretCompleteArn(this, 'RabbitMqAdminSecret', rabbitAdminArn.valueAsString);
    const rabbitSecret = new secretsmanager.Secret(this, 'RabbitMqUserSecret', {
      description: 'Password of the example RabbitMQ broker user (userkeeper rotated-secret format)',
      generateSecretString: RotatedSecretString.rabbitMq({ broker: rabbitBroker, username: 'cdk-example-app', adminSecret: rabbitAdmin }),
    });
    const rabbitUser = new AmazonMqRabbitMqUser(this, 'RabbitMqUser', {
      userKeeper: keeper,
      broker: rabbitBroker,
      username: 'cdk-example-app',
      passwordSecret: rabbitSecret,
      adminSecret: rabbitAdmin,
      tags: ['management'],
      permissions: [{ virtualHost: '/', configure: '^app\\.', write: '^app\\.', read: '^app\\.' }],
    });
    // RabbitMQ applies the user at once: its rotation can be tested as soon as it exists.
    onlyIf(withRabbit, rabbitSecret, rabbitUser, keeper.rotate(rabbitUser));

    // Failed requests, failed rotation steps and Secrets Manager's rotation failures reach this
    // topic: subscribe to it (README, Operating it).
    // enforceSSL: publishing only over TLS (a topic policy denying the rest), which cdk-nag's
    // AwsSolutions pack asks of every topic.
    const alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: 'userkeeper alarms', enforceSSL: true });
    keeper.alarms({ topic: alarmTopic });

    new CfnOutput(this, 'ServiceToken', { value: keeper.serviceToken });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarmTopic.topicArn });
    new CfnOutput(this, 'AppUserArn', { value: appUser.attrArn });
    new CfnOutput(this, 'UserGroupId', { value: group.attrUserGroupId });
    new CfnOutput(this, 'MemoryDbUserArn', { value: memoryDbUser.attrArn });
    new CfnOutput(this, 'MemoryDbIamUserMinimumEngineVersion', { value: memoryDbIamUser.attrMinimumEngineVersion });
    new CfnOutput(this, 'MemoryDbAclName', { value: acl.attrAclName });
    new CfnOutput(this, 'MqUsername', { value: mqUser.attrUsername }).condition = withBroker;
    new CfnOutput(this, 'MqUserPendingChange', { value: mqUser.attrPendingChange }).condition = withBroker;
    new CfnOutput(this, 'RabbitMqUsername', { value: rabbitUser.attrUsername }).condition = withRabbit;
    new CfnOutput(this, 'RabbitMqConsoleUrl', { value: rabbitUser.attrConsoleUrl }).condition = withRabbit;
  }
}

if (require.main === module) {
  const app = new App();
  // No env: account- and region-agnostic, so `cdk synth` needs no credentials.
  new UserKeeperExampleStack(app, 'UserKeeperExample');
  app.synth();
}
