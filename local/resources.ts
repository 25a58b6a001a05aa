import { CreateTableCommand, ResourceInUseException, type CreateTableCommandInput, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { LISTENER_QUEUE_SETTINGS, LOCAL_LISTENER } from '../functions/core/listeners';
import { QUEUE_SETTINGS } from '../functions/core/queues';
import { ROUTES, type Route } from '../functions/core/routes';
import { EVENTS_TABLE, JOB_HISTORY_TABLE, JOBS_TABLE } from '../functions/core/table';
import { POLLER_TABLE } from '../functions/poller/state';
import { LOCAL_NAMES } from '../ops/local-names';

export interface RouteQueues {
  readonly url: string;
  readonly arn: string;
  readonly deadLetterUrl: string;
  readonly deadLetterArn: string;
}

export interface LocalResources {
  readonly eventsTable: string;
  readonly queues: Readonly<Record<Route, RouteQueues>>;
  /** The jobs projection the consumers write. */
  readonly jobsTable: string;
  /** Each job's checkpoints and states, one item each, beside the jobs table. */
  readonly jobHistoryTable: string;
  /** The topic the consumers publish alerts to. */
  readonly alertsTopicArn: string;
  /** What the consumers would have put on the EventBridge bus (`local/bus.ts`). */
  readonly busTable: string;
  /**
   * A queue subscribed to the alerts topic with raw delivery, so that local alerts can be read
   * (the message body is the alert text). In AWS, you subscribe your own e-mail, chat or pager.
   */
  readonly alertsQueueUrl: string;
  /** Where batch results are copied (`together/batches/{batchId}/…`), when they are on. */
  readonly resultsBucket: string;
  /** The listener queue of `webhooks listen`: the stand-in bus sends it every event it records. */
  readonly listenerQueue: { readonly url: string; readonly deadLetterUrl: string };
}

/**
 * Creates, on the emulators, what the CDK stack creates in AWS: the events table with its time
 * index, one queue plus dead-letter queue per route with the same redrive settings, the jobs
 * and job-history tables, the alerts topic (here with a queue subscribed to it) and the batch results bucket; and,
 * for the EventBridge bus (no emulator serves it), the table its stand-in records entries in, and
 * the listener queue it feeds (`webhooks listen`), as a stack's `listeners` are fed by the bus.
 * Safe to call again on resources that already exist.
 */
export async function createLocalResources(clients: { dynamodb: DynamoDBClient; sqs: SQSClient; sns: SNSClient; s3: S3Client }): Promise<LocalResources> {
  await createEventsTable(clients.dynamodb, LOCAL_NAMES.eventsTable);
  await createBucketOnce(clients.s3, LOCAL_NAMES.resultsBucket);
  await createJobsTable(clients.dynamodb, LOCAL_NAMES.jobsTable);
  await createJobHistoryTable(clients.dynamodb, LOCAL_NAMES.jobHistoryTable);
  await createKeyedTable(clients.dynamodb, LOCAL_NAMES.busTable, 'pk');
  const entries = await Promise.all(ROUTES.map(async (route) => [route, await createRouteQueues(clients.sqs, route)] as const));
  const alerts = await createAlerts(clients.sns, clients.sqs);
  const listenerQueue = await createListenerQueues(clients.sqs, LOCAL_LISTENER);
  return {
    eventsTable: LOCAL_NAMES.eventsTable,
    queues: Object.fromEntries(entries) as Record<Route, RouteQueues>,
    jobsTable: LOCAL_NAMES.jobsTable,
    jobHistoryTable: LOCAL_NAMES.jobHistoryTable,
    alertsTopicArn: alerts.topicArn,
    alertsQueueUrl: alerts.queueUrl,
    busTable: LOCAL_NAMES.busTable,
    resultsBucket: LOCAL_NAMES.resultsBucket,
    listenerQueue,
  };
}

export function queueUrlMap(resources: LocalResources): Record<Route, string> {
  return Object.fromEntries(ROUTES.map((route) => [route, resources.queues[route].url])) as Record<Route, string>;
}

/** Creates a bucket, or leaves it as it is when it already exists. */
async function createBucketOnce(s3: S3Client, name: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  }
}

