import type * as z from './zod';

/**
 * The retrying JSON GET every provider API client shares (Together's for the poller and the batch
 * copy, OpenAI's for the consumer's enricher): bearer key, per-attempt timeout, exponential backoff
 * with full jitter on 429, 5xx, network errors and timeouts, `Retry-After` waited out up to a limit,
 * a deadline no retry starts after, and 401/403 fatal at once. Each client names its provider, its
 * variables and its errors; the messages are built here from those names.
 */

/** Retry and timeout settings of an API client; see {@link DEFAULT_RETRY_POLICY}. */
export interface RetryPolicy {
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
  /** Per-attempt timeout, headers and body together. */
  readonly requestTimeoutMs: number;
  /** Backoff ceiling before jitter for the first retry; doubles on each further retry. */
  readonly baseDelayMs: number;
  /** Backoff ceiling, however many retries came before. */
  readonly maxDelayMs: number;
  /** The longest `Retry-After` the client waits out; a longer one ends the request. */
  readonly maxRetryAfterMs: number;
}

/** Four attempts, 10 s each, backoff under 0.5 s, 1 s, 2 s (full jitter), `Retry-After` up to 30 s. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  requestTimeoutMs: 10_000,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
};

/** One failed attempt that will be retried, for logs and metrics. */
export interface RetryNotice {
  readonly path: string;
  readonly attempt: number;
  readonly delayMs: number;
  /** `http 429`, `http 503`, `timeout`, `network`. */
  readonly cause: string;
}

/** Why a request failed for good, without the provider's prefix (`together_unavailable`, …). */
export type ApiFailureKind = 'unavailable' | 'rate_limited' | 'rejected' | 'bad_response';

/** How a client names itself and builds its errors. */
export interface ApiIdentity {
  /** As messages write it: `Together`, `OpenAI`. */
  readonly provider: string;
  /** The variable of the base URL, named in messages about a wrong answer: `TOGETHER_API_BASE_URL`. */
  readonly baseUrlVariable: string;
  /** Where the messages send the reader: `Together's v1 API`. */
  readonly apiName: string;
  /** Who waits for a `Retry-After` (`a poll`) and who tries again (`the next poll retries`). */
  readonly waiter: string;
  readonly retriedBy: string;
  /** After a `Retry-After` longer than the waiter waits: `the next scheduled poll resumes`. */
  readonly resumedBy: string;
  /** The budget a deadline closes: `this run's time budget`. */
  readonly budget: string;
  /** 401/403: the key was refused. */
  authError(httpStatus: number, path: string): Error;
  failure(message: string, kind: ApiFailureKind, path: string, attempts: number, httpStatus?: number, options?: { cause?: unknown }): Error;
  /** Whether `error` is this client's failure with `httpStatus` (for {@link JsonGet.getUnlessMissing}). */
  isStatus(error: unknown, httpStatus: number): boolean;
}

export interface JsonGetOptions {
  /** Without a trailing slash. */
  readonly baseUrl: string;
  /** Read before every request, so a rotated key (cached by the caller) takes effect. */
  readonly apiKey: () => Promise<string>;
  readonly retry?: Partial<RetryPolicy>;
  readonly fetch?: typeof fetch;
  /** Waits between attempts; tests pass one that records and returns at once. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for jitter. */
  readonly random?: () => number;
  /** Epoch milliseconds; used to read an HTTP-date `Retry-After`. */
  readonly clock?: () => number;
  readonly onRetry?: (notice: RetryNotice) => void;
  /** Epoch milliseconds by which the caller must be done, or undefined for none. */
  readonly deadline?: () => number | undefined;
}

export interface JsonGet {
  /** `GET {baseUrl}{path}`, the body checked against `schema`. */
  get<T>(path: string, schema: z.ZodMiniType<T>): Promise<T>;
  /** Like {@link get}, but undefined when the API answers 404. */
  getUnlessMissing<T>(path: string, schema: z.ZodMiniType<T>): Promise<T | undefined>;
}

/** Waits `ms` milliseconds. */
export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Outcome =
  | { kind: 'ok'; body: unknown }
  | { kind: 'fatal'; error: (attempts: number) => Error }
  | { kind: 'retry'; cause: string; status?: number; retryAfterMs?: number; error?: unknown };

