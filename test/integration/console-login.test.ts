import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failedEvent, loginCookie, makeEvent, recordOf, sessionHeaders, startConsoleRuntime, type ConsoleRuntime } from '../support/browser';

let local: ConsoleRuntime;

beforeAll(async () => {
  local = await startConsoleRuntime();
});

afterAll(async () => {
  await local?.stop();
});

const API_READS = ['info', 'events', 'counts', 'event?key=x', 'dlq', 'jobs', 'job?key=x', 'rejections'];
const API_CHANGES = ['replay', 'redrive', 'send'];

describe('console login', () => {
  it('[H3-10] without the login cookie the page answers 401', async () => {
    const answer = await fetch(local.url);

    expect(answer.status).toBe(401);
    expect(await answer.text()).not.toContain('console-token');
  });

  it.each(API_READS)('[H3-10] without the login cookie GET /api/%s answers 401', async (route) => {
    const answer = await fetch(`${local.url}api/${route}`);

    expect(answer.status).toBe(401);
  });

  it.each(API_CHANGES)('[H3-10] without the login cookie POST /api/%s answers 401 and changes nothing', async (route) => {
    const key = await failedEvent(local.runtime, makeEvent());

    const answer = await fetch(`${local.url}api/${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: local.url.slice(0, -1) },
      body: JSON.stringify({ keys: [key], all: true, provider: 'together', type: 'fine_tune.completed' }),
    });

    expect(answer.status).toBe(401);
    expect((await recordOf(local.runtime, key))?.status).toBe('failed');
  });

  it('[H3-10] a wrong login secret is refused and sets no cookie', async () => {
    const wrong = new URL(local.loginUrl);
    wrong.searchParams.set('secret', '0'.repeat(64));

    const answer = await fetch(wrong, { redirect: 'manual' });

    expect(answer.status).toBe(403);
    expect(answer.headers.get('set-cookie')).toBeNull();
  });

  it('[H3-10] the printed login URL sets an HttpOnly, SameSite=Strict cookie and redirects to / without the secret', async () => {
    const secret = new URL(local.loginUrl).searchParams.get('secret') ?? '';

    const answer = await fetch(local.loginUrl, { redirect: 'manual' });

    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/');
    const cookie = answer.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/; HttpOnly(;|$)/);
    expect(cookie).toMatch(/; SameSite=Strict(;|$)/);
    expect(cookie).not.toContain(secret);
  });

  it('with the cookie of the login, the page and the API answer', async () => {
    const cookie = await loginCookie(local.loginUrl);

    const page = await fetch(local.url, { headers: { cookie } });
    const headers = await sessionHeaders(local.loginUrl);
    const info = await fetch(`${local.url}api/info`, { headers });

    expect(page.status).toBe(200);
    expect(info.status).toBe(200);
  });

  it('[H3-10] the login URL stays valid until the console stops: a second browser logs in with it too', async () => {
    const first = await fetch(local.loginUrl, { redirect: 'manual' });

    const second = await fetch(local.loginUrl, { redirect: 'manual' });

    expect([first.status, second.status]).toEqual([303, 303]);
  });

  it('[H3-10] a cookie value the console did not give is refused with 401', async () => {
    const [name] = (await loginCookie(local.loginUrl)).split('=');

    const answer = await fetch(local.url, { headers: { cookie: `${name}=${'f'.repeat(64)}` } });

    expect(answer.status).toBe(401);
  });
});
