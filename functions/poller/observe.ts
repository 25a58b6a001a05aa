import { createHash } from 'node:crypto';
import { BadRequestError } from '../core/errors';
import type { DataCheckpoint, EventData } from '../core/data';
import { incomingEventSchema, SCHEMA_VERSION, type NormalizedEvent } from '../core/event';
import { errorText, number, text } from '../core/providers/fields';
import { together } from '../core/providers/together';
import { FALLBACK_ROUTE } from '../core/routes';
import type { Batch, FineTuneEvent, FineTuneJob } from './together-api';

/** Job statuses after which nothing more happens to a fine-tune job. */
export const FINE_TUNE_TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'error', 'user_error', 'cancelled']);
const FINE_TUNE_FAILED_STATUSES: ReadonlySet<string> = new Set(['error', 'user_error']);
/**
 * A job in any of these has run, even if the poll that saw it running was missed (a short job can
 * go from `pending` to `completed` between two polls).
 */
const FINE_TUNE_RAN_STATUSES: ReadonlySet<string> = new Set(['running', 'compressing', 'uploading', 'completed']);
const FINE_TUNE_START_EVENTS: ReadonlySet<string> = new Set(['job_start', 'training_start']);

/** Batch statuses after which nothing more happens to a batch. */
export const BATCH_TERMINAL_STATUSES: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'EXPIRED', 'CANCELLED']);

/**
 * Every provider type the poller reports: a fine-tune job's start, checkpoints and end, and a
 * batch's end. A cancelled job and a cancelled or expired batch are ends the owner chose or
 * allowed, not failures: they have their own routes, which alert nobody.
 */
export const POLLED_PROVIDER_TYPES = [
  'fine_tune.started',
  'fine_tune.checkpoint',
  'fine_tune.completed',
  'fine_tune.failed',
  'fine_tune.cancelled',
  'batch.completed',
  'batch.failed',
  'batch.cancelled',
  'batch.expired',
] as const;
type PolledProviderType = (typeof POLLED_PROVIDER_TYPES)[number];

/** One thing the poller saw, as the normalized event the accept path takes. */
export interface Observation {
  /** Unique within its job or batch; the poller remembers it once accepted. */
  readonly key: string;
  readonly event: NormalizedEvent;
}

export function isFineTuneTerminal(status: string): boolean {
  return FINE_TUNE_TERMINAL_STATUSES.has(status.toLowerCase());
}

export function isBatchTerminal(status: string): boolean {
  return BATCH_TERMINAL_STATUSES.has(status.toUpperCase());
}

/**
 * The events a fine-tune job's current state and event list amount to (providers.md,
 * "together-poll"), oldest first: `fine_tune.started` once it has run, one `fine_tune.checkpoint`
 * per `checkpoint_save` event, then `fine_tune.completed`, `fine_tune.failed` or `fine_tune.cancelled`,
 * which carries `curve` (the job's checkpoints and per-step loss, {@link jobCurve}) as `data.checkpoints`
 * where one was read. Ids depend only on what was observed, so any number of polls of the same state
 * give the same ids.
 */
export function observeFineTune(job: FineTuneJob, events: readonly FineTuneEvent[], receivedAt: string, curve?: readonly DataCheckpoint[]): Observation[] {
  const status = job.status.toLowerCase();
  const ordered = sortByCreatedAt(events);
  const updatedAt = isoTime(job.updated_at) ?? receivedAt;
  const observations: Observation[] = [];
  const emit = <T extends PolledProviderType>(key: string, providerType: T, occurredAt: string, seen: Seen<T>) => {
    observations.push({ key, event: toEvent(`poll:ft:${job.id}:${key}`, providerType, job.id, occurredAt, receivedAt, seen) });
  };

  const startEvent = ordered.find((event) => FINE_TUNE_START_EVENTS.has(event.type ?? ''));
  if (startEvent !== undefined || FINE_TUNE_RAN_STATUSES.has(status)) {
    emit('started', 'fine_tune.started', isoTime(startEvent?.created_at) ?? updatedAt, {
      data: { jobId: job.id, baseModel: text(job.model) },
      providerData: { fine_tune_id: job.id, status, ...optional('model', job.model) },
    });
  }

  const checkpointKeys = new Set<string>();
  for (const event of ordered) {
    if (event.type !== 'checkpoint_save') continue;
    const key = `checkpoint:${checkpointKey(event)}`;
    if (checkpointKeys.has(key)) continue;
    checkpointKeys.add(key);
    const checkpointPath = event.checkpoint_path ?? event.model_path;
    emit(key, 'fine_tune.checkpoint', isoTime(event.created_at) ?? updatedAt, {
      data: { jobId: job.id, step: number(event.step), checkpointPath: text(checkpointPath) },
      providerData: {
        fine_tune_id: job.id,
        ...optional('step', event.step),
        ...optional('checkpoint_path', checkpointPath),
        ...optional('message', event.message),
      },
    });
  }

  if (status === 'completed') {
    const done = findLast(ordered, (event) => event.type === 'job_complete');
    emit('completed', 'fine_tune.completed', isoTime(done?.created_at) ?? updatedAt, {
      data: { jobId: job.id, modelName: text(job.model_output_name), baseModel: text(job.model), ...curveOf(curve) },
      providerData: { fine_tune_id: job.id, status, model_name: job.model_output_name ?? null },
    });
  } else if (status === 'cancelled') {
    const cancelled = findLast(ordered, (event) => event.type === 'cancel_requested' || event.type === 'job_stopped');
    emit('cancelled', 'fine_tune.cancelled', isoTime(cancelled?.created_at) ?? updatedAt, {
      data: { jobId: job.id, ...curveOf(curve) },
      providerData: { fine_tune_id: job.id, status },
    });
  } else if (FINE_TUNE_FAILED_STATUSES.has(status)) {
    const lastError = findLast(ordered, (event) => event.type === 'job_error');
    const errorMessage = lastError?.message ?? `job ended with status ${status}`;
    emit('failed', 'fine_tune.failed', isoTime(lastError?.created_at) ?? updatedAt, {
      data: { jobId: job.id, errorMessage: errorText(errorMessage), step: number(lastError?.step), ...curveOf(curve) },
      providerData: { fine_tune_id: job.id, status, error_message: errorMessage, ...optional('step', lastError?.step) },
    });
  }
  return observations;
}

