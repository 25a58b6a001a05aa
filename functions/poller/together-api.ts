import type { FineTuningListCheckpointsResponse, FineTuningListMetricsResponse } from 'together-ai/resources/fine-tuning';
import * as z from '../core/zod';
import { ConfigurationError, DependencyError } from '../core/errors';

/** Together's public REST API. Tests and the local demo point at `local/fake-together.ts` instead. */
export const DEFAULT_TOGETHER_API_BASE_URL = 'https://api.together.xyz/v1';

/** Retry and timeout settings of the API client; see {@link DEFAULT_RETRY_POLICY}. */
export interface RetryPolicy {
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
  /** Per-attempt timeout, headers and body together. */
  readonly requestTimeoutMs: number;
  /** Backoff ceiling before jitter for the first retry; doubles on each further retry. */
  readonly baseDelayMs: number;
  /** Backoff ceiling, however many retries came before. */
  readonly maxDelayMs: number;
  /**
   * The longest `Retry-After` the client waits out. A longer one ends the request with
   * {@link TogetherApiError}: the next scheduled poll resumes after the window.
   */
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

/**
 * The API refused the key (401/403). Never retried: the key has to be replaced. The message names
 * where the key comes from, never the key.
 */
export class TogetherAuthError extends ConfigurationError {
  override name = 'TogetherAuthError';
  constructor(
    readonly httpStatus: number,
    path: string,
  ) {
    super(
      `TOGETHER_API_KEY was rejected by the Together API (HTTP ${httpStatus} on GET ${path}); ` +
        'store a valid API key in the secret TOGETHER_API_KEY_SECRET_ARN names (TOGETHER_API_KEY in the local runtime)',
    );
  }
}

/**
 * The API could not be read: attempts exhausted on 429/5xx/network errors/timeouts, a `Retry-After`
 * longer than the client waits, another 4xx, or a body that is not the documented shape.
 */
export class TogetherApiError extends DependencyError {
  constructor(
    message: string,
    reason: 'together_unavailable' | 'together_rate_limited' | 'together_rejected' | 'together_bad_response',
    readonly path: string,
    readonly attempts: number,
    readonly httpStatus?: number,
    options?: { cause?: unknown },
  ) {
    super(message, reason, options);
  }
}

// Only the fields the poller reads are checked; anything else Together adds passes through.
const Time = z.nullish(z.union([z.string(), z.number()]));
const OptionalText = z.nullish(z.string());

export const FineTuneJobSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  status: z.string().check(z.minLength(1)),
  model: OptionalText,
  model_output_name: OptionalText,
  created_at: Time,
  updated_at: Time,
});
export type FineTuneJob = z.infer<typeof FineTuneJobSchema>;

export const FineTuneEventSchema = z.looseObject({
  type: OptionalText,
  created_at: Time,
  level: OptionalText,
  message: OptionalText,
  step: z.nullish(z.number()),
  checkpoint_path: OptionalText,
  model_path: OptionalText,
  hash: OptionalText,
});
export type FineTuneEvent = z.infer<typeof FineTuneEventSchema>;

export const BatchSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  status: z.string().check(z.minLength(1)),
  output_file_id: OptionalText,
  error_file_id: OptionalText,
  error: z.optional(z.unknown()),
  progress: z.nullish(z.number()),
  created_at: Time,
  completed_at: Time,
  model_id: OptionalText,
});
export type Batch = z.infer<typeof BatchSchema>;

/**
 * A file's object (`GET /files/{id}`): its size in `bytes` is what a copy of its contents is
 * checked against, so a file object without one is not the documented shape.
 */
export const TogetherFileSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  bytes: z.int().check(z.nonnegative()),
  filename: OptionalText,
  purpose: OptionalText,
  created_at: Time,
});
export type TogetherFile = z.infer<typeof TogetherFileSchema>;

/**
 * One of a job's saved checkpoints (`GET /fine-tunes/{id}/checkpoints`, `fineTuning.listCheckpoints`
 * in the SDK): the step it was taken at, where it is stored, and when.
 */
// z.object rather than looseObject: the SDK's interface has no index signature; other fields are still accepted (and dropped).
export const FineTuneCheckpointSchema = z.object({
  step: z.number(),
  path: OptionalText,
  created_at: Time,
  checkpoint_type: OptionalText,
});
export type FineTuneCheckpoint = z.infer<typeof FineTuneCheckpointSchema>;

