import type { FineTuningListCheckpointsResponse, FineTuningListMetricsResponse } from 'together-ai/resources/fine-tuning';
import * as z from '../core/zod';
import { createJsonGet, type ApiIdentity, type JsonGetOptions } from '../core/api-get';
import { ConfigurationError, DependencyError } from '../core/errors';

/** Together's public REST API. Tests and the local demo point at the fake of `local/fake-together.ts` instead. */
export const DEFAULT_TOGETHER_API_BASE_URL = 'https://api.together.xyz/v1';

export { DEFAULT_RETRY_POLICY, backoffDelayMs, parseRetryAfterMs, realSleep, type RetryNotice, type RetryPolicy } from '../core/api-get';

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

/** Base URL (without a trailing slash, e.g. {@link DEFAULT_TOGETHER_API_BASE_URL}), key, retry settings. */
export type TogetherApiOptions = JsonGetOptions;

/** How the shared GET names Together and builds its errors: the poller's words. */
const TOGETHER: ApiIdentity = {
  provider: 'Together',
  baseUrlVariable: 'TOGETHER_API_BASE_URL',
  apiName: "Together's v1 API",
  waiter: 'a poll',
  retriedBy: 'the next poll retries',
  resumedBy: 'the next scheduled poll resumes',
  budget: "this run's time budget",
  authError: (status, path) => new TogetherAuthError(status, path),
  failure: (message, kind, path, attempts, status, options) => new TogetherApiError(message, `together_${kind}`, path, attempts, status, options),
  isStatus: (error, status) => error instanceof TogetherApiError && error.httpStatus === status,
};

/**
 * A Together API client over `fetch`: bearer key, per-attempt timeout, and retries with exponential
 * backoff and full jitter on 429, 5xx, network errors and timeouts, waiting out `Retry-After` where
 * the API sends one. 401/403 throw {@link TogetherAuthError} at once; everything else that fails
 * throws {@link TogetherApiError}.
 */
export function createTogetherApi(options: TogetherApiOptions): TogetherApi & TogetherFilesApi {
  const { get, getUnlessMissing } = createJsonGet(TOGETHER, options);

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
