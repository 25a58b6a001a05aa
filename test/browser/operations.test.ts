import { join } from 'node:path';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueDepth } from '../../ops/dlq';
import { buildDelivery, postDelivery } from '../../ops/deliveries';
import { CHROMIUM, SCREENSHOT_DIR, deadLetter, launchBrowser, logIn, makeEvent, putJob, startConsoleRuntime, watch, type ConsoleRuntime } from '../support/browser';

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

async function open(path: string, width = 1280): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 800 } });
  await logIn(page, local);
  await page.goto(`${local.url}${path}`);
  return page;
}

/** The page's window, for a computed style (the tests compile without the DOM library). */
type BrowserWindow = { getComputedStyle(element: unknown): { unicodeBidi: string } };

describe.skipIf(CHROMIUM === undefined)('web console in Chromium: dead letters, jobs, rejected deliveries, test events', () => {
  it('redrive empties a dead-letter queue after confirmation', async () => {
    const route = 'fine_tune.failed';
    await deadLetter(local.runtime, route, makeEvent());
    await deadLetter(local.runtime, route, makeEvent());
    const page = await open('#/dlq');
    const row = page.locator(`tr[data-route="${route}"]`);
    await expect.poll(() => row.locator('.depth').textContent()).toBe('2');

    await row.getByRole('button', { name: 'Redrive' }).click();
    await page.getByRole('button', { name: 'Yes, redrive' }).click();

    await expect.poll(() => page.locator('.result').textContent()).toContain('moved 2 dead letters');
    await expect.poll(() => row.locator('.depth').textContent()).toBe('0');
    expect(await queueDepth(local.runtime.clients.sqs, local.runtime.resources.queues[route].deadLetterUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect((await queueDepth(local.runtime.clients.sqs, local.runtime.resources.queues[route].url)).visible).toBe(2);
    await page.close();
  });

  it('cancel leaves the dead letters where they are', async () => {
    const route = 'batch.failed';
    await deadLetter(local.runtime, route, makeEvent({ type: 'batch.failed', providerType: 'batch.failed', data: {} }));
    const page = await open('#/dlq');
    const row = page.locator(`tr[data-route="${route}"]`);
    await expect.poll(() => row.locator('.depth').textContent()).toBe('1');

    await row.getByRole('button', { name: 'Redrive' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();

    expect(await page.getByRole('button', { name: 'Yes, redrive' }).count()).toBe(0);
    expect((await queueDepth(local.runtime.clients.sqs, local.runtime.resources.queues[route].deadLetterUrl)).visible).toBe(1);
    await page.close();
  });

  it('[H3-12] a peeked dead letter and a job\'s events isolate their event keys and message ids from the text around them', async () => {
    const route = 'model.deprecated';
    const event = makeEvent({ id: `\u202e321_evil_tve_${Date.now()}`, type: route, providerType: route, data: {} });
    await deadLetter(local.runtime, route, event);
    const jobKey = await putJob(local.runtime, `ft-bidi-${Date.now()}`, [1.5]);
    const page = await open('#/dlq');
    const isolation = (locator: ReturnType<Page['locator']>) => locator.evaluate((element) => (globalThis as unknown as BrowserWindow).getComputedStyle(element).unicodeBidi);

    await page.getByRole('button', { name: 'Peek at messages' }).click();
    const peeked = page.locator('tr.peek', { hasText: event.id });
    await peeked.waitFor();
    const key = await isolation(peeked.getByRole('link'));
    const messageId = await isolation(peeked.locator('.muted').first());
    await page.goto(`${local.url}#/job/${encodeURIComponent(jobKey)}`);
    const eventLink = page.locator('table a').first();
    await eventLink.waitFor();

    expect(key).toBe('isolate');
    expect(messageId).toBe('isolate');
    expect(await isolation(eventLink)).toBe('isolate');
    await page.close();
  });

  it('the jobs page draws the loss curve of a job with checkpoints, one point per checkpoint', async () => {
    const losses = [2.4, 1.9, 1.55, 1.31, 1.12, 0.98, 0.9, 0.84];
    const key = await putJob(local.runtime, 'ft-curve', losses);
    const page = await open('#/jobs');

    await page.getByRole('link', { name: key }).click();
    const curve = page.locator('svg.loss-curve');
    await curve.waitFor();

    expect(await curve.locator('circle.point').count()).toBe(losses.length);
    const points = ((await curve.locator('polyline.curve').getAttribute('points')) ?? '').split(' ').map((pair) => pair.split(',').map(Number));
    expect(points).toHaveLength(losses.length);
    // Falling loss draws a rising line on screen: y grows downwards.
    const ys = points.map(([, y]) => y as number);
    expect(ys).toEqual([...ys].sort((a, b) => a - b));
    expect(await curve.getAttribute('aria-label')).toBe('loss from 2.400 at step 100 to 0.840 at step 800');
    expect(await page.locator('figcaption').textContent()).toBe('Loss over steps, 8 checkpoints');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-job.png') });
    await page.close();
  });

  it('a batch job page names the S3 files its results were copied to', async () => {
    const key = await putJob(local.runtime, 'batch-stored', []);
    const output = { uri: 's3://webhook-batch-results/together/batches/batch-stored/output.jsonl', fileId: 'file-out', bytes: 2048, lines: 3, sha256: 'ab' };
    const errors = { uri: 's3://webhook-batch-results/together/batches/batch-stored/errors.jsonl', fileId: 'file-err', bytes: 71, lines: 1, sha256: 'cd' };
    await local.runtime.clients.documents.send(
      new UpdateCommand({
        TableName: local.runtime.resources.jobsTable,
        Key: { pk: key },
        UpdateExpression: 'SET results = :results',
        ExpressionAttributeValues: { ':results': { output, errors, storedAt: new Date().toISOString() } },
      }),
    );
    const page = await open(`#/job/${encodeURIComponent(key)}`);

    const field = (name: string) => page.locator('dl.fields dt', { hasText: name }).locator('xpath=following-sibling::dd[1]');
    await expect.poll(() => field('output file').textContent()).toBe(`${output.uri} (3 lines, 2,048 bytes)`);
    expect(await field('error file').textContent()).toBe(`${errors.uri} (1 line, 71 bytes)`);
    await page.close();
  });

  it('the rejected view lists a refused delivery with provider, status and reason, and never its body', async () => {
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed', secret: 'not-the-receivers-secret-0123456789' });
    const marker = 'BODY-MARKER-7f3a';
    const body = Buffer.from(delivery.body.toString().replace('{', `{"note":"${marker}",`));
    const answer = await postDelivery(local.runtime.url, { ...delivery, body });
    expect(answer.status).toBe(401);
    const page = await open('#/rejected');

    const row = page.locator('tbody tr').first();
    await expect.poll(() => row.textContent()).toContain('401');

    const cells = await row.locator('td').allTextContents();
    expect(cells.slice(1, 3)).toEqual(['together', '401']);
    // The operator sees the exact reason the sender is not told.
    expect(cells[3]).toMatch(/signature/);
    expect(await page.locator('main').textContent()).not.toContain(marker);
    await page.close();
  });

  it('send a test event posts a signed sample through the real endpoint and shows the answer', async () => {
    const page = await open('#/send');
    const seen = watch(page);
    await page.getByLabel('Provider').selectOption('llmtune');
    const type = await page.getByLabel('Type').inputValue();

    await page.getByRole('button', { name: 'Send' }).click();

    await expect.poll(() => page.locator('.result').textContent()).toMatch(/^HTTP 200: accepted/);
    expect(type).not.toBe('');
    expect(seen.errors).toEqual([]);
    await page.close();
  });
});
