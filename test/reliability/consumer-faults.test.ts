import { randomUUID } from 'node:crypto';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROVIDER_NAMES, type NormalizedEvent } from '../../functions/core/event';
import { QUEUE_SETTINGS } from '../../functions/core/queues';
import { ROUTES, type Route } from '../../functions/core/routes';
import type { Consumer } from '../../functions/consumers/consume';
import { stepsFor, type RouteStep } from '../../functions/consumers/routes';
import { startLocalConsumers, type LocalConsumers } from '../../local/consumers';
import { buildDelivery, sampleTypes } from '../../ops/deliveries';
import { consumerOn, eventRecord, NEVER_EXPIRES_SECONDS, patientClients, redeliverFailuresAtOnce, silentLogger } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';
import { deliveryEvent } from '../support/gateway';
import { countStore, waitFor, type StoreCounts } from './support/harness';

/**
 * Consumers that fail, hang, or get poison, end to end: deliveries go through the receiver onto
 * the route queues, and the local pollers (Lambda's event source mapping in shape) feed them to
 * consumers with an injected fault. After recovery every event is handled exactly once: its
 * route's steps ran to completion once, its record says handled, and no queue or DLQ holds it.
 */

// Fresh emulators per test: a poller stopped mid long-poll leaves its receive waiting in fauxqs,
// and that receive would take the next test's messages out of sight.
let env: Emulated;
beforeEach(async () => {
  env = patient(await startEmulated());
});
afterEach(async () => {
  await env?.stop();
});

// No message comes back on its own: a failed record is redelivered at once by
// redeliverFailuresAtOnce, a handled one never, so the counts below cannot depend on how fast
// the machine is. A short long-poll lets the pollers stop fast.

/** The emulators, every client of this file free of the functions' call budget. */
function patient(emulated: Emulated): Emulated {
  const clients = patientClients(emulated.emulators);
  return { ...emulated, clients, receiver: (overrides = {}, vars = {}) => emulated.receiver({ documents: clients.documents, sqs: clients.sqs, ...overrides }, vars) };
}

/** Deadlines that only a stalled run reaches; a slow one finishes well inside them. */
const STALLED_MS = 120_000;
const TEST_TIMEOUT_MS = 4 * STALLED_MS;

/** Counts complete runs of a route's steps per event: the "effect" that must happen exactly once. */
function effectCounter() {
  const runs = new Map<string, number>();
  const step: RouteStep = async (_event, context) => {
    runs.set(context.key, (runs.get(context.key) ?? 0) + 1);
  };
  return { runs, step };
}

/** Pollers for every route, each running `build(route)`'s consumer; what it fails comes back at once. */
function startPollers(build: (route: Route) => Consumer): LocalConsumers {
  const consumers = ROUTES.map((route) => [route, redeliverFailuresAtOnce(build(route), env.clients.sqs, env.resources.queues[route].url)]);
  return startLocalConsumers({
    sqsEndpoint: env.emulators.sqsEndpoint,
    queues: env.resources.queues,
    consumers: Object.fromEntries(consumers) as Record<Route, Consumer>,
    visibilityTimeoutSeconds: NEVER_EXPIRES_SECONDS,
    waitTimeSeconds: 1,
    logger: silentLogger(),
  });
}

/** Sends `count` signed sample deliveries, spread over every provider and type, through the receiver; returns their keys. */
async function sendThroughReceiver(count: number): Promise<string[]> {
  const samples = PROVIDER_NAMES.flatMap((provider) => sampleTypes(provider).map((type) => ({ provider, type })));
  const receiver = env.receiver();
  const keys: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const sample = samples[index % samples.length] as (typeof samples)[number];
    const result: APIGatewayProxyStructuredResultV2 = await receiver(
      deliveryEvent(buildDelivery({ ...sample, id: `evt_${randomUUID().replaceAll('-', '')}` })),
    );
    const body = JSON.parse(result.body ?? '{}') as { status?: string; key?: string };
    expect(body.status).toBe('accepted');
    keys.push(body.key as string);
  }
  return keys;
}

