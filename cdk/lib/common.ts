// What every typed construct shares: how it reaches userkeeper, the rules checked at synth
// time, and the tags.
import { CustomResource, Duration, Stack, Token } from 'aws-cdk-lib';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { UserKeeper } from './user-keeper';

/** How a custom resource reaches userkeeper: the construct (grants included) or a bare token. */
export interface UserKeeperTarget {
  /**
   * The userkeeper function of this app. The function's role is then granted exactly what
   * this resource needs (its own ARNs, its secret), in the shared grants of its stack.
   *
   * @default - give serviceToken
   */
  readonly userKeeper?: UserKeeper;
  /**
   * The ServiceToken (function ARN) of a userkeeper deployed elsewhere, e.g. the SAM stack's
   * `ServiceToken` output. Nothing is granted: that function's role must already allow it.
   *
   * @default - give userKeeper
   */
  readonly serviceToken?: string;
  /**
   * `ServiceTimeout`: how long CloudFormation waits for the answer (1 s - 1 h). userkeeper
   * answers FAILED a margin before it; a wait longer than the function's own timeout goes on
   * in a new invocation of the function (a continuation) until then.
   *
   * @default Duration.seconds(900)
   */
  readonly serviceTimeout?: Duration;
  /**
   * `Adopt`: a Create that finds the user (group, ACL) made outside userkeeper, with no
   * userkeeper ownership tags, takes it over: tags it as this resource's and brings it to
   * these properties. From then on this resource's Delete deletes it. Something another stack
   * owns is never adopted.
   *
   * @default false
   */
  readonly adopt?: boolean;
}

/** A boolean property as CloudFormation sends it (`"true"` / `"false"`), or absent. */
export function flagProperty(value: boolean | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

export const DEFAULT_SERVICE_TIMEOUT = Duration.seconds(900);
const ID_PATTERN = /^[A-Za-z](?:-?[A-Za-z0-9])*$/;
const RESERVED_TAG_PREFIX = 'userkeeper:';

/** The ownership tags userkeeper puts on everything it creates (src/cfn/resource.rs). */
export const OWNER_STACK_TAG = 'userkeeper:stack-id';
export const OWNER_LOGICAL_TAG = 'userkeeper:logical-id';

/**
 * The tag on the password secrets created in the app: its value is the ARN of the function
 * that may read (and rotate) them, which the grants' condition names.
 */
export const PASSWORD_SECRET_TAG = 'userkeeper:reader';
/** The condition key naming a secret's rotation function (Service Authorization Reference). */
export const ROTATION_FUNCTION_KEY = 'secretsmanager:resource/AllowRotationLambdaArn';

export function serviceTokenOf(scope: Construct, props: UserKeeperTarget): string {
  if ((props.userKeeper === undefined) === (props.serviceToken === undefined)) {
    throw new Error(`${scope.node.path}: give exactly one of userKeeper and serviceToken`);
  }
  return props.userKeeper?.serviceToken ?? props.serviceToken!;
}

export function checkId(scope: Construct, property: string, value: string): void {
  if (!Token.isUnresolved(value) && !ID_PATTERN.test(value)) {
    throw new Error(
      `${scope.node.path}: ${property} ${JSON.stringify(value)} must be a letter, then letters, digits and single hyphens (no trailing hyphen)`,
    );
  }
}

export function renderTags(scope: Construct, tags?: Record<string, string>): { Key: string; Value: string }[] | undefined {
  if (tags === undefined) {
    return undefined;
  }
  return Object.keys(tags)
    .sort()
    .map((key) => {
      if (!Token.isUnresolved(key) && key.startsWith(RESERVED_TAG_PREFIX)) {
        throw new Error(`${scope.node.path}: tag key ${key} is reserved for userkeeper's ownership tags`);
      }
      return { Key: key, Value: tags[key] };
    });
}

/**
 * An IAM condition that holds only for a request carrying the ownership tags userkeeper sends
 * for a custom resource of this resource's stack: for actions that AWS does not authorize on
 * any resource ARN (memorydb:CreateUser) or, on one reading of AWS's documents, not on the one
 * being created (memorydb:CreateAcl: on the member users per the Service Authorization
 * Reference, on the ACL per the MemoryDB Developer Guide), the request's tags are what is left
 * to narrow them by. The stack, not the logical id: one condition for every resource of the
 * stack keeps the shared grants one statement long, however many users there are.
 */
export function ownershipTagCondition(resource: CustomResource): Record<string, Record<string, string>> {
  return {
    StringEquals: { [`aws:RequestTag/${OWNER_STACK_TAG}`]: Stack.of(resource).stackId },
    Null: { [`aws:RequestTag/${OWNER_LOGICAL_TAG}`]: 'false' },
  };
}

/** What IAM matches a secret's ARN with: a secret imported by name has a partial ARN, so its six-character suffix is `??????`. */
export function secretArnPattern(secret: secretsmanager.ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}
