// Unit tests of the constructs (node's built-in test runner, run with ts-node):
//   npm test
import { strict as assert } from 'node:assert';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, CfnParameter, Duration, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as amazonmq from 'aws-cdk-lib/aws-amazonmq';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  AmazonMqRabbitMqUser,
  AmazonMqUser,
  CONTINUATION_ACTIONS,
  ELASTICACHE_ROTATION_ACTIONS,
  ELASTICACHE_USER_ACTIONS,
  ELASTICACHE_USER_GROUP_ACTIONS,
  ELASTICACHE_USER_GROUP_MEMBER_ACTIONS,
  ElastiCacheAuthenticationType,
  ElastiCacheEngine,
  ElastiCacheUser,
  ElastiCacheUserGroup,
  MEMORYDB_ACL_ACTIONS,
  MEMORYDB_ACL_CREATE_ACTIONS,
  MEMORYDB_ACL_MEMBER_ACTIONS,
  MEMORYDB_CREATE_USER_ACTIONS,
  MEMORYDB_ROTATION_ACTIONS,
  MEMORYDB_USER_ACTIONS,
  MemoryDbAcl,
  MemoryDbAuthenticationType,
  MemoryDbUser,
  MQ_RECORD_CLEANUP_ACTIONS,
  MQ_RECORD_TAG_ACTIONS,
  MQ_REBOOT_ACTIONS,
  MQ_ROTATION_ACTIONS,
  MQ_ROTATION_SECRET_TAG,
  MQ_ROTATION_SECRET_TAG_ACTIONS,
  MQ_USER_ACTIONS,
  MqRotationStrategy,
  PASSWORD_SECRET_TAG,
  RABBITMQ_BROKER_ACTIONS,
  RabbitMqRotationStrategy,
  ROTATION_FUNCTION_KEY,
  ROTATION_KMS_ACTIONS,
  ROTATION_SECRET_ACTIONS,
  RotatedSecretString,
  UserKeeper,
} from '../lib';
import { codePathOrPlaceholder } from '../lib/dummy-asset';
import { UserKeeperExampleStack } from '../bin/example';

// Always a placeholder asset: the tests never need the cross-compiled binary.
const CODE = codePathOrPlaceholder(path.join(os.tmpdir(), 'userkeeper-no-such-dir')).codePath;

function stack(): Stack {
  return new Stack(new App(), 'Test');
}

function keeper(s: Stack): UserKeeper {
  return new UserKeeper(s, 'UserKeeper', { codePath: CODE });
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: any; Sid?: string };

/** Every statement of every identity policy in the template (inline role policies too). */
function statements(t: Template): Statement[] {
  const out: Statement[] = [];
  for (const p of [...Object.values(t.findResources('AWS::IAM::Policy')), ...Object.values(t.findResources('AWS::IAM::ManagedPolicy'))]) {
    out.push(...(p as any).Properties.PolicyDocument.Statement);
  }
  for (const r of Object.values(t.findResources('AWS::IAM::Role'))) {
    for (const p of (r as any).Properties.Policies ?? []) {
      out.push(...p.PolicyDocument.Statement);
    }
  }
  return out;
}

function actionsOf(s: Statement): string[] {
  return Array.isArray(s.Action) ? s.Action : [s.Action];
}

function resourcesOf(s: Statement): unknown[] {
  return Array.isArray(s.Resource) ? s.Resource : [s.Resource];
}

/** `{"Fn::Join": ["", [..]]}` rendered with placeholders, for readable assertions. */
function render(v: unknown): string {
  if (typeof v === 'string') return v;
  const o = v as any;
  if (o?.['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(render).join(o['Fn::Join'][0]);
  if (o?.Ref) return `{Ref ${o.Ref}}`;
  if (o?.['Fn::GetAtt']) return `{GetAtt ${o['Fn::GetAtt'].join('.')}}`;
  return JSON.stringify(v);
}

const ARN_PREFIX = '{Ref AWS::Partition}'; // what formatArn renders for "arn:<partition>"
const ACCOUNT = '{Ref AWS::Region}:{Ref AWS::AccountId}';

/**
 * What `construct` (a user, group, ACL or rotation) asked to be granted, as rendered in the
 * template; and the check that the template grants each of it, through the policies its
 * resource DependsOn (the ones that outlive its Delete), under the same condition.
 */
function grantsOf(t: Template, s: Stack, construct: { grants?: iam.PolicyStatement[] }): Statement[] {
  const own = construct.grants;
  assert.ok(own && own.length > 0, 'the construct asked for grants');
  const rendered = own.map((x) => s.resolve(x.toStatementJson()) as Statement);
  const dependent = (construct as any).schedule ?? (construct as any).resource.node.defaultChild;
  const inEffect = effectiveStatements(t, s.getLogicalId(dependent));
  for (const st of rendered) {
    for (const action of actionsOf(st)) {
      for (const resource of resourcesOf(st)) {
        const granted = inEffect.some(
          (x) =>
            actionsOf(x).includes(action) &&
            resourcesOf(x).some((r) => JSON.stringify(r) === JSON.stringify(resource)) &&
            JSON.stringify(x.Condition ?? null) === JSON.stringify(st.Condition ?? null),
        );
        assert.ok(granted, `${action} on ${render(resource)} is not granted to ${dependent.node.path} by the policies it DependsOn`);
      }
    }
  }
  return rendered;
}

/** The statements of the managed policies `logicalId` DependsOn (its grants). */
function effectiveStatements(t: Template, logicalId: string): Statement[] {
  const resources = t.toJSON().Resources;
  return dependsOn(t, logicalId)
    .filter((d) => resources[d].Type === 'AWS::IAM::ManagedPolicy')
    .flatMap((d) => resources[d].Properties.PolicyDocument.Statement);
}

/** The actions the template grants on `resource` (rendered), with no condition. */
function grantedOn(t: Template, resource: string): string[] {
  return [
    ...new Set(
      statements(t)
        .filter((x) => !x.Condition && resourcesOf(x).map(render).includes(resource))
        .flatMap(actionsOf),
    ),
  ].sort();
}

/** The logical ids, in an order CloudFormation could create them; fails on a cycle. */
function creationOrder(t: Template): string[] {
  const resources = t.toJSON().Resources as Record<string, any>;
  const refs = (v: unknown, out: Set<string>): Set<string> => {
    if (Array.isArray(v)) v.forEach((x) => refs(x, out));
    else if (v && typeof v === 'object') {
      const o = v as any;
      if (typeof o.Ref === 'string' && o.Ref in resources) out.add(o.Ref);
      if (Array.isArray(o['Fn::GetAtt']) && o['Fn::GetAtt'][0] in resources) out.add(o['Fn::GetAtt'][0]);
      Object.values(o).forEach((x) => refs(x, out));
    }
    return out;
  };
  const deps = new Map<string, Set<string>>();
  for (const [id, r] of Object.entries(resources)) {
    const d = refs(r.Properties ?? {}, new Set());
    for (const x of [r.DependsOn ?? []].flat()) d.add(x);
    deps.set(id, d);
  }
  const done: string[] = [];
  while (done.length < deps.size) {
    const ready = [...deps.keys()].find((id) => !done.includes(id) && [...deps.get(id)!].every((d) => done.includes(d)));
    assert.ok(ready, `circular dependency among ${[...deps.keys()].filter((id) => !done.includes(id))}`);
    done.push(ready!);
  }
  return done;
}

function dependsOn(t: Template, logicalId: string): string[] {
  return [t.toJSON().Resources[logicalId].DependsOn ?? []].flat();
}

function exampleLike(s: Stack) {
  const k = keeper(s);
  const secret = new secretsmanager.Secret(s, 'Secret', {
    generateSecretString: {
      secretStringTemplate: JSON.stringify({ username: 'app' }),
      generateStringKey: 'password',
      excludeCharacters: ',"/@\'\\ ',
      passwordLength: 32,
    },
  });
  const dflt = new ElastiCacheUser(s, 'Default', {
    userKeeper: k,
    userId: 'app-default',
    userName: 'default',
    engine: ElastiCacheEngine.VALKEY,
    accessString: 'off ~* -@all',
    noPasswordRequired: true,
  });
  const app = new ElastiCacheUser(s, 'App', {
    userKeeper: k,
    userId: 'app-user',
    userName: 'app',
    engine: ElastiCacheEngine.REDIS,
    accessString: 'on ~app:* +@read',
    passwordSecret: secret,
    tags: { team: 'payments', env: 'prod' },
  });
  const group = new ElastiCacheUserGroup(s, 'Group', {
    userKeeper: k,
    userGroupId: 'app-users',
    engine: ElastiCacheEngine.VALKEY,
    userIds: [dflt.userId, app.userId],
  });
  return { k, secret, dflt, app, group };
}

describe('UserKeeper', () => {
  it('is an arm64 provided.al2023 function with bootstrap, 900 s, 128 MB, JSON logs', () => {
    const s = stack();
    keeper(s);
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::Lambda::Function', 1);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Architectures: ['arm64'],
      Handler: 'bootstrap',
      Timeout: 900,
      MemorySize: 128,
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON', LogGroup: Match.anyValue() }),
    });
    t.resourceCountIs('AWS::Logs::LogGroup', 1);
  });

  it('holds logging and lambda:InvokeFunction on itself only, until a resource needs something', () => {
    const s = stack();
    const k = keeper(s);
    const t = Template.fromStack(s);
    // Its own log group only, not AWSLambdaBasicExecutionRole (every log group of the account).
    const role = Object.values(t.findResources('AWS::IAM::Role'))[0] as any;
    assert.equal(role.Properties.ManagedPolicyArns, undefined);
    const logsId = s.getLogicalId(k.node.findChild('Logs').node.defaultChild as any);
    assert.deepEqual(role.Properties.Policies[0].PolicyDocument.Statement, [
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [logsId, 'Arn'] },
      },
    ]);
    // Continuations: exactly the function's own, unqualified ARN, in a policy of its own.
    t.resourceCountIs('AWS::IAM::Policy', 1);
    const fnId = s.getLogicalId(k.function.node.defaultChild as any);
    const roleId = s.getLogicalId(k.function.role!.node.defaultChild as any);
    const st = statements(t).filter((x) => x.Sid !== 'WriteOwnLogs');
    assert.equal(st.length, 1);
    assert.deepEqual(actionsOf(st[0]), CONTINUATION_ACTIONS);
    assert.deepEqual(st[0].Resource, { 'Fn::GetAtt': [fnId, 'Arn'] });
    t.hasResourceProperties('AWS::IAM::Policy', { Roles: [{ Ref: roleId }] });
    // Not in the role's default policy, which the function depends on: no cycle.
    assert.ok(!dependsOn(t, fnId).includes(s.getLogicalId(k.continuationPolicy.node.defaultChild as any)));
    creationOrder(t);
  });

  it('fails clearly when the bootstrap is missing', () => {
    assert.throws(
      () => new UserKeeper(stack(), 'K', { codePath: path.join(os.tmpdir(), 'userkeeper-no-such-dir') }),
      /no bootstrap in .*cargo lambda build --release --arm64/,
    );
  });
});

