// Measures a synthesized app the way IAM and CloudFormation will count it: every template
// resolved with realistic values (a region, an account, the names CloudFormation generates),
// each policy document minified (IAM does not count whitespace). Independent of the
// estimates the constructs' guard makes (lib/grants.ts), so that the one checks the other.
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as amazonmq from 'aws-cdk-lib/aws-amazonmq';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AmazonMqUser, ElastiCacheEngine, ElastiCacheUser, ElastiCacheUserGroup, RotatedSecretString, UserKeeper } from '../lib';
import { codePathOrPlaceholder } from '../lib/dummy-asset';

const REGION = 'eu-central-1';
const ACCOUNT = '123456789012';
export const BROKER_ARN = `arn:aws:mq:${REGION}:${ACCOUNT}:broker:platform-orders:b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9`;

export interface Measures {
  /** The role's inline policies together (its own Policies, and every AWS::IAM::Policy on it). */
  readonly roleInlineChars: number;
  /** Each managed policy attached to the role, by logical id, and the AWS managed ones' count. */
  readonly managedChars: Record<string, number>;
  readonly awsManagedPolicies: number;
  /** Resources of each template. */
  readonly resources: Record<string, number>;
}

type Template = { Resources: Record<string, any> };

/** `templates` (stack name → template) measured for the one userkeeper role among them. */
export function measure(templates: Record<string, Template>): Measures {
  const roles = Object.entries(templates).flatMap(([stack, t]) =>
    Object.entries(t.Resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Role' && JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('lambda.amazonaws.com'))
      .map(([id, r]) => ({ stack, id, r })),
  );
  if (roles.length !== 1) throw new Error(`expected one function role, found ${roles.map((r) => r.id)}`);
  const [role] = roles;
  let roleInlineChars = 0;
  for (const p of role.r.Properties.Policies ?? []) roleInlineChars += size(resolve(p.PolicyDocument, role.stack, templates[role.stack]));
  const managedChars: Record<string, number> = {};
  for (const [stack, t] of Object.entries(templates)) {
    for (const [id, r] of Object.entries(t.Resources)) {
      const roleRefs = JSON.stringify(r.Properties?.Roles ?? []);
      // The role by Ref in its own stack, or by Fn::ImportValue of its name elsewhere.
      const onRole = stack === role.stack ? roleRefs.includes(`{"Ref":"${role.id}"}`) : roleRefs.includes(role.id);
      if (!onRole) continue;
      const doc = size(resolve(r.Properties.PolicyDocument, stack, t));
      if (r.Type === 'AWS::IAM::Policy') roleInlineChars += doc;
      if (r.Type === 'AWS::IAM::ManagedPolicy') managedChars[`${stack}/${id}`] = doc;
    }
  }
  const resources = Object.fromEntries(Object.entries(templates).map(([s, t]) => [s, Object.keys(t.Resources).length]));
  return { roleInlineChars, managedChars, awsManagedPolicies: (role.r.Properties.ManagedPolicyArns ?? []).length, resources };
}

function size(doc: unknown): number {
  return JSON.stringify(doc).length;
}

/** CloudFormation's intrinsics, with the values a real deployment would give them. */
function resolve(v: any, stack: string, t: Template): any {
  if (Array.isArray(v)) return v.map((x) => resolve(x, stack, t)).filter((x) => x !== undefined);
  if (v === null || typeof v !== 'object') return v;
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0] === 'Ref') return ref(v.Ref, stack, t);
  if (keys.length === 1 && keys[0] === 'Fn::Join') return v['Fn::Join'][1].map((x: any) => resolve(x, stack, t)).join(v['Fn::Join'][0]);
  if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
    const [id, att] = v['Fn::GetAtt'];
    const type = t.Resources[id]?.Type;
    if (type === 'AWS::Lambda::Function' && att === 'Arn') return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${stack}-${id.slice(0, 30)}-AbCdEf123456`;
    // CloudFormation names an unnamed log group <stack>-<logical id>-<12 random>.
    if (type === 'AWS::Logs::LogGroup' && att === 'Arn') {
      return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${t.Resources[id].Properties?.LogGroupName ?? `${stack}-${id}-AbCdEf123456`}:*`;
    }
    throw new Error(`measure: Fn::GetAtt ${id}.${att} (${type}) is not modelled`);
  }
  if (keys.length === 1 && keys[0] === 'Fn::ImportValue') return `${stack}-Imported-AbCdEf123456`;
  if (keys.length === 1 && keys[0].startsWith('Fn::')) throw new Error(`measure: ${keys[0]} is not modelled`);
  return Object.fromEntries(keys.map((k) => [k, resolve(v[k], stack, t)]));
}

