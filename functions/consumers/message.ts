import type { SQSRecord } from 'aws-lambda';
import { NormalizedEventSchema, type NormalizedEvent } from '../core/event';
import { decodeMessageBody } from '../core/json';
import type { Route } from '../core/routes';
import { PoisonMessageError } from './errors';

/**
 * The normalized event a queue message carries. Throws {@link PoisonMessageError} when the body is
 * not JSON, is not a valid normalized event, or belongs to another route's queue (its consumer
 * would run the wrong logic). The error names the invalid fields only: a payload never reaches a log.
 */
export function parseMessage(record: Pick<SQSRecord, 'body'>, route: Route): NormalizedEvent {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch {
    throw new PoisonMessageError('message body is not JSON', ['(body)']);
  }
  const result = NormalizedEventSchema.safeParse(json);
  if (!result.success) {
    const paths = [...new Set(result.error.issues.map((issue) => (issue.path.length > 0 ? issue.path.join('.') : '(body)')))];
    throw new PoisonMessageError(`message body is not a normalized event: invalid ${paths.join(', ')}`, paths);
  }
  if (result.data.type !== route) {
    throw new PoisonMessageError(`message of route ${result.data.type} is on the ${route} queue`, ['type']);
  }
  return result.data;
}

/**
 * The stored form of a message's event, as the receiver wrote it to the event record: the body
 * without the escapes that carried it through SQS (see encodeMessageBody). A consumer that has to
 * rebuild a missing record stores this, no larger than the receiver's copy.
 */
export function storedEventText(record: Pick<SQSRecord, 'body'>): string {
  return decodeMessageBody(record.body);
}
