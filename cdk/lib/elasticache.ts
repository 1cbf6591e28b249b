import { ArnFormat, CustomResource, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { checkId, DEFAULT_SERVICE_TIMEOUT, flagProperty, renderTags, serviceTokenOf, UserKeeperTarget } from './common';
import type { IRotatableUser, RotationGrantOptions } from './rotation';
import type { UserKeeper } from './user-keeper';

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
  /**
   * `KeepPreviousPassword`: an Update that changes the password source (a new secret) keeps
   * the previous password as the user's second one, as a rotation would, so clients still
   * holding it keep working until they read the new one.
   *
   * @default true
   */
  readonly keepPreviousPassword?: boolean;
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

export const ELASTICACHE_USER_ACTIONS = [
  'elasticache:CreateUser',
  'elasticache:DescribeUsers',
  'elasticache:ModifyUser',
  'elasticache:DeleteUser',
  'elasticache:ListTagsForResource',
  'elasticache:AddTagsToResource',
  'elasticache:RemoveTagsFromResource',
];

/** On the group's own ARN (AddTagsToResource is also what CreateUserGroup's tags need). */
export const ELASTICACHE_USER_GROUP_ACTIONS = [
  'elasticache:DescribeUserGroups',
  'elasticache:DeleteUserGroup',
  'elasticache:ListTagsForResource',
  'elasticache:AddTagsToResource',
  'elasticache:RemoveTagsFromResource',
];

/**
 * Authorized on the group *and* on each member user's ARN (every one must be allowed): granted
 * in one statement on the group's ARN plus its members' ARNs.
 */
export const ELASTICACHE_USER_GROUP_MEMBER_ACTIONS = ['elasticache:CreateUserGroup', 'elasticache:ModifyUserGroup'];
/** What a valkey group's members are read with: only users that authenticate may join. */
export const ELASTICACHE_VALKEY_MEMBER_ACTIONS = ['elasticache:DescribeUsers'];

/** Rotation (`UserKeeper.rotate`): wait for `active`, set `[new, current]`; on the user's ARN. */
export const ELASTICACHE_ROTATION_ACTIONS = ['elasticache:DescribeUsers', 'elasticache:ModifyUser', 'elasticache:ListTagsForResource'];

/**
 * The users built here, by their `userId` (Ref) token and literal id: lets a group scope its member grants
 * to the ARNs the users are known to get *without* referencing them (a Ref in the group's
 * policy would also be a cycle if that policy were shared with the users).
 */
const USERS_BY_REF = new Map<string, { user: ElastiCacheUser; keeper?: UserKeeper }>();

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
 * With `userKeeper`, grants its function (in the shared grants of its stack) the user
 * actions on this user's ARN only, and `secretsmanager:GetSecretValue` on `passwordSecret`.
 * `userKeeper.rotate(user)` rotates `passwordSecret`.
 */
export class ElastiCacheUser extends Construct implements IRotatableUser {
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
  /**
   * What this resource is granted (with `userKeeper` only), in the shared grants of its stack
   * (`UserKeeperGrants`).
   */
  public readonly grants?: iam.PolicyStatement[];
  /** The secret the password is read from (and that `UserKeeper.rotate` rotates). */
  public readonly passwordSecret?: secretsmanager.ISecret;

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
    this.passwordSecret = props.passwordSecret;
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
        KeepPreviousPassword: flagProperty(props.keepPreviousPassword),
        Tags: renderTags(this, props.tags),
        Adopt: flagProperty(props.adopt),
      },
    });

    const keeper = props.userKeeper;
    if (keeper) {
      // With what a group of this app needs of its members too (each member's ARN must allow
      // CreateUserGroup / ModifyUserGroup, as must the group's): granted here, the user's ARN
      // is listed once however many groups and stacks there are. Alone, on a user's ARN, they
      // allow nothing: the group's ARN is granted only to the groups of this app.
      this.grants = [
        new iam.PolicyStatement({ actions: [...ELASTICACHE_USER_ACTIONS, ...ELASTICACHE_USER_GROUP_MEMBER_ACTIONS], resources: [this.userArn] }),
        ...(props.passwordSecret ? keeper.readPasswordStatements(this, props.passwordSecret) : []),
      ];
      keeper.grant(this.resource, this.grants);
    }

    this.userId = this.resource.ref;
    USERS_BY_REF.set(this.userId, { user: this, keeper: props.userKeeper });
    // A group may name it by its literal id too (in another stack, say, where a Ref would be
    // a cross-stack export).
    if (!Token.isUnresolved(props.userId)) {
      USERS_BY_REF.set(props.userId, { user: this, keeper: props.userKeeper });
    }
    this.attrArn = this.resource.getAttString('Arn');
    this.attrUserId = this.resource.getAttString('UserId');
    this.attrUserName = this.resource.getAttString('UserName');
    this.attrStatus = this.resource.getAttString('Status');
    this.attrMinimumEngineVersion = this.resource.getAttString('MinimumEngineVersion');
  }

  /** Rotation needs DescribeUsers and ModifyUser on this user's ARN, and ListTagsForResource to read the secret the user is bound to. */
  public rotationStatements(options: RotationGrantOptions): iam.PolicyStatement[] {
    if (options.reboot) {
      throw new Error(`${this.node.path}: reboot is for Amazon MQ users only`);
    }
    return [new iam.PolicyStatement({ actions: ELASTICACHE_ROTATION_ACTIONS, resources: [this.userArn] })];
  }
}

