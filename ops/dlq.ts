import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Route } from '../functions/core/routes';
import { keepPayloadItem } from '../functions/core/payload-item';
import { EVENTS_TABLE, MIN_RECORD_RETENTION_SECONDS, extendExpiry, type EventRecord } from '../functions/core/table';
import { CliError } from './errors';
import type { RouteQueueRefs } from './target';

export interface QueueDeps {
  readonly sqs: Pick<SQSClient, 'send'>;
  readonly queues: Readonly<Record<Route, RouteQueueRefs>>;
}

/** Messages waiting (visible) and in flight (received, not yet deleted) on one queue. */
export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
}

/** A dead letter as the CLI and the console show it: ids and types, never the body. */
export interface DeadLetterPeek {
  readonly messageId: string;
  readonly key?: string;
  readonly type?: string;
  readonly sentAt?: string;
  readonly receiveCount?: number;
}

export interface DeadLetterReport {
  readonly route: Route;
  readonly depth: QueueDepth;
  readonly peek: readonly DeadLetterPeek[];
}

/** ApproximateNumberOfMessages and …NotVisible of a queue. */
export async function queueDepth(sqs: Pick<SQSClient, 'send'>, queueUrl: string): Promise<QueueDepth> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

/** Most dead letters one peek shows: a receive returns at most 10. */
export const MAX_PEEK = 10;

/** How long a peeked message is hidden before it is made visible again: only if that step fails. */
const PEEK_VISIBILITY_SECONDS = 5;

/**
 * Looks at up to `count` dead letters without consuming them: received with a short visibility
 * timeout, then made visible again at once (ChangeMessageVisibility 0), and never deleted. Not a
 * receive with VisibilityTimeout 0: fauxqs then reports the messages as in flight until the next
 * receive, so the depth shown afterwards would be wrong. Only the message id, the event key and
 * type are kept: a body may hold customer data.
 */
