import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleApi, type ConsoleDeps } from '../../console/api';
import { PROVIDERS } from '../../functions/core/providers';
import { ROUTES } from '../../functions/core/routes';
import { EVENT_STATUSES, type EventRecord } from '../../functions/core/table';
import { verifySignature } from '../../functions/core/verify';
import { sampleTypes } from '../../ops/deliveries';
import { memoryTarget, type MemoryTables } from '../support/memory-target';

/**
 * The event detail and the actions of the console's JSON API: the timeline a page draws, the
 * commands it offers to copy, and what replay, redrive, the dead-letter view, refused deliveries
 * and a test delivery answer, bad bodies included. The target is held in memory
 * (test/support/memory-target.ts); test deliveries go to a receiver on 127.0.0.1 that checks
 * their signature as the real one does.
 */

const NOW_MS = Date.parse('2026-06-01T12:00:00.000Z');
const AT = (minutesAgo: number) => new Date(NOW_MS - minutesAgo * 60_000).toISOString();

function record(id: string, fields: Partial<EventRecord> = {}): EventRecord {
  return {
    pk: `together#${id}`,
    status: 'handled',
    provider: 'together',
    eventId: id,
    route: 'other',
    providerType: 'demo',
    subject: 'ft-1',
    receivedAt: AT(10),
    receivedDay: AT(10).slice(0, 10),
    event: '{"id":"x"}',
    expiresAt: Math.floor(NOW_MS / 1000) + 86_400,
    ...fields,
  };
}

function api(tables: MemoryTables, deps: Partial<ConsoleDeps> = {}, options: Parameters<typeof memoryTarget>[1] = {}) {
  return consoleApi({ target: memoryTarget(tables, options), clock: () => NOW_MS, env: {}, providers: ['together'], ...deps });
}

describe('[RULE] console API: an event\'s detail', () => {
  it('[RULE] a handled event\'s timeline reads received, queued, replayed (with the count) and handled, in that order', async () => {
    const events = [record('e1', { queuedAt: AT(9), replayedAt: AT(5), replayCount: 2, handledAt: AT(4) }), record('e2', { replayedAt: AT(5) })];

    const detail = await api({ events }).event('together#e1');
    const once = await api({ events }).event('together#e2');

    expect(detail?.timeline).toEqual([
      { label: 'received', at: AT(10) },
      { label: 'queued', at: AT(9) },
      { label: 'replayed (2×)', at: AT(5) },
      { label: 'handled', at: AT(4) },
    ]);
    expect(once?.timeline.map((step) => step.label)).toEqual(['received', 'replayed (1×)', 'handled']);
  });

  it('[RULE] an event being worked on shows its status and, where it has one, until when its lease runs', async () => {
    const leaseSeconds = Math.floor(NOW_MS / 1000) + 60;
    const events = [record('busy', { status: 'in_progress', leaseExpiresAt: leaseSeconds }), record('handling', { status: 'handling' }), record('queued', { status: 'queued' })];
    const console = api({ events });

    expect((await console.event('together#busy'))?.timeline).toEqual([{ label: 'received', at: AT(10) }, { label: 'in_progress', until: new Date(leaseSeconds * 1000).toISOString() }]);
    expect((await console.event('together#handling'))?.timeline).toEqual([{ label: 'received', at: AT(10) }, { label: 'handling' }]);
    expect((await console.event('together#queued'))?.timeline).toEqual([{ label: 'received', at: AT(10) }]);
  });

  it('[RULE] a failed event\'s timeline ends with when it failed, where known, and its error', async () => {
    const events = [record('f1', { status: 'failed', failedAt: AT(3), lastError: 'boom' }), record('f2', { status: 'failed', lastError: 'older' })];
    const console = api({ events });

    expect((await console.event('together#f1'))?.timeline.at(-1)).toEqual({ label: 'failed', at: AT(3), error: 'boom' });
    expect((await console.event('together#f2'))?.timeline.at(-1)).toEqual({ label: 'failed', error: 'older' });
  });

  it('[RULE] the detail carries the record with its event parsed and no lease token, and commands that quote the key for the shell', async () => {
    const events = [record("it's", { leaseToken: 'tok-1' })];

    const detail = await api({ events }, { stackName: 'prod stack' }).event("together#it's");
    const local = await api({ events }).event("together#it's");

    expect(detail?.record).toMatchObject({ pk: "together#it's", event: { id: 'x' } });
    expect(detail?.record).not.toHaveProperty('leaseToken');
    expect(detail?.commands).toEqual({
      show: `npx webhooks events show 'together#it'\\''s' --payload --stack 'prod stack'`,
      replay: `npx webhooks replay 'together#it'\\''s' --stack 'prod stack'`,
    });
    expect(local?.commands.replay).toBe(`npx webhooks replay 'together#it'\\''s'`);
  });

  it('[RULE] locally, the detail says what the bus published for the event, without the detail itself', async () => {
    const entry = { Source: 'webhooks', DetailType: 'other', Detail: '{"a":1}', publishedAt: AT(2) };
    const tables = { events: [record('e1'), record('e2')], bus: [{ pk: 'together#e1', entry, times: 2 }] };

    const published = await api(tables, {}, { bus: true }).event('together#e1');
    const none = await api(tables, {}, { bus: true }).event('together#e2');
    const noBus = await api(tables).event('together#e1');

    expect(published?.published).toEqual({ source: 'webhooks', detailType: 'other', publishedAt: AT(2), times: 2, truncated: false, detailBytes: 7 });
    expect(none).not.toHaveProperty('published');
    expect(noBus).not.toHaveProperty('published');
  });

  it('[RULE] an event that is not there answers nothing; a malformed key is refused naming the form', async () => {
    const console = api({ events: [record('e1')] });

    expect(await console.event('together#gone')).toBeUndefined();
    await expect(console.event('e1')).rejects.toThrow('"e1" is not an event key: write <provider>#<eventId>');
  });
});

