import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SendMessageCommandInput, type SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AWS_CALL_WORST_CASE_MS } from './aws';
import { ConflictError, DependencyError, PayloadTooLargeError } from './errors';
import { eventKey, type NormalizedEvent } from './event';
import { MAX_STORED_EVENT_BYTES } from './event-size';
import { encodeMessageBody, stringifyWithin } from './json';
import type { Route } from './routes';
import { publishedByReference } from './bus';
import { payloadItemOf, writePayloadItem } from './payload-item';
import { storedPayload } from './stored-event';
import { EVENTS_TABLE, extendExpiry, recordRetentionSeconds, type EventRecord, type EventStatus } from './table';


// Defined apart from the write path, so that reading the configuration loads no SDK client.
export { MAX_STORED_EVENT_BYTES } from './event-size';

/**
 * The longest an accept spends in AWS calls before it answers: the conditional put, the send, and
 * the release after a failed send or the mark after a good one, each at its worst.
 */
export const ACCEPT_WORST_CASE_MS = 3 * AWS_CALL_WORST_CASE_MS;

export interface AcceptDeps {
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly tableName: string;
  readonly queueUrls: Readonly<Record<Route, string>>;
  readonly leaseSeconds: number;
  readonly retentionSeconds: number;
  /** Epoch milliseconds; injectable so tests can move past a lease. */
  readonly clock?: () => number;
  readonly logger?: Pick<Logger, 'warn'>;
}

/** What the write path needs from any configuration that uses it (receiver, poller). */
export interface AcceptSettings {
  readonly tableName: string;
  readonly queueUrls: Readonly<Record<Route, string>>;
  readonly leaseSeconds: number;
  readonly retentionSeconds: number;
}

/** The write path's dependencies from a configuration and its clients. */
export function acceptDepsFor(
  settings: AcceptSettings,
  clients: Pick<AcceptDeps, 'documents' | 'sqs' | 'clock' | 'logger'>,
): AcceptDeps {
  return {
    documents: clients.documents,
    sqs: clients.sqs,
    tableName: settings.tableName,
    queueUrls: settings.queueUrls,
    leaseSeconds: settings.leaseSeconds,
    retentionSeconds: settings.retentionSeconds,
    clock: clients.clock,
    logger: clients.logger,
  };
}

/** What the caller knows of one delivery that decides how long its record lives. */
export interface AcceptOptions {
  /**
   * The delivery's signed timestamp, Unix seconds: the header of schemes that sign one, else the
   * body timestamp. The record's expiry runs from it where it is ahead of receipt.
   */
  readonly signedAtSeconds?: number;
  /** The provider's retention for this delivery; `deps.retentionSeconds` when omitted. */
  readonly retentionSeconds?: number;
  /** The event's `data` is derived from its `providerData` (the receiver's `ReadDelivery.dataDerived`): see `PackOptions`. */
  readonly dataDerived?: boolean;
}

export type AcceptResult =
  | { readonly status: 'accepted'; readonly key: string }
  | { readonly status: 'duplicate'; readonly key: string; readonly state: EventStatus };

/**
 * The message of an event on its route's queue: the normalized event (its stored form `body`,
 * escaped so that any queue takes it), with its id, provider and route as attributes.
 */
export function eventMessage(event: NormalizedEvent, body: string, queueUrl: string): SendMessageCommandInput {
  return {
    QueueUrl: queueUrl,
    MessageBody: encodeMessageBody(body),
    MessageAttributes: {
      eventId: { DataType: 'String', StringValue: event.id },
      provider: { DataType: 'String', StringValue: event.provider },
      type: { DataType: 'String', StringValue: event.type },
    },
  };
}

/**
 * The attributes an event record takes from its event's envelope, without its payload: written by
 * the receiver's put beside the packed payload (`stored-event.ts`).
 */
export function envelopeFields(
  event: NormalizedEvent,
  expiresAt: number,
  retentionSeconds: number,
): Omit<EventRecord, 'pk' | 'status'> {
  return {
    provider: event.provider,
    eventId: event.id,
    route: event.type,
    providerType: event.providerType,
    ...(event.subject === undefined ? {} : { subject: event.subject }),
    receivedAt: event.receivedAt,
    receivedDay: event.receivedAt.slice(0, 10),
    expiresAt,
    retentionSeconds,
  };
}

/**
 * The attributes of a record in the form written before the packed payload: the envelope and the
 * whole event as JSON (`event`). Readers still read it; tests write it to stand for such records.
 */
export function recordFields(
  event: NormalizedEvent,
  body: string,
  expiresAt: number,
  retentionSeconds: number,
): Omit<EventRecord, 'pk' | 'status'> {
  return { ...envelopeFields(event, expiresAt, retentionSeconds), event: body };
}

