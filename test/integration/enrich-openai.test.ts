import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import { openAiEnricherFromEnv } from '../../functions/consumers/enrich/openai';
import type { Enricher } from '../../functions/consumers/routes';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeOpenAi, startFakeOpenAi, type FakeOpenAi } from '../../local/fake-openai';
import { localConsumerFunctions } from '../../local/runtime';
import { acceptedRecord, consumerOn, drainAlerts, silentLogger, eventRecord, jobItem, normalizedEvent, sqsEvent, sqsRecord } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';

let env: Emulated;
let fake: FakeOpenAi;
beforeAll(async () => {
  env = await startEmulated();
  fake = await startFakeOpenAi();
});
afterAll(async () => {
  await fake?.stop();
  await env?.stop();
});
afterEach(async () => {
  fake.clearFaults();
  await drainAlerts(env);
});

const noWait = async () => undefined;

/** The enricher as a consumer deploys it, against the fake; retries do not wait, a hung read gives up after 300 ms. */
function enricher(vars: Record<string, string> = { OPENAI_API_KEY: fake.apiKey }): Enricher {
  return openAiEnricherFromEnv({ OPENAI_API_BASE_URL: fake.url, ...vars }, { sleep: noWait, retry: { requestTimeoutMs: 300 } });
}

/** A thin OpenAI event as the receiver queues it: only the object's id in `data`. */
function openAiEvent<R extends Route>(type: R, providerType: string, subject: string): RouteEvent<R> {
  const data = type.startsWith('batch.') ? { batchId: subject } : { jobId: subject };
  return normalizedEvent({ type, provider: 'openai', providerType, subject, data, providerData: { id: subject } } as never) as RouteEvent<R>;
}

async function deliver<R extends Route>(route: R, event: RouteEvent<R>, enrich: Enricher, receiveCount = 1) {
  return consumerOn(env, route, { enrich })(sqsEvent(sqsRecord(event, receiveCount)));
}

describe('[P-OAI] OpenAI events completed from the OpenAI API in the consumer', () => {
  it('[P-OAI] a fine_tuning.job.succeeded ends with the model name and a loss curve from the metrics in the jobs table', async () => {
    const { job } = fake.createJob({ outcome: 'succeeded', steps: 12, checkpointEvery: 4 });
    const event = openAiEvent('fine_tune.completed', 'fine_tuning.job.succeeded', job.id);

    const response = await deliver('fine_tune.completed', event, enricher());

    expect(response.batchItemFailures).toEqual([]);
    const item = await jobItem(env, `openai#${job.id}`);
    expect(item?.state).toBe('completed');
    expect(item?.model).toBe(job.fine_tuned_model);
    const curve = (item?.checkpoints ?? []) as { step: number; loss?: number; path?: string }[];
    expect(curve.length).toBeGreaterThanOrEqual(3);
    expect(curve.map((point) => point.step)).toEqual(Array.from({ length: 12 }, (_, index) => index + 1));
    expect(curve[0]?.loss).toBeGreaterThan(curve.at(-1)?.loss ?? Infinity);
    expect(curve.find((point) => point.step === 4)?.path).toBe(`${job.fine_tuned_model}:ckpt-step-4`);
    expect((await eventRecord(env, `openai#${event.id}`))?.status).toBe('handled');
  });

  it('[P-OAI] a fine_tuning.job.failed alerts once with the error from the API', async () => {
    const { job } = fake.createJob({ outcome: 'failed', steps: 5 });
    const event = openAiEvent('fine_tune.failed', 'fine_tuning.job.failed', job.id);

    await deliver('fine_tune.failed', event, enricher());
    await deliver('fine_tune.failed', event, enricher(), 2);

    const alerts = await drainAlerts(env);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toContain('invalid line');
    expect((await jobItem(env, `openai#${job.id}`))?.error).toContain('Training failed at step 5');
  });

  it('[P-OAI] a batch.completed gets its file ids and request counts', async () => {
    const batch = fake.createBatch({ outcome: 'completed', requests: 6, failedRequests: 2 });
    const event = openAiEvent('batch.completed', 'batch.completed', batch.id);
    let seen: RouteEvent<'batch.completed'> | undefined;
    const enrich = enricher();
    const spy: Enricher = async (incoming, context) => {
      const out = await enrich(incoming, context);
      seen = out as unknown as RouteEvent<'batch.completed'>;
      return out;
    };

    await deliver('batch.completed', event, spy);

    expect(seen?.data).toMatchObject({
      batchId: batch.id,
      outputFileId: `file-out-${batch.id}`,
      errorFileId: `file-err-${batch.id}`,
      requestCounts: { total: 6, completed: 4, failed: 2 },
    });
    expect((await jobItem(env, `openai#${batch.id}`))?.output).toBe(`file-out-${batch.id}`);
    expect((await eventRecord(env, `openai#${event.id}`))?.status).toBe('handled');
  });

  it('[P-OAI] another provider\'s event passes through without a request', async () => {
    const before = fake.requests.length;
    const event = normalizedEvent({ subject: 'ft-together-1', data: { jobId: 'ft-together-1', modelName: 'acme/model' } });

    await deliver('fine_tune.completed', event, enricher());

    expect(fake.requests.length).toBe(before);
    expect((await jobItem(env, 'together#ft-together-1'))?.model).toBe('acme/model');
  });
});

