import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { acceptDepsFor, acceptEvent, type AcceptSettings } from '../core/accept';
import { createApiKeyReaderOf, readApiBaseUrl, readApiKeySourceOf, type ApiKeySource, type ApiVariables } from '../core/api-config';
import { integerEnv, readAcceptSettings, requireEnv } from '../core/config';
import type { ConfigurationError } from '../core/errors';
import type { SECRET_CACHE_SECONDS } from '../core/secrets';
import { DEFAULT_POLL_LIMITS, pollTogether, type PollLimits, type PollSummary } from './poll';
import { createPollerStateStore } from './state';
import { DEFAULT_RETRY_POLICY, DEFAULT_TOGETHER_API_BASE_URL, createTogetherApi, type RetryNotice, type RetryPolicy } from './together-api';

type Env = Readonly<Record<string, string | undefined>>;

export type { ApiKeySource } from '../core/api-config';

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

/** Together's variables, for the readers every provider's API client shares. */
export const TOGETHER_API_VARIABLES: ApiVariables = {
  provider: 'Together',
  baseUrlVariable: 'TOGETHER_API_BASE_URL',
  defaultBaseUrl: DEFAULT_TOGETHER_API_BASE_URL,
  keyVariable: 'TOGETHER_API_KEY',
};

/**
 * `TOGETHER_API_BASE_URL` without a trailing slash, or Together's public API when unset. The poller
 * and the batch copy both read it; it must be https (plain http only to loopback), since every
 * request carries the API key. Throws {@link ConfigurationError} naming the variable.
 */
export function readBaseUrl(env: Env): string {
  return readApiBaseUrl(env, TOGETHER_API_VARIABLES);
}

/** Where the Together API key comes from: `TOGETHER_API_KEY_SECRET_ARN`, else (locally) `TOGETHER_API_KEY`. */
export function readApiKeySource(env: Env): ApiKeySource {
  return readApiKeySourceOf(env, TOGETHER_API_VARIABLES);
}

/**
 * The Together API key, cached for {@link SECRET_CACHE_SECONDS} by Powertools Parameters when it
 * lives in Secrets Manager (a plain-string secret), so a rotated key takes effect within that time.
 */
export function createApiKeyReader(source: ApiKeySource, secretsClient?: SecretsManagerClient): () => Promise<string> {
  return createApiKeyReaderOf(source, TOGETHER_API_VARIABLES, secretsClient);
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