describe('[RULE] console API: replay', () => {
  const refusal = 'send {"keys": ["<provider>#<eventId>", …]} with 1 to 100 keys, and "status" when they were selected by one';

  it('[RULE] a replay body without 1 to 100 string keys is refused with what to send', async () => {
    const console = api({});

    for (const body of [{}, { keys: 'together#e1' }, { keys: [] }, { keys: Array.from({ length: 101 }, (_, index) => `together#e${index}`) }, { keys: ['together#e1', 7] }]) {
      await expect(console.replay(body), JSON.stringify(body).slice(0, 40)).rejects.toMatchObject({ name: 'UsageError', message: refusal });
    }
  });

  it('[RULE] 100 keys are replayed, each answered with its outcome and its line of text', async () => {
    const keys = Array.from({ length: 100 }, (_, index) => `together#e${index}`);

    const { outcomes } = await api({}).replay({ keys });

    expect(outcomes).toHaveLength(100);
    expect(outcomes[99]).toEqual({ key: 'together#e99', result: 'not_found', text: 'not found together#e99: no such event record (expired, or a wrong key?)' });
  });

  it('[RULE] a replay by status takes only a known status, and says which are', async () => {
    const console = api({});

    await expect(console.replay({ keys: ['together#e1'], status: 'done' })).rejects.toThrow(`"status" must be one of ${EVENT_STATUSES.join(', ')}; got "done"`);
    await expect(console.replay({ keys: ['together#e1'], status: 3 })).rejects.toThrow(`"status" must be one of ${EVENT_STATUSES.join(', ')}; got 3`);
    await expect(console.replay({ keys: ['together#e1'], status: 'failed' })).resolves.toMatchObject({ outcomes: [{ result: 'not_found' }] });
  });

  it('[RULE] a replay of events selected by a status skips one that has moved on since, and says so', async () => {
    const { outcomes } = await api({ events: [record('e1')] }).replay({ keys: ['together#e1'], status: 'failed' });

    expect(outcomes).toEqual([{ key: 'together#e1', result: 'moved_on', status: 'handled', selected: 'failed', text: 'skipped together#e1: now handled, no longer failed; nothing to replay' }]);
  });

  it('[RULE] a replay naming a malformed key is refused before any event is replayed', async () => {
    await expect(api({}).replay({ keys: ['together#e1', 'e2'] })).rejects.toThrow('"e2" is not an event key');
  });
});

