import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsoleServer } from '../../console/server';
import { rawRequest, type RawAnswer } from '../support/net';
import { stubTarget } from '../support/stub-target';

/**
 * The console's login and session rules as a browser meets them, over real HTTP to two consoles on
 * this host: what the printed login URL holds, which cookie a login sets and how it is read among
 * a browser's other cookies, what each refusal tells the user to do, and the headers that bind the
 * page. The target answers every read with nothing: these rules are decided before any read.
 */


const send = (base: string, path: string, headers: Record<string, string>, method = 'GET') => rawRequest(base, method, path, headers);

const target = stubTarget('empty target');

type Console = Awaited<ReturnType<typeof startConsoleServer>>;
const consoles: Console[] = [];
const start = async () => {
  const started = await startConsoleServer({ target, clock: () => Date.now(), env: {}, providers: ['together'], receiverUrl: 'http://127.0.0.1:9' }, 0);
  consoles.push(started);
  return started;
};
const hostOf = (server: Console) => new URL(server.url).host;
/** Opens the login URL as a browser would: the `name=value` of the cookie it sets. */
async function logIn(server: Console): Promise<string> {
  const login = new URL(server.loginUrl);
  const answer = await send(server.url, `${login.pathname}${login.search}`, { host: hostOf(server) });
  return String(answer.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
}
const tokenOf = (page: RawAnswer) => /name="console-token" content="([0-9a-f]+)"/.exec(page.body)?.[1] ?? '';

let first: Console;
let second: Console;
beforeAll(async () => {
  first = await start();
  second = await start();
});
afterAll(async () => {
  await Promise.all(consoles.map((server) => server.close()));
});

describe('[RULE] console login', () => {
  it('[RULE] each console prints its own login URL, with a secret of 64 hex characters', () => {
    const pattern = /^http:\/\/127\.0\.0\.1:\d+\/login\?secret=[0-9a-f]{64}$/;
    expect(first.loginUrl).toMatch(pattern);
    expect(second.loginUrl).toMatch(pattern);
    expect(new URL(first.loginUrl).searchParams.get('secret')).not.toBe(new URL(second.loginUrl).searchParams.get('secret'));
  });

  it('[RULE] the login cookie is HttpOnly, SameSite=Strict, for the whole console, and holds a 64-hex session', async () => {
    const login = new URL(first.loginUrl);
    const answer = await send(first.url, `${login.pathname}${login.search}`, { host: hostOf(first) });

    expect(answer.headers['set-cookie']?.[0]).toMatch(/^webhooks-console-\d+=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict$/);
  });

  it('[RULE] the login URL without its secret is refused with 403, says where the right URL is, and sets no cookie', async () => {
    const answer = await send(first.url, '/login', { host: hostOf(first) });

    expect(answer.status).toBe(403);
    expect(answer.body).toContain('wrong or missing login secret: open the login URL the console printed when it started');
    expect(answer.headers['set-cookie']).toBeUndefined();
  });

  it('[RULE] logging in to a second console on this host does not log the first out: each keeps its own cookie', async () => {
    const jar = [await logIn(first), await logIn(second)];
    const names = jar.map((pair) => pair.split('=')[0]);

    expect(new Set(names).size).toBe(2);
    const pages = await Promise.all([first, second].map((server) => send(server.url, '/', { host: hostOf(server), cookie: jar.join('; ') })));
    expect(pages.map((page) => page.status)).toEqual([200, 200]);
  });

  it("[RULE] the session is found among the browser's other cookies of this host, a valueless one included", async () => {
    const cookie = await logIn(first);
    const name = cookie.split('=')[0] ?? '';

    const page = await send(first.url, '/', { host: hostOf(first), cookie: `theme=dark; ${name}x; ${cookie}` });

    expect(page.status).toBe(200);
  });
});

describe('[RULE] what a refused request tells the user', () => {
  it('[RULE] without the login cookie: 401, log in with the printed URL', async () => {
    const answer = await send(first.url, '/api/events', { host: hostOf(first) });

    expect(answer.status).toBe(401);
    expect(answer.body).toContain('log in first: open the login URL the console printed when it started');
  });

  it('[RULE] a read with a token of another length is refused with 403, reload the page', async () => {
    const cookie = await logIn(first);

    const answer = await send(first.url, '/api/events', { host: hostOf(first), cookie, 'x-console-token': 'abc' });

    expect(answer.status).toBe(403);
    expect(answer.body).toContain('missing or wrong x-console-token: reload the console page');
  });

  it('[RULE] a change marked cross-site says that such a request may not change anything', async () => {
    const cookie = await logIn(first);
    const token = tokenOf(await send(first.url, '/', { host: hostOf(first), cookie }));

    const answer = await send(
      first.url,
      '/api/replay',
      { host: hostOf(first), cookie, 'x-console-token': token, origin: `http://${hostOf(first)}`, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
      'POST',
    );

    expect(answer.status).toBe(403);
    expect(answer.body).toContain('a cross-site request may not change anything');
  });
});

describe('[RULE] the page is bound by its headers', () => {
  it('[RULE] the page runs only its own script and styles, cannot be framed, sniffed, cached or referred', async () => {
    const cookie = await logIn(first);

    const page = await send(first.url, '/', { host: hostOf(first), cookie });

    expect(page.status).toBe(200);
    expect(page.headers).toMatchObject({
      'content-security-policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'cache-control': 'no-store',
    });
  });
});
