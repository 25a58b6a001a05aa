import { Validations } from 'aws-cdk-lib';
import type { HttpRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import { CfnPermission, type IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';

/**
 * The AWS Control Tower proactive controls (`@cdklabs/cdk-validator-cfnguard`) that a webhook
 * receiver does not meet by design. Each is acknowledged only on the resources it concerns, with
 * its reason, so a finding anywhere else still fails the check; the rules it can meet (log
 * retention, bucket encryption, a dead-letter queue for every consumed queue) are met, never
 * acknowledged.
 */
export type GuardRule =
  | 'api_gw_v2_authorization_type_configured_check'
  | 'lambda_function_public_access_prohibited_check'
  | 'lambda_function_url_auth_check'
  | 'lambda_inside_vpc_check'
  | 'cloudwatch_log_group_encrypted_check'
  | 's3_bucket_versioning_enabled_check'
  | 's3_bucket_logging_enabled_check'
  | 's3_event_notifications_enabled_check'
  | 's3_bucket_object_lock_enabled_check';

/** The plugin's name, which CDK puts before each of its rule names. */
const GUARD_NAMESPACE = 'cdk-validator-cfnguard';

/** The reasons shared by several resources. */
export const GUARD_REASONS = {
  signedDeliveries:
    "Webhook senders cannot present IAM, JWT or authorizer credentials: the receiver authenticates every delivery by its provider's HMAC signature over the raw body (401 otherwise), before any parsing or I/O.",
  noVpc:
    'The functions reach only AWS service endpoints and, for Together, its public HTTPS API; a VPC would add NAT or an endpoint per service and cold-start time, and no boundary IAM does not already draw.',
  logKey:
    'CloudWatch Logs encrypts every log group at rest; the lines hold ids, addresses, statuses and errors, never payloads or secrets, so a customer managed key would add a key policy and a monthly charge per deployment to protect nothing more.',
} as const;

/** Acknowledges one Control Tower rule on `scope` and everything under it. */
export function acknowledgeGuardRule(scope: IConstruct, rule: GuardRule, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${GUARD_NAMESPACE}::${rule}`, reason });
}

/** The webhook route: no authorizer, and the integration's permission, which the rule cannot read. */
export function acknowledgeWebhookRoute(route: HttpRoute): void {
  acknowledgeGuardRule(route, 'api_gw_v2_authorization_type_configured_check', GUARD_REASONS.signedDeliveries);
  acknowledgeGuardRule(
    route,
    'lambda_function_public_access_prohibited_check',
    "The permission names API Gateway and this API's own execute-api ARN as SourceArn; the rule reads only a literal string or a Ref there, not the Fn::Join the ARN is built with.",
  );
}

/** A function URL with `authType: NONE`: the URL and the two permissions that make it public. */
export function acknowledgePublicFunctionUrl(fn: IFunction, url: IConstruct): void {
  acknowledgeGuardRule(url, 'lambda_function_url_auth_check', GUARD_REASONS.signedDeliveries);
  for (const child of fn.node.children) {
    if (!(child instanceof CfnPermission)) continue;
    if (child.functionUrlAuthType === 'NONE' || child.invokedViaFunctionUrl === true) {
      acknowledgeGuardRule(child, 'lambda_function_public_access_prohibited_check', `Anyone may call the webhook URL, as senders must. ${GUARD_REASONS.signedDeliveries}`);
    }
  }
}
