import { ArnFormat, CustomResource, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  checkId,
  DEFAULT_SERVICE_TIMEOUT,
  flagProperty,
  ownershipTagCondition,
  renderTags,
  serviceTokenOf,
  UserKeeperTarget,
} from './common';
import type { IRotatableUser, RotationGrantOptions } from './rotation';

/** `AuthenticationMode.Type` of a MemoryDB user. Passwords come from `passwordSecret` only. */
export enum MemoryDbAuthenticationType {
  PASSWORD = 'password',
  IAM = 'iam',
}

export interface MemoryDbUserProps extends UserKeeperTarget {
  /**
   * `UserName`: lowercase letter first, then lowercase letters, digits, single hyphens.
   * MemoryDB keeps names in lowercase and IAM compares ARNs case-sensitively, so uppercase is
   * refused. Changing it replaces the user.
   */
  readonly userName: string;
  /** `AccessString`: Redis ACL rules, e.g. `on ~app:* +@read`. */
  readonly accessString: string;
  /**
   * `AuthenticationMode.Type`. Without it: `password` (which needs passwordSecret).
   *
   * @default - password, from passwordSecret
   */
  readonly authenticationType?: MemoryDbAuthenticationType;
  /**
   * `PasswordSecretArn`: the password is this secret's `password` JSON key (AWSCURRENT).
   * Inline passwords (`AuthenticationMode.Passwords`) are deliberately not offered: a template
   * is stored and shown in plain text.
   *
   * @default - none (then authenticationType must be iam)
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

export interface MemoryDbAclProps extends UserKeeperTarget {
  /** `ACLName`: lowercase, as userName. Changing it replaces the ACL. */
  readonly aclName: string;
  /**
   * `UserNames`: at least one. Pass `user.userName` of a `MemoryDbUser` (a reference, so that
   * the ACL is created after its users). MemoryDB adds its `default` user by itself.
   */
  readonly userNames: string[];
  /** `Tags`. Keys starting `userkeeper:` are reserved. @default - none */
  readonly tags?: Record<string, string>;
}

/**
 * On the user's own ARN. TagResource is also what CreateUser needs when the request has tags
 * (userkeeper's always do: its ownership tags), on the new user's ARN.
 */
export const MEMORYDB_USER_ACTIONS = [
  'memorydb:DescribeUsers',
  'memorydb:UpdateUser',
  'memorydb:DeleteUser',
  'memorydb:ListTags',
  'memorydb:TagResource',
  'memorydb:UntagResource',
];
/**
 * On `*`, with a condition on the request's ownership tags: MemoryDB's CreateUser has no
 * resource type in the Service Authorization Reference, so no ARN can match it.
 */
export const MEMORYDB_CREATE_USER_ACTIONS = ['memorydb:CreateUser'];

/**
 * On the ACL's own ARN. (IAM spells them CreateAcl etc.; it ignores case.) TagResource is also
 * what CreateACL needs for its tags (MemoryDB Developer Guide), on the new ACL's ARN.
 */
export const MEMORYDB_ACL_ACTIONS = [
  'memorydb:DescribeAcls',
  'memorydb:DeleteAcl',
  'memorydb:ListTags',
  'memorydb:TagResource',
  'memorydb:UntagResource',
];
/**
 * On the ACL's ARN *and* each member user's ARN, with the ownership tag condition (as
 * CreateUser). AWS's two documents disagree on where CreateAcl is authorized: the Service
 * Authorization Reference lists the `user` resource only (the members), the MemoryDB Developer
 * Guide the ACL (plus memorydb:TagResource, in MEMORYDB_ACL_ACTIONS). Granting both, in one
 * statement, holds on either reading.
 */
export const MEMORYDB_ACL_CREATE_ACTIONS = ['memorydb:CreateAcl'];
/** On the ACL's ARN and each member user's ARN: UpdateAcl is authorized on all of them. */
export const MEMORYDB_ACL_MEMBER_ACTIONS = ['memorydb:UpdateAcl'];

/** Rotation (`UserKeeper.rotate`): wait for `active`, set `[new, current]`; on the user's ARN. */
export const MEMORYDB_ROTATION_ACTIONS = ['memorydb:DescribeUsers', 'memorydb:UpdateUser', 'memorydb:ListTags'];

