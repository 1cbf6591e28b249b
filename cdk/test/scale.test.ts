// A platform team's size: the quotas of IAM and CloudFormation measured on the synthesized
// templates, and the synth-time guard that stops an app before it would exceed one.
//   npm test
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  estimatedLength,
  MANAGED_POLICIES_PER_ROLE,
  MANAGED_POLICY_CHARS,
  RESOURCES_PER_STACK,
  ROLE_INLINE_POLICY_CHARS,
  UserKeeperGrants,
} from '../lib';
import { measure, platformApp, templatesOf } from './measure';

describe('200 rotated ElastiCache users in one group and 50 rotated MQ users', () => {
  // Three resources a rotated user (secret, user, schedule): 750, so CloudFormation's 500 per
  // stack put them in several stacks of one app, all served by one UserKeeper (one role).
  const p = platformApp(200, 50, { perStack: 100 });
  const templates = templatesOf(p, true); // with the guard: it must let this app through
  const m = measure(templates);

  it('fit every quota, measured on the templates as CloudFormation resolves them', () => {
    assert.ok(m.roleInlineChars <= ROLE_INLINE_POLICY_CHARS, `role inline policies: ${m.roleInlineChars}`);
    const managed = Object.entries(m.managedChars);
    assert.ok(managed.length > 1, 'the grants of 250 users take several managed policies');
    for (const [id, chars] of managed) assert.ok(chars <= MANAGED_POLICY_CHARS, `${id}: ${chars} characters`);
    assert.equal(m.awsManagedPolicies, 0, 'the role logs through an inline policy of its own, no AWS-managed one');
    assert.ok(m.awsManagedPolicies + managed.length <= MANAGED_POLICIES_PER_ROLE, `${m.awsManagedPolicies} + ${managed.length} managed policies`);
    for (const [stack, n] of Object.entries(m.resources)) assert.ok(n <= RESOURCES_PER_STACK, `${stack}: ${n} resources`);
    // Room left to grow (and for an update that replaces a policy: old and new are attached
    // together for a moment).
    assert.ok(m.awsManagedPolicies + managed.length < MANAGED_POLICIES_PER_ROLE, 'no headroom');
    const users = Object.values(templates).flatMap((t) => Object.values(t.Resources).filter((r: any) => r.Type.startsWith('Custom::')));
    assert.equal(users.length, 200 + 1 + 1 + 50, '200 users, the default user, the group, 50 MQ users');
  });

  it('the guard\'s estimate of each policy is an upper bound of what IAM will count', () => {
    const policies = [p.keeperStack, ...p.userStacks].flatMap((s) =>
      s.node.findAll().filter((c): c is iam.CfnManagedPolicy => c instanceof iam.CfnManagedPolicy),
    );
    assert.equal(policies.length, Object.keys(m.managedChars).length);
    for (const policy of policies) {
      const stack = Stack.of(policy);
      const measured = m.managedChars[`${stack.stackName}/${stack.resolve(policy.logicalId)}`];
      assert.ok(measured !== undefined, policy.node.path);
      const estimate = estimatedLength(stack, policy.policyDocument);
      assert.ok(estimate >= measured, `${policy.node.path}: estimated ${estimate} < ${measured}`);
      assert.ok(estimate <= MANAGED_POLICY_CHARS, `${policy.node.path}: packed to ${estimate}`);
    }
  });

  it('every user, group and rotation depends on every grants policy of its stack (they outlive its Delete)', () => {
    for (const [name, t] of Object.entries(templates)) {
      const grants = Object.entries(t.Resources).filter(([, r]: [string, any]) => r.Type === 'AWS::IAM::ManagedPolicy').map(([id]) => id);
      for (const [id, r] of Object.entries(t.Resources) as [string, any][]) {
        if (!r.Type.startsWith('Custom::') && r.Type !== 'AWS::SecretsManager::RotationSchedule') continue;
        const deps = [r.DependsOn ?? []].flat();
        for (const g of grants) assert.ok(deps.includes(g), `${name}/${id} does not DependsOn ${g}`);
      }
    }
    // And each grants policy is in the stack of what it serves: a stack's users never wait on
    // (or keep alive) another stack's policy.
    for (const s of p.userStacks) {
      assert.ok(s.node.findAll().some((c) => c instanceof UserKeeperGrants), s.stackName);
    }
  });
});

describe('the quota guard', () => {
  const synthFails = (build: () => { app: { synth: () => unknown } }, pattern: RegExp) => {
    const { app } = build();
    assert.throws(() => app.synth(), (e: Error) => {
      assert.match(e.message, pattern);
      return true;
    });
  };

  it('fails synth when a stack would exceed 500 resources, saying how many and what to do', () => {
    synthFails(() => platformApp(200, 50), /stack Platform would have 7\d\d resources; CloudFormation allows 500 per stack\. A rotated user takes three .* put some of the users in another stack/);
  });

  it('fails synth when the grants would need more managed policies than the role may have', () => {
    // Forced: a quota of 1. The role has no managed policy of its own (its logging policy is
    // inline), so the grants of 120 users (two policies) are what exceeds it.
    synthFails(
      () => platformApp(120, 0, { keeperProps: { managedPoliciesPerRole: 1 } }),
      /role Platform\/UserKeeper\/Role would have [2-9] managed policies attached \(0 of the role's own, [2-9] of grants, ~\d+ characters\); IAM attaches at most 1 per role\. .*split the users among several UserKeepers/,
    );
  });

  it('counts the managed policies the app attaches to the role itself', () => {
    // Two of grants fit a quota of 2 until the app adds an AWS-managed policy of its own.
    const build = (extra: boolean) => {
      const p = platformApp(120, 0, { keeperProps: { managedPoliciesPerRole: 2 } });
      if (extra) p.keeper.function.role!.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AWSXRayDaemonWriteAccess'));
      return p;
    };
    assert.doesNotThrow(() => build(false).app.synth());
    synthFails(
      () => build(true),
      /role Platform\/UserKeeper\/Role would have 3 managed policies attached \(1 of the role's own, 2 of grants, ~\d+ characters\); IAM attaches at most 2 per role\./,
    );
  });

  it('fails synth when the role\'s inline policies would exceed 10,240 characters together', () => {
    synthFails(() => {
      const p = platformApp(1, 0);
      // An inline policy of the app's own on the role (the role's default policy, CDK would
      // split into managed policies by itself).
      new iam.Policy(p.keeperStack, 'Extra', {
        roles: [p.keeper.function.role!],
        statements: Array.from({ length: 120 }, (_, i) =>
          new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:aws:s3:::some-bucket-with-a-long-name-${i}/prefix/*`] }),
        ),
      });
      return p;
    }, /the inline policies of role Platform\/UserKeeper\/Role would total ~\d{5} characters \(largest: Platform\/Extra\/Resource ~\d+.*IAM allows 10240 per role.*iam\.ManagedPolicy/);
  });

  it('fails synth when a managed policy on the role would exceed 6,144 characters', () => {
    synthFails(() => {
      const p = platformApp(1, 0);
      new iam.ManagedPolicy(p.keeperStack, 'Big', {
        roles: [p.keeper.function.role!],
        statements: Array.from({ length: 80 }, (_, i) =>
          new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:aws:s3:::some-bucket-with-a-long-name-${i}/prefix/*`] }),
        ),
      });
      return p;
    }, /managed policy Platform\/Big\/Resource would be ~\d{4,} characters; IAM allows 6144 per managed policy/);
  });
});
