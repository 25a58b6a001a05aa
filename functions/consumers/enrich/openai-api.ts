import type { Batch, BatchError, BatchRequestCounts, BatchUsage } from 'openai/resources/batches';
import type { FileObject } from 'openai/resources/files';
import type { FineTuningJobCheckpoint } from 'openai/resources/fine-tuning/jobs/checkpoints';
import type { FineTuningJob, FineTuningJobEvent } from 'openai/resources/fine-tuning/jobs/jobs';
import { createJsonGet, type ApiIdentity, type JsonGetOptions } from '../../core/api-get';
import { ConfigurationError, DependencyError } from '../../core/errors';
import * as z from '../../core/zod';

/**
 * A client of the few OpenAI API reads the enricher makes, over `fetch` and the retrying GET the
 * Together client shares (functions/core/api-get.ts). Each shape is a part of the official `openai`
 * package's type (`import type`, nothing bundled): a field OpenAI renames or retypes there stops
 * this file compiling. Only the fields read are checked; anything else passes through.
 */

/** OpenAI's public REST API. Tests and the local runtime point at `local/fake-openai.ts` instead. */
export const DEFAULT_OPENAI_API_BASE_URL = 'https://api.openai.com/v1';

/** The API refused the key (401/403). Never retried within the attempt: the key has to be replaced. */
export class OpenAiAuthError extends ConfigurationError {
  override name = 'OpenAiAuthError';
  constructor(
    readonly httpStatus: number,
    path: string,
  ) {
    super(
      `OPENAI_API_KEY was rejected by the OpenAI API (HTTP ${httpStatus} on GET ${path}); store a valid key in ` +
        'the secret OPENAI_API_KEY_SECRET_ARN names (OPENAI_API_KEY locally)',
    );
  }
}

/** The API could not be read: see {@link ApiFailureKind}; a 404 carries `httpStatus` 404. */
export class OpenAiApiError extends DependencyError {
  constructor(
    message: string,
    reason: `openai_${'unavailable' | 'rate_limited' | 'rejected' | 'bad_response'}`,
    readonly path: string,
    readonly attempts: number,
    readonly httpStatus?: number,
    options?: { cause?: unknown },
  ) {
    super(message, reason, options);
  }
}

const OPENAI: ApiIdentity = {
  provider: 'OpenAI',
  baseUrlVariable: 'OPENAI_API_BASE_URL',
  apiName: "OpenAI's v1 API",
  waiter: 'a consumer attempt',
  retriedBy: 'SQS delivers the event again later',
  resumedBy: 'SQS delivers the event again later',
  budget: "the consumer's time budget",
  authError: (status, path) => new OpenAiAuthError(status, path),
  failure: (message, kind, path, attempts, status, options) => new OpenAiApiError(message, `openai_${kind}`, path, attempts, status, options),
  isStatus: (error, status) => error instanceof OpenAiApiError && error.httpStatus === status,
};

/** The named fields of `T`, each optional and nullable: an answer may leave any of them out. */
type Loose<T, K extends keyof T> = { readonly [P in K]?: T[P] | null };

export type OpenAiJob = { readonly id: string } & Loose<FineTuningJob, 'model' | 'fine_tuned_model' | 'trained_tokens' | 'result_files' | 'finished_at'> & {
  readonly error?: Loose<FineTuningJob.Error, 'message' | 'code'> | null;
};
export type OpenAiCheckpoint = { readonly id: string } & Loose<FineTuningJobCheckpoint, 'step_number' | 'created_at' | 'fine_tuned_model_checkpoint'> & {
  readonly metrics?: Loose<FineTuningJobCheckpoint.Metrics, 'train_loss' | 'valid_loss' | 'full_valid_loss'> | null;
};
/** `data` of an event of `type: "metrics"`; the package types it `unknown`. */
export interface OpenAiMetrics {
  readonly step?: number | null;
  readonly train_loss?: number | null;
  readonly valid_loss?: number | null;
  readonly full_valid_loss?: number | null;
}
export type OpenAiJobEvent = { readonly id: string } & Loose<FineTuningJobEvent, 'created_at'> & {
  /** `metrics` or `message`; kept a string so that a new kind is skipped rather than refused. */
  readonly type?: NonNullable<FineTuningJobEvent['type']> | (string & {}) | null;
  readonly data?: unknown;
};
export type OpenAiBatch = { readonly id: string } & Loose<Batch, 'output_file_id' | 'error_file_id' | 'model'> & {
  readonly request_counts?: Loose<BatchRequestCounts, 'total' | 'completed' | 'failed'> | null;
  readonly errors?: { readonly data?: readonly Loose<BatchError, 'code' | 'message'>[] | null } | null;
  readonly usage?: Loose<BatchUsage, 'total_tokens'> | null;
};
export type OpenAiFile = { readonly id: string; readonly bytes: FileObject['bytes'] } & Loose<FileObject, 'filename' | 'created_at'>;