/** Creates a table, or leaves it as it is when it already exists. */
async function createTableOnce(dynamodb: DynamoDBClient, input: CreateTableCommandInput): Promise<void> {
  try {
    await dynamodb.send(new CreateTableCommand({ BillingMode: 'PAY_PER_REQUEST', ...input }));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}

/** A table keyed by one string partition key. */
function createKeyedTable(dynamodb: DynamoDBClient, tableName: string, partitionKey: string): Promise<void> {
  return createTableOnce(dynamodb, {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: partitionKey, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' }],
  });
}

async function createEventsTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  const index = EVENTS_TABLE.byTimeIndex;
  await createTableOnce(dynamodb, {
    TableName: tableName,
    AttributeDefinitions: [
      { AttributeName: EVENTS_TABLE.partitionKey, AttributeType: 'S' },
      { AttributeName: index.partitionKey, AttributeType: 'S' },
      { AttributeName: index.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: EVENTS_TABLE.partitionKey, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projectedAttributes] },
      },
    ],
  });
}

function createJobsTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  const index = JOBS_TABLE.byActiveDayIndex;
  return createTableOnce(dynamodb, {
    TableName: tableName,
    AttributeDefinitions: [
      { AttributeName: JOBS_TABLE.partitionKey, AttributeType: 'S' },
      { AttributeName: index.partitionKey, AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: JOBS_TABLE.partitionKey, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: index.name,
        KeySchema: [{ AttributeName: index.partitionKey, KeyType: 'HASH' }],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projectedAttributes] },
      },
    ],
  });
}

function createJobHistoryTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  return createTableOnce(dynamodb, {
    TableName: tableName,
    AttributeDefinitions: [
      { AttributeName: JOB_HISTORY_TABLE.partitionKey, AttributeType: 'S' },
      { AttributeName: JOB_HISTORY_TABLE.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: JOB_HISTORY_TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: JOB_HISTORY_TABLE.sortKey, KeyType: 'RANGE' },
    ],
  });
}

/**
 * Creates the Together poller's state table, as the CDK stack does in AWS, on the emulators
 * (local runtime, tests). Safe to call again when it exists.
 */
export function createPollerTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  return createKeyedTable(dynamodb, tableName, POLLER_TABLE.partitionKey);
}

async function createAlerts(sns: SNSClient, sqs: SQSClient): Promise<{ topicArn: string; queueUrl: string }> {
  // CreateTopic and CreateQueue return the existing resource, and a repeated Subscribe the existing subscription.
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: LOCAL_NAMES.alertsTopic }));
  const queue = await createQueue(sqs, LOCAL_NAMES.alertsQueue, {});
  await sns.send(
    new SubscribeCommand({
      TopicArn,
      Protocol: 'sqs',
      Endpoint: queue.arn,
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );
  return { topicArn: TopicArn as string, queueUrl: queue.url };
}

async function createRouteQueues(sqs: SQSClient, route: Route): Promise<RouteQueues> {
  const deadLetter = await createQueue(sqs, LOCAL_NAMES.deadLetterQueue(route), {
    MessageRetentionPeriod: String(QUEUE_SETTINGS.deadLetterRetentionSeconds),
    MaximumMessageSize: String(QUEUE_SETTINGS.maxMessageBytes),
  });
  const queue = await createQueue(sqs, LOCAL_NAMES.queue(route), {
    VisibilityTimeout: String(QUEUE_SETTINGS.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(QUEUE_SETTINGS.retentionSeconds),
    MaximumMessageSize: String(QUEUE_SETTINGS.maxMessageBytes),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetter.arn, maxReceiveCount: QUEUE_SETTINGS.maxReceiveCount }),
  });
  return { url: queue.url, arn: queue.arn, deadLetterUrl: deadLetter.url, deadLetterArn: deadLetter.arn };
}

async function createListenerQueues(sqs: SQSClient, name: string): Promise<{ url: string; deadLetterUrl: string }> {
  const deadLetter = await createQueue(sqs, LOCAL_NAMES.listenerDeadLetterQueue(name), {
    MessageRetentionPeriod: String(LISTENER_QUEUE_SETTINGS.deadLetterRetentionSeconds),
  });
  const queue = await createQueue(sqs, LOCAL_NAMES.listenerQueue(name), {
    VisibilityTimeout: String(LISTENER_QUEUE_SETTINGS.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(LISTENER_QUEUE_SETTINGS.retentionSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetter.arn, maxReceiveCount: LISTENER_QUEUE_SETTINGS.maxReceiveCount }),
  });
  return { url: queue.url, deadLetterUrl: deadLetter.url };
}

async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string>) {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = created.QueueUrl as string;
  const described = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: described.Attributes?.QueueArn as string };
}
