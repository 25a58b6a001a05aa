import type { RemovalPolicy } from 'aws-cdk-lib';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { ID_ONLY_ROUTES } from '../../functions/core/providers/openai';
import type { Route } from '../../functions/core/routes';
import type { BundledFunction } from './bundled-function';
import { createProviderApiKeySecret, OPENAI_API_KEY } from './provider-api-key';

/** The routes OpenAI's events are completed on from its API: those its event types are routed to. */
export const OPENAI_ENRICHED_ROUTES: readonly Route[] = [...new Set(Object.values(ID_ONLY_ROUTES))];

/** Properties of {@link createOpenAiApiKey}. */
export interface OpenAiApiKeyProps {
  /** Every route's consumer; only those of {@link OPENAI_ENRICHED_ROUTES} are given the key. */
  readonly consumers: Readonly<Record<Route, BundledFunction>>;
  /** `OPENAI_API_BASE_URL` of those consumers; checked by the settings. */
  readonly baseUrl?: string;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The secret for the OpenAI API key (created blank), readable by the consumers of the routes
 * OpenAI's events are completed on, and by no other function; those consumers get its ARN in
 * `OPENAI_API_KEY_SECRET_ARN`, which turns their enricher on.
 */
export function createOpenAiApiKey(scope: Construct, id: string, props: OpenAiApiKeyProps): Secret {
  const secret = createProviderApiKeySecret(scope, id, OPENAI_API_KEY, props.removalPolicy);
  for (const route of OPENAI_ENRICHED_ROUTES) {
    const handler = props.consumers[route].handler;
    secret.grantRead(handler);
    handler.addEnvironment('OPENAI_API_KEY_SECRET_ARN', secret.secretArn);
    if (props.baseUrl !== undefined) handler.addEnvironment('OPENAI_API_BASE_URL', props.baseUrl);
  }
  return secret;
}
