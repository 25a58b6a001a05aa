import { describe, expect, it } from 'vitest';
import { realSleep } from '../../functions/core/api-get';
import { createTogetherApi, parseRetryAfterMs, TogetherApiError, type RetryNotice, type TogetherApiOptions } from '../../functions/poller/together-api';

/*
 * The retrying GET every provider API client shares, seen through Together's client as the poller
 * uses it: what reaches the API, and which error (reason, status, message, cause) the caller gets.
 * The API is a stub `fetch` answering one scripted step per request.
 */

const NOW_MS = Date.parse('2026-11-01T12:00:00Z');
const BASE_URL = 'https://api.together.example/v1';
const JOBS = JSON.stringify({ data: [{ id: 'ft-1', status: 'running' }] });

type Step = Response | Error;

function api(steps: Step[], overrides: Partial<TogetherApiOptions> = {}) {
  const requests: Array<{ url: string; headers: Record<string, string> }> = [];
  const sleeps: number[] = [];
  const notices: RetryNotice[] = [];
  const client = createTogetherApi({
    baseUrl: BASE_URL,
    apiKey: async () => 'tgp_v1_key',
    fetch: async (url, init) => {
      requests.push({ url: String(url), headers: { ...(init?.headers as Record<string, string>) } });
      const step = steps.shift() ?? new Response(JOBS, { status: 200 });
      if (step instanceof Error) throw step;
      return step;
    },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    clock: () => NOW_MS,
    onRetry: (notice) => notices.push(notice),
    ...overrides,
  });
  return { client, requests, sleeps, notices };
}

const answer = (status: number, body = '{}', headers: Record<string, string> = {}) => new Response(body, { status, headers });
const failureOf = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a failure'), (error: unknown) => error as TogetherApiError);

describe('the provider APIs’ retrying GET', () => {
  it('[RULE] every request asks for JSON with the key as a bearer token, at the base URL however many slashes end it', async () => {
    const { client, requests } = api([], { baseUrl: `${BASE_URL}//` });

    await client.listFineTunes();

    expect(requests).toEqual([{ url: `${BASE_URL}/fine-tunes`, headers: { authorization: 'Bearer tgp_v1_key', accept: 'application/json' } }]);
  });

  it('[RULE] a Retry-After of exactly the longest wait a poll takes (30 s) is waited out', async () => {
    const { client, sleeps } = api([answer(429, '{}', { 'retry-after': '30' })]);

    await client.listFineTunes();

    expect(sleeps).toEqual([30_000]);
  });

  it('[RULE] a longer Retry-After ends the request with a message that says how long, the limit, and who resumes', async () => {
    const { client, sleeps } = api([answer(429, '{}', { 'retry-after': '31' })]);

    const failure = await failureOf(client.listFineTunes());

    expect(failure).toMatchObject({ reason: 'together_rate_limited', httpStatus: 429, attempts: 1 });
    expect(failure.message).toBe(
      'GET /fine-tunes: Together asked to wait 31 s (Retry-After), longer than the 30 s a poll waits; the next scheduled poll resumes',
    );
    expect(sleeps).toEqual([]);
  });

  it('[RULE] a retry whose wait ends exactly at the deadline still runs', async () => {
    const { client, sleeps } = api([answer(429, '{}', { 'retry-after': '5' })], { deadline: () => NOW_MS + 5_000 });

    await client.listFineTunes();

    expect(sleeps).toEqual([5_000]);
  });

  it('[RULE] a network failure that exhausts the attempts is kept as the cause, for the operator’s log', async () => {
    const network = new TypeError('fetch failed');
    const { client } = api([network, network], { retry: { maxAttempts: 2 } });

    const failure = await failureOf(client.listFineTunes());

    expect(failure).toMatchObject({ reason: 'together_unavailable', attempts: 2 });
    expect(failure.message).toBe('GET /fine-tunes failed 2 times (last: network); Together may be down or rate limiting, the next poll retries');
    expect(failure.cause).toBe(network);
  });

  it('[RULE] a network failure whose retry would start after the deadline is kept as the cause too', async () => {
    const network = new TypeError('fetch failed');
    const { client } = api([network], { deadline: () => NOW_MS });

    const failure = await failureOf(client.listFineTunes());

    expect(failure.message).toBe("GET /fine-tunes failed (network) and the next attempt would start after this run's time budget; the next poll retries");
    expect(failure.cause).toBe(network);
  });

  it.each([
    ['TimeoutError', 'timeout'],
    ['AbortError', 'timeout'],
    ['TypeError', 'network'],
  ])('[RULE] a request that fails with %s is retried, counted as a %s', async (name, cause) => {
    const error = new Error('request failed');
    error.name = name;
    const { client, notices } = api([error]);

    await client.listFineTunes();

    expect(notices).toEqual([{ path: '/fine-tunes', attempt: 1, delayMs: 250, cause }]);
  });

  it.each([300, 302, 404, 418])('[RULE] an answer %i is refused at once, pointing at the base URL', async (status) => {
    const { client, requests } = api([answer(status, JOBS)]);

    const failure = await failureOf(client.listFineTunes());

    expect(failure).toMatchObject({ reason: 'together_rejected', httpStatus: status, attempts: 1 });
    expect(failure.message).toBe(`GET /fine-tunes answered HTTP ${status}; check TOGETHER_API_BASE_URL (now ${BASE_URL})`);
    expect(requests).toHaveLength(1);
  });

  it('[RULE] a 200 that is not JSON is refused at once as a bad response, naming the base URL, with the parse error as cause', async () => {
    const { client, requests } = api([answer(200, '<html>maintenance</html>')]);

    const failure = await failureOf(client.listFineTunes());

    expect(failure).toMatchObject({ reason: 'together_bad_response', httpStatus: 200, attempts: 1 });
    expect(failure.message).toBe(`GET /fine-tunes did not answer JSON; check TOGETHER_API_BASE_URL (now ${BASE_URL})`);
    expect(failure.cause).toBeInstanceOf(SyntaxError);
    expect(requests).toHaveLength(1);
  });

  it('[RULE] a body of the wrong shape names the field and what is wrong with it, and where the API should be', async () => {
    const { client } = api([answer(200, JSON.stringify({ data: [{ status: 'running' }] }))]);

    const failure = await failureOf(client.listFineTunes());

    expect(failure.message).toMatch(/^GET \/fine-tunes answered a body that is not the documented shape \(data\.0\.id: [^)]*expected string[^)]*\); /);
    expect(failure.message).toMatch(new RegExp(`; check TOGETHER_API_BASE_URL \\(now ${BASE_URL}\\) points at Together's v1 API$`));
  });

  it('[RULE] a body that is not even an object is named as the body', async () => {
    const { client } = api([answer(200, '[]')]);

    const failure = await failureOf(client.listFineTunes());

    expect(failure).toMatchObject({ reason: 'together_bad_response', httpStatus: 200 });
    expect(failure.message).toMatch(/not the documented shape \(body: [^)]*expected object/);
  });

  it('[RULE] Retry-After is read with spaces around it, and is no wait at all when absent or unreadable', () => {
    expect(parseRetryAfterMs(' 7 ', NOW_MS)).toBe(7_000);
    expect(parseRetryAfterMs(undefined, NOW_MS)).toBeUndefined();
    expect(parseRetryAfterMs('5x', NOW_MS)).toBeUndefined();
  });

  it('[RULE] the real wait between attempts is a promise that settles', async () => {
    await expect(realSleep(0)).resolves.toBeUndefined();
  });
});