const id = z.string().check(z.minLength(1));
const text = z.nullish(z.string());
const num = z.nullish(z.number());
const count = z.nullish(z.int().check(z.nonnegative()));

const JobSchema = z.looseObject({
  id,
  model: text,
  fine_tuned_model: text,
  trained_tokens: count,
  result_files: z.nullish(z.array(z.string())),
  finished_at: num,
  error: z.nullish(z.looseObject({ message: text, code: text })),
});
const CheckpointSchema = z.looseObject({
  id,
  step_number: count,
  created_at: num,
  fine_tuned_model_checkpoint: text,
  metrics: z.nullish(z.looseObject({ train_loss: num, valid_loss: num, full_valid_loss: num })),
});
const EventSchema = z.looseObject({ id, created_at: num, type: text, data: z.optional(z.unknown()) });
/** Read from an event's `data` after the page is parsed: a metrics event with other data is skipped. */
export const MetricsSchema = z.looseObject({ step: count, train_loss: num, valid_loss: num, full_valid_loss: num });
const BatchSchema = z.looseObject({
  id,
  output_file_id: text,
  error_file_id: text,
  model: text,
  request_counts: z.nullish(z.looseObject({ total: count, completed: count, failed: count })),
  errors: z.nullish(z.looseObject({ data: z.nullish(z.array(z.looseObject({ code: text, message: text }))) })),
  usage: z.nullish(z.looseObject({ total_tokens: count })),
});
const FileSchema = z.looseObject({ id, bytes: z.int().check(z.nonnegative()), filename: text, created_at: num });

const page = <T>(item: z.ZodMiniType<T>) => z.object({ data: z.array(item), has_more: z.nullish(z.boolean()) });

// The schemas' outputs must fit the package's shapes: OpenAI's drift shows here at compile time.
const SHAPES_FIT: readonly [z.ZodMiniType<OpenAiJob>, z.ZodMiniType<OpenAiCheckpoint>, z.ZodMiniType<OpenAiJobEvent>, z.ZodMiniType<OpenAiBatch>, z.ZodMiniType<OpenAiFile>, z.ZodMiniType<OpenAiMetrics>] = [
  JobSchema,
  CheckpointSchema,
  EventSchema,
  BatchSchema,
  FileSchema,
  MetricsSchema,
];
void SHAPES_FIT;

/** One page of a cursor list, newest first. */
export interface OpenAiPage<T> {
  readonly data: readonly T[];
  readonly hasMore: boolean;
}

/** The reads the enricher (and the batch copy) make; `undefined` where the API answers 404. */
export interface OpenAiApi {
  getFineTuningJob(jobId: string): Promise<OpenAiJob | undefined>;
  /** `GET /fine_tuning/jobs/{id}/checkpoints?limit&after`: one page, newest first. */
  listCheckpoints(jobId: string, options: { limit: number; after?: string }): Promise<OpenAiPage<OpenAiCheckpoint> | undefined>;
  /** `GET /fine_tuning/jobs/{id}/events?limit&after`: one page, newest first. */
  listJobEvents(jobId: string, options: { limit: number; after?: string }): Promise<OpenAiPage<OpenAiJobEvent> | undefined>;
  getBatch(batchId: string): Promise<OpenAiBatch | undefined>;
  getFile(fileId: string): Promise<OpenAiFile | undefined>;
}

/**
 * An OpenAI API client over `fetch`: bearer key, per-attempt timeout, retries with backoff and full
 * jitter on 429, 5xx, network errors and timeouts (`Retry-After` waited out within the deadline).
 * 401/403 throw {@link OpenAiAuthError}; other failures {@link OpenAiApiError}; a 404 is `undefined`.
 */
export function createOpenAiApi(options: JsonGetOptions): OpenAiApi {
  const { getUnlessMissing } = createJsonGet(OPENAI, options);
  const job = (jobId: string) => `/fine_tuning/jobs/${encodeURIComponent(jobId)}`;
  const query = ({ limit, after }: { limit: number; after?: string }) =>
    `?limit=${limit}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`;
  const asPage = <T>(body: { data: T[]; has_more?: boolean | null | undefined } | undefined): OpenAiPage<T> | undefined =>
    body === undefined ? undefined : { data: body.data, hasMore: body.has_more === true };
  return {
    getFineTuningJob: (jobId) => getUnlessMissing(job(jobId), JobSchema),
    listCheckpoints: async (jobId, options) => asPage(await getUnlessMissing(`${job(jobId)}/checkpoints${query(options)}`, page(CheckpointSchema))),
    listJobEvents: async (jobId, options) => asPage(await getUnlessMissing(`${job(jobId)}/events${query(options)}`, page(EventSchema))),
    getBatch: (batchId) => getUnlessMissing(`/batches/${encodeURIComponent(batchId)}`, BatchSchema),
    getFile: (fileId) => getUnlessMissing(`/files/${encodeURIComponent(fileId)}`, FileSchema),
  };
}
