import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { mountConsole } from '../../local/console';
import { acceptEvent } from '../../functions/core/accept';
import { SCHEMA_VERSION, type NormalizedEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import type { EventRecord, JobCheckpoint, JobItem } from '../../functions/core/table';
import { claimEvent, markFailed } from '../../functions/consumers/ledger';
import { queueUrlMap } from '../../local/resources';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';

/** Debian's `chromium`, or CHROMIUM_PATH: the browser tests drive it; without it they are skipped, and say so. */
export const CHROMIUM = (process.env.CHROMIUM_PATH === undefined ? ['/usr/bin/chromium', '/usr/bin/chromium-browser'] : [process.env.CHROMIUM_PATH]).find(
  (path) => path !== '' && existsSync(path),
);

if (CHROMIUM === undefined) {
  console.warn(`browser tests SKIPPED: no Chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
}

/** Where the browser tests put their screenshots: docs/ with CONSOLE_SCREENSHOTS=1 (to refresh the README's), else a temporary folder. */
export const SCREENSHOT_DIR = process.env.CONSOLE_SCREENSHOTS === '1' ? join(import.meta.dirname, '../../docs') : join(tmpdir(), 'console-screenshots');

/** The widths the console is looked at: a laptop and a narrow window (or a tablet). */
export const WIDTHS = [1280, 800] as const;

/** Where the screenshots at each of {@link WIDTHS} go: always a temporary folder, never docs/. */
export const WIDTH_SCREENSHOT_DIR = join(tmpdir(), 'console-screenshots');

/**
 * Runs `check` with `page` at each of {@link WIDTHS}, after a screenshot at that width
 * (`{name}-{width}.png` in {@link WIDTH_SCREENSHOT_DIR}), so that a failure has a picture beside it.
 */
export async function atEachWidth(page: Page, name: string, check: (width: number) => Promise<void>): Promise<void> {
  mkdirSync(WIDTH_SCREENSHOT_DIR, { recursive: true });
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    await page.screenshot({ path: join(WIDTH_SCREENSHOT_DIR, `${name}-${width}.png`), fullPage: true });
    await check(width);
  }
}

/**
 * Where the rendered text of an element wraps onto a new line, as `…before⏎after…` (a few
 * characters either side): each character's box is measured with a Range, and a line starts
 * where a box sits lower than the one before. Whitespace between the two is kept in the excerpt.
 * Written as source, because the tests compile without the DOM library.
 */
export const lineBreaks = inPage<string[]>(`
  const chars = [];
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i += 1) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = [...range.getClientRects()].find((box) => box.width > 0);
      chars.push({ char: node.data[i], top: rect === undefined ? undefined : rect.top, height: rect === undefined ? 0 : rect.height });
    }
  }
  const breaks = [];
  let last = -1;
  chars.forEach((entry, index) => {
    if (entry.top === undefined) return;
    const before = last < 0 ? undefined : chars[last];
    if (before !== undefined && entry.top > before.top + before.height / 2) {
      const text = chars.map((c) => c.char);
      breaks.push(text.slice(Math.max(0, last - 5), last + 1).join('') + '⏎' + text.slice(last + 1, index).join('') + text.slice(index, index + 5).join(''));
    }
    last = index;
  });
  return breaks;
`);

/**
 * A function for `evaluate` from the source of its body, which gets `element` (the locator's) and
 * runs in the page with the DOM: the tests themselves compile without the DOM library.
 */
export function inPage<T>(body: string): (element?: unknown) => T {
  return new Function('element', body) as (element?: unknown) => T;
}

/** True when a line may end where {@link lineBreaks} put `⏎` in `excerpt`: at whitespace, or after one of the separators ids and types carry. */
export function breaksAtBoundary(excerpt: string): boolean {
  const [before = '', after = ''] = excerpt.split('⏎');
  return /[\s._#\-/]$/.test(before) || /^\s/.test(after);
}

export function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM as string,
    // Debian's Chromium refuses to run as root with its sandbox on; CI containers run as root.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

/** The `npm start` runtime with the console mounted, on free ports; consumers off so that statuses stay where a test puts them. */
export interface ConsoleRuntime {
  readonly runtime: LocalRuntime;
  /** `http://127.0.0.1:{port}/` */
  readonly url: string;
  /** The login URL `npm start` prints for the console. */
  readonly loginUrl: string;
  stop(): Promise<void>;
}

