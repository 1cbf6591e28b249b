import { CustomResource, Token } from 'aws-cdk-lib';
import * as amazonmq from 'aws-cdk-lib/aws-amazonmq';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DEFAULT_SERVICE_TIMEOUT, flagProperty, serviceTokenOf, UserKeeperTarget } from './common';
import { MQ_CLONE_SUFFIX } from './mq';
import type { IRotatableUser, RotationGrantOptions } from './rotation';

/** What one RabbitMQ user may do on one virtual host: three regular expressions over resource names. */
export interface RabbitMqPermission {
  /** `VirtualHost`: 1-255 characters, no control characters; it must exist on the broker. */
  readonly virtualHost: string;
  /** `Configure`: the resources the user may declare or delete. @default "" (none) */
  readonly configure?: string;
  /** `Write`: the resources the user may publish to. @default "" (none) */
  readonly write?: string;
  /** `Read`: the resources the user may consume from. @default "" (none) */
  readonly read?: string;
}

export interface AmazonMqRabbitMqUserProps extends UserKeeperTarget {
  /**
   * The RabbitMQ broker: a `CfnBroker` (or anything with `brokerRef`), or its id and ARN, e.g.
   * `AmazonMqUser.brokerFromArn(arn)` for one defined elsewhere. The grants name exactly its
   * ARN. (An ActiveMQ broker is refused: its users are `AmazonMqUser`.)
   */
  readonly broker: amazonmq.IBrokerRef | amazonmq.BrokerReference;
  /**
   * `Username`: 2-94 characters of A-Z a-z 0-9 - . _ ~, not ending in `_clone` (alternating
   * rotation's second user is `<username>_clone`). Changing it replaces the user.
   */
  readonly username: string;
  /**
   * `PasswordSecretArn`: the password is this secret's `password` JSON key (AWSCURRENT): 12-128
   * characters, 4 distinct, none of `, : =`. The only way to give a password: a template is
   * stored and shown in plain text.
   */
  readonly passwordSecret: secretsmanager.ISecret;
  /**
   * `AdminSecretArn`: a secret whose JSON has the `username` and `password` of a broker
   * administrator (RabbitMQ tag `administrator`), with which userkeeper calls the broker's
   * management API. The function is granted reading it.
   */
  readonly adminSecret: secretsmanager.ISecret;
  /**
   * `Tags`: RabbitMQ user tags (not AWS tags), e.g. `management`, `monitoring`: at most 20,
   * each 1-64 characters of A-Z a-z 0-9 _ - . and none starting with `userkeeper` (userkeeper
   * records its ownership there).
   *
   * @default - none
   */
  readonly tags?: string[];
  /**
   * `Permissions`: at most 100, one per virtual host. A virtual host not listed gets no
   * permission (an update removes it).
   *
   * @default - none
   */
  readonly permissions?: RabbitMqPermission[];
}

/**
 * On the broker's ARN, all that AWS is asked: `DescribeBroker` for the management endpoint
 * (`ConsoleURL`) and, in rotation, the AMQP endpoints. Users, tags and permissions live in the
 * broker and are changed through the RabbitMQ management API, as the broker's administrator.
 */
export const RABBITMQ_BROKER_ACTIONS = ['mq:DescribeBroker'];
/** The user tag prefix userkeeper reserves for its ownership and binding tags (src/services/rabbitmq). */
export const RABBITMQ_RESERVED_TAG_PREFIX = 'userkeeper';

const RABBITMQ_USERNAME = /^[A-Za-z0-9._~-]{2,94}$/;
const RABBITMQ_TAG = /^[A-Za-z0-9_.-]{1,64}$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * `Custom::AmazonMQRabbitMQUser`: a user of an Amazon MQ for RabbitMQ broker, with its tags and
 * its permissions per virtual host (AWS's API has no RabbitMQ users: CloudFormation creates
 * the one administrator of a broker, nothing more).
 *
 * With `userKeeper`, grants its function (in the shared grants of its stack) `mq:DescribeBroker`
 * on this broker's ARN only (no MQ user action: there is none for RabbitMQ), and
 * `secretsmanager:GetSecretValue` on `passwordSecret` and `adminSecret`.
 * `userKeeper.rotate(user)` rotates `passwordSecret` (see `RotatedSecretString.rabbitMq`).
 */
export class AmazonMqRabbitMqUser extends Construct implements IRotatableUser {
  public static readonly RESOURCE_TYPE = 'Custom::AmazonMQRabbitMQUser';