describe('ElastiCacheUser', () => {
  it('renders PascalCase properties as CloudFormation sends them (strings)', () => {
    const s = stack();
    exampleLike(s);
    const t = Template.fromStack(s);
    const users = t.findResources('Custom::ElastiCacheUser');
    const byId = Object.fromEntries(Object.values(users).map((u: any) => [u.Properties.UserId, u.Properties]));
    assert.deepEqual(Object.keys(byId).sort(), ['app-default', 'app-user']);
    const d = byId['app-default'];
    assert.equal(d.NoPasswordRequired, 'true');
    assert.equal(d.ServiceTimeout, '900');
    assert.equal(d.UserName, 'default');
    assert.equal(d.Engine, 'valkey');
    assert.equal(d.AccessString, 'off ~* -@all');
    assert.equal(d.PasswordSecretArn, undefined);
    const a = byId['app-user'];
    assert.deepEqual(Object.keys(a.PasswordSecretArn), ['Ref']);
    assert.match(a.PasswordSecretArn.Ref, /^Secret[0-9A-F]+$/);
    assert.deepEqual(a.Tags, [
      { Key: 'env', Value: 'prod' },
      { Key: 'team', Value: 'payments' },
    ]);
    assert.equal(a.Engine, 'redis');
    // Every scalar leaf is a string (or an intrinsic): nothing CloudFormation would re-render.
    const leaves = (v: unknown, at: string): void => {
      if (v === null || typeof v === 'number' || typeof v === 'boolean') assert.fail(`${at} is ${typeof v}`);
      if (Array.isArray(v)) v.forEach((x, i) => leaves(x, `${at}[${i}]`));
      else if (typeof v === 'object') Object.entries(v as object).forEach(([k, x]) => leaves(x, `${at}.${k}`));
    };
    for (const u of Object.values(users)) leaves((u as any).Properties, 'Properties');
  });

  it('grants the user actions on its own ARN and GetSecretValue on its secret only', () => {
    const s = stack();
    const { k, dflt, app, secret } = exampleLike(s);
    const t = Template.fromStack(s);
    const st = statements(t);
    for (const u of [dflt, app]) {
      const own = grantsOf(t, s, u).filter((x) => actionsOf(x).includes('elasticache:CreateUser'));
      assert.deepEqual(own.map((x) => resourcesOf(x).map(render)), [[render(s.resolve(u.userArn))]]);
      // With what its groups need of a member (see the group's test).
      assert.deepEqual(actionsOf(own[0]).sort(), [...ELASTICACHE_USER_ACTIONS, ...ELASTICACHE_USER_GROUP_MEMBER_ACTIONS].sort());
    }
    // In the template, each user ARN once, with the user actions and what the group needs of
    // its members, in one statement with the group (CreateUserGroup names both types: see the
    // group's test), which grants nothing more: ElastiCache authorizes the user actions on
    // users only, the group actions on groups only.
    const userStatements = st.filter((x) => actionsOf(x).includes('elasticache:CreateUser'));
    assert.equal(userStatements.length, 1);
    assert.deepEqual(resourcesOf(userStatements[0]).map(render).sort(), [
      `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:user:app-default`,
      `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:user:app-user`,
      `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:usergroup:app-users`,
    ]);
    assert.deepEqual(
      actionsOf(userStatements[0]).sort(),
      [...new Set([...ELASTICACHE_USER_ACTIONS, ...ELASTICACHE_USER_GROUP_MEMBER_ACTIONS, ...ELASTICACHE_USER_GROUP_ACTIONS])].sort(),
    );
    const secretStatements = st.filter((x) => actionsOf(x).some((a) => a.startsWith('secretsmanager:')));
    assert.equal(secretStatements.length, 1);
    assert.deepEqual(actionsOf(secretStatements[0]), ['secretsmanager:GetSecretValue']);
    assertTaggedSecretGrant(t, s, k, secretStatements[0], secret);
    assert.ok(!st.some((x) => actionsOf(x).some((a) => a.startsWith('kms:'))), 'no kms: AWS-managed key');
  });

  it('each user grants itself the secret it reads; imported secrets get the -?????? suffix', () => {
    const s = stack();
    const k = keeper(s);
    const imported = secretsmanager.Secret.fromSecretNameV2(s, 'Imported', 'team/app');
    for (const id of ['a-one', 'a-two']) {
      new ElastiCacheUser(s, id, {
        userKeeper: k,
        userId: id,
        userName: id,
        engine: ElastiCacheEngine.VALKEY,
        accessString: 'on ~* +@read',
        passwordSecret: imported,
      });
    }
    const secretStatements = statements(Template.fromStack(s)).filter((x) =>
      actionsOf(x).includes('secretsmanager:GetSecretValue'),
    );
    // Once, for both users: removing one keeps it (see 'shared grants').
    assert.equal(secretStatements.length, 1);
    assert.match(render(secretStatements[0].Resource), /:secret:team\/app-\?\?\?\?\?\?$/);
  });

  it('grants kms:Decrypt via Secrets Manager for a customer-managed key', () => {
    const s = stack();
    const k = keeper(s);
    const key = new kms.Key(s, 'Key');
    const secret = new secretsmanager.Secret(s, 'S', {
      encryptionKey: key,
      generateSecretString: { secretStringTemplate: '{}', generateStringKey: 'password', excludeCharacters: ',"/@' },
    });
    new ElastiCacheUser(s, 'U', {
      userKeeper: k,
      userId: 'u',
      userName: 'u',
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'on ~* +@read',
      passwordSecret: secret,
    });
    const t = Template.fromStack(s);
    const decrypt = statements(t).filter((x) => actionsOf(x).includes('kms:Decrypt'));
    assert.equal(decrypt.length, 1);
    assert.ok(JSON.stringify(decrypt[0].Condition).includes('kms:ViaService'));
  });

  it('never puts a password in the template', () => {
    const s = stack();
    exampleLike(s);
    const t = Template.fromStack(s).toJSON();
    const text = JSON.stringify(t);
    for (const forbidden of ['"Passwords"', '"SecretString"', 'resolve:secretsmanager']) {
      assert.ok(!text.includes(forbidden), `template contains ${forbidden}`);
    }
    const secrets = Object.values(t.Resources).filter((r: any) => r.Type === 'AWS::SecretsManager::Secret');
    assert.equal(secrets.length, 1);
    const gen = (secrets[0] as any).Properties.GenerateSecretString;
    assert.equal(gen.GenerateStringKey, 'password');
    for (const c of [',', '"', '/', '@']) assert.ok(gen.ExcludeCharacters.includes(c), `ExcludeCharacters lacks ${c}`);
    assert.ok(gen.PasswordLength >= 16 && gen.PasswordLength <= 128);
  });

  it('refuses ambiguous or invalid input at synth time', () => {
    const base = { userId: 'u', userName: 'u', engine: ElastiCacheEngine.VALKEY, accessString: 'on' };
    const s = stack();
    const k = keeper(s);
    const secret = new secretsmanager.Secret(s, 'S');
    assert.throws(() => new ElastiCacheUser(s, 'a', { ...base, noPasswordRequired: true }), /exactly one of userKeeper/);
    assert.throws(
      () => new ElastiCacheUser(s, 'b', { ...base, userKeeper: k, serviceToken: 'arn:x', noPasswordRequired: true }),
      /exactly one of userKeeper/,
    );
    assert.throws(() => new ElastiCacheUser(s, 'c', { ...base, userKeeper: k }), /say how the user authenticates/);
    assert.throws(
      () => new ElastiCacheUser(s, 'd', { ...base, userKeeper: k, authenticationType: ElastiCacheAuthenticationType.PASSWORD }),
      /needs passwordSecret/,
    );
    assert.throws(
      () => new ElastiCacheUser(s, 'e', { ...base, userKeeper: k, passwordSecret: secret, noPasswordRequired: true }),
      /exclusive/,
    );
    assert.throws(
      () => new ElastiCacheUser(s, 'f', { ...base, userId: 'bad_id', userKeeper: k, noPasswordRequired: true }),
      /userId "bad_id"/,
    );
    assert.throws(
      () =>
        new ElastiCacheUser(s, 'g', {
          ...base,
          userKeeper: k,
          noPasswordRequired: true,
          tags: { 'userkeeper:stack-id': 'x' },
        }),
      /reserved/,
    );
  });

  it('with a bare serviceToken grants nothing and renders authenticationType and serviceTimeout', () => {
    const s = stack();
    new ElastiCacheUser(s, 'U', {
      serviceToken: 'arn:aws:lambda:us-east-1:123456789012:function:userkeeper',
      serviceTimeout: Duration.minutes(5),
      userId: 'iam-user',
      userName: 'iam-user',
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'on ~* +@read',
      authenticationType: ElastiCacheAuthenticationType.IAM,
    });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::IAM::Policy', 0);
    t.hasResourceProperties('Custom::ElastiCacheUser', {
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:userkeeper',
      ServiceTimeout: '300',
      AuthenticationMode: { Type: 'iam' },
      NoPasswordRequired: Match.absent(),
    });
  });

  it('exposes the Data keys as attributes', () => {
    const s = stack();
    const { app } = exampleLike(s);
    const resolve = (v: string) => s.resolve(v);
    const logical = s.getLogicalId(app.resource.node.defaultChild as any);
    assert.deepEqual(resolve(app.attrArn), { 'Fn::GetAtt': [logical, 'Arn'] });
    assert.deepEqual(resolve(app.attrUserId), { 'Fn::GetAtt': [logical, 'UserId'] });
    assert.deepEqual(resolve(app.attrUserName), { 'Fn::GetAtt': [logical, 'UserName'] });
    assert.deepEqual(resolve(app.attrStatus), { 'Fn::GetAtt': [logical, 'Status'] });
    assert.deepEqual(resolve(app.attrMinimumEngineVersion), { 'Fn::GetAtt': [logical, 'MinimumEngineVersion'] });
    assert.deepEqual(resolve(app.userId), { Ref: logical });
  });
});

