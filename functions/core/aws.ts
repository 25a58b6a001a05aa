/**
 * Client settings for every AWS SDK client the functions create. A webhook sender waits at most
 * ~30 s, and a slow dependency must become a retryable 503 well before the function's own timeout,
 * so every call is bounded: 2 attempts of at most 2.5 s each. Clients whose calls perform an effect
 * that a repeat would duplicate take {@link EFFECT_CALL_BUDGET} instead.
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

/**
 * Client settings for a call whose effect a repeat would duplicate (EventBridge PutEvents, SNS
 * Publish: neither takes an idempotency key). One attempt: the SDK's retry after a request timeout
 * would send again an entry the service may already have taken. The request timeout is far above
 * the tens of milliseconds these calls take, so a slow answer is waited for rather than repeated,
 * and one call at its worst (11 s) stays inside the consumer's 30 s timeout. A call that fails or
 * times out fails the consumer's attempt, and the event is retried from its queue: nothing is lost.
 */
export const EFFECT_CALL_BUDGET = {
  maxAttempts: 1,
  connectionTimeoutMs: AWS_CALL_BUDGET.connectionTimeoutMs,
  requestTimeoutMs: 10_000,
} as const;

/** The longest one effect call can take under {@link EFFECT_CALL_BUDGET}. */
export const EFFECT_CALL_WORST_CASE_MS = EFFECT_CALL_BUDGET.connectionTimeoutMs + EFFECT_CALL_BUDGET.requestTimeoutMs;

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

/**
 * Constructor settings for a client whose calls perform an effect a repeat would duplicate,
 * bounded by {@link EFFECT_CALL_BUDGET}: one attempt, never retried by the SDK.
 */
export function effectClientConfig(options: ClientOptions = {}) {
  const base = clientConfig(options);
  return {
    ...base,
    maxAttempts: EFFECT_CALL_BUDGET.maxAttempts,
    requestHandler: {
      ...base.requestHandler,
      connectionTimeout: EFFECT_CALL_BUDGET.connectionTimeoutMs,
      requestTimeout: EFFECT_CALL_BUDGET.requestTimeoutMs,
    },
  };
}
