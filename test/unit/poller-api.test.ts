import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  TogetherApiError,
  TogetherAuthError,
  backoffDelayMs,
  createTogetherApi,
  parseRetryAfterMs,
  type RetryPolicy,
  type TogetherApiOptions,
} from '../../functions/poller/together-api';
import { startFakeTogether, successfulFineTuneScript, batchScript, type FakeTogether } from '../../local/fake-together';
import { closedPort } from '../support/net';

let fake: FakeTogether;
beforeAll(async () => {
  fake = await startFakeTogether();
  fake.addJob('ft-api', successfulFineTuneScript({ checkpoints: 1 }));
  fake.addBatch('batch-api', batchScript('batch-api', 'COMPLETED'));
});
afterAll(async () => {
  await fake?.stop();
});
beforeEach(() => {
  fake.clearFaults();
  fake.requests.length = 0;
});

const NOW_MS = Date.parse('2026-11-01T12:00:00Z');

/** A client on the fake whose waits are recorded instead of slept. */
function client(overrides: Partial<TogetherApiOptions> & { retry?: Partial<RetryPolicy> } = {}) {
  const sleeps: number[] = [];
  const api = createTogetherApi({
    baseUrl: fake.url,
    apiKey: async () => fake.apiKey,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    clock: () => NOW_MS,
    ...overrides,
    retry: { requestTimeoutMs: 2_000, ...overrides.retry },
  });
  return { api, sleeps };
}


