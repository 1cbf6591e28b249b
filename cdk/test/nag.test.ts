// cdk-nag's AwsSolutions pack, as platform teams enforce it: the example app passes by
// construction, each `*` AWS requires is acknowledged with its reason, and nothing else is.
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, CustomResource, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { UserKeeperExampleStack } from '../bin/example';
import { UserKeeper } from '../lib';
import { codePathOrPlaceholder } from '../lib/dummy-asset';

const CODE = codePathOrPlaceholder(path.join(os.tmpdir(), 'userkeeper-no-such-dir')).codePath;

function findings(scope: IConstruct, under = ''): string[] {
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
    const s = new UserKeeperExampleStack(new App(), 'Example', { codePath: CODE });
    const acks = acknowledged(s);
    const wildcard = [...acks].filter(([, rules]) => 'AwsSolutions-IAM5[Resource::*]' in rules);
    // Three rotations (GetRandomPassword) and two MemoryDB users (CreateUser): nothing else.
    assert.deepEqual(wildcard.map(([p]) => p.replace(/^Example\//, '')).sort(), [
      'AppUser/Rotation/Grants/Resource',
      'MemoryDbIamUser/Grants/Resource',
      'MemoryDbUser/Grants/Resource',
      'MemoryDbUser/Rotation/Grants/Resource',
      'MqUser/Rotation/Grants/Resource',
    ]);
    for (const [p, rules] of wildcard) {
      const reason = rules['AwsSolutions-IAM5[Resource::*]'];
      assert.match(reason, p.includes('Rotation') ? /GetRandomPassword has no resource type/ : /memorydb:CreateUser has no resource type/);
      const v2 = (s.node.findChild(p.split('/')[1]).node.findAll().find((c) => c.node.path === p) as any).getMetadata('cdk_nag');
      assert.deepEqual(v2.rules_to_suppress, [{ id: 'AwsSolutions-IAM5', reason, applies_to: ['Resource::*'] }]);
    }
  });

  it('still reports a * that AWS does not require', () => {
    const s = new Stack(new App(), 'S');
    const keeper = new UserKeeper(s, 'Keeper', { codePath: CODE });
    const resource = new CustomResource(s, 'R', { serviceToken: keeper.serviceToken });
    keeper.grant(resource, [
      new iam.PolicyStatement({ actions: ['secretsmanager:GetRandomPassword', 's3:ListAllMyBuckets'], resources: ['*'] }),
    ]);
    assert.deepEqual(findings(s), ['error AwsSolutions-IAM5[Resource::*] S/Grants/Resource']);
  });

  it('in a VPC: its own network-interface grant, acknowledged, no AWS-managed policy', () => {
    const s = new Stack(new App(), 'S');
    const vpc = new ec2.Vpc(s, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    new UserKeeper(s, 'Keeper', { codePath: CODE, vpc });
    assert.deepEqual(findings(s, 'S/Keeper/'), []);
    assert.match(acknowledged(s).get('S/Keeper/Role/Resource')!['AwsSolutions-IAM5[Resource::*]'], /AWSLambdaVPCAccessExecutionRole/);
  });
});
