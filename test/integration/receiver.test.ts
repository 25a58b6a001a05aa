import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clientConfig } from '../../functions/core/aws';
import { PROVIDER_NAMES, type ProviderName } from '../../functions/core/event';
import { PROVIDERS } from '../../functions/core/providers';
import { buildDelivery } from '../../local/deliveries';
import { deliveryEvent } from '../support/gateway';
import { startEmulated, type Emulated } from '../support/emulated';
import { closedPort, waitFor } from '../support/net';

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

const bodyOf = (result: { body?: string }) => JSON.parse(result.body ?? '{}') as Record<string, unknown>;


describe('receiver on the emulators', () => {
  it.each(
    PROVIDER_NAMES.flatMap((provider) =>
      Object.keys(PROVIDERS[provider].samples)
        .slice(0, 2)
        .map((type): [ProviderName, string] => [provider, type]),
    ),
  )(
    'accepts a signed %s %s delivery as exactly one message on its route queue',
    async (provider, type) => {
      const delivery = buildDelivery({ provider, type });
      const route = PROVIDERS[provider].routes[type] ?? 'other';

      const result = await env.receiver()(deliveryEvent(delivery));

      expect(result.statusCode).toBe(200);
      expect(bodyOf(result).status).toBe('accepted');
      const queued = await env.drainAll();
      expect([...queued].filter(([, messages]) => messages.length > 0).map(([r, m]) => [r, m.length])).toEqual([[route, 1]]);
      const message = queued.get(route)?.[0];
      expect(JSON.parse(message?.Body ?? '{}')).toMatchObject({ provider, type: route, providerType: type });
      expect(message?.MessageAttributes?.provider?.StringValue).toBe(provider);
    },
  );

  it('marks the accepted record queued and keeps the normalized event in it', async () => {
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed', id: 'evt_record' });

    await env.receiver()(deliveryEvent(delivery));

    const { Item } = await env.clients.documents.send(new GetCommand({ TableName: env.resources.eventsTable, Key: { pk: 'together#evt_record' } }));
    expect(Item).toMatchObject({ status: 'queued', route: 'fine_tune.completed', subject: 'ft-evt_record' });
    expect(JSON.parse(Item?.event as string)).toMatchObject({ id: 'evt_record', type: 'fine_tune.completed' });
    expect(Item?.expiresAt).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 7 * 86_400 - 5);
    expect(Item?.leaseToken).toBeUndefined();
  });

  it('answers a duplicate of a queued event with 200 duplicate and adds no message', async () => {
    const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed', id: 'evt_dup' });
    await env.receiver()(deliveryEvent(delivery));
    await env.drainAll();

    const again = await env.receiver()(deliveryEvent(delivery));

    expect(again.statusCode).toBe(200);
    expect(bodyOf(again)).toMatchObject({ status: 'duplicate', state: 'queued' });
    expect((await env.drainAll()).get('batch.completed')).toHaveLength(0);
  });

  it('turns 20 concurrent copies of one delivery into exactly one message', async () => {
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.failed', id: 'evt_burst' });
    const receiver = env.receiver();

    const results = await Promise.all(Array.from({ length: 20 }, () => receiver(deliveryEvent(delivery))));

    const statuses = results.map((result) => `${result.statusCode} ${String(bodyOf(result).status ?? bodyOf(result).error)}`);
    expect(statuses.filter((status) => status === '200 accepted')).toHaveLength(1);
    expect(statuses.every((status) => ['200 accepted', '200 duplicate', '409 in_progress'].includes(status))).toBe(true);
    expect(await env.drain('fine_tune.failed')).toHaveLength(1);
  });

  it('answers 503 when SQS is unavailable, releases the record, and the retry gets through', async () => {
    const delivery = buildDelivery({ provider: 'llmtune', type: 'training.completed', id: 'sqs-down' });
    const deadSqs = new SQSClient(clientConfig({ endpoint: `http://127.0.0.1:${await closedPort()}` }));

    const failed = await env.receiver({ sqs: deadSqs })(deliveryEvent(delivery));
    const recordsAfterFailure = (await env.records()).filter((item) => String(item.pk).includes('llmtune#'));
    const retry = await env.receiver()(deliveryEvent(delivery));

    expect(failed.statusCode).toBe(503);
    expect(recordsAfterFailure.filter((item) => item.status !== 'queued')).toEqual([]);
    expect(bodyOf(retry).status).toBe('accepted');
    expect(await env.drain('fine_tune.completed')).toHaveLength(1);
  });

  it('answers 503 when DynamoDB is unavailable and sends nothing', async () => {
    const delivery = buildDelivery({ provider: 'standard', type: 'batch.completed', id: 'ddb-down' });
    const deadDynamo = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: `http://127.0.0.1:${await closedPort()}` })));

    const result = await env.receiver({ documents: deadDynamo })(deliveryEvent(delivery));

    expect(result.statusCode).toBe(503);
    expect(bodyOf(result)).toEqual({ error: 'unavailable', message: 'a dependency failed; nothing was accepted, retry later' });
    expect((await env.drainAll()).get('batch.completed')).toHaveLength(0);
  });

  it('after a crash between put and send, answers 409 within the lease and accepts the retry after it, once', async () => {
    const delivery = buildDelivery({ provider: 'together', type: 'batch.done', id: 'evt_crash' });
    // A process that dies after its conditional put: its send never completes, and nothing releases the record.
    const hangingSqs = { send: () => new Promise<never>(() => undefined) } as unknown as SQSClient;
    void env.receiver({ sqs: hangingSqs })(deliveryEvent(delivery));
    await waitFor(async () => (await env.records()).some((item) => item.pk === 'together#evt_crash'));
    const leaseMs = env.config.leaseSeconds * 1000;

    const withinLease = await env.receiver()(deliveryEvent(delivery));
    const afterLease = await env.receiver({ clock: () => Date.now() + leaseMs + 1_000 })(deliveryEvent(delivery));
    const later = await env.receiver({ clock: () => Date.now() + leaseMs + 2_000 })(deliveryEvent(delivery));

    expect(withinLease.statusCode).toBe(409);
    expect(bodyOf(afterLease).status).toBe('accepted');
    expect(bodyOf(later).status).toBe('duplicate');
    expect(await env.drain('batch.completed')).toHaveLength(1);
  });
});


