import { describe, expect, it } from 'vitest';
import { ConfigurationError, DependencyError } from '../../functions/core/errors';
import type { RouteEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import { openAiEnricher, openAiEnricherFromEnv } from '../../functions/consumers/enrich/openai';
import { OpenAiApiError, OpenAiAuthError, type OpenAiApi, type OpenAiCheckpoint, type OpenAiJobEvent, type OpenAiPage } from '../../functions/consumers/enrich/openai-api';
import type { RouteContext } from '../../functions/consumers/routes';
import { normalizedEvent } from '../support/consumers';

/**
 * What a consumer's steps get from an OpenAI event, and how each answer of OpenAI's API ends: the
 * event completed, handled as it came with a note, or the attempt failed (retried by SQS).
 */

const withNotes = () => {
  const notes: string[] = [];
  return { notes, context: { note: (text: string) => void notes.push(text) } as unknown as RouteContext };
};

/** An API whose every method fails the test unless overridden, and the calls it got. */
function stubApi(overrides: Partial<OpenAiApi>) {
  const calls: string[] = [];
  const unexpected = (name: string) => (id: string) => {
    calls.push(`${name} ${id}`);
    return Promise.reject(new Error(`unexpected ${name}`));
  };
  const api: OpenAiApi = {
    getFineTuningJob: unexpected('getFineTuningJob'),
    listCheckpoints: unexpected('listCheckpoints'),
    listJobEvents: unexpected('listJobEvents'),
    getBatch: unexpected('getBatch'),
    getFile: unexpected('getFile'),
    ...overrides,
  };
  return { api, calls };
}

const openAiEvent = <R extends Route>(type: R, subject: string | undefined, data: Record<string, unknown>) =>
  normalizedEvent({ type, provider: 'openai', providerType: 'x', subject, data } as never) as unknown as RouteEvent<R>;

const noPages = async () => ({ data: [], hasMore: false });

describe('[RULE] which OpenAI events the enricher reads', () => {
  it.each([
    ['a fine-tune event naming no job', openAiEvent('fine_tune.completed', undefined, {})],
    ['a fine-tune event whose subject is empty', openAiEvent('fine_tune.failed', '', {})],
    ['a batch event naming no batch', openAiEvent('batch.completed', undefined, {})],
    ['a checkpoint event', openAiEvent('fine_tune.checkpoint', 'ftjob-1', {})],
    ['an event on the other route', openAiEvent('other', 'thing-1', {})],
  ])('[RULE] %s is handled as it came, without a request', async (_, event) => {
    const { api, calls } = stubApi({});

    const out = await openAiEnricher({ api: () => api })(event, withNotes().context);

    expect(out).toBe(event);
    expect(calls).toEqual([]);
  });

  it.each([
    ['the payload names', { jobId: 'ftjob-payload' }, 'ftjob-payload'],
    ['the subject names when the payload names none', {}, 'ftjob-subject'],
    ['the subject names when the payload names it empty', { jobId: '' }, 'ftjob-subject'],
  ])('[RULE] the job read is the one %s', async (_, data, expected) => {
    const asked: string[] = [];
    const { api } = stubApi({ getFineTuningJob: async (id) => void asked.push(id), listCheckpoints: noPages, listJobEvents: noPages });

    await openAiEnricher({ api: () => api })(openAiEvent('fine_tune.completed', 'ftjob-subject', data), withNotes().context);

    expect(asked).toEqual([expected]);
  });

  it('[RULE] a batch read from the API fills the fields the payload lacks', async () => {
    const { api } = stubApi({ getBatch: async (id) => ({ id, output_file_id: 'file-api', error_file_id: 'file-err', request_counts: { total: 3, completed: 3, failed: 0 } }) });

    const out = await openAiEnricher({ api: () => api })(openAiEvent('batch.completed', 'batch_1', { batchId: 'batch_1', outputFileId: 'file-payload' }), withNotes().context);

    expect(out.data).toEqual({ batchId: 'batch_1', outputFileId: 'file-payload', errorFileId: 'file-err', requestCounts: { total: 3, completed: 3, failed: 0 } });
  });

  it('[RULE] a payload field without a value does not hide the value the API gives', async () => {
    const { api } = stubApi({ getFineTuningJob: async (id) => ({ id, fine_tuned_model: 'ft:from-api' }), listCheckpoints: noPages, listJobEvents: noPages });

    const out = await openAiEnricher({ api: () => api })(openAiEvent('fine_tune.completed', 'ftjob-1', { jobId: 'ftjob-1', modelName: undefined }), withNotes().context);

    expect(out.data).toEqual({ jobId: 'ftjob-1', modelName: 'ft:from-api' });
  });

  it('[RULE] a job OpenAI does not know (404) is handled with the payload, and the note names the path', async () => {
    const { notes, context } = withNotes();
    const { api } = stubApi({ getFineTuningJob: async () => undefined });
    const event = openAiEvent('fine_tune.completed', 'ftjob-gone', { jobId: 'ftjob-gone' });

    expect(await openAiEnricher({ api: () => api })(event, context)).toBe(event);
    expect(notes).toEqual(["openai: GET /fine_tuning/jobs/ftjob-gone answered 404; handled with the payload's data"]);
  });

  it('[RULE] a job whose checkpoints and events lists answer 404 is completed from the job alone', async () => {
    const { api } = stubApi({ getFineTuningJob: async (id) => ({ id, model: 'gpt-4o-mini' }), listCheckpoints: async () => undefined, listJobEvents: async () => undefined });

    const out = await openAiEnricher({ api: () => api })(openAiEvent('fine_tune.started', 'ftjob-1', { jobId: 'ftjob-1' }), withNotes().context);

    expect(out.data).toEqual({ jobId: 'ftjob-1', baseModel: 'gpt-4o-mini' });
  });

  it("[RULE] an answer that does not fit the canonical data leaves the event as it came, and the note names the field", async () => {
    const { notes, context } = withNotes();
    const negativeStep: OpenAiCheckpoint = { id: 'ftckpt_1', step_number: -1, metrics: { train_loss: 1 } };
    const { api } = stubApi({ getFineTuningJob: async (id) => ({ id }), listCheckpoints: async () => ({ data: [negativeStep], hasMore: false }), listJobEvents: noPages });
    const event = openAiEvent('fine_tune.completed', 'ftjob-1', { jobId: 'ftjob-1' });

    expect(await openAiEnricher({ api: () => api })(event, context)).toBe(event);
    expect(notes).toEqual(["openai: the API's checkpoints.0.step does not fit the canonical data; handled with the payload's data"]);
  });
});

/** `count` items newest first (ids `{prefix}_{n}`, n falling), served `size` a page by cursor; the cursors asked for. */
function pagedList<T extends { id: string }>(count: number, size: number, item: (n: number) => T, hasMore = (from: number) => from + size < count) {
  const items = Array.from({ length: count }, (_, index) => item(count - index));
  const afters: (string | undefined)[] = [];
  const list = async (_: string, { after }: { limit: number; after?: string }): Promise<OpenAiPage<T>> => {
    afters.push(after);
    const from = after === undefined ? 0 : items.findIndex((entry) => entry.id === after) + 1;
    return { data: items.slice(from, from + size), hasMore: hasMore(from) };
  };
  return { list, afters };
}

const checkpointAt = (step: number): OpenAiCheckpoint => ({ id: `ftckpt_${step}`, step_number: step, metrics: { train_loss: 1 / step } });
const metricsAt = (step: number): OpenAiJobEvent => ({ id: `ftevent_${step}`, type: 'metrics', data: { step, train_loss: 1 } });
const messageAt = (step: number): OpenAiJobEvent => ({ id: `ftevent_${step}`, type: 'message', data: {} });

async function completedWith(lists: Pick<OpenAiApi, 'listCheckpoints' | 'listJobEvents'>) {
  const { api } = stubApi({ getFineTuningJob: async (id) => ({ id }), ...lists });
  const out = await openAiEnricher({ api: () => api })(openAiEvent('fine_tune.completed', 'ftjob-1', { jobId: 'ftjob-1' }), withNotes().context);
  return (out as RouteEvent<'fine_tune.completed'>).data.checkpoints?.map((point) => point.step) ?? [];
}

describe('[RULE] reading cursor pages of a job', () => {
  it('[RULE] each next page is asked for after the last id of the page before, and every page lands in the curve', async () => {
    const checkpoints = pagedList(5, 3, checkpointAt);

    const steps = await completedWith({ listCheckpoints: checkpoints.list, listJobEvents: noPages });

    expect(checkpoints.afters).toEqual([undefined, 'ftckpt_3']);
    expect(steps).toEqual([1, 2, 3, 4, 5]);
  });

  it('[RULE] a page with has_more false is the last one asked for', async () => {
    const checkpoints = pagedList(5, 3, checkpointAt, () => false);

    const steps = await completedWith({ listCheckpoints: checkpoints.list, listJobEvents: noPages });

    expect(checkpoints.afters).toEqual([undefined]);
    expect(steps).toEqual([3, 4, 5]);
  });

  it('[RULE] an empty page ends the list, whatever has_more says', async () => {
    const checkpoints = pagedList(0, 3, checkpointAt, () => true);

    const steps = await completedWith({ listCheckpoints: checkpoints.list, listJobEvents: noPages });

    expect(checkpoints.afters).toEqual([undefined]);
    expect(steps).toEqual([]);
  });

  it('[RULE] a list that never ends is read 8 pages deep at most', async () => {
    const checkpoints = pagedList(2_000, 100, checkpointAt, () => true);

    await completedWith({ listCheckpoints: checkpoints.list, listJobEvents: noPages });

    expect(checkpoints.afters).toHaveLength(8);
  });

  it('[RULE] events stop being read once 500 metrics points are in hand', async () => {
    const events = pagedList(2_000, 100, metricsAt, () => true);

    const steps = await completedWith({ listCheckpoints: noPages, listJobEvents: events.list });

    expect(events.afters).toHaveLength(5);
    expect(steps).toHaveLength(500);
  });

  it('[RULE] message events do not count towards the 500 metrics points', async () => {
    const events = pagedList(2_000, 100, (n) => (n % 2 === 0 ? metricsAt(n) : messageAt(n)), () => true);

    const steps = await completedWith({ listCheckpoints: noPages, listJobEvents: events.list });

    expect(events.afters).toHaveLength(8);
    expect(steps).toHaveLength(400);
  });
});

/** A stand-in for OpenAI's REST API over `fetch`: `answer` per request, and the URLs asked for. */
function fakeOpenAi(answer: (url: URL, index: number) => Response) {
  const urls: string[] = [];
  const fetch = (async (input: string | URL | Request) => {
    const url = new URL(String(input));
    urls.push(`${url.pathname}${url.search}`);
    return answer(url, urls.length - 1);
  }) as typeof globalThis.fetch;
  return { fetch, urls };
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const T0_MS = Date.parse('2026-12-01T12:00:00Z');
const ENV = { OPENAI_API_BASE_URL: 'https://api.openai.test/v1', OPENAI_API_KEY: 'sk-test' };

/** The enricher as a consumer deploys it, on the fake, its clock stopped and its waits skipped. */
const deployedOn = (fetch: typeof globalThis.fetch) => openAiEnricherFromEnv(ENV, { fetch, clock: () => T0_MS, sleep: async () => undefined });

/** A job that exists, with empty lists: what a user's fake of the three reads answers. */
const jobAnswers = (url: URL) => (url.pathname.endsWith('/ftjob-1') ? json({ object: 'fine_tuning.job', id: 'ftjob-1', model: 'gpt-4o-mini' }) : json({ object: 'list', data: [] }));

describe("[RULE] how OpenAI's answers end an attempt", () => {
  it('[RULE] the first page of each list is asked for with limit=100 and no cursor, and a list without has_more is read once', async () => {
    const fake = fakeOpenAi(jobAnswers);

    const out = await deployedOn(fake.fetch)(openAiEvent('fine_tune.started', 'ftjob-1', { jobId: 'ftjob-1' }), withNotes().context);

    expect(fake.urls).toEqual(['/v1/fine_tuning/jobs/ftjob-1', '/v1/fine_tuning/jobs/ftjob-1/checkpoints?limit=100', '/v1/fine_tuning/jobs/ftjob-1/events?limit=100']);
    expect(out.data).toEqual({ jobId: 'ftjob-1', baseModel: 'gpt-4o-mini' });
  });

  it('[RULE] the metrics events of a job become its loss curve', async () => {
    const fake = fakeOpenAi((url) =>
      url.pathname.endsWith('/events') ? json({ object: 'list', data: [{ id: 'ftevent-1', type: 'metrics', created_at: 1_700_000_000, data: { step: 7, train_loss: 0.5 } }] }) : jobAnswers(url),
    );

    const out = (await deployedOn(fake.fetch)(openAiEvent('fine_tune.started', 'ftjob-1', { jobId: 'ftjob-1' }), withNotes().context)) as RouteEvent<'fine_tune.started'>;

    expect(out.data).toEqual({ jobId: 'ftjob-1', baseModel: 'gpt-4o-mini', checkpoints: [{ step: 7, loss: 0.5, at: '2023-11-14T22:13:20.000Z' }] });
    expect(fake.urls).toHaveLength(3);
  });

  it('[RULE] a 5xx answer is retried within the time budget, and the event is completed', async () => {
    const fake = fakeOpenAi((url, index) => (index === 0 ? json({ error: { message: 'busy' } }, 503) : jobAnswers(url)));

    const out = await deployedOn(fake.fetch)(openAiEvent('fine_tune.started', 'ftjob-1', { jobId: 'ftjob-1' }), withNotes().context);

    expect(out.data).toEqual({ jobId: 'ftjob-1', baseModel: 'gpt-4o-mini' });
  });

  it.each([
    [503, OpenAiApiError, 'openai_unavailable', /failed 4 times \(last: http 503\); OpenAI may be down/],
    [429, OpenAiApiError, 'openai_rate_limited', /failed 4 times \(last: http 429\)/],
    [400, OpenAiApiError, 'openai_rejected', /answered HTTP 400; check OPENAI_API_BASE_URL/],
    [
      401,
      OpenAiAuthError,
      undefined,
      /^OPENAI_API_KEY was rejected by the OpenAI API \(HTTP 401 on GET \/batches\/batch_1\); store a valid key in the secret OPENAI_API_KEY_SECRET_ARN names \(OPENAI_API_KEY locally\)$/,
    ],
  ])('[RULE] an OpenAI %i fails the attempt with %o, never handled as a missing object', async (status, type, reason, message) => {
    const { notes, context } = withNotes();
    const fake = fakeOpenAi(() => json({ error: { message: 'no' } }, status));

    const error = await deployedOn(fake.fetch)(openAiEvent('batch.completed', 'batch_1', { batchId: 'batch_1' }), context).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(type);
    expect((error as Error).name).toBe(type.name);
    expect((error as Error).message).toMatch(message);
    if (reason !== undefined) expect(error).toMatchObject({ reason, httpStatus: status });
    expect(error instanceof DependencyError || error instanceof ConfigurationError).toBe(true);
    expect(notes).toEqual([]);
  });

  it('[RULE] without a key, an OpenAI event fails its attempt naming the variable to set', async () => {
    const fake = fakeOpenAi(jobAnswers);
    const enrich = openAiEnricherFromEnv({ OPENAI_API_BASE_URL: ENV.OPENAI_API_BASE_URL }, { fetch: fake.fetch });

    const failing = enrich(openAiEvent('fine_tune.started', 'ftjob-1', { jobId: 'ftjob-1' }), withNotes().context);

    await expect(failing).rejects.toThrow(ConfigurationError);
    await expect(failing).rejects.toThrow('OPENAI_API_KEY_SECRET_ARN is not set (OPENAI_API_KEY locally): openai events cannot be completed from the OpenAI API');
    expect(fake.urls).toEqual([]);
  });
});

describe("[RULE] OpenAI's Retry-After within the consumer's time budget", () => {
  /** The deployed enricher on `answer`, its clock moved on by each wait it makes; the waits and retry notices. */
  function timedEnricher(answer: (url: URL, index: number) => Response) {
    const fake = fakeOpenAi(answer);
    let nowMs = T0_MS;
    const waits: number[] = [];
    const notices: unknown[] = [];
    const enrich = openAiEnricherFromEnv(ENV, {
      fetch: fake.fetch,
      clock: () => nowMs,
      sleep: async (ms) => {
        waits.push(ms);
        nowMs += ms;
      },
      onRetry: (notice) => void notices.push(notice),
    });
    const run = () => enrich(openAiEvent('batch.completed', 'batch_1', { batchId: 'batch_1' }), withNotes().context);
    return { run, fake, waits, notices };
  }
  const busy = (retryAfter: string) => new Response('{}', { status: 503, headers: { 'retry-after': retryAfter } });
  const batch = () => json({ object: 'batch', id: 'batch_1', output_file_id: 'file-out' });

  it("[RULE] a Retry-After date is waited out as the consumer's clock reads it, and the retry is reported", async () => {
    const { run, waits, notices } = timedEnricher((_, index) => (index === 0 ? busy(new Date(T0_MS + 2_000).toUTCString()) : batch()));

    const out = await run();

    expect(out.data).toEqual({ batchId: 'batch_1', outputFileId: 'file-out' });
    expect(waits).toEqual([2_000]);
    expect(notices).toEqual([{ path: '/batches/batch_1', attempt: 1, delayMs: 2_000, cause: 'http 503' }]);
  });

  it('[RULE] a Retry-After longer than the 20 s budget fails the attempt at once, for SQS to deliver it again', async () => {
    const { run, fake, waits } = timedEnricher(() => busy('25'));

    await expect(run()).rejects.toThrow(
      'GET /batches/batch_1: OpenAI asked to wait 25 s (Retry-After), longer than the 20 s a consumer attempt waits; SQS delivers the event again later',
    );
    expect(fake.urls).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('[RULE] no retry starts after the budget is spent, however many attempts are left', async () => {
    const { run, fake, waits } = timedEnricher(() => busy('15'));

    await expect(run()).rejects.toThrow(
      "GET /batches/batch_1 failed (http 503) and the next attempt would start after the consumer's time budget; SQS delivers the event again later",
    );
    expect(fake.urls).toHaveLength(2);
    expect(waits).toEqual([15_000]);
  });
});