export async function peekDeadLetters(sqs: Pick<SQSClient, 'send'>, queueUrl: string, count: number): Promise<DeadLetterPeek[]> {
  if (count <= 0) return [];
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: Math.min(count, MAX_PEEK),
      VisibilityTimeout: PEEK_VISIBILITY_SECONDS,
      WaitTimeSeconds: 0,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
    }),
  );
  if (Messages.length > 0) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((message, position) => ({
          Id: String(position),
          ReceiptHandle: message.ReceiptHandle as string,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
  return Messages.map(describeMessage);
}

function describeMessage(message: Message): DeadLetterPeek {
  const attributes = message.MessageAttributes ?? {};
  // The key the consumer claims is the body's: attributes are whatever the sender set.
  const body = bodyKey(message.Body);
  const provider = body?.provider ?? attributes.provider?.StringValue;
  const eventId = body?.id ?? attributes.eventId?.StringValue;
  const sent = Number(message.Attributes?.SentTimestamp);
  const receives = Number(message.Attributes?.ApproximateReceiveCount);
  return {
    messageId: message.MessageId ?? '?',
    ...(provider !== undefined && eventId !== undefined ? { key: `${provider}#${eventId}` } : {}),
    ...(attributes.type?.StringValue === undefined ? {} : { type: attributes.type.StringValue }),
    ...(Number.isFinite(sent) && sent > 0 ? { sentAt: new Date(sent).toISOString() } : {}),
    ...(Number.isFinite(receives) ? { receiveCount: receives } : {}),
  };
}

/** The provider and id of a body that is a JSON object with both as strings; nothing else is read. */
function bodyKey(body: string | undefined): { provider: string; id: string } | undefined {
  try {
    const { provider, id } = JSON.parse(body ?? '') as { provider?: unknown; id?: unknown };
    return typeof provider === 'string' && typeof id === 'string' ? { provider, id } : undefined;
  } catch {
    return undefined;
  }
}

/** Depth and a peek of each route's dead-letter queue. */
export async function listDeadLetters(deps: QueueDeps, routes: readonly Route[], peek: number): Promise<DeadLetterReport[]> {
  return Promise.all(
    routes.map(async (route) => {
      const url = deps.queues[route].deadLetterUrl;
      const depth = await queueDepth(deps.sqs, url);
      const letters = depth.visible + depth.inFlight > 0 ? await peekDeadLetters(deps.sqs, url, peek) : [];
      return { route, depth, peek: letters };
    }),
  );
}

export interface RedriveResult {
  readonly route: Route;
  readonly moved: number;
  /** Messages that could not be sent back: they stay on the dead-letter queue. */
  readonly failed: number;
  /** The AWS move task, when SQS did the moving. */
  readonly taskHandle?: string;
  readonly status?: string;
}

export interface RedriveDeps extends QueueDeps {
  /** Called with the number of messages moved so far on this route and, when known, the total. */
  readonly onProgress?: (route: Route, moved: number, total: number) => void;
}

/** The events table, so that a redrive by copy keeps each message's record as long as its new copy. */
export interface RedriveRecords {
  readonly documents: Pick<DynamoDBDocumentClient, 'send'>;
  readonly tableName: string;
  /** Epoch milliseconds. */
  readonly clock: () => number;
}

/** How long a message received for moving stays hidden: a crash mid-move lets it reappear soon. */
const MOVE_VISIBILITY_SECONDS = 30;

/**
 * SendMessageBatch's limit on the sum of its messages' sizes (bodies plus attributes): the SQS
 * maximum message size, 1 MiB, which the route queues are pinned at (`QUEUE_SETTINGS`).
 */
export const SEND_BATCH_MAX_BYTES = 1_048_576;
/** Entries per SendMessageBatch or DeleteMessageBatch. */
const BATCH_MAX_ENTRIES = 10;

/**
 * Moves a route's dead letters back to its queue with a receive → send → delete loop: what
 * StartMessageMoveTask does in AWS, for emulators that lack it (fauxqs). Body and message
 * attributes are copied; a message is deleted only after its copy was sent, so a failure leaves
 * it on the dead-letter queue (at worst a duplicate, which the consumers skip). A copy is a new
 * message with the queue's whole retention ahead of it, so each record's expiry is moved on first
 * (as any transition does): a late copy still finds the record, and `handled` in it. The messages
 * of a receive are sent in batches of at most {@link SEND_BATCH_MAX_BYTES}: ten large events are
 * over it. Stops when a receive comes back empty.
 */
export async function redriveByCopy(deps: RedriveDeps & { readonly records?: RedriveRecords }, route: Route): Promise<RedriveResult> {
  const { url, deadLetterUrl } = deps.queues[route];
  const total = (await queueDepth(deps.sqs, deadLetterUrl)).visible;
  let moved = 0;
  let failed = 0;
  deps.onProgress?.(route, 0, total);
  for (;;) {
    const { Messages = [] } = await deps.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterUrl,
        MaxNumberOfMessages: BATCH_MAX_ENTRIES,
        VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    if (deps.records !== undefined) await Promise.all(Messages.map((message) => keepRecord(deps.records as RedriveRecords, message)));
    let movedNow = 0;
    for (const batch of batchesBySize(Messages.map(toEntry), SEND_BATCH_MAX_BYTES, BATCH_MAX_ENTRIES)) {
      const sent = await deps.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: batch.map(({ entry }, position) => ({ ...entry, Id: String(position) })),
        }),
      );
      const ok = new Set((sent.Successful ?? []).map((result) => Number(result.Id)));
      const toDelete = batch.filter((_, position) => ok.has(position));
      if (toDelete.length > 0) {
        await deps.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: deadLetterUrl,
            Entries: toDelete.map(({ receiptHandle }, position) => ({ Id: String(position), ReceiptHandle: receiptHandle })),
          }),
        );
      }
      movedNow += toDelete.length;
      failed += batch.length - toDelete.length;
    }
    moved += movedNow;
    deps.onProgress?.(route, moved, Math.max(total, moved));
    // A receive that failed entirely would come back after the visibility timeout and loop forever.
    if (movedNow === 0) break;
  }
  return { route, moved, failed };
}

interface MoveEntry {
  readonly entry: { MessageBody: string; MessageAttributes?: Record<string, MessageAttributeValue> };
  readonly receiptHandle: string;
  /** What SQS counts against a batch's size: body, attribute names, types and values, in bytes. */
  readonly bytes: number;
}

function toEntry(message: Message): MoveEntry {
  const body = message.Body ?? '';
  const attributes = message.MessageAttributes === undefined ? undefined : copyAttributes(message.MessageAttributes);
  let bytes = Buffer.byteLength(body);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '');
    if (value.StringValue !== undefined) bytes += Buffer.byteLength(value.StringValue);
    if (value.BinaryValue !== undefined) bytes += value.BinaryValue.byteLength;
  }
  return { entry: { MessageBody: body, ...(attributes === undefined ? {} : { MessageAttributes: attributes }) }, receiptHandle: message.ReceiptHandle as string, bytes };
}

/**
 * Consecutive batches of at most `maxEntries` items and `maxBytes` in all, in order. An item over
 * `maxBytes` (no message SQS delivered is) still gets a batch of its own rather than being dropped.
 */
