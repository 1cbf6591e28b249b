import { ArnFormat, CustomResource, Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { UserKeeper } from './user-keeper';

/** `Engine` of users and user groups. */
export enum ElastiCacheEngine {
  VALKEY = 'valkey',
  REDIS = 'redis',
}

/** `AuthenticationMode.Type`. Passwords come from `passwordSecret`, never from the template. */
export enum ElastiCacheAuthenticationType {
  PASSWORD = 'password',
  NO_PASSWORD_REQUIRED = 'no-password-required',
  IAM = 'iam',
}

/** How a custom resource reaches userkeeper: the construct (grants included) or a bare token. */
export interface UserKeeperTarget {
  /**
   * The userkeeper function of this app. Each resource then adds to its role exactly the
   * permissions it needs (its own ARNs, its secret).
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
   * answers FAILED a margin before it.
   *
   * @default Duration.seconds(900)
   */
  readonly serviceTimeout?: Duration;
}

export interface ElastiCacheUserProps extends UserKeeperTarget {
  /** `UserId`: a letter, then letters, digits, single hyphens. Changing it replaces the user. */
  readonly userId: string;
  /** `UserName`: the name clients log in with. Changing it needs a new userId too. */
  readonly userName: string;
  /** `Engine`. */
  readonly engine: ElastiCacheEngine;
  /** `AccessString`: Redis ACL rules, e.g. `on ~app:* +@read`. */
  readonly accessString: string;
  /**
   * `AuthenticationMode.Type`. Without it: `password` when passwordSecret is given,
   * `no-password-required` when noPasswordRequired is true.
   *
   * @default - from passwordSecret / noPasswordRequired
   */
  readonly authenticationType?: ElastiCacheAuthenticationType;
  /**
   * `NoPasswordRequired`, rendered `"true"`/`"false"` as CloudFormation sends it.
   *
   * @default - not set
   */
  readonly noPasswordRequired?: boolean;
  /**
   * `PasswordSecretArn`: the password is this secret's `password` JSON key (AWSCURRENT).
   * Inline passwords (`Passwords`, `AuthenticationMode.Passwords`) are deliberately not
   * offered: a template is stored and shown in plain text, and CloudFormation does not
   * resolve secure dynamic references in custom resources.
   *
   * @default - no password
   */
  readonly passwordSecret?: secretsmanager.ISecret;
  /** `Tags`. Keys starting `userkeeper:` are reserved. @default - none */
  readonly tags?: Record<string, string>;
}

export interface ElastiCacheUserGroupProps extends UserKeeperTarget {
  /** `UserGroupId`. Changing it replaces the group. */
  readonly userGroupId: string;
  /** `Engine`. Changing it needs a new userGroupId. */
  readonly engine: ElastiCacheEngine;
  /**
   * `UserIds`: must include a user whose UserName is `default`. Pass `user.userId` of an
   * `ElastiCacheUser` (a reference, so that the group is created after its users).
   */
  readonly userIds: string[];
  /** `Tags`. Keys starting `userkeeper:` are reserved. @default - none */
  readonly tags?: Record<string, string>;
}

const ID_PATTERN = /^[A-Za-z](?:-?[A-Za-z0-9])*$/;
const RESERVED_TAG_PREFIX = 'userkeeper:';
const DEFAULT_SERVICE_TIMEOUT = Duration.seconds(900);

export const ELASTICACHE_USER_ACTIONS = [
  'elasticache:CreateUser',
  'elasticache:DescribeUsers',
  'elasticache:ModifyUser',
  'elasticache:DeleteUser',
  'elasticache:ListTagsForResource',
  'elasticache:AddTagsToResource',
  'elasticache:RemoveTagsFromResource',
];

export const ELASTICACHE_USER_GROUP_ACTIONS = [
  'elasticache:CreateUserGroup',
  'elasticache:DescribeUserGroups',
  'elasticache:ModifyUserGroup',
  'elasticache:DeleteUserGroup',
  'elasticache:ListTagsForResource',
  'elasticache:AddTagsToResource',
  'elasticache:RemoveTagsFromResource',
];

/** Also authorized on each member user's ARN. */
export const ELASTICACHE_USER_GROUP_MEMBER_ACTIONS = ['elasticache:CreateUserGroup', 'elasticache:ModifyUserGroup'];

function serviceTokenOf(scope: Construct, props: UserKeeperTarget): string {
  if ((props.userKeeper === undefined) === (props.serviceToken === undefined)) {
    throw new Error(`${scope.node.path}: give exactly one of userKeeper and serviceToken`);
  }
  return props.userKeeper?.serviceToken ?? props.serviceToken!;
}

function checkId(scope: Construct, property: string, value: string): void {
  if (!Token.isUnresolved(value) && !ID_PATTERN.test(value)) {
    throw new Error(
      `${scope.node.path}: ${property} ${JSON.stringify(value)} must be a letter, then letters, digits and single hyphens (no trailing hyphen)`,
    );
  }
}

function renderTags(scope: Construct, tags?: Record<string, string>): { Key: string; Value: string }[] | undefined {
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
 * The users built here, by their `userId` (Ref) token: lets a group scope its member grants
 * to the ARNs the users are known to get *without* referencing them, which would make the
 * function's policy depend on the users and the users on the policy (a cycle).
 */
const USERS_BY_REF = new Map<string, ElastiCacheUser>();

function elastiCacheArn(scope: Construct, resource: 'user' | 'usergroup', id: string): string {
  return Stack.of(scope).formatArn({
    service: 'elasticache',
    resource,
    resourceName: id,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * `Custom::ElastiCacheUser`: an ElastiCache (Valkey / Redis OSS) RBAC user.
 *
 * With `userKeeper`, grants its function the user actions on this user's ARN only, and
 * `secretsmanager:GetSecretValue` on `passwordSecret`.
 */
export class ElastiCacheUser extends Construct {
  public static readonly RESOURCE_TYPE = 'Custom::ElastiCacheUser';

  /** `Ref`: the UserId (a reference: using it orders creation after this user). */
  public readonly userId: string;
  /** `Fn::GetAtt Arn`. */
  public readonly attrArn: string;
  /** `Fn::GetAtt UserId`. */
  public readonly attrUserId: string;
  /** `Fn::GetAtt UserName`. */
  public readonly attrUserName: string;
  /** `Fn::GetAtt Status` (`active` once created). */
  public readonly attrStatus: string;
  /** `Fn::GetAtt MinimumEngineVersion`. */
  public readonly attrMinimumEngineVersion: string;
  /** The ARN this user will have (known before it exists; what the grants are scoped to). */
  public readonly userArn: string;
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: ElastiCacheUserProps) {
    super(scope, id);
    const serviceToken = serviceTokenOf(this, props);
    checkId(this, 'userId', props.userId);
    if (props.passwordSecret && props.noPasswordRequired) {
      throw new Error(`${this.node.path}: passwordSecret and noPasswordRequired are exclusive`);
    }
    const type = props.authenticationType;
    if (type === ElastiCacheAuthenticationType.PASSWORD && !props.passwordSecret) {
      throw new Error(`${this.node.path}: authenticationType password needs passwordSecret`);
    }
    if (type !== undefined && type !== ElastiCacheAuthenticationType.PASSWORD && props.passwordSecret) {
      throw new Error(`${this.node.path}: passwordSecret needs authenticationType password (or none)`);
    }
    if (type === undefined && !props.passwordSecret && props.noPasswordRequired !== true) {
      throw new Error(
        `${this.node.path}: say how the user authenticates: passwordSecret, noPasswordRequired: true, ` +
          'or authenticationType',
      );
    }

    this.userArn = elastiCacheArn(this, 'user', props.userId);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken,
      serviceTimeout: props.serviceTimeout ?? DEFAULT_SERVICE_TIMEOUT,
      resourceType: ElastiCacheUser.RESOURCE_TYPE,
      properties: {
        UserId: props.userId,
        UserName: props.userName,
        Engine: props.engine,
        AccessString: props.accessString,
        AuthenticationMode: type === undefined ? undefined : { Type: type },
        NoPasswordRequired: props.noPasswordRequired === undefined ? undefined : String(props.noPasswordRequired),
        PasswordSecretArn: props.passwordSecret?.secretArn,
        Tags: renderTags(this, props.tags),
      },
    });

    const keeper = props.userKeeper;
    if (keeper) {
      keeper.addToRolePolicy(
        new iam.PolicyStatement({ actions: ELASTICACHE_USER_ACTIONS, resources: [this.userArn] }),
      );
      if (props.passwordSecret) {
        keeper.grantReadPassword(props.passwordSecret);
      }
      // No explicit dependency needed: the ServiceToken references the function, which
      // depends on its policy, so this is created after the grants and deleted before them.
    }

    this.userId = this.resource.ref;
    USERS_BY_REF.set(this.userId, this);
    this.attrArn = this.resource.getAttString('Arn');
    this.attrUserId = this.resource.getAttString('UserId');
    this.attrUserName = this.resource.getAttString('UserName');
    this.attrStatus = this.resource.getAttString('Status');
    this.attrMinimumEngineVersion = this.resource.getAttString('MinimumEngineVersion');
  }
}

/**
 * `Custom::ElastiCacheUserGroup`: an ElastiCache user group.
 *
 * With `userKeeper`, grants its function the group actions on this group's ARN, and
 * CreateUserGroup / ModifyUserGroup on the ARNs of the users it names (ElastiCache
 * authorizes those calls on every member).
 */
export class ElastiCacheUserGroup extends Construct {
  public static readonly RESOURCE_TYPE = 'Custom::ElastiCacheUserGroup';

  /** `Ref`: the UserGroupId. */
  public readonly userGroupId: string;
  /** `Fn::GetAtt Arn`. */
  public readonly attrArn: string;
  /** `Fn::GetAtt UserGroupId`. */
  public readonly attrUserGroupId: string;
  /** `Fn::GetAtt Status`. */
  public readonly attrStatus: string;
  public readonly userGroupArn: string;
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: ElastiCacheUserGroupProps) {
    super(scope, id);
    const serviceToken = serviceTokenOf(this, props);
    checkId(this, 'userGroupId', props.userGroupId);
    if (props.userIds.length === 0) {
      throw new Error(`${this.node.path}: userIds must include a user named default`);
    }
    props.userIds.forEach((u) => checkId(this, 'userIds', u));

    this.userGroupArn = elastiCacheArn(this, 'usergroup', props.userGroupId);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken,
      serviceTimeout: props.serviceTimeout ?? DEFAULT_SERVICE_TIMEOUT,
      resourceType: ElastiCacheUserGroup.RESOURCE_TYPE,
      properties: {
        UserGroupId: props.userGroupId,
        Engine: props.engine,
        UserIds: props.userIds,
        Tags: renderTags(this, props.tags),
      },
    });

    const keeper = props.userKeeper;
    if (keeper) {
      keeper.addToRolePolicy(
        new iam.PolicyStatement({ actions: ELASTICACHE_USER_GROUP_ACTIONS, resources: [this.userGroupArn] }),
      );
      keeper.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ELASTICACHE_USER_GROUP_MEMBER_ACTIONS,
          // An ElastiCacheUser's Ref maps to the ARN it will have; any other value is used
          // as is (a literal id, a parameter, an attribute of a resource defined elsewhere).
          resources: props.userIds.map((u) => USERS_BY_REF.get(u)?.userArn ?? elastiCacheArn(this, 'user', u)),
        }),
      );
    }

    this.userGroupId = this.resource.ref;
    this.attrArn = this.resource.getAttString('Arn');
    this.attrUserGroupId = this.resource.getAttString('UserGroupId');
    this.attrStatus = this.resource.getAttString('Status');
  }
}