describe('[P-OAI] when the OpenAI API fails', () => {
  /**
   * The failed event of a failed job (made here unless `jobId` names one): its first delivery goes
   * through `enrichFirst`, then it is delivered again with no fault left.
   */
  async function failThenRecover(enrichFirst: Enricher, jobId = fake.createJob({ outcome: 'failed', steps: 4 }).job.id) {
    const event = openAiEvent('fine_tune.failed', 'fine_tuning.job.failed', jobId);
    const first = await deliver('fine_tune.failed', event, enrichFirst);
    const failed = await eventRecord(env, `openai#${event.id}`);
    const projected = await jobItem(env, `openai#${jobId}`);
    const alertsAfterFirst = await drainAlerts(env);
    fake.clearFaults();
    const second = await deliver('fine_tune.failed', event, enricher(), 2);
    return { jobId, event, first, failed, projected, alertsAfterFirst, second };
  }

  async function expectRecovered(outcome: Awaited<ReturnType<typeof failThenRecover>>) {
    expect(outcome.first.batchItemFailures).toHaveLength(1);
    expect(outcome.failed?.status).toBe('failed');
    expect(outcome.projected).toBeUndefined();
    expect(outcome.alertsAfterFirst).toEqual([]);
    expect(outcome.second.batchItemFailures).toEqual([]);
    expect((await eventRecord(env, `openai#${outcome.event.id}`))?.status).toBe('handled');
    expect((await jobItem(env, `openai#${outcome.jobId}`))?.error).toContain('Training failed');
    expect(await drainAlerts(env)).toHaveLength(1);
  }

  it('[P-OAI] a missing key fails the attempt with a reason naming the variable, and nothing runs', async () => {
    const outcome = await failThenRecover(enricher({}));
    expect(outcome.failed?.lastError).toContain('OPENAI_API_KEY_SECRET_ARN is not set');
    await expectRecovered(outcome);
  });

  it('[P-OAI] an invalid key (401) fails the attempt at once with a reason naming the variable', async () => {
    const before = fake.requests.length;
    const outcome = await failThenRecover(enricher({ OPENAI_API_KEY: 'sk-wrong' }));
    expect(outcome.failed?.lastError).toContain('OPENAI_API_KEY was rejected by the OpenAI API (HTTP 401');
    expect(fake.requests.slice(before).filter((request) => request.status === 401)).toHaveLength(1);
    await expectRecovered(outcome);
  });

  it('[P-OAI] a 404 is noted on the event record and the event is handled with the payload\'s data, once', async () => {
    const event = openAiEvent('fine_tune.failed', 'fine_tuning.job.failed', 'ftjob-unknown-1');

    const response = await deliver('fine_tune.failed', event, enricher());
    await deliver('fine_tune.failed', event, enricher(), 2);

    expect(response.batchItemFailures).toEqual([]);
    const record = await eventRecord(env, `openai#${event.id}`);
    expect(record?.status).toBe('handled');
    expect((record as { note?: string } | undefined)?.note).toBe("openai: GET /fine_tuning/jobs/ftjob-unknown-1 answered 404; handled with the payload's data");
    expect((await jobItem(env, 'openai#ftjob-unknown-1'))?.state).toBe('failed');
    expect(await drainAlerts(env)).toHaveLength(1);
  });

  it('[P-OAI] a 429 with a short Retry-After is waited out within the attempt', async () => {
    const { job } = fake.createJob({ outcome: 'succeeded', steps: 3 });
    fake.inject({ path: `/fine_tuning/jobs/${job.id}`, status: 429, retryAfter: '1' });
    const event = openAiEvent('fine_tune.completed', 'fine_tuning.job.succeeded', job.id);

    const response = await deliver('fine_tune.completed', event, enricher());

    expect(response.batchItemFailures).toEqual([]);
    expect(fake.requestsTo(`/fine_tuning/jobs/${job.id}`).map((request) => request.status)).toEqual([429, 200]);
    expect((await eventRecord(env, `openai#${event.id}`))?.status).toBe('handled');
    expect((await jobItem(env, `openai#${job.id}`))?.model).toBe(job.fine_tuned_model);
  });

  it('[P-OAI] a 429 whose Retry-After is longer than the time left fails the attempt; the next delivery handles it', async () => {
    const { job } = fake.createJob({ outcome: 'failed', steps: 4, id: 'ftjob-retry-after' });
    fake.inject({ path: `/fine_tuning/jobs/${job.id}`, status: 429, retryAfter: '120' });
    const outcome = await failThenRecover(enricher(), job.id);
    expect(outcome.failed?.lastError).toContain('asked to wait 120 s (Retry-After)');
    await expectRecovered(outcome);
  });

  it('[P-OAI] a 5xx on every attempt fails the attempt retryably; the next delivery handles it', async () => {
    const { job } = fake.createJob({ outcome: 'failed', steps: 4, id: 'ftjob-5xx' });
    fake.inject({ path: `/fine_tuning/jobs/${job.id}`, status: 503, times: 4 });
    const outcome = await failThenRecover(enricher(), job.id);
    expect(outcome.failed?.lastError).toContain('failed 4 times (last: http 503)');
    await expectRecovered(outcome);
  });

  it('[P-OAI] a slow answer on every attempt times out and fails the attempt retryably; the next delivery handles it', async () => {
    const { job } = fake.createJob({ outcome: 'failed', steps: 4, id: 'ftjob-slow' });
    fake.inject({ path: `/fine_tuning/jobs/${job.id}/events`, hang: true, times: 4 });
    const outcome = await failThenRecover(enricher(), job.id);
    expect(outcome.failed?.lastError).toContain('(last: timeout)');
    await expectRecovered(outcome);
  });

  it('[P-OAI] one slow answer is retried within the attempt', async () => {
    const { job } = fake.createJob({ outcome: 'succeeded', steps: 3 });
    fake.inject({ path: `/fine_tuning/jobs/${job.id}/checkpoints`, hang: true });
    const event = openAiEvent('fine_tune.completed', 'fine_tuning.job.succeeded', job.id);

    const response = await deliver('fine_tune.completed', event, enricher());

    expect(response.batchItemFailures).toEqual([]);
    expect((await eventRecord(env, `openai#${event.id}`))?.status).toBe('handled');
    expect(((await jobItem(env, `openai#${job.id}`))?.checkpoints ?? []).length).toBe(3);
  });
});