describe('ElastiCacheUserGroup', () => {
  it('references its users (so it is created after them) and renders strings', () => {
    const s = stack();
    const { dflt, app } = exampleLike(s);
    const t = Template.fromStack(s);
    t.hasResourceProperties('Custom::ElastiCacheUserGroup', {
      ServiceTimeout: '900',
      UserGroupId: 'app-users',
      Engine: 'valkey',
      UserIds: [s.resolve(dflt.userId), s.resolve(app.userId)],
    });
  });

  it('grants group actions on its ARN, membership actions on its ARN and its members ARNs, without a cycle', () => {
    const s = stack();
    const { group } = exampleLike(s);
    const t = Template.fromStack(s);
    const st = statements(t);
    // One statement for the group and its members (see below).
    const groupStatements = st.filter((x) => actionsOf(x).includes('elasticache:DeleteUserGroup'));
    assert.equal(groupStatements.length, 1);
    // CreateUserGroup / ModifyUserGroup are authorized on the group and on every member. The
    // members made with the same UserKeeper grant that themselves (their ARN once, however many
    // groups); the group names the others (a literal id here), in one statement with its own
    // ARN. Literal ARNs, not Refs of the users: a Ref would make the policy depend on the
    // users, and the users on the policy.
    const group_ = `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:usergroup:app-users`;
    const member = grantsOf(t, s, group).filter((x) => actionsOf(x).includes('elasticache:ModifyUserGroup'));
    assert.equal(member.length, 1);
    assert.deepEqual(actionsOf(member[0]).sort(), [...ELASTICACHE_USER_GROUP_MEMBER_ACTIONS].sort());
    assert.deepEqual(resourcesOf(member[0]).map(render), [group_]);
    const s2 = stack();
    const k2 = keeper(s2);
    const other = new ElastiCacheUserGroup(s2, 'Group', {
      userKeeper: k2,
      userGroupId: 'app-users',
      engine: ElastiCacheEngine.VALKEY,
      userIds: ['made-elsewhere'],
    });
    const elsewhere = `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:user:made-elsewhere`;
    const otherSt = grantsOf(Template.fromStack(s2), s2, other);
    assert.deepEqual(
      resourcesOf(otherSt.find((x) => actionsOf(x).includes('elasticache:ModifyUserGroup'))!).map(render),
      [group_, elsewhere],
    );
    // A valkey group reads its members (only users that authenticate may join).
    assert.deepEqual(resourcesOf(otherSt.find((x) => actionsOf(x).includes('elasticache:DescribeUsers'))!).map(render), [elsewhere]);
    const members = ['app-default', 'app-user'].map((u) => `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:user:${u}`);
    // In the template, one statement names the group and its members (as linters checking
    // statement by statement want for CreateUserGroup), with the group's actions and the
    // users': on a group, ElastiCache authorizes none of the user actions, and on a user none
    // of the group actions, so it grants what the two statements would.
    const all = [...new Set([...ELASTICACHE_USER_GROUP_ACTIONS, ...ELASTICACHE_USER_GROUP_MEMBER_ACTIONS, ...ELASTICACHE_USER_ACTIONS])].sort();
    assert.deepEqual(grantedOn(t, group_), all);
    for (const m of members) assert.deepEqual(grantedOn(t, m), all);
    const userOnly = ['elasticache:CreateUser', 'elasticache:DescribeUsers', 'elasticache:ModifyUser', 'elasticache:DeleteUser'];
    const groupOnly = ['elasticache:DescribeUserGroups', 'elasticache:DeleteUserGroup'];
    assert.deepEqual(all.filter((a) => !ELASTICACHE_USER_GROUP_ACTIONS.includes(a) && !ELASTICACHE_USER_GROUP_MEMBER_ACTIONS.includes(a)), userOnly.sort());
    assert.deepEqual(all.filter((a) => !ELASTICACHE_USER_ACTIONS.includes(a) && !ELASTICACHE_USER_GROUP_MEMBER_ACTIONS.includes(a)), groupOnly.sort());
    for (const policy of Object.values(t.findResources('AWS::IAM::ManagedPolicy'))) {
      assert.ok(!JSON.stringify(policy).includes('"Ref":"Default') && !JSON.stringify(policy).includes('"Ref":"App'));
    }
    creationOrder(t);
  });
});

describe('shared grants', () => {
  const ecUser = (s: Stack, k: UserKeeper, id: string, userId: string) =>
    new ElastiCacheUser(s, id, {
      userKeeper: k,
      userId,
      userName: userId,
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'on',
      noPasswordRequired: true,
    });

  it('each custom resource depends on the stack\'s grants and the continuation policy; the function on neither', () => {
    const s = stack();
    const { k, dflt, app, group } = exampleLike(s);
    const t = Template.fromStack(s);
    const id = (c: any) => s.getLogicalId(c.node.defaultChild);
    const cont = id(k.continuationPolicy);
    const managed = Object.keys(t.findResources('AWS::IAM::ManagedPolicy'));
    assert.equal(managed.length, 1, 'a small app: one grants policy');
    for (const c of [dflt, app, group]) {
      assert.deepEqual(dependsOn(t, id(c.resource)).sort(), [...managed, cont].sort(), `${c.node.path} DependsOn`);
      grantsOf(t, s, c);
    }
    const fnDeps = dependsOn(t, id(k.function));
    for (const m of managed) assert.ok(!fnDeps.includes(m));
    const order = creationOrder(t);
    // Created before the resource, hence deleted after it.
    for (const c of [dflt, app, group]) for (const m of managed) assert.ok(order.indexOf(m) < order.indexOf(id(c.resource)));
  });

  it('a removed resource keeps its grants until after its Delete: the changed policy is a new one', () => {
    // CloudFormation updates a policy in the update phase and deletes removed resources in the
    // cleanup after it. So the policy that granted App must not change in place: its logical id
    // is its content's hash, and App's removal makes a new policy while the old one, which App
    // DependsOn in the old template, goes in the cleanup, after App.
    const build = (withApp: boolean) => {
      const s = stack();
      const k = keeper(s);
      ecUser(s, k, 'Default', 'app-default');
      if (withApp) ecUser(s, k, 'App', 'app-user');
      return Template.fromStack(s);
    };
    const before = build(true);
    const after = build(false);
    const managedBefore = Object.keys(before.findResources('AWS::IAM::ManagedPolicy'));
    const managedAfter = Object.keys(after.findResources('AWS::IAM::ManagedPolicy'));
    const appArn = `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:user:app-user`;
    const granting = managedBefore.filter((m) =>
      before.toJSON().Resources[m].Properties.PolicyDocument.Statement.some((x: Statement) => resourcesOf(x).map(render).includes(appArn)),
    );
    assert.equal(granting.length, 1);
    const appLogical = Object.keys(before.findResources('Custom::ElastiCacheUser')).find((x) => x.startsWith('App'))!;
    assert.ok(dependsOn(before, appLogical).includes(granting[0]), 'App DependsOn the policy granting it');
    assert.ok(!managedAfter.includes(granting[0]), 'that policy is replaced, not updated in place');
    // Nothing else changed: the continuation policy, the role, the function are the same.
    for (const type of ['AWS::IAM::Policy', 'AWS::IAM::Role', 'AWS::Lambda::Function']) {
      assert.deepEqual(after.findResources(type), before.findResources(type), `${type} changed`);
    }
    // And the same app synthesizes the same policy again (the id is stable, not random).
    assert.deepEqual(Object.keys(build(true).findResources('AWS::IAM::ManagedPolicy')), managedBefore);
  });

  it('a resource in another stack of the app gets its grants there, without a cycle between stacks', () => {
    const app = new App();
    const a = new Stack(app, 'Keeper');
    const b = new Stack(app, 'Users');
    const k = keeper(a);
    const u = new MemoryDbUser(b, 'User', {
      userKeeper: k,
      userName: 'app',
      accessString: 'on',
      authenticationType: MemoryDbAuthenticationType.IAM,
    });
    const assembly = app.synth();
    const stackDeps = (name: string) =>
      assembly.getStackByName(name).dependencies.map((d) => d.id).filter((d) => !d.endsWith('.assets'));
    assert.deepEqual(stackDeps('Users'), ['Keeper']);
    assert.deepEqual(stackDeps('Keeper'), []);
    const tb = Template.fromStack(b);
    assert.equal(grantsOf(tb, b, u).length, 2);
    assert.equal(Object.keys(tb.findResources('AWS::IAM::ManagedPolicy')).length, 1);
    assert.equal(Object.keys(Template.fromStack(a).findResources('AWS::IAM::ManagedPolicy')).length, 0);
    assert.deepEqual(Template.fromStack(a).toJSON().Resources[a.getLogicalId(k.continuationPolicy.node.defaultChild as any)].Type, 'AWS::IAM::Policy');
  });
});

/** The condition of MemoryDB's CreateUser and CreateAcl: a request tagged for this stack. */
const OWNED_BY_THIS_STACK = {
  StringEquals: { 'aws:RequestTag/userkeeper:stack-id': { Ref: 'AWS::StackId' } },
  Null: { 'aws:RequestTag/userkeeper:logical-id': 'false' },
};

function memoryDbLike(s: Stack, k: UserKeeper = keeper(s)) {
  const secret = new secretsmanager.Secret(s, 'MdbSecret', {
    generateSecretString: {
      secretStringTemplate: '{}',
      generateStringKey: 'password',
      excludeCharacters: ',"/@\'\\ ',
      passwordLength: 32,
    },
  });
  const pw = new MemoryDbUser(s, 'PwUser', {
    userKeeper: k,
    userName: 'app-pw',
    accessString: 'on ~app:* +@read',
    passwordSecret: secret,
    tags: { team: 'payments' },
  });
  const iamUser = new MemoryDbUser(s, 'IamUser', {
    userKeeper: k,
    userName: 'app-iam',
    accessString: 'on ~app:* +@read',
    authenticationType: MemoryDbAuthenticationType.IAM,
  });
  const acl = new MemoryDbAcl(s, 'Acl', {
    userKeeper: k,
    aclName: 'app-acl',
    userNames: [pw.userName, iamUser.userName],
  });
  return { k, secret, pw, iamUser, acl };
}

describe('MemoryDbUser', () => {
  it('renders the properties userkeeper reads, as strings', () => {
    const s = stack();
    const { pw, iamUser } = memoryDbLike(s);
    const t = Template.fromStack(s);
    const props = (c: MemoryDbUser) => t.toJSON().Resources[s.getLogicalId(c.resource.node.defaultChild as any)].Properties;
    const p = props(pw);
    assert.equal(p.UserName, 'app-pw');
    assert.equal(p.AccessString, 'on ~app:* +@read');
    assert.equal(p.ServiceTimeout, '900');
    assert.equal(p.AuthenticationMode, undefined);
    assert.match(p.PasswordSecretArn.Ref, /^MdbSecret/);
    assert.deepEqual(p.Tags, [{ Key: 'team', Value: 'payments' }]);
    const i = props(iamUser);
    assert.deepEqual(i.AuthenticationMode, { Type: 'iam' });
    assert.equal(i.PasswordSecretArn, undefined);
    t.resourceCountIs('Custom::MemoryDBUser', 2);
  });

  it('grants the user actions on its own ARN, CreateUser only with its stack\'s ownership tags, its secret', () => {
    const s = stack();
    const { pw, iamUser } = memoryDbLike(s);
    const t = Template.fromStack(s);
    for (const [u, name, secret] of [[pw, 'app-pw', true], [iamUser, 'app-iam', false]] as const) {
      const st = grantsOf(t, s, u);
      const own = st.find((x) => actionsOf(x).includes('memorydb:DeleteUser'))!;
      assert.deepEqual(actionsOf(own).sort(), [...MEMORYDB_USER_ACTIONS].sort());
      assert.deepEqual(resourcesOf(own).map(render), [`arn:${ARN_PREFIX}:memorydb:${ACCOUNT}:user/${name}`]);
      // CreateUser with tags (userkeeper's ownership tags, always) needs TagResource on the user.
      assert.ok(actionsOf(own).includes('memorydb:TagResource'));
      const create = st.find((x) => actionsOf(x).includes('memorydb:CreateUser'))!;
      assert.deepEqual(actionsOf(create), MEMORYDB_CREATE_USER_ACTIONS);
      // AWS authorizes CreateUser on no resource: "*", narrowed to the ownership tags of this
      // stack (the same condition for every user, so that the grants stay one statement).
      assert.equal(create.Resource, '*');
      assert.deepEqual(create.Condition, OWNED_BY_THIS_STACK);
      const secrets = st.filter((x) => actionsOf(x).includes('secretsmanager:GetSecretValue'));
      assert.equal(secrets.length, secret ? 1 : 0);
      assert.equal(st.length, secret ? 3 : 2);
    }
  });

  it('refuses ambiguous or invalid input at synth time', () => {
    const s = stack();
    const k = keeper(s);
    const secret = new secretsmanager.Secret(s, 'S');
    const base = { userKeeper: k, userName: 'app', accessString: 'on' };
    assert.throws(() => new MemoryDbUser(s, 'a', base), /say how the user authenticates/);
    assert.throws(
      () => new MemoryDbUser(s, 'b', { ...base, authenticationType: MemoryDbAuthenticationType.IAM, passwordSecret: secret }),
      /iam takes no passwordSecret/,
    );
    assert.throws(
      () => new MemoryDbUser(s, 'c', { ...base, authenticationType: MemoryDbAuthenticationType.PASSWORD }),
      /say how the user authenticates/,
    );
    assert.throws(() => new MemoryDbUser(s, 'd', { ...base, userName: 'App', passwordSecret: secret }), /must be lowercase/);
    assert.throws(() => new MemoryDbUser(s, 'e', { ...base, userName: 'app-', passwordSecret: secret }), /single hyphens/);
    assert.throws(
      () => new MemoryDbUser(s, 'f', { ...base, passwordSecret: secret, tags: { 'userkeeper:x': 'y' } }),
      /reserved/,
    );
    assert.throws(() => new MemoryDbUser(s, 'g', { ...base, serviceToken: 'arn:x', passwordSecret: secret }), /exactly one of/);
  });

  it('exposes the Data keys as attributes', () => {
    const s = stack();
    const { pw } = memoryDbLike(s);
    const logical = s.getLogicalId(pw.resource.node.defaultChild as any);
    assert.deepEqual(s.resolve(pw.attrArn), { 'Fn::GetAtt': [logical, 'Arn'] });
    assert.deepEqual(s.resolve(pw.attrUserName), { 'Fn::GetAtt': [logical, 'UserName'] });
    assert.deepEqual(s.resolve(pw.attrStatus), { 'Fn::GetAtt': [logical, 'Status'] });
    assert.deepEqual(s.resolve(pw.attrMinimumEngineVersion), { 'Fn::GetAtt': [logical, 'MinimumEngineVersion'] });
    assert.deepEqual(s.resolve(pw.userName), { Ref: logical });
  });
});

