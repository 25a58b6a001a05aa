import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_SETTINGS } from '../../functions/core/queues';
import type { NormalizedEvent } from '../../functions/core/event';
import { stepsFor } from '../../functions/consumers/routes';
import type { Consumer } from '../../functions/consumers/consume';
import { buildDelivery, postDelivery } from '../../ops/deliveries';
import { startLocalConsumers } from '../../local/consumers';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { consumerOn, drainAlerts, expireVisibility, NEVER_EXPIRES_SECONDS, normalizedEvent, patientClients, queuedRecord, silentLogger } from '../support/consumers';
import type { Emulated } from '../support/emulated';

/** Deadlines that only a stalled run reaches; a slow one finishes well inside them. */
const STALLED_MS = 120_000;
const TEST_TIMEOUT_MS = 2 * STALLED_MS;

/** Polls `probe` until it returns a value other than undefined; the caller asserts on that value. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = STALLED_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let runtime: LocalRuntime;
beforeAll(async () => {
  runtime = await startLocalRuntime({ env: {}, port: 0, dynamodbPort: 0, sqsPort: 0, logger: silentLogger(), visibilityTimeoutSeconds: 1 });
});
afterAll(async () => {
  await runtime?.stop();
});

const record = async (key: string) =>
  (await runtime.clients.documents.send(new GetCommand({ TableName: runtime.resources.eventsTable, Key: { pk: key }, ConsistentRead: true }))).Item;

const queueDepth = async (url: string) => {
  const { Attributes = {} } = await runtime.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
};

describe('local runtime with consumers', () => {
  it('takes a signed delivery from HTTP to handled and into the jobs projection', async () => {
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.checkpoint', id: `evt_${randomUUID()}` });

    const response = await postDelivery(runtime.url, delivery);
    const handled = await eventually(async () => {
      const item = await record(`together#${delivery.id}`);
      return item?.status === 'handled' ? item : undefined;
    }, 'the event to be handled');

    expect(response.status).toBe(200);
    expect(handled).toMatchObject({ status: 'handled', attempts: 1 });
    const job = await runtime.clients.documents.send(new GetCommand({ TableName: runtime.resources.jobsTable, Key: { pk: `together#ft-${delivery.id}` } }));
    expect(job.Item).toMatchObject({ state: 'running', step: 500 });
  }, TEST_TIMEOUT_MS);

  it('moves a poison message to the dead-letter queue after maxReceiveCount and handles the message beside it', async () => {
    const queues = runtime.resources.queues['batch.failed'];
    const good = normalizedEvent({ type: 'batch.failed', providerType: 'batch.failed', subject: 'batch-rt', data: { errorMessage: 'expired' } });
    const poisonBody = JSON.stringify({ hello: 'not an event' });
    await queuedRecord(runtime, good);

    await runtime.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.url, MessageBody: poisonBody }));
    await runtime.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.url, MessageBody: JSON.stringify(good) }));
    const dead = await eventually(async () => {
      const { Messages = [] } = await runtime.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queues.deadLetterUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }),
      );
      return Messages.length > 0 ? Messages : undefined;
    }, 'the poison message in the dead-letter queue');

    expect(dead.map((message) => message.Body)).toEqual([poisonBody]);
    // The README's promise: five receives before the dead-letter queue.
    expect(Number(dead[0]?.Attributes?.ApproximateReceiveCount)).toBeGreaterThanOrEqual(5);
    expect(await record(`together#${good.id}`)).toMatchObject({ status: 'handled', attempts: 1 });
    expect(await queueDepth(queues.url)).toBe(0);
  }, TEST_TIMEOUT_MS);

  it('[H3-9] moves an event sent straight to a route queue, with no record, to the dead-letter queue unhandled', async () => {
    const queues = runtime.resources.queues['model.deprecated'];
    const injected = normalizedEvent({ type: 'model.deprecated', providerType: 'model.deprecated', subject: 'm-injected', data: { modelId: 'm-injected' } });

    await runtime.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.url, MessageBody: JSON.stringify(injected) }));
    const dead = await eventually(async () => {
      const { Messages = [] } = await runtime.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queues.deadLetterUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }),
      );
      return Messages.length > 0 ? Messages : undefined;
    }, 'the injected message in the dead-letter queue');

    expect(dead.map((message) => JSON.parse(message.Body ?? '{}').id)).toEqual([injected.id]);
    expect(await record(`together#${injected.id}`)).toBeUndefined();
    expect((await drainAlerts(runtime)).join('\n')).not.toContain('m-injected');
  }, TEST_TIMEOUT_MS);
});

describe('local queue poller', () => {
  it('deletes the records a batch handled and redelivers only the one it reported as failed', async () => {
    const route = 'fine_tune.failed';
    // Its own clients, free of the functions' call budget: the delivery counts below are exact.
    const env = { clients: patientClients(runtime.emulators), resources: runtime.resources } as unknown as Emulated;
    const events = Array.from({ length: 10 }, (_, index) =>
      normalizedEvent({ type: route, providerType: route, subject: `ft-poller-${index}`, data: { errorMessage: 'oom' } }),
    );
    const bad = events[6] as NormalizedEvent;
    let badAttempts = 0;
    const inner = consumerOn(env, route, {
      steps: [
        async (event) => {
          if (event.id === bad.id && ++badAttempts === 1) throw new Error('first attempt fails');
        },
        ...stepsFor(route),
      ],
    });
    const deliveries = new Map<string, number>();
    const failedHandles: string[] = [];
    const counting: Consumer = async (event, context) => {
      for (const { body } of event.Records) {
        const id = (JSON.parse(body) as NormalizedEvent).id;
        deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      }
      const response = await inner(event, context);
      const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
      failedHandles.push(...event.Records.filter((record) => failed.has(record.messageId)).map((record) => record.receiptHandle));
      return response;
    };
    // A poller on a queue of its own, so that the runtime's pollers do not take these messages.
    // Nothing comes back on its own: the test says when the failed record's visibility is over.
    const ownQueues = { [route]: await ownQueue() };
    const pollers = startLocalConsumers({
      sqsEndpoint: runtime.emulators.sqsEndpoint,
      queues: ownQueues,
      consumers: { [route]: counting },
      visibilityTimeoutSeconds: NEVER_EXPIRES_SECONDS,
      waitTimeSeconds: 1,
    });
    try {
      await runtime.clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: ownQueues[route].url,
          Entries: events.map((event, index) => ({ Id: String(index), MessageBody: JSON.stringify(event) })),
        }),
      );
      await eventually(async () => ((await queueDepth(ownQueues[route].url)) === 1 && failedHandles.length === 1 ? true : undefined), 'the handled records to be deleted');
      await expireVisibility(runtime.clients.sqs, ownQueues[route].url, failedHandles);
      await eventually(async () => ((await record(`together#${bad.id}`))?.status === 'handled' ? true : undefined), 'the failed record to be retried');
      await eventually(async () => ((await queueDepth(ownQueues[route].url)) === 0 ? true : undefined), 'the queue to empty');
    } finally {
      await pollers.stop();
    }

    expect(Object.fromEntries(deliveries)).toEqual(Object.fromEntries(events.map((event) => [event.id, event === bad ? 2 : 1])));
    expect(await record(`together#${bad.id}`)).toMatchObject({ status: 'handled', attempts: 2 });
  }, TEST_TIMEOUT_MS);
});

/** A queue plus dead-letter queue with the stack's redrive settings, that only this test polls. */
async function ownQueue() {
  const attributes = async (url: string) =>
    (await runtime.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string;
  const name = `poller-test-${randomUUID().slice(0, 8)}`;
  const dlq = (await runtime.clients.sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl as string;
  const dlqArn = await attributes(dlq);
  const url = (
    await runtime.clients.sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: QUEUE_SETTINGS.maxReceiveCount }) },
      }),
    )
  ).QueueUrl as string;
  return { url, arn: await attributes(url), deadLetterUrl: dlq, deadLetterArn: dlqArn };
}
