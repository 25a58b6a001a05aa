import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { SendMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DependencyError } from '../../functions/core/errors';
import type { NormalizedEvent } from '../../functions/core/event';
import { ROUTES, type Route } from '../../functions/core/routes';
import { createApiKeyReader, pollerFromConfig, readPollerConfig, type PollerClients, type PollerConfig } from '../../functions/poller/config';
import type { PollSummary } from '../../functions/poller/poll';
import { TogetherAuthError } from '../../functions/poller/together-api';
import { batchScript, failedFineTuneScript, startFakeTogether, successfulFineTuneScript, type FakeTogether } from '../../local/fake-together';
import { startLocalPoller } from '../../local/poller';
import { createPollerTable, queueUrlMap } from '../../local/resources';
import { consumerOn, jobItem, sqsEvent, sqsRecord } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';

const POLLER_TABLE_NAME = 'together-poller';
const silent = new Logger({ serviceName: 'test', logLevel: 'SILENT' });

let env: Emulated;
let fake: FakeTogether;
beforeAll(async () => {
  env = await startEmulated();
  await createPollerTable(env.clients.dynamodb, POLLER_TABLE_NAME);
});
afterAll(async () => {
  await env?.stop();
});
beforeEach(async () => {
  await env.drainAll();
  fake = await startFakeTogether();
});
afterEach(async () => {
  await fake.stop();
});

function pollerConfig(): PollerConfig {
  return readPollerConfig({
    TABLE_NAME: env.resources.eventsTable,
    QUEUE_URLS: JSON.stringify(queueUrlMap(env.resources)),
    POLLER_TABLE_NAME,
    TOGETHER_API_BASE_URL: fake.url,
    TOGETHER_API_KEY: fake.apiKey,
  });
}