const statusesOf = async (keys: readonly string[]) => Promise.all(keys.map(async (key) => (await eventRecord(env, key))?.status));
const allHandled = async (keys: readonly string[]) => (await statusesOf(keys)).every((status) => status === 'handled');
const routeMessages = (counts: StoreCounts) => ROUTES.reduce((sum, route) => sum + (counts.messages[route] ?? 0), 0);
const deadLetters = (counts: StoreCounts) => ROUTES.reduce((sum, route) => sum + (counts.messages[`${route} DLQ`] ?? 0), 0);

describe('consumer faults, end to end through the receiver and the queue pollers', () => {
  it('a consumer that throws on its first two attempts at half the events: every event handled exactly once, nothing dead-lettered', async () => {
    const { runs, step: effect } = effectCounter();
    const failures = new Map<string, number>();
    const flaky: RouteStep = async (_event, context) => {
      const failed = failures.get(context.key) ?? 0;
      if (flakyKeys.has(context.key) && failed < 2) {
        failures.set(context.key, failed + 1);
        throw new Error('injected: downstream unavailable');
      }
    };
    const keys = await sendThroughReceiver(24);
    const flakyKeys = new Set(keys.filter((_, index) => index % 2 === 0));
    const before = await countStore(env.clients, env.resources);

    const pollers = startPollers((route) => consumerOn(env, route, { steps: [flaky, ...stepsFor(route), effect] }));
    await waitFor(() => allHandled(keys), STALLED_MS).finally(() => pollers.stop());

    expect(keys.map((key) => runs.get(key))).toEqual(keys.map(() => 1));
    const records = await Promise.all(keys.map((key) => eventRecord(env, key)));
    expect(records.map((record) => record?.attempts)).toEqual(keys.map((key) => (flakyKeys.has(key) ? 3 : 1)));
    const after = await countStore(env.clients, env.resources);
    expect(routeMessages(after)).toBe(0);
    expect(deadLetters(after)).toBe(deadLetters(before));
  }, TEST_TIMEOUT_MS);

  it('a consumer invocation that times out: the batch is redelivered after the lease, and each event is handled exactly once', async () => {
    const { runs, step: effect } = effectCounter();
    const keys = await sendThroughReceiver(12);
    const slowKey = keys[3] as string;
    // Lambda kills a timed-out invocation: its step never returns, and the whole batch comes back
    // after the visibility timeout (180 s in the stack), by when the dead invocation's lease (60 s)
    // is over. The kill comes when the step hangs, not from a timer, and the consumers' clock
    // jumps by the visibility timeout then.
    let clockOffsetMs = 0;
    const clock = () => Date.now() + clockOffsetMs;
    let hung = false;
    let startedHanging!: () => void;
    const hanging = new Promise<void>((resolve) => (startedHanging = resolve));
    const hang: RouteStep = async (_event, context) => {
      if (context.key === slowKey && !hung) {
        hung = true;
        startedHanging();
        await new Promise<never>(() => undefined);
      }
    };
    const keyOf = (body: string) => {
      const event = JSON.parse(body) as NormalizedEvent;
      return `${event.provider}#${event.id}`;
    };
    const killedWhenHung = (consumer: Consumer): Consumer => async (event, context) => {
      const batch = event.Records.map((record) => keyOf(record.body));
      const run = consumer(event, context);
      if (hung || !batch.includes(slowKey)) return run;
      const killed = hanging.then(async () => {
        // The rest of the batch finishes first, as it would have before the timeout in Lambda;
        // only then does time move on.
        const others = batch.filter((key) => key !== slowKey);
        await waitFor(async () => (await statusesOf(others)).every((status) => status === 'handled'), STALLED_MS);
        clockOffsetMs += QUEUE_SETTINGS.visibilityTimeoutSeconds * 1000;
        throw new Error('injected: Task timed out');
      });
      return Promise.race([run, killed]);
    };
    const before = await countStore(env.clients, env.resources);

    const pollers = startPollers((route) => killedWhenHung(consumerOn(env, route, { steps: [hang, ...stepsFor(route), effect], clock })));
    await waitFor(() => allHandled(keys), STALLED_MS).finally(() => pollers.stop());

    expect(hung).toBe(true);
    expect(keys.map((key) => runs.get(key))).toEqual(keys.map(() => 1));
    expect((await eventRecord(env, slowKey))?.attempts).toBe(2);
    const after = await countStore(env.clients, env.resources);
    expect(routeMessages(after)).toBe(0);
    expect(deadLetters(after)).toBe(deadLetters(before));
  }, TEST_TIMEOUT_MS);

  it('a poison message and an event that keeps failing go to the DLQ; after recovery and redrive the event is handled exactly once', async () => {
    const { runs, step: effect } = effectCounter();
    const keys = await sendThroughReceiver(6);
    const brokenKey = keys[2] as string;
    const brokenRoute = JSON.parse((await eventRecord(env, brokenKey))?.event ?? '{}').type as Route;
    let recovered = false;
    const broken: RouteStep = async (_event, context) => {
      if (context.key === brokenKey && !recovered) throw new Error('injected: this event cannot be handled yet');
    };
    const poisonBody = JSON.stringify({ id: 'not-an-event', data: 'poison' });
    await env.clients.sqs.send(new SendMessageCommand({ QueueUrl: env.resources.queues.other.url, MessageBody: poisonBody }));
    const before = await countStore(env.clients, env.resources);
    const others = keys.filter((key) => key !== brokenKey);

    const pollers = startPollers((route) => consumerOn(env, route, { steps: [broken, ...stepsFor(route), effect] }));
    try {
      await waitFor(async () => {
        const counts = await countStore(env.clients, env.resources);
        return counts.messages[`${brokenRoute} DLQ`] === (before.messages[`${brokenRoute} DLQ`] ?? 0) + 1 && counts.messages['other DLQ'] === (before.messages['other DLQ'] ?? 0) + 1;
      }, STALLED_MS);
      const deadLettered = await eventRecord(env, brokenKey);
      await waitFor(() => allHandled(others), STALLED_MS);

      recovered = true;
      const redriven = await redrive(brokenRoute, (body) => (JSON.parse(body) as NormalizedEvent).id === brokenKey.split('#')[1]);
      await waitFor(() => allHandled(keys), STALLED_MS);

      // Each receive is one attempt, and the queue gives five before the dead-letter queue.
      expect(deadLettered?.status).toBe('failed');
      expect(deadLettered?.attempts).toBe(5);
      expect(redriven).toBe(1);
    } finally {
      await pollers.stop();
    }

    expect(keys.map((key) => runs.get(key))).toEqual(keys.map(() => 1));
    const after = await countStore(env.clients, env.resources);
    expect(routeMessages(after)).toBe(0);
    expect(after.messages['other DLQ']).toBe((before.messages['other DLQ'] ?? 0) + 1);
    expect(after.messages[`${brokenRoute} DLQ`]).toBe(before.messages[`${brokenRoute} DLQ`] ?? 0);
  }, TEST_TIMEOUT_MS);
});

/** Moves the dead letters of a route that `select` picks back onto its queue, as an operator's redrive does. */
async function redrive(route: Route, select: (body: string) => boolean): Promise<number> {
  const { url, deadLetterUrl } = env.resources.queues[route];
  const { Messages = [] } = await env.clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: deadLetterUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageAttributeNames: ['All'] }),
  );
  let moved = 0;
  for (const message of Messages) {
    if (!select(message.Body ?? '')) continue;
    await env.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: message.Body as string, MessageAttributes: message.MessageAttributes }),
    );
    await env.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: deadLetterUrl, ReceiptHandle: message.ReceiptHandle as string }));
    moved += 1;
  }
  return moved;
}
