/**
 * `npm run soak -- --events N --duplicate-rate R --concurrency C [--faults]`
 *
 * Sends N distinct events (plus resends) to a running receiver (`npm start`) the way senders do,
 * retrying 409, 5xx and timeouts with backoff; waits until the route queues have drained; then
 * reads the events table, the dead-letter queues and the alerts queue of the local emulators and
 * reports sent, accepted, duplicates, lost, handled-twice, DLQ depth and latency. Exits non-zero
 * unless nothing was lost, nothing was handled twice and every DLQ is empty.
 *
 * Every event is of a type whose route alerts, and an alert is published at most once per handled
 * event (`context.once`) and carries the event key: an event with two alerts was handled twice.
 *
 * --faults adds what senders and networks do to a receiver: forged deliveries (wrong secret, must
 * be 401 and never stored), malformed bodies (must be 400), bursts of the same delivery sent side
 * by side (409s, retried), and requests the sender abandons mid-flight and sends again.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig } from '../functions/core/aws';
import { DEFAULT_LEASE_SECONDS, parseSecretList } from '../functions/core/config';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/event';
import { PROVIDERS } from '../functions/core/providers';
import { PROVIDER_SAMPLES } from '../functions/core/providers/samples';
import { ROUTES, type Route } from '../functions/core/routes';
import { BUILT_IN_STEPS } from '../functions/consumers/routes';
import { publishAlert } from '../functions/consumers/routes/alerts';
import { buildDelivery, type Delivery } from '../ops/deliveries';
import { LOCAL_NAMES } from '../ops/local-names';
import { quantile } from './stats';

/** Where the soak reads the outcome: the emulators behind the receiver. */
export interface SoakStore {
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly eventsTable: string;
  readonly queues: Readonly<Record<Route, { readonly url: string; readonly deadLetterUrl: string }>>;
  readonly alertsQueueUrl: string;
}

export interface SoakOptions {
  /** Receiver base URL, e.g. http://127.0.0.1:3000 */
  readonly url: string;
  readonly events: number;
  /** Share of events sent a second time (0–1), as a sender's retry or an at-least-once resend. */
  readonly duplicateRate: number;
  readonly concurrency: number;
  readonly faults: boolean;
  /**
   * How long the drain may go without progress (no further event handled, no queue shrinking)
   * before it gives up: a slow machine drains later, only a stuck one gives up.
   */
  readonly drainTimeoutMs: number;
  /** The active signing secret of each provider. */
  readonly secrets: Readonly<Record<ProviderName, string>>;
  /** Signature scheme per provider where not the default (e.g. Together `body`). */
  readonly schemes?: Readonly<Partial<Record<ProviderName, string>>>;
  readonly store: SoakStore;
  /** Progress lines; silent when omitted. */
  readonly log?: (line: string) => void;
}

export interface SoakReport {
  /** HTTP requests sent, retries included. */
  readonly sent: number;
  /** Distinct events the soak meant to deliver. */
  readonly events: number;
  /** 200 "accepted" answers. At most `events`: a sender that abandoned an accepted request sees its retry as a duplicate. */
  readonly accepted: number;
  /** Distinct events answered 200 (accepted or duplicate) at least once: must equal `events`. */
  readonly acknowledged: number;
  /** Distinct events answered "accepted" more than once: must be 0. */
  readonly acceptedTwice: number;
  /** 200 "duplicate" answers. */
  readonly duplicates: number;
  /** 409 answers (the same event in flight), each retried. */
  readonly conflicts: number;
  /** Requests retried after a 409, a 5xx, a network error or an abandoned request. */
  readonly retries: number;
  /** Forged and malformed deliveries answered as the contract says (401 / 400). */
  readonly rejectedAsExpected: number;
  /** Answers the contract does not allow for what was sent. */
  readonly unexpected: number;
  /** Forged or malformed deliveries that left a record: must be 0. */
  readonly badStored: number;
  /** Distinct events not handled at the end (never acknowledged, or acknowledged and not handled). */
  readonly lost: number;
  /** Distinct events whose route logic completed more than once (two alerts). */
  readonly handledTwice: number;
  /** Handled events with no alert at all. */
  readonly alertsMissing: number;
  /** Messages in the route dead-letter queues. */
  readonly dlqDepth: number;
  readonly httpP50Ms: number;
  readonly httpP99Ms: number;
  /** receivedAt → handledAt of each event. */
  readonly endToEndP50Ms: number;
  readonly endToEndP99Ms: number;
  readonly drained: boolean;
  readonly ok: boolean;
}

