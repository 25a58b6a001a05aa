import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../functions/core/providers';
import { buildDelivery } from '../../ops/deliveries';
import { deliveryEvent } from '../support/gateway';
import { startEmulated, type Emulated } from '../support/emulated';

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

const SECRET = PROVIDERS.openai.developmentSecret;

describe('OpenAI deliveries at the receiver', () => {
  it.each([
    ['fine_tuning.job.succeeded', 'fine_tune.completed', 'jobId'],
    ['fine_tuning.job.failed', 'fine_tune.failed', 'jobId'],
    ['fine_tuning.job.cancelled', 'fine_tune.cancelled', 'jobId'],
    ['batch.completed', 'batch.completed', 'batchId'],
    ['batch.failed', 'batch.failed', 'batchId'],
    ['batch.cancelled', 'batch.cancelled', 'batchId'],
    ['batch.expired', 'batch.expired', 'batchId'],
  ] as const)('accepts an OpenAI-signed %s and queues it on %s, about data.id, at created_at', async (type, route, idField) => {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const delivery = buildDelivery({ provider: 'openai', type, nowSeconds });
    const payload = delivery.body.toString();
    const webhookId = delivery.headers['webhook-id'] as string;
    const sent = JSON.parse(payload) as { id: string; created_at: number; data: { id: string } };

    const result = await env.receiver()(deliveryEvent(delivery));

    // The project's signer agrees with the reference library, computed independently.
    expect(delivery.headers['webhook-signature']).toBe(new Webhook(SECRET).sign(webhookId, new Date(nowSeconds * 1000), payload));
    expect(result.statusCode).toBe(200);
    const messages = (await env.drain(route)).map((message) => JSON.parse(message.Body ?? '{}') as Record<string, unknown>);
    expect(messages).toEqual([
      expect.objectContaining({
        id: sent.id,
        provider: 'openai',
        type: route,
        providerType: type,
        subject: sent.data.id,
        occurredAt: new Date(sent.created_at * 1000).toISOString(),
        data: { [idField]: sent.data.id },
      }),
    ]);
  });

  it('answers 401 to a delivery signed with another secret, and queues nothing', async () => {
    const other = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const delivery = buildDelivery({ provider: 'openai', type: 'batch.completed', secret: other });

    const result = await env.receiver()(deliveryEvent(delivery));

    expect(result.statusCode).toBe(401);
    expect([...(await env.drainAll()).values()].flat()).toEqual([]);
  });

  it('sends the OpenAI sample of a route when the route is named: `send openai fine_tune.completed`', () => {
    const delivery = buildDelivery({ provider: 'openai', type: 'fine_tune.completed' });

    expect(JSON.parse(delivery.body.toString())).toMatchObject({ object: 'event', type: 'fine_tuning.job.succeeded' });
  });
});
