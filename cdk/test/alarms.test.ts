// Unit tests of UserKeeper.alarms (node's built-in test runner, run with ts-node): npm test
import { strict as assert } from 'node:assert';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, CfnCondition, CfnParameter, CfnResource, Duration, Fn, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  ElastiCacheEngine,
  ElastiCacheUser,
  METRICS_NAMESPACE,
  RotatedSecretString,
  UserKeeper,
} from '../lib';
import { codePathOrPlaceholder } from '../lib/dummy-asset';

const CODE = codePathOrPlaceholder(path.join(os.tmpdir(), 'userkeeper-no-such-dir')).codePath;

function setup(keeperId = 'UserKeeper') {
  const s = new Stack(new App(), 'Test');
  const k = new UserKeeper(s, keeperId, { codePath: CODE });
  const topic = new sns.Topic(s, 'Topic');
  return { s, k, topic };
}

function logicalId(s: Stack, c: { node: { defaultChild?: unknown } } | CfnResource): string {
  const cfn = CfnResource.isCfnResource(c) ? c : (c.node.defaultChild as CfnResource);
  return s.getLogicalId(cfn);
}

function user(s: Stack, k: UserKeeper, id: string, secret: secretsmanager.ISecret): ElastiCacheUser {
  return new ElastiCacheUser(s, `${id}User`, {
    userKeeper: k,
    userId: `uk-${id.toLowerCase()}`,
    userName: id.toLowerCase(),
    engine: ElastiCacheEngine.VALKEY,
    accessString: 'on ~app:* +@read',
    passwordSecret: secret,
  });
}

function rotatedSecret(s: Stack, id: string): secretsmanager.Secret {
  return new secretsmanager.Secret(s, id, {
    generateSecretString: RotatedSecretString.elastiCache({ userId: `uk-${id.toLowerCase()}`, userName: 'app' }),
  });
}

function rule(t: Template): any {
  const rules = Object.values(t.findResources('AWS::Events::Rule'));
  assert.equal(rules.length, 1, 'one rule');
  return (rules[0] as any).Properties;
}

/**
 * EventBridge's matching, for the pattern features used here (exact strings and `prefix`,
 * nested objects; every key of the pattern must be in the event and match one value).
 */
function matches(pattern: any, event: any): boolean {
  return Object.entries(pattern).every(([key, want]) => {
    const got = event?.[key];
    if (Array.isArray(want)) {
      return want.some((w) => (typeof w === 'object' && w !== null && 'prefix' in w
        ? typeof got === 'string' && got.startsWith(w.prefix)
        : got === w));
    }
    return typeof got === 'object' && got !== null && matches(want, got);
  });
}

/**
 * A RotationFailed event as EventBridge delivers it (CloudTrail service event; the shape
 * Secrets Manager documents in "AWS CloudTrail entries for Secrets Manager", values made up).
 */
function rotationEvent(eventName: string, secretId: string): any {
  return {
    'version': '0',
    'detail-type': 'AWS Service Event via CloudTrail',
    'source': 'aws.secretsmanager',
    'account': '123456789012',
    'region': 'us-east-1',
    'detail': {
      eventVersion: '1.08',
      userIdentity: { accountId: '123456789012', invokedBy: 'secretsmanager.amazonaws.com' },
      eventSource: 'secretsmanager.amazonaws.com',
      eventName,
      errorMessage: 'Error when executing lambda arn:aws:lambda:us-east-1:123456789012:function:uk during testSecret step',
      requestParameters: null,
      responseElements: null,
      additionalEventData: { SecretId: secretId },
      eventType: 'AwsServiceEvent',
    },
  };
}