describe('[RULE] console API: dead letters', () => {
  it('[RULE] the dead-letter view gives each route\'s depth, a peek only when asked, and the oldest peeked letter\'s time', async () => {
    // A letter whose SentTimestamp SQS did not give (0 here) has no time to show.
    const console = api({ deadLetters: { other: [NOW_MS - 5_000, NOW_MS - 9_000, NOW_MS - 7_000], 'batch.failed': [0] } }, { stackName: 's1' });

    const plain = await console.deadLetters(new URLSearchParams());
    const peeked = await console.deadLetters(new URLSearchParams({ peek: '2' }));

    expect(plain.routes.map((report) => report.route)).toEqual(ROUTES);
    expect(plain.routes.find((report) => report.route === 'other')).toEqual({ route: 'other', depth: { visible: 3, inFlight: 0 }, peek: [] });
    expect(plain.redriveCommand).toBe(`npx webhooks dlq redrive --all --stack 's1'`);
    const other = peeked.routes.find((report) => report.route === 'other');
    expect(other?.peek).toHaveLength(2);
    expect(other?.oldestSeenAt).toBe(new Date(NOW_MS - 9_000).toISOString());
    expect(peeked.routes.find((report) => report.route === 'batch.failed')).toEqual({ route: 'batch.failed', depth: { visible: 1, inFlight: 0 }, peek: [{ messageId: 'm0' }] });
    expect(peeked.routes.find((report) => report.route === 'batch.expired')).not.toHaveProperty('oldestSeenAt');
  });

  it('[RULE] a peek of more than 10 is refused naming the bound', async () => {
    await expect(api({}).deadLetters(new URLSearchParams({ peek: '11' }))).rejects.toThrow('peek must be a whole number from 0 to 10; got "11"');
  });
});

describe('[RULE] console API: redrive', () => {
  it('[RULE] a redrive of every route moves each route\'s dead letters back and answers the total moved', async () => {
    const console = api({ deadLetters: { other: [NOW_MS, NOW_MS], 'batch.failed': [NOW_MS] } });

    const answer = await console.redrive({ all: true });

    expect(answer.moved).toBe(3);
    expect(answer.results).toEqual([
      { route: 'batch.failed', moved: 1, failed: 0 },
      { route: 'other', moved: 2, failed: 0 },
    ]);
  });

  it('[RULE] a local redrive keeps the record of each event it moves back at least as long as its new copy', async () => {
    const events = [record('e1', { expiresAt: Math.floor(NOW_MS / 1000) + 60 })];
    const console = api({ events, deadLetters: { other: [{ sentMs: NOW_MS, eventId: 'e1' }] } });

    await console.redrive({ route: 'other' });

    const kept = (await console.event('together#e1'))?.record.expiresAt as number;
    expect(kept).toBeGreaterThanOrEqual(Math.floor(NOW_MS / 1000) + 7 * 86_400);
  });

  it('[RULE] a redrive of one route moves that route\'s dead letters only', async () => {
    const answer = await api({ deadLetters: { other: [NOW_MS], 'batch.failed': [NOW_MS] } }).redrive({ route: 'other' });

    expect(answer).toEqual({ results: [{ route: 'other', moved: 1, failed: 0 }], moved: 1 });
  });

  it('[RULE] on a stack, a redrive answers as soon as the move task started, without waiting for it', async () => {
    const answer = await api({ deadLetters: { other: [NOW_MS] } }, {}, { kind: 'aws' }).redrive({ route: 'other' });

    expect(answer).toEqual({ results: [{ route: 'other', moved: 0, failed: 0, taskHandle: 'task-of-arn:dlq:other', status: 'RUNNING' }], moved: 0 });
  });

  it('[RULE] a redrive body must name one known route or all, and a wrong one is refused with the routes', async () => {
    const console = api({ deadLetters: { other: [NOW_MS] } });

    for (const body of [{}, { all: false }, { all: 'yes' }, { route: 'other', all: true }]) {
      await expect(console.redrive(body)).rejects.toThrow('send {"route": "<route>"} or {"all": true}');
    }
    await expect(console.redrive({ route: 'nowhere' })).rejects.toThrow(`"nowhere" is not a route; routes: ${ROUTES.join(', ')}`);
    await expect(console.redrive({ route: 5 })).rejects.toThrow('"5" is not a route');
  });
});

describe('[RULE] console API: refused deliveries', () => {
  it('[RULE] locally the refused deliveries are listed; a stack is told they are in its logs', () => {
    const rejection = { at: AT(1), provider: 'together', status: 401, reason: 'bad signature' };

    expect(api({}, { rejections: () => [rejection] as never }).rejections()).toEqual({ rejections: [rejection] });
    expect(() => api({}).rejections()).toThrow('refused deliveries are kept by the local runtime only; a stack logs them in CloudWatch ("delivery rejected")');
  });
});