/** One poll run on the emulators and the fake, with backoff waits recorded instead of slept. */
function poller(overrides: Partial<PollerClients> = {}, config: PollerConfig = pollerConfig()) {
  const sleeps: number[] = [];
  const run = pollerFromConfig(config, {
    documents: env.clients.documents,
    sqs: env.clients.sqs,
    apiKey: createApiKeyReader(config.apiKey),
    logger: silent,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  return Object.assign(run, { sleeps });
}

/** Every message now on the route queues, as normalized events by route. */
async function queued(): Promise<Map<Route, NormalizedEvent[]>> {
  const drained = await env.drainAll();
  return new Map([...drained].map(([route, messages]: [Route, Message[]]) => [route, messages.map((m) => JSON.parse(m.Body ?? '{}') as NormalizedEvent)]));
}

function counts(byRoute: Map<Route, NormalizedEvent[]>): Partial<Record<Route, number>> {
  return Object.fromEntries(ROUTES.flatMap((route) => ((byRoute.get(route)?.length ?? 0) > 0 ? [[route, byRoute.get(route)?.length]] : [])));
}

function allIds(byRoute: Map<Route, NormalizedEvent[]>): string[] {
  return [...byRoute.values()].flat().map((event) => event.id);
}

/** An SQS client that sends `allowed` events, then fails (or hangs) as if the process died there. */
function dyingSqs(allowed: number, mode: 'throw' | 'hang'): SQSClient {
  let sent = 0;
  return {
    send: async (command: unknown) => {
      if (command instanceof SendMessageCommand) {
        sent += 1;
        if (sent > allowed) {
          if (mode === 'hang') return new Promise(() => undefined);
          throw new Error('process killed');
        }
      }
      return env.clients.sqs.send(command as SendMessageCommand);
    },
  } as unknown as SQSClient;
}

describe('Together poller on the emulators', () => {
  it('turns a job going pending → running → checkpoints → completed into started, one checkpoint each and completed, once each', async () => {
    fake.addJob('ft-life', successfulFineTuneScript({ checkpoints: 2, modelOutputName: 'acme/llama-life' }));
    const run = poller();

    do {
      await run();
    } while (fake.advance());
    await run();

    const byRoute = await queued();
    expect(counts(byRoute)).toEqual({ 'fine_tune.started': 1, 'fine_tune.checkpoint': 2, 'fine_tune.completed': 1 });
    expect(byRoute.get('fine_tune.checkpoint')?.map((event) => [event.subject, event.data])).toEqual([
      ['ft-life', expect.objectContaining({ jobId: 'ft-life', step: 100, checkpointPath: 's3://together-checkpoints/ft/checkpoint-100' })],
      ['ft-life', expect.objectContaining({ jobId: 'ft-life', step: 200 })],
    ]);
    expect(byRoute.get('fine_tune.completed')?.[0]).toMatchObject({
      id: 'poll:ft:ft-life:completed',
      provider: 'together',
      subject: 'ft-life',
      schemaVersion: 2,
      data: { jobId: 'ft-life', modelName: 'acme/llama-life' },
    });
  });

  it('accepts each event once when two pollers run at the same time at every step', async () => {
    fake.addJob('ft-race', successfulFineTuneScript({ checkpoints: 3 }));
    fake.addBatch('batch-race', batchScript('batch-race', 'COMPLETED'));
    const [first, second] = [poller(), poller()];

    do {
      await Promise.all([first(), second()]);
    } while (fake.advance());
    // A job one poller found contended is picked up again by the next runs.
    await Promise.all([first(), second()]);
    await first();

    const byRoute = await queued();
    expect(counts(byRoute)).toEqual({ 'fine_tune.started': 1, 'fine_tune.checkpoint': 3, 'fine_tune.completed': 1, 'batch.completed': 1 });
    expect(new Set(allIds(byRoute)).size).toBe(6);
  });

  it('loses nothing and repeats nothing when a run dies after some of its accepts', async () => {
    fake.addJob('ft-crash', successfulFineTuneScript({ checkpoints: 2 }));
    fake.addBatch('batch-crash', batchScript('batch-crash', 'FAILED'));
    fake.finish();

    const dead = await poller({ sqs: dyingSqs(2, 'throw') })().catch((error: unknown) => error);
    const after = await poller()();

    expect(dead).toBeInstanceOf(DependencyError);
    expect(after.duplicate).toBeGreaterThan(0);
    const byRoute = await queued();
    expect(counts(byRoute)).toEqual({ 'fine_tune.started': 1, 'fine_tune.checkpoint': 2, 'fine_tune.completed': 1, 'batch.failed': 1 });
  });

  it('takes over an event a killed run left in progress once its lease has expired', async () => {
    fake.addJob('ft-killed', successfulFineTuneScript({ checkpoints: 2 }));
    fake.finish();
    const config = pollerConfig();

    // The first run is abandoned while sending its second event, as a SIGKILL would leave it.
    void poller({ sqs: dyingSqs(1, 'hang') }, config)();
    // Stuck for good: the first event is queued and the second holds its lease while its send hangs.
    await until(async () => {
      const statuses = (await env.records()).filter((record) => record.subject === 'ft-killed').map((record) => record.status);
      return statuses.includes('queued') && statuses.includes('in_progress');
    });
    const blocked = await poller({}, config)();
    const later = await poller({ clock: () => Date.now() + (config.leaseSeconds + 1) * 1000 }, config)();

    expect(blocked.contended).toBe(1);
    expect(later.accepted).toBe(3);
    const byRoute = await queued();
    expect(counts(byRoute)).toEqual({ 'fine_tune.started': 1, 'fine_tune.checkpoint': 2, 'fine_tune.completed': 1 });
  });

  it('loses nothing and repeats nothing after a real process running the poller is SIGKILLed mid-accept', async () => {
    fake.addJob('ft-sigkill', successfulFineTuneScript({ checkpoints: 2 }));
    fake.finish();
    const config = pollerConfig();

    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./poller-child.ts', import.meta.url))], {
      env: {
        ...process.env,
        TABLE_NAME: config.tableName,
        QUEUE_URLS: JSON.stringify(config.queueUrls),
        POLLER_TABLE_NAME: config.pollerTableName,
        TOGETHER_API_BASE_URL: fake.url,
        TOGETHER_API_KEY: fake.apiKey,
        DYNAMODB_ENDPOINT: env.emulators.dynamodbEndpoint,
        SQS_ENDPOINT: env.emulators.sqsEndpoint,
        KILL_BEFORE_SEND: '3',
      },
      stdio: 'ignore',
    });
    const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    const statuses = (await env.records()).filter((record) => record.subject === 'ft-sigkill').map((record) => record.status).sort();
    const after = await poller({ clock: () => Date.now() + (config.leaseSeconds + 1) * 1000 }, config)();

    expect(signal).toBe('SIGKILL');
    expect(statuses).toEqual(['in_progress', 'queued', 'queued']);
    expect(after).toMatchObject({ accepted: 2, duplicate: 2 });
    const byRoute = await queued();
    expect(counts(byRoute)).toEqual({ 'fine_tune.started': 1, 'fine_tune.checkpoint': 2, 'fine_tune.completed': 1 });
  });

  it('turns a failed job into fine_tune.failed with the message of its job_error event', async () => {
    fake.addJob('ft-oom', failedFineTuneScript('CUDA out of memory at step 120'));
    fake.finish();

    await poller()();

    const byRoute = await queued();
    expect(counts(byRoute)).toEqual({ 'fine_tune.started': 1, 'fine_tune.failed': 1 });
    expect(byRoute.get('fine_tune.failed')?.[0]).toMatchObject({
      subject: 'ft-oom',
      data: { jobId: 'ft-oom', errorMessage: 'CUDA out of memory at step 120' },
      providerData: { fine_tune_id: 'ft-oom', status: 'error', error_message: 'CUDA out of memory at step 120' },
    });
  });

  it('[P-TOG] announces batches that complete, fail and expire, each on its own route', async () => {
    fake.addBatch('batch-ok', batchScript('batch-ok', 'COMPLETED'));
    fake.addBatch('batch-bad', batchScript('batch-bad', 'FAILED'));
    fake.addBatch('batch-late', batchScript('batch-late', 'EXPIRED'));
    const run = poller();

    do {
      await run();
    } while (fake.advance());
    await run();

    const byRoute = await queued();
    expect(counts(byRoute)).toEqual({ 'batch.completed': 1, 'batch.failed': 1, 'batch.expired': 1 });
    expect(byRoute.get('batch.completed')?.[0]).toMatchObject({
      subject: 'batch-ok',
      data: { batchId: 'batch-ok', outputFileId: 'file-out-batch-ok', errorFileId: 'file-err-batch-ok' },
    });
    expect(byRoute.get('batch.failed')?.map((event) => [event.subject, (event.providerData as { status: string }).status])).toEqual([['batch-bad', 'FAILED']]);
    expect(byRoute.get('batch.expired')?.map((event) => [event.subject, (event.providerData as { status: string }).status])).toEqual([['batch-late', 'EXPIRED']]);
  });

  it('no longer reads the events of jobs it has seen finish', async () => {
    fake.addJob('ft-done', successfulFineTuneScript({ checkpoints: 1 }));
    fake.addJob('ft-busy', successfulFineTuneScript({ checkpoints: 1 }));
    fake.finish('ft-done');
    const run = poller();
    await run();
    fake.requests.length = 0;

    const summary = await run();

    expect(summary.skippedTerminal).toBe(1);
    expect(fake.requests.map((request) => request.path).sort()).toEqual(['/batches', '/fine-tunes', '/fine-tunes/ft-busy/events']);
  });

  it('waits out a 429 with Retry-After and finishes the run', async () => {
    fake.addJob('ft-429', failedFineTuneScript());
    fake.finish();
    fake.inject({ path: '/fine-tunes', status: 429, retryAfter: '3' });
    const run = poller();

    const summary = await run();

    expect(run.sleeps).toEqual([3_000]);
    expect(fake.requestsTo('/fine-tunes').map((request) => request.status)).toEqual([429, 200]);
    expect(summary.accepted).toBe(2);
  });

  it('retries a 500 and a request that hangs past its timeout, and finishes the run', async () => {
    fake.addJob('ft-flaky', failedFineTuneScript());
    fake.finish();
    fake.inject({ path: '/fine-tunes/ft-flaky/events', status: 500 });
    fake.inject({ path: '/fine-tunes/ft-flaky/events', hang: true });
    const base = pollerConfig();
    const run = poller({}, { ...base, retry: { ...base.retry, requestTimeoutMs: 300 } });

    const summary = await run();

    expect(fake.requestsTo('/fine-tunes/ft-flaky/events').map((request) => request.status)).toEqual([500, undefined, 200]);
    expect(run.sleeps).toHaveLength(2);
    expect(summary).toMatchObject({ accepted: 2, apiErrors: 0 });
  });

  it('counts a job whose events stay unreadable and announces it on a later run', async () => {
    fake.addJob('ft-down', failedFineTuneScript());
    fake.finish();
    fake.inject({ path: '/fine-tunes/ft-down/events', status: 503, times: 4 });
    const run = poller();

    const first = await run();
    const second = await run();

    expect(first).toMatchObject({ apiErrors: 1, accepted: 0 });
    expect(second.accepted).toBe(2);
    expect(counts(await queued())).toEqual({ 'fine_tune.started': 1, 'fine_tune.failed': 1 });
  });

  it('fails the run on a rejected key without retrying or accepting anything', async () => {
    fake.addJob('ft-key', failedFineTuneScript());
    fake.finish();
    const run = poller({ apiKey: async () => 'not-the-key' });

    const failure = await run().catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TogetherAuthError);
    expect(run.sleeps).toEqual([]);
    expect(fake.requests.every((request) => request.status === 401)).toBe(true);
    expect(counts(await queued())).toEqual({});
  });
});