describe('MemoryDbAcl', () => {
  it('references its users and grants the ACL actions on its ARN, CreateAcl/UpdateAcl on its ARN and its members', () => {
    const s = stack();
    const { pw, iamUser, acl } = memoryDbLike(s);
    const t = Template.fromStack(s);
    t.hasResourceProperties('Custom::MemoryDBACL', {
      ACLName: 'app-acl',
      ServiceTimeout: '900',
      UserNames: [s.resolve(pw.userName), s.resolve(iamUser.userName)],
    });
    const st = grantsOf(t, s, acl);
    assert.equal(st.length, 3);
    const own = st.find((x) => actionsOf(x).includes('memorydb:DeleteAcl'))!;
    assert.deepEqual(actionsOf(own).sort(), [...MEMORYDB_ACL_ACTIONS].sort());
    const aclArn = `arn:${ARN_PREFIX}:memorydb:${ACCOUNT}:acl/app-acl`;
    assert.deepEqual(resourcesOf(own).map(render), [aclArn]);
    // CreateACL's tags: TagResource on the ACL (MemoryDB Developer Guide).
    assert.ok(actionsOf(own).includes('memorydb:TagResource'));
    const members = [`arn:${ARN_PREFIX}:memorydb:${ACCOUNT}:user/app-pw`, `arn:${ARN_PREFIX}:memorydb:${ACCOUNT}:user/app-iam`];
    // CreateAcl on the ACL (Developer Guide) and on its members (Service Authorization
    // Reference): safe on both readings, in one statement, only with its ownership tags.
    const creates = st.filter((x) => actionsOf(x).includes('memorydb:CreateAcl'));
    assert.equal(creates.length, 1);
    const create = creates[0];
    assert.deepEqual(actionsOf(create), MEMORYDB_ACL_CREATE_ACTIONS);
    assert.deepEqual(resourcesOf(create).map(render), [aclArn, ...members]);
    assert.deepEqual(create.Condition, OWNED_BY_THIS_STACK);
    // UpdateAcl on the ACL and its members, in one statement, unconditioned.
    const updates = st.filter((x) => actionsOf(x).includes('memorydb:UpdateAcl'));
    assert.equal(updates.length, 1);
    assert.deepEqual(actionsOf(updates[0]), MEMORYDB_ACL_MEMBER_ACTIONS);
    assert.deepEqual(resourcesOf(updates[0]).map(render), [aclArn, ...members]);
    assert.equal(updates[0].Condition, undefined);
    assert.ok(!JSON.stringify(st).includes('"Ref":"PwUser'), 'literal member ARNs, not Refs');
  });

  it('refuses an ACL without users and uppercase names', () => {
    const s = stack();
    const k = keeper(s);
    assert.throws(() => new MemoryDbAcl(s, 'a', { userKeeper: k, aclName: 'acl', userNames: [] }), /at least one user/);
    assert.throws(() => new MemoryDbAcl(s, 'b', { userKeeper: k, aclName: 'Acl', userNames: ['u'] }), /must be lowercase/);
    assert.throws(() => new MemoryDbAcl(s, 'c', { userKeeper: k, aclName: 'acl', userNames: ['U'] }), /must be lowercase/);
  });

  it('exposes the Data keys as attributes', () => {
    const s = stack();
    const { acl } = memoryDbLike(s);
    const logical = s.getLogicalId(acl.resource.node.defaultChild as any);
    assert.deepEqual(s.resolve(acl.attrArn), { 'Fn::GetAtt': [logical, 'Arn'] });
    assert.deepEqual(s.resolve(acl.attrAclName), { 'Fn::GetAtt': [logical, 'ACLName'] });
    assert.deepEqual(s.resolve(acl.attrStatus), { 'Fn::GetAtt': [logical, 'Status'] });
    assert.deepEqual(s.resolve(acl.aclName), { Ref: logical });
  });
});

const BROKER_ARN = 'arn:aws:mq:us-east-1:123456789012:broker:orders:b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9';

function mqSecret(s: Stack): secretsmanager.Secret {
  return new secretsmanager.Secret(s, 'MqSecret', {
    generateSecretString: { secretStringTemplate: '{}', generateStringKey: 'password', excludeCharacters: ',:=' },
  });
}

describe('AmazonMqUser', () => {
  it('takes a broker by ARN, renders strings, and grants exactly that broker', () => {
    const s = stack();
    const k = keeper(s);
    const u = new AmazonMqUser(s, 'User', {
      userKeeper: k,
      broker: AmazonMqUser.brokerFromArn(BROKER_ARN),
      username: 'app.user_1~x',
      passwordSecret: mqSecret(s),
      groups: ['apps'],
      consoleAccess: true,
    });
    const t = Template.fromStack(s);
    t.hasResourceProperties('Custom::AmazonMQUser', {
      BrokerId: 'b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9',
      Username: 'app.user_1~x',
      PasswordSecretArn: { Ref: Match.stringLikeRegexp('^MqSecret') },
      ConsoleAccess: 'true',
      Groups: ['apps'],
      ReplicationUser: Match.absent(),
      ApplyImmediately: Match.absent(),
      ServiceTimeout: '900',
      Password: Match.absent(),
    });
    const st = grantsOf(t, s, u);
    assert.equal(st.length, 4);
    const users = st.find((x) => actionsOf(x).includes('mq:CreateUser'))!;
    assert.deepEqual(actionsOf(users).sort(), [...MQ_USER_ACTIONS].sort(), 'no RebootBroker without applyImmediately');
    assert.deepEqual(users.Resource, BROKER_ARN);
    // Only userkeeper's record keys (the same for every user of the stack), and the older
    // binding and rotation keys to remove.
    const tags = st.find((x) => actionsOf(x).includes('mq:CreateTags'))!;
    assert.deepEqual(actionsOf(tags), MQ_RECORD_TAG_ACTIONS);
    assert.deepEqual(tags.Resource, BROKER_ARN);
    assert.deepEqual(tags.Condition, { 'ForAllValues:StringLike': { 'aws:TagKeys': ['userkeeper:user:*'] } });
    const cleanup = st.find((x) => actionsOf(x).includes('mq:DeleteTags'))!;
    assert.deepEqual(actionsOf(cleanup), MQ_RECORD_CLEANUP_ACTIONS);
    assert.deepEqual(cleanup.Resource, BROKER_ARN);
    assert.deepEqual(cleanup.Condition, {
      'ForAllValues:StringLike': { 'aws:TagKeys': ['userkeeper:user:*', 'userkeeper:secret:*', 'userkeeper:rotation:*'] },
    });
    assert.ok(st.some((x) => actionsOf(x).includes('secretsmanager:GetSecretValue')));
  });

  it('grants mq:RebootBroker only with applyImmediately', () => {
    const s = stack();
    const k = keeper(s);
    const u = new AmazonMqUser(s, 'User', {
      userKeeper: k,
      broker: AmazonMqUser.brokerFromArn(BROKER_ARN),
      username: 'app',
      passwordSecret: mqSecret(s),
      applyImmediately: true,
    });
    const t = Template.fromStack(s);
    t.hasResourceProperties('Custom::AmazonMQUser', { ApplyImmediately: 'true' });
    const users = grantsOf(t, s, u).find((x) => actionsOf(x).includes('mq:CreateUser'))!;
    assert.deepEqual(actionsOf(users).sort(), [...MQ_USER_ACTIONS, ...MQ_REBOOT_ACTIONS].sort());
  });

  it('takes a CfnBroker: BrokerId is its Ref, the grants name its Arn', () => {
    const s = stack();
    const k = keeper(s);
    const broker = new amazonmq.CfnBroker(s, 'Broker', {
      brokerName: 'orders',
      deploymentMode: 'SINGLE_INSTANCE',
      engineType: 'ACTIVEMQ',
      hostInstanceType: 'mq.t3.micro',
      publiclyAccessible: false,
      users: [{ username: 'admin', password: '{{resolve:secretsmanager:admin:SecretString:password}}' }],
    });
    const u = new AmazonMqUser(s, 'User', { userKeeper: k, broker, username: 'app', passwordSecret: mqSecret(s) });
    const t = Template.fromStack(s);
    t.hasResourceProperties('Custom::AmazonMQUser', { BrokerId: { Ref: 'Broker' } });
    for (const x of grantsOf(t, s, u).filter((x) => actionsOf(x).some((a) => a.startsWith('mq:')))) {
      assert.deepEqual(x.Resource, { 'Fn::GetAtt': ['Broker', 'Arn'] });
    }
    creationOrder(t);
  });

  it('splits a token broker ARN in the template', () => {
    const s = stack();
    const arn = new CfnParameter(s, 'BrokerArn').valueAsString;
    const ref = AmazonMqUser.brokerFromArn(arn);
    assert.deepEqual(s.resolve(ref.brokerId), { 'Fn::Select': [7, { 'Fn::Split': [':', { Ref: 'BrokerArn' }] }] });
    assert.throws(() => AmazonMqUser.brokerFromArn('arn:aws:mq:us-east-1:123456789012:configuration:c-1'), /not a broker ARN/);
  });

  it('refuses invalid input at synth time', () => {
    const s = stack();
    const k = keeper(s);
    const base = { userKeeper: k, broker: AmazonMqUser.brokerFromArn(BROKER_ARN), passwordSecret: mqSecret(s) };
    assert.throws(() => new AmazonMqUser(s, 'a', { ...base, username: 'x' }), /2 to 100 characters/);
    assert.throws(() => new AmazonMqUser(s, 'b', { ...base, username: 'bad name' }), /2 to 100 characters/);
    assert.throws(() => new AmazonMqUser(s, 'c', { ...base, username: 'ok', groups: Array(21).fill('gg') }), /at most 20 groups/);
    assert.throws(() => new AmazonMqUser(s, 'd', { ...base, username: 'ok', groups: ['g'] }), /groups "g"/);
  });

  it('exposes the Data keys as attributes', () => {
    const s = stack();
    const u = new AmazonMqUser(s, 'User', {
      serviceToken: 'arn:aws:lambda:us-east-1:123456789012:function:userkeeper',
      broker: AmazonMqUser.brokerFromArn(BROKER_ARN),
      username: 'app',
      passwordSecret: mqSecret(s),
    });
    assert.equal(u.grants, undefined);
    Template.fromStack(s).resourceCountIs('AWS::IAM::Policy', 0);
    const logical = s.getLogicalId(u.resource.node.defaultChild as any);
    assert.deepEqual(s.resolve(u.attrBrokerId), { 'Fn::GetAtt': [logical, 'BrokerId'] });
    assert.deepEqual(s.resolve(u.attrUsername), { 'Fn::GetAtt': [logical, 'Username'] });
    assert.deepEqual(s.resolve(u.attrPendingChange), { 'Fn::GetAtt': [logical, 'PendingChange'] });
    assert.deepEqual(s.resolve(u.userRef), { Ref: logical });
  });
});

