import * as fs from 'fs';
import * as path from 'path';
import { ArnFormat, CfnResource, CustomResource, Duration, Stack, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { UserKeeperAlarms, UserKeeperAlarmsOptions } from './alarms';
import { PASSWORD_SECRET_TAG, ROTATION_FUNCTION_KEY, secretArnPattern } from './common';
import { MANAGED_POLICIES_PER_ROLE, quotaFindings, UserKeeperGrants } from './grants';
import { suppressAwsRequiredWildcards } from './nag';
import { IRotatableUser, UserRotation, UserRotationOptions } from './rotation';

/**
 * Where the npm package carries its prebuilt arm64 `bootstrap` (put there by scripts/release,
 * from this repository's sources).
 */
export const BUNDLED_CODE_PATH = path.resolve(__dirname, '..', 'assets', 'arm64');

/**
 * Where `cargo lambda build --release --arm64` puts `bootstrap` in this repository (resolved
 * from this file, so it does not depend on the current directory).
 */
export const REPOSITORY_CODE_PATH = path.resolve(__dirname, '..', '..', 'target', 'lambda', 'userkeeper');

/**
 * The default `codePath`: the package's prebuilt bootstrap, or in a checkout of the repository
 * (which has none until scripts/release runs), the one cargo lambda builds.
 */
export const DEFAULT_CODE_PATH = fs.existsSync(path.join(BUNDLED_CODE_PATH, 'bootstrap')) ? BUNDLED_CODE_PATH : REPOSITORY_CODE_PATH;

export interface UserKeeperProps {
  /**
   * A directory holding a `bootstrap` you built (provided.al2023, for `architecture`), e.g.
   * `target/lambda/userkeeper` after `cargo lambda build --release --arm64`. A relative path is
   * resolved against the current directory. Exclusive with `code`.
   *
   * @default - the arm64 bootstrap inside this package
   */
  readonly codePath?: string;
  /**
   * The function's code, any `lambda.Code` (an S3 object, a zip from the release). Exclusive
   * with `codePath`.
   *
   * @default - the arm64 bootstrap inside this package
   */
  readonly code?: lambda.Code;
  /**
   * The instruction set of the bootstrap. The package carries an arm64 one only: x86_64 needs
   * `code` or `codePath` (e.g. `cargo lambda build --release`, or the release's x86_64 zip).
   *
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * The function's timeout. A margin before it, userkeeper hands a wait that is not over yet
   * to a new invocation of itself (or answers FAILED when the resource's ServiceTimeout is
   * near).
   *
   * @default Duration.seconds(900)
   */
  readonly timeout?: Duration;
  /** @default 128 */
  readonly memorySize?: number;
  /** @default logs.RetentionDays.ONE_MONTH (a log group owned by the stack) */
  readonly logRetention?: logs.RetentionDays;
  /** Lambda's application log level (JSON logs). @default lambda.ApplicationLogLevel.INFO */
  readonly applicationLogLevel?: lambda.ApplicationLogLevel;
  /**
   * Run the function in a VPC. Its subnets need a route to the ElastiCache, MemoryDB,
   * Amazon MQ, Secrets Manager and Lambda (continuations) APIs and to S3 (CloudFormation's
   * response URL): a NAT gateway, or interface endpoints plus an S3 gateway endpoint. For
   * `AmazonMqRabbitMqUser`, also to its broker's management endpoint (HTTPS): a private
   * broker is reachable from its own VPC only.
   *
   * @default - not in a VPC
   */
  readonly vpc?: ec2.IVpc;
  /** @default - the VPC's private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default - a new security group with all outbound allowed */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * How many managed policies IAM lets this account attach to a role: synthesis fails before
   * the grants would need more. Raise it only once AWS has raised the quota (at most 20).
   *
   * @default 10
   */
  readonly managedPoliciesPerRole?: number;
}

export { PASSWORD_SECRET_TAG, ROTATION_FUNCTION_KEY } from './common';

/** `lambda:InvokeFunction`: what a continuation needs, on the function itself. */
export const CONTINUATION_ACTIONS = ['lambda:InvokeFunction'];

/** The service principal that invokes rotation functions. */
export const SECRETS_MANAGER_PRINCIPAL = 'secretsmanager.amazonaws.com';

/**
 * The userkeeper Lambda: the ServiceToken of `ElastiCacheUser`, `ElastiCacheUserGroup`,
 * `MemoryDbUser`, `MemoryDbAcl`, `AmazonMqUser` and `AmazonMqRabbitMqUser`, and the rotation function of their
 * password secrets (`rotate`).
 *
 * Its role starts with writing to its own log group (a policy of its own, not the AWS-managed
 * AWSLambdaBasicExecutionRole, which allows every log group) and `lambda:InvokeFunction` on
 * the function itself (a wait that
 * outlasts one invocation goes on in a new one), nothing else: each construct created with it
 * is granted exactly what that resource needs (its own ARNs, its own secret), see `grant`, and
 * so is each rotation. The grants of all resources of a stack share a few managed policies
 * (`UserKeeperGrants`), so that hundreds of users fit IAM's quotas; synthesis fails, saying
 * which quota and what to do, before a template would exceed one (the role's inline policies,
 * managed policies' size and number, resources per stack).
 */
export class UserKeeper extends Construct {
  public readonly function: lambda.Function;
  /** The ServiceToken of the custom resources: the function's ARN. */
  public readonly serviceToken: string;
  /**
   * `lambda:InvokeFunction` on the function's own (unqualified) ARN, for continuations. A
   * policy of its own, not the role's default policy: the function depends on that one, so
   * naming the function there would be a circular dependency. Every resource made with this
   * UserKeeper depends on it.
   */
  public readonly continuationPolicy: iam.Policy;
  private rotationPermissionResource?: lambda.CfnPermission;
  private readonly grantStacks = new Set<Stack>();

  constructor(scope: Construct, id: string, props: UserKeeperProps = {}) {
    super(scope, id);
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const code = functionCode(this, props, architecture);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    const execution = executionStatements(logGroup, props.vpc !== undefined);
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'userkeeper custom-resource function: each resource adds a policy of its own',
      inlinePolicies: { Execution: new iam.PolicyDocument({ statements: execution }) },
    });
    suppressAwsRequiredWildcards(role, execution);
    this.function = new lambda.Function(this, 'Function', {
      description: 'userkeeper - CloudFormation custom resources for data-store users',
      code,
      handler: 'bootstrap',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture,
      role,
      memorySize: props.memorySize ?? 128,
      timeout: props.timeout ?? Duration.seconds(900),
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: props.applicationLogLevel ?? lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      logGroup,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      // CloudFormation invokes custom resources asynchronously: Lambda's retries are how a
      // response that could not be delivered gets another chance, so they stay at default.
    });
    this.serviceToken = this.function.functionArn;
    // Not fn.grantInvoke(fn.role): that writes into the role's default policy (a cycle, see
    // continuationPolicy) and adds the `:*` qualified ARNs, which the function never needs.
    this.continuationPolicy = new iam.Policy(this, 'ContinuationPolicy', {
      roles: [this.function.role!],
      statements: [
        new iam.PolicyStatement({
          sid: 'ContinueInANewInvocation',
          actions: CONTINUATION_ACTIONS,
          resources: [this.function.functionArn],
        }),
      ],
    });
    this.grantStacks.add(Stack.of(this));
    const perRole = props.managedPoliciesPerRole ?? MANAGED_POLICIES_PER_ROLE;
    this.node.addValidation({
      validate: () => quotaFindings(this.function, [...this.grantStacks], perRole).map((f) => `userkeeper: ${f.message}`),
    });
  }

  /**
   * Secrets Manager of this account (SourceAccount) may invoke the function: the function's
   * resource policy that rotation needs. Made by the first `rotate`, shared by all of them.
   */
  public get rotationPermission(): lambda.CfnPermission {
    if (this.rotationPermissionResource === undefined) {
      this.rotationPermissionResource = new lambda.CfnPermission(this, 'RotationPermission', {
        action: 'lambda:InvokeFunction',
        functionName: this.function.functionArn,
        principal: SECRETS_MANAGER_PRINCIPAL,
        sourceAccount: Stack.of(this).account,
      });
    }
    return this.rotationPermissionResource;
  }

  /**
   * Rotates `user`'s password secret (its `passwordSecret`, which must be in userkeeper's
   * rotated-secret format, see `RotatedSecretString`) with this function, by default every 30
   * days: a `UserRotation` in the user's scope (the schedule, granted what rotating that secret
   * and that user needs), plus `rotationPermission`. Once per user.
   *
   * ```ts
   * keeper.rotate(appUser, { automaticallyAfter: Duration.days(30) });
   * ```
   */
  public rotate(user: IRotatableUser, options: UserRotationOptions = {}): UserRotation {
    if (user.node.tryFindChild('Rotation')) {
      throw new Error(`${user.node.path}: is rotated already (one rotation per user and secret)`);
    }
    return new UserRotation(user, 'Rotation', { ...options, userKeeper: this, user });
  }

  /**
   * Alarms on this function's failures, sent to `topic`: failed custom-resource requests,
   * failed rotation steps, and Secrets Manager's RotationFailed / RotationAbandoned events
   * (see `UserKeeperAlarms`). Once per function.
   */
  public alarms(options: UserKeeperAlarmsOptions): UserKeeperAlarms {
    return new UserKeeperAlarms(this, 'Alarms', { ...options, userKeeper: this });
  }

  /** Adds a statement to the function's role (its default policy), for anything else. */
  public addToRolePolicy(statement: iam.PolicyStatement): void {
    this.function.addToRolePolicy(statement);
  }

  /**
   * Grants `statements` to the function for as long as `resource` (a custom resource or a
   * rotation schedule) exists: they go into the shared grants of the resource's stack
   * (`UserKeeperGrants`), which the resource DependsOn, as on the continuation policy. So
   * CloudFormation creates the grants before the resource's Create and deletes them only
   * after its Delete, also when the resource is removed from the app: a changed grants policy
   * is a new one (its logical id is its content's hash), and the old one goes in the cleanup
   * after the resources that depend on it.
   */
  public grant(resource: CustomResource | CfnResource, statements: iam.PolicyStatement[]): void {
    const cfn = resource instanceof CfnResource ? resource : (resource.node.defaultChild as CfnResource);
    UserKeeperGrants.of(this, cfn).add(cfn, statements);
    this.grantStacks.add(Stack.of(cfn));
    cfn.node.addDependency(this.continuationPolicy);
  }

  /**
   * `actions` on `secret`, under `conditions`. A secret created in this app (a
   * `secretsmanager.Secret`) is tagged `userkeeper:reader` = this function's ARN, and the
   * statement names any secret of its account and region carrying that tag: the same
   * statement for every secret, so that the grants do not grow with the number of users (a
   * secret ARN is ~100 characters). Any other secret (imported) is named by its ARN.
   */
  public secretStatement(
    secret: secretsmanager.ISecret,
    actions: string[],
    conditions: Record<string, Record<string, unknown>> = {},
  ): iam.PolicyStatement {
    if (!(secret instanceof secretsmanager.Secret)) {
      return new iam.PolicyStatement({ actions, resources: [secretArnPattern(secret)], conditions });
    }
    Tags.of(secret).add(PASSWORD_SECRET_TAG, this.function.functionArn);
    return this.anySecretOf(secret, actions, conditions, `aws:ResourceTag/${PASSWORD_SECRET_TAG}`);
  }

  /**
   * `actions` on `secret` while this function rotates it (what rotating needs, not reading):
   * for a secret created in this app, any secret of its account and region whose rotation
   * function is this one (`secretsmanager:resource/AllowRotationLambdaArn`, which Secrets
   * Manager sets when the schedule is created, before the first rotation step), the same
   * statement for every rotated secret; any other secret by its ARN. A separate condition from
   * `secretStatement`'s, so that a secret the function only reads is never writable.
   */
  public rotatedSecretStatement(
    secret: secretsmanager.ISecret,
    actions: string[],
    conditions: Record<string, Record<string, unknown>> = {},
  ): iam.PolicyStatement {
    if (!(secret instanceof secretsmanager.Secret)) {
      return new iam.PolicyStatement({ actions, resources: [secretArnPattern(secret)], conditions });
    }
    return this.anySecretOf(secret, actions, conditions, ROTATION_FUNCTION_KEY);
  }

  private anySecretOf(
    secret: secretsmanager.ISecret,
    actions: string[],
    conditions: Record<string, Record<string, unknown>>,
    key: string,
  ): iam.PolicyStatement {
    const anySecret = Stack.of(secret).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: '*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const named = { ...conditions.StringEquals, [key]: this.function.functionArn };
    return new iam.PolicyStatement({ actions, resources: [anySecret], conditions: { ...conditions, StringEquals: named } });
  }

  /**
   * `secretsmanager:GetSecretValue` on one secret (see `secretStatement`), and `kms:Decrypt`
   * (through Secrets Manager only) on its key if it has a customer-managed one: what reading a
   * password needs.
   */
  public readPasswordStatements(scope: Construct, secret: secretsmanager.ISecret): iam.PolicyStatement[] {
    const out = [this.secretStatement(secret, ['secretsmanager:GetSecretValue'])];
    if (secret.encryptionKey) {
      // Identity policy only (the key's policy must let the account's IAM decide, as the
      // default key policy does), and only for decryption through Secrets Manager.
      const stack = Stack.of(scope);
      out.push(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [secret.encryptionKey.keyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.${stack.urlSuffix}` },
          },
        }),
      );
    }
    return out;
  }
}

function functionCode(scope: Construct, props: UserKeeperProps, architecture: lambda.Architecture): lambda.Code {
  if (props.code !== undefined && props.codePath !== undefined) {
    throw new Error(`${scope.node.path}: give code or codePath, not both`);
  }
  if (props.code !== undefined) {
    return props.code;
  }
  if (props.codePath === undefined && architecture.name !== lambda.Architecture.ARM_64.name) {
    throw new Error(
      `${scope.node.path}: the bootstrap inside this package is arm64; for ${architecture.name} give codePath ` +
        '(`cargo lambda build --release` in the userkeeper repository) or code (the release\'s zip)',
    );
  }
  const codePath = path.resolve(props.codePath ?? DEFAULT_CODE_PATH);
  if (!fs.existsSync(path.join(codePath, 'bootstrap'))) {
    throw new Error(
      `UserKeeper: no bootstrap in ${codePath}. Build it first: ` +
        '`cargo lambda build --release --arm64` in the userkeeper repository ' +
        '(or pass codePath: a directory that holds the bootstrap)',
    );
  }
  return lambda.Code.fromAsset(codePath);
}

/**
 * What Lambda itself needs of the role: writing to the function's own log group (its ARN,
 * `...:log-group:NAME:*`, covers its streams), and in a VPC the network interfaces, which
 * EC2 authorizes on `*` only for the Describe calls and Lambda creates in subnets it chooses
 * (AWS's AWSLambdaVPCAccessExecutionRole grants the same on `*`).
 */
function executionStatements(logGroup: logs.ILogGroup, inVpc: boolean): iam.PolicyStatement[] {
  const out = [
    new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
  ];
  if (inVpc) {
    out.push(
      new iam.PolicyStatement({
        sid: 'VpcNetworkInterfaces',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
  }
  return out;
}
