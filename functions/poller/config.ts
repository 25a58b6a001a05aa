import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { acceptDepsFor, acceptEvent, type AcceptSettings } from '../core/accept';
import { clientConfig } from '../core/aws';
import { integerEnv, readAcceptSettings, requireEnv } from '../core/config';
import { credentialUrlProblem } from '../core/credential-url';
import { ConfigurationError, DependencyError } from '../core/errors';
import { SECRET_CACHE_SECONDS } from '../core/secrets';
import { DEFAULT_POLL_LIMITS, pollTogether, type PollLimits, type PollSummary } from './poll';
import { createPollerStateStore } from './state';
import { DEFAULT_RETRY_POLICY, DEFAULT_TOGETHER_API_BASE_URL, createTogetherApi, type RetryNotice, type RetryPolicy } from './together-api';

type Env = Readonly<Record<string, string | undefined>>;

/** Where the API key comes from: a Secrets Manager secret in AWS, the variable itself locally. */
export type ApiKeySource = { readonly secretArn: string } | { readonly value: string };

/** The poller's whole configuration, read once at start-up. */
export interface PollerConfig extends AcceptSettings {
  readonly pollerTableName: string;
  readonly baseUrl: string;
  readonly apiKey: ApiKeySource;
  readonly limits: PollLimits;
  readonly retry: RetryPolicy;
}

/**
 * Reads `TABLE_NAME`, `QUEUE_URLS`, `POLLER_TABLE_NAME`, `TOGETHER_API_KEY_SECRET_ARN` (or, in the
 * local runtime, `TOGETHER_API_KEY`), and the optional `TOGETHER_API_BASE_URL`, `RETENTION_DAYS`,
 * `LEASE_SECONDS`, `POLL_MAX_JOBS_PER_RUN`, `POLL_TIME_BUDGET_SECONDS`, `POLL_BACKFILL_HOURS`,
 * `TOGETHER_REQUEST_TIMEOUT_SECONDS`, `TOGETHER_MAX_ATTEMPTS`. Throws {@link ConfigurationError}
 * naming the variable.
 */
export function readPollerConfig(env: Env = process.env): PollerConfig {
  return {
    ...readAcceptSettings(env),
    pollerTableName: requireEnv(env, 'POLLER_TABLE_NAME'),
    baseUrl: readBaseUrl(env),
    apiKey: readApiKeySource(env),
    limits: {
      maxJobsPerRun: integerEnv(env, 'POLL_MAX_JOBS_PER_RUN', DEFAULT_POLL_LIMITS.maxJobsPerRun, 1, 1_000),
      timeBudgetMs: integerEnv(env, 'POLL_TIME_BUDGET_SECONDS', DEFAULT_POLL_LIMITS.timeBudgetMs / 1000, 1, 840) * 1000,
      backfillSeconds: integerEnv(env, 'POLL_BACKFILL_HOURS', DEFAULT_POLL_LIMITS.backfillSeconds / 3600, 0, 24 * 365) * 3600,
    },
    retry: {
      ...DEFAULT_RETRY_POLICY,
      requestTimeoutMs: integerEnv(env, 'TOGETHER_REQUEST_TIMEOUT_SECONDS', DEFAULT_RETRY_POLICY.requestTimeoutMs / 1000, 1, 60) * 1000,
      maxAttempts: integerEnv(env, 'TOGETHER_MAX_ATTEMPTS', DEFAULT_RETRY_POLICY.maxAttempts, 1, 10),
    },
  };
}

/**
 * `TOGETHER_API_BASE_URL` without a trailing slash, or Together's public API when unset. The poller
 * and the batch copy both read it; it must be https (plain http only to loopback), since every
 * request carries the API key. Throws {@link ConfigurationError} naming the variable.
 */
