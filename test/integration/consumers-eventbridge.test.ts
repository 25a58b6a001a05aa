import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../../functions/core/aws';
import { MAX_BUS_ENTRY_BYTES } from '../../functions/core/bus';
import { eventKey, type NormalizedEvent } from '../../functions/core/event';
import { QUEUE_SETTINGS } from '../../functions/core/queues';
import type { Route } from '../../functions/core/routes';
import { readConsumerConfig } from '../../functions/consumers/config';
import { consumerFromConfig, type Consumer } from '../../functions/consumers/consume';
import { eventBridgePublisher } from '../../functions/consumers/publish';
import type { RouteStep } from '../../functions/consumers/routes';
import { startLocalConsumers } from '../../local/consumers';
import { startEmulated, type Emulated } from '../support/emulated';
import { envelopeOf, paddedEvent } from '../support/bus';
import { eventRecord, normalizedEvent, queuedRecord, silentLogger, sqsEvent, sqsRecord } from '../support/consumers';

// No emulator serves EventBridge: its client alone is mocked. The ledger, the jobs table and the
// queues are the emulators'.
const eventBridge = mockClient(EventBridgeClient);
const BUS = 'arn:aws:events:us-east-1:000000000000:event-bus/webhooks';

let env: Emulated;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
  // The stub is on the class: the files after this one in its worker get the real client back.
  eventBridge.restore();
});
afterEach(() => {
  eventBridge.reset();
});

/** The consumer as the Lambda handler builds it, with the bus, on the emulators. */
function consumerWithBus(route: Route, documents: DynamoDBDocumentClient = env.clients.documents, steps?: readonly RouteStep[]): Consumer {
  const config = readConsumerConfig({
    ROUTE: route,
    TABLE_NAME: env.resources.eventsTable,
    JOBS_TABLE_NAME: env.resources.jobsTable,
    JOB_HISTORY_TABLE_NAME: env.resources.jobHistoryTable,
    ALERTS_TOPIC_ARN: env.resources.alertsTopicArn,
    EVENT_BUS_NAME: BUS,
  });
  return consumerFromConfig(config, {
    documents,
    sns: env.clients.sns,
    logger: silentLogger(),
    bus: eventBridgePublisher({ client: new EventBridgeClient(clientConfig({ region: 'us-east-1' })), eventBusName: config.eventBusName as string }),
    ...(steps === undefined ? {} : { steps }),
  });
}

/** Every entry of every PutEvents call so far. */
function putEntries(): PutEventsRequestEntry[] {
  return eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
}

const accepted = { FailedEntryCount: 0, Entries: [{ EventId: 'eb-1' }] };
const refused = { FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] };

