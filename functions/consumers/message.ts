import type { SQSRecord } from 'aws-lambda';
import type * as z from '../core/zod';
import { eventEnvelopeSchema, normalizedEventSchema, PROVIDER_NAMES, SCHEMA_VERSION, type RouteEvent } from '../core/event';
import { PROVIDERS } from '../core/providers';
import { isRoute, type Route } from '../core/routes';
import { PoisonMessageError } from './errors';

/**
 * The normalized event a queue message carries. Throws {@link PoisonMessageError} when the body is
 * not JSON, carries a `schemaVersion` this consumer does not read, is not a valid normalized event,
 * or belongs to another route's queue (its consumer would run the wrong logic). The error names the
 * invalid fields only: a payload never reaches a log.
 *
 * A message without `schemaVersion` was queued by a release before version 2 (its `data` is the
 * provider's data): it is read as version 2, its canonical data mapped as the receiver maps it now,
 * so messages queued or stored across an upgrade are still handled. A newer version (written by a
 * newer receiver than this consumer) is poison: it waits in the dead-letter queue, untouched, for
 * a replay once the consumer is upgraded too.
 */
export function parseMessage<R extends Route>(record: Pick<SQSRecord, 'body'>, route: R): RouteEvent<R> {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch {
    throw new PoisonMessageError('message body is not JSON', ['(body)']);
  }
  const version = typeof json === 'object' && json !== null ? (json as { schemaVersion?: unknown }).schemaVersion : undefined;
  if (version !== undefined && version !== SCHEMA_VERSION) {
    const named = typeof version === 'number' && Number.isSafeInteger(version) ? `schemaVersion ${version}` : 'a schemaVersion that is not a version number';
    throw new PoisonMessageError(
      `message has ${named}; this consumer reads version ${SCHEMA_VERSION}: deploy the release that wrote it, then replay it from the dead-letter queue`,
      ['schemaVersion'],
    );
  }
  const candidate = version === undefined ? fromVersion1(json) : json;
  // The envelope first: a union that cannot tell the route of a broken message would name only `type`.
  const envelope = eventEnvelopeSchema().safeParse(candidate);
  if (!envelope.success) throw notAnEvent(envelope.error);
  const result = normalizedEventSchema().safeParse(candidate);
  if (!result.success) throw notAnEvent(result.error);
  if (result.data.type !== route) {
    throw new PoisonMessageError(`message of route ${result.data.type} is on the ${route} queue`, ['type']);
  }
  // Its type is the route, checked just above.
  return result.data as RouteEvent<R>;
}

function notAnEvent(error: z.core.$ZodError): PoisonMessageError {
  const paths = [...new Set(error.issues.map((issue) => (issue.path.length > 0 ? issue.path.join('.') : '(body)')))];
  return new PoisonMessageError(`message body is not a normalized event: invalid ${paths.join(', ')}`, paths);
}

/** A version 1 event (no `schemaVersion`, the provider's data as `data`) in version 2's shape. */
function fromVersion1(json: unknown): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  const { provider, type, data } = json as { provider?: unknown; type?: unknown; data?: unknown };
  const known = PROVIDER_NAMES.find((name) => name === provider);
  // Anything else fails the schema, naming the field that is wrong.
  if (known === undefined || typeof type !== 'string' || !isRoute(type)) return json;
  return { ...json, schemaVersion: SCHEMA_VERSION, data: PROVIDERS[known].canonicalData(type, data), providerData: data };
}