const RABBIT_BROKER_ARN = 'arn:aws:mq:us-east-1:123456789012:broker:events:b-9876a5b6-78cd-901e-2fgh-3i45j6k178l9';
const RABBIT_ADMIN_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mq/events-admin-AbCdEf';

function rabbitLike(s: Stack, k: UserKeeper, extra: Partial<ConstructorParameters<typeof AmazonMqRabbitMqUser>[2]> = {}) {
  const passwordSecret = new secretsmanager.Secret(s, 'RabbitSecret', {
    generateSecretString: RotatedSecretString.rabbitMq({
      broker: AmazonMqUser.brokerFromArn(RABBIT_BROKER_ARN),
      username: 'app',
      adminSecret: secretsmanager.Secret.fromSecretCompleteArn(s, 'AdminForSecret', RABBIT_ADMIN_ARN),
    }),
  });
  const adminSecret = secretsmanager.Secret.fromSecretCompleteArn(s, 'Admin', RABBIT_ADMIN_ARN);
  return new AmazonMqRabbitMqUser(s, 'Rabbit', {
    userKeeper: k,
    broker: AmazonMqUser.brokerFromArn(RABBIT_BROKER_ARN),
    username: 'app',
    passwordSecret,
    adminSecret,
    ...extra,
  });
}