/** Sample types of every provider whose route publishes an alert: every event is observable. */
function alertingSamples(): { provider: ProviderName; type: string }[] {
  const alerting = new Set(ROUTES.filter((route) => BUILT_IN_STEPS[route].includes(publishAlert)));
  return PROVIDER_NAMES.flatMap((provider) =>
    Object.keys(PROVIDER_SAMPLES[provider])
      .filter((type) => alerting.has(PROVIDERS[provider].routes[type] ?? 'other'))
      .map((type) => ({ provider, type })),
  );
}

type Expectation = 'ok' | 401 | 400;

interface Work {
  readonly build: () => Delivery;
  readonly expect: Expectation;
  /** Index of the distinct event, for the ones that must end handled. */
  readonly event?: number;
  /** Abandon the first attempt right after sending it, as a sender whose timeout fired. */
  readonly abandonFirst?: boolean;
  /** Copies sent side by side. */
  readonly copies?: number;
}

/**
 * How long a sender keeps retrying one delivery, as real senders do for hours: well past the lease
 * a request that failed mid-way leaves (LEASE_SECONDS), so that giving up means a stuck receiver,
 * never a slow machine.
 */
const RETRY_FOR_MS = 4 * DEFAULT_LEASE_SECONDS * 1000;

/** Runs the soak and returns the report; see the file comment. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const run = randomUUID().slice(0, 8);
  const samples = alertingSamples();
  const deliveryOf = (index: number, secret?: string) => {
    const sample = samples[index % samples.length] as (typeof samples)[number];
    const scheme = options.schemes?.[sample.provider];
    return () =>
      buildDelivery({
        ...sample,
        id: `soak-${run}-${index}`,
        secret: secret ?? options.secrets[sample.provider],
        ...(scheme === undefined ? {} : { scheme }),
      });
  };

  // The plan: every event once, some again, and with --faults the hostile extras; then shuffled,
  // so that copies of one event meet at random distances, some of them concurrently.
  const work: Work[] = [];
  for (let index = 0; index < options.events; index += 1) work.push({ build: deliveryOf(index), expect: 'ok', event: index });
  const resends = Math.round(options.events * options.duplicateRate);
  for (let index = 0; index < resends; index += 1) work.push({ build: deliveryOf(index), expect: 'ok', event: index });
  // 1% of events also arrive as 20 copies side by side: the receiver must accept exactly one.
  for (let index = 0; index < Math.max(1, Math.round(options.events * 0.01)); index += 1) {
    const event = (index * 6_151) % options.events;
    work.push({ build: deliveryOf(event), expect: 'ok', event, copies: 20 });
  }
  const forgedKeys: string[] = [];
  if (options.faults) {
    const extra = (share: number) => Math.max(1, Math.round(options.events * share));
    for (let index = 0; index < extra(0.05); index += 1) {
      // Providers whose id is in the body or a header, so that "never stored" can be checked by key.
      const sample = (['together', 'mythicdot', 'standard'] as const)[index % 3] as ProviderName;
      const id = `soak-${run}-forged-${index}`;
      const type = Object.keys(PROVIDER_SAMPLES[sample])[0] as string;
      forgedKeys.push(`${sample}#${id}`);
      // A wrong secret of the right form: a Standard Webhooks key must be base64 of 24–64 bytes to sign at all.
      const wrong = sample === 'standard' ? `whsec_${Buffer.from(`not-the-secret-${run}`.padEnd(32, '!')).toString('base64')}` : `not-the-secret-${run}`;
      work.push({ build: () => buildDelivery({ provider: sample, type, id, secret: wrong, ...schemeOf(options, sample) }), expect: 401 });
    }
    for (let index = 0; index < extra(0.02); index += 1) {
      const provider = PROVIDER_NAMES[index % PROVIDER_NAMES.length] as ProviderName;
      const type = Object.keys(PROVIDER_SAMPLES[provider])[0] as string;
      work.push({
        build: () => buildDelivery({ provider, type, id: `soak-${run}-malformed-${index}`, secret: options.secrets[provider], body: `{"not json`, ...schemeOf(options, provider) }),
        expect: 400,
      });
    }
    for (let index = 0; index < extra(0.02); index += 1) {
      const event = (index * 7919) % options.events;
      work.push({ build: deliveryOf(event), expect: 'ok', event, copies: 3 });
    }
    for (let index = 0; index < extra(0.02); index += 1) {
      const event = (index * 104_729) % options.events;
      work.push({ build: deliveryOf(event), expect: 'ok', event, abandonFirst: true });
    }
  }
  shuffle(work);

  const counters = { sent: 0, accepted: 0, duplicates: 0, conflicts: 0, retries: 0, rejectedAsExpected: 0, unexpected: 0 };
  const latencies: number[] = [];
  const acknowledged = new Map<number, string>();
  const acceptances = new Map<number, number>();

  /** One sender attempt loop: retry what the contract says to retry, until a final answer. */
  const deliver = async (item: Work): Promise<void> => {
    const giveUpAt = Date.now() + RETRY_FOR_MS;
    for (let attempt = 0; Date.now() < giveUpAt; attempt += 1) {
      // Senders sign each attempt anew (timestamped schemes) and resend the same bytes (the others).
      const delivery = item.build();
      const abandon = item.abandonFirst === true && attempt === 0;
      const started = performance.now();
      counters.sent += 1;
      let status: number;
      let body: { status?: string; key?: string } = {};
      try {
        const response = await fetch(new URL(delivery.path, options.url), {
          method: 'POST',
          headers: delivery.headers,
          body: delivery.body,
          signal: abandon ? AbortSignal.timeout(1) : AbortSignal.timeout(30_000),
        });
        const text = await response.text();
        status = response.status;
        if (status === 200) {
          latencies.push(performance.now() - started);
          body = JSON.parse(text) as typeof body;
        }
      } catch {
        status = 0; // network error or abandoned: the sender does not know, so it retries
      }
      if (status === 200 && item.expect === 'ok') {
        if (body.status === 'accepted') {
          counters.accepted += 1;
          if (item.event !== undefined) acceptances.set(item.event, (acceptances.get(item.event) ?? 0) + 1);
        } else {
          counters.duplicates += 1;
        }
        if (item.event !== undefined && body.key !== undefined) acknowledged.set(item.event, body.key);
        return;
      }
      if (status === 409) counters.conflicts += 1;
      if (status === 0 || status === 409 || status >= 500) {
        counters.retries += 1;
        await sleep(Math.min(1_000, 25 * 2 ** attempt) * (0.5 + Math.random()));
        continue;
      }
      if (status === item.expect) counters.rejectedAsExpected += 1;
      else counters.unexpected += 1;
      return;
    }
  };

  log(`sending ${work.length} deliveries (${options.events} events) with ${options.concurrency} senders…`);
  let next = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      for (;;) {
        const item = work[next];
        next += 1;
        if (item === undefined) return;
        await Promise.all(Array.from({ length: item.copies ?? 1 }, () => deliver(item)));
      }
    }),
  );

  // Drain: every acknowledged event handled and every route queue empty, or no progress for the timeout.
  log('waiting for the consumers to drain the queues…');
  const keys = [...acknowledged.values()];
  let deadline = Date.now() + options.drainTimeoutMs;
  let records = new Map<string, Record<string, unknown>>();
  let drained = false;
  let mostHandled = -1;
  let leastDepth = Number.POSITIVE_INFINITY;
  while (Date.now() < deadline) {
    records = await readRecords(options.store, keys);
    const handled = keys.filter((key) => records.get(key)?.status === 'handled').length;
    const depth = await routeQueueDepth(options.store);
    if (handled === keys.length && depth === 0) {
      drained = true;
      break;
    }
    if (handled > mostHandled || depth < leastDepth) deadline = Date.now() + options.drainTimeoutMs;
    mostHandled = Math.max(mostHandled, handled);
    leastDepth = Math.min(leastDepth, depth);
    await sleep(250);
  }
  records = await readRecords(options.store, keys);

  const handledKeys = new Set(keys.filter((key) => records.get(key)?.status === 'handled'));
  const alerts = await countAlerts(options.store, new Set(keys));
  const badStored = (await readRecords(options.store, forgedKeys)).size;
  const endToEnd = [...handledKeys].map((key) => {
    const record = records.get(key) as { receivedAt: string; handledAt: string };
    return Date.parse(record.handledAt) - Date.parse(record.receivedAt);
  });
  const dlqDepth = await deadLetterDepth(options.store);
  const lost = options.events - handledKeys.size;
  const handledTwice = [...alerts.values()].filter((count) => count > 1).length;
  const alertsMissing = [...handledKeys].filter((key) => (alerts.get(key) ?? 0) === 0).length;

  const acceptedTwice = [...acceptances.values()].filter((count) => count > 1).length;
  const report: SoakReport = {
    ...counters,
    events: options.events,
    acknowledged: acknowledged.size,
    acceptedTwice,
    badStored,
    lost,
    handledTwice,
    alertsMissing,
    dlqDepth,
    httpP50Ms: percentile(latencies, 0.5),
    httpP99Ms: percentile(latencies, 0.99),
    endToEndP50Ms: percentile(endToEnd, 0.5),
    endToEndP99Ms: percentile(endToEnd, 0.99),
    drained,
    ok: lost === 0 && acceptedTwice === 0 && handledTwice === 0 && dlqDepth === 0 && badStored === 0 && counters.unexpected === 0 && alertsMissing === 0,
  };
  return report;
}

