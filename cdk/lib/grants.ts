// The grants of every resource a UserKeeper serves in one stack, rendered as a few shared
// managed policies on the function's role, and the synth-time check of IAM's and
// CloudFormation's quotas.
//
// Why shared: IAM counts every policy of a role against one quota (inline policies 10,240
// characters together; managed policies 6,144 characters each, 10 per role), and
// CloudFormation allows 500 resources per stack. A policy per resource ran out of both from a
// few users. Here a resource only adds its ARNs: statements with the same actions (and the
// same condition) share one statement, and each ARN is listed once with everything granted on
// it, so a rotated ElastiCache user costs one user ARN and one secret ARN (~160 characters).
//
// Why content-addressed: CloudFormation updates a policy in the update phase and deletes a
// removed resource in the cleanup phase after it. A shared policy rewritten in place would lose
// a removed user's ARN *before* that user's Delete, which would then be denied (and leave the
// user behind). So each policy's logical id is a hash of its document: a changed document is a
// new policy (created in the update), and the old one, which every resource it served
// DependsOn, is deleted in the cleanup only after them, as a policy of their own was before.
import * as crypto from 'crypto';
import { CfnCondition, CfnParameter, CfnResource, IAspect, Aspects, Names, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { suppressAwsRequiredWildcards } from './nag';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IConstruct } from 'constructs';
import type { UserKeeper } from './user-keeper';

/** IAM's and CloudFormation's quotas that the guard checks (docs: IAM and CloudFormation quotas). */
export const ROLE_INLINE_POLICY_CHARS = 10240;
export const MANAGED_POLICY_CHARS = 6144;
export const MANAGED_POLICIES_PER_ROLE = 10;
export const RESOURCES_PER_STACK = 500;

/**
 * How full a grants policy is packed: below the quota by a margin, because sizes are
 * estimated before CloudFormation resolves the template (see estimatedLength).
 */
const PACK_LIMIT = MANAGED_POLICY_CHARS - 144;

/** The longest value each pseudo parameter can take, so that an estimate is an upper bound. */
const PSEUDO_LENGTHS: Record<string, number> = {
  'AWS::Partition': 'aws-iso-b'.length + 1, // aws-us-gov, aws-iso-b, aws-iso-f, aws-eusc
  'AWS::Region': 'ap-southeast-7'.length,
  'AWS::AccountId': 12,
  'AWS::URLSuffix': 'amazonaws.com.cn'.length,
  'AWS::NoValue': 0,
};
/** Anything whose length cannot be known at synth time (a parameter, an attribute). */
const UNKNOWN_LENGTH = 128;

interface Entry {
  readonly dependent: CfnResource;
  readonly statements: iam.PolicyStatement[];
}

/**
 * The grants of one UserKeeper in one stack: what every resource and rotation of that stack
 * asked for, rendered at synthesis into as few managed policies as fit (see the file's
 * comment). Made by `UserKeeper.grant`; every resource that added grants DependsOn all of
 * them (of its own CloudFormation condition, if it has one, and the unconditional ones).
 */
export class UserKeeperGrants extends Construct {
  /** The grants of `keeper` in the stack of `scope` (made on first use). */
  public static of(keeper: UserKeeper, scope: IConstruct): UserKeeperGrants {
    const stack = Stack.of(scope);
    const parent: Construct = Stack.of(keeper) === stack ? keeper : stack;
    const id = parent === stack ? `UserKeeperGrants${keeper.node.addr.slice(0, 8)}` : 'Grants';
    const existing = parent.node.tryFindChild(id);
    if (existing) {
      return existing as UserKeeperGrants;
    }
    return new UserKeeperGrants(parent, id, keeper.function.role!);
  }

  /** The rendered policies (after synthesis has begun; empty before). */
  public readonly policies: iam.CfnManagedPolicy[] = [];
  private readonly entries: Entry[] = [];
  private rendered = false;

  private constructor(scope: Construct, id: string, private readonly role: iam.IRole) {
    super(scope, id);
    const self = this;
    Aspects.of(this).add({
      visit(node: IConstruct) {
        if (node === self) {
          self.render();
        }
      },
    } satisfies IAspect);
  }

  /** `dependent` (a custom resource, a rotation schedule) needs `statements` while it exists. */
  public add(dependent: CfnResource, statements: iam.PolicyStatement[]): void {
    if (this.rendered) {
      throw new Error(`${this.node.path}: grants added after synthesis began`);
    }
    this.entries.push({ dependent, statements });
  }