describe('AmazonMqRabbitMqUser', () => {
  it('renders the properties userkeeper reads: tags as a list, permissions with "" for what is not given', () => {
    const s = stack();
    rabbitLike(s, keeper(s), {
      tags: ['management', 'monitoring'],
      permissions: [
        { virtualHost: '/', configure: '^app\\.', write: '^app\\.', read: '.*' },
        { virtualHost: 'orders', read: '^orders$' },
      ],
      adopt: true,
    });
    Template.fromStack(s).hasResourceProperties('Custom::AmazonMQRabbitMQUser', {
      BrokerId: 'b-9876a5b6-78cd-901e-2fgh-3i45j6k178l9',
      Username: 'app',
      PasswordSecretArn: { Ref: Match.stringLikeRegexp('^RabbitSecret') },
      AdminSecretArn: RABBIT_ADMIN_ARN,
      Tags: ['management', 'monitoring'],
      Permissions: [
        { VirtualHost: '/', Configure: '^app\\.', Write: '^app\\.', Read: '.*' },
        { VirtualHost: 'orders', Configure: '', Write: '', Read: '^orders$' },
      ],
      Adopt: 'true',
      ServiceTimeout: '900',
      Password: Match.absent(),
    });
    // Left out when not given: userkeeper's defaults (none).
    const plain = stack();
    rabbitLike(plain, keeper(plain));
    Template.fromStack(plain).hasResourceProperties('Custom::AmazonMQRabbitMQUser', {
      Tags: Match.absent(),
      Permissions: Match.absent(),
      Adopt: Match.absent(),
    });
  });

  it('grants mq:DescribeBroker on its broker only, no MQ user action, and reading its two secrets', () => {
    const s = stack();
    const k = keeper(s);
    const u = rabbitLike(s, k);
    const t = Template.fromStack(s);
    const st = grantsOf(t, s, u);
    assert.equal(st.length, 3);
    const broker = st.find((x) => actionsOf(x).some((a) => a.startsWith('mq:')))!;
    assert.deepEqual(actionsOf(broker), RABBITMQ_BROKER_ACTIONS);
    assert.deepEqual(actionsOf(broker), ['mq:DescribeBroker']);
    assert.equal(broker.Resource, RABBIT_BROKER_ARN);
    // Nothing of ActiveMQ's user API, broker tags or reboots, anywhere in the template.
    const mqActions = statements(t).flatMap(actionsOf).filter((a) => a.startsWith('mq:'));
    assert.deepEqual([...new Set(mqActions)], ['mq:DescribeBroker']);
    // Its password secret (made in the app: by the reader tag), the administrator's (imported: by its ARN).
    const reads = st.filter((x) => actionsOf(x).includes('secretsmanager:GetSecretValue'));
    assert.equal(reads.length, 2);
    assertTaggedSecretGrant(t, s, k, reads.find((x) => x.Condition)!, u.passwordSecret!);
    const admin = reads.find((x) => !x.Condition)!;
    assert.deepEqual(actionsOf(admin), ['secretsmanager:GetSecretValue']);
    assert.equal(admin.Resource, RABBIT_ADMIN_ARN);
    assertNoWildcards(statements(t));
  });

  it('an administrator secret made in the app is read by its tag, like a password secret', () => {
    const s = stack();
    const k = keeper(s);
    const adminSecret = new secretsmanager.Secret(s, 'AdminSecret', {
      generateSecretString: { secretStringTemplate: '{"username":"admin"}', generateStringKey: 'password', excludeCharacters: ',:=' },
    });
    const u = rabbitLike(s, k, { adminSecret });
    const t = Template.fromStack(s);
    const reads = grantsOf(t, s, u).filter((x) => actionsOf(x).includes('secretsmanager:GetSecretValue'));
    for (const r of reads) assertTaggedSecretGrant(t, s, k, r, adminSecret);
    t.hasResourceProperties('Custom::AmazonMQRabbitMQUser', { AdminSecretArn: { Ref: s.getLogicalId(adminSecret.node.defaultChild as any) } });
  });

  it('another user of the same broker and administrator adds nothing to the grants', () => {
    const policyOf = (users: number) => {
      const s = stack();
      const k = keeper(s);
      const adminSecret = secretsmanager.Secret.fromSecretCompleteArn(s, 'Admin', RABBIT_ADMIN_ARN);
      for (let i = 0; i < users; i++) {
        new AmazonMqRabbitMqUser(s, `U${i}`, {
          userKeeper: k,
          broker: AmazonMqUser.brokerFromArn(RABBIT_BROKER_ARN),
          username: `app${i}`,
          passwordSecret: new secretsmanager.Secret(s, `S${i}`),
          adminSecret,
        });
      }
      const managed = Object.values(Template.fromStack(s).findResources('AWS::IAM::ManagedPolicy')) as any[];
      assert.equal(managed.length, 1);
      return managed[0].Properties.PolicyDocument;
    };
    assert.deepEqual(policyOf(5), policyOf(1));
  });

  it('refuses invalid input at synth time', () => {
    const s = stack();
    const k = keeper(s);
    let n = 0;
    const mk = (extra: Partial<ConstructorParameters<typeof AmazonMqRabbitMqUser>[2]>) => () => {
      const sub = new Stack(new App(), `S${n++}`);
      rabbitLike(sub, keeper(sub), extra);
    };
    assert.throws(mk({ username: 'x' }), /2 to 94 characters/);
    assert.throws(mk({ username: 'a'.repeat(95) }), /2 to 94 characters/);
    assert.throws(mk({ username: 'bad name' }), /2 to 94 characters/);
    assert.throws(mk({ username: 'app_clone' }), /must not end in _clone/);
    assert.throws(mk({ tags: Array(21).fill('t') }), /at most 20 tags/);
    assert.throws(mk({ tags: ['has space'] }), /tag "has space"/);
    assert.throws(mk({ tags: ['userkeeper-x'] }), /userkeeper's own/);
    assert.throws(mk({ permissions: [{ virtualHost: '/' }, { virtualHost: '/' }] }), /two permissions/);
    assert.throws(mk({ permissions: [{ virtualHost: '' }] }), /1 to 255 characters/);
    assert.throws(mk({ permissions: [{ virtualHost: 'a\nb' }] }), /no control characters/);
    assert.throws(mk({ permissions: Array.from({ length: 101 }, (_, i) => ({ virtualHost: `v${i}` })) }), /at most 100 permissions/);
    assert.doesNotThrow(mk({ username: 'a.b-c_d~e'.padEnd(94, 'x'), tags: ['management'], permissions: [{ virtualHost: 'orders' }] }));
    // Token values are left for userkeeper to check.
    const username = new CfnParameter(s, 'Username').valueAsString;
    assert.doesNotThrow(() => rabbitLike(s, k, { username }));
  });

  it('with a bare serviceToken grants nothing; exposes the Data keys as attributes', () => {
    const s = stack();
    const u = new AmazonMqRabbitMqUser(s, 'User', {
      serviceToken: 'arn:aws:lambda:us-east-1:123456789012:function:userkeeper',
      broker: AmazonMqUser.brokerFromArn(RABBIT_BROKER_ARN),
      username: 'app',
      passwordSecret: mqSecret(s),
      adminSecret: secretsmanager.Secret.fromSecretCompleteArn(s, 'Admin', RABBIT_ADMIN_ARN),
    });
    assert.equal(u.grants, undefined);
    Template.fromStack(s).resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    const logical = s.getLogicalId(u.resource.node.defaultChild as any);
    assert.deepEqual(s.resolve(u.attrUsername), { 'Fn::GetAtt': [logical, 'Username'] });
    assert.deepEqual(s.resolve(u.attrLiveUsername), { 'Fn::GetAtt': [logical, 'LiveUsername'] });
    assert.deepEqual(s.resolve(u.attrConsoleUrl), { 'Fn::GetAtt': [logical, 'ConsoleUrl'] });
    assert.deepEqual(s.resolve(u.userRef), { Ref: logical });
  });
});

/** Actions AWS authorizes on no resource ARN: "*" is the only Resource that can match them. */
const NO_RESOURCE_ACTIONS = ['memorydb:CreateUser'];
/** The same, with nothing to narrow them by and no resource touched: "*" alone, no condition. */
const UNSCOPED_ACTIONS = ['secretsmanager:GetRandomPassword'];

/**
 * `st` grants on a password secret of the app: any secret of the account and region that
 * carries the `userkeeper:reader` tag naming this function, a tag the secret does carry.
 */
function assertTaggedSecretGrant(t: Template, s: Stack, k: UserKeeper, st: Statement, secret: secretsmanager.ISecret): void {
  const fnArn = { 'Fn::GetAtt': [s.getLogicalId(k.function.node.defaultChild as any), 'Arn'] };
  assert.deepEqual(resourcesOf(st).map(render), [`arn:${ARN_PREFIX}:secretsmanager:${ACCOUNT}:secret:*`]);
  assert.deepEqual(st.Condition.StringEquals[`aws:ResourceTag/${PASSWORD_SECRET_TAG}`], fnArn);
  const tags = t.toJSON().Resources[s.getLogicalId(secret.node.defaultChild as any)].Properties.Tags;
  assert.deepEqual(tags.filter((x: any) => x.Key === PASSWORD_SECRET_TAG), [{ Key: PASSWORD_SECRET_TAG, Value: fnArn }]);
}

/**
 * `st` grants on a rotated secret of the app: any secret of the account and region whose
 * rotation function is this one.
 */
function assertRotatedSecretGrant(s: Stack, k: UserKeeper, st: Statement): void {
  const fnArn = { 'Fn::GetAtt': [s.getLogicalId(k.function.node.defaultChild as any), 'Arn'] };
  assert.deepEqual(resourcesOf(st).map(render), [`arn:${ARN_PREFIX}:secretsmanager:${ACCOUNT}:secret:*`]);
  assert.deepEqual(st.Condition.StringEquals[ROTATION_FUNCTION_KEY], fnArn);
  assert.equal(st.Condition.StringEquals[`aws:ResourceTag/${PASSWORD_SECRET_TAG}`], undefined);
}

function assertNoWildcards(st: Statement[]): void {
  assert.ok(st.length > 0);
  for (const x of st) {
    for (const r of resourcesOf(x).map(render)) {
      if (r.endsWith(':secret:*')) {
        // The app's password secrets: only those tagged for this function, read only; or
        // those this function rotates, for the rotation's actions.
        const readers = x.Condition?.StringEquals?.[`aws:ResourceTag/${PASSWORD_SECRET_TAG}`]?.['Fn::GetAtt'];
        const rotated = x.Condition?.StringEquals?.[ROTATION_FUNCTION_KEY]?.['Fn::GetAtt'];
        assert.ok(readers || rotated, JSON.stringify(x));
        if (readers) assert.deepEqual(actionsOf(x), ['secretsmanager:GetSecretValue']);
        else assert.ok(actionsOf(x).every((a) => [...ROTATION_SECRET_ACTIONS, ...MQ_ROTATION_SECRET_TAG_ACTIONS].includes(a)), JSON.stringify(x));
        continue;
      }
      if (r === '*' && actionsOf(x).every((a) => UNSCOPED_ACTIONS.includes(a))) {
        assert.deepEqual(resourcesOf(x), ['*']);
        assert.equal(x.Condition, undefined);
        continue;
      }
      if (r === '*') {
        // Only where AWS requires it, and then narrowed to requests carrying the ownership tags.
        assert.ok(actionsOf(x).every((a) => NO_RESOURCE_ACTIONS.includes(a)), `statement ${JSON.stringify(x)} has Resource *`);
        assert.ok(JSON.stringify(x.Condition ?? {}).includes('aws:RequestTag/userkeeper:stack-id'), `${JSON.stringify(x)}: * without a tag condition`);
        continue;
      }
      assert.ok(!r.endsWith(':*') && !r.endsWith('/*'), `statement ${JSON.stringify(x)} ends in a wildcard`);
    }
  }
}

describe('every template', () => {
  it('has no wildcard resource in any IAM statement (but CreateUser on *, tag-conditioned)', () => {
    const s = stack();
    const { k } = exampleLike(s);
    memoryDbLike(s, k);
    assertNoWildcards(statements(Template.fromStack(s)));
  });

  it('the example app synthesizes offline, env-agnostic, with every type', () => {
    const app = new App();
    const s = new UserKeeperExampleStack(app, 'Example', { codePath: CODE });
    const t = Template.fromStack(s);
    t.resourceCountIs('Custom::ElastiCacheUser', 2);
    t.resourceCountIs('Custom::ElastiCacheUserGroup', 1);
    t.resourceCountIs('Custom::MemoryDBUser', 2);
    t.resourceCountIs('Custom::MemoryDBACL', 1);
    t.resourceCountIs('Custom::AmazonMQUser', 1);
    t.resourceCountIs('Custom::AmazonMQRabbitMQUser', 1);
    t.resourceCountIs('AWS::SecretsManager::Secret', 5);
    assert.ok(Token.isUnresolved(s.account) && Token.isUnresolved(s.region), 'the example stack is env-agnostic');
    assert.deepEqual(s.resolve(s.region), { Ref: 'AWS::Region' });
    const st = statements(t);
    // The grants: one managed policy for what always exists, one for the MQ user (only with a
    // broker), one for its rotation (only with RotateMqExample), one for the RabbitMQ user and
    // its rotation (only with a RabbitMQ broker); inline, the continuations only.
    const managed = Object.values(t.findResources('AWS::IAM::ManagedPolicy')) as any[];
    assert.deepEqual(managed.map((p) => p.Condition).sort(), ['CreateMqExample', 'CreateRabbitMqExample', 'RotateMqExampleSecret', undefined]);
    t.resourceCountIs('AWS::IAM::Policy', 1);
    t.resourceCountIs('AWS::SecretsManager::RotationSchedule', 4);
    t.resourceCountIs('AWS::Lambda::Permission', 1);
    assertNoWildcards(st);
    // Every custom resource: ServiceTimeout, and depends on the continuation policy.
    const cont = s.getLogicalId((s.node.findChild('UserKeeper') as UserKeeper).continuationPolicy.node.defaultChild as any);
    for (const [id, r] of Object.entries(t.toJSON().Resources as Record<string, any>)) {
      if (!r.Type.startsWith('Custom::')) continue;
      assert.equal(r.Properties.ServiceTimeout, '900', id);
      assert.ok(dependsOn(t, id).includes(cont), `${id} does not depend on the continuation policy`);
    }
    creationOrder(t);
  });

  it('the example MQ user (its secret and grants too) exists only with the MqBrokerArn parameter', () => {
    const s = new UserKeeperExampleStack(new App(), 'Example', { codePath: CODE });
    const t = Template.fromStack(s).toJSON();
    assert.deepEqual(t.Parameters.MqBrokerArn.Default, '');
    assert.deepEqual(t.Conditions.CreateMqExample, { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'MqBrokerArn' }, ''] }] });
    const conditional = Object.entries(t.Resources as Record<string, any>).filter(([, r]) => r.Condition === 'CreateMqExample');
    assert.deepEqual(conditional.map(([, r]) => r.Type).sort(), ['AWS::IAM::ManagedPolicy', 'AWS::SecretsManager::Secret', 'Custom::AmazonMQUser']);
    // Its rotation only with RotateMqExample=true too (the user must be live to be tested).
    assert.deepEqual(t.Parameters.RotateMqExample.Default, 'false');
    assert.deepEqual(t.Conditions.RotateMqExampleSecret, {
      'Fn::And': [{ Condition: 'CreateMqExample' }, { 'Fn::Equals': [{ Ref: 'RotateMqExample' }, 'true'] }],
    });
    const rotation = Object.entries(t.Resources as Record<string, any>).filter(([, r]) => r.Condition === 'RotateMqExampleSecret');
    assert.deepEqual(rotation.map(([, r]) => r.Type).sort(), ['AWS::IAM::ManagedPolicy', 'AWS::SecretsManager::RotationSchedule']);
    // Nothing unconditional depends on a conditional policy (CloudFormation refuses that).
    for (const [id, r] of Object.entries(t.Resources as Record<string, any>)) {
      for (const d of [r.DependsOn ?? []].flat()) {
        const target = t.Resources[d].Condition;
        assert.ok(target === undefined || target === r.Condition || (r.Condition === 'RotateMqExampleSecret' && target === 'CreateMqExample'), `${id} (${r.Condition}) DependsOn ${d} (${target})`);
      }
    }
    // The permission serves every rotation: unconditional.
    for (const r of Object.values(t.Resources as Record<string, any>)) {
      if (r.Type === 'AWS::Lambda::Permission') assert.equal(r.Condition, undefined);
    }
    const secret = conditional.find(([, r]) => r.Type === 'AWS::SecretsManager::Secret')![1];
    for (const c of [',', ':', '=']) assert.ok(secret.Properties.GenerateSecretString.ExcludeCharacters.includes(c), c);
    for (const [, r] of Object.entries(t.Resources as Record<string, any>)) {
      if (r.Type === 'AWS::SecretsManager::Secret' && r.Condition === undefined) {
        for (const c of [',', '"', '/', '@', "'", '\\', ' ']) assert.ok(r.Properties.GenerateSecretString.ExcludeCharacters.includes(c), c);
      }
    }
  });
});

describe('the example RabbitMQ user', () => {
  it('exists (its secret, rotation and grants too) only with a RabbitMQ broker and its administrator\'s secret', () => {
    const s = new UserKeeperExampleStack(new App(), 'Example', { codePath: CODE });
    const t = Template.fromStack(s).toJSON();
    assert.equal(t.Parameters.RabbitMqBrokerArn.Default, '');
    assert.equal(t.Parameters.RabbitMqAdminSecretArn.Default, '');
    assert.deepEqual(t.Conditions.CreateRabbitMqExample, {
      'Fn::And': [
        { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'RabbitMqBrokerArn' }, ''] }] },
        { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'RabbitMqAdminSecretArn' }, ''] }] },
      ],
    });
    const conditional = Object.entries(t.Resources as Record<string, any>).filter(([, r]) => r.Condition === 'CreateRabbitMqExample');
    assert.deepEqual(conditional.map(([, r]) => r.Type).sort(), [
      'AWS::IAM::ManagedPolicy',
      'AWS::SecretsManager::RotationSchedule',
      'AWS::SecretsManager::Secret',
      'Custom::AmazonMQRabbitMQUser',
    ]);
    // Its grants: the broker (by the parameter), the administrator's secret (by the parameter), nothing else.
    const policy = conditional.find(([, r]) => r.Type === 'AWS::IAM::ManagedPolicy')![1];
    const st = policy.Properties.PolicyDocument.Statement as Statement[];
    assert.deepEqual(st.map((x) => [actionsOf(x), x.Resource]), [
      [['mq:DescribeBroker'], { Ref: 'RabbitMqBrokerArn' }],
      [['secretsmanager:GetSecretValue'], { Ref: 'RabbitMqAdminSecretArn' }],
    ]);
    const user = conditional.find(([, r]) => r.Type === 'Custom::AmazonMQRabbitMQUser')!;
    assert.deepEqual(user[1].Properties.AdminSecretArn, { Ref: 'RabbitMqAdminSecretArn' });
    const secret = conditional.find(([, r]) => r.Type === 'AWS::SecretsManager::Secret')![1];
    for (const c of [',', ':', '=']) assert.ok(secret.Properties.GenerateSecretString.ExcludeCharacters.includes(c), c);
    const template = JSON.stringify(secret.Properties.GenerateSecretString.SecretStringTemplate);
    for (const k of ['rabbitmq', 'admin_secret_arn', 'RabbitMqAdminSecretArn', 'RabbitMqBrokerArn']) assert.ok(template.includes(k), k);
    for (const [id, r] of conditional) {
      for (const d of [r.DependsOn ?? []].flat()) {
        const target = t.Resources[d].Condition;
        assert.ok(target === undefined || target === 'CreateRabbitMqExample', `${id} DependsOn ${d} (${target})`);
      }
    }
  });
});

