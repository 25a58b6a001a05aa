import { describe, expect, it } from 'vitest';
import { consoleApi, type ConsoleDeps } from '../../console/api';
import { PROVIDER_NAMES } from '../../functions/core/event';
import { ROUTES } from '../../functions/core/routes';
import { EVENT_STATUSES, type EventRecord, type JobItem } from '../../functions/core/table';
import { sampleTypes } from '../../ops/deliveries';
import { memoryTarget, type MemoryTables } from '../support/memory-target';

/**
 * The reads of the console's JSON API as its pages make them: what each query parameter a user
 * types selects, what a bad one answers, and the fields the pages show. The target is held in
 * memory and answers the reads as DynamoDB does (see test/support/memory-target.ts).
 */

const NOW_MS = Date.parse('2026-06-01T12:00:00.000Z');
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** A record received `agoMs` before now; `id` is its event id. */
function record(id: string, agoMs: number, fields: Partial<EventRecord> = {}): EventRecord {
  const receivedAt = new Date(NOW_MS - agoMs).toISOString();
  const provider = fields.provider ?? 'together';
  return {
    pk: `${provider}#${id}`,
    status: 'handled',
    provider,
    eventId: id,
    route: 'other',
    providerType: 'demo',
    subject: `job-${id}`,
    receivedAt,
    receivedDay: receivedAt.slice(0, 10),
    event: '{"id":"x"}',
    expiresAt: Math.floor(NOW_MS / 1000) + 86_400,
    ...fields,
  };
}

function api(tables: MemoryTables, deps: Partial<ConsoleDeps> = {}, options: Parameters<typeof memoryTarget>[1] = {}) {
  return consoleApi({ target: memoryTarget(tables, options), clock: () => NOW_MS, env: {}, providers: ['together'], ...deps });
}

const keysOf = (page: { events: readonly { pk: string }[] }) => page.events.map((event) => event.pk);

/** Every page of the list for `query`, following the cursors. */
async function allPages(console: ReturnType<typeof api>, query: Record<string, string>): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await console.events(new URLSearchParams({ ...query, ...(cursor === undefined ? {} : { cursor }) }));
    pages.push(keysOf(page));
    cursor = page.next;
  } while (cursor !== undefined && pages.length < 20);
  return pages;
}

describe('[RULE] console API: what the page is told of the target', () => {
  it('[RULE] info names the target, its enabled providers with their sample types, the routes and statuses, and whether refused deliveries are kept', () => {
    const local = api({}, { providers: ['together', 'llmtune'], rejections: () => [] }).info();
    const stack = api({}).info();

    expect(local).toEqual({
      target: 'memory target',
      kind: 'local',
      providers: [
        { name: 'together', types: sampleTypes('together') },
        { name: 'llmtune', types: sampleTypes('llmtune') },
      ],
      routes: ROUTES,
      statuses: EVENT_STATUSES,
      rejections: true,
    });
    expect(stack.rejections).toBe(false);
  });
});