/** The retrying GET of one API; see the module comment. */
export function createJsonGet(identity: ApiIdentity, options: JsonGetOptions): JsonGet {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const clock = options.clock ?? Date.now;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const { provider } = identity;

  async function get<T>(path: string, schema: z.ZodMiniType<T>): Promise<T> {
    const apiKey = await options.apiKey();
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await attemptGet(path, apiKey);
      if (outcome.kind === 'ok') return parse(path, schema, outcome.body, attempt);
      if (outcome.kind === 'fatal') throw outcome.error(attempt);
      const busy: ApiFailureKind = outcome.status === 429 ? 'rate_limited' : 'unavailable';
      if (attempt >= policy.maxAttempts) {
        throw identity.failure(
          `GET ${path} failed ${attempt} times (last: ${outcome.cause}); ${provider} may be down or rate limiting, ${identity.retriedBy}`,
          busy,
          path,
          attempt,
          outcome.status,
          { cause: outcome.error },
        );
      }
      let delayMs = backoffDelayMs(policy, attempt, random);
      if (outcome.retryAfterMs !== undefined) {
        if (outcome.retryAfterMs > policy.maxRetryAfterMs) {
          throw identity.failure(
            `GET ${path}: ${provider} asked to wait ${Math.ceil(outcome.retryAfterMs / 1000)} s (Retry-After), longer than ` +
              `the ${policy.maxRetryAfterMs / 1000} s ${identity.waiter} waits; ${identity.resumedBy}`,
            'rate_limited',
            path,
            attempt,
            outcome.status,
          );
        }
        delayMs = outcome.retryAfterMs;
      }
      const deadline = options.deadline?.();
      if (deadline !== undefined && clock() + delayMs > deadline) {
        throw identity.failure(
          `GET ${path} failed (${outcome.cause}) and the next attempt would start after ${identity.budget}; ${identity.retriedBy}`,
          busy,
          path,
          attempt,
          outcome.status,
          { cause: outcome.error },
        );
      }
      options.onRetry?.({ path, attempt, delayMs, cause: outcome.cause });
      await sleep(delayMs);
    }
  }

  async function attemptGet(path: string, apiKey: string): Promise<Outcome> {
    let response: Response;
    let text: string;
    try {
      const signal = AbortSignal.timeout(policy.requestTimeoutMs);
      response = await doFetch(`${baseUrl}${path}`, {
        method: 'GET',
        headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' },
        signal,
      });
      // The same signal bounds the body: a server that stalls mid-body is a timeout too.
      text = await response.text();
    } catch (error) {
      const name = (error as Error).name;
      return { kind: 'retry', cause: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network', error };
    }
    const status = response.status;
    if (status === 401 || status === 403) return { kind: 'fatal', error: () => identity.authError(status, path) };
    if (status === 429 || status >= 500) {
      const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'), clock());
      return { kind: 'retry', cause: `http ${status}`, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    if (status < 200 || status >= 300) {
      return {
        kind: 'fatal',
        error: (attempts) =>
          identity.failure(`GET ${path} answered HTTP ${status}; check ${identity.baseUrlVariable} (now ${baseUrl})`, 'rejected', path, attempts, status),
      };
    }
    try {
      return { kind: 'ok', body: JSON.parse(text) as unknown };
    } catch (error) {
      return {
        kind: 'fatal',
        error: (attempts) =>
          identity.failure(`GET ${path} did not answer JSON; check ${identity.baseUrlVariable} (now ${baseUrl})`, 'bad_response', path, attempts, status, {
            cause: error,
          }),
      };
    }
  }

  function parse<T>(path: string, schema: z.ZodMiniType<T>, body: unknown, attempts: number): T {
    const result = schema.safeParse(body);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
    throw identity.failure(
      // Stryker disable next-line OptionalChaining: a failed parse always has at least one issue
      `GET ${path} answered a body that is not the documented shape (${where}: ${issue?.message ?? 'invalid'}); ` +
        `check ${identity.baseUrlVariable} (now ${baseUrl}) points at ${identity.apiName}`,
      'bad_response',
      path,
      attempts,
      200,
    );
  }

  return {
    get,
    async getUnlessMissing<T>(path: string, schema: z.ZodMiniType<T>): Promise<T | undefined> {
      try {
        return await get(path, schema);
      } catch (error) {
        if (identity.isStatus(error, 404)) return undefined;
        throw error;
      }
    },
  };
}

/**
 * Full-jitter exponential backoff: a uniform wait in [0, min(max, base · 2^(attempt−1))), so that
 * many clients retrying at once spread out instead of hitting the API together again.
 */
export function backoffDelayMs(policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * `Retry-After` in milliseconds from now: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
 * A date in the past is 0; anything unreadable is `undefined` (then backoff applies).
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
