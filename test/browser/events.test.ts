import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDelivery, postDelivery } from '../../ops/deliveries';
import {
  CHROMIUM,
  SCREENSHOT_DIR,
  failedEvent,
  launchBrowser,
  logIn,
  makeEvent,
  recordOf,
  sessionHeaders,
  startConsoleRuntime,
  watch,
  type ConsoleRuntime,
} from '../support/browser';

let browser: Browser;
let local: ConsoleRuntime;

beforeAll(async () => {
  if (CHROMIUM === undefined) return;
  [browser, local] = await Promise.all([launchBrowser(), startConsoleRuntime()]);
});

afterAll(async () => {
  await browser?.close();
  await local?.stop();
});

/** A signed sample through the real endpoint, as `npm run send` sends it; its event key. */
async function send(type = 'fine_tune.completed'): Promise<string> {
  const delivery = buildDelivery({ provider: 'together', type });
  const answer = await postDelivery(local.runtime.url, delivery);
  expect(answer.status).toBe(200);
  return (JSON.parse(answer.body) as { key: string }).key;
}

/** A new page, logged in, on the console at `path`; `beforeLoad` runs first, e.g. to install a fake clock. */
async function open(path = '', beforeLoad?: (page: Page) => Promise<void>): Promise<{ page: Page; seen: ReturnType<typeof watch> }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const seen = watch(page);
  await beforeLoad?.(page);
  await logIn(page, local);
  await page.goto(`${local.url}${path}`);
  return { page, seen };
}

/** The page's window, for a computed style (the tests compile without the DOM library). */
type BrowserWindow = { getComputedStyle(element: unknown): { unicodeBidi: string } };