function schemeOf(options: SoakOptions, provider: ProviderName): { scheme?: string } {
  const scheme = options.schemes?.[provider];
  return scheme === undefined ? {} : { scheme };
}

async function readRecords(store: SoakStore, keys: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  for (let start = 0; start < keys.length; start += 100) {
    let pending: Record<string, unknown>[] = keys.slice(start, start + 100).map((pk) => ({ pk }));
    while (pending.length > 0) {
      const { Responses = {}, UnprocessedKeys = {} } = await store.documents.send(
        new BatchGetCommand({
          RequestItems: {
            [store.eventsTable]: { Keys: pending, ConsistentRead: true, ProjectionExpression: 'pk, #status, receivedAt, handledAt', ExpressionAttributeNames: { '#status': 'status' } },
          },
        }),
      );
      for (const item of Responses[store.eventsTable] ?? []) found.set(item.pk as string, item);
      pending = (UnprocessedKeys[store.eventsTable]?.Keys ?? []) as Record<string, unknown>[];
    }
  }
  return found;
}

async function depthOf(store: SoakStore, url: string): Promise<number> {
  const { Attributes = {} } = await store.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }),
  );
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0);
}

const routeQueueDepth = async (store: SoakStore) => sum(await Promise.all(ROUTES.map((route) => depthOf(store, store.queues[route].url))));
const deadLetterDepth = async (store: SoakStore) => sum(await Promise.all(ROUTES.map((route) => depthOf(store, store.queues[route].deadLetterUrl))));

