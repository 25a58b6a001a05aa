import { MESSAGE_LIFETIME_SECONDS } from './queues';

/**
 * The events table: one item per `{provider}#{eventId}`, the idempotency record and the event log
 * in one. The local runtime and the CDK stack both build the table from this description.
 */
export const EVENTS_TABLE = {
  partitionKey: 'pk',
  /** DynamoDB TTL attribute, epoch seconds. TTL deletes late, so conditions also compare it to now. */
  ttlAttribute: 'expiresAt',
  /**
   * Lists events by time without a scan: partition per UTC day, sorted by receive time. It carries
   * only the attributes listing filters on, which never change after the receiver's put, so the three status updates of an
   * event (queued, handling, handled) do not write the index again: one index write per event
   * instead of four. Readers fetch the current status from the table by key.
   */
  byTimeIndex: {
    name: 'byReceivedDay',
    partitionKey: 'receivedDay',
    sortKey: 'receivedAt',
    // What listing filters on; everything else is read from the table by key.
    projectedAttributes: ['provider', 'route'],
  },
} as const;

/**
 * Where an event is:
 * - `in_progress`: the receiver holds a lease (`leaseToken`, `leaseExpiresAt`) and is sending it;
 * - `queued`: on its route's queue, waiting for its consumer (replay also sets it back to this);
 * - `handling`: a consumer holds a lease and is running the route's logic; a lease past
 *   `leaseExpiresAt` belongs to a consumer that died, and the next delivery may take it over;
 * - `handled`: its consumer finished (`handledAt`); a later delivery of the same event is skipped;
 * - `failed`: the last consumer attempt threw (`lastError`, `failedAt`); the message is retried until its
 *   queue's `maxReceiveCount`, then waits in the dead-letter queue for replay.
 * Every transition moves `expiresAt` on ({@link extendExpiry}). Past it, a new delivery of the same
 * id may take the record over only when it is `handled`, `failed`, or under an abandoned lease:
 * `queued` and live leases are someone's work in progress, however old.
 */