// ------------------------------------------------------------------------------------------
// Rotation

function rotatedSecret(s: Stack, id: string, generateSecretString: secretsmanager.SecretStringGenerator, encryptionKey?: kms.IKey) {
  return new secretsmanager.Secret(s, id, { generateSecretString, encryptionKey });
}

function rotationLike(s: Stack) {
  const k = keeper(s);
  const ecSecret = rotatedSecret(s, 'EcSecret', RotatedSecretString.elastiCache({ userId: 'app-user', userName: 'app' }));
  const ec = new ElastiCacheUser(s, 'Ec', {
    userKeeper: k,
    userId: 'app-user',
    userName: 'app',
    engine: ElastiCacheEngine.VALKEY,
    accessString: 'on ~app:* +@read',
    passwordSecret: ecSecret,
  });
  const mdbSecret = rotatedSecret(s, 'MdbSecret', RotatedSecretString.memoryDb({ userName: 'app-mdb' }));
  const mdb = new MemoryDbUser(s, 'Mdb', { userKeeper: k, userName: 'app-mdb', accessString: 'on', passwordSecret: mdbSecret });
  const broker = AmazonMqUser.brokerFromArn(BROKER_ARN);
  const mqSecret = rotatedSecret(s, 'MqSecret', RotatedSecretString.amazonMq({ broker, username: 'app~1' }));
  const mq = new AmazonMqUser(s, 'Mq', { userKeeper: k, broker, username: 'app~1', passwordSecret: mqSecret });
  return {
    k,
    ec,
    mdb,
    mq,
    ecRotation: k.rotate(ec),
    mdbRotation: k.rotate(mdb, { scheduleExpression: 'cron(0 4 ? * SUN *)', window: Duration.hours(2) }),
    mqRotation: k.rotate(mq, { automaticallyAfter: Duration.hours(12) }),
  };
}

const logicalId = (s: Stack, c: any) => s.getLogicalId(c.node.defaultChild ?? c);

describe('UserKeeper.rotate', () => {
  it('adds a RotationSchedule per user: the function, its secret, not at once, after its grants, permission and user', () => {
    const s = stack();
    const { k, ec, mdb, mq, ecRotation, mdbRotation, mqRotation } = rotationLike(s);
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::SecretsManager::RotationSchedule', 3);
    const fnArn = { 'Fn::GetAtt': [logicalId(s, k.function), 'Arn'] };
    const cases = [
      [ec, ecRotation, { ScheduleExpression: 'rate(30 days)' }],
      [mdb, mdbRotation, { ScheduleExpression: 'cron(0 4 ? * SUN *)', Duration: '2h' }],
      [mq, mqRotation, { ScheduleExpression: 'rate(12 hours)' }],
    ] as const;
    for (const [user, rotation, rules] of cases) {
      const r = t.toJSON().Resources[logicalId(s, rotation.schedule)];
      assert.deepEqual(r.Properties, {
        SecretId: { Ref: logicalId(s, user.passwordSecret) },
        RotationLambdaARN: fnArn,
        RotateImmediatelyOnUpdate: false,
        RotationRules: rules,
      });
      const grants = Object.keys(t.findResources('AWS::IAM::ManagedPolicy'));
      assert.deepEqual(
        [...r.DependsOn].sort(),
        [...grants, logicalId(s, k.continuationPolicy), logicalId(s, k.rotationPermission), logicalId(s, user.resource)].sort(),
      );
      grantsOf(t, s, rotation);
      assert.equal(rotation.secret, user.passwordSecret);
    }
    const order = creationOrder(t);
    for (const [user, rotation] of cases) {
      assert.ok(order.indexOf(logicalId(s, user.resource)) < order.indexOf(logicalId(s, rotation.schedule)));
    }
  });

  it('lets Secrets Manager of this account invoke the function, with one permission for all rotations', () => {
    const s = stack();
    const { k } = rotationLike(s);
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::Lambda::Permission', 1);
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [logicalId(s, k.function), 'Arn'] },
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
    // Without a rotation there is none.
    const plain = stack();
    keeper(plain);
    Template.fromStack(plain).resourceCountIs('AWS::Lambda::Permission', 0);
  });

  it('grants the secret actions on the secrets it rotates only, GetRandomPassword on * alone, the user actions on its ARN only', () => {
    const s = stack();
    const { k, ec, mdb, ecRotation, mdbRotation } = rotationLike(s);
    const t = Template.fromStack(s);
    for (const [user, rotation, actions, arn] of [
      [ec, ecRotation, ELASTICACHE_ROTATION_ACTIONS, `arn:${ARN_PREFIX}:elasticache:${ACCOUNT}:user:app-user`],
      [mdb, mdbRotation, MEMORYDB_ROTATION_ACTIONS, `arn:${ARN_PREFIX}:memorydb:${ACCOUNT}:user/app-mdb`],
    ] as const) {
      const st = grantsOf(t, s, rotation);
      assert.equal(st.length, 3);
      const secret = st.find((x) => actionsOf(x).includes('secretsmanager:PutSecretValue'))!;
      assert.deepEqual(actionsOf(secret).sort(), [...ROTATION_SECRET_ACTIONS].sort());
      assertRotatedSecretGrant(s, k, secret);
      // Reading the password (the user's Create) is another statement, on the reader tag.
      const read = grantsOf(t, s, user).find((x) => actionsOf(x).includes('secretsmanager:GetSecretValue'))!;
      assertTaggedSecretGrant(t, s, k, read, user.passwordSecret!);
      const random = st.find((x) => actionsOf(x).includes('secretsmanager:GetRandomPassword'))!;
      assert.deepEqual(actionsOf(random), ['secretsmanager:GetRandomPassword']);
      assert.equal(random.Resource, '*');
      const own = st.find((x) => actionsOf(x).some((a) => !a.startsWith('secretsmanager:')))!;
      assert.deepEqual(actionsOf(own).sort(), [...actions].sort());
      assert.deepEqual(resourcesOf(own).map(render), [arn]);
      assert.ok(!st.some((x) => actionsOf(x).some((a) => a.startsWith('kms:'))), 'no kms: AWS-managed key');
    }
    assertNoWildcards(statements(t));
  });

  it('MQ: the rotation actions on the broker only (no broker tags), TagResource on its secret for its progress', () => {
    const s = stack();
    const { k, mqRotation } = rotationLike(s);
    const t = Template.fromStack(s);
    const st = grantsOf(t, s, mqRotation);
    assert.equal(st.length, 4);
    const users = st.find((x) => actionsOf(x).includes('mq:CreateUser'))!;
    assert.deepEqual(actionsOf(users).sort(), [...MQ_ROTATION_ACTIONS].sort(), 'no RebootBroker without reboot');
    assert.equal(users.Resource, BROKER_ARN);
    assert.ok(!st.some((x) => actionsOf(x).some((a) => ['mq:CreateTags', 'mq:DeleteTags'].includes(a))), 'rotation writes no broker tag');
    assertRotatedSecretGrant(s, k, st.find((x) => actionsOf(x).includes('secretsmanager:PutSecretValue'))!);
    // Progress recorded on the rotated secret itself: its one tag key, on that secret only.
    const tagSecret = st.find((x) => actionsOf(x).includes('secretsmanager:TagResource'))!;
    assert.deepEqual(actionsOf(tagSecret), MQ_ROTATION_SECRET_TAG_ACTIONS);
    assertRotatedSecretGrant(s, k, tagSecret);
    assert.deepEqual(tagSecret.Condition['ForAllValues:StringEquals'], { 'aws:TagKeys': [MQ_ROTATION_SECRET_TAG] });
    // Nowhere else: not for the ElastiCache or MemoryDB rotations.
    assert.equal(statements(t).filter((x) => actionsOf(x).includes('secretsmanager:TagResource')).length, 1);
  });

  it('RabbitMQ: DescribeBroker on the broker and reading the administrator\'s secret; never a reboot', () => {
    const s = stack();
    const k = keeper(s);
    const u = rabbitLike(s, k);
    const rotation = k.rotate(u);
    const t = Template.fromStack(s);
    const st = grantsOf(t, s, rotation);
    assert.equal(st.length, 4);
    assertRotatedSecretGrant(s, k, st.find((x) => actionsOf(x).includes('secretsmanager:PutSecretValue'))!);
    assert.deepEqual(actionsOf(st.find((x) => actionsOf(x).includes('secretsmanager:GetRandomPassword'))!), ['secretsmanager:GetRandomPassword']);
    const broker = st.find((x) => actionsOf(x).some((a) => a.startsWith('mq:')))!;
    assert.deepEqual(actionsOf(broker), ['mq:DescribeBroker']);
    assert.equal(broker.Resource, RABBIT_BROKER_ARN);
    const admin = st.find((x) => x.Resource === RABBIT_ADMIN_ARN)!;
    assert.deepEqual(actionsOf(admin), ['secretsmanager:GetSecretValue'], 'the administrator\'s secret is read, never written');
    assert.ok(!statements(t).some((x) => actionsOf(x).includes('secretsmanager:TagResource')), 'no progress tag: every step is idempotent');
    const other = stack();
    const ok = keeper(other);
    assert.throws(() => ok.rotate(rabbitLike(other, ok), { reboot: true }), /rotate it without reboot/);
  });

  it('MQ: a token username rotates like any other; reboot grants mq:RebootBroker', () => {
    const s = stack();
    const k = keeper(s);
    const username = new CfnParameter(s, 'Username').valueAsString;
    const u = new AmazonMqUser(s, 'Mq', {
      userKeeper: k,
      broker: AmazonMqUser.brokerFromArn(BROKER_ARN),
      username,
      passwordSecret: mqSecret(s),
    });
    const rotation = k.rotate(u, { reboot: true });
    const st = grantsOf(Template.fromStack(s), s, rotation);
    assert.equal(st.length, 4);
    const users = st.find((x) => actionsOf(x).includes('mq:CreateUser'))!;
    assert.deepEqual(actionsOf(users).sort(), [...MQ_ROTATION_ACTIONS, ...MQ_REBOOT_ACTIONS].sort());
  });

  it('a secret under a customer-managed key: kms:Decrypt and GenerateDataKey on that key, via Secrets Manager only', () => {
    const s = stack();
    const k = keeper(s);
    const key = new kms.Key(s, 'Key');
    const secret = rotatedSecret(s, 'S', RotatedSecretString.memoryDb({ userName: 'app' }), key);
    const u = new MemoryDbUser(s, 'U', { userKeeper: k, userName: 'app', accessString: 'on', passwordSecret: secret });
    const rotation = k.rotate(u);
    const st = grantsOf(Template.fromStack(s), s, rotation);
    const decrypt = st.filter((x) => actionsOf(x).some((a) => a.startsWith('kms:')));
    assert.equal(decrypt.length, 1);
    assert.deepEqual(actionsOf(decrypt[0]).sort(), [...ROTATION_KMS_ACTIONS].sort());
    assert.deepEqual(decrypt[0].Resource, { 'Fn::GetAtt': [logicalId(s, key), 'Arn'] });
    assert.ok(JSON.stringify(decrypt[0].Condition).includes('kms:ViaService'));
  });

  it('an imported secret is matched with its six-character suffix', () => {
    const s = stack();
    const k = keeper(s);
    const secret = secretsmanager.Secret.fromSecretNameV2(s, 'Imported', 'team/app');
    const u = new ElastiCacheUser(s, 'U', {
      userKeeper: k,
      userId: 'u',
      userName: 'u',
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'on',
      passwordSecret: secret,
    });
    const rotation = k.rotate(u);
    const st = grantsOf(Template.fromStack(s), s, rotation);
    const put = st.find((x) => actionsOf(x).includes('secretsmanager:PutSecretValue'))!;
    assert.match(render(put.Resource), /:secret:team\/app-\?\?\?\?\?\?$/);
  });

  it('removing a rotation removes its schedule and replaces the grants policy (the old one goes after the schedule)', () => {
    const build = (rotate: boolean) => {
      const s = stack();
      const k = keeper(s);
      const u = new ElastiCacheUser(s, 'U', {
        userKeeper: k,
        userId: 'u',
        userName: 'u',
        engine: ElastiCacheEngine.VALKEY,
        accessString: 'on',
        passwordSecret: rotatedSecret(s, 'S', RotatedSecretString.elastiCache({ userId: 'u', userName: 'u' })),
      });
      if (rotate) k.rotate(u);
      return Template.fromStack(s).toJSON().Resources as Record<string, any>;
    };
    const before = build(true);
    const after = build(false);
    const removed = Object.keys(before).filter((id) => !(id in after));
    assert.deepEqual(removed.map((id) => before[id].Type).sort(), ['AWS::IAM::ManagedPolicy', 'AWS::Lambda::Permission', 'AWS::SecretsManager::RotationSchedule']);
    const oldGrants = removed.find((id) => before[id].Type === 'AWS::IAM::ManagedPolicy')!;
    const schedule = removed.find((id) => before[id].Type === 'AWS::SecretsManager::RotationSchedule')!;
    assert.ok(before[schedule].DependsOn.includes(oldGrants), 'the removed schedule DependsOn the old grants');
    const added = Object.keys(after).filter((id) => !(id in before));
    assert.deepEqual(added.map((id) => after[id].Type), ['AWS::IAM::ManagedPolicy']);
    // Otherwise only the user's DependsOn moved to the new grants.
    for (const [id, v] of Object.entries(after)) {
      if (id in before) assert.deepEqual({ ...v, DependsOn: undefined }, { ...before[id], DependsOn: undefined }, `${id} changed`);
    }
  });

  it('refuses what cannot work at synth time', () => {
    const s = stack();
    const k = keeper(s);
    const noSecret = new ElastiCacheUser(s, 'NoSecret', {
      userKeeper: k,
      userId: 'd',
      userName: 'default',
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'off',
      noPasswordRequired: true,
    });
    assert.throws(() => k.rotate(noSecret), /has no passwordSecret/);
    const mk = (id: string) =>
      new MemoryDbUser(s, id, {
        userKeeper: k,
        userName: id.toLowerCase(),
        accessString: 'on',
        passwordSecret: rotatedSecret(s, `${id}S`, RotatedSecretString.memoryDb({ userName: id.toLowerCase() })),
      });
    assert.throws(() => k.rotate(mk('A'), { reboot: true }), /reboot is for Amazon MQ users only/);
    assert.throws(
      () => k.rotate(mk('B'), { automaticallyAfter: Duration.days(1), scheduleExpression: 'rate(1 day)' }),
      /not both/,
    );
    assert.throws(() => k.rotate(mk('C'), { automaticallyAfter: Duration.hours(2) }), /4 hours to 1000 days/);
    assert.throws(() => k.rotate(mk('D'), { automaticallyAfter: Duration.days(1001) }), /4 hours to 1000 days/);
    assert.throws(() => k.rotate(mk('E'), { scheduleExpression: 'every day' }), /rate\(\.\.\.\) or cron/);
    const f = mk('F');
    assert.throws(() => k.rotate(f, { window: Duration.hours(25) }), /1 to 24 whole hours/);
    assert.equal(f.node.tryFindChild('Rotation'), undefined, 'a refused rotation leaves nothing behind');
    k.rotate(f, { window: Duration.hours(24) });
    // A user is rotated once; nothing of a refused rotation is left behind.
    const g = mk('G');
    k.rotate(g, { automaticallyAfter: Duration.days(1) });
    assert.throws(() => k.rotate(g), /rotated already/);
    Template.fromStack(s).resourceCountIs('AWS::SecretsManager::RotationSchedule', 2);
    Template.fromStack(s).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(1 day)' },
    });
  });

  it('a user in another stack gets its rotation there; the permission stays with the function', () => {
    const app = new App();
    const a = new Stack(app, 'Keeper');
    const b = new Stack(app, 'Users');
    const k = keeper(a);
    const u = new MemoryDbUser(b, 'User', {
      userKeeper: k,
      userName: 'app',
      accessString: 'on',
      passwordSecret: rotatedSecret(b, 'S', RotatedSecretString.memoryDb({ userName: 'app' })),
    });
    const rotation = k.rotate(u);
    Template.fromStack(a).resourceCountIs('AWS::Lambda::Permission', 1);
    Template.fromStack(b).resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
    assert.equal(grantsOf(Template.fromStack(b), b, rotation).length, 3);
    const assembly = app.synth();
    const deps = assembly.getStackByName('Users').dependencies.map((d) => d.id).filter((d) => !d.endsWith('.assets'));
    assert.deepEqual(deps, ['Keeper']);
  });
});

