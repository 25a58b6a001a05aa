import { randomUUID } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, PutCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { replayEvent } from '../../ops/replay';
import type { EventStatus } from '../../functions/core/table';
import { buildDelivery, type Delivery } from '../../ops/deliveries';
import { consumerOn, eventRecord, sqsEvent, sqsRecord } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';
import { deliveryEvent } from '../support/gateway';
import { waitFor } from '../support/net';

/**
 * How long an event record lives, and when a new delivery of its id may take it over: the
 * record must outlive every copy of its message that can still be delivered, and a record that
 * someone is working on is never taken over, however old it is.
 */

let env: Emulated;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});
beforeEach(async () => {
  await env.drainAll();
});

const DAY_MS = 86_400_000;
/** A route queue keeps a message 14 days and its dead-letter queue 14 more: the contract's figures. */
const DELIVERABLE_SECONDS = 28 * 86_400;
/** `LEASE_SECONDS` by default. */
const LEASE_SECONDS = 30;

const bodyOf = (result: APIGatewayProxyStructuredResultV2) => JSON.parse(result.body ?? 'null') as Record<string, unknown>;
/** A whole second, so that lease arithmetic in seconds is exact. */
const wholeSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

/** What DynamoDB's TTL eventually does: deletes every record whose `expiresAt` has passed. */
async function ttlSweep(nowMs: number): Promise<void> {
  const { Items = [] } = await env.clients.documents.send(new ScanCommand({ TableName: env.resources.eventsTable, ConsistentRead: true }));
  for (const item of Items) {
    if (typeof item.expiresAt === 'number' && item.expiresAt < Math.floor(nowMs / 1000)) {
      await env.clients.documents.send(new DeleteCommand({ TableName: env.resources.eventsTable, Key: { pk: item.pk } }));
    }
  }
}

/** The delivery as the gateway hands it over at `atMs`, to a receiver whose clock says `atMs`. */
function receiveAt(delivery: Delivery, atMs: number, overrides: Parameters<Emulated['receiver']>[0] = {}, receiverEnv: Record<string, string> = {}) {
  return env.receiver({ clock: () => atMs, ...overrides }, receiverEnv)(deliveryEvent(delivery, { timeEpoch: atMs }));
}

const replayDeps = (clock: () => number) => ({
  documents: env.clients.documents,
  tableName: env.resources.eventsTable,
  sqs: env.clients.sqs,
  queues: env.resources.queues,
  clock,
});

/** A record as a component left it, written directly: the states a new delivery may meet. */
async function putRecord(key: string, fields: Record<string, unknown>): Promise<void> {
  const [provider, eventId] = key.split('#') as [string, string];
  await env.clients.documents.send(
    new PutCommand({
      TableName: env.resources.eventsTable,
      Item: {
        pk: key,
        provider,
        eventId,
        route: 'batch.completed',
        providerType: 'batch.completed',
        receivedAt: new Date().toISOString(),
        receivedDay: new Date().toISOString().slice(0, 10),
        event: '{}',
        ...fields,
      },
    }),
  );
}