describe.skipIf(CHROMIUM === undefined)('web console in Chromium: events', () => {
  it('[H3-10] the printed login URL opens the console and leaves no secret in the address bar; without it a browser gets 401', async () => {
    const stranger = await browser.newPage();
    const page = await browser.newPage();

    const refused = await stranger.goto(local.url);
    await page.goto(local.loginUrl);
    await page.locator('table.events').waitFor();

    expect(refused?.status()).toBe(401);
    expect(page.url()).toBe(local.url);
    expect(await page.evaluate('document.cookie')).toBe('');
    await Promise.all([stranger.close(), page.close()]);
  });

  it('the list shows sent events, newest first, with their status', async () => {
    const first = await send();
    const second = await send('fine_tune.checkpoint');
    const { page, seen } = await open();

    const rows = page.locator('table.events tbody tr');
    await expect.poll(() => rows.first().textContent()).toContain(second);

    const keys = await rows.locator('td:nth-child(2)').allTextContents();
    expect(keys.indexOf(second)).toBeLessThan(keys.indexOf(first));
    expect(await rows.filter({ hasText: first }).locator('.status').textContent()).toBe('queued');
    expect(seen.offMachine).toEqual([]);
    expect(seen.errors).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-events.png') });
    await page.close();
  });

  it('a new event appears within 2 s without a reload', async () => {
    // The page's own clock, paused and moved on by hand: "within 2 s" is two seconds of the page's
    // timers, however slow this machine is, not a race against the wall clock.
    let pending = 0;
    const { page } = await open('', async (fresh) => {
      fresh.on('request', () => void (pending += 1));
      fresh.on('requestfinished', () => void (pending -= 1));
      fresh.on('requestfailed', () => void (pending -= 1));
      await fresh.clock.install();
    });
    await page.locator('table.events').waitFor();
    await page.clock.pauseAt(Date.now() + 60_000);
    // The jump may fire one poll; it must be answered before the event exists.
    await expect.poll(() => pending).toBe(0);

    const key = await send();
    const row = page.locator('table.events tbody tr', { hasText: key });
    expect(await row.count()).toBe(0);
    await page.clock.runFor(2_000);

    // Only the answer to the poll those two seconds started is waited for, in real time.
    await row.waitFor({ timeout: 30_000 });
    await page.close();
  });

  it('the detail view shows the normalized event, its timeline and the webhooks command', async () => {
    const key = await send();
    const { page } = await open();

    await page.getByRole('link', { name: key }).click();

    await expect.poll(() => page.locator('pre.json').textContent()).toContain('"type": "fine_tune.completed"');
    expect(await page.locator('h1').textContent()).toBe(key);
    expect(await page.locator('.timeline').textContent()).toContain('received');
    expect(await page.locator('.timeline').textContent()).toContain('queued');
    expect(await page.locator('.command input').first().inputValue()).toBe(`npx webhooks replay '${key}'`);
    await page.close();
  });

  it('replay changes the status of a failed event to queued and counts the replay', async () => {
    const key = await failedEvent(local.runtime, makeEvent());
    const { page } = await open(`#/event/${encodeURIComponent(key)}`);
    await expect.poll(() => page.locator('.timeline').textContent()).toContain('failed');

    await page.getByRole('button', { name: 'Replay', exact: true }).click();

    await expect.poll(() => page.locator('.result').textContent()).toContain(`replayed ${key} (was failed)`);
    await expect.poll(() => page.locator('.timeline').textContent()).toContain('replayed (1×)');
    expect((await recordOf(local.runtime, key))?.status).toBe('queued');
    await page.close();
  });

  it('a hostile payload stays inert: markup in the id, subject, error and data is shown as text and never runs', async () => {
    const hostile = '<img src=x onerror="window.__pwned=1;alert(1)">';
    const script = '<script>window.__pwned=2;alert(2)</script>';
    const key = await failedEvent(
      local.runtime,
      makeEvent({ id: `evt_${hostile}`, subject: script, data: { jobId: script, errorMessage: hostile }, providerData: { fine_tune_id: hostile } }),
      `${hostile}${script}`,
    );
    const { page, seen } = await open();
    await page.locator('table.events tbody tr', { hasText: script }).waitFor();

    await page.getByRole('link', { name: key }).click();
    await expect.poll(() => page.locator('pre.json').textContent()).toContain(JSON.stringify(hostile).slice(1, -1));

    expect(await page.locator('h1').textContent()).toBe(key);
    expect(await page.locator('.timeline').textContent()).toContain(script);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('main script').count()).toBe(0);
    expect(seen.dialogs).toEqual([]);
    expect(seen.errors).toEqual([]);
    await page.close();
  });

  it('[H3-12] every element showing an event key or id isolates it, so bidi controls in a stored id cannot reorder the text around it', async () => {
    // Stored as a release that accepted bidi controls in ids would have stored it.
    const key = await failedEvent(local.runtime, makeEvent({ id: `\u202e321_evil_tve_${Date.now()}` }));
    const { page } = await open();
    const isolation = (locator: ReturnType<Page['locator']>) => locator.evaluate((element) => (globalThis as unknown as BrowserWindow).getComputedStyle(element).unicodeBidi);

    const listLink = page.getByRole('link', { name: key });
    await listLink.waitFor();
    const inList = await isolation(listLink);
    await listLink.click();
    await page.locator('.fields').waitFor();

    expect(inList).toBe('isolate');
    expect(await isolation(page.locator('h1'))).toBe('isolate');
    expect(await isolation(page.locator('.fields dt:text-is("pk") + dd'))).toBe('isolate');
    expect(await isolation(page.locator('.fields dt:text-is("eventId") + dd'))).toBe('isolate');
    await page.close();
  });

  it('a page of another origin cannot replay: its POSTs are refused and the record does not change', async () => {
    const key = await failedEvent(local.runtime, makeEvent());
    const target = `${local.url}api/replay`;
    // Another site on this machine: another port is another origin.
    const attacker: Server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end(
        `<!doctype html><form id="f" method="POST" action="${target}" enctype="text/plain"><input name='{"keys":["${key}"],"x":"' value='"}'></form>` +
          `<script>
            window.results = [];
            fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ keys: [${JSON.stringify(key)}] }) })
              .then(() => results.push('no-cors sent'), (e) => results.push('no-cors ' + e));
            fetch(${JSON.stringify(target)}, { method: 'POST', headers: { 'content-type': 'application/json', 'x-console-token': 'guess' }, body: JSON.stringify({ keys: [${JSON.stringify(key)}] }) })
              .then((r) => results.push('cors ' + r.status), (e) => results.push('cors blocked'));
          </script>`,
      );
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    const page = await browser.newPage();
    // The operator is logged in: another port of this host is the same site, so the cookie goes along.
    await logIn(page, local);
    try {
      await page.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
      await expect.poll(() => page.evaluate('window.results.length')).toBe(2);
      const results = (await page.evaluate('window.results')) as string[];
      await Promise.all([page.waitForNavigation(), page.evaluate("document.getElementById('f').submit()")]);
      const formAnswer = await page.locator('body').textContent();

      expect(results).toContain('cors blocked');
      expect(formAnswer).toContain('missing or wrong x-console-token');
      const record = await recordOf(local.runtime, key);
      expect(record?.status).toBe('failed');
      expect(record?.replayCount).toBeUndefined();
    } finally {
      await page.close();
      await new Promise((resolve) => attacker.close(resolve));
    }
  });

  it('a POST with the right token but another Origin, or no token, is refused with 403', async () => {
    const key = await failedEvent(local.runtime, makeEvent());
    const session = await sessionHeaders(local.loginUrl);
    const token = session['x-console-token'] ?? '';
    const cookie = session.cookie ?? '';
    const body = JSON.stringify({ keys: [key] });
    const json = { 'content-type': 'application/json', cookie };

    const foreign = await fetch(`${local.url}api/replay`, { method: 'POST', headers: { ...json, 'x-console-token': token, origin: 'http://evil.example' }, body });
    const crossSite = await fetch(`${local.url}api/replay`, {
      method: 'POST',
      headers: { ...json, 'x-console-token': token, origin: local.url.slice(0, -1), 'sec-fetch-site': 'cross-site' },
      body,
    });
    const tokenless = await fetch(`${local.url}api/replay`, { method: 'POST', headers: { ...json, origin: local.url.slice(0, -1) }, body });
    // A DNS-rebinding page reaches this port under its own host name.
    const rebound = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${local.url}api/events`);
      request({ host: url.hostname, port: url.port, path: url.pathname, headers: { cookie, 'x-console-token': token, host: 'attacker.example' } }, (answer) => {
        answer.resume();
        resolve(answer.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });

    expect([foreign.status, crossSite.status, tokenless.status, rebound]).toEqual([403, 403, 403, 403]);
    expect((await recordOf(local.runtime, key))?.status).toBe('failed');
  });

  it('every answer carries a strict Content-Security-Policy without inline script', async () => {
    const answer = await fetch(local.url);

    const policy = answer.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).not.toContain('unsafe-inline');
    expect(policy).toContain("frame-ancestors 'none'");
  });

  it('[H3-13] a malformed link (#/event/%E0) shows the events view instead of a blank page', async () => {
    const { page, seen } = await open('#/event/%E0');

    await page.locator('table.events').waitFor({ timeout: 10_000 });

    expect(await page.locator('h1').textContent()).toBe('Events');
    expect(seen.errors).toEqual([]);
    await page.close();
  });

  it('is keyboard navigable and fits a phone width without scrolling sideways', async () => {
    await send();
    const page = await browser.newPage({ viewport: { width: 375, height: 740 } });
    await logIn(page, local);
    await page.goto(local.url);
    await page.locator('table.events tbody tr').first().waitFor();

    // Skip link, then the views: the second stop past it is "Dead letters".
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');

    await expect.poll(() => page.locator('h1').textContent()).toBe('Dead letters');
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await page.close();
  });
});
