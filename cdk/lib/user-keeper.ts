import * as fs from 'fs';
import * as path from 'path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * Where `cargo lambda build --release --arm64` puts `bootstrap`, in this repository
 * (resolved from this file, so it does not depend on the current directory).
 */
export const DEFAULT_CODE_PATH = path.resolve(__dirname, '..', '..', 'target', 'lambda', 'userkeeper');

export interface UserKeeperProps {
  /**
   * A directory holding the built `bootstrap` (arm64, provided.al2023). A relative path is
   * resolved against the current directory.
   *
   * @default DEFAULT_CODE_PATH: `<repo>/target/lambda/userkeeper`
   */
  readonly codePath?: string;
  /**
   * The function's timeout. userkeeper answers FAILED a margin before it.
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
   * Run the function in a VPC. Its subnets need a route to the ElastiCache and Secrets
   * Manager APIs and to S3 (CloudFormation's response URL): a NAT gateway, or interface
   * endpoints plus an S3 gateway endpoint.
   *
   * @default - not in a VPC
   */
  readonly vpc?: ec2.IVpc;
  /** @default - the VPC's private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default - a new security group with all outbound allowed */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * The userkeeper Lambda: the ServiceToken of `ElastiCacheUser`, `ElastiCacheUserGroup` (and,
 * later, the MemoryDB and Amazon MQ constructs).
 *
 * Its role starts with nothing but logging: each construct created with it adds exactly the
 * permissions it needs (its own ARNs, its own secret).
 */
export class UserKeeper extends Construct {
  public readonly function: lambda.Function;
  /** The ServiceToken of the custom resources: the function's ARN. */
  public readonly serviceToken: string;
  private readonly grantedSecrets = new Set<string>();

  constructor(scope: Construct, id: string, props: UserKeeperProps = {}) {
    super(scope, id);
    const codePath = path.resolve(props.codePath ?? DEFAULT_CODE_PATH);
    if (!fs.existsSync(path.join(codePath, 'bootstrap'))) {
      throw new Error(
        `UserKeeper: no bootstrap in ${codePath}. Build it first: ` +
          '`cargo lambda build --release --arm64` in the userkeeper repository ' +
          '(or pass codePath: a directory that holds the arm64 bootstrap)',
      );
    }
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.function = new lambda.Function(this, 'Function', {
      description: 'userkeeper - CloudFormation custom resources for data-store users',
      code: lambda.Code.fromAsset(codePath),
      handler: 'bootstrap',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
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
    // Rotation (later): a lambda.CfnPermission for secretsmanager.amazonaws.com, a
    // RotationSchedule per secret and lambda:InvokeFunction on itself go here.
  }

  /** Adds a statement to the function's role (used by the typed constructs). */
  public addToRolePolicy(statement: iam.PolicyStatement): void {
    this.function.addToRolePolicy(statement);
  }

  /**
   * `secretsmanager:GetSecretValue` on one secret (and `kms:Decrypt` on its key, if it has a
   * customer-managed one). Granted once per secret however many users read it.
   */
  public grantReadPassword(secret: secretsmanager.ISecret): void {
    // A secret imported by name has a partial ARN: match the six-character suffix.
    const arn = secret.secretFullArn ?? `${secret.secretArn}-??????`;
    const key = Stack.of(this).resolve(arn);
    const k = JSON.stringify(key);
    if (this.grantedSecrets.has(k)) {
      return;
    }
    this.grantedSecrets.add(k);
    this.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [arn],
      }),
    );
    if (secret.encryptionKey) {
      // Identity policy only (the key's policy must let the account's IAM decide, as the
      // default key policy does), and only for decryption through Secrets Manager.
      const stack = Stack.of(this);
      this.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [secret.encryptionKey.keyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.${stack.urlSuffix}` },
          },
        }),
      );
    }
  }
}
