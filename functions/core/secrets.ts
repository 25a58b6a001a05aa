import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Logger } from '@aws-lambda-powertools/logger';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { clientConfig } from './aws';
import { ConfigurationError, SecretInvalidError } from './errors';
import type { ProviderName } from './event';
import { PROVIDERS } from './providers';
import { readSecretList, type EnabledProvider } from './config';

/** How long a secret list is cached before Secrets Manager is asked again: rotation takes effect within this. */
export const SECRET_CACHE_SECONDS = 300;

export type SecretsReader = (provider: ProviderName) => Promise<readonly string[]>;

export interface SecretsReaderOptions {
  /** Where a refused secret is reported: one line per refresh, naming the secret, never its value. */
  readonly logger?: Pick<Logger, 'error'>;
  /** Epoch milliseconds; tests move it past a refresh. */
  readonly clock?: () => number;
  /** Reads a secret's stored value; Secrets Manager (through Powertools' cache) unless given. */
  readonly fetchSecret?: (arn: string) => Promise<unknown>;
}

/**
 * Signing secrets per provider, each checked for the provider's signature scheme (an empty key,
 * or a `standard` key that is not 24–64 bytes of base64, is refused: see `secretProblem`).
 *
 * In AWS, `SECRET_ARNS` (JSON provider → secret ARN) names one Secrets Manager secret per
 * provider, holding a JSON array of active secrets (or a comma list); values are cached by
 * Powertools Parameters. A refused value makes every read throw {@link SecretInvalidError}
 * (503 `secret_invalid`) and is logged once per refresh, not once per request.
 *
 * Without `SECRET_ARNS` (local runtime), each provider's `{NAME}_WEBHOOK_SECRET` variable holds
 * the list, and a refused one throws a {@link ConfigurationError} here, before anything listens.
 */
export function createSecretsReader(
  env: Readonly<Record<string, string | undefined>>,
  providers: ReadonlyMap<ProviderName, EnabledProvider>,
  options: SecretsReaderOptions = {},
): SecretsReader {
  const arnsJson = env.SECRET_ARNS;
  if (arnsJson === undefined || arnsJson.trim() === '') {
    const lists = new Map(
      [...providers].map(([name, { spec }]) => {
        const variable = PROVIDERS[name].secretEnv;
        return [name, readSecretList(env[variable], spec.scheme, `${variable} (${name})`)];
      }),
    );
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
  const missing = [...providers.keys()].filter((name) => !arns[name]);
  if (missing.length > 0) throw new ConfigurationError(`SECRET_ARNS has no secret for: ${missing.join(', ')}`);

  const fetchSecret = options.fetchSecret ?? secretsManagerFetch();
  const clock = options.clock ?? Date.now;
  // The outcome of checking each provider's value, kept until the value changes or a refresh is
  // due: the check (and its log line) runs once per refresh, not on every request.
  const checked = new Map<ProviderName, { value: unknown; recheckAtMs: number; outcome: readonly string[] | SecretInvalidError }>();
  return async (provider) => {
    const arn = arns[provider];
    const enabled = providers.get(provider);
    if (arn === undefined || enabled === undefined) return [];
    const value = await fetchSecret(arn);
    const nowMs = clock();
    let entry = checked.get(provider);
    if (entry === undefined || entry.value !== value || nowMs >= entry.recheckAtMs) {
      entry = { value, recheckAtMs: nowMs + SECRET_CACHE_SECONDS * 1000, outcome: checkSecret(provider, enabled, arn, value, options.logger) };
      checked.set(provider, entry);
    }
    if (entry.outcome instanceof SecretInvalidError) throw entry.outcome;
    return entry.outcome;
  };
}

function secretsManagerFetch(): (arn: string) => Promise<unknown> {
  const secrets = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(clientConfig()) });
  return (arn) => secrets.get(arn, { maxAge: SECRET_CACHE_SECONDS });
}

function checkSecret(
  provider: ProviderName,
  enabled: EnabledProvider,
  arn: string,
  value: unknown,
  logger: Pick<Logger, 'error'> | undefined,
): readonly string[] | SecretInvalidError {
  try {
    return readSecretList(value, enabled.spec.scheme, `secret ${arn} (${provider})`);
  } catch (error) {
    // Stryker disable next-line ConditionalExpression: readSecretList throws nothing but ConfigurationError
    if (!(error instanceof ConfigurationError)) throw error;
    logger?.error('signing secret refused', { provider, secret: arn, reason: 'secret_invalid', detail: error.message });
    return new SecretInvalidError(`the signing secret of ${provider} is refused: see the "signing secret refused" log line`);
  }
}
