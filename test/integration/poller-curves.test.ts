import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../functions/core/event';
import { normalizeDelivery } from '../../functions/core/normalize';
import { PROVIDERS } from '../../functions/core/providers';
import type { Route } from '../../functions/core/routes';
import type { SignatureSpec } from '../../functions/core/verify';
import { createApiKeyReader, pollerFromConfig, readPollerConfig } from '../../functions/poller/config';
import { batchScript, startFakeTogether, successfulFineTuneScript, type FakeJobStep, type FakeTogether } from '../../local/fake-together';
import { FAKE_METRICS_EVERY_STEPS, fakeLoss } from '../../local/fake-together-state';
import { createPollerTable, queueUrlMap } from '../../local/resources';
import { consumerOn, drainAlerts, jobItem, sqsEvent, sqsRecord } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';

const silent = new Logger({ serviceName: 'test', logLevel: 'SILENT' });

let env: Emulated;
let fake: FakeTogether;
let tableName: string;
let tables = 0;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});
beforeEach(async () => {
  tableName = `together-poller-curves-${++tables}`;
  await createPollerTable(env.clients.dynamodb, tableName);
  await env.drainAll();
  await drainAlerts(env);
  fake = await startFakeTogether();
});
afterEach(async () => {
  await fake.stop();
});

function poller() {
  const config = readPollerConfig({
    TABLE_NAME: env.resources.eventsTable,
    QUEUE_URLS: JSON.stringify(queueUrlMap(env.resources)),
    POLLER_TABLE_NAME: tableName,
    TOGETHER_API_BASE_URL: fake.url,
    TOGETHER_API_KEY: fake.apiKey,
  });
  return pollerFromConfig(config, {
    documents: env.clients.documents,
    sqs: env.clients.sqs,
    apiKey: createApiKeyReader(config.apiKey),
    logger: silent,
    sleep: async () => undefined,
  });
}

/** Polls after every step of every job and batch until all have finished. */
async function pollToTheEnd(run: ReturnType<typeof poller>) {
  const summaries = [await run()];
  while (fake.advance()) summaries.push(await run());
  summaries.push(await run());
  return summaries;
}

/** Hands every queued event to its route's consumer, as the SQS triggers would. */
async function consumeAll(): Promise<Map<Route, NormalizedEvent[]>> {
  const byRoute = new Map<Route, NormalizedEvent[]>();
  for (const [route, messages] of await env.drainAll()) {
    if (messages.length === 0) continue;
    const events = messages.map((message) => JSON.parse(message.Body ?? '{}') as NormalizedEvent);
    byRoute.set(route, events);
    const response = await consumerOn(env, route)(sqsEvent(...events.map((event) => sqsRecord(event))));
    expect(response.batchItemFailures).toEqual([]);
  }
  return byRoute;
}

const cancelledScript: FakeJobStep[] = [
  { status: 'pending', events: [{ type: 'job_pending' }] },
  { status: 'running', events: [{ type: 'job_start' }, { type: 'checkpoint_save', step: 100, checkpoint_path: 's3://together-checkpoints/ft/checkpoint-100' }] },
  { status: 'cancel_requested', events: [{ type: 'cancel_requested' }] },
  { status: 'cancelled', events: [{ type: 'job_stopped' }] },
];