describe('[RULE] console API: the events list', () => {
  it('[RULE] pages of distinct times follow one another newest first, none twice, the last without a cursor', async () => {
    const events = Array.from({ length: 7 }, (_, index) => record(`e${index}`, (index + 1) * MINUTE_MS));

    const pages = await allPages(api({ events }), { limit: '3' });

    expect(pages).toEqual([
      ['together#e0', 'together#e1', 'together#e2'],
      ['together#e3', 'together#e4', 'together#e5'],
      ['together#e6'],
    ]);
  });

  it('[RULE] when many events share the last millisecond of pages, paging still shows each once', async () => {
    const events = Array.from({ length: 5 }, (_, index) => record(`tie${index}`, MINUTE_MS));

    const pages = await allPages(api({ events }), { limit: '2' });

    expect(pages).toEqual([['together#tie0', 'together#tie1'], ['together#tie2', 'together#tie3'], ['together#tie4']]);
  });

  it('[RULE] a user can page through more than 1,000 events: the cursor carries only the keys shown at its own time', async () => {
    const events = Array.from({ length: 1_201 }, (_, index) => record(`m${String(index).padStart(4, '0')}`, (index + 1) * 1000));

    const pages = await allPages(api({ events }), { limit: '100' });

    expect(pages).toHaveLength(13);
    expect(new Set(pages.flat()).size).toBe(1_201);
  });

  it('[RULE] a next-page cursor holds only the keys of its own millisecond, so the link stays short page after page', async () => {
    const long = 'x'.repeat(200);
    const events = Array.from({ length: 10 }, (_, index) => record(`${long}${index}`, (index + 1) * 1000));
    const console = api({ events });
    const cursors: string[] = [];
    let next: string | undefined = '';
    while (next !== undefined) {
      const page: { next?: string } = await console.events(new URLSearchParams({ limit: '3', cursor: next }));
      next = page.next;
      if (next !== undefined) cursors.push(next);
    }

    // One key of 200-odd characters, base64url: a second one would pass 600.
    expect(cursors).toHaveLength(3);
    expect(cursors.every((cursor) => cursor.length < 400)).toBe(true);
  });

  it('[RULE] a next-page cursor continues its list even when a search is sent with it', async () => {
    const events = [record('a', MINUTE_MS), record('b', 2 * MINUTE_MS, { subject: 'ft-x' }), record('c', 3 * MINUTE_MS)];
    const console = api({ events });
    const first = await console.events(new URLSearchParams({ limit: '1' }));

    const second = await console.events(new URLSearchParams({ limit: '1', q: 'ft-x', cursor: first.next ?? '' }));

    expect(keysOf(second)).toEqual(['together#b']);
    expect(second.next).toEqual(expect.any(String));
  });

  it('[RULE] a list of exactly one page has no next cursor; one event more gets one', async () => {
    const two = [record('a', MINUTE_MS), record('b', 2 * MINUTE_MS)];

    const exact = await api({ events: two }).events(new URLSearchParams({ limit: '2' }));
    const over = await api({ events: [...two, record('c', 3 * MINUTE_MS)] }).events(new URLSearchParams({ limit: '2' }));

    expect(exact).toEqual({ events: expect.any(Array) });
    expect(exact.events).toHaveLength(2);
    expect(over.next).toEqual(expect.any(String));
  });

  it('[RULE] a list shows summaries: no payload, no lease token', async () => {
    const listed = await api({ events: [record('a', MINUTE_MS, { leaseToken: 'secret-token', status: 'handling' })] }).events(new URLSearchParams());

    expect(listed.events).toEqual([expect.objectContaining({ pk: 'together#a', status: 'handling' })]);
    expect(JSON.stringify(listed)).not.toMatch(/secret-token|"event"/);
  });

  it('[RULE] the list keeps to the window: 24 hours by default, or the since a user gives', async () => {
    const events = [record('recent', 30 * MINUTE_MS), record('today', 23 * HOUR_MS), record('yesterday', 25 * HOUR_MS)];
    const console = api({ events });

    expect(keysOf(await console.events(new URLSearchParams()))).toEqual(['together#recent', 'together#today']);
    expect(keysOf(await console.events(new URLSearchParams({ since: '1h' })))).toEqual(['together#recent']);
    expect(keysOf(await console.events(new URLSearchParams({ since: ' ' })))).toEqual(['together#recent', 'together#today']);
  });

  it('[RULE] provider, route and status filter the list, trimmed; an empty one filters nothing', async () => {
    const events = [
      record('t1', MINUTE_MS, { route: 'batch.completed', status: 'failed' }),
      record('l1', 2 * MINUTE_MS, { provider: 'llmtune', route: 'other' }),
      record('t2', 3 * MINUTE_MS, { route: 'other' }),
    ];
    const console = api({ events });
    const list = async (query: Record<string, string>) => keysOf(await console.events(new URLSearchParams(query)));

    expect(await list({ provider: ' llmtune ' })).toEqual(['llmtune#l1']);
    expect(await list({ route: 'other' })).toEqual(['llmtune#l1', 'together#t2']);
    expect(await list({ status: 'failed' })).toEqual(['together#t1']);
    expect(await list({ provider: '', route: ' ', status: '' })).toEqual(['together#t1', 'llmtune#l1', 'together#t2']);
  });

  it('[RULE] a bad filter, limit, window or cursor answers a usage error naming the value and what is allowed', async () => {
    const console = api({});
    const refusal = (query: Record<string, string>) => console.events(new URLSearchParams(query));

    await expect(refusal({ provider: 'acme' })).rejects.toMatchObject({ name: 'UsageError', message: `--provider must be one of ${PROVIDER_NAMES.join(', ')}; got "acme"` });
    await expect(refusal({ route: 'nowhere' })).rejects.toThrow(`--type must be a canonical route (${ROUTES.join(', ')}); got "nowhere"`);
    await expect(refusal({ status: 'done' })).rejects.toThrow(`--status must be one of ${EVENT_STATUSES.join(', ')}; got "done"`);
    await expect(refusal({ limit: '0' })).rejects.toThrow('limit must be a whole number from 1 to 100; got "0"');
    await expect(refusal({ limit: '101' })).rejects.toThrow('limit must be a whole number from 1 to 100; got "101"');
    await expect(refusal({ since: 'yesterday' })).rejects.toThrow('--since must be a duration');
    for (const forged of ['{"before":"soon","skip":[]}', '{"before":5,"skip":[]}', '{"before":"2026-06-01T11:00:00.000Z","skip":"together#a"}']) {
      await expect(refusal({ cursor: Buffer.from(forged).toString('base64url') })).rejects.toMatchObject({ name: 'UsageError', message: 'the page cursor is not one this console made: go back to the first page' });
    }
  });

  it('[RULE] a page of 100 is the most a user can ask; 50 is the default', async () => {
    const events = Array.from({ length: 120 }, (_, index) => record(`n${String(index).padStart(3, '0')}`, (index + 1) * 1000));
    const console = api({ events });

    expect((await console.events(new URLSearchParams({ limit: '100' }))).events).toHaveLength(100);
    expect((await console.events(new URLSearchParams({ cursor: '' }))).events).toHaveLength(50);
  });

  it('[RULE] a cursor carries at most 1,000 keys already shown; one carrying more is refused', async () => {
    const cursor = (skip: number) => Buffer.from(JSON.stringify({ before: new Date(NOW_MS).toISOString(), skip: Array.from({ length: skip }, (_, index) => `together#${index}`) })).toString('base64url');
    const console = api({ events: [record('a', MINUTE_MS)] });

    expect(keysOf(await console.events(new URLSearchParams({ cursor: cursor(1000) })))).toEqual(['together#a']);
    await expect(console.events(new URLSearchParams({ cursor: cursor(1001) }))).rejects.toThrow('the page cursor is not one this console made');
  });
});