/**
 * The one write path for an event, shared by the receiver, the poller and replay:
 * 1. conditional put of the record as `in_progress` with a lease, its payload packed inline; or,
 *    when the record would pass one write unit in some state with it, beside it (in parallel, so
 *    that the accept's worst case stays three calls) the put of its payload item, named by its
 *    content (`payload#{hash}#{key}`), so that a duplicate's rewrite of it changes nothing.
 *    Nothing is sent before both succeeded: a crash between them leaves at most an `in_progress`
 *    record under its lease, for which nothing was sent and which the sender's retry takes over.
 *    Free are: no record; a lease
 *    abandoned by a process that died between put and send; and, past `expiresAt`, a `handled` or
 *    `failed` record or a consumer's abandoned lease. A `queued` record or a live lease is never
 *    free, however old: someone is working on it. A put that fails on our own lease was applied
 *    once already (the SDK retried it after losing the answer), and goes on;
 * 2. send the event to its route's queue;
 * 3. mark the record `queued`.
 * A failed send releases the record, so the sender's retry gets the event through.
 * Throws {@link ConflictError} (409) while another request holds a live lease, and
 * {@link DependencyError} (503) when DynamoDB or SQS fail before the event is on the queue.
 * The record is kept `retentionSeconds` after each transition, from the later of receipt and the
 * signed timestamp, and never less than any copy of its message can still be delivered.
 */
export async function acceptEvent(deps: AcceptDeps, event: NormalizedEvent, options: AcceptOptions = {}): Promise<AcceptResult> {
  const key = eventKey(event);
  const body = stringifyWithin(event, MAX_STORED_EVENT_BYTES);
  if (Buffer.byteLength(body) > MAX_STORED_EVENT_BYTES) {
    throw new PayloadTooLargeError(`normalized event is over ${MAX_STORED_EVENT_BYTES} bytes`, 'event_too_large');
  }
  const nowMs = (deps.clock ?? Date.now)();
  const nowSeconds = Math.floor(nowMs / 1000);
  const leaseToken = randomUUID();
  // A timestamp ahead of receipt adds to every later transition's retention too, so that no replay
  // of the same signed bytes can outlive the record.
  const ahead = Math.max(0, (options.signedAtSeconds ?? nowSeconds) - nowSeconds);
  const retentionSeconds = recordRetentionSeconds(options.retentionSeconds ?? deps.retentionSeconds) + ahead;

  const fields = envelopeFields(event, nowSeconds + retentionSeconds, retentionSeconds);
  // An event over EventBridge's limit is published by its key, and targets read it from the
  // record's `event` JSON (docs/extending.md): it keeps that form, however large.
  const stored = publishedByReference(event, body) ? undefined : storedPayload(event, { pk: key, ...fields }, options);
  const payloadItem = stored === undefined || stored.inline ? undefined : payloadItemOf(key, stored.bytes, nowSeconds + retentionSeconds);
  const record: EventRecord = {
    pk: key,
    status: 'in_progress',
    ...fields,
    ...(stored === undefined ? { event: body } : payloadItem === undefined ? { payload: stored.bytes } : { payloadItem: payloadItem.hash }),
    leaseToken,
    leaseExpiresAt: nowSeconds + deps.leaseSeconds,
  };

  const [put, payloadPut] = await Promise.allSettled([
    putRecord(deps, record, nowSeconds),
    payloadItem === undefined ? Promise.resolve() : writePayloadItem(deps.documents, deps.tableName, payloadItem.item),
  ]);
  if (put.status === 'rejected') throw put.reason;
  if (put.value !== undefined) return { status: 'duplicate', key, state: put.value };
  if (payloadPut.status === 'rejected') {
    await release(deps, key, leaseToken);
    throw new DependencyError('could not write the event payload', 'dynamodb_unavailable', { cause: payloadPut.reason });
  }

  try {
    await deps.sqs.send(new SendMessageCommand(eventMessage(event, body, deps.queueUrls[event.type])));
  } catch (error) {
    await release(deps, key, leaseToken);
    throw new DependencyError('could not send the event to its queue', 'sqs_unavailable', { cause: error });
  }

  const expiry = extendExpiry(nowSeconds, retentionSeconds);
  try {
    await deps.documents.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { [EVENTS_TABLE.partitionKey]: key },
        // Only our own lease moves to queued: a consumer that already marked it handled wins.
        ConditionExpression: '#status = :inProgress AND leaseToken = :token',
        UpdateExpression: `SET #status = :queued, queuedAt = :queuedAt, ${expiry.set} REMOVE leaseToken, leaseExpiresAt`,
        ExpressionAttributeNames: { '#status': 'status', ...expiry.names },
        ExpressionAttributeValues: {
          ...expiry.values,
          ':inProgress': 'in_progress',
          ':token': leaseToken,
          ':queued': 'queued',
          ':queuedAt': new Date(nowMs).toISOString(),
        },
      }),
    );
  } catch (error) {
    // The event is on its queue, so it is accepted: the consumer moves the record on from here.
    if (!(error instanceof ConditionalCheckFailedException)) {
      deps.logger?.warn('event sent but its record could not be marked queued', { key, error: String(error) });
    }
  }
  return { status: 'accepted', key };
}