  private render(): void {
    if (this.rendered) {
      return;
    }
    this.rendered = true;
    const stack = Stack.of(this);
    // One partition per CloudFormation condition of the dependents (a policy naming a resource
    // that exists only under a condition must exist only under it too), unconditional first.
    const partitions = new Map<CfnCondition | undefined, Entry[]>([[undefined, []]]);
    for (const e of this.entries) {
      const c = e.dependent.cfnOptions.condition;
      partitions.set(c, [...(partitions.get(c) ?? []), e]);
    }
    const unconditional = mergeStatements(stack, partitions.get(undefined)!, new Set());
    const granted = new Set(unconditional.flatMap((s) => s.keys));
    for (const [condition, entries] of partitions) {
      const statements = condition === undefined ? unconditional : mergeStatements(stack, entries, granted);
      const chunks = pack(stack, statements);
      const policies = chunks.map((chunk) => this.policy(stack, chunk, condition));
      this.policies.push(...policies);
      const dependents = condition === undefined ? this.entries.map((e) => e.dependent) : entries.map((e) => e.dependent);
      for (const d of new Set(dependents)) {
        d.node.addDependency(...policies);
      }
    }
  }

  private policy(stack: Stack, statements: iam.PolicyStatement[], condition?: CfnCondition): iam.CfnManagedPolicy {
    const document = new iam.PolicyDocument({ statements });
    const resolved = JSON.stringify([stack.resolve(document), condition ? stack.resolve(condition.logicalId) : null]);
    const hash = crypto.createHash('sha256').update(resolved).digest('hex').slice(0, 10).toUpperCase();
    const policy = new iam.CfnManagedPolicy(this, hash, {
      description: `userkeeper: what the resources of ${stack.stackName} need (${Names.uniqueId(this)})`,
      policyDocument: document,
      roles: [this.role.roleName],
    });
    // The hash *is* the identity (see the file's comment), after this construct's path in its
    // stack (so that two UserKeepers' grants never collide).
    const path = this.node.scopes.slice(this.node.scopes.indexOf(stack) + 1).map((c) => c.node.id.replace(/[^A-Za-z0-9]/g, ''));
    policy.overrideLogicalId(`${path.join('').slice(0, 200)}${hash}`);
    if (condition) {
      policy.cfnOptions.condition = condition;
    }
    suppressAwsRequiredWildcards(policy, statements);
    return policy;
  }
}

interface MergedStatement {
  readonly actions: string[];
  readonly condition?: Record<string, Record<string, unknown>>;
  readonly resources: string[];
  /** `<condition> <action> <resource>` of each grant, to drop what another partition grants. */
  readonly keys: string[];
}

/**
 * The entries' statements with each resource (per condition) listed once, with the union of
 * the actions granted on it; resources granted the same actions share a statement. The same
 * permissions as the statements themselves, in far fewer characters.
 */
function mergeStatements(stack: Stack, entries: Entry[], alreadyGranted: Set<string>): MergedStatement[] {
  type Row = { resource: string; actions: Set<string> };
  const byCondition = new Map<string, { condition?: Record<string, Record<string, unknown>>; rows: Map<string, Row> }>();
  for (const e of entries) {
    for (const st of e.statements) {
      const json = st.toStatementJson();
      if (st.effect !== iam.Effect.ALLOW || json.NotAction || json.NotResource || json.Principal) {
        throw new Error(`userkeeper grants are Allow statements with Action and Resource only: ${JSON.stringify(stack.resolve(json))}`);
      }
      const conditionKey = JSON.stringify(stack.resolve(json.Condition ?? {}));
      let group = byCondition.get(conditionKey);
      if (!group) {
        group = { condition: json.Condition, rows: new Map() };
        byCondition.set(conditionKey, group);
      }
      for (const resource of [json.Resource].flat() as string[]) {
        const resourceKey = JSON.stringify(stack.resolve(resource));
        const row = group.rows.get(resourceKey) ?? { resource, actions: new Set<string>() };
        for (const action of [json.Action].flat() as string[]) {
          if (!alreadyGranted.has(`${conditionKey} ${action} ${resourceKey}`)) {
            row.actions.add(action);
          }
        }
        group.rows.set(resourceKey, row);
      }
    }
  }
  const out: MergedStatement[] = [];
  for (const [conditionKey, group] of byCondition) {
    const byActions = new Map<string, Group>();
    for (const [resourceKey, row] of group.rows) {
      if (row.actions.size === 0) continue;
      const actions = [...row.actions].sort();
      const key = actions.join(',');
      const g = byActions.get(key) ?? { actions, resources: [], types: new Set<string>(), keys: [] };
      g.resources.push(row.resource);
      g.types.add(resourceType(resourceKey));
      g.keys.push(...actions.map((a) => `${conditionKey} ${a} ${resourceKey}`));
      byActions.set(key, g);
    }
    for (const g of joinForEveryResourceType([...byActions.values()])) {
      out.push({ actions: g.actions, resources: g.resources, keys: g.keys, condition: group.condition });
    }
  }
  return out;
}