/** Waits for a condition the test cannot await directly (a background run reaching a point). */
async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let round = 0; round < 200; round += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition never became true');
}

describe('Together poller feeding the consumers', () => {
  it('leaves the jobs projection in the state Together reports for each job and batch', async () => {
    fake.addJob('ft-proj', successfulFineTuneScript({ checkpoints: 2, modelOutputName: 'acme/llama-proj' }));
    fake.addJob('ft-proj-oom', failedFineTuneScript('CUDA out of memory at step 120'));
    fake.addBatch('batch-proj', batchScript('batch-proj', 'COMPLETED'));
    fake.addBatch('batch-proj-late', batchScript('batch-proj-late', 'EXPIRED'));
    const run = poller();
    do {
      await run();
    } while (fake.advance());
    await run();

    for (const [route, events] of await queued()) {
      if (events.length === 0) continue;
      const response = await consumerOn(env, route)(sqsEvent(...events.map((event) => sqsRecord(event))));
      expect(response.batchItemFailures).toEqual([]);
    }

    // Checkpoints at 100 and 200; the final model, read from the job's checkpoints, at 300.
    expect(await jobItem(env, 'together#ft-proj')).toMatchObject({ kind: 'fine_tune', state: 'completed', step: 300, model: 'acme/llama-proj' });
    expect(await jobItem(env, 'together#ft-proj-oom')).toMatchObject({ kind: 'fine_tune', state: 'failed', error: 'CUDA out of memory at step 120' });
    expect(await jobItem(env, 'together#batch-proj')).toMatchObject({ kind: 'batch', state: 'completed', output: 'file-out-batch-proj' });
    expect(await jobItem(env, 'together#batch-proj-late')).toMatchObject({ kind: 'batch', state: 'expired' });
  });
});

describe('local poller', () => {
  it('polls at once on start, and stop() waits for the run in progress', async () => {
    fake.addJob('ft-local', failedFineTuneScript());
    fake.finish();
    const runs: { summary?: PollSummary; error?: unknown }[] = [];
    let firstRun!: () => void;
    const ran = new Promise<void>((resolve) => (firstRun = resolve));

    const local = startLocalPoller({
      documents: env.clients.documents,
      sqs: env.clients.sqs,
      config: pollerConfig(),
      intervalSeconds: 3_600,
      logger: silent,
      onRun: (outcome) => {
        runs.push(outcome);
        firstRun();
      },
    });
    await ran;
    await local.stop();

    expect(runs).toHaveLength(1);
    expect(runs[0]?.summary?.accepted).toBe(2);
    expect(counts(await queued())).toEqual({ 'fine_tune.started': 1, 'fine_tune.failed': 1 });
  });
});
