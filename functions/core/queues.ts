/**
 * Queue settings shared by the local runtime and the CDK stack, so both redrive the same way.
 */
export const QUEUE_SETTINGS = {
  /** Receives before a message moves to the route's dead-letter queue. */
  maxReceiveCount: 5,
  /** Consumer function timeout; the visibility timeout is six times this, as AWS recommends. */
  consumerTimeoutSeconds: 30,
  visibilityTimeoutSeconds: 180,
  /** How long a dead letter is kept: the SQS maximum. */
  deadLetterRetentionSeconds: 14 * 24 * 3600,
  batchSize: 10,
  /**
   * The largest message a route queue takes, pinned rather than left to the account's default: the
   * SQS maximum. The largest stored event (MAX_STORED_EVENT_BYTES) is derived from it.
   */
  maxMessageBytes: 1_048_576,
} as const;