export const EVENT_STATUSES = ['in_progress', 'queued', 'handling', 'handled', 'failed'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** The attributes of an event record. */
export interface EventRecord {
  pk: string;
  status: EventStatus;
  provider: string;
  eventId: string;
  route: string;
  providerType: string;
  subject?: string;
  receivedAt: string;
  receivedDay: string;
  /**
   * The normalized event as JSON, as records written before the packed form kept it. Such records
   * are still read (until their TTL deletes them); new records keep `payload` or `payloadItem`.
   */
  event?: string;
  /**
   * The provider's payload and `occurredAt`, packed (`stored-event.ts`): with the attributes above
   * it makes the normalized event again, the one sent to the queue and what replay puts back.
   */
  payload?: Uint8Array;
  /**
   * Set instead of `payload` when the record would pass one write unit in some state with it:
   * the payload is then in an item of its own, `payload#{payloadItem}#{pk}` (`payload-item.ts`),
   * written once, beside the record's first put; no transition touches it.
   */
  payloadItem?: string;
  /** When TTL may delete the record, epoch seconds: now + `retentionSeconds` at every transition. */
  expiresAt: number;
  /**
   * How long the record is kept after each transition, fixed by its first write: the provider's
   * retention (never under MIN_RECORD_RETENTION_SECONDS), plus how far its signed timestamp was
   * ahead of receipt.
   */
  retentionSeconds?: number;
  leaseToken?: string;
  leaseExpiresAt?: number;
  queuedAt?: string;
  handledAt?: string;
  attempts?: number;
  lastError?: string;
  /**
   * A remark of the attempt that handled the event, e.g. that its provider's API did not know the
   * object (`openai: GET /batches/batch_1 answered 404; handled with the payload's data`).
   */
  note?: string;
  /** When the last consumer attempt failed (ISO); kept after a replay, shown while `failed`. */
  failedAt?: string;
  /** How many times an operator replayed the event (`webhooks replay`). */
  replayCount?: number;
  /** When it was last replayed. */
  replayedAt?: string;
  /**
   * Steps of the current consumer attempt that must not run twice (e.g. `alert`), each with the
   * time it completed: a retry after a later step failed skips them. Cleared when handled, so a
   * replay runs every step again.
   */
  steps?: Record<string, string>;
}

/** An event record without its payload: what lists and status lines show. */
export type EventSummary = Omit<EventRecord, 'event' | 'payload' | 'payloadItem' | 'steps' | 'leaseToken' | 'expiresAt' | 'receivedDay'>;

/**
 * Kept on top of the message lifetime: the seconds between a record's write and the send it
 * guards, and clocks that differ between the components that move a record.
 */
const RECORD_RETENTION_MARGIN_SECONDS = 86_400;

/**
 * The least a record is kept after each of its transitions: longer than any copy of its event can
 * still be delivered (route queue, dead-letter queue, a redrive), so that a late copy always finds
 * the record and, if it was handled, is skipped.
 */
export const MIN_RECORD_RETENTION_SECONDS = MESSAGE_LIFETIME_SECONDS + RECORD_RETENTION_MARGIN_SECONDS;

/** A configured retention as a record keeps it: never under {@link MIN_RECORD_RETENTION_SECONDS}. */
export function recordRetentionSeconds(configuredSeconds: number): number {
  return Math.max(configuredSeconds, MIN_RECORD_RETENTION_SECONDS);
}

/**
 * The SET action every transition of a record adds: `expiresAt` moves to now + the record's own
 * `retentionSeconds` (or `fallbackSeconds`, as a record retention, for a record written without
 * one). Its names are `#expiresAt` and `#retention`, its values `:expiryNow` and `:expiryFallback`.
 */
export function extendExpiry(nowSeconds: number, fallbackSeconds: number) {
  return {
    set: '#expiresAt = :expiryNow + if_not_exists(#retention, :expiryFallback)',
    names: { '#expiresAt': EVENTS_TABLE.ttlAttribute, '#retention': 'retentionSeconds' },
    values: { ':expiryNow': nowSeconds, ':expiryFallback': recordRetentionSeconds(fallbackSeconds) },
  } as const;
}

/**
 * The jobs projection: the latest known state of each fine-tune job and batch, one item per
 * `{provider}#{subject}`, written by the consumers with conditional writes. Beside them, the
 * once-records of steps guarded per job transition, `once#{provider}#{subject}#{state}#{step}`
 * (see `functions/consumers/once.ts`).
 */
export const JOBS_TABLE = {
  partitionKey: 'pk',
  /**
   * Lists jobs by when they last changed, without a scan: partition per UTC day of `updatedAt`
   * (`activeDay`), keys only plus `kind`, which never changes. The day moves at most once a day
   * per job, so a projection update does not write the index again, unlike a sort key on
   * `updatedAt` would (two index writes per event). Readers fetch the current item by key.
   */
  byActiveDayIndex: {
    name: 'byActiveDay',
    partitionKey: 'activeDay',
    projectedAttributes: ['kind'],
  },
  /** Checkpoints a job's history shows, the highest steps; a lower one is dropped first. */
  maxCheckpoints: 500,
} as const;

/**
 * A job's history, one small item per checkpoint and per state, under the job's key: a report
 * writes its own item (one write unit) instead of rewriting the job item with its whole history.
 * `sk` is `c#{step, zero-padded}` for a checkpoint, so that a query reads them in step order, the
 * highest first when asked; `t#{state}` for a state. Readers take the highest
 * `JOBS_TABLE.maxCheckpoints` checkpoints.
 */
export const JOB_HISTORY_TABLE = {
  /** `{provider}#{subject}`: the job item's key. */
  partitionKey: 'pk',
  sortKey: 'sk',
  checkpointPrefix: 'c#',
  transitionPrefix: 't#',
  /** Digits of a checkpoint's step in its sort key: any safe integer. */
  stepDigits: 16,
} as const;

/** The sort key of a job's checkpoint at `step` (a non-negative integer). */
export function checkpointSortKey(step: number): string {
  return `${JOB_HISTORY_TABLE.checkpointPrefix}${String(step).padStart(JOB_HISTORY_TABLE.stepDigits, '0')}`;
}

/** The sort key of a job's state. */
export function transitionSortKey(state: JobState): string {
  return `${JOB_HISTORY_TABLE.transitionPrefix}${state}`;
}

/** An item of the job-history table: one checkpoint or one state of a job. */
export type JobHistoryItem = { pk: string; sk: string } & (JobCheckpoint | JobTransition);

/** What a job or batch is known to be doing, in order: a job only ever moves to a higher rank. */
export const JOB_STATES = { started: 1, running: 2, completed: 3, failed: 3, cancelled: 3, expired: 3 } as const;
export type JobState = keyof typeof JOB_STATES;

/** An item of the jobs projection. */
export interface JobItem {
  /** `{provider}#{subject}` */
  pk: string;
  provider: string;
  subject: string;
  kind: 'fine_tune' | 'batch';
  /** Latest state by rank: started < running < completed | failed | cancelled | expired (the first terminal state is final). */
  state?: JobState;
  /** `JOB_STATES[state]`, kept so that conditions can compare ranks. */
  rank?: number;
  /** Highest checkpoint step seen; it keeps rising after a terminal state, the state does not move. */
  step?: number;
  /** Loss reported with the highest step. */
  loss?: number;
  /**
   * The earliest report of the current state (by time, then event id) and its time: the same as
   * the state's `transitions` entry, whichever report arrived first.
   */
  stateEventId?: string;
  stateAt?: string;
  /** Fine-tuned model name (completed fine-tune). */
  model?: string;
  /** Output file or URL (completed batch). */
  output?: string;
  /** Why it failed (failed fine-tune or batch). */
  error?: string;
  /** Evaluation loss the provider reported with the completion (fine-tune). */
  evalLoss?: number;
  /**
   * Checkpoint or model paths the completion event listed, for a deploy step (fine-tune), at most
   * 50; cut from the end only if the item would pass 400,000 bytes with one checkpoint left.
   */
  checkpointPaths?: string[];
  /**
   * Where a completed batch's files were copied (with batch results on): written once, after
   * every file of the batch is stored, never in part.
   */
  results?: BatchResults;
  /**
   * Written only before the job-history table existed ({@link JOB_HISTORY_TABLE}), never since:
   * the checkpoints the item held then, in step order, one per step. Readers merge them with the
   * history items, as reports of the same steps.
   */
  checkpoints?: JobCheckpoint[];
  /** Written only before the job-history table existed: the states the item held then. */
  transitions?: JobTransition[];
  /** When the projection first heard of the job (consumer clock). */
  firstSeenAt?: string;
  updatedAt: string;
  /** UTC day of `updatedAt`: the partition of `JOBS_TABLE.byActiveDayIndex`. */
  activeDay?: string;
  /** Bumped on every projection write: the condition that makes read-merge-write safe. */
  version?: number;
}

/** One checkpoint of a job's history. */
export interface JobCheckpoint {
  step: number;
  loss?: number;
  /** When the provider says it happened. */
  at: string;
  /** The event that reported it (`{provider}#{eventId}` is its event key). */
  eventId: string;
  /** Where the provider stored it, when it says. */
  path?: string;
}

/** One state of a job's history. */
export interface JobTransition {
  state: JobState;
  at: string;
  eventId: string;
}

/** One result file of a batch, as copied into the results bucket. */
export interface BatchResultFile {
  /** `s3://{bucket}/{key}` */
  uri: string;
  /** The provider's id of the file. */
  fileId: string;
  bytes: number;
  /** Lines of the JSONL file: one request each; a last line without a newline counts. */
  lines: number;
  /** Hex SHA-256 of the bytes, as read from the provider. */
  sha256: string;
}

/** A completed batch's files in the results bucket (`together/batches/{batchId}/…`). */
export interface BatchResults {
  /** `output.jsonl`: the results, when the batch has an output file. */
  output?: BatchResultFile;
  /** `errors.jsonl`: the requests that failed, when the batch has an error file. */
  errors?: BatchResultFile;
  storedAt: string;
}