describe('UserKeeper.alarms', () => {
  it('adds nothing unless asked for', () => {
    const { s } = setup();
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    t.resourceCountIs('AWS::Events::Rule', 0);
  });

  it('alarms on RequestFailed and RotationStepFailed of this function: Sum >= 1 in 5 minutes, missing data not breaching', () => {
    const { s, k, topic } = setup();
    const alarms = k.alarms({ topic });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 2);
    for (const [alarm, metric] of [[alarms.requestFailed, 'RequestFailed'], [alarms.rotationStepFailed, 'RotationStepFailed']] as const) {
      const props = t.toJSON().Resources[logicalId(s, alarm)].Properties;
      assert.deepEqual(
        {
          Namespace: props.Namespace,
          MetricName: props.MetricName,
          Dimensions: props.Dimensions,
          Statistic: props.Statistic,
          Period: props.Period,
          Threshold: props.Threshold,
          ComparisonOperator: props.ComparisonOperator,
          EvaluationPeriods: props.EvaluationPeriods,
          TreatMissingData: props.TreatMissingData,
          AlarmActions: props.AlarmActions,
        },
        {
          Namespace: 'userkeeper',
          MetricName: metric,
          Dimensions: [{ Name: 'Function', Value: { Ref: logicalId(s, k.function) } }],
          Statistic: 'Sum',
          Period: 300,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
          AlarmActions: [{ Ref: logicalId(s, topic) }],
        },
      );
      assert.match(props.AlarmDescription, /Operating it/);
    }
    assert.equal(METRICS_NAMESPACE, 'userkeeper');
  });

  it('takes another period', () => {
    const { s, k, topic } = setup();
    k.alarms({ topic, period: Duration.minutes(1) });
    Template.fromStack(s).allResourcesProperties('AWS::CloudWatch::Alarm', { Period: 60 });
  });

  it('routes RotationFailed and RotationAbandoned (CloudTrail service events) to the topic', () => {
    const { s, k, topic } = setup();
    k.alarms({ topic });
    const props = rule(Template.fromStack(s));
    assert.deepEqual(props.EventPattern, {
      'source': ['aws.secretsmanager'],
      'detail-type': ['AWS Service Event via CloudTrail'],
      'detail': { eventSource: ['secretsmanager.amazonaws.com'], eventName: ['RotationFailed', 'RotationAbandoned'] },
    });
    assert.equal(props.State, 'ENABLED');
    assert.deepEqual(props.Targets, [{ Id: 'Topic', Arn: { Ref: logicalId(s, topic) } }]);
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:anything-AbCdEf';
    assert.ok(matches(props.EventPattern, rotationEvent('RotationFailed', arn)));
    assert.ok(matches(props.EventPattern, rotationEvent('RotationAbandoned', arn)));
    assert.ok(!matches(props.EventPattern, rotationEvent('RotationSucceeded', arn)));
    assert.ok(!matches(props.EventPattern, { ...rotationEvent('RotationFailed', arn), 'detail-type': 'AWS API Call via CloudTrail' }));
  });

  it('narrows the rule to the secrets this function rotates, also those rotated after alarms()', () => {
    const { s, k, topic } = setup();
    const other = new UserKeeper(s, 'Other', { codePath: CODE });
    const first = rotatedSecret(s, 'First');
    k.rotate(user(s, k, 'First', first));
    k.alarms({ topic });
    const second = rotatedSecret(s, 'Second');
    k.rotate(user(s, k, 'Second', second));
    // Another function's rotation is not ours.
    other.rotate(user(s, other, 'Theirs', rotatedSecret(s, 'Theirs')));
    // Imported by name: only a partial ARN is known.
    const imported = secretsmanager.Secret.fromSecretNameV2(s, 'Imported', 'team/app');
    k.rotate(user(s, k, 'Imported', imported));

    const props = rule(Template.fromStack(s));
    const ids = props.EventPattern.detail.additionalEventData.SecretId;
    assert.deepEqual(ids.slice(0, 2), [{ Ref: logicalId(s, first) }, { Ref: logicalId(s, second) }]);
    assert.equal(ids.length, 3);
    assert.deepEqual(Object.keys(ids[2]), ['prefix']);
    assert.match(JSON.stringify(ids[2]), /:secret:team\/app-/);

    // Resolved as CloudFormation would: ours match, anyone else's does not.
    const resolved = { ...props.EventPattern, detail: { ...props.EventPattern.detail, additionalEventData: {
      SecretId: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:First-AbCdEf',
        'arn:aws:secretsmanager:us-east-1:123456789012:secret:Second-AbCdEf',
        { prefix: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:team/app-' }],
    } } };
    assert.ok(matches(resolved, rotationEvent('RotationFailed', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:First-AbCdEf')));
    assert.ok(matches(resolved, rotationEvent('RotationFailed', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:team/app-xYz123')));
    assert.ok(!matches(resolved, rotationEvent('RotationFailed', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:Theirs-AbCdEf')));
  });

  it('matches every secret when it cannot name them all (a rotation under a condition)', () => {
    const { s, k, topic } = setup();
    k.rotate(user(s, k, 'Always', rotatedSecret(s, 'Always')));
    const sometimes = k.rotate(user(s, k, 'Sometimes', rotatedSecret(s, 'Sometimes')));
    const asked = new CfnParameter(s, 'RotateSometimes', { default: 'false' });
    const cond = new CfnCondition(s, 'Cond', { expression: Fn.conditionEquals(asked.valueAsString, 'true') });
    (sometimes.schedule as CfnResource).cfnOptions.condition = cond;
    k.alarms({ topic });
    const props = rule(Template.fromStack(s));
    assert.equal(props.EventPattern.detail.additionalEventData, undefined);
  });

  it('matches every secret when another stack rotates with this function', () => {
    const app = new App();
    const s = new Stack(app, 'Keeper');
    const k = new UserKeeper(s, 'UserKeeper', { codePath: CODE });
    k.alarms({ topic: new sns.Topic(s, 'Topic') });
    const s2 = new Stack(app, 'Users');
    k.rotate(user(s2, k, 'Far', rotatedSecret(s2, 'Far')));
    const props = rule(Template.fromStack(s));
    assert.equal(props.EventPattern.detail.additionalEventData, undefined);
  });

  it('lets CloudWatch (these alarms) and EventBridge (this rule) publish to the topic, nothing else', () => {
    const { s, k, topic } = setup();
    const alarms = k.alarms({ topic });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: logicalId(s, topic) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'UserKeeperAlarms',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: { Ref: logicalId(s, topic) },
            Condition: { ArnEquals: { 'aws:SourceArn': [
              { 'Fn::GetAtt': [logicalId(s, alarms.requestFailed), 'Arn'] },
              { 'Fn::GetAtt': [logicalId(s, alarms.rotationStepFailed), 'Arn'] },
            ] } },
          },
          {
            Sid: 'UserKeeperRotationEvents',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: { Ref: logicalId(s, topic) },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(s, alarms.rotationEvents), 'Arn'] } } },
          },
        ]),
      },
    });
    const statements = (Object.values(t.findResources('AWS::SNS::TopicPolicy'))[0] as any).Properties.PolicyDocument.Statement;
    assert.equal(statements.length, 2, 'no other statement');
  });

  it('once per function', () => {
    const { k, topic } = setup();
    k.alarms({ topic });
    assert.throws(() => k.alarms({ topic }), /There is already a Construct with name 'Alarms'/);
  });
});