function ref(id: string, stack: string, t: Template): string {
  switch (id) {
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::Region':
      return REGION;
    case 'AWS::AccountId':
      return ACCOUNT;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackId':
      return `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${stack}/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`;
    case 'AWS::StackName':
      return stack;
  }
  const r = t.Resources[id];
  if (r?.Type === 'AWS::SecretsManager::Secret') {
    // CloudFormation names an unnamed secret <logical id>-<12 random>; the ARN adds -<6 random>.
    return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${r.Properties.Name ?? `${id}-AbCdEf123456`}-GhIjKl`;
  }
  throw new Error(`measure: Ref ${id} (${r?.Type ?? 'parameter'}) is not modelled`);
}

// ------------------------------------------------------------------------------------------
// The platform-team app: rotated ElastiCache users in one user group, rotated MQ users on one
// broker, spread over as many stacks as CloudFormation's 500 resources per stack demand.

export interface PlatformApp {
  readonly app: App;
  readonly keeperStack: Stack;
  readonly userStacks: Stack[];
  readonly keeper: UserKeeper;
}

/**
 * `ecUsers` rotated ElastiCache users (plus a `default` user) in one valkey user group and
 * `mqUsers` rotated Amazon MQ users on one broker, each user with its secret and rotation
 * schedule (three resources). `perStack` users go in a stack (all in the keeper's one when
 * undefined); the group goes in the last ElastiCache stack, which depends on the others.
 */
export function platformApp(ecUsers: number, mqUsers: number, opts: { perStack?: number; keeperProps?: object } = {}): PlatformApp {
  // CDK's own limit off: these apps are measured, and the guard is what is tested to stop them.
  const app = new App({ context: { '@aws-cdk/core:stackResourceLimit': 0 } });
  const keeperStack = new Stack(app, 'Platform');
  const keeper = new UserKeeper(keeperStack, 'UserKeeper', { codePath: codePath(), ...opts.keeperProps });
  const userStacks: Stack[] = [];
  let current = keeperStack;
  let inCurrent = 0;
  const place = (): Stack => {
    if (opts.perStack !== undefined && (current === keeperStack || inCurrent >= opts.perStack)) {
      current = new Stack(app, `Users${userStacks.length + 1}`);
      for (const s of userStacks) current.addStackDependency(s);
      userStacks.push(current);
      inCurrent = 0;
    }
    inCurrent++;
    return current;
  };
  const members: Array<{ userId: string; ref: string; stack: Stack }> = [];
  for (let i = 0; i < ecUsers; i++) {
    const s = place();
    const userId = `app-user-${String(i).padStart(4, '0')}`;
    const secret = new secretsmanager.Secret(s, `EcSecret${i}`, {
      generateSecretString: RotatedSecretString.elastiCache({ userId, userName: userId }),
    });
    const user = new ElastiCacheUser(s, `EcUser${i}`, {
      userKeeper: keeper,
      userId,
      userName: userId,
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'on ~app:* +@read +@write',
      passwordSecret: secret,
    });
    keeper.rotate(user);
    members.push({ userId, ref: user.userId, stack: s });
  }
  if (ecUsers > 0) {
    const s = place();
    const dflt = new ElastiCacheUser(s, 'EcDefault', {
      userKeeper: keeper,
      userId: 'app-default',
      userName: 'default',
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'off ~* -@all',
      passwordSecret: new secretsmanager.Secret(s, 'EcDefaultSecret', {
        generateSecretString: RotatedSecretString.elastiCache({ userId: 'app-default', userName: 'default' }),
      }),
    });
    // Refs to the users of this stack (created before the group); literal ids for those of
    // the stacks it depends on (Refs would be as many cross-stack exports, 200 at most).
    const ids = members.map((m) => (m.stack === s ? m.ref : m.userId));
    new ElastiCacheUserGroup(s, 'EcGroup', {
      userKeeper: keeper,
      userGroupId: 'app-users',
      engine: ElastiCacheEngine.VALKEY,
      userIds: [dflt.userId, ...ids],
    });
  }
  const broker: amazonmq.BrokerReference = AmazonMqUser.brokerFromArn(BROKER_ARN);
  for (let i = 0; i < mqUsers; i++) {
    const s = place();
    const username = `app-mq-${String(i).padStart(4, '0')}`;
    const secret = new secretsmanager.Secret(s, `MqSecret${i}`, { generateSecretString: RotatedSecretString.amazonMq({ broker, username }) });
    const user = new AmazonMqUser(s, `MqUser${i}`, { userKeeper: keeper, broker, username, passwordSecret: secret });
    keeper.rotate(user);
  }
  return { app, keeperStack, userStacks, keeper };
}

/** The templates of `app` by stack name (synthesized without the guard: to be measured). */
export function templatesOf(p: PlatformApp, validate = false): Record<string, Template> {
  const assembly = p.app.synth({ skipValidation: !validate });
  return Object.fromEntries(assembly.stacks.map((s) => [s.stackName, s.template]));
}

function codePath(): string {
  return codePathOrPlaceholder(path.join(os.tmpdir(), 'userkeeper-no-such-dir')).codePath;
}