/**
 * One row of a job's recorded metrics (`GET /fine-tunes/{id}/metrics`, `fineTuning.listMetrics`): a
 * flat map of scalars such as `train/global_step`, `train/loss`, `eval/loss` and `timestamp`. Read
 * as unknown values, so that one field Together adds in another type costs that field, not the row.
 */
export const FineTuneMetricSchema = z.record(z.string(), z.unknown());
export type FineTuneMetric = z.infer<typeof FineTuneMetricSchema>;

const FineTuneCheckpointList = z.pipe(z.object({ data: z.nullish(z.array(FineTuneCheckpointSchema)) }), z.transform((body) => body.data ?? []));
const FineTuneMetricList = z.pipe(z.object({ metrics: z.nullish(z.array(FineTuneMetricSchema)) }), z.transform((body) => body.metrics ?? []));

/** Holds only if every body the SDK's types describe is one the schema takes. */
type Takes<Schema extends z.ZodMiniType, Body> = Body extends z.input<Schema> ? true : false;
// Compile-time: the schemas accept what Together's official SDK says these endpoints answer.
export const SDK_SHAPES_ACCEPTED: [Takes<typeof FineTuneCheckpointList, FineTuningListCheckpointsResponse>, Takes<typeof FineTuneMetricList, FineTuningListMetricsResponse>] = [
  true,
  true,
];

/** Most metric rows asked for (`resolution`, sampled uniformly by Together): the curve keeps 500 points. */
export const METRICS_RESOLUTION = 500;

const FineTuneList = z.pipe(z.object({ data: z.nullish(z.array(FineTuneJobSchema)) }), z.transform((body) => body.data ?? []));
const FineTuneEventList = z.pipe(z.object({ data: z.nullish(z.array(FineTuneEventSchema)) }), z.transform((body) => body.data ?? []));
// Documented as a bare array; a `{ data }` wrapper like the other lists is accepted too.
const BatchList = z.union([z.array(BatchSchema), z.pipe(z.object({ data: z.array(BatchSchema) }), z.transform((body) => body.data))]);

/** The reads the poller needs. */
export interface TogetherApi {
  listFineTunes(): Promise<FineTuneJob[]>;
  listFineTuneEvents(jobId: string): Promise<FineTuneEvent[]>;
  listBatches(): Promise<Batch[]>;
  /** `GET /fine-tunes/{id}`: a job the list no longer shows; undefined when the API answers 404. */
  getFineTune(jobId: string): Promise<FineTuneJob | undefined>;
  /** `GET /batches/{id}`: a batch the list no longer shows; undefined when the API answers 404. */
  getBatch(batchId: string): Promise<Batch | undefined>;
  /** `GET /fine-tunes/{id}/checkpoints`, oldest first as listed; undefined when the API answers 404. */
  listFineTuneCheckpoints(jobId: string): Promise<FineTuneCheckpoint[] | undefined>;
  /**
   * `GET /fine-tunes/{id}/metrics?resolution=500`: per-step metrics in the order recorded;
   * undefined when the API answers 404 (an account or API without them).
   */
  listFineTuneMetrics(jobId: string): Promise<FineTuneMetric[] | undefined>;
}

/** The Files API reads the batch-results copy needs besides {@link TogetherApi}. */
export interface TogetherFilesApi {
  /** `GET /files/{id}`: the file's object, with its size; undefined when the API answers 404. */
  getFile(fileId: string): Promise<TogetherFile | undefined>;
}

/** One failed attempt that will be retried, for logs and metrics. */
export interface RetryNotice {
  readonly path: string;
  readonly attempt: number;
  readonly delayMs: number;
  /** `http 429`, `http 503`, `timeout`, `network`. */
  readonly cause: string;
}

export interface TogetherApiOptions {
  /** Without a trailing slash, e.g. {@link DEFAULT_TOGETHER_API_BASE_URL}. */
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
  /**
   * Epoch milliseconds by which the caller must be done (a poll run's time budget), or undefined
   * for none. A retry that would start after it is not made.
   */
  readonly deadline?: () => number | undefined;
}

/** Waits `ms` milliseconds. */
export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A Together API client over `fetch`: bearer key, per-attempt timeout, and retries with exponential
 * backoff and full jitter on 429, 5xx, network errors and timeouts, waiting out `Retry-After` where
 * the API sends one. 401/403 throw {@link TogetherAuthError} at once; everything else that fails
 * throws {@link TogetherApiError}.
 */
