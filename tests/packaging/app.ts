// A CDK app as a user writes it, outside the repository: the installed package only, no
// codePath (the package's own arm64 bootstrap), compiled with plain tsc.
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  AmazonMqRabbitMqUser,
  AmazonMqUser,
  ElastiCacheEngine,
  ElastiCacheUser,
  ElastiCacheUserGroup,
  MemoryDbAcl,
  MemoryDbUser,
  RotatedSecretString,
  UserKeeper,
} from 'userkeeper-cdk';

const app = new App({ outdir: process.argv[2] });
const stack = new Stack(app, 'Installed');
const keeper = new UserKeeper(stack, 'UserKeeper');

const secret = new secretsmanager.Secret(stack, 'AppSecret', {
  generateSecretString: RotatedSecretString.elastiCache({ userId: 'app', userName: 'app' }),
});
const defaultUser = new ElastiCacheUser(stack, 'Default', {
  userKeeper: keeper, userId: 'app-default', userName: 'default', engine: ElastiCacheEngine.REDIS,
  accessString: 'off ~* -@all', noPasswordRequired: true,
});
const user = new ElastiCacheUser(stack, 'App', {
  userKeeper: keeper, userId: 'app', userName: 'app', engine: ElastiCacheEngine.REDIS,
  accessString: 'on ~app:* +@read', passwordSecret: secret,
});
keeper.rotate(user, { automaticallyAfter: Duration.days(7) });
new ElastiCacheUserGroup(stack, 'Group', {
  userKeeper: keeper, userGroupId: 'app', engine: ElastiCacheEngine.REDIS, userIds: [defaultUser.userId, user.userId],
});

const mdbSecret = new secretsmanager.Secret(stack, 'MemoryDbSecret', {
  generateSecretString: RotatedSecretString.memoryDb({ userName: 'app' }),
});
const mdbUser = new MemoryDbUser(stack, 'MemoryDbUser', { userKeeper: keeper, userName: 'app', accessString: 'on ~* +@read', passwordSecret: mdbSecret });
keeper.rotate(mdbUser);
new MemoryDbAcl(stack, 'Acl', { userKeeper: keeper, aclName: 'app', userNames: [mdbUser.userName] });

const broker = AmazonMqUser.brokerFromArn('arn:aws:mq:us-east-1:123456789012:broker:app:b-1234abcd-12ab-34cd-56ef-1234567890ab');
const mqSecret = new secretsmanager.Secret(stack, 'MqSecret', {
  generateSecretString: RotatedSecretString.amazonMq({ broker, username: 'app' }),
});
const mqUser = new AmazonMqUser(stack, 'MqUser', { userKeeper: keeper, broker, username: 'app', passwordSecret: mqSecret });
keeper.rotate(mqUser);

const rabbitBroker = AmazonMqUser.brokerFromArn('arn:aws:mq:us-east-1:123456789012:broker:events:b-9876abcd-12ab-34cd-56ef-1234567890ab');
const rabbitAdmin = secretsmanager.Secret.fromSecretCompleteArn(stack, 'RabbitAdmin', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mq/events-admin-AbCdEf');
const rabbitSecret = new secretsmanager.Secret(stack, 'RabbitSecret', {
  generateSecretString: RotatedSecretString.rabbitMq({ broker: rabbitBroker, username: 'app', adminSecret: rabbitAdmin }),
});
const rabbitUser = new AmazonMqRabbitMqUser(stack, 'RabbitUser', {
  userKeeper: keeper, broker: rabbitBroker, username: 'app', passwordSecret: rabbitSecret, adminSecret: rabbitAdmin,
  tags: ['management'], permissions: [{ virtualHost: '/', configure: '^app\\.', write: '^app\\.', read: '^app\\.' }],
});
keeper.rotate(rabbitUser);
keeper.alarms({ topic: new sns.Topic(stack, 'Alarms') });

app.synth();