describe('[RULE] console API: finding an event', () => {
  const events = [
    record('evt_1', MINUTE_MS, { subject: 'ft-1' }),
    record('evt_1', 2 * MINUTE_MS, { provider: 'llmtune', subject: 'ft-2' }),
    record('a#b', 3 * MINUTE_MS, { subject: 'ft-1' }),
    record('old', 30 * HOUR_MS, { subject: 'ft-1' }),
    record('togetherX', 4 * MINUTE_MS, { subject: 'ft-3' }),
  ];

  it('[RULE] an event id is found under every provider that has it, whatever its time', async () => {
    const found = await api({ events }).events(new URLSearchParams({ q: ' evt_1 ' }));
    const old = await api({ events }).events(new URLSearchParams({ q: 'old' }));

    expect(keysOf(found)).toEqual(['together#evt_1', 'llmtune#evt_1']);
    expect(keysOf(old)).toEqual(['together#old']);
  });

  it('[RULE] a whole key finds that event only; an id holding # or a provider name is found as an id', async () => {
    const console = api({ events });
    const find = async (q: string) => keysOf(await console.events(new URLSearchParams({ q })));

    expect(await find('llmtune#evt_1')).toEqual(['llmtune#evt_1']);
    expect(await find('a#b')).toEqual(['together#a#b']);
    expect(await find('togetherX')).toEqual(['together#togetherX']);
  });

  it('[RULE] a subject finds its events of the window, filtered as the list is, after any found by id, each once, up to the limit, with no cursor', async () => {
    const console = api({ events: [...events, record('ft-1', 5 * MINUTE_MS, { subject: 'ft-1' })] });

    const all = await console.events(new URLSearchParams({ q: 'ft-1' }));
    const one = await console.events(new URLSearchParams({ q: 'ft-1', limit: '1' }));
    const filtered = await console.events(new URLSearchParams({ q: 'ft-1', provider: 'llmtune' }));

    expect(all).toEqual({ events: [expect.objectContaining({ pk: 'together#ft-1' }), expect.objectContaining({ pk: 'together#evt_1' }), expect.objectContaining({ pk: 'together#a#b' })] });
    expect(all.events[0]).not.toHaveProperty('event');
    expect(keysOf(one)).toEqual(['together#ft-1']);
    // The id matches whatever the filters; the subject's together events are filtered out.
    expect(keysOf(filtered)).toEqual(['together#ft-1']);
  });
});