/**
 * Alerts per event key for this run's events: deletes them from the alerts queue, and makes any
 * other alert visible again for whoever else reads the queue.
 */
async function countAlerts(store: SoakStore, keys: ReadonlySet<string>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const others: { Id: string; ReceiptHandle: string }[] = [];
  for (;;) {
    const { Messages = [] } = await store.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: store.alertsQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60, MessageAttributeNames: ['All'] }),
    );
    if (Messages.length === 0) break;
    const ours = Messages.filter((message) => keys.has(message.MessageAttributes?.key?.StringValue ?? ''));
    for (const message of Messages) {
      const key = message.MessageAttributes?.key?.StringValue ?? '';
      if (keys.has(key)) counts.set(key, (counts.get(key) ?? 0) + 1);
      else others.push({ Id: String(others.length), ReceiptHandle: message.ReceiptHandle as string });
    }
    if (ours.length > 0) {
      await store.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: store.alertsQueueUrl,
          Entries: ours.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle as string })),
        }),
      );
    }
  }
  for (let start = 0; start < others.length; start += 10) {
    await store.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: store.alertsQueueUrl,
        Entries: others.slice(start, start + 10).map((entry, index) => ({ Id: String(index), ReceiptHandle: entry.ReceiptHandle, VisibilityTimeout: 0 })),
      }),
    );
  }
  return counts;
}