describe('Together API client', () => {
  it('reads a job and a batch by id, and answers undefined for ids the API does not know (404)', async () => {
    const { api } = client();

    const found = [await api.getFineTune('ft-api'), await api.getBatch('batch-api')];
    const unknown = [await api.getFineTune('ft-nope'), await api.getBatch('batch-nope')];

    expect(found.map((item) => [item?.id, item?.status])).toEqual([
      ['ft-api', 'pending'],
      ['batch-api', 'VALIDATING'],
    ]);
    expect(unknown).toEqual([undefined, undefined]);
    expect(fake.requests.map((request) => [request.path, request.status])).toEqual([
      ['/fine-tunes/ft-api', 200],
      ['/batches/batch-api', 200],
      ['/fine-tunes/ft-nope', 404],
      ['/batches/batch-nope', 404],
    ]);
  });

  it('reads a file’s object with its size in bytes, and answers undefined for a file the API does not know (404)', async () => {
    fake.addFile('file-api', '{"custom_id":"a"}\n');
    const { api } = client();

    const found = await api.getFile('file-api');
    const unknown = await api.getFile('file-nope');

    expect(found).toMatchObject({ id: 'file-api', object: 'file', bytes: 18 });
    expect(unknown).toBeUndefined();
  });

  it('still fails a lookup by id on another refusal than 404', async () => {
    fake.inject({ path: '/fine-tunes/ft-api', status: 400 });

    await expect(client().api.getFineTune('ft-api')).rejects.toBeInstanceOf(TogetherApiError);
  });

  it('sends the key as a bearer token and reads the three documented lists', async () => {
    const { api } = client();

    const [jobs, events, batches] = [await api.listFineTunes(), await api.listFineTuneEvents('ft-api'), await api.listBatches()];

    expect(jobs.map((job) => [job.id, job.status])).toEqual([['ft-api', 'pending']]);
    expect(events.map((event) => event.type)).toEqual(['job_pending']);
    expect(batches.map((batch) => [batch.id, batch.status])).toEqual([['batch-api', 'VALIDATING']]);
    expect(fake.requests.map((request) => [request.path, request.authorized, request.status])).toEqual([
      ['/fine-tunes', true, 200],
      ['/fine-tunes/ft-api/events', true, 200],
      ['/batches', true, 200],
    ]);
  });

  it('waits out a 429 for the seconds its Retry-After names, then succeeds', async () => {
    fake.inject({ path: '/fine-tunes', status: 429, retryAfter: '2' });
    const { api, sleeps } = client();

    const jobs = await api.listFineTunes();

    expect(jobs).toHaveLength(1);
    expect(sleeps).toEqual([2_000]);
    expect(fake.requestsTo('/fine-tunes').map((request) => request.status)).toEqual([429, 200]);
  });

  it('waits out a 429 until the HTTP date its Retry-After names', async () => {
    fake.inject({ path: '/batches', status: 429, retryAfter: new Date(NOW_MS + 3_000).toUTCString() });
    const { api, sleeps } = client();

    await api.listBatches();

    expect(sleeps).toEqual([3_000]);
    expect(fake.requestsTo('/batches')).toHaveLength(2);
  });

  it('gives up at once on a Retry-After longer than a poll waits, so the next poll resumes', async () => {
    fake.inject({ path: '/fine-tunes', status: 429, retryAfter: '120' });
    const { api, sleeps } = client();

    const failure = await api.listFineTunes().catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TogetherApiError);
    expect((failure as TogetherApiError).reason).toBe('together_rate_limited');
    expect(sleeps).toEqual([]);
    expect(fake.requestsTo('/fine-tunes')).toHaveLength(1);
  });

  it('retries 5xx with exponential backoff and full jitter until it succeeds', async () => {
    fake.inject({ path: '/fine-tunes', status: 500, times: 2 });
    const { api, sleeps } = client({ retry: { baseDelayMs: 400, maxDelayMs: 10_000 } });

    await api.listFineTunes();

    // random() = 0.5 of ceilings 400 and 800.
    expect(sleeps).toEqual([200, 400]);
    expect(fake.requestsTo('/fine-tunes').map((request) => request.status)).toEqual([500, 500, 200]);
  });

  it('stops after the bounded number of attempts and says the next poll retries', async () => {
    fake.inject({ path: '/fine-tunes', status: 503, times: 10 });
    const { api, sleeps } = client({ retry: { maxAttempts: 3 } });

    const failure = await api.listFineTunes().catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TogetherApiError);
    expect(failure).toMatchObject({ reason: 'together_unavailable', attempts: 3, httpStatus: 503 });
    expect((failure as Error).message).toMatch(/failed 3 times \(last: http 503\)/);
    expect(fake.requestsTo('/fine-tunes')).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('times out a request that hangs and retries it', async () => {
    fake.inject({ path: '/fine-tunes/ft-api/events', hang: true });
    const notices: string[] = [];
    const { api } = client({ retry: { requestTimeoutMs: 200 }, onRetry: (notice) => notices.push(notice.cause) });

    const events = await api.listFineTuneEvents('ft-api');

    expect(events.length).toBeGreaterThan(0);
    expect(notices).toEqual(['timeout']);
    expect(fake.requestsTo('/fine-tunes/ft-api/events').map((request) => request.status)).toEqual([undefined, 200]);
  });

  it('retries network errors and names them when attempts run out', async () => {
    const { api, sleeps } = client({ baseUrl: `http://127.0.0.1:${await closedPort()}/v1`, retry: { maxAttempts: 2 } });

    const failure = await api.listBatches().catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TogetherApiError);
    expect((failure as Error).message).toMatch(/failed 2 times \(last: network\)/);
    expect(sleeps).toHaveLength(1);
  });

  it('fails a rejected key at once with an error that says which key to replace and never shows it', async () => {
    const { api, sleeps } = client({ apiKey: async () => 'tgp_v1_wrong_key' });

    const failure = await api.listFineTunes().catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TogetherAuthError);
    expect((failure as Error).message).toMatch(/^TOGETHER_API_KEY was rejected/);
    expect((failure as Error).message).not.toContain('tgp_v1_wrong_key');
    expect(sleeps).toEqual([]);
    expect(fake.requestsTo('/fine-tunes').map((request) => [request.authorized, request.status])).toEqual([[false, 401]]);
  });

  it('does not retry a 403 either', async () => {
    fake.inject({ path: '/batches', status: 403 });
    const { api } = client();

    await expect(api.listBatches()).rejects.toBeInstanceOf(TogetherAuthError);

    expect(fake.requestsTo('/batches')).toHaveLength(1);
  });

  it('[RULE] a refused key fails as a TogetherAuthError whose message names the status, the path and where to store a valid key', async () => {
    fake.inject({ path: '/batches', status: 403 });
    const { api } = client();

    const failure = await api.listBatches().catch((error: unknown) => error);

    expect((failure as Error).name).toBe('TogetherAuthError');
    expect((failure as Error).message).toBe(
      'TOGETHER_API_KEY was rejected by the Together API (HTTP 403 on GET /batches); store a valid API key in the secret TOGETHER_API_KEY_SECRET_ARN names (TOGETHER_API_KEY in the local runtime)',
    );
  });

  it('does not retry other 4xx answers and points at the base URL', async () => {
    const { api } = client();

    const failure = await api.listFineTuneEvents('ft-missing').catch((error: unknown) => error);

    expect(failure).toMatchObject({ reason: 'together_rejected', httpStatus: 404 });
    expect((failure as Error).message).toContain('TOGETHER_API_BASE_URL');
    expect(fake.requestsTo('/fine-tunes/ft-missing/events')).toHaveLength(1);
  });

  it('rejects a body that is not the documented shape without retrying', async () => {
    let calls = 0;
    const { api } = client({
      fetch: async () => {
        calls += 1;
        return new Response(JSON.stringify({ data: [{ status: 'running' }] }), { status: 200 });
      },
    });

    const failure = await api.listFineTunes().catch((error: unknown) => error);

    expect(failure).toMatchObject({ reason: 'together_bad_response' });
    expect((failure as Error).message).toContain('data.0.id');
    expect(calls).toBe(1);
  });
});

