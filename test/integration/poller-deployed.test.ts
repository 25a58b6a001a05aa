import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DependencyError } from '../../functions/core/errors';
import type { NormalizedEvent } from '../../functions/core/event';
import { createApiKeyReader, pollerFromConfig, readPollerConfig } from '../../functions/poller/config';
import type { PollerDeps } from '../../functions/poller/poll';
import { createPollerStateStore, stateKey, type PollerState, type PollerStateStore } from '../../functions/poller/state';
import { TogetherApiError, type RetryNotice } from '../../functions/poller/together-api';
import { createPollerTable, queueUrlMap } from '../../local/resources';
import { startEmulated, type Emulated } from '../support/emulated';
import { runningJobState } from '../support/poller';

/**
 * The poller's pieces as deployed: its state store on DynamoDB, the poller built from its
 * configuration with the clients a caller injects (fetch, sleep, clock, logger, onRetry), and the
 * Lambda handler's outcome.
 */

const NOW_MS = Date.parse('2026-11-01T12:00:00Z');
let env: Emulated;
let tables = 0;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});

const STATE_TABLE = 'together-poller-state-fields';
let store: PollerStateStore;

describe('[RULE] the poller state store on DynamoDB', () => {
  beforeAll(async () => {
    await createPollerTable(env.clients.dynamodb, STATE_TABLE);
    store = createPollerStateStore(env.clients.documents, STATE_TABLE);
  });

  it('[RULE] a job state reads back as written, every field kept, and a batch stays a batch', async () => {
    const failing = runningJobState('ft-all', {
      updatedAt: '1793527200',
      lastEventAt: '2026-11-01T10:09:00.000Z',
      emitted: new Set(['started']),
      failures: 2,
      lastError: 'completed: normalized event is over 380000 bytes',
      retryAt: '2026-11-01T16:47:13.000Z',
    });
    const batch: PollerState = { ...runningJobState('b-1', { status: 'IN_PROGRESS' }), pk: stateKey('batch', 'b-1'), kind: 'batch' };
    await store.save(failing);
    await store.save(batch);

    const loaded = await store.load([failing.pk, batch.pk, stateKey('fine_tune', 'ft-never')]);

    expect(loaded).toEqual(new Map([[failing.pk, failing], [batch.pk, batch]]));
  });

  it('[RULE] once its events went through, a job loses its failure fields and keeps the rest', async () => {
    await store.save(runningJobState('ft-fixed', { updatedAt: '2026-11-01T16:00:00Z', emitted: new Set(['started']), failures: 1, lastError: 'started: too large', retryAt: '2026-11-01T16:46:13.000Z' }));

    await store.save(runningJobState('ft-fixed', { lastEventAt: '2026-11-01T16:44:00.000Z', emitted: new Set() }));

    const saved = (await store.load([stateKey('fine_tune', 'ft-fixed')])).get(stateKey('fine_tune', 'ft-fixed'));
    expect(saved).toEqual(runningJobState('ft-fixed', { updatedAt: '2026-11-01T16:00:00Z', lastEventAt: '2026-11-01T16:44:00.000Z', emitted: new Set(['started']) }));
  });

  it('[RULE] the first poll time is kept from the first run, and the unfinished keys follow what was added and removed', async () => {
    const first = await store.firstPolledAt(1_000);
    const later = await store.firstPolledAt(2_000);
    await store.setOpen(stateKey('fine_tune', 'ft-open'), true);
    await store.setOpen(stateKey('batch', 'b-open'), true);
    await store.setOpen(stateKey('fine_tune', 'ft-open'), false);

    expect([first, later]).toEqual([1_000, 1_000]);
    expect(await store.openKeys()).toEqual(new Set([stateKey('batch', 'b-open')]));
  });

  it.each([
    ['load', (missing: PollerStateStore) => missing.load([stateKey('fine_tune', 'ft-1')]), 'could not read poller state from no-such-table'],
    ['save', (missing: PollerStateStore) => missing.save(runningJobState('ft-1', {})), 'could not write poller state to no-such-table'],
    ['firstPolledAt', (missing: PollerStateStore) => missing.firstPolledAt(1_000), 'could not read the first poll time from no-such-table'],
    ['openKeys', (missing: PollerStateStore) => missing.openKeys(), 'could not read the unfinished jobs from no-such-table'],
    ['setOpen', (missing: PollerStateStore) => missing.setOpen(stateKey('fine_tune', 'ft-1'), true), 'could not write the unfinished jobs to no-such-table'],
  ])('[RULE] %s on a missing table fails retryably, naming the table and keeping the cause', async (_, call, message) => {
    const failure = await call(createPollerStateStore(env.clients.documents, 'no-such-table')).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(DependencyError);
    expect(failure).toMatchObject({ message, reason: 'poller_state_unavailable', statusCode: 503 });
    expect((failure as Error).cause).toBeInstanceOf(ResourceNotFoundException);
  });
});