export function readBaseUrl(env: Env): string {
  const raw = env.TOGETHER_API_BASE_URL?.trim();
  if (raw === undefined || raw === '') return DEFAULT_TOGETHER_API_BASE_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigurationError(`TOGETHER_API_BASE_URL must be an absolute URL such as ${DEFAULT_TOGETHER_API_BASE_URL}, got "${raw}"`);
  }
  const problem = credentialUrlProblem(url, 'TOGETHER_API_BASE_URL', raw);
  if (problem !== undefined) {
    throw new ConfigurationError(
      `${problem}: every request to it carries the Together API key, which must not cross a network in clear text; ` +
        `set it to ${DEFAULT_TOGETHER_API_BASE_URL} (or unset it), or to a stand-in on this machine`,
    );
  }
  return raw.replace(/\/+$/, '');
}

/** Where the Together API key comes from: `TOGETHER_API_KEY_SECRET_ARN`, else (locally) `TOGETHER_API_KEY`. */
export function readApiKeySource(env: Env): ApiKeySource {
  const arn = env.TOGETHER_API_KEY_SECRET_ARN?.trim();
  if (arn !== undefined && arn !== '') return { secretArn: arn };
  const value = env.TOGETHER_API_KEY?.trim();
  if (value !== undefined && value !== '') return { value };
  throw new ConfigurationError(
    'environment variable TOGETHER_API_KEY_SECRET_ARN is required but not set (in the local runtime, set TOGETHER_API_KEY instead)',
  );
}

/**
 * The API key, cached for {@link SECRET_CACHE_SECONDS} by Powertools Parameters when it lives in
 * Secrets Manager (a plain-string secret), so a rotated key takes effect within that time.
 */
export function createApiKeyReader(source: ApiKeySource, secretsClient?: SecretsManagerClient): () => Promise<string> {
  if ('value' in source) return async () => source.value;
  const secrets = new SecretsProvider({ awsSdkV3Client: secretsClient ?? new SecretsManagerClient(clientConfig()) });
  return async () => {
    let value: unknown;
    try {
      value = await secrets.get(source.secretArn, { maxAge: SECRET_CACHE_SECONDS });
    } catch (error) {
      throw new DependencyError('could not read the Together API key from Secrets Manager', 'secrets_unavailable', { cause: error });
    }
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ConfigurationError('the secret TOGETHER_API_KEY_SECRET_ARN names is empty; store the Together API key in it as a plain string');
    }
    return value.trim();
  };
}

export interface PollerClients {
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly apiKey: () => Promise<string>;
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** Epoch milliseconds; tests move it. */
  readonly clock?: () => number;
  /** Backoff waits; tests pass one that does not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly fetch?: typeof fetch;
  readonly onRetry?: (notice: RetryNotice) => void;
}

/**
 * One poll run as deployed: configuration plus clients. Used by the Lambda handler and `npm start`
 * alike. Runs of one returned function must not overlap (neither a Lambda environment nor the
 * local timer overlaps them); separate pollers may.
 */
export function pollerFromConfig(config: PollerConfig, clients: PollerClients): () => Promise<PollSummary> {
  const clock = clients.clock ?? Date.now;
  const acceptDeps = acceptDepsFor(config, { ...clients, clock });
  let deadline: number | undefined;
  const api = createTogetherApi({
    baseUrl: config.baseUrl,
    deadline: () => deadline,
    apiKey: clients.apiKey,
    retry: config.retry,
    clock,
    ...(clients.sleep === undefined ? {} : { sleep: clients.sleep }),
    ...(clients.fetch === undefined ? {} : { fetch: clients.fetch }),
    ...(clients.onRetry === undefined ? {} : { onRetry: clients.onRetry }),
  });
  const state = createPollerStateStore(clients.documents, config.pollerTableName);
  return async () => {
    // Retries inside the run stop at the run's budget too, so a run ends within about
    // budget + one request timeout, whatever the API does.
    deadline = clock() + config.limits.timeBudgetMs;
    try {
      return await pollTogether(
        {
          api,
          accept: (event) => acceptEvent(acceptDeps, event),
          state,
          clock,
          ...(clients.logger === undefined ? {} : { logger: clients.logger }),
        },
        config.limits,
      );
    } finally {
      deadline = undefined;
    }
  };
}
