import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { S3Client } from '@aws-sdk/client-s3';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { readJobHistory } from '../../functions/consumers/routes/job-store';
import { recordFields } from '../../functions/core/accept';
import { clientConfig } from '../../functions/core/aws';
import { SCHEMA_VERSION, eventKey, type NormalizedEvent, type RouteEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import type { EventRecord, JobItem } from '../../functions/core/table';
import { CONSUMER_LEASE_SECONDS } from '../../functions/consumers/config';
import { createConsumer, type Consumer, type ConsumerDeps } from '../../functions/consumers/consume';
import { parseMessage } from '../../functions/consumers/message';
import { stepsFor } from '../../functions/consumers/routes';
import { resultsS3Config } from '../../functions/consumers/routes/batch-results';
import { withRecordEvent } from '../../ops/stored-events';
import type { Emulators } from '../../local/emulators';
import type { LocalClients } from '../../local/runtime';
import type { Emulated } from './emulated';

/**
 * A normalized event as the receiver would queue it; every field can be overridden. It is a
 * Together `fine_tune.completed` unless `type` says otherwise; another route gets empty `data`
 * (every canonical field is optional) unless `data` is given.
 */
export function normalizedEvent<R extends Route = 'fine_tune.completed'>(overrides: Partial<RouteEvent<R>> & { type?: R } = {}): RouteEvent<R> {
  const now = new Date().toISOString();
  const completed = overrides.type === undefined || overrides.type === 'fine_tune.completed';
  // A route and its data come from one value here, which TypeScript cannot follow.
  return {
    id: `evt_${randomUUID().replaceAll('-', '')}`,
    provider: 'together',
    type: 'fine_tune.completed',
    providerType: 'fine_tune.completed',
    subject: 'ft-test',
    occurredAt: now,
    receivedAt: now,
    schemaVersion: SCHEMA_VERSION,
    data: completed ? { jobId: 'ft-test', modelName: 'acme/model', evalLoss: 0.4 } : {},
    ...(completed ? { providerData: { fine_tune_id: 'ft-test', model_name: 'acme/model', eval_loss: 0.4 } } : {}),
    ...overrides,
  } as unknown as RouteEvent<R>;
}

/** An SQS record in Lambda's shape carrying `body` (an event, or any text for poison messages). */
export function sqsRecord(body: NormalizedEvent | string, receiveCount = 1): SQSRecord {
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: String(Date.now()),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
    awsRegion: 'us-east-1',
  };
}

export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

export const silentLogger = () => new Logger({ serviceName: 'test', logLevel: 'SILENT' });

/**
 * A route's consumer on the emulated resources; override anything (steps, clock, logger) to inject
 * faults. Each message's event is first accepted as the receiver would have (its record written
 * `queued` unless it has one; see {@link acceptedRecord}), since a consumer refuses a message whose
 * event has no record. `accepted: false` hands the messages over as they are.
 */
export function consumerOn<R extends Route>(env: Emulated, route: R, overrides: Partial<ConsumerDeps<R>> & { accepted?: boolean } = {}): Consumer {
  const { accepted = true, ...deps } = overrides;
  const consume = createConsumer({
    route,
    steps: stepsFor(route),
    documents: env.clients.documents,
    sns: env.clients.sns,
    tableName: env.resources.eventsTable,
    jobsTableName: env.resources.jobsTable,
    jobHistoryTableName: env.resources.jobHistoryTable,
    alertsTopicArn: env.resources.alertsTopicArn,
    leaseSeconds: CONSUMER_LEASE_SECONDS,
    retentionSeconds: 7 * 86_400,
    logger: silentLogger(),
    ...deps,
  });
  if (!accepted) return consume;
  return async (event, context) => {
    for (const record of event.Records) {
      const accepted = eventOf(record, route);
      if (accepted !== undefined) await acceptedRecord(env, accepted);
    }
    return consume(event, context);
  };
}

/** The event a message carries, or nothing for a poison message (which no receiver accepted). */
function eventOf(record: SQSRecord, route: Route): NormalizedEvent | undefined {
  try {
    return parseMessage(record, route);
  } catch {
    return undefined;
  }
}