describe('[P-OAI] OpenAI enrichment in the local runtime', () => {
  it('[P-OAI] with OPENAI_API_KEY set, the local consumers complete OpenAI events from OPENAI_API_BASE_URL', async () => {
    const { job } = fake.createJob({ outcome: 'succeeded', steps: 4 });
    const event = openAiEvent('fine_tune.completed', 'fine_tuning.job.succeeded', job.id);
    const consumers = localConsumerFunctions({ OPENAI_API_KEY: fake.apiKey, OPENAI_API_BASE_URL: fake.url }, env.resources, env.clients, silentLogger(), { eventBus: false });
    await acceptedRecord(env, event);

    const response = await consumers['fine_tune.completed'](sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect((await jobItem(env, `openai#${job.id}`))?.model).toBe(job.fine_tuned_model);
  });

  it('[P-OAI] without OPENAI_API_KEY they handle OpenAI events with the id alone and call nothing', async () => {
    const { job } = fake.createJob({ outcome: 'succeeded', steps: 4 });
    const event = openAiEvent('fine_tune.completed', 'fine_tuning.job.succeeded', job.id);
    const consumers = localConsumerFunctions({ OPENAI_API_BASE_URL: fake.url }, env.resources, env.clients, silentLogger(), { eventBus: false });
    await acceptedRecord(env, event);

    const response = await consumers['fine_tune.completed'](sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect(fake.requestsTo(`/fine_tuning/jobs/${job.id}`)).toEqual([]);
    expect((await jobItem(env, `openai#${job.id}`))?.model).toBeUndefined();
  });
});

describe('[P-OAI] the fake OpenAI API', () => {
  it('[P-OAI] answers under a path prefix of a server of fake providers, pages its lists, and refuses a wrong key as OpenAI does', async () => {
    const mounted = createFakeOpenAi();
    const { job } = mounted.createJob({ outcome: 'succeeded', steps: 30 });
    const server = createServer((request, response) => {
      const url = request.url ?? '/';
      if (url.startsWith('/openai/')) return mounted.handle(request, response, url.slice('/openai'.length));
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/openai/v1`;
    try {
      const auth = { authorization: `Bearer ${mounted.apiKey}` };
      const first = (await (await fetch(`${base}/fine_tuning/jobs/${job.id}/events?limit=10`, { headers: auth })).json()) as { data: { id: string }[]; has_more: boolean };
      const next = (await (await fetch(`${base}/fine_tuning/jobs/${job.id}/events?limit=10&after=${first.data.at(-1)?.id}`, { headers: auth })).json()) as { data: { id: string }[] };
      const refused = await fetch(`${base}/batches/batch_x`, { headers: { authorization: 'Bearer sk-wrong' } });

      expect(first.data).toHaveLength(10);
      expect(first.has_more).toBe(true);
      expect(next.data[0]?.id).not.toBe(first.data[0]?.id);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
