/**
 * Client settings for every AWS SDK client the functions create. A webhook sender waits at most
 * ~30 s, and a slow dependency must become a retryable 503 well before the function's own timeout,
 * so every call is bounded: 2 attempts of at most 2.5 s each.
 */
export const AWS_CALL_BUDGET = {
  maxAttempts: 2,
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 2_500,
  /** The SDK's longest back-off before a retry (throttling: up to 1 s); not a setting, an allowance. */
  retryDelayMs: 1_000,
} as const;

/** The longest one AWS call can take under {@link AWS_CALL_BUDGET}: every attempt at its timeouts, and the back-offs between them. */
export const AWS_CALL_WORST_CASE_MS =
  AWS_CALL_BUDGET.maxAttempts * (AWS_CALL_BUDGET.connectionTimeoutMs + AWS_CALL_BUDGET.requestTimeoutMs) +
  (AWS_CALL_BUDGET.maxAttempts - 1) * AWS_CALL_BUDGET.retryDelayMs;

export interface ClientOptions {
  /** An emulator's endpoint (local runtime and tests); unset in AWS. */
  readonly endpoint?: string;
  readonly region?: string;
}

/** Constructor settings for any SDK v3 client, bounded by {@link AWS_CALL_BUDGET}. */
export function clientConfig(options: ClientOptions = {}) {
  return {
    maxAttempts: AWS_CALL_BUDGET.maxAttempts,
    requestHandler: {
      connectionTimeout: AWS_CALL_BUDGET.connectionTimeoutMs,
      requestTimeout: AWS_CALL_BUDGET.requestTimeoutMs,
      // Without this, @smithy/node-http-handler 4.x only logs a warning when requestTimeout
      // passes and keeps waiting: a dependency that never answers would hold the request open
      // until the function's own timeout instead of becoming a 503.
      throwOnRequestTimeout: true,
    },
    ...(options.endpoint === undefined
      ? {}
      : {
          endpoint: options.endpoint,
          region: options.region ?? 'us-east-1',
          // Emulators accept any credentials; never used against AWS.
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }),
  };
}