describe('publishing to EventBridge', () => {
  it('puts one entry per handled event: source ai-webhooks.<provider>, detail-type the route, detail the event', async () => {
    eventBridge.on(PutEventsCommand).resolves(accepted);
    const event = normalizedEvent({ type: 'fine_tune.completed', provider: 'mythicdot' });
    await queuedRecord(env, event);

    const result = await consumerWithBus('fine_tune.completed')(sqsEvent(sqsRecord(event)));

    expect(result.batchItemFailures).toEqual([]);
    const all = putEntries();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ EventBusName: BUS, Source: 'ai-webhooks.mythicdot', DetailType: 'fine_tune.completed' });
    expect(JSON.parse(all[0]?.Detail ?? '')).toEqual(event);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled' });
  });

  it('publishes only after the route’s other steps succeeded', async () => {
    eventBridge.on(PutEventsCommand).resolves(accepted);
    const event = normalizedEvent();
    await queuedRecord(env, event);
    let failing = true;
    const ownStep: RouteStep = async () => {
      if (failing) throw new Error('evaluation service unavailable');
    };
    const consume = consumerWithBus('fine_tune.completed', env.clients.documents, [ownStep]);

    const first = await consume(sqsEvent(sqsRecord(event)));
    const putsAfterFailure = putEntries().length;
    failing = false;
    const retry = await consume(sqsEvent(sqsRecord(event, 2)));

    expect(first.batchItemFailures).toHaveLength(1);
    expect(putsAfterFailure).toBe(0);
    expect(retry.batchItemFailures).toEqual([]);
    expect(putEntries()).toHaveLength(1);
  });

  it('puts nothing more for a redelivery of a handled event', async () => {
    eventBridge.on(PutEventsCommand).resolves(accepted);
    const event = normalizedEvent();
    await queuedRecord(env, event);
    const consume = consumerWithBus('fine_tune.completed');
    await consume(sqsEvent(sqsRecord(event)));

    const again = await consume(sqsEvent(sqsRecord(event, 2)));

    expect(again.batchItemFailures).toEqual([]);
    expect(putEntries()).toHaveLength(1);
  });

  it('fails the attempt when EventBridge refuses the entry, and the retry puts it once', async () => {
    eventBridge.on(PutEventsCommand).resolvesOnce(refused).resolves(accepted);
    const event = normalizedEvent({ type: 'batch.completed', providerType: 'batch.completed', subject: 'batch-eb', data: {} });
    await queuedRecord(env, event);
    const consume = consumerWithBus('batch.completed');
    const record = sqsRecord(event);

    const first = await consume(sqsEvent(record));
    const afterFirst = await eventRecord(env, eventKey(event));
    const retry = await consume(sqsEvent(sqsRecord(event, 2)));
    const redelivery = await consume(sqsEvent(sqsRecord(event, 3)));

    expect(first.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(afterFirst).toMatchObject({ status: 'failed', lastError: expect.stringContaining('refused') });
    expect(retry.batchItemFailures).toEqual([]);
    expect(redelivery.batchItemFailures).toEqual([]);
    // Two puts: the refused one and the accepted one. One entry on the bus.
    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(2);
    expect(await calls[1]?.returnValue).toEqual(accepted);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled', attempts: 2 });
  });

  it('does not put the entry again when the attempt fails after the put (the retry skips the done step)', async () => {
    eventBridge.on(PutEventsCommand).resolves(accepted);
    const event = normalizedEvent();
    await queuedRecord(env, event);
    // The first `handled` mark fails, as if DynamoDB throttled it: the put is done, the attempt is not.
    let failMark = true;
    const flaky = {
      send: (command: unknown) => {
        const input = (command as UpdateCommand).input as { ExpressionAttributeValues?: Record<string, unknown> } | undefined;
        if (command instanceof UpdateCommand && input?.ExpressionAttributeValues?.[':handled'] === 'handled' && failMark) {
          failMark = false;
          return Promise.reject(new Error('ProvisionedThroughputExceededException'));
        }
        return env.clients.documents.send(command as UpdateCommand);
      },
    } as unknown as DynamoDBDocumentClient;
    const consume = consumerWithBus('fine_tune.completed', flaky);
    const record = sqsRecord(event);

    const first = await consume(sqsEvent(record));
    const retry = await consume(sqsEvent(sqsRecord(event, 2)));

    expect(first.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(retry.batchItemFailures).toEqual([]);
    expect(putEntries()).toHaveLength(1);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled', attempts: 2 });
  });

  it('publishes an event over EventBridge’s entry limit by reference: its envelope and key, without its data', async () => {
    eventBridge.on(PutEventsCommand).resolves(accepted);
    const event = paddedEvent('x'.repeat(MAX_BUS_ENTRY_BYTES));
    await queuedRecord(env, event);

    const result = await consumerWithBus('fine_tune.completed')(sqsEvent(sqsRecord(event)));

    expect(result.batchItemFailures).toEqual([]);
    const entry = putEntries()[0];
    expect(JSON.parse(entry?.Detail ?? '')).toEqual({ ...envelopeOf(event), truncated: true, key: eventKey(event) });
    expect(entry).toMatchObject({ Source: 'ai-webhooks.together', DetailType: 'fine_tune.completed' });
  });

  it('leaves an event whose put keeps failing in the route’s dead-letter queue, after maxReceiveCount receives', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('EventBridge unavailable'));
    const route = 'model.deployed';
    const queues = env.resources.queues[route];
    const event: NormalizedEvent = normalizedEvent({ type: route, providerType: 'model.deployed', subject: 'dep-eb', data: {} });
    await queuedRecord(env, event);
    await env.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.url, MessageBody: JSON.stringify(event) }));
    const consumers = startLocalConsumers({
      sqsEndpoint: env.emulators.sqsEndpoint,
      queues: env.resources.queues,
      consumers: { [route]: consumerWithBus(route) },
      visibilityTimeoutSeconds: 0,
      waitTimeSeconds: 1,
    });

    try {
      const dead = await eventually(async () => {
        const { Messages = [] } = await env.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.deadLetterUrl, MaxNumberOfMessages: 10 }));
        return Messages.length > 0 ? Messages : undefined;
      });

      expect(dead.map((message) => JSON.parse(message.Body ?? '{}').id)).toEqual([event.id]);
      expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(QUEUE_SETTINGS.maxReceiveCount);
      expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'failed', lastError: expect.stringContaining('could not put') });
    } finally {
      await consumers.stop();
    }
  });
});

/** Polls `probe` until it returns a value; the caller asserts on it. */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 25_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('gave up waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
