import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { clientConfig } from './aws';
import { credentialUrlProblem } from './credential-url';
import { ConfigurationError, DependencyError } from './errors';
import { SECRET_CACHE_SECONDS } from './secrets';

/**
 * The configuration every provider API client reads the same way (Together's for the poller and
 * the batch copy, OpenAI's for the enricher): a base URL that may carry the key, and the key itself,
 * from a Secrets Manager secret in AWS or a plain variable locally.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** Where an API key comes from: a Secrets Manager secret in AWS, the variable itself locally. */
export type ApiKeySource = { readonly secretArn: string } | { readonly value: string };

/** How one provider's API names its variables. */
export interface ApiVariables {
  /** As messages write it: `Together`, `OpenAI`. */
  readonly provider: string;
  /** `TOGETHER_API_BASE_URL`. */
  readonly baseUrlVariable: string;
  readonly defaultBaseUrl: string;
  /** `TOGETHER_API_KEY` (the local runtime's); the secret's is this with `_SECRET_ARN`. */
  readonly keyVariable: string;
}

/**
 * The base URL without a trailing slash, or the provider's public API when unset. It must be https
 * (plain http only to loopback), since every request carries the API key. Throws
 * {@link ConfigurationError} naming the variable.
 */
export function readApiBaseUrl(env: Env, names: ApiVariables): string {
  const raw = env[names.baseUrlVariable]?.trim();
  if (raw === undefined || raw === '') return names.defaultBaseUrl;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigurationError(`${names.baseUrlVariable} must be an absolute URL such as ${names.defaultBaseUrl}, got "${raw}"`);
  }
  const problem = credentialUrlProblem(url, names.baseUrlVariable, raw);
  if (problem !== undefined) {
    throw new ConfigurationError(
      `${problem}: every request to it carries the ${names.provider} API key, which must not cross a network in clear text; ` +
        `set it to ${names.defaultBaseUrl} (or unset it), or to a stand-in on this machine`,
    );
  }
  return raw.replace(/\/+$/, '');
}

/** Where the key comes from: `{KEY}_SECRET_ARN`, else (locally) `{KEY}`; undefined when neither is set. */
export function findApiKeySource(env: Env, names: Pick<ApiVariables, 'keyVariable'>): ApiKeySource | undefined {
  const arn = env[`${names.keyVariable}_SECRET_ARN`]?.trim();
  if (arn !== undefined && arn !== '') return { secretArn: arn };
  const value = env[names.keyVariable]?.trim();
  if (value !== undefined && value !== '') return { value };
  return undefined;
}

/** {@link findApiKeySource}, throwing {@link ConfigurationError} naming both variables when neither is set. */
export function readApiKeySourceOf(env: Env, names: Pick<ApiVariables, 'keyVariable'>): ApiKeySource {
  const source = findApiKeySource(env, names);
  if (source !== undefined) return source;
  throw new ConfigurationError(
    `environment variable ${names.keyVariable}_SECRET_ARN is required but not set (in the local runtime, set ${names.keyVariable} instead)`,
  );
}

/**
 * The API key, cached for {@link SECRET_CACHE_SECONDS} by Powertools Parameters when it lives in
 * Secrets Manager (a plain-string secret), so a rotated key takes effect within that time.
 */
export function createApiKeyReaderOf(
  source: ApiKeySource,
  names: Pick<ApiVariables, 'provider' | 'keyVariable'>,
  secretsClient?: SecretsManagerClient,
): () => Promise<string> {
  if ('value' in source) return async () => source.value;
  const secrets = new SecretsProvider({ awsSdkV3Client: secretsClient ?? new SecretsManagerClient(clientConfig()) });
  return async () => {
    let value: unknown;
    try {
      value = await secrets.get(source.secretArn, { maxAge: SECRET_CACHE_SECONDS });
    } catch (error) {
      throw new DependencyError(`could not read the ${names.provider} API key from Secrets Manager`, 'secrets_unavailable', { cause: error });
    }
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ConfigurationError(
        `the secret ${names.keyVariable}_SECRET_ARN names is empty; store the ${names.provider} API key in it as a plain string`,
      );
    }
    return value.trim();
  };
}