interface Group {
  actions: string[];
  resources: string[];
  types: Set<string>;
  keys: string[];
}

/**
 * Actions AWS authorizes on each of several resource types (the group or ACL and every
 * member). A statement that grants one must name a resource of each type: not for IAM, which
 * evaluates resource by resource, but for linters that check statement by statement
 * (parliament, Access Analyzer). So a statement granting them on the users is joined with the
 * one granting them on the group, when joining grants nothing more (see `joinable`).
 */
const MULTI_RESOURCE_ACTIONS: Record<string, string[]> = {
  'elasticache:CreateUserGroup': ['elasticache:user', 'elasticache:usergroup'],
  'elasticache:ModifyUserGroup': ['elasticache:user', 'elasticache:usergroup'],
  'memorydb:UpdateAcl': ['memorydb:user', 'memorydb:acl'],
};

/**
 * The resource types each action is authorized on (Service Authorization Reference), for the
 * actions whose statements may be joined: an action absent here is never joined onto a
 * resource it was not granted on.
 */
const AUTHORIZED_ON: Record<string, string[]> = {
  'elasticache:CreateUser': ['elasticache:user'],
  'elasticache:DescribeUsers': ['elasticache:user'],
  'elasticache:ModifyUser': ['elasticache:user'],
  'elasticache:DeleteUser': ['elasticache:user'],
  'elasticache:DescribeUserGroups': ['elasticache:usergroup'],
  'elasticache:DeleteUserGroup': ['elasticache:usergroup'],
  'elasticache:CreateUserGroup': ['elasticache:user', 'elasticache:usergroup'],
  'elasticache:ModifyUserGroup': ['elasticache:user', 'elasticache:usergroup'],
  'elasticache:ListTagsForResource': ['elasticache:user', 'elasticache:usergroup'],
  'elasticache:AddTagsToResource': ['elasticache:user', 'elasticache:usergroup'],
  'elasticache:RemoveTagsFromResource': ['elasticache:user', 'elasticache:usergroup'],
  'memorydb:DescribeUsers': ['memorydb:user'],
  'memorydb:UpdateUser': ['memorydb:user'],
  'memorydb:DeleteUser': ['memorydb:user'],
  'memorydb:DescribeAcls': ['memorydb:acl'],
  'memorydb:DeleteAcl': ['memorydb:acl'],
  'memorydb:UpdateAcl': ['memorydb:user', 'memorydb:acl'],
  'memorydb:ListTags': ['memorydb:user', 'memorydb:acl'],
  'memorydb:TagResource': ['memorydb:user', 'memorydb:acl'],
  'memorydb:UntagResource': ['memorydb:user', 'memorydb:acl'],
};

/** The resource type of a (resolved) resource, from its ARN's service and resource parts. */
function resourceType(resolvedJson: string): string {
  const t = resolvedJson;
  if (t.includes(':elasticache:')) return t.includes(':usergroup:') ? 'elasticache:usergroup' : t.includes(':user:') ? 'elasticache:user' : t;
  if (t.includes(':memorydb:')) return t.includes(':acl/') ? 'memorydb:acl' : t.includes(':user/') ? 'memorydb:user' : t;
  return t; // not joinable: its own type
}

/**
 * Whether granting `a`'s actions on `b`'s resources (and `b`'s on `a`'s) adds nothing: every
 * action one grants and the other does not is authorized on none of the other's resource types.
 */
