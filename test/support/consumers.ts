import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { S3Client } from '@aws-sdk/client-s3';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { clientConfig } from '../../functions/core/aws';
import { SCHEMA_VERSION, type NormalizedEvent, type RouteEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import type { EventRecord, JobItem } from '../../functions/core/table';
import { CONSUMER_LEASE_SECONDS } from '../../functions/consumers/config';
import { createConsumer, type Consumer, type ConsumerDeps } from '../../functions/consumers/consume';
import { stepsFor } from '../../functions/consumers/routes';
import { resultsS3Config } from '../../functions/consumers/routes/batch-results';
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

/** A route's consumer on the emulated resources; override anything (steps, clock, logger) to inject faults. */
export function consumerOn<R extends Route>(env: Emulated, route: R, overrides: Partial<ConsumerDeps<R>> = {}): Consumer {
  return createConsumer({
    route,
    steps: stepsFor(route),
    documents: env.clients.documents,
    sns: env.clients.sns,
    tableName: env.resources.eventsTable,
    jobsTableName: env.resources.jobsTable,
    alertsTopicArn: env.resources.alertsTopicArn,
    leaseSeconds: CONSUMER_LEASE_SECONDS,
    retentionSeconds: 7 * 86_400,
    logger: silentLogger(),
    ...overrides,
  });
}

export async function eventRecord(env: Emulated, key: string): Promise<Partial<EventRecord> | undefined> {
  const { Item } = await env.clients.documents.send(
    new GetCommand({ TableName: env.resources.eventsTable, Key: { pk: key }, ConsistentRead: true }),
  );
  return Item as Partial<EventRecord> | undefined;
}

export async function jobItem(env: Emulated, pk: string): Promise<Partial<JobItem> | undefined> {
  const { Item } = await env.clients.documents.send(
    new GetCommand({ TableName: env.resources.jobsTable, Key: { pk }, ConsistentRead: true }),
  );
  return Item as Partial<JobItem> | undefined;
}

/** Removes and returns the bodies of every alert on the local alerts queue. */
export async function drainAlerts(env: Emulated): Promise<string[]> {
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