/**
 * The receiver's conditional put of a record (see {@link acceptEvent}): undefined when the record
 * is ours now, else the status of the record that refused it (a duplicate). Throws
 * {@link ConflictError} while another request holds a live lease and {@link DependencyError}.
 */
async function putRecord(deps: AcceptDeps, record: EventRecord, nowSeconds: number): Promise<EventStatus | undefined> {
  try {
    await deps.documents.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: record,
        ConditionExpression:
          'attribute_not_exists(#pk) OR (#status = :inProgress AND #leaseExpiresAt < :now) OR ' +
          '(#expiresAt < :now AND (#status IN (:handled, :failed) OR (#status = :handling AND #leaseExpiresAt < :now)))',
        ExpressionAttributeNames: {
          '#pk': EVENTS_TABLE.partitionKey,
          '#expiresAt': EVENTS_TABLE.ttlAttribute,
          '#status': 'status',
          '#leaseExpiresAt': 'leaseExpiresAt',
        },
        ExpressionAttributeValues: {
          ':now': nowSeconds,
          ':inProgress': 'in_progress',
          ':handling': 'handling',
          ':handled': 'handled',
          ':failed': 'failed',
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) {
      throw new DependencyError('could not write the event record', 'dynamodb_unavailable', { cause: error });
    }
    const holder =
      error.Item === undefined
        ? await currentHolder(deps, record.pk)
        : { status: error.Item.status?.S as EventStatus | undefined, leaseToken: error.Item.leaseToken?.S };
    if (holder.leaseToken !== record.leaseToken) {
      // No record any more means its holder released it a moment ago: the retry will win.
      if (holder.status === undefined || holder.status === 'in_progress') {
        throw new ConflictError(`${record.pk} is being accepted by another request; retry`, 'in_progress');
      }
      return holder.status;
    }
  }
  return undefined;
}

/**
 * The status and lease of the record that blocked a put, by a consistent read (DynamoDB returns
 * them with the failed condition; emulators do not); a failed read is a 503.
 */
async function currentHolder(deps: AcceptDeps, key: string): Promise<{ status?: EventStatus; leaseToken?: string }> {
  try {
    const { Item } = await deps.documents.send(
      new GetCommand({
        TableName: deps.tableName,
        Key: { [EVENTS_TABLE.partitionKey]: key },
        ConsistentRead: true,
        ProjectionExpression: '#status, leaseToken',
        ExpressionAttributeNames: { '#status': 'status' },
      }),
    );
    return { status: Item?.status as EventStatus | undefined, leaseToken: Item?.leaseToken as string | undefined };
  } catch (error) {
    throw new DependencyError('could not read the event record', 'dynamodb_unavailable', { cause: error });
  }
}

/**
 * The status of an event record by a consistent read. DynamoDB returns the old item with a failed
 * condition (`ReturnValuesOnConditionCheckFailure`); emulators that do not need this read instead.
 */
export async function readEventStatus(
  documents: DynamoDBDocumentClient,
  tableName: string,
  key: string,
): Promise<EventStatus | undefined> {
  const { Item } = await documents.send(
    new GetCommand({
      TableName: tableName,
      Key: { [EVENTS_TABLE.partitionKey]: key },
      ConsistentRead: true,
      ProjectionExpression: '#status',
      ExpressionAttributeNames: { '#status': 'status' },
    }),
  );
  return Item?.status as EventStatus | undefined;
}

/** Deletes our own in-progress record so the sender's retry is not blocked by a lease. */
async function release(deps: AcceptDeps, key: string, leaseToken: string): Promise<void> {
  try {
    await deps.documents.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: { [EVENTS_TABLE.partitionKey]: key },
        ConditionExpression: 'leaseToken = :token',
        ExpressionAttributeValues: { ':token': leaseToken },
      }),
    );
  } catch (error) {
    // The lease expires on its own; until then the retry gets a 409 and tries again.
    deps.logger?.warn('could not release the event record; its lease will expire', { key, error: String(error) });
  }
}
