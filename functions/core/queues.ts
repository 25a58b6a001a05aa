/** The longest SQS keeps a message: 14 days. */
const SQS_MAX_RETENTION_SECONDS = 14 * 24 * 3600;

/**
 * Queue settings shared by the local runtime and the CDK stack, so both redrive the same way.
 */
export const QUEUE_SETTINGS = {
  /** Receives before a message moves to the route's dead-letter queue. */
  maxReceiveCount: 5,
  /** Consumer function timeout; the visibility timeout is six times this, as AWS recommends. */
  consumerTimeoutSeconds: 30,
  visibilityTimeoutSeconds: 180,
  /**
   * How long a message waits on its route's queue: the SQS maximum rather than its 4-day default,
   * so that a consumer stopped for days loses nothing. Never longer than a dead letter is kept,
   * since SQS counts a dead letter's age from its first enqueue.
   */
  retentionSeconds: SQS_MAX_RETENTION_SECONDS,
  /** How long a dead letter is kept: the SQS maximum. */
  deadLetterRetentionSeconds: SQS_MAX_RETENTION_SECONDS,
  batchSize: 10,
  /**
   * The largest message a route queue takes, pinned rather than left to the account's default: the
   * SQS maximum. The largest stored event (MAX_STORED_EVENT_BYTES) is derived from it.
   */
  maxMessageBytes: 1_048_576,
} as const;

/**
 * The longest a copy of an event stays deliverable after the transition that sent it: on its
 * route's queue and as a dead letter, or, once a redrive enqueues the dead letter anew, on the
 * route's queue again. Event records outlive this (see MIN_RECORD_RETENTION_SECONDS).
 */
export const MESSAGE_LIFETIME_SECONDS = QUEUE_SETTINGS.retentionSeconds + QUEUE_SETTINGS.deadLetterRetentionSeconds;