describe('Retry-After and backoff', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfterMs('7', NOW_MS)).toBe(7_000);
  });

  it('reads an HTTP date relative to now, and a past date as no wait', () => {
    expect(parseRetryAfterMs(new Date(NOW_MS + 5_000).toUTCString(), NOW_MS)).toBe(5_000);
    expect(parseRetryAfterMs(new Date(NOW_MS - 5_000).toUTCString(), NOW_MS)).toBe(0);
  });

  it('ignores a missing or unreadable value', () => {
    expect(parseRetryAfterMs(null, NOW_MS)).toBeUndefined();
    expect(parseRetryAfterMs('-3', NOW_MS)).toBeUndefined();
    expect(parseRetryAfterMs('soon-ish', NOW_MS)).toBeUndefined();
  });

  it('draws each backoff uniformly below a ceiling that doubles up to the maximum', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1_000 };
    const almostOne = () => 0.999_999;

    const delays = [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelayMs(policy, attempt, almostOne));

    expect(delays).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(0);
  });
});

describe('Together API client within a run budget', () => {
  it('does not retry when the wait would end after the run deadline', async () => {
    fake.inject({ path: '/fine-tunes', status: 429, retryAfter: '5' });
    const { api, sleeps } = client({ deadline: () => NOW_MS + 4_000 });

    const failure = await api.listFineTunes().catch((error: unknown) => error);

    expect(failure).toMatchObject({ reason: 'together_rate_limited', attempts: 1 });
    expect((failure as Error).message).toMatch(/after this run's time budget/);
    expect(sleeps).toEqual([]);
    expect(fake.requestsTo('/fine-tunes')).toHaveLength(1);
  });

  it('retries when the wait ends before the run deadline', async () => {
    fake.inject({ path: '/fine-tunes', status: 429, retryAfter: '5' });
    const { api, sleeps } = client({ deadline: () => NOW_MS + 6_000 });

    await api.listFineTunes();

    expect(sleeps).toEqual([5_000]);
  });
});