function joinable(a: Group, b: Group): boolean {
  const adds = (from: Group, onto: Group) =>
    from.actions
      .filter((x) => !onto.actions.includes(x))
      .every((x) => AUTHORIZED_ON[x] !== undefined && [...onto.types].every((t) => !AUTHORIZED_ON[x].includes(t)));
  return adds(a, b) && adds(b, a);
}

function joinForEveryResourceType(groups: Group[]): Group[] {
  const lacking = (g: Group) =>
    g.actions.some((x) => (MULTI_RESOURCE_ACTIONS[x] ?? []).some((t) => !g.types.has(t)));
  let out = [...groups];
  for (let changed = true; changed; ) {
    changed = false;
    for (const g of out.filter(lacking)) {
      const partner = out.find((o) => o !== g && joinable(g, o) && [...o.types].some((t) => !g.types.has(t)));
      if (partner) {
        const joined: Group = {
          actions: [...new Set([...g.actions, ...partner.actions])].sort(),
          resources: [...g.resources, ...partner.resources],
          types: new Set([...g.types, ...partner.types]),
          keys: [...g.keys, ...partner.keys],
        };
        out = [...out.filter((o) => o !== g && o !== partner), joined];
        changed = true;
        break;
      }
    }
  }
  return out;
}

/** The statements packed into policies of at most PACK_LIMIT estimated characters each. */
function pack(stack: Stack, statements: MergedStatement[]): iam.PolicyStatement[][] {
  const envelope = estimatedLength(stack, { Version: '2012-10-17', Statement: [] });
  const chunks: iam.PolicyStatement[][] = [];
  let current: iam.PolicyStatement[] = [];
  let size = envelope;
  const close = () => {
    if (current.length > 0) chunks.push(current);
    current = [];
    size = envelope;
  };
  for (const s of statements) {
    const statement = (resources: string[]) =>
      new iam.PolicyStatement({ actions: s.actions, resources, conditions: s.condition });
    // What the statement costs with no resources, and each resource then.
    const bare = estimatedLength(stack, statement(['']).toStatementJson()) + 1;
    let resources: string[] = [];
    let used = bare;
    const flush = () => {
      if (resources.length > 0) current.push(statement(resources));
      size += used;
      resources = [];
      used = bare;
    };
    for (const r of s.resources) {
      const cost = estimatedLength(stack, r) + 3;
      if (size + used + cost > PACK_LIMIT) {
        flush();
        close();
      }
      resources.push(r);
      used += cost;
    }
    flush();
  }
  close();
  return chunks;
}

// ------------------------------------------------------------------------------------------
// Estimating what IAM will count

/**
 * An upper bound of the characters IAM counts for `value` once CloudFormation has resolved it
 * (IAM ignores whitespace; the JSON here has none): every reference is replaced by the longest
 * value it can take (a secret's ARN from its name or logical id, a pseudo parameter by the
 * longest there is, anything unknowable by UNKNOWN_LENGTH).
 */
export function estimatedLength(stack: Stack, value: unknown): number {
  return JSON.stringify(estimated(stack, stack.resolve(value))).length;
}

function estimated(stack: Stack, v: unknown): unknown {
  if (Array.isArray(v)) {
    return v.map((x) => estimated(stack, x)).filter((x) => x !== NO_VALUE);
  }
  if (v === null || typeof v !== 'object') {
    return v;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
    return intrinsic(stack, keys[0], o[keys[0]]);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const x = estimated(stack, o[k]);
    if (x !== NO_VALUE) out[k] = x;
  }
  return out;
}

const NO_VALUE = Symbol('AWS::NoValue');

function text(stack: Stack, v: unknown): string {
  const x = estimated(stack, v);
  return typeof x === 'string' ? x : x === NO_VALUE ? '' : JSON.stringify(x);
}

