/**
 * The events table: one item per `{provider}#{eventId}`, the idempotency record and the event log
 * in one. The local runtime and the CDK stack both build the table from this description.
 */
export const EVENTS_TABLE = {
  partitionKey: 'pk',
  /** DynamoDB TTL attribute, epoch seconds. TTL deletes late, so conditions also compare it to now. */
  ttlAttribute: 'expiresAt',
  /** Lists events by time without a scan: partition per UTC day, sorted by receive time. */
  byTimeIndex: { name: 'byReceivedDay', partitionKey: 'receivedDay', sortKey: 'receivedAt' },
} as const;

/**
 * Where an event is. `in_progress`: the receiver holds a lease and is sending it; `queued`: on its
 * route's queue; `handled`: its consumer finished; `failed`: its consumer gave up (see `lastError`).
 */
export const EVENT_STATUSES = ['in_progress', 'queued', 'handled', 'failed'] as const;
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
  /** The normalized event, as sent to the queue: what replay puts back. */
  event: string;
  expiresAt: number;
  leaseToken?: string;
  leaseExpiresAt?: number;
  queuedAt?: string;
  handledAt?: string;
  attempts?: number;
  lastError?: string;
  replayCount?: number;
}

/**
 * The jobs projection: the latest known state of each fine-tune job and batch, one item per
 * `{provider}#{subject}`, written by the consumers with conditional writes.
 */
export const JOBS_TABLE = {
  partitionKey: 'pk',
} as const;
