import { CustomResource, Fn, Token } from 'aws-cdk-lib';
import * as amazonmq from 'aws-cdk-lib/aws-amazonmq';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DEFAULT_SERVICE_TIMEOUT, serviceTokenOf, UserKeeperTarget } from './common';
import type { IRotatableUser, RotationGrantOptions } from './rotation';

export interface AmazonMqUserProps extends UserKeeperTarget {
  /**
   * The ActiveMQ broker: a `CfnBroker` (or anything with `brokerRef`), or its id and ARN, e.g.
   * `AmazonMqUser.brokerFromArn(arn)` for one defined elsewhere. The grants name exactly its
   * ARN. (A RabbitMQ broker's users are `AmazonMqRabbitMqUser`: this one refuses them.)
   */
  readonly broker: amazonmq.IBrokerRef | amazonmq.BrokerReference;
  /** `Username`: 2-100 characters of A-Z a-z 0-9 - . _ ~. Changing it replaces the user. */
  readonly username: string;
  /**
   * `PasswordSecretArn`: the password is this secret's `password` JSON key (AWSCURRENT): at
   * least 12 characters, 4 distinct, none of `, : =`. The only way to give a password: a
   * template is stored and shown in plain text.
   */
  readonly passwordSecret: secretsmanager.ISecret;
  /** `ConsoleAccess`: may log in to the ActiveMQ web console. @default - not set (false) */
  readonly consoleAccess?: boolean;
  /** `Groups`: at most 20, each 2-100 characters as username. @default - none */
  readonly groups?: string[];
  /** `ReplicationUser`: the cross-region data replication user. @default - not set (false) */
  readonly replicationUser?: boolean;
  /**
   * `ApplyImmediately`: ActiveMQ applies user changes at the broker's next reboot or
   * maintenance window; true reboots the broker (once per request) and waits for the change
   * to be live. Only then is `mq:RebootBroker` granted.
   *
   * @default - not set (false): the change stays pending, `attrPendingChange` says which
   */
  readonly applyImmediately?: boolean;
}

export const MQ_USER_ACTIONS = [
  'mq:DescribeBroker',
  'mq:CreateUser',
  'mq:DescribeUser',
  'mq:UpdateUser',
  'mq:DeleteUser',
  'mq:ListTags',
];
/** Only with `applyImmediately`. */
export const MQ_REBOOT_ACTIONS = ['mq:RebootBroker'];
/**
 * Only for the one broker tag per user where userkeeper records what it manages (MQ users
 * carry no tags): `userkeeper:user:<username>` (src/services/mq/record.rs).
 */
export const MQ_RECORD_TAG_ACTIONS = ['mq:CreateTags'];
export const MQ_OWNER_TAG_PREFIX = 'userkeeper:user:';
/**
 * Removing a record with its user, and the tags older versions wrote beside it (the binding
 * `userkeeper:secret:<username>`, rotation progress `userkeeper:rotation:<username>`).
 */
export const MQ_RECORD_CLEANUP_ACTIONS = ['mq:DeleteTags'];
export const MQ_BINDING_TAG_PREFIX = 'userkeeper:secret:';
export const MQ_ROTATION_TAG_PREFIX = 'userkeeper:rotation:';

/**
 * Rotation (`UserKeeper.rotate`), on the broker's ARN: the broker's state, the users' pending
 * changes, creating the alternate `<username>_clone` (with the user's groups and console
 * access) or updating a password, and reading the rotation's progress tag.
 */
export const MQ_ROTATION_ACTIONS = ['mq:DescribeBroker', 'mq:DescribeUser', 'mq:CreateUser', 'mq:UpdateUser', 'mq:ListTags'];
/** The tag on the rotated secret itself where MQ rotation records its progress. */
export const MQ_ROTATION_SECRET_TAG = 'userkeeper:rotation';
/** Only for MQ_ROTATION_SECRET_TAG, on the rotated secret. */
export const MQ_ROTATION_SECRET_TAG_ACTIONS = ['secretsmanager:TagResource'];
/** The suffix of the second user of an alternating rotation (src/services/mq/rotator.rs). */
export const MQ_CLONE_SUFFIX = '_clone';

const MQ_NAME = /^[A-Za-z0-9._~-]{2,100}$/;

function checkMqName(scope: Construct, property: string, value: string): void {
  if (!Token.isUnresolved(value) && !MQ_NAME.test(value)) {
    throw new Error(`${scope.node.path}: ${property} ${JSON.stringify(value)} must be 2 to 100 characters of A-Z a-z 0-9 - . _ ~`);
  }
}