describe('[P-TOG] Together curves and ends, polled from the fake API', () => {
  it("[P-TOG] a polled fine-tune driven to completion ends with its model name and the fake's loss curve in the jobs table", async () => {
    fake.addJob('ft-curve', successfulFineTuneScript({ checkpoints: 3, modelOutputName: 'acme/llama-curve' }));

    await pollToTheEnd(poller());
    await consumeAll();

    const item = await jobItem(env, 'together#ft-curve');
    expect(item).toMatchObject({ kind: 'fine_tune', state: 'completed', model: 'acme/llama-curve' });
    const withLoss = (item?.checkpoints ?? []).filter((point) => point.loss !== undefined);
    expect(withLoss.length).toBeGreaterThanOrEqual(3);
    // Checkpoints at 100, 200 and 300, the final model at 400: a training loss every 10 steps up to it.
    const total = 400;
    expect(withLoss.map((point) => [point.step, point.loss])).toEqual(
      Array.from({ length: total / FAKE_METRICS_EVERY_STEPS }, (_, index) => (index + 1) * FAKE_METRICS_EVERY_STEPS).map((at) => [at, fakeLoss(at, total)]),
    );
    expect(withLoss.every((point, index) => index === 0 || (point.loss as number) < (withLoss[index - 1]?.loss as number))).toBe(true);
    expect(item?.checkpoints?.find((point) => point.step === 200)?.path).toBe('s3://together-checkpoints/ft/checkpoint-200');
  });

  it('[P-TOG] reads checkpoints and metrics once, at the end, and never while the job runs', async () => {
    fake.addJob('ft-once', successfulFineTuneScript({ checkpoints: 2 }));
    const run = poller();
    await run();
    fake.advance();
    await run();
    expect(fake.requestsTo(/\/(checkpoints|metrics)$/)).toEqual([]);

    fake.finish();
    await run();
    await run();

    expect(fake.requestsTo(/\/(checkpoints|metrics)$/).map((request) => request.path)).toEqual(['/fine-tunes/ft-once/checkpoints', '/fine-tunes/ft-once/metrics']);
  });

  it('[P-TOG] a cancelled job and a cancelled or an expired batch end cancelled and expired in the jobs table, with no failure alert', async () => {
    fake.addJob('ft-stop', cancelledScript);
    fake.addBatch('batch-stop', batchScript('batch-stop', 'CANCELLED'));
    fake.addBatch('batch-late', batchScript('batch-late', 'EXPIRED'));

    await pollToTheEnd(poller());
    const byRoute = await consumeAll();

    expect([...byRoute.keys()].sort()).toEqual(['batch.cancelled', 'batch.expired', 'fine_tune.cancelled', 'fine_tune.checkpoint', 'fine_tune.started']);
    expect(await jobItem(env, 'together#ft-stop')).toMatchObject({ kind: 'fine_tune', state: 'cancelled' });
    expect(await jobItem(env, 'together#batch-stop')).toMatchObject({ kind: 'batch', state: 'cancelled' });
    expect(await jobItem(env, 'together#batch-late')).toMatchObject({ kind: 'batch', state: 'expired' });
    expect(await drainAlerts(env)).toEqual([]);
  });

  it('[P-TOG] a cancelled job carries the curve it had reached', async () => {
    fake.addJob('ft-stop-curve', cancelledScript);

    await pollToTheEnd(poller());
    const byRoute = await consumeAll();

    const cancelled = byRoute.get('fine_tune.cancelled')?.[0];
    const points = cancelled?.type === 'fine_tune.cancelled' ? (cancelled.data.checkpoints ?? []) : [];
    expect(points.filter((point) => point.loss !== undefined).map((point) => point.step)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  });

  it.each([
    ['404', 'ft-metrics-404', { status: 404, times: 1 }],
    ['503 on every attempt', 'ft-metrics-503', { status: 503, times: 4 }],
  ])('[P-TOG] a metrics endpoint answering %s keeps the transition: the job completes with the checkpoints alone', async (_name, jobId, fault) => {
    fake.addJob(jobId, successfulFineTuneScript({ checkpoints: 2, modelOutputName: 'acme/llama-nometrics' }));
    const run = poller();
    await run();
    fake.finish();
    fake.inject({ path: `/fine-tunes/${jobId}/metrics`, ...fault });

    const summary = await run();
    const byRoute = await consumeAll();

    expect(summary).toMatchObject({ apiErrors: 0, curvesMissing: fault.status === 404 ? 0 : 1 });
    expect(fake.requestsTo(`/fine-tunes/${jobId}/metrics`).map((request) => request.status)).toEqual(Array.from({ length: fault.times }, () => fault.status));
    const completed = byRoute.get('fine_tune.completed')?.[0];
    expect(completed?.type === 'fine_tune.completed' ? completed.data : undefined).toMatchObject({
      modelName: 'acme/llama-nometrics',
      checkpoints: [
        { step: 100, path: 's3://together-checkpoints/ft/checkpoint-100' },
        { step: 200, path: 's3://together-checkpoints/ft/checkpoint-200' },
        { step: 300, path: 'acme/llama-nometrics' },
      ],
    });
    expect(completed?.type === 'fine_tune.completed' ? completed.data.checkpoints?.some((point) => point.loss !== undefined) : true).toBe(false);
    expect(await jobItem(env, `together#${jobId}`)).toMatchObject({ state: 'completed', model: 'acme/llama-nometrics' });
  });
});

describe('[P-TOG] Together pushes of a cancelled or expired end', () => {
  it.each([
    { type: 'fine_tune.cancelled', data: { fine_tune_id: 'ft-push-stop' }, pk: 'together#ft-push-stop', state: 'cancelled' },
    { type: 'batch.cancelled', data: { batch_id: 'batch-push-stop' }, pk: 'together#batch-push-stop', state: 'cancelled' },
    { type: 'batch.expired', data: { batch_id: 'batch-push-late' }, pk: 'together#batch-push-late', state: 'expired' },
  ] as const)('[P-TOG] a pushed $type lands on its own route and leaves the job $state, with no failure alert', async ({ type, data, pk, state }) => {
    const together = PROVIDERS.together;
    const nowMs = Date.now();
    const event = normalizeDelivery({
      provider: together,
      spec: together.signatureSchemes[together.defaultSignatureScheme] as SignatureSpec,
      body: Buffer.from(JSON.stringify({ id: `evt_${type}`, type, created: Math.floor(nowMs / 1000), data })),
      verified: { headerId: `evt_${type}`, signedAtSeconds: Math.floor(nowMs / 1000) },
      receivedAtMs: nowMs,
      retentionSeconds: 7 * 86_400,
    });

    expect(event.type).toBe(type);
    const response = await consumerOn(env, event.type)(sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect(await jobItem(env, pk)).toMatchObject({ state });
    expect(await drainAlerts(env)).toEqual([]);
  });
});