  /** `Ref`: `<broker id>/<username>` (not named `ref`, a C# keyword, for jsii's languages). */
  public readonly userRef: string;
  /** `Fn::GetAtt Username`. */
  public readonly attrUsername: string;
  /**
   * `Fn::GetAtt LiveUsername`: the user the secret's AWSCURRENT names when CloudFormation last
   * sent a request (`username` or `username_clone` under alternating rotation).
   */
  public readonly attrLiveUsername: string;
  /** `Fn::GetAtt ConsoleUrl`: the broker's management endpoint userkeeper used. */
  public readonly attrConsoleUrl: string;
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
  /** The broker administrator's secret. */
  public readonly adminSecret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: AmazonMqRabbitMqUserProps) {
    super(scope, id);
    const serviceToken = serviceTokenOf(this, props);
    const broker = 'brokerRef' in props.broker ? props.broker.brokerRef : props.broker;
    this.checkUsername(props.username);
    const tags = props.tags;
    if (tags !== undefined && !Token.isUnresolved(tags)) {
      this.checkTags(tags);
    }
    const permissions = props.permissions;
    if (permissions !== undefined && !Token.isUnresolved(permissions)) {
      this.checkPermissions(permissions);
    }

    this.brokerArn = broker.brokerArn;
    this.passwordSecret = props.passwordSecret;
    this.adminSecret = props.adminSecret;
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken,
      serviceTimeout: props.serviceTimeout ?? DEFAULT_SERVICE_TIMEOUT,
      resourceType: AmazonMqRabbitMqUser.RESOURCE_TYPE,
      properties: {
        BrokerId: broker.brokerId,
        Username: props.username,
        PasswordSecretArn: props.passwordSecret.secretArn,
        AdminSecretArn: props.adminSecret.secretArn,
        Tags: tags,
        Permissions: permissions?.map((p) => ({
          VirtualHost: p.virtualHost,
          Configure: p.configure ?? '',
          Write: p.write ?? '',
          Read: p.read ?? '',
        })),
        Adopt: flagProperty(props.adopt),
      },
    });

    const keeper = props.userKeeper;
    if (keeper) {
      this.grants = [
        new iam.PolicyStatement({ actions: RABBITMQ_BROKER_ACTIONS, resources: [this.brokerArn] }),
        ...keeper.readPasswordStatements(this, props.passwordSecret),
        ...keeper.readPasswordStatements(this, props.adminSecret),
      ];
      keeper.grant(this.resource, this.grants);
    }

    this.userRef = this.resource.ref;
    this.attrUsername = this.resource.getAttString('Username');
    this.attrLiveUsername = this.resource.getAttString('LiveUsername');
    this.attrConsoleUrl = this.resource.getAttString('ConsoleUrl');
  }

  /**
   * Rotation needs, on this broker's ARN only, `mq:DescribeBroker` (the management endpoint,
   * and the AMQP endpoint testSecret logs in to), and reading the administrator's secret. A
   * RabbitMQ rotation never reboots: `reboot` is refused.
   */
  public rotationStatements(options: RotationGrantOptions): iam.PolicyStatement[] {
    if (options.reboot) {
      throw new Error(`${this.node.path}: a RabbitMQ broker applies a new password at once: rotate it without reboot`);
    }
    return [
      new iam.PolicyStatement({ actions: RABBITMQ_BROKER_ACTIONS, resources: [this.brokerArn] }),
      ...options.userKeeper.readPasswordStatements(this, this.adminSecret),
    ];
  }

  private checkUsername(username: string): void {
    if (Token.isUnresolved(username)) {
      return;
    }
    if (!RABBITMQ_USERNAME.test(username)) {
      throw new Error(
        `${this.node.path}: username ${JSON.stringify(username)} must be 2 to 94 characters of A-Z a-z 0-9 - . _ ~ ` +
          `(RabbitMQ on Amazon MQ takes 100; alternating rotation adds ${MQ_CLONE_SUFFIX})`,
      );
    }
    if (username.endsWith(MQ_CLONE_SUFFIX)) {
      throw new Error(`${this.node.path}: username ${JSON.stringify(username)} must not end in ${MQ_CLONE_SUFFIX}: that is its rotation partner's name`);
    }
  }

  private checkTags(tags: string[]): void {
    if (tags.length > 20) {
      throw new Error(`${this.node.path}: at most 20 tags (got ${tags.length})`);
    }
    for (const tag of tags) {
      if (Token.isUnresolved(tag)) continue;
      if (!RABBITMQ_TAG.test(tag)) {
        throw new Error(`${this.node.path}: tag ${JSON.stringify(tag)} must be 1 to 64 characters of A-Z a-z 0-9 _ - .`);
      }
      if (tag.startsWith(RABBITMQ_RESERVED_TAG_PREFIX)) {
        throw new Error(`${this.node.path}: tag ${JSON.stringify(tag)}: tags starting with ${RABBITMQ_RESERVED_TAG_PREFIX} are userkeeper's own`);
      }
    }
  }

  private checkPermissions(permissions: RabbitMqPermission[]): void {
    if (permissions.length > 100) {
      throw new Error(`${this.node.path}: at most 100 permissions (got ${permissions.length})`);
    }
    const seen = new Set<string>();
    for (const p of permissions) {
      const vh = p.virtualHost;
      if (Token.isUnresolved(vh)) continue;
      if (vh.length < 1 || vh.length > 255 || CONTROL.test(vh)) {
        throw new Error(`${this.node.path}: virtualHost ${JSON.stringify(vh)} must be 1 to 255 characters, no control characters`);
      }
      if (seen.has(vh)) {
        throw new Error(`${this.node.path}: virtual host ${JSON.stringify(vh)} has two permissions: give one per virtual host`);
      }
      seen.add(vh);
    }
  }
}