/** Together's API as its reference documents it, answering `first` once on GET /fine-tunes before the list. */
function together(first: Response | undefined) {
  let pending = first;
  return async (input: string | URL | Request): Promise<Response> => {
    const path = new URL(String(input)).pathname.replace('/v1', '');
    if (path === '/fine-tunes' && pending !== undefined) {
      const answer = pending;
      pending = undefined;
      return answer;
    }
    if (path === '/fine-tunes') return Response.json({ data: [{ id: 'ft-cfg', status: 'running', updated_at: '2026-11-01T11:59:00Z' }] });
    if (path === '/fine-tunes/ft-cfg/events') return Response.json({ data: [{ type: 'job_start', created_at: '2026-11-01T11:58:00Z' }] });
    if (path === '/batches') return Response.json([]);
    return Response.json({ error: { message: 'not found' } }, { status: 404 });
  };
}

async function build(first: Response | undefined, env_: Record<string, string> = {}) {
  const tableName = `together-poller-config-${++tables}`;
  await createPollerTable(env.clients.dynamodb, tableName);
  const config = readPollerConfig({
    TABLE_NAME: env.resources.eventsTable,
    QUEUE_URLS: JSON.stringify(queueUrlMap(env.resources)),
    POLLER_TABLE_NAME: tableName,
    TOGETHER_API_BASE_URL: 'https://api.together.example/v1',
    TOGETHER_API_KEY: 'key',
    ...env_,
  });
  const sleeps: number[] = [];
  const notices: RetryNotice[] = [];
  const logged: string[] = [];
  const logger = { info: (message: string) => void logged.push(message), warn: (message: string) => void logged.push(message), debug: () => undefined };
  const poll = pollerFromConfig(config, {
    documents: env.clients.documents,
    sqs: env.clients.sqs,
    apiKey: createApiKeyReader(config.apiKey),
    clock: () => NOW_MS,
    fetch: together(first) as typeof fetch,
    sleep: async (ms) => void sleeps.push(ms),
    onRetry: (notice) => void notices.push(notice),
    logger: logger as unknown as NonNullable<PollerDeps['logger']>,
  });
  return { poll, sleeps, notices, logged };
}

describe('[RULE] a poller built from its configuration', () => {
  it('[RULE] reads Together through the injected fetch, retries a 503 through the injected sleep and onRetry, and dates the event by the injected clock', async () => {
    await env.drainAll();
    const { poll, sleeps, notices, logged } = await build(new Response('busy', { status: 503 }));

    const summary = await poll();

    expect(summary).toMatchObject({ accepted: 1, processed: 1 });
    expect(notices.map(({ path, attempt, cause }) => [path, attempt, cause])).toEqual([['/fine-tunes', 1, 'http 503']]);
    expect(sleeps).toEqual([notices[0]?.delayMs]);
    expect(logged).toContain('event accepted');
    const queued = [...(await env.drainAll()).values()].flat().map((message) => JSON.parse(message.Body ?? '{}') as NormalizedEvent);
    expect(queued.map((event) => [event.id, event.receivedAt])).toEqual([['poll:ft:ft-cfg:started', new Date(NOW_MS).toISOString()]]);
  });

  it("[RULE] a Retry-After longer than what is left of the run's time budget is not waited for: the run fails, to be retried by the next", async () => {
    const { poll, sleeps } = await build(new Response('slow down', { status: 429, headers: { 'retry-after': '5' } }), { POLL_TIME_BUDGET_SECONDS: '2' });

    const failure = await poll().catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TogetherApiError);
    expect(failure).toMatchObject({ reason: 'together_rate_limited', statusCode: 503 });
    expect((failure as Error).message).toMatch(/the next attempt would start after this run's time budget; the next poll retries/);
    expect(sleeps).toEqual([]);
  });
});

