/**
 * Runs in its own process (see fork.ts): the receiver in-process on the emulators against the
 * bare I/O floor (section 2), and the AWS calls each kind of delivery makes (section 3).
 */
import { performance } from 'node:perf_hooks';
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context, SQSRecord } from 'aws-lambda';
import { readReceiverConfig } from '../functions/core/config';
import { lambdaLogger } from '../functions/core/log-format';
import { normalizeDelivery } from '../functions/core/normalize';
import { PROVIDERS } from '../functions/core/providers';
import { createSecretsReader } from '../functions/core/secrets';
import { EVENTS_TABLE } from '../functions/core/table';
import { verifySignature, type SignatureSpec } from '../functions/core/verify';
import { receiverFromConfig, type Receiver } from '../functions/receiver/receive';
import { buildDelivery } from '../ops/deliveries';
import { QUEUE_SETTINGS } from '../functions/core/queues';
import { queueUrlMap, type LocalResources } from '../local/resources';
import { localClients, localConsumerFunctions, withDevelopmentSecrets, type LocalClients } from '../local/runtime';
import { sqsEvent, sqsRecord } from '../test/support/consumers';
import { deliveryEvent, gatewayEvent } from '../test/support/gateway';
import { startBenchEmulators } from './emulated';
import { countCalls } from './sdk-calls';
import { floorCommands } from './floor';
import { summarize, type LatencySummary } from './stats';

export interface ReceiverWorkerOptions {
  readonly rounds: number;
  /** Calls per side per round. */
  readonly batch: number;
  readonly warmup: number;
  /** Deliveries of each kind in the call count. */
  readonly callSamples: number;
  /** Batches of 10 events run through the consumer. */
  readonly consumerBatches: number;
}

export interface CallCount {
  readonly kind: string;
  readonly statuses: Record<string, number>;
  /** Commands per delivery, by name (averaged). */
  readonly commandsPerDelivery: Record<string, number>;
  readonly tableCommandsPerDelivery: Record<string, number>;
  readonly totalPerDelivery: number;
  /** HTTP attempts per delivery: above the commands only when the SDK retried. */
  readonly attemptsPerDelivery: number;
}

export interface ReceiverWorkerResult {
  readonly receiver: LatencySummary;
  readonly floor: LatencySummary;
  /** receiver / floor of each group of {@link ROUNDS_PER_GROUP} consecutive rounds: the spread of the ratios. */
  readonly groupRatios: { readonly p50: number[]; readonly p99: number[] };
  readonly calls: CallCount[];
  /** An accepted event's record as stored, after it is marked queued (for the WRU arithmetic). */
  readonly storedRecord: Record<string, AttributeValue>;
  /** The SQS message body of that event, in bytes. */
  readonly messageBodyBytes: number;
  /** Log and metric bytes the receiver writes per accepted delivery (CloudWatch Logs ingestion). */
  readonly logBytesPerAccepted: number;
  /** The route consumer on batches of accepted events, as Lambda's event source would call it. */
  readonly consumer: ConsumerMeasure;
}

export interface ConsumerMeasure {
  readonly route: string;
  readonly batchSize: number;
  readonly batches: number;
  /** Median time of one batch through the consumer handler, ms. */
  readonly batchMs: LatencySummary;
  readonly commandsPerEvent: Record<string, number>;
  /** DynamoDB commands per event by table, for the write-unit arithmetic. */
  readonly tableCommandsPerEvent: Record<string, number>;
  readonly totalPerEvent: number;
  readonly logBytesPerEvent: number;
  /** Bytes of the `event handled` line, had it stayed at INFO (with the same context). */
  readonly handledLineBytes: number;
}

// Count what the functions write to stdout and stderr: in Lambda both go to CloudWatch Logs, which
// bills by the byte. The parent drains the pipes.
let loggedBytes = 0;
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    loggedBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof stream.write;
}

/** Rounds pooled into one group for the per-group ratios (at 50 calls a round, 500 samples a group). */
const ROUNDS_PER_GROUP = 10;