describe('RotatedSecretString', () => {
  it('renders userkeeper\'s secret format with the service\'s excluded characters', () => {
    const ec = RotatedSecretString.elastiCache({ userId: 'app-user', userName: 'app', host: 'h.example', port: 6380 });
    assert.deepEqual(JSON.parse(ec.secretStringTemplate!), {
      engine: 'elasticache',
      user_id: 'app-user',
      username: 'app',
      host: 'h.example',
      port: 6380,
    });
    assert.equal(ec.generateStringKey, 'password');
    assert.equal(ec.passwordLength, 32);
    for (const c of [',', '"', '/', '@', "'", '\\', ' ']) assert.ok(ec.excludeCharacters!.includes(c), c);
    const mdb = RotatedSecretString.memoryDb({ userName: 'app', passwordLength: 64, tls: false });
    assert.deepEqual(JSON.parse(mdb.secretStringTemplate!), { engine: 'memorydb', username: 'app', tls: false, password_length: 64 });
    assert.equal(mdb.passwordLength, 64);
    const mq = RotatedSecretString.amazonMq({
      broker: AmazonMqUser.brokerFromArn(BROKER_ARN),
      username: 'app',
      strategy: MqRotationStrategy.SINGLE,
      reboot: true,
    });
    assert.deepEqual(JSON.parse(mq.secretStringTemplate!), {
      engine: 'mq',
      broker_id: 'b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9',
      username: 'app',
      strategy: 'single',
      reboot: true,
    });
    for (const c of [',', ':', '=']) assert.ok(mq.excludeCharacters!.includes(c), c);
    assert.throws(() => RotatedSecretString.memoryDb({ userName: 'app', passwordLength: 12 }), /16 to 128/);
    assert.doesNotThrow(() => RotatedSecretString.amazonMq({ broker: AmazonMqUser.brokerFromArn(BROKER_ARN), username: 'a', passwordLength: 12 }));
  });

  it('RabbitMQ: the engine, broker, user, administrator\'s secret and strategy; Amazon MQ\'s excluded characters', () => {
    const s = stack();
    const gen = RotatedSecretString.rabbitMq({
      broker: AmazonMqUser.brokerFromArn(RABBIT_BROKER_ARN),
      username: 'app',
      adminSecret: secretsmanager.Secret.fromSecretCompleteArn(s, 'Admin', RABBIT_ADMIN_ARN),
      host: 'b-9876.mq.us-east-1.amazonaws.com',
      port: 5671,
    });
    assert.deepEqual(JSON.parse(gen.secretStringTemplate!), {
      engine: 'rabbitmq',
      broker_id: 'b-9876a5b6-78cd-901e-2fgh-3i45j6k178l9',
      username: 'app',
      admin_secret_arn: RABBIT_ADMIN_ARN,
      strategy: 'alternating',
      host: 'b-9876.mq.us-east-1.amazonaws.com',
      port: 5671,
    });
    for (const c of [',', ':', '=']) assert.ok(gen.excludeCharacters!.includes(c), c);
    const single = RotatedSecretString.rabbitMq({
      broker: AmazonMqUser.brokerFromArn(RABBIT_BROKER_ARN),
      username: 'app',
      adminSecret: secretsmanager.Secret.fromSecretCompleteArn(s, 'Admin2', RABBIT_ADMIN_ARN),
      strategy: RabbitMqRotationStrategy.SINGLE,
    });
    assert.equal(JSON.parse(single.secretStringTemplate!).strategy, 'single');
    // An administrator secret of the app: its ARN, a token, stays one inside the template.
    const admin = new secretsmanager.Secret(s, 'AppAdmin');
    const tokened = RotatedSecretString.rabbitMq({ broker: AmazonMqUser.brokerFromArn(RABBIT_BROKER_ARN), username: 'app', adminSecret: admin });
    assert.ok(JSON.stringify(s.resolve(tokened.secretStringTemplate)).includes(`"Ref":"${s.getLogicalId(admin.node.defaultChild as any)}"`));
  });

  it('keeps a token broker id a token inside the template', () => {
    const s = stack();
    const arn = new CfnParameter(s, 'BrokerArn').valueAsString;
    const gen = RotatedSecretString.amazonMq({ broker: AmazonMqUser.brokerFromArn(arn), username: 'app' });
    const rendered = JSON.stringify(s.resolve(gen.secretStringTemplate));
    assert.ok(rendered.includes('Fn::Select') && rendered.includes('"Ref":"BrokerArn"'), rendered);
  });
});

describe('adopt and keepPreviousPassword', () => {
  it('render as the strings CloudFormation sends, and are left out by default', () => {
    const stack = new Stack(new App(), 'Adopt');
    const keeper = new UserKeeper(stack, 'Keeper', { codePath: CODE });
    const secret = new secretsmanager.Secret(stack, 'S');
    new ElastiCacheUser(stack, 'Taken', {
      userKeeper: keeper, userId: 'taken-user', userName: 'taken', engine: ElastiCacheEngine.REDIS,
      accessString: 'on ~* +@read', passwordSecret: secret, adopt: true, keepPreviousPassword: false,
    });
    new ElastiCacheUser(stack, 'Plain', {
      userKeeper: keeper, userId: 'plain-user', userName: 'plain', engine: ElastiCacheEngine.REDIS,
      accessString: 'on ~* +@read', passwordSecret: secret,
    });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('Custom::ElastiCacheUser', { UserId: 'taken-user', Adopt: 'true', KeepPreviousPassword: 'false' });
    const plain = Object.values(t.findResources('Custom::ElastiCacheUser')).find(
      (r) => r.Properties.UserId === 'plain-user',
    );
    assert.ok(plain && !('Adopt' in plain.Properties) && !('KeepPreviousPassword' in plain.Properties), JSON.stringify(plain));
  });
});