const LOWERCASE_ID = /^[a-z](?:-?[a-z0-9])*$/;

function checkLowercaseId(scope: Construct, property: string, value: string): void {
  checkId(scope, property, value);
  if (!Token.isUnresolved(value) && !LOWERCASE_ID.test(value)) {
    throw new Error(
      `${scope.node.path}: ${property} ${JSON.stringify(value)} must be lowercase: MemoryDB keeps names in lowercase, ` +
        'and IAM compares the ARNs the grants name case-sensitively',
    );
  }
}

function memoryDbArn(scope: Construct, resource: 'user' | 'acl', name: string): string {
  return Stack.of(scope).formatArn({
    service: 'memorydb',
    resource,
    resourceName: name,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/** The users built here, by their `userName` (Ref) token, for the ACLs' member grants. */
const USERS_BY_REF = new Map<string, MemoryDbUser>();

/**
 * `Custom::MemoryDBUser`: a MemoryDB user.
 *
 * With `userKeeper`, grants its function (in the shared grants of its stack) the user actions
 * on this user's ARN, CreateUser only for requests carrying the ownership tags of this
 * resource's stack, and `secretsmanager:GetSecretValue` on `passwordSecret`.
 * `userKeeper.rotate(user)` rotates `passwordSecret`.
 */
export class MemoryDbUser extends Construct implements IRotatableUser {
  public static readonly RESOURCE_TYPE = 'Custom::MemoryDBUser';

  /** `Ref`: the UserName (a reference: using it orders creation after this user). */
  public readonly userName: string;
  /** `Fn::GetAtt Arn`. */
  public readonly attrArn: string;
  /** `Fn::GetAtt UserName`. */
  public readonly attrUserName: string;
  /** `Fn::GetAtt Status` (`active` once created). */
  public readonly attrStatus: string;
  /** `Fn::GetAtt MinimumEngineVersion`: the cluster's engine needs at least this version. */
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

  constructor(scope: Construct, id: string, props: MemoryDbUserProps) {
    super(scope, id);
    const serviceToken = serviceTokenOf(this, props);
    checkLowercaseId(this, 'userName', props.userName);
    const type = props.authenticationType;
    if (type === MemoryDbAuthenticationType.IAM && props.passwordSecret) {
      throw new Error(`${this.node.path}: authenticationType iam takes no passwordSecret`);
    }
    if (type !== MemoryDbAuthenticationType.IAM && !props.passwordSecret) {
      throw new Error(
        `${this.node.path}: say how the user authenticates: passwordSecret, or authenticationType iam`,
      );
    }

    this.userArn = memoryDbArn(this, 'user', props.userName);
    this.passwordSecret = props.passwordSecret;
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken,
      serviceTimeout: props.serviceTimeout ?? DEFAULT_SERVICE_TIMEOUT,
      resourceType: MemoryDbUser.RESOURCE_TYPE,
      properties: {
        UserName: props.userName,
        AccessString: props.accessString,
        AuthenticationMode: type === undefined ? undefined : { Type: type },
        PasswordSecretArn: props.passwordSecret?.secretArn,
        KeepPreviousPassword: flagProperty(props.keepPreviousPassword),
        Tags: renderTags(this, props.tags),
        Adopt: flagProperty(props.adopt),
      },
    });

    const keeper = props.userKeeper;
    if (keeper) {
      this.grants = [
        new iam.PolicyStatement({ actions: MEMORYDB_USER_ACTIONS, resources: [this.userArn] }),
        new iam.PolicyStatement({
          actions: MEMORYDB_CREATE_USER_ACTIONS,
          resources: ['*'],
          conditions: ownershipTagCondition(this.resource),
        }),
        ...(props.passwordSecret ? keeper.readPasswordStatements(this, props.passwordSecret) : []),
      ];
      keeper.grant(this.resource, this.grants);
    }

    this.userName = this.resource.ref;
    USERS_BY_REF.set(this.userName, this);
    this.attrArn = this.resource.getAttString('Arn');
    this.attrUserName = this.resource.getAttString('UserName');
    this.attrStatus = this.resource.getAttString('Status');
    this.attrMinimumEngineVersion = this.resource.getAttString('MinimumEngineVersion');
  }

  /** Rotation needs DescribeUsers and UpdateUser on this user's ARN, and ListTags to read the secret the user is bound to. */
  public rotationStatements(options: RotationGrantOptions): iam.PolicyStatement[] {
    if (options.reboot) {
      throw new Error(`${this.node.path}: reboot is for Amazon MQ users only`);
    }
    return [new iam.PolicyStatement({ actions: MEMORYDB_ROTATION_ACTIONS, resources: [this.userArn] })];
  }
}

/**
 * `Custom::MemoryDBACL`: a MemoryDB access control list.
 *
 * With `userKeeper`, grants its function (in the shared grants of its stack) the ACL actions
 * on this ACL's ARN, and CreateAcl (only for requests carrying its stack's ownership tags) and UpdateAcl
 * on this ACL's ARN and the ARNs of the users it names (MemoryDB authorizes UpdateAcl on the
 * ACL and its members; CreateAcl on the members per the Service Authorization Reference, on
 * the ACL per the MemoryDB Developer Guide: both are granted).
 */
export class MemoryDbAcl extends Construct {
  public static readonly RESOURCE_TYPE = 'Custom::MemoryDBACL';

  /** `Ref`: the ACLName. */
  public readonly aclName: string;
  /** `Fn::GetAtt Arn`. */
  public readonly attrArn: string;
  /** `Fn::GetAtt ACLName`: give it to the cluster (`AWS::MemoryDB::Cluster` `ACLName`). */
  public readonly attrAclName: string;
  /** `Fn::GetAtt Status`. */
  public readonly attrStatus: string;
  public readonly aclArn: string;
  public readonly resource: CustomResource;
  /**
   * What this resource is granted (with `userKeeper` only), in the shared grants of its stack
   * (`UserKeeperGrants`).
   */
  public readonly grants?: iam.PolicyStatement[];

  constructor(scope: Construct, id: string, props: MemoryDbAclProps) {
    super(scope, id);
    const serviceToken = serviceTokenOf(this, props);
    checkLowercaseId(this, 'aclName', props.aclName);
    if (props.userNames.length === 0) {
      throw new Error(`${this.node.path}: userNames needs at least one user (MemoryDB adds \`default\` itself)`);
    }
    props.userNames.forEach((u) => checkLowercaseId(this, 'userNames', u));

    this.aclArn = memoryDbArn(this, 'acl', props.aclName);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken,
      serviceTimeout: props.serviceTimeout ?? DEFAULT_SERVICE_TIMEOUT,
      resourceType: MemoryDbAcl.RESOURCE_TYPE,
      properties: {
        ACLName: props.aclName,
        UserNames: props.userNames,
        Tags: renderTags(this, props.tags),
        Adopt: flagProperty(props.adopt),
      },
    });

    const keeper = props.userKeeper;
    if (keeper) {
      // A MemoryDbUser's Ref maps to the ARN it will have; any other value is used as is.
      const members = props.userNames.map((u) => USERS_BY_REF.get(u)?.userArn ?? memoryDbArn(this, 'user', u));
      this.grants = [
        new iam.PolicyStatement({ actions: MEMORYDB_ACL_ACTIONS, resources: [this.aclArn] }),
        // The ACL and its members, in one statement each: safe on both readings of CreateAcl
        // (see MEMORYDB_ACL_CREATE_ACTIONS), and what UpdateAcl is authorized on.
        new iam.PolicyStatement({
          actions: MEMORYDB_ACL_CREATE_ACTIONS,
          resources: [this.aclArn, ...members],
          conditions: ownershipTagCondition(this.resource),
        }),
        new iam.PolicyStatement({ actions: MEMORYDB_ACL_MEMBER_ACTIONS, resources: [this.aclArn, ...members] }),
      ];
      keeper.grant(this.resource, this.grants);
    }

    this.aclName = this.resource.ref;
    this.attrArn = this.resource.getAttString('Arn');
    this.attrAclName = this.resource.getAttString('ACLName');
    this.attrStatus = this.resource.getAttString('Status');
  }
}