/** A latency percentile to 0.1 ms; 0 when nothing was measured. */
function percentile(values: readonly number[], p: number): number {
  return values.length === 0 ? 0 : Math.round(quantile(values, p) * 10) / 10;
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function shuffle<T>(items: T[]): void {
  for (let index = items.length - 1; index > 0; index -= 1) {
    const other = Math.floor(Math.random() * (index + 1));
    [items[index], items[other]] = [items[other] as T, items[index] as T];
  }
}

/** The report as the CLI prints it. */
export function formatReport(report: SoakReport): string {
  return [
    `sent                 ${report.sent} requests (${report.retries} retries, ${report.conflicts} answered 409)`,
    `events               ${report.events} to deliver; ${report.acknowledged} got a 200 at least once (must be all)`,
    `"accepted" answers   ${report.accepted}${report.accepted < report.events ? ' (fewer than the events when a sender gave up on a request that was accepted: its retry reads "duplicate")' : ''}`,
    `accepted twice       ${report.acceptedTwice} events (must be 0)`,
    `"duplicate" answers  ${report.duplicates}`,
    `rejected as expected ${report.rejectedAsExpected}   unexpected answers ${report.unexpected}   bad deliveries stored ${report.badStored}`,
    `lost                 ${report.lost}`,
    `handled twice        ${report.handledTwice}   (handled with no alert: ${report.alertsMissing})`,
    `DLQ depth            ${report.dlqDepth}`,
    `HTTP latency         p50 ${report.httpP50Ms} ms   p99 ${report.httpP99Ms} ms`,
    `received → handled   p50 ${report.endToEndP50Ms} ms   p99 ${report.endToEndP99Ms} ms`,
    `queues drained       ${report.drained ? 'yes' : 'NO (timed out)'}`,
    report.ok ? 'OK' : 'FAILED',
  ].join('\n');
}

const USAGE = `usage: npm run soak -- --events N --duplicate-rate R --concurrency C [--faults] [--url URL] [--drain-timeout S]

--drain-timeout: seconds the drain may make no progress before it gives up (default 300).

Soaks a running receiver (npm start) and checks that every event is handled exactly once.
Secrets: {PROVIDER}_WEBHOOK_SECRET (first of the list) or the development secrets, as npm start.`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '1000' },
      'duplicate-rate': { type: 'string', default: '0.2' },
      concurrency: { type: 'string', default: '16' },
      faults: { type: 'boolean', default: false },
      url: { type: 'string' },
      'drain-timeout': { type: 'string', default: '300' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const events = Number(values.events);
  const duplicateRate = Number(values['duplicate-rate']);
  const concurrency = Number(values.concurrency);
  const drainSeconds = Number(values['drain-timeout']);
  if (!Number.isInteger(events) || events < 1) return usageError('--events must be a whole number of at least 1');
  if (!(duplicateRate >= 0 && duplicateRate <= 1)) return usageError('--duplicate-rate must be between 0 and 1');
  if (!Number.isInteger(concurrency) || concurrency < 1) return usageError('--concurrency must be a whole number of at least 1');
  if (!(drainSeconds > 0)) return usageError('--drain-timeout must be a number of seconds');

  const url = values.url ?? `http://localhost:${process.env.PORT ?? '3000'}`;
  let health: { dynamodb?: string; sqs?: string };
  try {
    health = (await (await fetch(new URL('/health', url))).json()) as typeof health;
  } catch {
    console.error(`no receiver answers at ${url}/health; start it with npm start (or pass --url)`);
    return 2;
  }
  if (health.dynamodb === undefined || health.sqs === undefined) {
    console.error(`${url}/health does not name the emulators; the soak needs the local runtime (npm start)`);
    return 2;
  }
  const sqs = new SQSClient(clientConfig({ endpoint: health.sqs }));
  const queueUrl = async (name: string) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string;
  const queues = Object.fromEntries(
    await Promise.all(
      ROUTES.map(async (route) => [route, { url: await queueUrl(LOCAL_NAMES.queue(route)), deadLetterUrl: await queueUrl(LOCAL_NAMES.deadLetterQueue(route)) }] as const),
    ),
  ) as Record<Route, { url: string; deadLetterUrl: string }>;
  const secrets = Object.fromEntries(
    PROVIDER_NAMES.map((name) => [name, parseSecretList(process.env[PROVIDERS[name].secretEnv])[0] ?? PROVIDERS[name].developmentSecret]),
  ) as Record<ProviderName, string>;
  const together = process.env.TOGETHER_SIGNATURE_SCHEME?.trim();

  const report = await runSoak({
    url,
    events,
    duplicateRate,
    concurrency,
    faults: values.faults === true,
    drainTimeoutMs: drainSeconds * 1000,
    secrets,
    ...(together ? { schemes: { together } } : {}),
    store: {
      documents: DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: health.dynamodb }))),
      sqs,
      eventsTable: LOCAL_NAMES.eventsTable,
      queues,
      alertsQueueUrl: await queueUrl(LOCAL_NAMES.alertsQueue),
    },
    log: (line) => console.log(line),
  });
  console.log(formatReport(report));
  return report.ok ? 0 : 1;
}

function usageError(message: string): number {
  console.error(`${message}\n\n${USAGE}`);
  return 2;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
