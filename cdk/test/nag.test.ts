// cdk-nag's AwsSolutions pack, as platform teams enforce it: the example app passes by
// construction, each `*` AWS requires is acknowledged with its reason, and nothing else is.
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, ArnFormat, CustomResource, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { UserKeeperExampleStack } from '../bin/example';
import { UserKeeper } from '../lib';
import { codePathOrPlaceholder } from '../lib/dummy-asset';

const CODE = codePathOrPlaceholder(path.join(os.tmpdir(), 'userkeeper-no-such-dir')).codePath;

/**
 * cdk-nag's findings under `scope`, once synthesis has rendered the grants (they are made by
 * an aspect, as cdk-nag 3 sees them when it runs as a validation plugin).
 */
function findings(scope: IConstruct, under = ''): string[] {
  App.of(scope)!.synth();
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((v) =>
    v.violatingResources.filter((r) => (r.constructPath ?? "").startsWith(under)).map((r) => `${v.severity} ${v.ruleName} ${r.constructPath}`),
  );
}

/** The acknowledgements userkeeper wrote: rule id -> reason, per construct path. */
function acknowledged(scope: IConstruct): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const c of scope.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.type === 'aws:cdk:acknowledged-rules') {
        out.set(c.node.path, { ...out.get(c.node.path), ...(m.data as Record<string, string>) });
      }
    }
  }
  return out;
}

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing in the example app', () => {
    const s = new UserKeeperExampleStack(new App(), 'Example', { codePath: CODE });
    assert.deepEqual(findings(s), []);
  });

  it('acknowledges exactly the wildcards AWS requires, each with its reason (v3 and v2 metadata)', () => {
    const app = new App();
    const s = new UserKeeperExampleStack(app, 'Example', { codePath: CODE });
    app.synth();
    const acks = acknowledged(s);
    // Every grants policy with a `*` in a resource, and the findings there as cdk-nag names them.
    const policies = s.node.findAll().filter((c): c is iam.CfnManagedPolicy => c instanceof iam.CfnManagedPolicy);
    const starred = policies.flatMap((p) => {
      const statements: any[] = s.resolve(p.policyDocument).Statement;
      const onStar = statements.filter((st) => [st.Resource].flat().includes('*'));
      const onAnySecret = statements.filter((st) => /:secret:\*"\]\]\}$/.test(JSON.stringify(st.Resource)));
      return onStar.length + onAnySecret.length ? [{ p, onStar, onAnySecret }] : [];
    });
    // Three rotations (GetRandomPassword), two MemoryDB users (CreateUser), the app's secrets
    // (by tag or rotation function): all of it, and nothing else, is acknowledged.
    assert.deepEqual(starred.flatMap(({ onStar }) => onStar.flatMap((st) => [st.Action].flat())).sort(), [
      'memorydb:CreateUser',
      'secretsmanager:GetRandomPassword',
    ]);
    assert.ok(starred.some(({ onAnySecret }) => onAnySecret.length > 0));
    assert.deepEqual([...acks.keys()].filter((p) => p.startsWith('Example/UserKeeper/')).sort(), starred.map(({ p }) => p.node.path).sort());
    for (const { p, onStar, onAnySecret } of starred) {
      const rules = acks.get(p.node.path)!;
      const expected: Record<string, RegExp[]> = {};
      if (onStar.length) {
        const actions = onStar.flatMap((st) => [st.Action].flat() as string[]);
        expected['AwsSolutions-IAM5[Resource::*]'] = actions.map((a) => new RegExp(`${a} has no resource type`));
      }
      if (onAnySecret.length) {
        const keys = onAnySecret.flatMap((st) => Object.keys(st.Condition.StringEquals));
        expected['AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:*]'] = keys.includes(
          'aws:ResourceTag/userkeeper:reader',
        )
          ? [/tagged userkeeper:reader = this function's ARN/]
          : [/whose rotation function is this function/];
      }
      assert.deepEqual(Object.keys(rules).sort(), Object.keys(expected).sort(), p.node.path);
      for (const [rule, reasons] of Object.entries(expected)) for (const r of reasons) assert.match(rules[rule], r);
      const byFinding = (a: any, b: any) => a.applies_to[0].localeCompare(b.applies_to[0]);
      assert.deepEqual(
        [...(p.getMetadata('cdk_nag') as any).rules_to_suppress].sort(byFinding),
        Object.keys(expected).map((rule) => ({ id: 'AwsSolutions-IAM5', reason: rules[rule], applies_to: [rule.slice('AwsSolutions-IAM5['.length, -1)] })).sort(byFinding),
      );
    }
  });

  it('still reports a * that AWS does not require', () => {
    const s = new Stack(new App(), 'S');
    const keeper = new UserKeeper(s, 'Keeper', { codePath: CODE });
    const resource = new CustomResource(s, 'R', { serviceToken: keeper.serviceToken });
    keeper.grant(resource, [
      new iam.PolicyStatement({ actions: ['secretsmanager:GetRandomPassword', 's3:ListAllMyBuckets'], resources: ['*'] }),
      // Any secret, but not only this function's: no condition naming it.
      new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [s.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME })] }),
    ]);
    const found = findings(s);
    assert.equal(found.length, 2, found.join('\n'));
    assert.match(found[0], /^error AwsSolutions-IAM5\[Resource::\*\] S\/Keeper\/Grants\/[0-9A-F]{10}$/);
    assert.match(found[1], /^error AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:\*\] S\/Keeper\/Grants\/[0-9A-F]{10}$/);
  });

  it('in a VPC: its own network-interface grant, acknowledged, no AWS-managed policy', () => {
    const s = new Stack(new App(), 'S');
    const vpc = new ec2.Vpc(s, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    new UserKeeper(s, 'Keeper', { codePath: CODE, vpc });
    assert.deepEqual(findings(s, 'S/Keeper/'), []);
    assert.match(acknowledged(s).get('S/Keeper/Role/Resource')!['AwsSolutions-IAM5[Resource::*]'], /AWSLambdaVPCAccessExecutionRole/);
  });
});
