// cdk-nag's AwsSolutions pack flags every resource with a `*` (AwsSolutions-IAM5). userkeeper
// grants `*` only where AWS authorizes an action on no resource ARN, and "any secret of this
// account" only under a condition naming this function (the secrets made for it, one statement
// for all of them so that the grants do not grow with the users). Those findings are
// acknowledged here, each with its reason, in the metadata both cdk-nag 3 (construct metadata
// `aws:cdk:acknowledged-rules`) and cdk-nag 2 (the resource's `cdk_nag` metadata) read, so the
// library depends on neither. Any other `*` is left for cdk-nag to report.
import { CfnResource, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';
import { PASSWORD_SECRET_TAG, ROTATION_FUNCTION_KEY } from './common';

const NO_RESOURCE_TYPE = 'has no resource type in the Service Authorization Reference: IAM matches it against * only';
const LAMBDA_VPC =
  'Lambda creates its VPC network interfaces itself, in subnets and with ids it picks, and the EC2 Describe calls have no resource type: ' +
  "AWS's own AWSLambdaVPCAccessExecutionRole grants these on * too";

/** Why `*` is the only resource each action can be granted on (lowercase action names). */
const WILDCARD_REASONS: Record<string, string> = {
  'secretsmanager:getrandompassword': `secretsmanager:GetRandomPassword ${NO_RESOURCE_TYPE}; it touches no resource (AWS's own rotation functions grant it on * too)`,
  'memorydb:createuser': `memorydb:CreateUser ${NO_RESOURCE_TYPE}; the statement holds only for requests carrying this resource's userkeeper ownership tags (aws:RequestTag condition)`,
  'ec2:createnetworkinterface': LAMBDA_VPC,
  'ec2:describenetworkinterfaces': LAMBDA_VPC,
  'ec2:describesubnets': LAMBDA_VPC,
  'ec2:deletenetworkinterface': LAMBDA_VPC,
  'ec2:assignprivateipaddresses': LAMBDA_VPC,
  'ec2:unassignprivateipaddresses': LAMBDA_VPC,
};

/** Why "any secret" holds for the secrets of this function only, by the condition key naming it. */
const SECRET_CONDITION_REASONS: Record<string, string> = {
  [`aws:ResourceTag/${PASSWORD_SECRET_TAG}`]:
    `only secrets tagged ${PASSWORD_SECRET_TAG} = this function's ARN (aws:ResourceTag condition), the tag this app puts on the secrets it made for userkeeper`,
  [ROTATION_FUNCTION_KEY]: `only secrets whose rotation function is this function (${ROTATION_FUNCTION_KEY} condition)`,
};
/** Any secret of one account and region, as cdk-nag flattens it (`<AWS::Region>` for a Ref). */
const SEGMENT = '(?:<AWS::[A-Za-z]+>|[a-z0-9-]+)';
const ANY_SECRET = new RegExp(`^arn:${SEGMENT}:secretsmanager:${SEGMENT}:${SEGMENT}:secret:\\*$`);

const RULE = 'AwsSolutions-IAM5';

/**
 * Acknowledges each AwsSolutions-IAM5 `Resource::...` finding of `owner` (a policy or role
 * holding `statements`) that AWS requires: `*` when every action granted on it is one AWS
 * authorizes on `*` only; any secret of the account when every statement on it is conditioned
 * on this function's tag or rotation. The others stay findings.
 */
export function suppressAwsRequiredWildcards(owner: IConstruct, statements: iam.PolicyStatement[]): void {
  const resource = (owner instanceof CfnResource ? owner : owner.node.defaultChild) as CfnResource;
  const stack = Stack.of(resource);
  const onResource = new Map<string, iam.PolicyStatement[]>();
  for (const s of statements) {
    for (const r of s.resources) {
      const flat = flatten(stack.resolve(r));
      if (flat.includes('*')) onResource.set(flat, [...(onResource.get(flat) ?? []), s]);
    }
  }
  const acks: Array<[string, string]> = [];
  for (const [flat, granting] of onResource) {
    const reason = flat === '*' ? starReason(granting) : ANY_SECRET.test(flat) ? anySecretReason(granting) : undefined;
    if (reason !== undefined) acks.push([`Resource::${flat}`, reason]);
  }
  if (acks.length === 0) {
    return;
  }
  resource.node.addMetadata('aws:cdk:acknowledged-rules', Object.fromEntries(acks.map(([f, reason]) => [`${RULE}[${f}]`, reason])));
  const v2 = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined)?.rules_to_suppress ?? [];
  resource.addMetadata('cdk_nag', {
    rules_to_suppress: [...v2, ...acks.map(([f, reason]) => ({ id: RULE, reason, applies_to: [f] }))],
  });
}

function starReason(granting: iam.PolicyStatement[]): string | undefined {
  const actions = granting.flatMap((s) => s.actions.map((a) => a.toLowerCase()));
  return actions.every((a) => a in WILDCARD_REASONS) ? [...new Set(actions.map((a) => WILDCARD_REASONS[a]))].join('. ') : undefined;
}

function anySecretReason(granting: iam.PolicyStatement[]): string | undefined {
  const keys = granting.map((s) => Object.keys(s.conditions?.StringEquals ?? {}).find((k) => k in SECRET_CONDITION_REASONS));
  if (keys.some((k) => k === undefined)) {
    return undefined;
  }
  const why = [...new Set(keys.map((k) => SECRET_CONDITION_REASONS[k!]))].join(', or ');
  return `any secret of this account and region, but ${why}: one statement for every secret, so that the grants do not grow with the users`;
}

/** A resolved resource as cdk-nag names it in a finding (its flattenCfnReference). */
function flatten(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v.replace(/\$\{/g, '<').replace(/}/g, '>');
  const o = v as Record<string, any>;
  if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(flatten).join(o['Fn::Join'][0]);
  if (o['Fn::Sub']) return flatten(o['Fn::Sub']);
  if (o['Fn::GetAtt']) return `<${flatten(o['Fn::GetAtt'][0])}.${flatten(o['Fn::GetAtt'][1])}>`;
  if (o['Fn::ImportValue']) return flatten(o['Fn::ImportValue']);
  if (o.Ref) return `<${flatten(o.Ref)}>`;
  return JSON.stringify(v);
}
