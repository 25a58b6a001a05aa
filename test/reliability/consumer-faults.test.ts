import { randomUUID } from 'node:crypto';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_NAMES, type NormalizedEvent } from '../../functions/core/event';
import { QUEUE_SETTINGS } from '../../functions/core/queues';
import { ROUTES, type Route } from '../../functions/core/routes';
import { CONSUMER_LEASE_SECONDS } from '../../functions/consumers/config';
import type { Consumer } from '../../functions/consumers/consume';
import { stepsFor, type RouteStep } from '../../functions/consumers/routes';
import { startLocalConsumers, type LocalConsumers } from '../../local/consumers';
import { buildDelivery, sampleTypes } from '../../local/deliveries';
import { consumerOn, eventRecord, silentLogger } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';
import { deliveryEvent } from '../support/gateway';
import { countStore, waitFor, type StoreCounts } from './support/harness';

/**
 * Consumers that fail, hang, or get poison, end to end: deliveries go through the receiver onto
 * the route queues, and the local pollers (Lambda's event source mapping in shape) feed them to
 * consumers with an injected fault. After recovery every event is handled exactly once: its
 * route's steps ran to completion once, its record says handled, and no queue or DLQ holds it.
 */

let env: Emulated;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});

// Failed records come back after 1 s instead of the stack's 180 s; a short long-poll lets pollers stop fast.
const VISIBILITY_SECONDS = 1;

/** Counts complete runs of a route's steps per event: the "effect" that must happen exactly once. */
function effectCounter() {
  const runs = new Map<string, number>();
  const step: RouteStep = async (_event, context) => {
    runs.set(context.key, (runs.get(context.key) ?? 0) + 1);
  };
  return { runs, step };
}

/** Pollers for every route, each running `build(route)`'s consumer. */
function startPollers(build: (route: Route) => Consumer): LocalConsumers {
  return startLocalConsumers({
    sqsEndpoint: env.emulators.sqsEndpoint,
    queues: env.resources.queues,
    consumers: Object.fromEntries(ROUTES.map((route) => [route, build(route)])) as Record<Route, Consumer>,
    visibilityTimeoutSeconds: VISIBILITY_SECONDS,
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
    await waitFor(() => allHandled(keys), 20_000).finally(() => pollers.stop());

    expect(keys.map((key) => runs.get(key))).toEqual(keys.map(() => 1));
    const records = await Promise.all(keys.map((key) => eventRecord(env, key)));
    expect(records.map((record) => record?.attempts)).toEqual(keys.map((key) => (flakyKeys.has(key) ? 3 : 1)));
    const after = await countStore(env.clients, env.resources);
    expect(routeMessages(after)).toBe(0);
    expect(deadLetters(after)).toBe(deadLetters(before));
  });

  it('a consumer invocation that times out: the batch is redelivered after the lease, and each event is handled exactly once', async () => {
    const { runs, step: effect } = effectCounter();
    const keys = await sendThroughReceiver(12);
    const slowKey = keys[3] as string;
    let hung = false;
    // Lambda kills a timed-out invocation: its step never returns, and the retry comes after the
    // visibility timeout (180 s in the stack), by when the dead invocation's lease (60 s) is over.
    let clockOffsetMs = 0;
    const clock = () => Date.now() + clockOffsetMs;
    const hang: RouteStep = async (_event, context) => {
      if (context.key === slowKey && !hung) {
        hung = true;
        await new Promise<never>(() => undefined);
      }
    };
    const withTimeout = (consumer: Consumer): Consumer => async (event, context) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          clockOffsetMs += (CONSUMER_LEASE_SECONDS + 1) * 1000;
          reject(new Error('injected: Task timed out'));
        }, 500);
      });
      try {
        return await Promise.race([consumer(event, context), timedOut]);
      } finally {
        clearTimeout(timer);
      }
    };
    const before = await countStore(env.clients, env.resources);

    const pollers = startPollers((route) => withTimeout(consumerOn(env, route, { steps: [hang, ...stepsFor(route), effect], clock })));
    await waitFor(() => allHandled(keys), 20_000).finally(() => pollers.stop());

    expect(hung).toBe(true);
    expect(keys.map((key) => runs.get(key))).toEqual(keys.map(() => 1));
    expect((await eventRecord(env, slowKey))?.attempts).toBe(2);
    const after = await countStore(env.clients, env.resources);
    expect(routeMessages(after)).toBe(0);
    expect(deadLetters(after)).toBe(deadLetters(before));
  });

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
      }, 30_000);
      const deadLettered = await eventRecord(env, brokenKey);
      await waitFor(() => allHandled(others), 10_000);

      recovered = true;
      const redriven = await redrive(brokenRoute, (body) => (JSON.parse(body) as NormalizedEvent).id === brokenKey.split('#')[1]);
      await waitFor(() => allHandled(keys), 20_000);

      // Each receive is one attempt, except when a slow attempt still held the lease as the message
      // came back (1 s visibility here): that receive is refused without counting, so at most five.
      expect(deadLettered?.status).toBe('failed');
      expect(deadLettered?.attempts).toBeGreaterThanOrEqual(1);
      expect(deadLettered?.attempts).toBeLessThanOrEqual(QUEUE_SETTINGS.maxReceiveCount);
      expect(redriven).toBe(1);
    } finally {
      await pollers.stop();
    }

    expect(keys.map((key) => runs.get(key))).toEqual(keys.map(() => 1));
    const after = await countStore(env.clients, env.resources);
    expect(routeMessages(after)).toBe(0);
    expect(after.messages['other DLQ']).toBe((before.messages['other DLQ'] ?? 0) + 1);
    expect(after.messages[`${brokenRoute} DLQ`]).toBe(before.messages[`${brokenRoute} DLQ`] ?? 0);
  });
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