function intrinsic(stack: Stack, fn: string, arg: any): unknown {
  const pad = (n: number) => 'x'.repeat(n);
  switch (fn) {
    case 'Ref':
      if (arg === 'AWS::NoValue') return NO_VALUE;
      if (arg in PSEUDO_LENGTHS) return pad(PSEUDO_LENGTHS[arg]);
      return pad(refLength(stack, arg));
    case 'Fn::Join':
      return (arg[1] as unknown[]).map((x) => text(stack, x)).join(arg[0]);
    case 'Fn::Sub': {
      const [template, vars] = Array.isArray(arg) ? arg : [arg, {}];
      return (template as string).replace(/\$\{([^}!]+)\}/g, (_m, name: string) =>
        name in vars ? text(stack, vars[name]) : text(stack, name.includes('.') ? { 'Fn::GetAtt': name.split('.') } : { Ref: name }),
      );
    }
    case 'Fn::If': {
      const a = estimated(stack, arg[1]);
      const b = estimated(stack, arg[2]);
      const len = (x: unknown) => (x === NO_VALUE ? 0 : JSON.stringify(x).length);
      return len(a) >= len(b) ? a : b;
    }
    case 'Fn::GetAtt': {
      const [id, att] = Array.isArray(arg) ? arg : String(arg).split('.');
      const target = findByLogicalId(stack, id);
      if (att === 'Arn' && target instanceof lambda.CfnFunction) {
        // arn:<partition>:lambda:<region>:<account>:function:<name, at most 64>
        return pad(4 + PSEUDO_LENGTHS['AWS::Partition'] + 8 + PSEUDO_LENGTHS['AWS::Region'] + 1 + 12 + 10 + 64);
      }
      if (att === 'Arn' && target instanceof logs.CfnLogGroup) {
        // arn:<partition>:logs:<region>:<account>:log-group:<name, at most 512>:*
        const name = typeof target.logGroupName === 'string' && !Token.isUnresolved(target.logGroupName) ? target.logGroupName.length : 512;
        return pad(4 + PSEUDO_LENGTHS['AWS::Partition'] + 6 + PSEUDO_LENGTHS['AWS::Region'] + 1 + 12 + 11 + name + 2);
      }
      return pad(UNKNOWN_LENGTH);
    }
    default:
      return pad(UNKNOWN_LENGTH);
  }
}

/** What a Ref to a parameter or a resource of `stack` resolves to, at most. */
function refLength(stack: Stack, id: string): number {
  if (id === 'AWS::StackId') {
    // arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>
    const name = Token.isUnresolved(stack.stackName) ? 128 : stack.stackName.length;
    return 4 + PSEUDO_LENGTHS['AWS::Partition'] + 16 + PSEUDO_LENGTHS['AWS::Region'] + 1 + 12 + 7 + name + 1 + 36;
  }
  if (id === 'AWS::StackName') {
    return Token.isUnresolved(stack.stackName) ? 128 : stack.stackName.length;
  }
  const target = findByLogicalId(stack, id);
  if (target instanceof secretsmanager.CfnSecret) {
    // arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 random>; without a
    // Name, CloudFormation names it <logical id>-<12 random>.
    const name = typeof target.name === 'string' && !Token.isUnresolved(target.name) ? target.name.length : id.length + 13;
    return 4 + PSEUDO_LENGTHS['AWS::Partition'] + 16 + PSEUDO_LENGTHS['AWS::Region'] + 1 + 12 + 8 + name + 7;
  }
  if (target instanceof CfnParameter) {
    return target.maxLength ?? UNKNOWN_LENGTH;
  }
  return UNKNOWN_LENGTH;
}

function findByLogicalId(stack: Stack, id: string): IConstruct | undefined {
  let cache = LOGICAL_IDS.get(stack);
  if (!cache) {
    cache = new Map();
    for (const c of stack.node.findAll()) {
      if ((CfnResource.isCfnResource(c) || c instanceof CfnParameter) && Stack.of(c) === stack) {
        cache.set(stack.resolve((c as CfnResource).logicalId), c);
      }
    }
    LOGICAL_IDS.set(stack, cache);
  }
  return cache.get(id);
}
const LOGICAL_IDS = new WeakMap<Stack, Map<string, IConstruct>>();

// ------------------------------------------------------------------------------------------
// The guard

/** One quota a template would exceed, worded for the synth error. */
export interface QuotaFinding {
  readonly quota: string;
  readonly limit: number;
  readonly size: number;
  readonly message: string;
}

/**
 * The quotas the role of `fn` and the stacks holding its grants would exceed, measured on what
 * synthesis is about to write: the role's inline policies together, each managed policy
 * attached to it, how many are attached, and each stack's resources.
 */
