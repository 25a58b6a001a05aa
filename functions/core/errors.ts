/**
 * Every failure the receiver can answer with. Each carries the HTTP status of the contract and a
 * short machine-readable `reason` used in logs and metrics.
 */
export abstract class ReceiverError extends Error {
  abstract readonly statusCode: number;
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
  /** What the sender sees. Only messages safe for an unauthenticated caller go here. */
  publicBody(): Record<string, string> {
    return { error: this.reason, message: this.message };
  }
}

export class NotFoundError extends ReceiverError {
  readonly statusCode = 404;
}

export class MethodNotAllowedError extends ReceiverError {
  readonly statusCode = 405;
}

export class PayloadTooLargeError extends ReceiverError {
  readonly statusCode = 413;
}

/** 400: the delivery is authenticated but cannot be turned into an event. Senders should not retry. */
export class BadRequestError extends ReceiverError {
  readonly statusCode = 400;
  constructor(message: string) {
    super(message, 'bad_request');
  }
}

/**
 * 401: signature or timestamp missing or wrong. The message (what exactly failed) goes to the log
 * only; the sender gets an opaque body so that a forger learns nothing.
 */
export class UnauthorizedError extends ReceiverError {
  readonly statusCode = 401;
  override publicBody(): Record<string, string> {
    return { error: 'unauthorized' };
  }
}

/** 409: the same event is being accepted right now by another request; the sender should retry. */
export class ConflictError extends ReceiverError {
  readonly statusCode = 409;
}

/** 503: a dependency (DynamoDB, SQS, Secrets Manager) failed; nothing was half-accepted, retry. */
export class DependencyError extends ReceiverError {
  readonly statusCode = 503;
  constructor(
    message: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, reason);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
  override publicBody(): Record<string, string> {
    return { error: 'unavailable', message: 'a dependency failed; nothing was accepted, retry later' };
  }
}

/**
 * 503 `secret_invalid`: an active signing secret is refused (an empty key, or a `standard` key
 * that is not 24–64 bytes of base64), so no delivery can be verified until the operator fixes it.
 * Never a 401: the sender keeps the event and retries.
 */
export class SecretInvalidError extends DependencyError {
  constructor(message: string) {
    super(message, 'secret_invalid');
  }
}

/** Missing or invalid configuration: thrown at start-up, never per request. */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}
