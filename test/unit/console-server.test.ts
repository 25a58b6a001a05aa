import { request, type IncomingHttpHeaders } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { startConsoleServer } from '../../console/server';
import { CliError } from '../../ops/errors';
import type { Rejection } from '../../ops/rejections';
import { rawRequest, type RawAnswer } from '../support/net';
import { stubTarget } from '../support/stub-target';

/**
 * What the console's own server answers a logged-in page (and the odd request a browser or a
 * script may send): which path answers what, with which status, body and headers, and what an
 * error tells the user without quoting what it should not. Each test starts its own console on
 * 127.0.0.1, against a target whose every read finds nothing.
 */

const target = stubTarget('empty target');

type Console = Awaited<ReturnType<typeof startConsoleServer>>;
const started: Console[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

/** A console logged in to, as its page: `read` and `change` send what the page sends, `raw` only the session cookie and Host. */
async function openConsole(rejections?: () => readonly Rejection[]) {
  const server = await startConsoleServer(
    { target, clock: () => Date.now(), env: {}, providers: ['together'], receiverUrl: 'http://127.0.0.1:9', ...(rejections === undefined ? {} : { rejections }) },
    0,
  );
  started.push(server);
  const host = new URL(server.url).host;
  const login = new URL(server.loginUrl);
  const loggedIn = await rawRequest(server.url, 'GET', `${login.pathname}${login.search}`, { host });
  const cookie = String(loggedIn.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
  const page = await rawRequest(server.url, 'GET', '/', { host, cookie });
  const token = /name="console-token" content="([0-9a-f]+)"/.exec(page.body)?.[1] ?? '';
  const session = { host, cookie };
  const fromThePage = { ...session, 'x-console-token': token, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' };
  return {
    server,
    session,
    fromThePage,
    loggedIn,
    raw: (method: string, path: string, headers: Record<string, string> = {}) => rawRequest(server.url, method, path, { ...session, ...headers }),
    read: (path: string) => rawRequest(server.url, 'GET', path, { ...session, 'x-console-token': token }),
    change: (path: string, body: string | Buffer, method = 'POST', contentType = 'application/json') =>
      rawRequest(server.url, method, path, { ...fromThePage, 'content-type': contentType }, [body]),
  };
}

const errorOf = (answer: RawAnswer) => (JSON.parse(answer.body) as { error: string }).error;

describe('[RULE] console server: where it listens', () => {
  it('[RULE] the console listens on 127.0.0.1 only, prints URLs of the port it bound, and stops listening when closed', async () => {
    const server = await startConsoleServer({ target, clock: () => Date.now(), env: {}, providers: ['together'] }, 0);
    started.push(server);
    const address = server.server.address() as AddressInfo;

    expect(address.address).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${address.port}/`);
    expect(server.loginUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${address.port}/login\\?secret=[0-9a-f]{64}$`));
    await server.close();
    expect(server.server.listening).toBe(false);
  });

  it('[RULE] a console asked for a port already taken fails to start with EADDRINUSE', async () => {
    const taken = createTcpServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;

    try {
      await expect(startConsoleServer({ target, clock: () => Date.now(), env: {}, providers: ['together'] }, port)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describe('[RULE] console server: login', () => {
  it('[RULE] a right login answers 303 to the page, with an empty body', async () => {
    const { loggedIn } = await openConsole();

    expect(loggedIn.status).toBe(303);
    expect(loggedIn.headers).toMatchObject({ location: '/', 'content-length': '0' });
    expect(loggedIn.body).toBe('');
  });

  it('[RULE] a login posted instead of opened is refused with 405 and says to open it with GET', async () => {
    const { server, raw } = await openConsole();
    const login = new URL(server.loginUrl);

    const answer = await raw('POST', `${login.pathname}${login.search}`);

    expect(answer.status).toBe(405);
    expect(errorOf(answer)).toBe('open the login URL with GET');
  });
});

describe('[RULE] console server: the page and its assets', () => {
  it('[RULE] the script and the style sheet are served with their own content types, and gzipped only to a browser that accepts gzip', async () => {
    const { raw, server, session } = await openConsole();

    const [script, style] = await Promise.all([raw('GET', '/app.js'), raw('GET', '/app.css')]);
    const zipped = await gotBytes(server.url, '/app.js', { ...session, 'accept-encoding': 'br, gzip' });

    expect(script.status).toBe(200);
    expect(script.headers).toMatchObject({ 'content-type': 'text/javascript; charset=utf-8', vary: 'accept-encoding', 'x-content-type-options': 'nosniff' });
    expect(script.headers['content-encoding']).toBeUndefined();
    expect(style.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(zipped.headers).toMatchObject({ 'content-encoding': 'gzip', vary: 'accept-encoding', 'content-type': 'text/javascript; charset=utf-8' });
    expect(gunzipSync(zipped.body).toString('utf8')).toBe(script.body);
  });

  it('[RULE] HEAD of the page answers its headers and no body', async () => {
    const { raw } = await openConsole();

    const [head, get] = await Promise.all([raw('HEAD', '/'), raw('GET', '/')]);

    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.body).toBe('');
    expect(get.body).toContain('<!doctype html>');
  });

  it('[RULE] an unknown page answers 404 and points to /', async () => {
    const { raw } = await openConsole();

    const answer = await raw('GET', '/settings');

    expect(answer.status).toBe(404);
    expect(errorOf(answer)).toBe('no page /settings: open / for the console');
  });

  it('[RULE] a page sent anything but GET or HEAD is refused with 405 and says pages are read with GET', async () => {
    const { raw } = await openConsole();

    const answer = await raw('DELETE', '/app.js');

    expect(answer.status).toBe(405);
    expect(errorOf(answer)).toBe('the console pages are read with GET');
  });
});

describe('[RULE] console server: the API', () => {
  it('[RULE] each read of the page answers 200 with JSON of its own shape', async () => {
    const { read } = await openConsole(() => []);

    const answers = await Promise.all(['/api/info', '/api/events', '/api/counts', '/api/dlq', '/api/jobs', '/api/rejections'].map(read));

    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(answers.map((answer) => answer.headers['content-type'])).toEqual(Array(6).fill('application/json; charset=utf-8'));
    const [info, events, counts, dlq, jobs, rejections] = answers.map((answer) => JSON.parse(answer.body) as Record<string, unknown>);
    expect(info).toMatchObject({ target: 'empty target', kind: 'local', providers: [{ name: 'together' }] });
    expect(events).toEqual({ events: [] });
    expect(counts).toMatchObject({ counts: { handled: 0, failed: 0 } });
    expect(dlq).toMatchObject({ redriveCommand: 'npx webhooks dlq redrive --all' });
    expect(jobs).toEqual({ jobs: [] });
    expect(rejections).toEqual({ rejections: [] });
  });

  it('[RULE] an event or a job that is not there answers 404 and says why it may be missing', async () => {
    const { read } = await openConsole();

    const [event, job] = await Promise.all([read('/api/event?key=together%23evt_gone'), read('/api/job?key=together%23ft-gone')]);

    expect([event.status, job.status]).toEqual([404, 404]);
    expect(errorOf(event)).toBe('no such event (expired, or a wrong key?)');
    expect(errorOf(job)).toBe('no such job (no event of it handled yet, or a wrong key?)');
  });

  it('[RULE] an event or a job asked without a key is refused with 400 that quotes the empty key', async () => {
    const { read } = await openConsole();

    const [event, job] = await Promise.all([read('/api/event'), read('/api/job')]);

    expect([event.status, job.status]).toEqual([400, 400]);
    expect(errorOf(event)).toMatch(/^"" is not an event key/);
    expect(errorOf(job)).toMatch(/^"" is not a job key/);
  });

  it('[RULE] an unknown API path answers 404 naming the method and path', async () => {
    const { read } = await openConsole();

    const answer = await read('/api/nothing');

    expect(answer.status).toBe(404);
    expect(errorOf(answer)).toBe('no GET /api/nothing');
  });

  it('[RULE] a read sent as POST, and an action sent as PUT, are refused with 405 naming the method and path', async () => {
    const { change } = await openConsole();

    const [posted, put] = await Promise.all([change('/api/events', '{}'), change('/api/redrive', '{"all":true}', 'PUT')]);

    expect([posted.status, put.status]).toEqual([405, 405]);
    expect(errorOf(posted)).toBe('no POST /api/events');
    expect(errorOf(put)).toBe('no PUT /api/redrive');
  });

  it('[RULE] a redrive from the page answers what it moved', async () => {
    const { change } = await openConsole();

    const answer = await change('/api/redrive', '{"all":true}');

    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ moved: 0 });
  });

  it('[RULE] a replay from the page answers one outcome per key, with the text the page shows', async () => {
    const { change } = await openConsole();

    const answer = await change('/api/replay', '{"keys":["together#evt_1"]}');

    expect(answer.status).toBe(200);
    const { outcomes } = JSON.parse(answer.body) as { outcomes: { key: string; text: string }[] };
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ key: 'together#evt_1', text: expect.stringContaining('together#evt_1') });
  });
});

describe('[RULE] console server: action bodies', () => {
  it('[RULE] an action with a charset in its content type is taken', async () => {
    const { change } = await openConsole();

    const answer = await change('/api/redrive', '{"all":true}', 'POST', 'application/json; charset=utf-8');

    expect(answer.status).toBe(200);
  });

  it('[RULE] an action not sent as JSON is refused with 415 that says actions take application/json', async () => {
    const { change } = await openConsole();

    const answer = await change('/api/redrive', '{"all":true}', 'POST', 'text/plain');

    expect(answer.status).toBe(415);
    expect(errorOf(answer)).toBe('actions take application/json');
  });

  it('[RULE] an action without a Content-Type is refused with 415 like one not sent as JSON', async () => {
    const { server, fromThePage } = await openConsole();

    const answer = await rawRequest(server.url, 'POST', '/api/redrive', fromThePage, ['{"all":true}']);

    expect(answer.status).toBe(415);
    expect(errorOf(answer)).toBe('actions take application/json');
  });

  it('[RULE] an action body of exactly 64 KiB is read; one byte more is refused with 413 naming the bound', async () => {
    const { change } = await openConsole();
    const sized = (bytes: number) => {
      const start = '{"all":true,"pad":"';
      return `${start}${'x'.repeat(bytes - start.length - 2)}"}`;
    };

    const [atBound, over] = await Promise.all([change('/api/redrive', sized(64 * 1024)), change('/api/redrive', sized(64 * 1024 + 1))]);

    expect(atBound.status).toBe(200);
    expect(over.status).toBe(413);
    expect(errorOf(over)).toBe('an action body is at most 65536 bytes');
  });

  it('[RULE] an empty action body is read as {} and gets the action\'s own message of what to send', async () => {
    const { change } = await openConsole();

    const answer = await change('/api/redrive', '');

    expect(answer.status).toBe(400);
    expect(errorOf(answer)).toBe('send {"route": "<route>"} or {"all": true}');
  });

  it('[RULE] an action body of JSON null is refused with 400: not a JSON object', async () => {
    const { change } = await openConsole();

    const answer = await change('/api/redrive', 'null');

    expect(answer.status).toBe(400);
    expect(errorOf(answer)).toBe('the action body is not a JSON object');
  });
});

describe('[RULE] console server: failures', () => {
  it('[RULE] a failure of the target answers 502 with its message', async () => {
    const { read } = await openConsole(() => {
      throw new CliError('the runtime is not answering: is `npm start` running?');
    });

    const answer = await read('/api/rejections');

    expect(answer.status).toBe(502);
    expect(errorOf(answer)).toBe('the runtime is not answering: is `npm start` running?');
  });

  it('[RULE] an unexpected failure answers 500 as JSON, with the security headers, and does not quote the error', async () => {
    const { read } = await openConsole(() => {
      throw new Error('secret payload: sk-live-123');
    });

    const answer = await read('/api/rejections');

    expect(answer.status).toBe(500);
    expect(answer.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', 'x-frame-options': 'DENY', 'cache-control': 'no-store' });
    expect(answer.body).not.toContain('sk-live');
    expect(errorOf(answer)).toBe('the console failed on this request; its terminal has nothing more (the error is not shown, as it may quote data)');
  });
});

/** One GET whose body is kept as bytes (a gzipped body is no UTF-8 text). */
function gotBytes(base: string, path: string, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    request({ host: url.hostname, port: url.port, path: url.pathname, headers }, (answer) => {
      const parts: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => parts.push(chunk));
      answer.on('end', () => resolve({ headers: answer.headers, body: Buffer.concat(parts) }));
    })
      .on('error', reject)
      .end();
  });
}
