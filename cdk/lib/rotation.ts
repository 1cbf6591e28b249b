// Secrets Manager rotation of a userkeeper user's password: the secret's rotation schedule,
// the permission for Secrets Manager to invoke the function (once per function), and exactly
// what rotating that one secret and that one user needs, in the shared grants of its stack.
import { CustomResource, Duration, Stack, Token } from 'aws-cdk-lib';
import * as amazonmq from 'aws-cdk-lib/aws-amazonmq';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IConstruct } from 'constructs';
import type { UserKeeper } from './user-keeper';

/** What a rotation does with its secret (src/secrets.rs), on that secret's ARN only. */
export const ROTATION_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
];
/** A new password (createSecret). It has no resource type: granted on `*`, alone. */
export const ROTATION_RANDOM_PASSWORD_ACTIONS = ['secretsmanager:GetRandomPassword'];
/** For a secret under a customer-managed key: read, and write a new version (via Secrets Manager only). */
export const ROTATION_KMS_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'];

/** What the service grants of a rotation depend on. */
export interface RotationGrantOptions {
  /** The rotation may reboot an Amazon MQ broker (the secret's `"reboot": true`). */
  readonly reboot: boolean;
  /** The function that rotates (how it is granted a secret: `UserKeeper.secretStatement`). */
  readonly userKeeper: UserKeeper;
}

/**
 * A userkeeper user whose password can be rotated: `ElastiCacheUser`, `MemoryDbUser`,
 * `AmazonMqUser` and `AmazonMqRabbitMqUser` made with a `passwordSecret`.
 */
export interface IRotatableUser extends IConstruct {
  /** The custom resource: the schedule is created after it (the user must exist to be tested). */
  readonly resource: CustomResource;
  /** The secret the user's password is read from (`PasswordSecretArn`): the one rotated. */
  readonly passwordSecret?: secretsmanager.ISecret;
  /** What rotating this user's password needs from the service, on this user's own ARNs only. */
  rotationStatements(options: RotationGrantOptions): iam.PolicyStatement[];
}

export interface UserRotationOptions {
  /**
   * Time between rotations, 4 hours to 1000 days in whole hours; rendered as
   * `ScheduleExpression: rate(...)`. Exclusive with `scheduleExpression`.
   *
   * @default Duration.days(30)
   */
  readonly automaticallyAfter?: Duration;
  /**
   * `RotationRules.ScheduleExpression`, a `rate(...)` or `cron(...)` expression (at most every
   * 4 hours). Exclusive with `automaticallyAfter`.
   *
   * @default - from automaticallyAfter
   */
  readonly scheduleExpression?: string;
  /**
   * `RotationRules.Duration`: the window within which Secrets Manager starts the rotation,
   * 1 to 24 whole hours.
   *
   * @default - Secrets Manager's (the end of the day for a schedule in days)
   */
  readonly window?: Duration;
  /**
   * `RotateImmediatelyOnUpdate`. false: when the schedule is created or changed, Secrets
   * Manager only runs testSecret, on the current credentials, and rotates at the next
   * scheduled time. true rotates at once (an Amazon MQ rotation without `reboot` then stays
   * incomplete until the broker's next reboot).
   *
   * @default false
   */
  readonly rotateImmediatelyOnUpdate?: boolean;
  /**
   * Amazon MQ only: grant `mq:RebootBroker` on the user's broker, for a secret that says
   * `"reboot": true` (see `RotatedSecretString.amazonMq`). The secret decides; this grants.
   *
   * @default false
   */
  readonly reboot?: boolean;
}

export interface UserRotationProps extends UserRotationOptions {
  /** The function that rotates: its role gets the grants, Secrets Manager may invoke it. */
  readonly userKeeper: UserKeeper;
  /** The user whose password secret (`passwordSecret`) is rotated. */
  readonly user: IRotatableUser;
}