describe('record lifetime', () => {
  it('redrive after the record expired does not run a handled event again', async () => {
    const t0 = wholeSecond(Date.now());
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.failed', nowSeconds: t0 / 1000 });
    const key = `together#${delivery.id}`;
    expect(bodyOf(await receiveAt(delivery, t0)).status).toBe('accepted');
    const [message] = await env.drain('fine_tune.failed');
    const body = message?.Body as string;

    // Five failed receives: the message moves to the dead-letter queue, where it waits 14 days.
    const failing = consumerOn(env, 'fine_tune.failed', { steps: [() => Promise.reject(new Error('jobs table down'))], clock: () => t0 });
    for (let receive = 1; receive <= 5; receive += 1) await failing(sqsEvent(sqsRecord(body, receive)));
    expect((await eventRecord(env, key))?.status).toBe('failed');

    // A day later the operator replays it, and it is handled.
    const runs: string[] = [];
    const counting = (atMs: number) => consumerOn(env, 'fine_tune.failed', { steps: [async (event) => void runs.push(event.id)], clock: () => atMs });
    expect((await replayEvent(replayDeps(() => t0 + DAY_MS), key)).result).toBe('replayed');
    const [replayed] = await env.drain('fine_tune.failed');
    await counting(t0 + DAY_MS)(sqsEvent(sqsRecord(replayed?.Body as string)));
    expect(runs).toEqual([delivery.id]);

    // 13 days after that failure the dead letters are redriven; TTL has run in between.
    const redriveAt = t0 + 13 * DAY_MS;
    await ttlSweep(redriveAt);
    const response = await counting(redriveAt)(sqsEvent(sqsRecord(body, 6)));

    expect(response.batchItemFailures).toEqual([]);
    expect(runs).toEqual([delivery.id]);
    expect((await eventRecord(env, key))?.status).toBe('handled');
  });

  it('every transition keeps the record as long as a copy of its message can still be delivered', async () => {
    const t0 = wholeSecond(Date.now());
    const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed', nowSeconds: t0 / 1000 });
    const key = `mythicdot#${delivery.id}`;
    const seen: { transition: string; atMs: number; status?: EventStatus; expiresAt?: number }[] = [];
    const look = async (transition: string, atMs: number) => {
      const record = await eventRecord(env, key);
      seen.push({ transition, atMs, status: record?.status, expiresAt: record?.expiresAt });
    };
    // The put is seen from inside the send, which comes right after it.
    const sqs = {
      send: async (command: Parameters<SQSClient['send']>[0]) => {
        await look('put', t0);
        return env.clients.sqs.send(command);
      },
    } as unknown as SQSClient;

    await receiveAt(delivery, t0, { sqs });
    await look('queued', t0);
    const [message] = await env.drain('batch.completed');
    const body = message?.Body as string;
    // The consumer's clock moves a day during each step, so that each mark is seen apart from its claim.
    let consumerMs = t0 + 2 * DAY_MS;
    const clock = () => consumerMs;
    await consumerOn(env, 'batch.completed', {
      steps: [
        async () => {
          await look('claim', consumerMs);
          consumerMs += DAY_MS;
          throw new Error('step failed');
        },
      ],
      clock,
    })(sqsEvent(sqsRecord(body)));
    await look('failed', consumerMs);
    consumerMs = t0 + 5 * DAY_MS;
    await consumerOn(env, 'batch.completed', { steps: [async () => void (consumerMs += DAY_MS)], clock })(sqsEvent(sqsRecord(body, 2)));
    await look('handled', consumerMs);
    const replayAt = t0 + 20 * DAY_MS;
    await replayEvent(replayDeps(() => replayAt), key);
    await look('replay', replayAt);
    await env.drain('batch.completed');

    expect(seen.map(({ transition, status }) => [transition, status])).toEqual([
      ['put', 'in_progress'],
      ['queued', 'queued'],
      ['claim', 'handling'],
      ['failed', 'failed'],
      ['handled', 'handled'],
      ['replay', 'queued'],
    ]);
    for (const { transition, atMs, expiresAt } of seen) {
      expect({ transition, left: (expiresAt ?? 0) - atMs / 1000 >= DELIVERABLE_SECONDS }).toEqual({ transition, left: true });
    }
  });

  it('expiry runs from the later of receipt and the signed timestamp, so no replay of the same signed bytes outlives its record', async () => {
    const receivedMs = wholeSecond(Date.now());
    const retention = { RETENTION_DAYS: '60' };
    // MythicDot resends the same signed bytes; its body `created` may be up to 300 s ahead of the receiver.
    const signedAt = receivedMs / 1000 + 300;
    const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed', nowSeconds: signedAt });
    expect(bodyOf(await receiveAt(delivery, receivedMs, {}, retention)).status).toBe('accepted');
    await env.drain('batch.completed');

    // The same bytes ten seconds before their body timestamp is too old for the retention.
    const replayAtMs = (signedAt + 60 * 86_400 - 10) * 1000;
    await ttlSweep(replayAtMs);
    const replay = await receiveAt(delivery, replayAtMs, {}, retention);

    expect(bodyOf(replay)).toMatchObject({ status: 'duplicate' });
    expect(await env.drain('batch.completed')).toHaveLength(0);
  });

  it('expiry of a delivery with a signed timestamp header ahead of the receiver runs from that timestamp', async () => {
    const receivedMs = wholeSecond(Date.now());
    const signedAt = receivedMs / 1000 + 299;
    const delivery = buildDelivery({ provider: 'standard', type: 'batch.completed', nowSeconds: signedAt });

    await receiveAt(delivery, receivedMs, {}, { RETENTION_DAYS: '60' });

    expect((await eventRecord(env, `standard#${delivery.id}`))?.expiresAt).toBeGreaterThanOrEqual(signedAt + 60 * 86_400);
    await env.drain('batch.completed');
  });
});

