import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SendMessageCommandInput, type SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError, DependencyError, PayloadTooLargeError } from './errors';
import { eventKey, type NormalizedEvent } from './event';
import { encodeMessageBody, MESSAGE_ESCAPE_GROWTH, stringifyWithin } from './json';
import { QUEUE_SETTINGS } from './queues';
import type { Route } from './routes';
import { EVENTS_TABLE, type EventRecord, type EventStatus } from './table';

/** Bytes the three attributes of a message can take: names, types, and an id of at most 256 characters. */
const MAX_ATTRIBUTE_BYTES = 2_048;

/**
 * The largest stored event: escaped for SQS (at most MESSAGE_ESCAPE_GROWTH times longer) and with
 * its attributes, its message still fits the route queues (QUEUE_SETTINGS.maxMessageBytes); well
 * under DynamoDB's 400 KB item limit too. The body cap's limit is derived from this
 * (MAX_BODY_BYTES_LIMIT), so that every body within the cap fits.
 */
export const MAX_STORED_EVENT_BYTES = Math.floor((QUEUE_SETTINGS.maxMessageBytes - MAX_ATTRIBUTE_BYTES) / MESSAGE_ESCAPE_GROWTH);

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
    ...(clients.clock === undefined ? {} : { clock: clients.clock }),
    ...(clients.logger === undefined ? {} : { logger: clients.logger }),
  };
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
 * The attributes an event record takes from its event: written by the receiver's put, and by a
 * consumer that has to rebuild a record that expired or never existed.
 */
export function recordFields(
  event: NormalizedEvent,
  body: string,
  expiresAt: number,
): Omit<EventRecord, 'pk' | 'status'> {
  return {
    provider: event.provider,
    eventId: event.id,
    route: event.type,
    providerType: event.providerType,
    ...(event.subject === undefined ? {} : { subject: event.subject }),
    receivedAt: event.receivedAt,
    receivedDay: event.receivedAt.slice(0, 10),
    event: body,
    expiresAt,
  };
}

/**
 * The one write path for an event, shared by the receiver, the poller and replay:
 * 1. conditional put of the record as `in_progress` with a lease (absent, expired by TTL time, or
 *    an abandoned lease count as free: the last covers a process that died between put and send);
 * 2. send the event to its route's queue;
 * 3. mark the record `queued`.
 * A failed send releases the record, so the sender's retry gets the event through.
 * Throws {@link ConflictError} (409) while another request holds a live lease, and
 * {@link DependencyError} (503) when DynamoDB or SQS fail before the event is on the queue.
 */
export async function acceptEvent(deps: AcceptDeps, event: NormalizedEvent): Promise<AcceptResult> {
  const key = eventKey(event);
  const body = stringifyWithin(event, MAX_STORED_EVENT_BYTES);
  if (Buffer.byteLength(body) > MAX_STORED_EVENT_BYTES) {
    throw new PayloadTooLargeError(`normalized event is over ${MAX_STORED_EVENT_BYTES} bytes`, 'event_too_large');
  }
  const nowMs = (deps.clock ?? Date.now)();
  const nowSeconds = Math.floor(nowMs / 1000);
  const leaseToken = randomUUID();

  const record: EventRecord = {
    pk: key,
    status: 'in_progress',
    ...recordFields(event, body, nowSeconds + deps.retentionSeconds),
    leaseToken,
    leaseExpiresAt: nowSeconds + deps.leaseSeconds,
  };

  try {
    await deps.documents.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: record,
        ConditionExpression:
          'attribute_not_exists(#pk) OR #expiresAt < :now OR (#status = :inProgress AND #leaseExpiresAt < :now)',
        ExpressionAttributeNames: {
          '#pk': EVENTS_TABLE.partitionKey,
          '#expiresAt': EVENTS_TABLE.ttlAttribute,
          '#status': 'status',
          '#leaseExpiresAt': 'leaseExpiresAt',
        },
        ExpressionAttributeValues: { ':now': nowSeconds, ':inProgress': 'in_progress' },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) {
      throw new DependencyError('could not write the event record', 'dynamodb_unavailable', { cause: error });
    }
    const state = (error.Item?.status?.S as EventStatus | undefined) ?? (await currentState(deps, key));
    // No record any more means its holder released it a moment ago: the retry will win.
    if (state === undefined || state === 'in_progress') {
      throw new ConflictError(`${key} is being accepted by another request; retry`, 'in_progress');
    }
    return { status: 'duplicate', key, state };
  }

  try {
    await deps.sqs.send(new SendMessageCommand(eventMessage(event, body, deps.queueUrls[event.type])));
  } catch (error) {
    await release(deps, key, leaseToken);
    throw new DependencyError('could not send the event to its queue', 'sqs_unavailable', { cause: error });
  }

  try {
    await deps.documents.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { [EVENTS_TABLE.partitionKey]: key },
        // Only our own lease moves to queued: a consumer that already marked it handled wins.
        ConditionExpression: '#status = :inProgress AND leaseToken = :token',
        UpdateExpression: 'SET #status = :queued, queuedAt = :queuedAt REMOVE leaseToken, leaseExpiresAt',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
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

/** The status of the record, as a duplicate answer needs it; a failed read is a 503. */
async function currentState(deps: AcceptDeps, key: string): Promise<EventStatus | undefined> {
  try {
    return await readEventStatus(deps.documents, deps.tableName, key);
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
