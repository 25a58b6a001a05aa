import { createHmac } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '@aws-lambda-powertools/logger';
import { clientConfig } from '../../functions/core/aws';
import { readEnabledProviders } from '../../functions/core/config';
import { createSecretsReader, SECRET_CACHE_SECONDS } from '../../functions/core/secrets';
import { PROVIDER_NAMES, type ProviderName } from '../../functions/core/event';
import { PROVIDERS } from '../../functions/core/providers';
import { PROVIDER_SAMPLES } from '../../functions/core/providers/samples';
import { buildDelivery, type Delivery } from '../../ops/deliveries';
import { deliveryEvent, gatewayEvent } from '../support/gateway';
import { startEmulated, type Emulated } from '../support/emulated';
import type { EventRecord } from '../../functions/core/table';
import { readRecordEvent } from '../../ops/stored-events';
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
      Object.keys(PROVIDER_SAMPLES[provider])
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
    const read = await readRecordEvent({ documents: env.clients.documents, tableName: env.resources.eventsTable }, Item as EventRecord);
    expect(read.ok && read.event).toMatchObject({ id: 'evt_record', type: 'fine_tune.completed' });
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



/** A logger that keeps every line, to count what was logged and check that no secret was. */
function recordingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  const logger = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } as unknown as Logger;
  return { lines, logger };
}

/** A Standard Webhooks delivery whose signature is the MAC under an empty key: what a forger can compute. */
function forgedStandard(id: string): Delivery {
  const delivery = buildDelivery({ provider: 'standard', type: 'batch.completed', id });
  const ts = delivery.headers['webhook-timestamp'] as string;
  const mac = createHmac('sha256', Buffer.alloc(0)).update(`${id}.${ts}.`).update(delivery.body).digest('base64');
  return { ...delivery, headers: { ...delivery.headers, 'webhook-signature': `v1,${mac}` } };
}

const storedKeys = async (provider: string) =>
  (await env.records()).map((item) => String(item.pk)).filter((pk) => pk.startsWith(`${provider}#`));

describe('signing secrets at the receiver', () => {
  it.each([['whsec_'], ['whsec_!!!!'], [`whsec_${Buffer.alloc(32, 3).toString('base64')},whsec_`]])(
    'forgery with a degenerate Standard Webhooks secret: a delivery signed with an empty key gets 503, never 200, when the secret is %j',
    async (secret) => {
      const delivery = forgedStandard(`msg_forged_${secret.length}`);
      const receiver = env.receiver({ getSecrets: async () => secret.split(',') });

      const result = await receiver(deliveryEvent(delivery));

      expect(result.statusCode).toBe(503);
      expect(await storedKeys('standard')).not.toContain(`standard#${delivery.id}`);
      expect((await env.drainAll()).get('batch.completed')).toHaveLength(0);
    },
  );

  it('forgery with a degenerate Standard Webhooks secret: in AWS the receiver answers 503 secret_invalid and logs the refused secret once per refresh', async () => {
    const { lines, logger } = recordingLogger();
    let nowMs = 1_000_000;
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:standard-signing-AbCdEf';
    const getSecrets = createSecretsReader({ SECRET_ARNS: JSON.stringify({ standard: arn }) }, readEnabledProviders({ PROVIDERS: 'standard' }), {
      fetchSecret: async () => '["whsec_"]',
      logger,
      clock: () => nowMs,
    });
    const receiver = env.receiver({ getSecrets, logger }, { PROVIDERS: 'standard' });

    const statuses: number[] = [];
    for (const id of ['msg_f1', 'msg_f2', 'msg_f3']) statuses.push((await receiver(deliveryEvent(forgedStandard(id)))).statusCode ?? 0);
    const refusedBeforeRefresh = lines.filter((line) => line.message === 'signing secret refused').length;
    nowMs += SECRET_CACHE_SECONDS * 1000;
    statuses.push((await receiver(deliveryEvent(forgedStandard('msg_f4')))).statusCode ?? 0);

    expect(statuses).toEqual([503, 503, 503, 503]);
    expect(lines.filter((line) => line.message === 'delivery rejected').map((line) => line.fields.reason)).toEqual(Array(4).fill('secret_invalid'));
    expect(refusedBeforeRefresh).toBe(1);
    const refused = lines.filter((line) => line.message === 'signing secret refused');
    expect(refused).toHaveLength(2);
    expect(refused[0]?.fields).toMatchObject({ provider: 'standard', secret: arn, reason: 'secret_invalid' });
    expect((await storedKeys('standard')).filter((key) => key.includes('msg_f'))).toEqual([]);
  });

  it.each(PROVIDER_NAMES)(
    'unsigned junk no longer triggers the 5xx alarm: a %s POST with none of its signature headers gets 401 while its secret is unset',
    async (provider) => {
      const receiver = env.receiver({ getSecrets: async () => [] });

      const result = await receiver(gatewayEvent({ path: `/webhooks/${provider}`, headers: { 'content-type': 'application/json' }, body: '{"id":"x","type":"y"}' }));

      expect(result.statusCode).toBe(401);
      expect(bodyOf(result)).toEqual({ error: 'unauthorized' });
    },
  );

  it.each(PROVIDER_NAMES)('a signed-looking %s delivery while its secret is unset keeps its 503 secret_not_set', async (provider) => {
    const { lines, logger } = recordingLogger();
    const type = Object.keys(PROVIDER_SAMPLES[provider])[0] as string;
    const receiver = env.receiver({ getSecrets: async () => [], logger });

    const delivery = buildDelivery({ provider, type });

    const result = await receiver(deliveryEvent(delivery));

    expect(result.statusCode).toBe(503);
    expect(lines.map((line) => line.fields.reason).filter(Boolean)).toEqual(['secret_not_set']);
    expect((await storedKeys(provider)).filter((key) => key.includes(delivery.id))).toEqual([]);
  });

  it('Standard Webhooks: a Svix-branded delivery is accepted, its svix-id the event id', async () => {
    const delivery = buildDelivery({ provider: 'standard', type: 'batch.completed', id: 'msg_svix_1' });
    const branded = Object.fromEntries(Object.entries(delivery.headers).map(([name, value]) => [name.replace(/^webhook-/, 'svix-'), value]));

    const result = await env.receiver()(deliveryEvent({ ...delivery, headers: branded }));

    expect(bodyOf(result)).toEqual({ status: 'accepted', key: 'standard#msg_svix_1' });
    expect(await env.drain('batch.completed')).toHaveLength(1);
  });
});