describe('takeover of a record by a new delivery', () => {
  const LIVE_STATES: [string, Record<string, unknown>, number, Record<string, unknown>][] = [
    ['queued', { status: 'queued' }, 200, { status: 'duplicate', state: 'queued' }],
    ['in_progress under a live lease', { status: 'in_progress', leaseToken: 'other', leaseExpiresAt: 'live' }, 409, { error: 'in_progress' }],
    ['handling under a live lease', { status: 'handling', leaseToken: 'other', leaseExpiresAt: 'live' }, 200, { status: 'duplicate', state: 'handling' }],
  ];

  it.each(LIVE_STATES)(
    'a record %s is never free for takeover by the receiver\'s put, even past expiresAt',
    async (_name, fields, statusCode, answer) => {
      const nowMs = wholeSecond(Date.now());
      const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed', nowSeconds: nowMs / 1000 });
      const key = `mythicdot#${delivery.id}`;
      const live = fields.leaseExpiresAt === 'live' ? { leaseExpiresAt: nowMs / 1000 + 20 } : {};
      await putRecord(key, { ...fields, ...live, expiresAt: nowMs / 1000 - 3600 });

      const result = await receiveAt(delivery, nowMs);

      expect(result.statusCode).toBe(statusCode);
      expect(bodyOf(result)).toMatchObject(answer);
      expect((await eventRecord(env, key))?.status).toBe(fields.status);
      expect(await env.drain('batch.completed')).toHaveLength(0);
    },
  );

  it.each([
    ['handled', { status: 'handled' }],
    ['failed', { status: 'failed', lastError: 'step failed' }],
    ['handling under an abandoned lease', { status: 'handling', leaseToken: 'dead', leaseExpiresAt: 1 }],
  ])('expired record: a %s record past expiresAt is taken over by a new delivery, accepted and sent, not duplicate', async (_name, fields) => {
    const nowMs = wholeSecond(Date.now());
    const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed', nowSeconds: nowMs / 1000 });
    const key = `mythicdot#${delivery.id}`;
    await putRecord(key, { ...fields, expiresAt: nowMs / 1000 - 1 });

    const result = await receiveAt(delivery, nowMs);

    expect(bodyOf(result)).toEqual({ status: 'accepted', key });
    expect((await eventRecord(env, key))?.status).toBe('queued');
    expect(await env.drain('batch.completed')).toHaveLength(1);
  });

  it('the same record before its expiresAt is a duplicate', async () => {
    const nowMs = wholeSecond(Date.now());
    const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed', nowSeconds: nowMs / 1000 });
    const key = `mythicdot#${delivery.id}`;
    await putRecord(key, { status: 'handled', expiresAt: nowMs / 1000 + 1 });

    expect(bodyOf(await receiveAt(delivery, nowMs))).toEqual({ status: 'duplicate', key, state: 'handled' });
    expect(await env.drain('batch.completed')).toHaveLength(0);
  });
});

