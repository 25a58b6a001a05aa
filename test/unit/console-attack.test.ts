import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../functions/core/table';
import { startConsoleServer } from '../../console/server';
import type { Target } from '../../ops/target';
import { rawRequest } from '../support/net';
import { routeQueues, stubTarget } from '../support/stub-target';

/**
 * The console's refusals, each sent as an attacker would: a real HTTP request to a real console
 * server on 127.0.0.1. The console works against a target whose clients record every call and
 * a receiver URL that records every delivery, so "nothing changed" is "nothing was called".
 */


/** One raw request: every header as given (Host, Origin, Sec-Fetch-Site included), none added. */
const send = (base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
  rawRequest(base, method, path, headers, body === undefined ? [] : [body]);

/** A target whose DynamoDB and SQS clients record each command; `records` answer GetItem by key. */
function recordingTarget(calls: string[], records: Map<string, EventRecord>): Target {
  const client = {
    send: async (command: { constructor: { name: string }; input?: { Key?: { pk?: string } } }) => {
      calls.push(command.constructor.name);
      const key = command.input?.Key?.pk;
      // As DynamoDB answers a conditional update of a record that is not there.
      if (command.constructor.name === 'UpdateCommand' && (key === undefined || !records.has(key))) {
        throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      }
      return { Items: [], Messages: [], ...(key === undefined ? {} : { Item: records.get(key) }) };
    },
  };
  return stubTarget('recording target', client, async () => {
    calls.push('queues');
    return routeQueues();
  });
}

const calls: string[] = [];
const deliveries: string[] = [];
const records = new Map<string, EventRecord>();
let receiver: Server;
let console_: Awaited<ReturnType<typeof startConsoleServer>>;
let other: Awaited<ReturnType<typeof startConsoleServer>>;
let origin: string;
let host: string;
let cookie: string;
let token: string;

async function startConsole(receiverUrl: string) {
  return startConsoleServer(
    { target: recordingTarget(calls, records), clock: () => Date.now(), env: {}, providers: ['together', 'openai'], receiverUrl, stackName: "prod'; touch pwned; '" },
    0,
  );
}

beforeAll(async () => {
  receiver = createServer((incoming, answer) => {
    deliveries.push(`${incoming.method ?? ''} ${incoming.url ?? ''}`);
    incoming.resume();
    answer.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"accepted"}');
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  console_ = await startConsole(receiverUrl);
  other = await startConsole(receiverUrl);
  origin = console_.url.slice(0, -1);
  host = new URL(console_.url).host;
  const login = await send(console_.url, 'GET', new URL(console_.loginUrl).pathname + new URL(console_.loginUrl).search, { host });
  cookie = String(login.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
  const page = await send(console_.url, 'GET', '/', { host, cookie });
  token = /name="console-token" content="([0-9a-f]+)"/.exec(page.body)?.[1] ?? '';
});

afterAll(async () => {
  await console_?.close();
  await other?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

beforeEach(() => {
  calls.length = 0;
  deliveries.length = 0;
  records.clear();
});

const REPLAY = JSON.stringify({ keys: ['together#evt_1'] });
const SEND = JSON.stringify({ provider: 'together', type: 'fine_tune.completed' });
const json = { 'content-type': 'application/json' };
/** Everything a change request from the console page itself carries. */
const fromThePage = () => ({ host, cookie, 'x-console-token': token, origin, 'sec-fetch-site': 'same-origin', ...json });

describe('console: the requests it serves (so that the refusals below are not vacuous)', () => {
  it('[ATTACK] with cookie, token, its own Host and Origin, a read lists from the target and a replay and a send reach it', async () => {
    const read = await send(console_.url, 'GET', '/api/events', { host, cookie, 'x-console-token': token });
    const replay = await send(console_.url, 'POST', '/api/replay', fromThePage(), REPLAY);
    const sent = await send(console_.url, 'POST', '/api/send', fromThePage(), SEND);

    expect(cookie).toMatch(/^webhooks-console-\d+=[0-9a-f]{64}$/);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect([read.status, replay.status, sent.status]).toEqual([200, 200, 200]);
    expect(calls).toContain('QueryCommand');
    expect(calls).toContain('UpdateCommand');
    expect(JSON.parse(replay.body)).toMatchObject({ outcomes: [{ key: 'together#evt_1', result: 'not_found' }] });
    expect(deliveries).toEqual(['POST /webhooks/together']);
  });
});

describe('console: login', () => {
  it('[ATTACK] the login URL opened under another Host (DNS rebinding) is refused with 403 and sets no cookie', async () => {
    const login = new URL(console_.loginUrl);

    const answer = await send(console_.url, 'GET', `${login.pathname}${login.search}`, { host: 'console.attacker.example' });

    expect(answer.status).toBe(403);
    expect(answer.headers['set-cookie']).toBeUndefined();
  });

  it('[ATTACK] a guessed login secret is refused with 403 and sets no cookie', async () => {
    const answer = await send(console_.url, 'GET', `/login?secret=${'a'.repeat(64)}`, { host });

    expect(answer.status).toBe(403);
    expect(answer.headers['set-cookie']).toBeUndefined();
  });

  it('[ATTACK] a login posted by a form of another site, even with the right secret, is refused with 405 and sets no cookie', async () => {
    const login = new URL(console_.loginUrl);

    const answer = await send(console_.url, 'POST', `${login.pathname}${login.search}`, { host, origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, '');

    expect(answer.status).toBe(405);
    expect(answer.headers['set-cookie']).toBeUndefined();
  });

  it('[ATTACK] the login of one console is no login to another console on this host: its cookie, sent there, is refused with 401', async () => {
    const answer = await send(other.url, 'GET', '/', { host: new URL(other.url).host, cookie });

    expect(answer.status).toBe(401);
    expect(answer.body).not.toContain('console-token');
  });
});

describe('console: reads', () => {
  it('[ATTACK] the page without the login cookie is refused with 401 and does not carry the token', async () => {
    const answer = await send(console_.url, 'GET', '/', { host });

    expect(answer.status).toBe(401);
    expect(answer.body).not.toContain(token);
  });

  it('[ATTACK] a read of /api/events with the token but without the login cookie is refused with 401 and lists nothing', async () => {
    const answer = await send(console_.url, 'GET', '/api/events', { host, 'x-console-token': token });

    expect(answer.status).toBe(401);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] a read of /api/events with the login cookie but without the token (a cross-site <img> or <script>) is refused with 403 and lists nothing', async () => {
    const answer = await send(console_.url, 'GET', '/api/events', { host, cookie });

    expect(answer.status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] a read of /api/event with the login cookie and a guessed token is refused with 403 and reads nothing', async () => {
    const answer = await send(console_.url, 'GET', '/api/event?key=together%23evt_1', { host, cookie, 'x-console-token': 'f'.repeat(64) });

    expect(answer.status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] a read naming another Host (a DNS-rebinding page), even with cookie and token, is refused with 403 and lists nothing', async () => {
    const answer = await send(console_.url, 'GET', '/api/events', { host: `rebind.attacker.example:${new URL(console_.url).port}`, cookie, 'x-console-token': token });

    expect(answer.status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] no answer, refused or served, carries a CORS header that would let another origin read it, and a CORS preflight approves nothing', async () => {
    const answers = await Promise.all([
      send(console_.url, 'GET', '/api/events', { host, cookie, origin: 'http://evil.example' }),
      send(console_.url, 'GET', '/api/events', { host, cookie, 'x-console-token': token, origin: 'http://evil.example' }),
      send(console_.url, 'OPTIONS', '/api/replay', { host, origin: 'http://evil.example', 'access-control-request-method': 'POST' }),
    ]);

    expect(answers.map((answer) => answer.headers['access-control-allow-origin'])).toEqual([undefined, undefined, undefined]);
    expect(answers.map((answer) => answer.status)).toEqual([403, 200, 405]);
  });

  it('[ATTACK] a paging cursor the console did not make (a forged skip list) is refused with 400 and lists nothing', async () => {
    const forged = Buffer.from(JSON.stringify({ before: new Date().toISOString(), skip: Array.from({ length: 1_001 }, (_, i) => `k${i}`) })).toString('base64url');

    const answer = await send(console_.url, 'GET', `/api/events?cursor=${forged}`, { host, cookie, 'x-console-token': token });

    expect(answer.status).toBe(400);
    expect(calls).toEqual([]);
  });
});

describe('console: changes', () => {
  it('[ATTACK] a replay with the login cookie but without the token is refused with 403 and replays nothing', async () => {
    const { 'x-console-token': _token, ...tokenless } = fromThePage();

    const answer = await send(console_.url, 'POST', '/api/replay', tokenless, REPLAY);

    expect(answer.status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] a replay with cookie and token but no Origin header is refused with 403 and replays nothing', async () => {
    const { origin: _origin, 'sec-fetch-site': _site, ...originless } = fromThePage();

    const answer = await send(console_.url, 'POST', '/api/replay', originless, REPLAY);

    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toEqual({ error: expect.stringContaining('origin (none)') });
    expect(calls).toEqual([]);
  });

  // Without Sec-Fetch-Site, as browsers older than it send: the Origin alone must refuse it.
  const withoutFetchSite = () => {
    const { 'sec-fetch-site': _site, ...headers } = fromThePage();
    return headers;
  };

  it('[ATTACK] a replay from another origin, with cookie and token, is refused with 403 and replays nothing', async () => {
    const answer = await send(console_.url, 'POST', '/api/replay', { ...withoutFetchSite(), origin: 'http://evil.example' }, REPLAY);

    expect(answer.status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] a replay from a page on another port of this host (Origin of that port) is refused with 403 and replays nothing', async () => {
    const answer = await send(console_.url, 'POST', '/api/replay', { ...withoutFetchSite(), origin: other.url.slice(0, -1) }, REPLAY);

    expect(answer.status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] a replay from a sandboxed frame or file:// page (Origin null) is refused with 403 and replays nothing', async () => {
    const answer = await send(console_.url, 'POST', '/api/replay', { ...withoutFetchSite(), origin: 'null' }, REPLAY);

    expect(answer.status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] a replay marked Sec-Fetch-Site cross-site is refused with 403 even when its Origin names the console', async () => {
    const answer = await send(console_.url, 'POST', '/api/replay', { ...fromThePage(), 'sec-fetch-site': 'cross-site' }, REPLAY);

    expect(answer.status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] a test delivery asked without an Origin is refused with 403 and sends nothing to the receiver', async () => {
    const { origin: _origin, 'sec-fetch-site': _site, ...originless } = fromThePage();

    const answer = await send(console_.url, 'POST', '/api/send', originless, SEND);

    expect(answer.status).toBe(403);
    expect(deliveries).toEqual([]);
  });

  it('[ATTACK] an action sent as a plain HTML form would send it (text/plain) is refused with 415 and replays nothing', async () => {
    const answer = await send(console_.url, 'POST', '/api/replay', { ...fromThePage(), 'content-type': 'text/plain' }, REPLAY);

    expect(answer.status).toBe(415);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] an action body over 64 KiB is refused with 413 and replays nothing', async () => {
    const body = JSON.stringify({ keys: ['together#evt_1'], padding: 'x'.repeat(64 * 1024) });

    const answer = await send(console_.url, 'POST', '/api/replay', fromThePage(), body);

    expect(answer.status).toBe(413);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] an action body that is not a JSON object is refused with 400 and replays nothing', async () => {
    const answer = await send(console_.url, 'POST', '/api/replay', fromThePage(), '"together#evt_1"');

    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ error: 'the action body is not a JSON object' });
    expect(calls).toEqual([]);
  });

  it('[ATTACK] a replay asked by GET (a link or an <img>), with cookie and token, is refused with 405 and replays nothing', async () => {
    const answer = await send(console_.url, 'GET', '/api/replay?keys=together%23evt_1', { host, cookie, 'x-console-token': token });

    expect(answer.status).toBe(405);
    expect(calls).toEqual([]);
  });

  it('[ATTACK] a POST to a console page is refused with 405 and changes nothing', async () => {
    const answer = await send(console_.url, 'POST', '/', fromThePage(), REPLAY);

    expect(answer.status).toBe(405);
    expect(calls).toEqual([]);
  });
});

describe('console: copyable commands', () => {
  it('[ATTACK] an event key holding shell syntax is quoted in the copyable commands: pasted, it runs nothing and reaches the command as one word', async () => {
    const key = `together#evt_'$(touch pwned)'; touch pwned; \`touch pwned\``;
    const event = { id: key.slice('together#'.length), provider: 'together' };
    records.set(key, { pk: key, status: 'failed', provider: 'together', eventId: event.id, route: 'fine_tune.completed', providerType: 'fine_tune.completed', receivedAt: new Date().toISOString(), receivedDay: '2026-01-01', event: JSON.stringify(event), expiresAt: 0 });
    const folder = mkdtempSync(join(tmpdir(), 'console-attack-'));

    const answer = await send(console_.url, 'GET', `/api/event?key=${encodeURIComponent(key)}`, { host, cookie, 'x-console-token': token });
    const { commands } = JSON.parse(answer.body) as { commands: { show: string; replay: string } };
    // The operator pastes the commands into a shell; `printf` stands in for `npx webhooks` and prints the words it got.
    const words = [commands.show, commands.replay].map((command) =>
      execFileSync('sh', ['-c', command.replace(/^npx webhooks /, "printf '%s\\n' ")], { cwd: folder, encoding: 'utf8' }).trimEnd().split('\n'),
    );

    expect(answer.status).toBe(200);
    expect(words).toEqual([
      ['events', 'show', key, '--payload', '--stack', "prod'; touch pwned; '"],
      ['replay', key, '--stack', "prod'; touch pwned; '"],
    ]);
    expect(existsSync(join(folder, 'pwned'))).toBe(false);
  });
});