/**
 * `Custom::ElastiCacheUserGroup`: an ElastiCache user group.
 *
 * With `userKeeper`, grants its function (in the shared grants of its stack) the group
 * actions on this group's ARN, and CreateUserGroup / ModifyUserGroup on this group's ARN and
 * the ARNs of the users it names (ElastiCache authorizes those calls on the group and on every
 * member).
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
  /**
   * What this resource is granted (with `userKeeper` only), in the shared grants of its stack
   * (`UserKeeperGrants`).
   */
  public readonly grants?: iam.PolicyStatement[];

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
        Adopt: flagProperty(props.adopt),
      },
    });

    const keeper = props.userKeeper;
    if (keeper) {
      // Members made with this same UserKeeper grant themselves what the group needs of them
      // (see ElastiCacheUser); the others are granted here. An ElastiCacheUser's Ref maps to
      // the ARN it will have; any other value is used as is (a literal id, a parameter, an
      // attribute of a resource defined elsewhere).
      const members = props.userIds
        .filter((u) => USERS_BY_REF.get(u)?.keeper !== keeper)
        .map((u) => USERS_BY_REF.get(u)?.user.userArn ?? elastiCacheArn(this, 'user', u));
      this.grants = [
        new iam.PolicyStatement({ actions: ELASTICACHE_USER_GROUP_ACTIONS, resources: [this.userGroupArn] }),
        // One statement on the group and its members: what AWS authorizes these on.
        new iam.PolicyStatement({
          actions: ELASTICACHE_USER_GROUP_MEMBER_ACTIONS,
          resources: [this.userGroupArn, ...members],
        }),
        // A valkey group takes only users that authenticate: its members are read (and a
        // no-password one refused) before the group is created or changed.
        ...(props.engine === ElastiCacheEngine.VALKEY && members.length > 0
          ? [new iam.PolicyStatement({ actions: ELASTICACHE_VALKEY_MEMBER_ACTIONS, resources: members })]
          : []),
      ];
      keeper.grant(this.resource, this.grants);
    }

    this.userGroupId = this.resource.ref;
    this.attrArn = this.resource.getAttString('Arn');
    this.attrUserGroupId = this.resource.getAttString('UserGroupId');
    this.attrStatus = this.resource.getAttString('Status');
  }
}