/** {@link queuedRecord} when the event has no record yet: a record a test set up is left alone. */
export async function acceptedRecord(env: Pick<Emulated, 'clients' | 'resources'>, event: NormalizedEvent): Promise<void> {
  try {
    await queuedRecord(env, event, {}, 'attribute_not_exists(pk)');
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

const RECORD_RETENTION_SECONDS = 7 * 86_400;

/**
 * Writes the record the receiver leaves once the event is on its queue. Every message a consumer
 * handles has one: a message without one is refused (`no_record`).
 */
export async function queuedRecord(
  env: Pick<Emulated, 'clients' | 'resources'>,
  event: NormalizedEvent,
  extra: Record<string, unknown> = {},
  condition?: string,
): Promise<void> {
  await env.clients.documents.send(
    new PutCommand({
      TableName: env.resources.eventsTable,
      ...(condition === undefined ? {} : { ConditionExpression: condition }),
      Item: {
        pk: eventKey(event),
        status: 'queued',
        ...recordFields(event, JSON.stringify(event), Math.floor(Date.now() / 1000) + RECORD_RETENTION_SECONDS, RECORD_RETENTION_SECONDS),
        ...extra,
      },
    }),
  );
}

/**
 * An event record as its readers see it (`events show --payload`): its event as JSON in `event`,
 * whichever form it is stored in (packed inline, in its payload item, or as JSON).
 */
export async function eventRecord(env: Emulated, key: string): Promise<Partial<EventRecord> | undefined> {
  const Item = await storedRecord(env, key);
  if (Item === undefined) return undefined;
  return withRecordEvent({ documents: env.clients.documents, tableName: env.resources.eventsTable }, Item as unknown as EventRecord);
}

/** An event record's item as stored. */
export async function storedRecord(env: Pick<Emulated, 'clients' | 'resources'>, key: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await env.clients.documents.send(
    new GetCommand({ TableName: env.resources.eventsTable, Key: { pk: key }, ConsistentRead: true }),
  );
  return Item;
}

/** A job's item with its history (read from the job-history table) as `checkpoints` and `transitions`, as readers show it. */
export async function jobItem(env: Emulated, pk: string): Promise<Partial<JobItem> | undefined> {
  const { Item } = await env.clients.documents.send(
    new GetCommand({ TableName: env.resources.jobsTable, Key: { pk }, ConsistentRead: true }),
  );
  if (Item === undefined) return undefined;
  const { checkpoints, transitions } = await readJobHistory({ documents: env.clients.documents, tableName: env.resources.jobHistoryTable }, Item as JobItem);
  return { ...(Item as Partial<JobItem>), ...(checkpoints.length === 0 ? {} : { checkpoints: [...checkpoints] }), ...(transitions.length === 0 ? {} : { transitions: [...transitions] }) };
}

/** Removes and returns the bodies of every alert on the local alerts queue. */
export async function drainAlerts(env: Pick<Emulated, 'clients' | 'resources'>): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await env.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: env.resources.alertsQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((message) => message.Body ?? ''));
    await env.clients.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: env.resources.alertsQueueUrl,
        Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle as string })),
      }),
    );
  }
}

/**
 * A visibility timeout far longer than any test: a received message comes back only where the
 * test makes it (see {@link redeliverFailuresAtOnce}), never because a loaded machine was slow.
 */
export const NEVER_EXPIRES_SECONDS = 3_600;

/**
 * Makes messages visible again at once, as if their visibility timeout had just passed: the
 * test's hand on SQS's clock.
 */
export async function expireVisibility(sqs: SQSClient, queueUrl: string, receiptHandles: readonly string[]): Promise<void> {
  for (let start = 0; start < receiptHandles.length; start += 10) {
    const { Failed = [] } = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: receiptHandles.slice(start, start + 10).map((handle, index) => ({ Id: String(index), ReceiptHandle: handle, VisibilityTimeout: 0 })),
      }),
    );
    if (Failed.length > 0) throw new Error(`could not expire the visibility of ${Failed.length} messages: ${Failed[0]?.Code}`);
  }
}

/**
 * Wraps a consumer polled with {@link NEVER_EXPIRES_SECONDS} so that the records it fails (those
 * it reports, or the whole batch when it throws) are redelivered at once: each retry the test
 * expects happens, and no other one can.
 */
export function redeliverFailuresAtOnce(consumer: Consumer, sqs: SQSClient, queueUrl: string): Consumer {
  return async (event, context) => {
    const handles = new Map(event.Records.map((record) => [record.messageId, record.receiptHandle]));
    try {
      const response = await consumer(event, context);
      await expireVisibility(sqs, queueUrl, response.batchItemFailures.map((failure) => handles.get(failure.itemIdentifier) ?? ''));
      return response;
    } catch (error) {
      await expireVisibility(sqs, queueUrl, [...handles.values()]);
      throw error;
    }
  };
}

/**
 * Clients for the emulators without the functions' 2.5 s call budget: on a starved machine a slow
 * emulator call must not become a failed attempt that a test's exact counts would show.
 */
export function patientClients(emulators: Pick<Emulators, 'dynamodbEndpoint' | 'sqsEndpoint'>): LocalClients {
  const settings = (endpoint: string) => {
    const base = clientConfig({ endpoint });
    return { ...base, maxAttempts: 5, requestHandler: { ...base.requestHandler, requestTimeout: 60_000 } };
  };
  const dynamodb = new DynamoDBClient(settings(emulators.dynamodbEndpoint));
  return {
    dynamodb,
    documents: DynamoDBDocumentClient.from(dynamodb),
    sqs: new SQSClient(settings(emulators.sqsEndpoint)),
    sns: new SNSClient(settings(emulators.sqsEndpoint)),
    s3: new S3Client({ ...resultsS3Config(emulators.sqsEndpoint), maxAttempts: 5 }),
  };
}