export function createTogetherApi(options: TogetherApiOptions): TogetherApi & TogetherFilesApi {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const clock = options.clock ?? Date.now;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');

  async function get<T>(path: string, schema: z.ZodMiniType<T>): Promise<T> {
    const apiKey = await options.apiKey();
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await attemptGet(path, apiKey);
      if (outcome.kind === 'ok') return parse(path, schema, outcome.body, attempt);
      if (outcome.kind === 'fatal') throw outcome.error(attempt);
      if (attempt >= policy.maxAttempts) {
        throw new TogetherApiError(
          `GET ${path} failed ${attempt} times (last: ${outcome.cause}); Together may be down or rate limiting, the next poll retries`,
          outcome.status === 429 ? 'together_rate_limited' : 'together_unavailable',
          path,
          attempt,
          outcome.status,
          { cause: outcome.error },
        );
      }
      let delayMs = backoffDelayMs(policy, attempt, random);
      if (outcome.retryAfterMs !== undefined) {
        if (outcome.retryAfterMs > policy.maxRetryAfterMs) {
          throw new TogetherApiError(
            `GET ${path}: Together asked to wait ${Math.ceil(outcome.retryAfterMs / 1000)} s (Retry-After), longer than ` +
              `the ${policy.maxRetryAfterMs / 1000} s a poll waits; the next scheduled poll resumes`,
            'together_rate_limited',
            path,
            attempt,
            outcome.status,
          );
        }
        delayMs = outcome.retryAfterMs;
      }
      const deadline = options.deadline?.();
      if (deadline !== undefined && clock() + delayMs > deadline) {
        throw new TogetherApiError(
          `GET ${path} failed (${outcome.cause}) and the next attempt would start after this run's time budget; the next poll retries`,
          outcome.status === 429 ? 'together_rate_limited' : 'together_unavailable',
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

  type Outcome =
    | { kind: 'ok'; body: unknown }
    | { kind: 'fatal'; error: (attempts: number) => Error }
    | { kind: 'retry'; cause: string; status?: number; retryAfterMs?: number; error?: unknown };

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
    if (status === 401 || status === 403) return { kind: 'fatal', error: () => new TogetherAuthError(status, path) };
    if (status === 429 || status >= 500) {
      const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'), clock());
      return { kind: 'retry', cause: `http ${status}`, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    if (status < 200 || status >= 300) {
      return {
        kind: 'fatal',
        error: (attempts) =>
          new TogetherApiError(
            `GET ${path} answered HTTP ${status}; check TOGETHER_API_BASE_URL (now ${baseUrl})`,
            'together_rejected',
            path,
            attempts,
            status,
          ),
      };
    }
    try {
      return { kind: 'ok', body: JSON.parse(text) as unknown };
    } catch (error) {
      return {
        kind: 'fatal',
        error: (attempts) =>
          new TogetherApiError(`GET ${path} did not answer JSON; check TOGETHER_API_BASE_URL (now ${baseUrl})`, 'together_bad_response', path, attempts, status, {
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
    throw new TogetherApiError(
      `GET ${path} answered a body that is not the documented shape (${where}: ${issue?.message ?? 'invalid'}); ` +
        `check TOGETHER_API_BASE_URL (now ${baseUrl}) points at Together's v1 API`,
      'together_bad_response',
      path,
      attempts,
      200,
    );
  }

  async function getUnlessMissing<T>(path: string, schema: z.ZodMiniType<T>): Promise<T | undefined> {
    try {
      return await get(path, schema);
    } catch (error) {
      if (error instanceof TogetherApiError && error.httpStatus === 404) return undefined;
      throw error;
    }
  }

  return {
    listFineTunes: () => get('/fine-tunes', FineTuneList),
    listFineTuneEvents: (jobId) => get(`/fine-tunes/${encodeURIComponent(jobId)}/events`, FineTuneEventList),
    listBatches: () => get('/batches', BatchList),
    getFineTune: (jobId) => getUnlessMissing(`/fine-tunes/${encodeURIComponent(jobId)}`, FineTuneJobSchema),
    getBatch: (batchId) => getUnlessMissing(`/batches/${encodeURIComponent(batchId)}`, BatchSchema),
    listFineTuneCheckpoints: (jobId) => getUnlessMissing(`/fine-tunes/${encodeURIComponent(jobId)}/checkpoints`, FineTuneCheckpointList),
    listFineTuneMetrics: (jobId) => getUnlessMissing(`/fine-tunes/${encodeURIComponent(jobId)}/metrics?resolution=${METRICS_RESOLUTION}`, FineTuneMetricList),
    getFile: (fileId) => getUnlessMissing(`/files/${encodeURIComponent(fileId)}`, TogetherFileSchema),
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
