import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { isRoute, ROUTES, type Route } from '../../functions/core/routes';

/*
 * Settings for the user's own consumer steps (the construct's `steps` module): variables,
 * secrets and grants on the consumers of chosen routes. `WebhookReceiver` exposes them as methods.
 */

/** Variables the consumers set themselves: an extension may read them, never replace them. */
export const CONSUMER_VARIABLES = ['ROUTE', 'TABLE_NAME', 'JOBS_TABLE_NAME', 'JOB_HISTORY_TABLE_NAME', 'ALERTS_TOPIC_ARN', 'RETENTION_DAYS', 'EVENT_BUS_NAME'] as const;

/** Prefixes Lambda or Powertools own (`AWS_REGION`, `_HANDLER`, `POWERTOOLS_SERVICE_NAME`, …). */
const RESERVED_PREFIXES = ['AWS_', 'LAMBDA_', '_', 'POWERTOOLS_'] as const;

const VARIABLE_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** One route or several, checked against `ROUTES`, as a list. */
export function routeList(routes: Route | readonly Route[], what: string): readonly Route[] {
  const list: readonly Route[] = typeof routes === 'string' ? [routes] : routes;
  if (list.length === 0) throw new Error(`${what} needs at least one route, e.g. 'fine_tune.completed'`);
  for (const route of list) {
    if (!isRoute(route)) throw new Error(`${what}: "${String(route)}" is not a route; routes are ${ROUTES.join(', ')}`);
  }
  return list;
}

/** Throws unless `name` is a variable an extension may set. */
export function checkVariableName(name: string, what: string): void {
  if (!VARIABLE_NAME.test(name)) {
    throw new Error(`${what}: "${name}" is not a usable variable name (letters, digits and _, starting with a letter)`);
  }
  if ((CONSUMER_VARIABLES as readonly string[]).includes(name)) {
    throw new Error(`${what}: ${name} is set by the consumer itself; choose another name`);
  }
  const prefix = RESERVED_PREFIXES.find((reserved) => name.startsWith(reserved));
  if (prefix !== undefined) throw new Error(`${what}: names starting with ${prefix} belong to Lambda or Powertools; choose another name for ${name}`);
}

/** Sets the variables on each consumer. */
export function addEnvironment(consumers: readonly LambdaFunction[], variables: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(variables)) checkVariableName(name, 'addConsumerEnvironment');
  for (const consumer of consumers) {
    for (const [name, value] of Object.entries(variables)) consumer.addEnvironment(name, value);
  }
}

/**
 * Lets each consumer read `secret` and puts its ARN (never its value) in `variable`: a step reads
 * the value at run time, e.g. with Powertools' `getSecret(process.env[variable])`, cached.
 */
export function addSecret(consumers: readonly LambdaFunction[], variable: string, secret: ISecret): void {
  checkVariableName(variable, 'addConsumerSecret');
  for (const consumer of consumers) {
    secret.grantRead(consumer);
    consumer.addEnvironment(variable, secret.secretArn);
  }
}
