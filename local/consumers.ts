import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { clientConfig } from '../functions/core/aws';
import { QUEUE_SETTINGS } from '../functions/core/queues';
import { routeSlug, type Route } from '../functions/core/routes';
import type { Consumer } from '../functions/consumers/consume';
import type { RouteQueues } from './resources';

/** Lambda's event source mapping waits up to 20 s for messages (long polling). */
export const LONG_POLL_SECONDS = 20;

export interface LocalConsumersOptions {
  readonly sqsEndpoint: string;
  readonly queues: Readonly<Partial<Record<Route, RouteQueues>>>;
  /** The routes to poll and the consumer of each: the same logic the Lambda handler runs. */
  readonly consumers: Readonly<Partial<Record<Route, Consumer>>>;
  /**
   * How long a received message stays invisible; a failed record reappears after it. Defaults to
   * the stack's setting (QUEUE_SETTINGS.visibilityTimeoutSeconds, 180 s); set it low locally
   * (LOCAL_VISIBILITY_TIMEOUT_SECONDS) to see retries and dead-lettering within seconds.
   */
  readonly visibilityTimeoutSeconds?: number;
  /** Long-poll wait per receive; default {@link LONG_POLL_SECONDS}. */
  readonly waitTimeSeconds?: number;
  readonly logger?: Pick<Logger, 'warn' | 'error'>;
}

export interface LocalConsumers {
  /** Stops polling, lets any batch in hand finish, and resolves when every poller has stopped. */
  stop(): Promise<void>;
}

/**
 * One poller per route that behaves like Lambda's SQS event source mapping with
 * ReportBatchItemFailures: long polling, up to QUEUE_SETTINGS.batchSize messages per batch, the
 * records in Lambda's shape, the consumer called once per batch, and only the records not listed
 * in `batchItemFailures` deleted. Failed ones stay on the queue, reappear after the visibility
 * timeout and, after maxReceiveCount receives, are moved to the dead-letter queue by the queue's
 * redrive policy (fauxqs applies it, as SQS does). A consumer that throws fails the whole batch.
 */
export function startLocalConsumers(options: LocalConsumersOptions): LocalConsumers {
  const waitTimeSeconds = options.waitTimeSeconds ?? LONG_POLL_SECONDS;
  const base = clientConfig({ endpoint: options.sqsEndpoint });
  // A long poll outlasts the functions' 2.5 s call budget: this client waits for it.
  const sqs = new SQSClient({
    ...base,
    maxAttempts: 1,
    requestHandler: { ...base.requestHandler, requestTimeout: (waitTimeSeconds + 5) * 1000 },
  });
  // One controller per poller: each in-flight receive listens to its signal.
  const controllers: AbortController[] = [];
  const pollers = Object.entries(options.consumers).map(([route, consumer]) => {
    const queue = options.queues[route as Route];
    if (queue === undefined || consumer === undefined) throw new Error(`no queue for route ${route}`);
    const controller = new AbortController();
    controllers.push(controller);
    return poll({ ...options, waitTimeSeconds, sqs, signal: controller.signal }, route as Route, queue, consumer);
  });
  return {
    async stop() {
      for (const controller of controllers) controller.abort();
      await Promise.all(pollers);
      sqs.destroy();
    },
  };
}

interface PollSettings extends LocalConsumersOptions {
  readonly waitTimeSeconds: number;
  readonly sqs: SQSClient;
  readonly signal: AbortSignal;
}

async function poll(settings: PollSettings, route: Route, queue: RouteQueues, consumer: Consumer): Promise<void> {
  const { sqs, signal } = settings;
  while (!signal.aborted) {
    let messages: Message[];
    try {
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queue.url,
          MaxNumberOfMessages: QUEUE_SETTINGS.batchSize,
          WaitTimeSeconds: settings.waitTimeSeconds,
          VisibilityTimeout: settings.visibilityTimeoutSeconds ?? QUEUE_SETTINGS.visibilityTimeoutSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
      messages = received.Messages ?? [];
    } catch (error) {
      if (signal.aborted) return;
      settings.logger?.warn('could not receive from the route queue; retrying', { route, error: String(error) });
      await pause(1000, signal);
      continue;
    }
    if (messages.length === 0) continue;

    const event: SQSEvent = { Records: messages.map((message) => toSqsRecord(message, queue.arn)) };
    let failed: ReadonlySet<string>;
    try {
      const response = await consumer(event, lambdaContext(route));
      failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    } catch (error) {
      settings.logger?.error('consumer invocation failed; the whole batch will be retried', { route, error: String(error) });
      failed = new Set(messages.map((message) => message.MessageId ?? ''));
    }
    const done = messages.filter((message) => !failed.has(message.MessageId ?? ''));
    if (done.length === 0) continue;
    try {
      // Deleting is the acknowledgement; it must happen even while stopping, or a handled batch reappears.
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queue.url,
          Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle as string })),
        }),
      );
    } catch (error) {
      // Not deleted: the messages reappear and their consumer skips them as already handled.
      settings.logger?.warn('could not delete handled messages; they will be redelivered', { route, error: String(error) });
    }
  }
}

/** An SQS message as Lambda's event source mapping hands it to the function. */
export function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const system = message.Attributes ?? {};
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined ? {} : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId as string,
    receiptHandle: message.ReceiptHandle as string,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
      SentTimestamp: system.SentTimestamp ?? String(Date.now()),
      SenderId: system.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? 'us-east-1',
  };
}

/** A Lambda context for one local invocation, with the consumer's timeout. */
export function lambdaContext(route: Route): Context {
  const functionName = `webhook-consumer-${routeSlug(route)}`;
  const deadline = Date.now() + QUEUE_SETTINGS.consumerTimeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