describe('[RULE] console API: counts', () => {
  it('[RULE] counts give every status of the window, zero included, with the list\'s provider filter and whatever status is listed', async () => {
    const events = [
      record('a', MINUTE_MS, { status: 'failed' }),
      record('b', 2 * MINUTE_MS, { status: 'failed' }),
      record('c', 3 * MINUTE_MS),
      record('d', 4 * MINUTE_MS, { provider: 'llmtune', status: 'queued' }),
      record('e', 25 * HOUR_MS, { status: 'failed' }),
    ];

    const { counts } = await api({ events }).counts(new URLSearchParams({ provider: 'together', status: 'handled' }));

    expect(counts).toEqual({ in_progress: 0, queued: 0, handling: 0, handled: 1, failed: 2 });
  });
});

describe('[RULE] console API: jobs', () => {
  const day = new Date(NOW_MS).toISOString().slice(0, 10);
  const job = (subject: string, fields: Partial<JobItem>): JobItem => ({
    pk: `together#${subject}`,
    provider: 'together',
    subject,
    kind: 'fine_tune',
    state: 'running',
    updatedAt: new Date(NOW_MS - MINUTE_MS).toISOString(),
    activeDay: day,
    ...fields,
  });
  const jobs = [job('ft-1', {}), job('b-1', { kind: 'batch', state: 'completed', updatedAt: new Date(NOW_MS - 2 * MINUTE_MS).toISOString() })];

  it('[RULE] jobs are filtered by kind and state as typed; a bad one names what is allowed', async () => {
    const console = api({ jobs });
    const list = async (query: Record<string, string>) => (await console.jobs(new URLSearchParams(query))).jobs.map((item) => item.pk);

    expect(await list({})).toEqual(['together#ft-1', 'together#b-1']);
    expect(await list({ kind: ' batch ' })).toEqual(['together#b-1']);
    expect(await list({ state: 'running', kind: '' })).toEqual(['together#ft-1']);
    expect(await list({ limit: '1' })).toEqual(['together#ft-1']);
    await expect(list({ kind: 'train' })).rejects.toThrow('--kind must be one of fine_tune, batch; got "train"');
    await expect(list({ state: 'done' })).rejects.toThrow('--state must be one of');
    await expect(list({ limit: '501' })).rejects.toThrow('limit must be a whole number from 1 to 500; got "501"');
  });

  it('[RULE] jobs are listed for the last 7 days by default, or since what the user gives', async () => {
    const older = job('ft-old', { updatedAt: new Date(NOW_MS - 6 * 24 * HOUR_MS).toISOString(), activeDay: new Date(NOW_MS - 6 * 24 * HOUR_MS).toISOString().slice(0, 10) });
    const console = api({ jobs: [older] });

    expect((await console.jobs(new URLSearchParams())).jobs).toHaveLength(1);
    expect((await console.jobs(new URLSearchParams({ since: '1d' }))).jobs).toHaveLength(0);
  });

  it('[RULE] a job shows its history from the history table and a quoted command to show it', async () => {
    const history = [{ pk: 'together#ft-1', sk: 't#2026-06-01T11:00:00.000Z#evt_s', state: 'started', at: '2026-06-01T11:00:00.000Z', eventId: 'evt_s' }];
    const withHistory = api({ jobs, history }, { stackName: "it's" }, { jobHistory: true });

    const shown = await withHistory.job('together#ft-1');
    const withoutHistory = await api({ jobs, history }).job('together#ft-1');

    expect(shown?.job.transitions).toEqual([{ state: 'started', at: '2026-06-01T11:00:00.000Z', eventId: 'evt_s' }]);
    expect(shown?.command).toBe(`npx webhooks jobs show 'together#ft-1' --all --stack 'it'\\''s'`);
    expect(withoutHistory?.job.transitions).toEqual([]);
    expect(await withHistory.job('together#none')).toBeUndefined();
    await expect(withHistory.job('ft-1')).rejects.toThrow('"ft-1" is not a job key');
  });
});
