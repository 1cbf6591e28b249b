// cdk-nag's AwsSolutions pack flags every `Resource: *` (AwsSolutions-IAM5). userkeeper grants
// `*` only where AWS authorizes an action on no resource ARN; those findings are acknowledged
// here, each with AWS's reason, in the metadata both cdk-nag 3 (construct metadata
// `aws:cdk:acknowledged-rules`) and cdk-nag 2 (the resource's `cdk_nag` metadata) read, so the
// library depends on neither. A `*` for any other action is left for cdk-nag to report.
import { CfnResource } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';

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

const RULE = 'AwsSolutions-IAM5';
const FINDING = 'Resource::*';

/**
 * Acknowledges AwsSolutions-IAM5 `Resource::*` on `owner` (a policy or role holding
 * `statements`) when every action granted on `*` there is one AWS authorizes on `*` only.
 */
export function suppressAwsRequiredWildcards(owner: IConstruct, statements: iam.PolicyStatement[]): void {
  const onStar = statements.filter((s) => s.resources.includes('*')).flatMap((s) => s.actions.map((a) => a.toLowerCase()));
  if (onStar.length === 0 || !onStar.every((a) => a in WILDCARD_REASONS)) {
    return;
  }
  const reason = [...new Set(onStar.map((a) => WILDCARD_REASONS[a]))].join('. ');
  const resource = (owner instanceof CfnResource ? owner : owner.node.defaultChild) as CfnResource;
  resource.node.addMetadata('aws:cdk:acknowledged-rules', { [`${RULE}[${FINDING}]`]: reason });
  const v2 = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined)?.rules_to_suppress ?? [];
  resource.addMetadata('cdk_nag', { rules_to_suppress: [...v2, { id: RULE, reason, applies_to: [FINDING] }] });
}
