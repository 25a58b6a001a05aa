import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDelivery, postDelivery } from '../../ops/deliveries';
import {
  CHROMIUM,
  atEachWidth,
  breaksAtBoundary,
  deadLetter,
  failedEvent,
  inPage,
  launchBrowser,
  lineBreaks,
  logIn,
  makeEvent,
  putJob,
  startConsoleRuntime,
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

async function open(path: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await logIn(page, local);
  await page.goto(`${local.url}${path}`);
  return page;
}

/** Every place a line of a table cell wraps inside a word rather than at a space or a separator. */
async function breaksInsideWords(page: Page): Promise<string[]> {
  const cells = await page.locator('main td').all();
  const breaks = await Promise.all(cells.map((cell) => cell.evaluate(lineBreaks)));
  return breaks.flat().filter((excerpt) => !breaksAtBoundary(excerpt));
}

/** The focused element and the outline it is drawn with. */
const focused = inPage<{ tag: string; outline: string }>(`
  const active = document.activeElement;
  const style = getComputedStyle(active);
  return { tag: active.tagName, outline: style.outlineStyle === 'none' || style.outlineWidth === '0px' ? 'none' : style.outlineStyle + ' ' + style.outlineWidth };
`);

const ONE_TIME_FORMAT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

describe.skipIf(CHROMIUM === undefined)('web console in Chromium: readable at 1280 and 800 px', () => {
  it('table cells wrap only at spaces and at the separators of ids and types, never inside a word', async () => {
    const long = 'the checkpoint upload to the results bucket timed out after several retries with backoff';
    for (const type of ['fine_tune.checkpoint', 'fine_tune.completed', 'batch.completed'] as const) {
      await failedEvent(local.runtime, makeEvent({ type, providerType: type, subject: `ft-readability-subject-${type}` }), long);
    }
    await putJob(local.runtime, 'ft-readability-0123456789abcdef', [1.2, 0.9]);
    await deadLetter(local.runtime, 'fine_tune.checkpoint', makeEvent({ type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint' }));
    const page = await open('#/events');
    await page.locator('table.events tbody tr', { hasText: 'fine_tune.checkpoint' }).first().waitFor();

    for (const [view, ready] of [
      ['events', 'table.events tbody tr'],
      ['jobs', 'tbody tr'],
      ['dlq', 'tr[data-route]'],
    ] as const) {
      await page.goto(`${local.url}#/${view}`);
      await page.locator(ready).first().waitFor();
      await atEachWidth(page, `wrap-${view}`, async (width) => {
        expect({ view, width, breaks: await breaksInsideWords(page) }).toEqual({ view, width, breaks: [] });
      });
    }
    await page.close();
  });

  it('the main area focused after a navigation, by mouse or keyboard, shows no outline', async () => {
    const page = await open('#/events');
    await page.locator('table.events').waitFor();

    await atEachWidth(page, 'focus', async () => {
      await page.getByRole('link', { name: 'Dead letters' }).click();
      await page.locator('h1', { hasText: 'Dead letters' }).waitFor();
      const byMouse = await page.evaluate(focused);
      await page.getByRole('link', { name: 'Jobs' }).focus();
      await page.keyboard.press('Enter');
      await page.locator('h1', { hasText: 'Jobs' }).waitFor();
      const byKeyboard = await page.evaluate(focused);

      expect([byMouse, byKeyboard]).toEqual([
        { tag: 'MAIN', outline: 'none' },
        { tag: 'MAIN', outline: 'none' },
      ]);
    });
    await page.close();
  });

  it('an event page shows every time in one format, the record\'s epoch seconds and the failed step\'s time included', async () => {
    const key = await failedEvent(local.runtime, makeEvent());
    const page = await open(`#/event/${encodeURIComponent(key)}`);
    await page.locator('.fields').waitFor();

    await atEachWidth(page, 'times', async () => {
      const times = await page.locator('main time').allTextContents();
      const shown = `${await page.locator('.fields').textContent()} ${await page.locator('.timeline').textContent()}`;

      expect(times.length).toBeGreaterThan(2);
      expect(times.filter((text) => !ONE_TIME_FORMAT.test(text))).toEqual([]);
      expect(shown).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}/);
      expect(shown).not.toMatch(/\b\d{10}\b/);
      expect(await page.locator('.fields dt:text-is("expiresAt") + dd time').count()).toBe(1);
      expect(await page.locator('.timeline li', { hasText: 'failed' }).locator('time').count()).toBe(1);
    });
    await page.close();
  });

  it('a job page prints every loss with the same number of decimals', async () => {
    const key = await putJob(local.runtime, 'ft-precision', [2.4, 1.25, 0.84]);
    const page = await open(`#/job/${encodeURIComponent(key)}`);
    await page.locator('svg.loss-curve').waitFor();

    await atEachWidth(page, 'loss', async () => {
      const label = (await page.locator('svg.loss-curve').getAttribute('aria-label')) ?? '';
      const losses = [
        (await page.locator('dl.fields dt:text-is("loss") + dd').textContent()) ?? '',
        ...(await page.locator('svg.loss-curve text.tick').allTextContents()).filter((text) => text.includes('.')),
        ...(label.match(/\d+\.\d+/g) ?? []),
      ];
      const decimals = new Set(losses.map((text) => text.split('.')[1]?.length));

      expect(losses.length).toBeGreaterThanOrEqual(5);
      expect({ losses, decimals: decimals.size }).toEqual({ losses, decimals: 1 });
    });
    await page.close();
  });

  it('a route with dead letters stands out in the dead-letters view', async () => {
    await deadLetter(local.runtime, 'batch.failed', makeEvent({ type: 'batch.failed', providerType: 'batch.failed', data: {} }));
    const page = await open('#/dlq');
    const full = page.locator('tr[data-route="batch.failed"]');
    const empty = page.locator('tr[data-route="model.deprecated"]');
    await expect.poll(() => full.locator('.depth').textContent()).toBe('1');
    const background = (row: typeof full) => row.locator('td').first().evaluate(inPage<string>('return getComputedStyle(element).backgroundColor;'));

    await atEachWidth(page, 'dead-letters', async () => {
      expect((await full.getAttribute('class')) ?? '').toContain('has-dead-letters');
      expect((await empty.getAttribute('class')) ?? '').not.toContain('has-dead-letters');
      expect(await background(full)).not.toBe(await background(empty));
    });
    await page.close();
  });

  it('a delivery to a path no provider serves is listed with the path it tried', async () => {
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed' });
    const answer = await postDelivery(local.runtime.url, { ...delivery, path: '/webhooks/no-such-provider' });
    expect(answer.status).toBe(404);
    const page = await open('#/rejected');
    const row = page.locator('tbody tr', { hasText: 'unknown_provider' }).first();
    await row.waitFor();

    await atEachWidth(page, 'rejected', async () => {
      expect(await row.locator('td').nth(1).textContent()).toBe('/webhooks/no-such-provider');
    });
    await page.close();
  });

  it('a batch, or a fine-tune without checkpoints, has no loss-curve section', async () => {
    const batch = await putJob(local.runtime, 'batch-no-curve', [], 'batch');
    const fresh = await putJob(local.runtime, 'ft-no-checkpoint-yet', []);
    const page = await open(`#/job/${encodeURIComponent(batch)}`);

    for (const key of [batch, fresh]) {
      await page.goto(`${local.url}#/job/${encodeURIComponent(key)}`);
      await page.locator('h1', { hasText: key }).waitFor();
      await page.locator('dl.fields').waitFor();
      await atEachWidth(page, `no-curve-${key.replace(/\W/g, '-')}`, async () => {
        expect(await page.locator('main h2').allTextContents()).not.toContain('Loss curve');
        expect(await page.locator('main .chart, main .loss-curve').count()).toBe(0);
      });
    }
    await page.close();
  });
});