function flag(value: boolean | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

/**
 * `Custom::AmazonMQUser`: a user of an ActiveMQ broker (CloudFormation has it only inside
 * `AWS::AmazonMQ::Broker`).
 *
 * With `userKeeper`, grants its function (in the shared grants of its stack), on this
 * broker's ARN only: the user actions, `mq:CreateTags` for userkeeper's record tags only
 * (`userkeeper:user:*`) and `mq:DeleteTags` for those and the older binding and rotation tags
 * (one condition for every user of the stack, so the grants do not grow per user),
 * `mq:RebootBroker` only with `applyImmediately`, and `secretsmanager:GetSecretValue` on
 * `passwordSecret`. `userKeeper.rotate(user)` rotates
 * `passwordSecret`.
 */
export class AmazonMqUser extends Construct implements IRotatableUser {
  public static readonly RESOURCE_TYPE = 'Custom::AmazonMQUser';

  /**
   * A broker defined elsewhere, by its ARN (`arn:...:mq:REGION:ACCOUNT:broker:NAME:ID`): the
   * id is the ARN's last part (a token ARN, a parameter say, is split by CloudFormation).
   */
  public static brokerFromArn(brokerArn: string): amazonmq.BrokerReference {
    if (Token.isUnresolved(brokerArn)) {
      return { brokerArn, brokerId: Fn.select(7, Fn.split(':', brokerArn)) };
    }
    const parts = brokerArn.split(':');
    if (parts.length !== 8 || parts[2] !== 'mq' || parts[5] !== 'broker') {
      throw new Error(`not a broker ARN (arn:<partition>:mq:<region>:<account>:broker:<name>:<id>): ${brokerArn}`);
    }
    return { brokerArn, brokerId: parts[7] };
  }

  /** `Ref`: `<broker id>/<username>` (not named `ref`, a C# keyword, for jsii's languages). */
  public readonly userRef: string;
  /** `Fn::GetAtt BrokerId`. */
  public readonly attrBrokerId: string;
  /** `Fn::GetAtt Username`. */
  public readonly attrUsername: string;
  /**
   * `Fn::GetAtt PendingChange`: `CREATE`, `UPDATE` or `DELETE` while the change waits for the
   * broker's next reboot, empty once it is live.
   */
  public readonly attrPendingChange: string;
  public readonly brokerArn: string;
  public readonly resource: CustomResource;
  /**
   * What this resource is granted (with `userKeeper` only), in the shared grants of its stack
   * (`UserKeeperGrants`).
   */
  public readonly grants?: iam.PolicyStatement[];
  /**
   * The secret the password is read from (and that `UserKeeper.rotate` rotates). Always set;
   * optional only as `IRotatableUser` has it (jsii keeps an implemented property's optionality).
   */
  public readonly passwordSecret?: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: AmazonMqUserProps) {
    super(scope, id);
    const serviceToken = serviceTokenOf(this, props);
    const broker = 'brokerRef' in props.broker ? props.broker.brokerRef : props.broker;
    checkMqName(this, 'username', props.username);
    const groups = props.groups;
    if (groups !== undefined && !Token.isUnresolved(groups)) {
      if (groups.length > 20) {
        throw new Error(`${this.node.path}: at most 20 groups (got ${groups.length})`);
      }
      groups.forEach((g) => checkMqName(this, 'groups', g));
    }

    this.brokerArn = broker.brokerArn;
    this.passwordSecret = props.passwordSecret;
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken,
      serviceTimeout: props.serviceTimeout ?? DEFAULT_SERVICE_TIMEOUT,
      resourceType: AmazonMqUser.RESOURCE_TYPE,
      properties: {
        BrokerId: broker.brokerId,
        Username: props.username,
        PasswordSecretArn: props.passwordSecret.secretArn,
        ConsoleAccess: flag(props.consoleAccess),
        Groups: groups,
        ReplicationUser: flag(props.replicationUser),
        ApplyImmediately: flag(props.applyImmediately),
        Adopt: flag(props.adopt),
      },
    });

    const keeper = props.userKeeper;
    if (keeper) {
      // Userkeeper's record keys, not this user's alone: the same condition for every user
      // keeps the shared grants one statement long.
      const keys = (prefixes: string[]) => ({ 'ForAllValues:StringLike': { 'aws:TagKeys': prefixes.map((p) => `${p}*`) } });
      const mayReboot = props.applyImmediately === true;
      this.grants = [
        new iam.PolicyStatement({
          actions: [...MQ_USER_ACTIONS, ...(mayReboot ? MQ_REBOOT_ACTIONS : [])],
          resources: [this.brokerArn],
        }),
        new iam.PolicyStatement({ actions: MQ_RECORD_TAG_ACTIONS, resources: [this.brokerArn], conditions: keys([MQ_OWNER_TAG_PREFIX]) }),
        new iam.PolicyStatement({
          actions: MQ_RECORD_CLEANUP_ACTIONS,
          resources: [this.brokerArn],
          conditions: keys([MQ_OWNER_TAG_PREFIX, MQ_BINDING_TAG_PREFIX, MQ_ROTATION_TAG_PREFIX]),
        }),
        ...keeper.readPasswordStatements(this, props.passwordSecret),
      ];
      keeper.grant(this.resource, this.grants);
    }

    this.userRef = this.resource.ref;
    this.attrBrokerId = this.resource.getAttString('BrokerId');
    this.attrUsername = this.resource.getAttString('Username');
    this.attrPendingChange = this.resource.getAttString('PendingChange');
  }

  /**
   * Rotation needs, on this broker's ARN only: the rotation actions and `mq:RebootBroker` only
   * with `reboot`; and on the rotated secret, `secretsmanager:TagResource` for its
   * `userkeeper:rotation` tag only (where rotation records its progress).
   */
  public rotationStatements(options: RotationGrantOptions): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: [...MQ_ROTATION_ACTIONS, ...(options.reboot ? MQ_REBOOT_ACTIONS : [])],
        resources: [this.brokerArn],
      }),
      options.userKeeper.rotatedSecretStatement(this.passwordSecret!, MQ_ROTATION_SECRET_TAG_ACTIONS, {
        'ForAllValues:StringEquals': { 'aws:TagKeys': [MQ_ROTATION_SECRET_TAG] },
      }),
    ];
  }
}