describe('leases of the accept path', () => {
  it('a request never gets 409 against its own lease', async () => {
    const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed' });
    const key = `mythicdot#${delivery.id}`;
    const documents = env.clients.documents;
    let puts = 0;
    // The first put is applied but its answer is lost; the SDK sends the very same request again.
    const lossy = {
      send: async (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
        if (command instanceof PutCommand && (puts += 1) === 1) {
          await documents.send(command);
          return documents.send(command);
        }
        return documents.send(command);
      },
    } as unknown as DynamoDBDocumentClient;

    const result = await env.receiver({ documents: lossy })(deliveryEvent(delivery));

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ status: 'accepted', key });
    expect((await eventRecord(env, key))?.status).toBe('queued');
    expect(await env.drain('batch.completed')).toHaveLength(1);
  });

  it('lease length: a retry at lease − 1 s gets 409, and one at lease + 1 s is accepted', async () => {
    const t0 = wholeSecond(Date.now());
    const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed', nowSeconds: t0 / 1000 });
    const key = `mythicdot#${delivery.id}`;
    // A request whose send never returns: it holds the lease and nothing releases it.
    const hanging = { send: () => new Promise<never>(() => undefined) } as unknown as SQSClient;
    void receiveAt(delivery, t0, { sqs: hanging });
    await waitFor(async () => (await eventRecord(env, key)) !== undefined);

    const early = await receiveAt(delivery, t0 + (LEASE_SECONDS - 1) * 1000);
    const late = await receiveAt(delivery, t0 + (LEASE_SECONDS + 1) * 1000);

    expect(early.statusCode).toBe(409);
    expect(bodyOf(late)).toEqual({ status: 'accepted', key });
    expect(await env.drain('batch.completed')).toHaveLength(1);
  });

  it('stale lease holder: a lease taken over while the first send is still running is not marked by the first request', async () => {
    const t0 = wholeSecond(Date.now());
    const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed', nowSeconds: t0 / 1000 });
    const key = `mythicdot#${delivery.id}`;
    const held: (() => void)[] = [];
    // Each send waits until the test lets it go, then really sends.
    const slow = {
      send: (command: Parameters<SQSClient['send']>[0]) =>
        new Promise<void>((resolve) => held.push(resolve)).then(() => env.clients.sqs.send(command)),
    } as unknown as SQSClient;

    const first = receiveAt(delivery, t0, { sqs: slow });
    await waitFor(async () => held.length === 1);
    const firstToken = (await eventRecord(env, key))?.leaseToken;
    const second = receiveAt(delivery, t0 + (LEASE_SECONDS + 1) * 1000, { sqs: slow });
    await waitFor(async () => held.length === 2);
    const secondToken = (await eventRecord(env, key))?.leaseToken;
    held[0]?.();
    const firstResult = await first;
    const afterFirst = await eventRecord(env, key);
    held[1]?.();
    const secondResult = await second;

    expect(firstToken).toBeDefined();
    expect(secondToken).toBeDefined();
    expect(secondToken).not.toBe(firstToken);
    expect(bodyOf(firstResult).status).toBe('accepted');
    expect(afterFirst).toMatchObject({ status: 'in_progress', leaseToken: secondToken });
    expect(bodyOf(secondResult).status).toBe('accepted');
    expect((await eventRecord(env, key))?.status).toBe('queued');
    // Both sends happened: the consumer's claim makes the effect once.
    expect(await env.drain('batch.completed')).toHaveLength(2);
  });
});

describe('retention per provider', () => {
  const untimestamped: [string, Delivery, Record<string, string>][] = [
    [
      'a Together body-only delivery without `created`',
      buildDelivery({
        provider: 'together',
        type: 'fine_tune.completed',
        scheme: 'body',
        body: JSON.stringify({ id: `evt_${randomUUID()}`, type: 'fine_tune.completed', data: { fine_tune_id: 'ft-1' } }),
      }),
      { TOGETHER_SIGNATURE_SCHEME: 'body' },
    ],
    [
      'an LLMTune delivery without `deliveredAt`',
      buildDelivery({ provider: 'llmtune', type: 'training.completed', body: JSON.stringify({ event: 'training.completed', data: { jobId: `job-${randomUUID()}` } }) }),
      {},
    ],
  ];

  it.each(untimestamped)('%s is remembered 30 days by default', async (_name, delivery, receiverEnv) => {
    const nowMs = wholeSecond(Date.now());

    const result = await receiveAt(delivery, nowMs, {}, receiverEnv);

    expect(bodyOf(result).status).toBe('accepted');
    const record = (await env.records()).find((item) => item.pk === bodyOf(result).key);
    expect(record?.expiresAt).toBe(nowMs / 1000 + 30 * 86_400);
    await env.drainAll();
  });

  it('refuses a provider retention out of range at start, naming its variable', () => {
    expect(() => env.receiver({}, { RETENTION_DAYS_MYTHICDOT: '3' })).toThrow('RETENTION_DAYS_MYTHICDOT must be a whole number from 7 to 365, got "3"');
  });

  it('RETENTION_DAYS_<PROVIDER> sets the retention of one provider, for the record and for the body timestamp', async () => {
    const nowMs = wholeSecond(Date.now());
    // Sixty days old: beyond the default retention, within this provider's.
    const delivery = buildDelivery({ provider: 'llmtune', type: 'training.completed', nowSeconds: nowMs / 1000 - 60 * 86_400 });
    const receiverEnv = { RETENTION_DAYS_LLMTUNE: '90' };

    const result = await receiveAt(delivery, nowMs, {}, receiverEnv);
    const elsewhere = await receiveAt(buildDelivery({ provider: 'mythicdot', type: 'batch.completed', nowSeconds: nowMs / 1000 - 60 * 86_400 }), nowMs, {}, receiverEnv);

    expect(bodyOf(result).status).toBe('accepted');
    const record = (await env.records()).find((item) => item.pk === bodyOf(result).key);
    expect(record?.expiresAt).toBe(nowMs / 1000 + 90 * 86_400);
    expect(elsewhere.statusCode).toBe(401);
    await env.drainAll();
  });
});