describe('[RULE] the outcome of a poller Lambda invocation', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
    vi.resetModules();
  });

  /** Imports the handler with the Lambda's environment, Together answered by `answer`; returns what it printed. */
  async function invoke(answer: (path: string) => Response, pollerTable: string) {
    const variables: Record<string, string> = {
      TABLE_NAME: env.resources.eventsTable,
      QUEUE_URLS: JSON.stringify(queueUrlMap(env.resources)),
      POLLER_TABLE_NAME: pollerTable,
      TOGETHER_API_BASE_URL: 'https://api.together.example/v1',
      TOGETHER_API_KEY: 'key',
      AWS_ENDPOINT_URL_DYNAMODB: env.emulators.dynamodbEndpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      POWERTOOLS_METRICS_DISABLED: 'false',
      POWERTOOLS_DEV: 'true',
      // The suite silences Powertools' logs; deployed, the poller logs at INFO.
      POWERTOOLS_LOG_LEVEL: 'INFO',
    };
    for (const [name, value] of Object.entries(variables)) vi.stubEnv(name, value);
    vi.stubGlobal('fetch', async (input: string | URL | Request) => answer(new URL(String(input)).pathname.replace('/v1', '')));
    const printed: Record<string, unknown>[] = [];
    for (const stream of ['log', 'info', 'warn', 'error'] as const) {
      vi.spyOn(console, stream).mockImplementation((line: unknown) => {
        try {
          printed.push(JSON.parse(String(line)) as Record<string, unknown>);
        } catch {
          printed.push({ text: String(line) });
        }
      });
    }
    const { handler } = await import('../../functions/poller/handler');
    const outcome = await handler({ source: 'aws.scheduler' }, { functionName: 'together-poller', awsRequestId: 'req-1' } as Context).catch((error: unknown) => error);
    return { outcome, metrics: printed.find((line) => '_aws' in line), logs: printed.filter((line) => !('_aws' in line)) };
  }

  it('[RULE] a run that went through logs its summary', async () => {
    const pollerTable = `together-poller-config-${++tables}`;
    await createPollerTable(env.clients.dynamodb, pollerTable);

    const { outcome, logs } = await invoke((path) => Response.json(path === '/batches' ? [] : { data: [] }), pollerTable);

    expect(outcome).toMatchObject({ processed: 0, failing: 0 });
    expect(logs.find((line) => line.message === 'poll finished')).toMatchObject({ processed: 0, accepted: 0, failing: 0 });
  });

  it.each([
    ['the key is rejected (401)', 401, 'TogetherAuthError'],
    ['Together refuses the request (400)', 400, 'TogetherApiError'],
  ])('[RULE] when %s the invocation fails, counted in ApiErrors and logged', async (_, status, name) => {
    const { outcome, metrics, logs } = await invoke(() => Response.json({ error: { message: 'no' } }, { status }), 'never-read');

    expect((outcome as Error).name).toBe(name);
    expect(metrics).toMatchObject({ ApiErrors: 1 });
    expect(logs.find((line) => line.message === 'poll failed')).toBeDefined();
  });

  it('[RULE] a run failed by its state table, not by Together, fails the invocation without counting an API error', async () => {
    const { outcome, metrics, logs } = await invoke((path) => Response.json(path === '/batches' ? [] : { data: [] }), 'no-such-poller-table');

    expect(outcome).toMatchObject({ reason: 'poller_state_unavailable' });
    expect(metrics?.ApiErrors).toBeUndefined();
    expect(logs.find((line) => line.message === 'poll failed')).toBeDefined();
  });
});
