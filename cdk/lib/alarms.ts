// Knowing when something fails: CloudWatch alarms on the function's own metrics (EMF lines,
// namespace `userkeeper`, README "Operating it") and an EventBridge rule for Secrets Manager's
// own word on a rotation (RotationFailed, RotationAbandoned), all sent to one SNS topic.
import { CfnResource, Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';
import { UserRotation } from './rotation';
import type { UserKeeper } from './user-keeper';

/** The CloudWatch namespace of userkeeper's metrics (the EMF lines on the function's stdout). */
export const METRICS_NAMESPACE = 'userkeeper';

/**
 * Secrets Manager's rotation events as EventBridge sees them: CloudTrail records them as
 * service events (`eventType: AwsServiceEvent`), which it sends to the default bus (best
 * effort) with this detail-type; the secret's ARN is `detail.additionalEventData.SecretId`, and
 * `errorMessage` names the step that failed (EventBridge User Guide, "AWS service events
 * delivered via AWS CloudTrail"; Secrets Manager User Guide, "AWS CloudTrail entries for
 * Secrets Manager").
 */
export const ROTATION_EVENT_SOURCE = 'aws.secretsmanager';
export const ROTATION_EVENT_DETAIL_TYPE = 'AWS Service Event via CloudTrail';
export const ROTATION_EVENT_NAMES = ['RotationFailed', 'RotationAbandoned'];

export interface UserKeeperAlarmsOptions {
  /**
   * Where every alarm and rotation event goes. A topic of this app gets the statements
   * CloudWatch and EventBridge need in its policy; an imported topic must already allow
   * `sns:Publish` to `cloudwatch.amazonaws.com` and `events.amazonaws.com` (and, if it is
   * encrypted with a customer-managed key, both services must be allowed to use the key).
   */
  readonly topic: sns.ITopic;
  /**
   * The alarms' period: one failure within it is enough.
   *
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

export interface UserKeeperAlarmsProps extends UserKeeperAlarmsOptions {
  readonly userKeeper: UserKeeper;
}

/**
 * The alarms of one userkeeper function (usually made by `UserKeeper.alarms`):
 *
 * - `requestFailed`: `RequestFailed` (Sum, Function=<the function's name>) >= 1 in a period:
 *   a CloudFormation custom-resource request was answered FAILED;
 * - `rotationStepFailed`: `RotationStepFailed` >= 1 in a period: a rotation step failed
 *   (Secrets Manager keeps the old password; the next attempt retries);
 * - `rotationEvents`: Secrets Manager's `RotationFailed` and `RotationAbandoned` events for the
 *   secrets this function rotates (see `rotationEventPattern`).
 *
 * Missing data is not breaching: a quiet function is a healthy one.
 */
export class UserKeeperAlarms extends Construct {
  public readonly requestFailed: cloudwatch.Alarm;
  public readonly rotationStepFailed: cloudwatch.Alarm;
  public readonly rotationEvents: events.CfnRule;
  private readonly userKeeper: UserKeeper;

  constructor(scope: Construct, id: string, props: UserKeeperAlarmsProps) {
    super(scope, id);
    this.userKeeper = props.userKeeper;
    const functionName = props.userKeeper.function.functionName;
    const period = props.period ?? Duration.minutes(5);
    const action = new cloudwatchActions.SnsAction(props.topic);
    const alarm = (name: string, metricName: string, description: string) => {
      const a = new cloudwatch.Alarm(this, name, {
        alarmDescription: description,
        metric: new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName,
          dimensionsMap: { Function: functionName },
          statistic: cloudwatch.Stats.SUM,
          period,
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(action);
      return a;
    };
    this.requestFailed = alarm(
      'RequestFailed',
      'RequestFailed',
      'userkeeper answered a CloudFormation request FAILED: see the stack events (Reason) and the ' +
        'function log line with "level":"ERROR" and its ErrorCode (README, Operating it).',
    );
    this.rotationStepFailed = alarm(
      'RotationStepFailed',
      'RotationStepFailed',
      'A rotation step failed; Secrets Manager keeps the old password and retries at the next rotation. ' +
        'The function log line with "level":"ERROR" names the step, the error code and what to do (README, Operating it).',
    );

    this.rotationEvents = new events.CfnRule(this, 'RotationEvents', {
      description: 'Secrets Manager RotationFailed and RotationAbandoned events of the secrets userkeeper rotates',
      state: 'ENABLED',
      eventPattern: Lazy.any({ produce: () => this.rotationEventPattern() }),
      targets: [{ id: 'Topic', arn: props.topic.topicArn }],
    });

    // Service principals, each only on behalf of what this construct made (confused deputy).
    props.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'UserKeeperAlarms',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [props.topic.topicArn],
        conditions: {
          ArnEquals: { 'aws:SourceArn': [this.requestFailed.alarmArn, this.rotationStepFailed.alarmArn] },
        },
      }),
    );
    props.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'UserKeeperRotationEvents',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [props.topic.topicArn],
        conditions: { ArnEquals: { 'aws:SourceArn': this.rotationEvents.attrArn } },
      }),
    );
  }

  /**
   * The rule's event pattern, decided at synthesis (rotations may be added after `alarms`).
   * It names the secrets this function rotates when it can name them all: every
   * `UserKeeper.rotate` of this function in the app, each in this stack and unconditional.
   * Otherwise (none, another stack's, one under a CloudFormation condition) it matches the
   * rotation events of every secret of the account and region: never fewer than ours.
   */
  public rotationEventPattern(): { [key: string]: any } {
    const detail: { [key: string]: any } = {
      eventSource: ['secretsmanager.amazonaws.com'],
      eventName: ROTATION_EVENT_NAMES,
    };
    const secrets = this.rotatedSecretArns();
    if (secrets !== undefined) {
      detail.additionalEventData = { SecretId: secrets };
    }
    return { 'source': [ROTATION_EVENT_SOURCE], 'detail-type': [ROTATION_EVENT_DETAIL_TYPE], detail };
  }

  private rotatedSecretArns(): unknown[] | undefined {
    const stack = Stack.of(this);
    const rotations = this.node.root.node
      .findAll()
      .filter((c): c is UserRotation => c instanceof UserRotation)
      .filter((r) => r.schedule.rotationLambdaArn === this.userKeeper.function.functionArn);
    if (rotations.length === 0) {
      return undefined;
    }
    const out: unknown[] = [];
    for (const r of rotations) {
      const secretResource = r.secret.node.defaultChild;
      if (Stack.of(r) !== stack || Stack.of(r.secret) !== stack || conditional(r.schedule) ||
          (secretResource !== undefined && conditional(secretResource))) {
        return undefined;
      }
      // A secret imported by name has a partial ARN: its full one ends in -<six characters>.
      out.push(r.secret.secretFullArn ?? { prefix: `${r.secret.secretArn}-` });
    }
    return out;
  }
}

function conditional(c: IConstruct): boolean {
  return CfnResource.isCfnResource(c) && c.cfnOptions.condition !== undefined;
}