/**
 * Once a batch is terminal, the event of its end: `batch.completed`, `batch.failed`, and for a batch
 * its owner cancelled or that ran out of time, `batch.cancelled` or `batch.expired` (no failure
 * alert; an expired batch's partial output stays named in `providerData`). Nothing before.
 */
export function observeBatch(batch: Batch, receivedAt: string): Observation[] {
  const status = batch.status.toUpperCase();
  if (!isBatchTerminal(status)) return [];
  const occurredAt = isoTime(batch.completed_at) ?? receivedAt;
  const id = `poll:batch:${batch.id}:${status}`;
  const providerData = {
    batch_id: batch.id,
    status,
    // A completed batch can still hold failed requests: error_file_id says where.
    output_file_id: batch.output_file_id ?? null,
    error_file_id: batch.error_file_id ?? null,
    ...optional('error', batch.error),
    ...optional('model_id', batch.model_id),
    ...optional('progress', batch.progress),
  };
  const seen = { data: { batchId: batch.id }, providerData };
  const event =
    status === 'COMPLETED'
      ? toEvent(id, 'batch.completed', batch.id, occurredAt, receivedAt, {
          data: { batchId: batch.id, outputFileId: text(batch.output_file_id), errorFileId: text(batch.error_file_id) },
          providerData,
        })
      : status === 'CANCELLED'
        ? toEvent(id, 'batch.cancelled', batch.id, occurredAt, receivedAt, seen)
        : status === 'EXPIRED'
          ? toEvent(id, 'batch.expired', batch.id, occurredAt, receivedAt, seen)
          : toEvent(id, 'batch.failed', batch.id, occurredAt, receivedAt, {
              data: { batchId: batch.id, errorMessage: errorText(batch.error) },
              providerData,
            });
  return [{ key: status, event }];
}

/** `{ checkpoints }` for a curve with points; nothing otherwise, so an absent curve stays absent. */
function curveOf(curve: readonly DataCheckpoint[] | undefined): { checkpoints?: DataCheckpoint[] } {
  return curve === undefined || curve.length === 0 ? {} : { checkpoints: [...curve] };
}

/** The event's own hash when Together sends one, else its step, else its time: stable across polls. */
function checkpointKey(event: FineTuneEvent): string {
  const raw = event.hash ?? (event.step === undefined || event.step === null ? `at-${isoTime(event.created_at) ?? event.checkpoint_path ?? ''}` : `step-${event.step}`);
  // Keep ids short and printable whatever the API puts in a hash.
  return /^[A-Za-z0-9._:-]{1,80}$/.test(raw) ? raw : createHash('sha256').update(raw).digest('hex').slice(0, 32);
}

/**
 * What one observation saw: the route's canonical data, and the fields the poller read from the
 * API under Together's push names (`providerData`).
 */
interface Seen<T extends PolledProviderType> {
  readonly data: EventData<T>;
  readonly providerData: Record<string, unknown>;
}

function toEvent<T extends PolledProviderType>(
  id: string,
  providerType: T,
  subject: string,
  occurredAt: string,
  receivedAt: string,
  seen: Seen<T>,
): NormalizedEvent {
  const result = incomingEventSchema().safeParse({
    id,
    provider: together.name,
    type: together.routes[providerType] ?? FALLBACK_ROUTE,
    providerType,
    subject,
    occurredAt,
    receivedAt,
    schemaVersion: SCHEMA_VERSION,
    // Canonical fields the API did not give are absent, as for a push.
    data: Object.fromEntries(Object.entries(seen.data).filter(([, value]) => value !== undefined)),
    providerData: seen.providerData,
  });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new BadRequestError(`observation ${id.slice(0, 300)} is not a valid event: ${issue?.path.join('.') ?? 'event'}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

/** ISO 8601 (UTC, `Z`) from an ISO string or Unix seconds; `undefined` when absent or unreadable. */
export function isoTime(value: string | number | null | undefined): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const ms = typeof value === 'number' ? value * 1000 : /^\d{1,12}$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (!Number.isFinite(ms)) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function sortByCreatedAt(events: readonly FineTuneEvent[]): FineTuneEvent[] {
  // Stable sort; events without a readable time keep their place relative to each other, last.
  return [...events].sort((a, b) => {
    const left = timeOrInfinity(a.created_at);
    const right = timeOrInfinity(b.created_at);
    return left === right ? 0 : left < right ? -1 : 1;
  });
}

function timeOrInfinity(value: string | number | null | undefined): number {
  const iso = isoTime(value);
  return iso === undefined ? Number.POSITIVE_INFINITY : Date.parse(iso);
}

function findLast<T>(items: readonly T[], predicate: (item: T) => boolean): T | undefined {
  for (let index = items.length - 1; index >= 0; index -= 1) {
    const item = items[index] as T;
    if (predicate(item)) return item;
  }
  return undefined;
}

function optional(name: string, value: unknown): Record<string, unknown> {
  return value === undefined || value === null ? {} : { [name]: value };
}
