import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { clientConfig } from './aws';
import { ConfigurationError } from './errors';
import type { ProviderName } from './event';
import { PROVIDERS } from './providers';
import { parseSecretList } from './config';

/** How long a secret list is cached before Secrets Manager is asked again: rotation takes effect within this. */
export const SECRET_CACHE_SECONDS = 300;

export type SecretsReader = (provider: ProviderName) => Promise<readonly string[]>;

/**
 * Signing secrets per provider. In AWS, `SECRET_ARNS` (JSON provider → secret ARN) names one
 * Secrets Manager secret per provider, holding a JSON array of active secrets; values are cached
 * by Powertools Parameters. Without `SECRET_ARNS` (local runtime), each provider's
 * `{NAME}_WEBHOOK_SECRET` variable holds a comma-separated list.
 */
export function createSecretsReader(env: Readonly<Record<string, string | undefined>>, providers: readonly ProviderName[]): SecretsReader {
  const arnsJson = env.SECRET_ARNS;
  if (arnsJson === undefined || arnsJson.trim() === '') {
    const lists = new Map(providers.map((name) => [name, parseSecretList(env[PROVIDERS[name].secretEnv])]));
    return async (provider) => lists.get(provider) ?? [];
  }
  let arns: Record<string, string | undefined>;
  try {
    arns = JSON.parse(arnsJson) as Record<string, string | undefined>;
  } catch {
    throw new ConfigurationError('SECRET_ARNS must be a JSON object of provider → secret ARN');
  }
  if (typeof arns !== 'object' || arns === null || Array.isArray(arns)) {
    throw new ConfigurationError('SECRET_ARNS must be a JSON object of provider → secret ARN');
  }
  const missing = providers.filter((name) => !arns[name]);
  if (missing.length > 0) throw new ConfigurationError(`SECRET_ARNS has no secret for: ${missing.join(', ')}`);
  const secrets = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(clientConfig()) });
  return async (provider) => {
    const value = await secrets.get(arns[provider] as string, { maxAge: SECRET_CACHE_SECONDS });
    return parseSecretList(typeof value === 'string' ? value : undefined);
  };
}