export function quotaFindings(fn: lambda.Function, stacks: Stack[], managedPoliciesPerRole: number): QuotaFinding[] {
  const role = fn.role as iam.Role;
  const roleStack = Stack.of(role);
  const cfnRole = role.node.defaultChild as iam.CfnRole;
  const out: QuotaFinding[] = [];
  // Resolved where the policy is (a Ref in the role's stack, an import elsewhere), as
  // CloudFormation will read it; iam.Policy and iam.ManagedPolicy list their roles lazily.
  const attached = (c: iam.CfnPolicy | iam.CfnManagedPolicy) => {
    const s = Stack.of(c);
    const name = JSON.stringify(s.resolve(role.roleName));
    return ((s.resolve(c.roles) ?? []) as unknown[]).some((r) => JSON.stringify(r) === name);
  };

  const all = (Stack.of(fn).node.root as Construct).node.findAll();
  const inline: Array<{ path: string; size: number }> = [];
  for (const p of cfnRole.policies && Array.isArray(cfnRole.policies) ? cfnRole.policies : []) {
    inline.push({ path: `${role.node.path} (inline)`, size: estimatedLength(roleStack, (p as any).policyDocument) });
  }
  const managed: Array<{ path: string; size: number }> = [];
  for (const c of all) {
    if (c instanceof iam.CfnPolicy && attached(c)) {
      inline.push({ path: c.node.path, size: estimatedLength(Stack.of(c), c.policyDocument) });
    } else if (c instanceof iam.CfnManagedPolicy && attached(c)) {
      managed.push({ path: c.node.path, size: estimatedLength(Stack.of(c), c.policyDocument) });
    }
  }
  const inlineTotal = inline.reduce((n, p) => n + p.size, 0);
  if (inlineTotal > ROLE_INLINE_POLICY_CHARS) {
    const largest = [...inline].sort((a, b) => b.size - a.size).slice(0, 3).map((p) => `${p.path} ~${p.size}`).join(', ');
    out.push({
      quota: 'role inline policies',
      limit: ROLE_INLINE_POLICY_CHARS,
      size: inlineTotal,
      message:
        `the inline policies of role ${role.node.path} would total ~${inlineTotal} characters (largest: ${largest}); ` +
        `IAM allows ${ROLE_INLINE_POLICY_CHARS} per role, all its inline policies together. userkeeper's own grants are ` +
        'managed policies: move what was added with addToRolePolicy (or other iam.Policy on this role) into an iam.ManagedPolicy.',
    });
  }
  for (const p of managed) {
    if (p.size > MANAGED_POLICY_CHARS) {
      out.push({
        quota: 'managed policy size',
        limit: MANAGED_POLICY_CHARS,
        size: p.size,
        message: `managed policy ${p.path} would be ~${p.size} characters; IAM allows ${MANAGED_POLICY_CHARS} per managed policy: split it.`,
      });
    }
  }
  const awsManaged = Token.isUnresolved(cfnRole.managedPolicyArns)
    ? (roleStack.resolve(cfnRole.managedPolicyArns) ?? []).length
    : (cfnRole.managedPolicyArns ?? []).length;
  const count = awsManaged + managed.length;
  if (count > managedPoliciesPerRole) {
    const chars = managed.reduce((n, p) => n + p.size, 0);
    out.push({
      quota: 'managed policies per role',
      limit: managedPoliciesPerRole,
      size: count,
      message:
        `role ${role.node.path} would have ${count} managed policies attached (${awsManaged} of the role's own, ` +
        `${managed.length} of grants, ~${chars} characters); IAM attaches at most ${managedPoliciesPerRole} per role. ` +
        'Each ElastiCache or MemoryDB user adds its ARN (~70 characters), each imported secret its ARN (the app\'s own ' +
        'secrets cost nothing: they are granted by tag): split the users among several UserKeepers ' +
        '(each has its own role), or have AWS raise the quota (up to 20) and pass managedPoliciesPerRole.',
    });
  }
  for (const s of new Set(stacks)) {
    const n = s.node.findAll().filter((c) => CfnResource.isCfnResource(c) && Stack.of(c) === s).length;
    if (n > RESOURCES_PER_STACK) {
      out.push({
        quota: 'resources per stack',
        limit: RESOURCES_PER_STACK,
        size: n,
        message:
          `stack ${s.stackName} would have ${n} resources; CloudFormation allows ${RESOURCES_PER_STACK} per stack. ` +
          'A rotated user takes three (its secret, the user, the rotation schedule): put some of the users in another ' +
          'stack of the app (their grants follow them), or import their secrets from elsewhere.',
      });
    }
  }
  return out;
}
