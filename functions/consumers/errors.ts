/**
 * Why a consumer reports a record as failed. Every one of them leaves the message on its queue:
 * SQS delivers it again after the visibility timeout, and after `maxReceiveCount` receives it
 * moves to the route's dead-letter queue, where replay can pick it up. Nothing is dropped.
 */
export abstract class ConsumerError extends Error {
  /** Short machine-readable reason for logs and metrics. */
  abstract readonly reason: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = new.target.name;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * The message body is not a normalized event for this queue. Retrying cannot fix it, but the
 * record still fails (instead of being deleted) so that it ends in the dead-letter queue where an
 * operator can see it. The message says where it is wrong, never what it holds.
 */
export class PoisonMessageError extends ConsumerError {
  // Stryker disable next-line StringLiteral: a poison message is logged with its paths and message, never through its reason
  readonly reason = 'poison_message';
  constructor(
    message: string,
    /** Paths of the invalid fields (e.g. `occurredAt`, `data`): safe to log, unlike their values. */
    readonly issuePaths: readonly string[],
  ) {
    super(message);
  }
}

/** Another consumer holds a live lease on this event (a duplicate delivery in flight): retry later. */
export class LeaseHeldError extends ConsumerError {
  readonly reason = 'lease_held';
}

/** Our lease was taken over (we ran past it) or the record changed under us: retry later. */
export class LeaseLostError extends ConsumerError {
  readonly reason = 'lease_lost';
}

/** DynamoDB or SNS failed: retry later. */
export class ConsumerDependencyError extends ConsumerError {
  readonly reason = 'dependency_failed';
}

/**
 * The message's event has no record: the receiver never accepted it (it was sent to the queue by
 * someone else), or its record was deleted by hand. Nothing runs for it, and retrying cannot fix
 * it, but the record fails like a poison message so that it ends in the dead-letter queue, where
 * an operator sees it, rather than being deleted.
 */
export class NoRecordError extends ConsumerError {
  readonly reason = 'no_record';
  constructor(readonly key: string) {
    super(`${key} has no event record: the receiver never accepted this message (it was sent to the queue directly); it is not handled`);
  }
}