describe('[RULE] console API: a test delivery', () => {
  let receiver: Server;
  let receiverUrl: string;
  const received: { headers: IncomingHttpHeaders; path: string }[] = [];
  const SECRET = 'op-chosen-secret';

  beforeAll(async () => {
    // As the receiver does: 200 for a delivery signed with the secret (by the scheme its headers show), 401 otherwise.
    receiver = createServer((incoming, answer) => {
      const parts: Buffer[] = [];
      incoming.on('data', (part: Buffer) => parts.push(part));
      incoming.on('end', () => {
        received.push({ headers: incoming.headers, path: incoming.url ?? '' });
        const schemes = PROVIDERS.together.signatureSchemes;
        const spec = incoming.headers['x-together-timestamp'] === undefined ? schemes.body : schemes.timestamped;
        try {
          verifySignature({ spec: spec!, headers: incoming.headers as Record<string, string>, body: Buffer.concat(parts), secrets: [SECRET], nowSeconds: NOW_MS / 1000 });
          answer.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"accepted"}');
        } catch {
          answer.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid signature"}');
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('[RULE] a test delivery is signed with the operator\'s secret and scheme and answers its id, status and outcome', async () => {
    const console = api({}, { receiverUrl, env: { TOGETHER_WEBHOOK_SECRET: SECRET, TOGETHER_SIGNATURE_SCHEME: ' body ' } });

    const answer = await console.send({ provider: 'together', type: 'fine_tune.completed' });

    expect(answer).toEqual({ url: receiverUrl, id: expect.stringMatching(/^evt_/), status: 200, outcome: 'accepted' });
    expect(received.at(-1)?.headers['x-together-timestamp']).toBeUndefined();
    expect(received.at(-1)?.path).toBe('/webhooks/together');
  });

  it('[RULE] without a secret or scheme set, a local test delivery is signed with the development secret by the default scheme', async () => {
    const answer = await api({}, { receiverUrl, env: { TOGETHER_SIGNATURE_SCHEME: '' } }).send({ provider: 'together', type: 'fine_tune.completed' });

    expect(answer).toMatchObject({ status: 401, outcome: 'invalid signature' });
    expect(received.at(-1)?.headers['x-together-timestamp']).toEqual(expect.any(String));
  });

  it('[RULE] a test delivery of a provider not enabled, or of a type it has no sample of, is refused naming what is', async () => {
    const console = api({}, { receiverUrl, providers: ['together', 'llmtune'] });

    await expect(console.send({ provider: 'openai', type: 'x' })).rejects.toThrow('provider must be one of together, llmtune; got "openai"');
    await expect(console.send({ type: 'x' })).rejects.toThrow('provider must be one of together, llmtune; got "undefined"');
    await expect(console.send({ provider: 'together', type: 'nope' })).rejects.toThrow(`together has no sample of type "nope"; known: ${sampleTypes('together').join(', ')}`);
    await expect(console.send({ provider: 'together', type: 4 })).rejects.toThrow('together has no sample of type "4"');
  });

  it('[RULE] to a stack, a test delivery goes to the provider\'s webhook URL signed with the operator\'s secret', async () => {
    const webhookUrl = `${receiverUrl}/webhooks/together`;
    const stack = consoleApi({ target: { ...memoryTarget({}), webhookUrls: { together: webhookUrl } }, clock: () => NOW_MS, env: { TOGETHER_WEBHOOK_SECRET: SECRET }, providers: ['together'] });

    const answer = await stack.send({ provider: 'together', type: 'fine_tune.completed' });

    expect(answer).toMatchObject({ url: webhookUrl, status: 200, outcome: 'accepted' });
  });

  it('[RULE] to a stack, a test delivery needs the provider\'s webhook URL and the operator\'s secret', async () => {
    const noUrl = api({}, { stackName: 's1' });
    const noSecret = consoleApi({ target: { ...memoryTarget({}), webhookUrls: { together: receiverUrl } }, clock: () => NOW_MS, env: {}, providers: ['together'] });

    await expect(noUrl.send({ provider: 'together', type: 'fine_tune.completed' })).rejects.toMatchObject({ name: 'CliError', message: 'memory target has no WebhookUrl output for together: is the provider enabled there?' });
    await expect(noSecret.send({ provider: 'together', type: 'fine_tune.completed' })).rejects.toMatchObject({
      name: 'UsageError',
      message: 'set TOGETHER_WEBHOOK_SECRET in the shell that runs `webhooks console` to a secret the stack accepts',
    });
  });
});