/**
 * Rotation of one user's password secret by userkeeper (usually made by `UserKeeper.rotate`):
 *
 * - an `AWS::SecretsManager::RotationSchedule` on the user's `passwordSecret`, with the
 *   function as its rotation Lambda;
 * - grants on the function's role (in the shared grants of its stack, `UserKeeperGrants`):
 *   the rotation's secret calls on that secret only (and `kms:Decrypt` / `kms:GenerateDataKey` via Secrets Manager on its key, if it has
 *   a customer-managed one), `secretsmanager:GetRandomPassword`, and the user's own rotation
 *   calls on its own ARN (see each user's `rotationStatements`);
 * - `UserKeeper.rotationPermission`: Secrets Manager of this account may invoke the function
 *   (one per function, shared by every rotation).
 *
 * The schedule depends on the grants, the permission and the user: Secrets Manager tests the current
 * credentials as soon as the schedule exists, and deleting the schedule comes first.
 *
 * The secret's value must be userkeeper's rotated-secret format (`RotatedSecretString`).
 */
export class UserRotation extends Construct {
  public readonly schedule: secretsmanager.CfnRotationSchedule;
  /** What the rotation is granted, in the shared grants of its stack (`UserKeeperGrants`). */
  public readonly grants: iam.PolicyStatement[];
  /** The rotated secret. */
  public readonly secret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: UserRotationProps) {
    // Checked before anything is added to the tree: a refused rotation leaves nothing behind.
    const secret = props.user.passwordSecret;
    if (!secret) {
      throw new Error(`${props.user.node.path}: has no passwordSecret, so there is no password to rotate`);
    }
    const role = props.userKeeper.function.role;
    if (!role) {
      throw new Error(`${props.userKeeper.node.path}: the userkeeper function has no role to grant rotation to`);
    }
    const rotationRules = renderRotationRules(props.user, props);
    const userStatements = props.user.rotationStatements({ reboot: props.reboot === true, userKeeper: props.userKeeper });
    super(scope, id);
    this.secret = secret;

    const statements = [
      props.userKeeper.rotatedSecretStatement(secret, ROTATION_SECRET_ACTIONS),
      new iam.PolicyStatement({ actions: ROTATION_RANDOM_PASSWORD_ACTIONS, resources: ['*'] }),
    ];
    if (secret.encryptionKey) {
      const stack = Stack.of(this);
      statements.push(
        new iam.PolicyStatement({
          actions: ROTATION_KMS_ACTIONS,
          resources: [secret.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.${stack.urlSuffix}` } },
        }),
      );
    }
    statements.push(...userStatements);
    this.grants = statements;

    this.schedule = new secretsmanager.CfnRotationSchedule(this, 'Schedule', {
      secretId: secret.secretArn,
      rotationLambdaArn: props.userKeeper.function.functionArn,
      rotateImmediatelyOnUpdate: props.rotateImmediatelyOnUpdate ?? false,
      rotationRules,
    });
    props.userKeeper.grant(this.schedule, statements);
    this.schedule.node.addDependency(props.userKeeper.rotationPermission, props.user.resource);
  }
}

function renderRotationRules(scope: Construct, props: UserRotationOptions): secretsmanager.CfnRotationSchedule.RotationRulesProperty {
  if (props.automaticallyAfter !== undefined && props.scheduleExpression !== undefined) {
    throw new Error(`${scope.node.path}: give automaticallyAfter or scheduleExpression, not both`);
  }
  let scheduleExpression = props.scheduleExpression;
  if (scheduleExpression === undefined) {
    const every = props.automaticallyAfter ?? Duration.days(30);
    const hours = every.toHours({ integral: false });
    if (!Number.isInteger(hours) || hours < 4 || hours > 24 * 1000) {
      throw new Error(`${scope.node.path}: automaticallyAfter must be 4 hours to 1000 days in whole hours (got ${every.toHumanString()})`);
    }
    scheduleExpression = hours % 24 === 0 ? rate(hours / 24, 'day') : rate(hours, 'hour');
  } else if (!Token.isUnresolved(scheduleExpression) && !/^(rate|cron)\(.+\)$/.test(scheduleExpression)) {
    throw new Error(`${scope.node.path}: scheduleExpression must be rate(...) or cron(...), got ${JSON.stringify(scheduleExpression)}`);
  }
  let duration: string | undefined;
  if (props.window !== undefined) {
    const hours = props.window.toHours({ integral: false });
    if (!Number.isInteger(hours) || hours < 1 || hours > 24) {
      throw new Error(`${scope.node.path}: window must be 1 to 24 whole hours (got ${props.window.toHumanString()})`);
    }
    duration = `${hours}h`;
  }
  return { scheduleExpression, duration };
}

function rate(n: number, unit: 'day' | 'hour'): string {
  return `rate(${n} ${unit}${n === 1 ? '' : 's'})`;
}

// ------------------------------------------------------------------------------------------
// The rotated secret's value

/** What every rotated secret may say about where testSecret logs in. */
export interface RotatedSecretLogin {
  /**
   * `host`: where testSecret logs in with the new password (Redis AUTH / STOMP). Without it,
   * testSecret checks the user through the service's API instead.
   *
   * @default - no login
   */
  readonly host?: string;
  /** `port`. @default - 6379 (ElastiCache, MemoryDB), 61614 (Amazon MQ, STOMP), 5671 (RabbitMQ, AMQP) */
  readonly port?: number;
  /** `tls`. @default true */
  readonly tls?: boolean;
  /**
   * `password_length`: the length of the passwords rotation generates, and of the first one.
   *
   * @default 32
   */
  readonly passwordLength?: number;
}

export interface ElastiCacheRotatedSecretProps extends RotatedSecretLogin {
  /** `user_id`: the ElastiCache user's UserId. */
  readonly userId: string;
  /** `username`: its UserName, the name clients log in with. */
  readonly userName: string;
}

export interface MemoryDbRotatedSecretProps extends RotatedSecretLogin {
  /** `username`: the MemoryDB user's UserName (its id and its login name). */
  readonly userName: string;
}

/** `strategy` of an Amazon MQ rotated secret. */
export enum MqRotationStrategy {
  /**
   * Two users, `username` and `username_clone`: each rotation gives the new password to the
   * one not in use (creating the clone the first time), so the current one never stops working.
   */
  ALTERNATING = 'alternating',
  /** The one user: clients holding the old password fail from the reboot that applies the change. */
  SINGLE = 'single',
}

export interface AmazonMqRotatedSecretProps extends RotatedSecretLogin {
  /** The ActiveMQ broker (`broker_id`): as `AmazonMqUserProps.broker`. */
  readonly broker: amazonmq.IBrokerRef | amazonmq.BrokerReference;
  /** `username`. */
  readonly username: string;
  /** `strategy`. @default MqRotationStrategy.ALTERNATING */
  readonly strategy?: MqRotationStrategy;
  /**
   * `reboot`: setSecret reboots the broker (once per rotation) to apply the new password;
   * rotate with `reboot: true` too, which grants it. Without it a rotation completes only
   * after the broker's next reboot or maintenance window.
   *
   * @default false
   */
  readonly reboot?: boolean;
}

/** `strategy` of an Amazon MQ for RabbitMQ rotated secret. */
export enum RabbitMqRotationStrategy {
  /**
   * Two users, `username` and `username_clone`: each rotation gives the new password to the
   * one not in use (creating the clone the first time, with the user's tags and permissions),
   * so the current one never stops working.
   */
  ALTERNATING = 'alternating',
  /**
   * The one user gets the new password at once: open connections stay, new logins with the
   * old password fail from then on.
   */
  SINGLE = 'single',
}

export interface RabbitMqRotatedSecretProps extends RotatedSecretLogin {
  /**
   * The RabbitMQ broker (`broker_id`): as `AmazonMqRabbitMqUserProps.broker`. Without `host`,
   * testSecret logs in over AMQP at the broker's first `amqps://` endpoint, and where none
   * answers, checks the password through the management API (and says which it did).
   */
  readonly broker: amazonmq.IBrokerRef | amazonmq.BrokerReference;
  /** `username`. */
  readonly username: string;
  /** `admin_secret_arn`: the broker administrator's secret, as `AmazonMqRabbitMqUserProps.adminSecret`. */
  readonly adminSecret: secretsmanager.ISecret;
  /** `strategy`. @default RabbitMqRotationStrategy.ALTERNATING */
  readonly strategy?: RabbitMqRotationStrategy;
}

/** The password rules of the services, as `ExcludeCharacters` (the rotators use the same). */
export const REDIS_FAMILY_EXCLUDED_CHARACTERS = ',"/@\'\\ ';
export const MQ_EXCLUDED_CHARACTERS = ',:=';

/**
 * `GenerateSecretString` settings for a secret in userkeeper's rotated-secret format: a JSON
 * template naming the engine and the user, a generated `password` key, and the characters the
 * service refuses excluded. The same secret is the user's `passwordSecret`.
 *
 * ```ts
 * const secret = new secretsmanager.Secret(this, 'AppSecret', {
 *   generateSecretString: RotatedSecretString.elastiCache({ userId: 'app-user', userName: 'app' }),
 * });
 * ```
 */
export class RotatedSecretString {
  public static elastiCache(props: ElastiCacheRotatedSecretProps): secretsmanager.SecretStringGenerator {
    return generator({ engine: 'elasticache', user_id: props.userId, username: props.userName }, props, REDIS_FAMILY_EXCLUDED_CHARACTERS, 16);
  }

  public static memoryDb(props: MemoryDbRotatedSecretProps): secretsmanager.SecretStringGenerator {
    return generator({ engine: 'memorydb', username: props.userName }, props, REDIS_FAMILY_EXCLUDED_CHARACTERS, 16);
  }

  public static amazonMq(props: AmazonMqRotatedSecretProps): secretsmanager.SecretStringGenerator {
    const broker = 'brokerRef' in props.broker ? props.broker.brokerRef : props.broker;
    return generator(
      {
        engine: 'mq',
        broker_id: broker.brokerId,
        username: props.username,
        strategy: props.strategy ?? MqRotationStrategy.ALTERNATING,
        reboot: props.reboot ?? false,
      },
      props,
      MQ_EXCLUDED_CHARACTERS,
      12,
    );
  }

  /** Amazon MQ's password rule holds on its RabbitMQ brokers too (12+ characters, none of `, : =`). */
  public static rabbitMq(props: RabbitMqRotatedSecretProps): secretsmanager.SecretStringGenerator {
    const broker = 'brokerRef' in props.broker ? props.broker.brokerRef : props.broker;
    return generator(
      {
        engine: 'rabbitmq',
        broker_id: broker.brokerId,
        username: props.username,
        admin_secret_arn: props.adminSecret.secretArn,
        strategy: props.strategy ?? RabbitMqRotationStrategy.ALTERNATING,
      },
      props,
      MQ_EXCLUDED_CHARACTERS,
      12,
    );
  }
}

function generator(
  keys: Record<string, unknown>,
  login: RotatedSecretLogin,
  excludeCharacters: string,
  minLength: number,
): secretsmanager.SecretStringGenerator {
  const length = login.passwordLength ?? 32;
  if (!Number.isInteger(length) || length < minLength || length > 128) {
    throw new Error(`passwordLength must be ${minLength} to 128 for ${keys.engine} (got ${length})`);
  }
  const template: Record<string, unknown> = { ...keys, host: login.host, port: login.port, tls: login.tls };
  if (login.passwordLength !== undefined) {
    template.password_length = length;
  }
  return {
    // Token values (a broker id, an endpoint address) stay tokens inside the JSON string.
    secretStringTemplate: JSON.stringify(template),
    generateStringKey: 'password',
    excludeCharacters,
    passwordLength: length,
  };
}
