// Unit tests of the constructs (node's built-in test runner, run with ts-node):
//   npm test
import { strict as assert } from 'node:assert';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, Duration, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  ELASTICACHE_USER_ACTIONS,
  ELASTICACHE_USER_GROUP_ACTIONS,
  ELASTICACHE_USER_GROUP_MEMBER_ACTIONS,
  ElastiCacheAuthenticationType,
  ElastiCacheEngine,
  ElastiCacheUser,
  ElastiCacheUserGroup,
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

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

/** Every statement of every identity policy in the template (inline role policies too). */
function statements(t: Template): Statement[] {
  const out: Statement[] = [];
  for (const p of Object.values(t.findResources('AWS::IAM::Policy'))) {
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

  it('holds nothing but logging until a resource needs something', () => {
    const s = stack();
    keeper(s);
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::IAM::Policy', 0);
    t.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [
        {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSLambdaBasicExecutionRole']],
        },
      ],
    });
    assert.equal(statements(t).length, 0);
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
    exampleLike(s);
    const st = statements(Template.fromStack(s));
    const userStatements = st.filter((x) => actionsOf(x).includes('elasticache:CreateUser'));
    assert.equal(userStatements.length, 2);
    const userArns = userStatements.map((x) => resourcesOf(x).map(render)).flat().sort();
    assert.deepEqual(userArns, [
      `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:user:app-default`,
      `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:user:app-user`,
    ]);
    for (const x of userStatements) assert.deepEqual(actionsOf(x).sort(), [...ELASTICACHE_USER_ACTIONS].sort());
    const secretStatements = st.filter((x) => actionsOf(x).some((a) => a.startsWith('secretsmanager:')));
    assert.equal(secretStatements.length, 1);
    assert.deepEqual(actionsOf(secretStatements[0]), ['secretsmanager:GetSecretValue']);
    assert.match(render(secretStatements[0].Resource), /^\{Ref Secret[0-9A-F]+\}$/);
    assert.ok(!st.some((x) => actionsOf(x).some((a) => a.startsWith('kms:'))), 'no kms: AWS-managed key');
  });

  it('grants a secret once however many users read it; imported secrets get the -?????? suffix', () => {
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

  it('grants group actions on its ARN, membership actions on its members ARNs, without a cycle', () => {
    const s = stack();
    exampleLike(s);
    const t = Template.fromStack(s);
    const st = statements(t);
    const groupStatements = st.filter((x) => actionsOf(x).includes('elasticache:DeleteUserGroup'));
    assert.equal(groupStatements.length, 1);
    assert.deepEqual(actionsOf(groupStatements[0]).sort(), [...ELASTICACHE_USER_GROUP_ACTIONS].sort());
    assert.deepEqual(resourcesOf(groupStatements[0]).map(render), [
      `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:usergroup:app-users`,
    ]);
    const member = st.filter(
      (x) => actionsOf(x).includes('elasticache:ModifyUserGroup') && !actionsOf(x).includes('elasticache:DeleteUserGroup'),
    );
    assert.equal(member.length, 1);
    assert.deepEqual(actionsOf(member[0]).sort(), [...ELASTICACHE_USER_GROUP_MEMBER_ACTIONS].sort());
    // Literal ARNs, not Refs of the users: a Ref would make the policy depend on the users,
    // and the users (through the function) on the policy.
    assert.deepEqual(resourcesOf(member[0]).map(render).sort(), [
      `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:user:app-default`,
      `arn:${ARN_PREFIX}:elasticache:{Ref AWS::Region}:{Ref AWS::AccountId}:user:app-user`,
    ]);
    const policy = Object.values(t.findResources('AWS::IAM::Policy'))[0];
    assert.ok(!JSON.stringify(policy).includes('"Ref":"Default') && !JSON.stringify(policy).includes('"Ref":"App'));
  });
});

describe('every template', () => {
  it('has no wildcard resource in any IAM statement', () => {
    const s = stack();
    exampleLike(s);
    const st = statements(Template.fromStack(s));
    assert.ok(st.length > 0);
    for (const x of st) {
      for (const r of resourcesOf(x).map(render)) {
        assert.notEqual(r, '*', `statement ${JSON.stringify(x)} has Resource *`);
        assert.ok(!r.endsWith(':*') && !r.endsWith('/*'), `statement ${JSON.stringify(x)} ends in a wildcard`);
      }
    }
  });

  it('the example app synthesizes offline, env-agnostic, with the three resources', () => {
    const app = new App();
    const s = new UserKeeperExampleStack(app, 'Example', { codePath: CODE });
    const t = Template.fromStack(s);
    t.resourceCountIs('Custom::ElastiCacheUser', 2);
    t.resourceCountIs('Custom::ElastiCacheUserGroup', 1);
    t.resourceCountIs('AWS::SecretsManager::Secret', 1);
    assert.ok(Token.isUnresolved(s.account) && Token.isUnresolved(s.region), 'the example stack is env-agnostic');
    assert.deepEqual(s.resolve(s.region), { Ref: 'AWS::Region' });
    const st = statements(t);
    assert.equal(st.length, 5, 'two users, the secret, the group, its members');
    for (const x of st) for (const r of resourcesOf(x).map(render)) assert.ok(r !== '*' && !r.endsWith(':*'), r);
  });
});
