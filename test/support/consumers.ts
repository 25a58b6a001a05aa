import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { SCHEMA_VERSION, type NormalizedEvent, type RouteEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import type { EventRecord, JobItem } from '../../functions/core/table';
import { CONSUMER_LEASE_SECONDS } from '../../functions/consumers/config';
import { createConsumer, type Consumer, type ConsumerDeps } from '../../functions/consumers/consume';
import { stepsFor } from '../../functions/consumers/routes';
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