export async function startConsoleRuntime(): Promise<ConsoleRuntime> {
  const runtime = await startLocalRuntime({
    env: {},
    port: 0,
    dynamodbPort: 0,
    sqsPort: 0,
    consumers: false,
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
  const loginUrl = mountConsole(runtime, {});
  if (loginUrl === undefined) throw new Error('the console was not mounted on a loopback runtime');
  return { runtime, url: new URL('/', loginUrl).href, loginUrl, stop: () => runtime.stop() };
}

/**
 * Logs `page`'s browser context in with the printed login URL, fetched through the context (its
 * cookie jar is the page's), so that the page's first navigation is the one a test makes. The
 * login through the address bar has a test of its own.
 */
export async function logIn(page: Page, console: Pick<ConsoleRuntime, 'loginUrl'>): Promise<void> {
  const answer = await page.request.get(console.loginUrl);
  if (!answer.ok()) throw new Error(`the login URL answered ${answer.status()}`);
}

/** The console's login cookie, `name=value`, from the answer to the login URL (as a tool other than a browser keeps it). */
export async function loginCookie(loginUrl: string): Promise<string> {
  const answer = await fetch(loginUrl, { redirect: 'manual' });
  return (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

/** Headers of a logged-in API call: the login cookie and the page's token, as the page sends them. */
export async function sessionHeaders(loginUrl: string): Promise<Record<string, string>> {
  const cookie = await loginCookie(loginUrl);
  const html = await (await fetch(new URL('/', loginUrl), { headers: { cookie } })).text();
  const token = /name="console-token" content="([0-9a-f]+)"/.exec(html)?.[1] ?? '';
  return { cookie, 'x-console-token': token };
}

export function makeEvent(overrides: Partial<NormalizedEvent> = {}): NormalizedEvent {
  const receivedAt = overrides.receivedAt ?? new Date().toISOString();
  return {
    id: `evt_${randomUUID().replaceAll('-', '')}`,
    provider: 'together',
    type: 'fine_tune.failed',
    providerType: 'fine_tune.failed',
    subject: 'ft-console',
    occurredAt: receivedAt,
    receivedAt,
    schemaVersion: SCHEMA_VERSION,
    data: { jobId: 'ft-console', errorMessage: 'out of memory' },
    providerData: { fine_tune_id: 'ft-console', error_message: 'out of memory' },
    ...overrides,
  } as NormalizedEvent;
}

/** An event through the one write path, then failed by its consumer's ledger, as a consumer leaves it. */
export async function failedEvent(runtime: LocalRuntime, event: NormalizedEvent, error = 'jobs table unavailable'): Promise<string> {
  const { documents, sqs } = runtime.clients;
  const ledger = { documents, tableName: runtime.resources.eventsTable, leaseSeconds: 60, retentionSeconds: 7 * 86_400, clock: Date.now };
  await acceptEvent({ documents, sqs, tableName: runtime.resources.eventsTable, queueUrls: queueUrlMap(runtime.resources), leaseSeconds: 30, retentionSeconds: 7 * 86_400 }, event);
  const claim = await claimEvent(ledger, event);
  if (claim.status !== 'claimed') throw new Error(`expected a claim, got ${claim.status}`);
  await markFailed(ledger, claim.lease, new Error(error));
  return claim.lease.key;
}

export async function recordOf(runtime: LocalRuntime, key: string): Promise<EventRecord | undefined> {
  const { Item } = await runtime.clients.documents.send(new GetCommand({ TableName: runtime.resources.eventsTable, Key: { pk: key }, ConsistentRead: true }));
  return Item as EventRecord | undefined;
}

/** A message on a route's dead-letter queue, as SQS's redrive policy leaves it there. */
export async function deadLetter(runtime: LocalRuntime, route: Route, event: NormalizedEvent): Promise<void> {
  await runtime.clients.sqs.send(
    new SendMessageCommand({
      QueueUrl: runtime.resources.queues[route].deadLetterUrl,
      MessageBody: JSON.stringify(event),
      MessageAttributes: {
        eventId: { DataType: 'String', StringValue: event.id },
        provider: { DataType: 'String', StringValue: event.provider },
        type: { DataType: 'String', StringValue: event.type },
      },
    }),
  );
}

/** A fine-tune (or a batch) in the jobs projection with a checkpoint per step, as the checkpoint consumer writes it. */
export async function putJob(runtime: LocalRuntime, subject: string, losses: readonly number[], kind: JobItem['kind'] = 'fine_tune'): Promise<string> {
  const start = Date.now() - losses.length * 60_000;
  const checkpoints: JobCheckpoint[] = losses.map((loss, index) => ({
    step: (index + 1) * 100,
    loss,
    at: new Date(start + index * 60_000).toISOString(),
    eventId: `evt_ckpt_${subject}_${index + 1}`,
  }));
  const updatedAt = new Date().toISOString();
  const item: JobItem = {
    pk: `together#${subject}`,
    provider: 'together',
    subject,
    kind,
    state: 'running',
    rank: 2,
    step: checkpoints.at(-1)?.step ?? 0,
    loss: losses.at(-1) ?? 0,
    checkpoints,
    transitions: [{ state: 'started', at: new Date(start - 60_000).toISOString(), eventId: `evt_start_${subject}` }],
    firstSeenAt: new Date(start).toISOString(),
    updatedAt,
    activeDay: updatedAt.slice(0, 10),
    version: losses.length + 1,
  };
  await runtime.clients.documents.send(new PutCommand({ TableName: runtime.resources.jobsTable, Item: item }));
  return item.pk;
}

/** Watches a page for what a hostile payload would do if it ran: dialogs, and requests beyond this machine. */
export function watch(page: Page) {
  const dialogs: string[] = [];
  const offMachine: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('request', (request) => {
    const host = new URL(request.url()).hostname;
    if (!['127.0.0.1', 'localhost'].includes(host) && !request.url().startsWith('data:')) offMachine.push(request.url());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return { dialogs, offMachine, errors };
}
