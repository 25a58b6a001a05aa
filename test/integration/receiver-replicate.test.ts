import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Route } from '../../functions/core/routes';
import { PROVIDERS } from '../../functions/core/providers';
import { PROVIDER_SAMPLES } from '../../functions/core/providers/samples';
import { toSqsRecord } from '../../local/consumers';
import type { Delivery } from '../../ops/deliveries';
import { consumerOn, jobItem, sqsEvent } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';
import { deliveryEvent } from '../support/gateway';

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

const SECRET = PROVIDERS.replicate.developmentSecret;

/** A delivery signed by the standardwebhooks reference library, not by the project's signer. */
function signed(body: unknown, options: { secret?: string; webhookId?: string } = {}): Delivery {
  const payload = JSON.stringify(body);
  const id = options.webhookId ?? `msg_${randomUUID().replaceAll('-', '')}`;
  const now = new Date();
  const headers = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(options.secret ?? SECRET).sign(id, now, payload),
  };
  return { path: '/webhooks/replicate', headers, body: Buffer.from(payload), id };
}

const sample = (type: string, id: string) => {
  const build = PROVIDER_SAMPLES.replicate[type];
  if (build === undefined) throw new Error(`no replicate sample ${type}`);
  return build({ id, nowSeconds: Math.floor(Date.now() / 1000) });
};

/** Each documented webhook, with the route its object's kind and status give it (written out, not read from the provider). */
const SHAPES: readonly (readonly [string, Route])[] = [
  ['training.starting', 'fine_tune.started'],
  ['training.processing', 'fine_tune.started'],
  ['training.succeeded', 'fine_tune.completed'],
  ['training.failed', 'fine_tune.failed'],
  ['training.canceled', 'fine_tune.cancelled'],
  ['prediction.starting', 'other'],
  ['prediction.output', 'other'],
  ['prediction.logs', 'other'],
  ['prediction.succeeded', 'other'],
];

describe('Replicate deliveries at the receiver', () => {
  it('[P-REP] has a sample of every documented webhook shape: start, output, logs and completed, of a prediction and of a training', () => {
    expect(Object.keys(PROVIDER_SAMPLES.replicate).sort()).toEqual(SHAPES.map(([type]) => type).sort());
  });

  it.each(SHAPES)('[P-REP] accepts a %s webhook signed with the standardwebhooks library and queues it on %s, about the object id', async (type, route) => {
    const body = sample(type, randomUUID());
    const delivery = signed(body);

    const result = await env.receiver()(deliveryEvent(delivery));

    expect(result.statusCode).toBe(200);
    const messages = (await env.drain(route)).map((message) => JSON.parse(message.Body ?? '{}') as Record<string, unknown>);
    expect(messages).toEqual([expect.objectContaining({ id: delivery.id, provider: 'replicate', type: route, subject: body.id })]);
  });

  it.each(SHAPES)('[P-REP] answers 401 to a %s webhook signed with another secret, and queues nothing', async (type) => {
    const delivery = signed(sample(type, randomUUID()), { secret: `whsec_${randomBytes(32).toString('base64')}` });

    const result = await env.receiver()(deliveryEvent(delivery));

    expect(result.statusCode).toBe(401);
    expect([...(await env.drainAll()).values()].flat()).toEqual([]);
  });

  it('[P-REP] drives a training start → logs → logs → completed through the consumers to a completed job with its model and loss curve', async () => {
    const trainingId = `t${randomUUID().replaceAll('-', '').slice(0, 25)}`;
    const urls = { get: `https://api.replicate.com/v1/trainings/${trainingId}`, cancel: `https://api.replicate.com/v1/trainings/${trainingId}/cancel` };
    const bar = (step: number, loss: string) => `flux_train_replicate:  ${step / 10}%|█  | ${step}/1000 [00:11<18:15,  1.11s/it, lr: 4.0e-04 loss: ${loss}]`;
    const firstLogs = `Running 1000 steps\n${[bar(10, '6.056e-01'), bar(20, '5.812e-01')].join('\r')}`;
    const moreLogs = `${firstLogs}\r${[bar(30, '4.907e-01'), bar(40, '4.113e-01')].join('\r')}`;
    const base = { id: trainingId, model: 'ostris/flux-dev-lora-trainer', version: '26dce37a', input: { steps: 1000 }, error: null, metrics: {}, urls, created_at: '2026-11-01T16:30:00.123456Z' };
    const bodies = [
      { ...base, status: 'starting', logs: '', output: null, started_at: null, completed_at: null },
      { ...base, status: 'processing', logs: firstLogs, output: null, started_at: '2026-11-01T16:30:05Z', completed_at: null },
      { ...base, status: 'processing', logs: moreLogs, output: null, started_at: '2026-11-01T16:30:05Z', completed_at: null },
      {
        ...base,
        status: 'succeeded',
        logs: `${moreLogs}\nSaved to output/flux_train_replicate.safetensors\n`,
        output: { version: 'acme/flux-style:b9a0c4e2f3d1', weights: 'https://replicate.delivery/x/trained_model.tar' },
        metrics: { predict_time: 872.4, total_time: 900.1 },
        started_at: '2026-11-01T16:30:05Z',
        completed_at: '2026-11-01T16:45:00Z',
      },
    ];

    for (const body of bodies) {
      expect((await env.receiver()(deliveryEvent(signed(body)))).statusCode).toBe(200);
      for (const route of ['fine_tune.started', 'fine_tune.completed'] as const) {
        const messages = await env.drain(route);
        if (messages.length === 0) continue;
        const response = await consumerOn(env, route)(sqsEvent(...messages.map((message) => toSqsRecord(message, `arn:aws:sqs:us-east-1:000000000000:${route}`))));
        expect(response.batchItemFailures).toEqual([]);
      }
    }

    const job = await jobItem(env, `replicate#${trainingId}`);
    expect(job).toMatchObject({ kind: 'fine_tune', state: 'completed', model: 'acme/flux-style:b9a0c4e2f3d1' });
    expect(job?.transitions?.map((transition) => transition.state)).toEqual(['started', 'completed']);
    expect(job?.checkpoints?.map(({ step, loss }) => ({ step, loss }))).toEqual([
      { step: 10, loss: 0.6056 },
      { step: 20, loss: 0.5812 },
      { step: 30, loss: 0.4907 },
      { step: 40, loss: 0.4113 },
    ]);
  });
});
