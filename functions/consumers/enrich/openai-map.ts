import { END_OF_DATA_TIME_MS, MAX_DATA_CHECKPOINTS, MAX_DATA_TEXT_LENGTH, type DataCheckpoint } from '../../core/data';
import type { OpenAiBatch, OpenAiCheckpoint, OpenAiJob, OpenAiJobEvent } from './openai-api';
import { MetricsSchema } from './openai-api';

/*
 * From OpenAI's API shapes to canonical data: pure, so that each field's mapping is tested without
 * a server. Only fields with a value are written; the enricher lays the payload's own fields over
 * these, so what the event already says stays.
 */

type Data = Record<string, unknown>;

/** OpenAI's Unix seconds as ISO 8601; a time at or before 1970 (unset) or past what canonical data holds is left out. */
const isoOf = (seconds: number | null | undefined): string | undefined =>
  typeof seconds === 'number' && seconds > 0 && seconds * 1000 < END_OF_DATA_TIME_MS ? new Date(seconds * 1000).toISOString() : undefined;
const cut = (value: string | null | undefined): string | undefined =>
  value === null || value === undefined || value === '' ? undefined : value.slice(0, MAX_DATA_TEXT_LENGTH);
const defined = (data: Data): Data => Object.fromEntries(Object.entries(data).filter(([, value]) => value !== undefined));

/**
 * A fine-tuning job's canonical data on `route`: `fine_tuned_model` → `modelName`, `model` →
 * `baseModel`, `trained_tokens` → `trainedTokens`, `result_files` → `resultFiles`, `error.message` →
 * `errorMessage`, and the points as `checkpoints` (with `evalLoss` from the newest validation loss).
 */
export function fineTuneData(route: string, job: OpenAiJob, points: readonly DataCheckpoint[], validLoss?: number): Data {
  const common = {
    jobId: job.id,
    baseModel: cut(job.model),
    trainedTokens: job.trained_tokens ?? undefined,
    ...(points.length === 0 ? {} : { checkpoints: [...points] }),
  };
  switch (route) {
    case 'fine_tune.completed':
      return defined({
        ...common,
        modelName: cut(job.fine_tuned_model),
        evalLoss: validLoss,
        resultFiles: job.result_files && job.result_files.length > 0 ? job.result_files.filter((file) => file !== '').slice(0, 100) : undefined,
      });
    case 'fine_tune.failed':
      return defined({ ...common, errorMessage: cut(job.error?.message) });
    default:
      return defined(common);
  }
}

/** A batch's canonical data on `route`: its files, its request counts, and why it failed. */
export function batchData(route: string, batch: OpenAiBatch): Data {
  const counts = batch.request_counts;
  const requestCounts =
    counts === null || counts === undefined
      ? undefined
      : defined({ total: counts.total ?? undefined, completed: counts.completed ?? undefined, failed: counts.failed ?? undefined });
  const common = {
    batchId: batch.id,
    errorFileId: cut(batch.error_file_id),
    requestCounts: requestCounts === undefined || Object.keys(requestCounts).length === 0 ? undefined : requestCounts,
  };
  switch (route) {
    case 'batch.completed':
      return defined({ ...common, outputFileId: cut(batch.output_file_id), totalTokens: batch.usage?.total_tokens ?? undefined });
    case 'batch.failed': {
      const errors = (batch.errors?.data ?? []).map((error) => error.message).filter((message): message is string => typeof message === 'string' && message !== '');
      return defined({ ...common, errorMessage: cut(errors.length === 0 ? undefined : errors.join('; ')) });
    }
    default:
      return defined({ ...common, outputFileId: cut(batch.output_file_id) });
  }
}

/** A job's loss curve: the newest {@link MAX_DATA_CHECKPOINTS} points and the newest validation loss. */
export interface LossCurve {
  readonly points: DataCheckpoint[];
  readonly validLoss?: number;
}

/**
 * Checkpoints (`step_number`, `metrics.train_loss`, `fine_tuned_model_checkpoint` as `path`,
 * `created_at`) and `metrics` events (`data.step`, `data.train_loss`) merged by step, oldest first,
 * the newest {@link MAX_DATA_CHECKPOINTS} kept. A checkpoint's own values win over an event's of the
 * same step. The validation loss is the newest `full_valid_loss` (else `valid_loss`) of either.
 */
export function lossCurve(checkpoints: readonly OpenAiCheckpoint[], events: readonly OpenAiJobEvent[]): LossCurve {
  const byStep = new Map<number, DataCheckpoint>();
  let valid: { step: number; loss: number } | undefined;
  const seeValid = (step: number, loss: number | null | undefined) => {
    if (typeof loss === 'number' && Number.isFinite(loss) && (valid === undefined || step >= valid.step)) valid = { step, loss };
  };
  for (const event of events) {
    if (event.type !== 'metrics') continue;
    const parsed = MetricsSchema.safeParse(event.data);
    if (!parsed.success || typeof parsed.data.step !== 'number') continue;
    const { step, train_loss, full_valid_loss, valid_loss } = parsed.data;
    const at = isoOf(event.created_at);
    byStep.set(step, defined({ step, loss: finite(train_loss), at }) as DataCheckpoint);
    seeValid(step, full_valid_loss ?? valid_loss);
  }
  for (const checkpoint of checkpoints) {
    const step = checkpoint.step_number;
    if (typeof step !== 'number') continue;
    const metrics = checkpoint.metrics;
    const path = cut(checkpoint.fine_tuned_model_checkpoint);
    const own = defined({ step, loss: finite(metrics?.train_loss), path, at: isoOf(checkpoint.created_at) }) as DataCheckpoint;
    byStep.set(step, { ...byStep.get(step), ...own });
    seeValid(step, metrics?.full_valid_loss ?? metrics?.valid_loss);
  }
  const points = [...byStep.values()].sort((a, b) => a.step - b.step).slice(-MAX_DATA_CHECKPOINTS);
  return { points, ...(valid === undefined ? {} : { validLoss: valid.loss }) };
}

const finite = (value: number | null | undefined): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