export function batchesBySize<T extends { readonly bytes: number }>(items: readonly T[], maxBytes: number, maxEntries: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const item of items) {
    if (current.length > 0 && (current.length === maxEntries || currentBytes + item.bytes > maxBytes)) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(item);
    currentBytes += item.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Moves the expiry of a message's record on; a message without a record (or without its key) has none to keep. */
async function keepRecord(records: RedriveRecords, message: Message): Promise<void> {
  const provider = message.MessageAttributes?.provider?.StringValue;
  const eventId = message.MessageAttributes?.eventId?.StringValue;
  if (provider === undefined || eventId === undefined) return;
  const nowSeconds = Math.floor(records.clock() / 1000);
  const expiry = extendExpiry(nowSeconds, MIN_RECORD_RETENTION_SECONDS);
  try {
    const { Attributes } = await records.documents.send(
      new UpdateCommand({
        TableName: records.tableName,
        Key: { [EVENTS_TABLE.partitionKey]: `${provider}#${eventId}` },
        UpdateExpression: `SET ${expiry.set}`,
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { ...expiry.names, '#pk': EVENTS_TABLE.partitionKey },
        ExpressionAttributeValues: expiry.values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    // A payload item outlives its record by a message's lifetime: the copy's transitions move the record on.
    const record = Attributes as Pick<EventRecord, 'pk' | 'payloadItem' | 'retentionSeconds'> | undefined;
    if (record?.payloadItem !== undefined) {
      await keepPayloadItem(records.documents, records.tableName, record, nowSeconds + (record.retentionSeconds ?? MIN_RECORD_RETENTION_SECONDS) + MIN_RECORD_RETENTION_SECONDS);
    }
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) {
      throw new CliError(`could not keep the record of ${provider}#${eventId} for its redriven copy (its batch stays on the dead-letter queue): ${String(error)}`, { cause: error });
    }
  }
}

/** Only what SendMessage accepts of a received attribute. */
function copyAttributes(attributes: Record<string, MessageAttributeValue>): Record<string, MessageAttributeValue> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        DataType: value.DataType,
        ...(value.StringValue === undefined ? {} : { StringValue: value.StringValue }),
        ...(value.BinaryValue === undefined ? {} : { BinaryValue: value.BinaryValue }),
      },
    ]),
  );
}

export interface MoveTaskDeps extends RedriveDeps {
  /** Waits between status checks; injectable so tests do not sleep. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly pollIntervalMs?: number;
  /** Return once the task has started instead of waiting for it to finish. */
  readonly noWait?: boolean;
}

/**
 * Moves a route's dead letters back with SQS's own StartMessageMoveTask (dead-letter queue ARN →
 * source queue ARN), then follows ListMessageMoveTasks until the task leaves RUNNING.
 */
export async function redriveByMoveTask(deps: MoveTaskDeps, route: Route): Promise<RedriveResult> {
  const { arn, deadLetterArn } = deps.queues[route];
  if (arn === undefined || deadLetterArn === undefined) {
    throw new CliError(`the queue ARNs of route ${route} are unknown: a move task needs a stack target (--stack)`);
  }
  const started = await deps.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: deadLetterArn, DestinationArn: arn }));
  const taskHandle = started.TaskHandle;
  if (deps.noWait === true) return { route, moved: 0, failed: 0, ...(taskHandle ? { taskHandle } : {}), status: 'RUNNING' };
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (;;) {
    const { Results = [] } = await deps.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: deadLetterArn, MaxResults: 1 }));
    const task = Results.find((result) => taskHandle === undefined || result.TaskHandle === undefined || result.TaskHandle === taskHandle) ?? Results[0];
    const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    deps.onProgress?.(route, moved, task?.ApproximateNumberOfMessagesToMove ?? moved);
    if (task === undefined || task.Status !== 'RUNNING') {
      if (task?.Status === 'FAILED') {
        throw new CliError(`the move task of route ${route} failed: ${task.FailureReason ?? 'no reason given'} (${moved} moved)`);
      }
      return { route, moved, failed: 0, ...(taskHandle ? { taskHandle } : {}), ...(task?.Status ? { status: task.Status } : {}) };
    }
    await sleep(deps.pollIntervalMs ?? 2_000);
  }
}

/** What {@link redriveWaiting} needs: the target's kind picks the way of moving. */
export interface RedriveWaitingDeps extends RedriveDeps {
  readonly kind: 'local' | 'aws';
  readonly records: RedriveRecords;
  /** AWS: return once the move tasks have started. */
  readonly noWait?: boolean;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called once the dead letters to move are counted, before any moves. */
  readonly onTotal?: (total: number) => void;
}

/**
 * Redrives every route of `candidates` whose dead-letter queue holds a message (in flight counts
 * too: a peek or a stalled redrive hides dead letters for a moment only): by StartMessageMoveTask
 * on a stack, by copy locally. `webhooks dlq redrive` and the console both move dead letters here.
 */
export async function redriveWaiting(deps: RedriveWaitingDeps, candidates: readonly Route[]): Promise<{ routes: Route[]; results: RedriveResult[] }> {
  const depths = await listDeadLetters(deps, candidates, 0);
  const waiting = (report: DeadLetterReport) => report.depth.visible + report.depth.inFlight;
  const routes = depths.filter((report) => waiting(report) > 0).map((report) => report.route);
  deps.onTotal?.(depths.reduce((sum, report) => sum + waiting(report), 0));
  const results: RedriveResult[] = [];
  for (const route of routes) {
    results.push(
      deps.kind === 'aws'
        ? await redriveByMoveTask({ ...deps, noWait: deps.noWait === true }, route)
        : await redriveByCopy(deps, route),
    );
  }
  return { routes, results };
}