/**
 * A Lambda context as the runtime passes it, with names of the deployed length: the logger adds
 * these to every line, and the log bytes are billed with them.
 */
function lambdaContext(functionName: string): Context {
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
const RECEIVER_FUNCTION_NAME = 'WebhookReceiver-WebhooksReceiverFunctionB5FBC6DB-AbCdEf123456';

const TOGETHER = PROVIDERS.together;
const SPEC = TOGETHER.signatureSchemes.timestamped as SignatureSpec;

async function main(options: ReceiverWorkerOptions): Promise<ReceiverWorkerResult> {
  const { emulators, clients, resources } = await startBenchEmulators();
  try {
    const { env } = withDevelopmentSecrets(
      { TABLE_NAME: resources.eventsTable, QUEUE_URLS: JSON.stringify(queueUrlMap(resources)) },
      ['together', 'llmtune', 'mythicdot', 'standard'],
    );
    const config = readReceiverConfig(env);

    // As functions/receiver/handler.ts builds it: INFO logs and EMF metrics, flushed after each call.
    const makeHandler = (lambdaClients: LocalClients): Receiver => {
      const logger = lambdaLogger('webhook-receiver');
      const metrics = new Metrics({ namespace: 'WebhookReceiver', serviceName: 'receiver' });
      const receiver = receiverFromConfig(config, {
        documents: lambdaClients.documents,
        sqs: lambdaClients.sqs,
        getSecrets: createSecretsReader({ ...env, SECRET_ARNS: undefined }, config.providers),
        logger,
        metrics,
      });
      return async (request) => {
        logger.addContext(lambdaContext(RECEIVER_FUNCTION_NAME));
        try {
          return await receiver(request);
        } finally {
          metrics.publishStoredMetrics();
        }
      };
    };
    const handler = makeHandler(clients);

    // The floor: the receiver's three calls with prebuilt inputs and no logic around them.
    const floorInput = () => {
      const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed' });
      const nowMs = Date.now();
      const event = normalizeDelivery({
        provider: TOGETHER,
        spec: SPEC,
        body: delivery.body,
        verified: verifySignature({ spec: SPEC, headers: delivery.headers, body: delivery.body, secrets: [TOGETHER.developmentSecret], nowSeconds: Math.floor(nowMs / 1000) }),
        receivedAtMs: nowMs,
        retentionSeconds: config.retentionSeconds,
      });
      return floorCommands(config.tableName, config.queueUrls[event.type], event, nowMs);
    };
    const floor = async (commands: ReturnType<typeof floorInput>) => {
      await clients.dynamodb.send(commands.put);
      await clients.sqs.send(commands.send);
      await clients.dynamodb.send(commands.update);
    };
    const receiverInput = () => deliveryEvent(buildDelivery({ provider: 'together', type: 'fine_tune.completed' }));
    const receive = async (request: APIGatewayProxyEventV2) => {
      const response = await handler(request);
      if (response.statusCode !== 200) throw new Error(`receiver answered ${response.statusCode}: ${response.body}`);
    };

    for (let i = 0; i < options.warmup; i++) {
      await receive(receiverInput());
      await floor(floorInput());
    }

    const receiverMs: number[] = [];
    const floorMs: number[] = [];
    const logBefore = loggedBytes;
    let accepted = 0;
    for (let round = 0; round < options.rounds; round++) {
      const sides = [
        async () => {
          for (let i = 0; i < options.batch; i++) {
            const request = receiverInput();
            const started = performance.now();
            await receive(request);
            receiverMs.push(performance.now() - started);
            accepted++;
          }
        },
        async () => {
          for (let i = 0; i < options.batch; i++) {
            const commands = floorInput();
            const started = performance.now();
            await floor(commands);
            floorMs.push(performance.now() - started);
          }
        },
      ];
      if (round % 2 === 1) sides.reverse();
      for (const side of sides) await side();
    }
    // The floor writes nothing to stdout, so every byte since logBefore is the receiver's.
    const logBytesPerAccepted = (loggedBytes - logBefore) / accepted;

    const calls = await countDeliveries(makeHandler, emulators, options.callSamples);

    const consumer = await measureConsumer(makeHandler(clients), env, resources, config.queueUrls['fine_tune.completed'], emulators, options.consumerBatches);

    const stored = buildDelivery({ provider: 'together', type: 'fine_tune.completed' });
    const storedResponse = await handler(deliveryEvent(stored));
    const key = (JSON.parse(storedResponse.body ?? '{}') as { key?: string }).key as string;
    const { Item } = await clients.dynamodb.send(
      new GetItemCommand({ TableName: config.tableName, Key: { [EVENTS_TABLE.partitionKey]: { S: key } }, ConsistentRead: true }),
    );
    const perCall = options.batch;
    const groupRatios = { p50: [] as number[], p99: [] as number[] };
    for (let start = 0; start + ROUNDS_PER_GROUP * perCall <= receiverMs.length; start += ROUNDS_PER_GROUP * perCall) {
      const receiverGroup = summarize(receiverMs.slice(start, start + ROUNDS_PER_GROUP * perCall));
      const floorGroup = summarize(floorMs.slice(start, start + ROUNDS_PER_GROUP * perCall));
      groupRatios.p50.push(receiverGroup.p50Ms / floorGroup.p50Ms);
      groupRatios.p99.push(receiverGroup.p99Ms / floorGroup.p99Ms);
    }
    return {
      receiver: summarize(receiverMs),
      floor: summarize(floorMs),
      groupRatios,
      calls,
      storedRecord: Item ?? {},
      messageBodyBytes: Buffer.byteLength(Item?.event?.S ?? ''),
      logBytesPerAccepted: Math.round(logBytesPerAccepted),
      consumer,
    };
  } finally {
    await emulators.stop();
  }
}

/** Section 3: commands per accepted, duplicate and rejected delivery, counted by SDK middleware. */
async function countDeliveries(
  makeHandler: (clients: LocalClients) => Receiver,
  emulators: Parameters<typeof localClients>[0],
  samples: number,
): Promise<CallCount[]> {
  const clients = localClients(emulators);
  const counter = countCalls([clients.dynamodb, clients.sqs]);
  const handler = makeHandler(clients);
  const sent = Array.from({ length: samples }, () => buildDelivery({ provider: 'together', type: 'fine_tune.completed' }));
  const standardSent = Array.from({ length: samples }, () => buildDelivery({ provider: 'standard', type: 'batch.completed' }));
  const staleSeconds = Math.floor(Date.now() / 1000) - 3_600;

  const kinds: Array<{ kind: string; request: (index: number) => APIGatewayProxyEventV2 }> = [
    { kind: 'accepted (together)', request: (i) => deliveryEvent(sent[i] as (typeof sent)[number]) },
    { kind: 'duplicate (together)', request: (i) => deliveryEvent(sent[i] as (typeof sent)[number]) },
    { kind: 'accepted (standard)', request: (i) => deliveryEvent(standardSent[i] as (typeof standardSent)[number]) },
    { kind: 'duplicate (standard)', request: (i) => deliveryEvent(standardSent[i] as (typeof standardSent)[number]) },
    {
      kind: 'rejected 401 bad signature',
      request: () => {
        const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed' });
        return deliveryEvent({ ...delivery, headers: { ...delivery.headers, 'x-together-signature': '0'.repeat(64) } });
      },
    },
    {
      kind: 'rejected 401 stale timestamp',
      request: () => deliveryEvent(buildDelivery({ provider: 'together', type: 'fine_tune.completed', nowSeconds: staleSeconds })),
    },
    {
      kind: 'rejected 400 signed, not JSON',
      request: () => deliveryEvent(buildDelivery({ provider: 'together', type: 'fine_tune.completed', body: 'not json' })),
    },
    {
      kind: 'rejected 413 body over limit',
      request: () =>
        deliveryEvent(buildDelivery({ provider: 'together', type: 'fine_tune.completed', body: Buffer.alloc(256 * 1024 + 1, 0x20) })),
    },
    { kind: 'rejected 404 unknown provider', request: () => gatewayEvent({ path: '/webhooks/nobody', body: '{}' }) },
  ];

  const results: CallCount[] = [];
  for (const { kind, request } of kinds) {
    counter.reset();
    const statuses: Record<string, number> = {};
    for (let i = 0; i < samples; i++) {
      const response = await handler(request(i));
      // The HTTP status and, for a 200, what the receiver did: `200 duplicate` proves the resend was recognised.
      const outcome = (JSON.parse(response.body ?? '{}') as { status?: string }).status;
      const status = response.statusCode === 200 && outcome !== undefined ? `200 ${outcome}` : String(response.statusCode);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
    results.push({
      kind,
      statuses,
      commandsPerDelivery: perEvent(counter.snapshot(), samples),
      tableCommandsPerDelivery: perEvent(counter.tableSnapshot(), samples),
      totalPerDelivery: counter.totalCommands() / samples,
      attemptsPerDelivery: counter.totalAttempts() / samples,
    });
  }
  return results;
}

/**
 * The fine_tune.completed consumer (it writes the jobs projection) on batches of events the
 * receiver accepted, read back from the queue: its AWS calls per event and its time per batch.
 */
async function measureConsumer(
  handler: Receiver,
  env: Record<string, string | undefined>,
  resources: LocalResources,
  queueUrl: string,
  emulators: Parameters<typeof localClients>[0],
  batches: number,
): Promise<ConsumerMeasure> {
  const route = 'fine_tune.completed' as const;
  const batchSize = QUEUE_SETTINGS.batchSize;
  const clients = localClients(emulators);
  const counter = countCalls([clients.dynamodb, clients.sns]);
  const logger = new Logger({ serviceName: 'webhook-consumer' });
  logger.addContext(lambdaContext('WebhookReceiver-WebhooksRouteFineTuneCompletedConsumer-AbCdEf123456'));
  // As deployed by default: without an event bus.
  const consume = localConsumerFunctions(env, resources, clients, logger, { eventBus: false })[route];
  // Empty the queue of what the receiver benchmark left there, so every batch is this run's.
  for (;;) {
    const { Messages = [] } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
    if (Messages.length === 0) break;
    await clients.sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })) }),
    );
  }
  const batchMs: number[] = [];
  let events = 0;
  let logBytes = 0;
  for (let batch = 0; batch < batches + 1; batch++) {
    for (let i = 0; i < batchSize; i++) await handler(deliveryEvent(buildDelivery({ provider: 'together', type: route })));
    const records: SQSRecord[] = [];
    while (records.length < batchSize) {
      const { Messages = [] } = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: batchSize - records.length }),
      );
      records.push(...Messages.map((message) => sqsRecord(message.Body as string)));
    }
    // The first batch warms the consumer's code paths and is not counted.
    if (batch === 0) {
      await consume(sqsEvent(...records));
      counter.reset();
      continue;
    }
    const logBefore = loggedBytes;
    const started = performance.now();
    const response = await consume(sqsEvent(...records));
    batchMs.push(performance.now() - started);
    logBytes += loggedBytes - logBefore;
    if (response.batchItemFailures.length > 0) throw new Error(`the consumer failed ${response.batchItemFailures.length} records`);
    events += records.length;
  }
  const beforeHandledLine = loggedBytes;
  logger.info('event handled', { key: `together#evt_${'0'.repeat(32)}`, route, attempts: 1 });
  const handledLineBytes = loggedBytes - beforeHandledLine;
  return {
    route,
    batchSize,
    batches,
    handledLineBytes,
    batchMs: summarize(batchMs),
    commandsPerEvent: perEvent(counter.snapshot(), events),
    tableCommandsPerEvent: perEvent(counter.tableSnapshot(), events),
    totalPerEvent: counter.totalCommands() / events,
    logBytesPerEvent: Math.round(logBytes / events),
  };
}

function perEvent(counts: Record<string, number>, events: number): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([name, count]) => [name, count / events]));
}

process.once('message', (options: ReceiverWorkerOptions) => {
  main(options).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
