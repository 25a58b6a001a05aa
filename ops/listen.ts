import { randomUUID } from 'node:crypto';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { busEntryFor, type BusDetail } from '../functions/core/bus';
import { eventKey, type NormalizedEvent, type ProviderName } from '../functions/core/event';
import { LISTENER_QUEUE_SETTINGS } from '../functions/core/listeners';
import { PROVIDERS } from '../functions/core/providers';
import { signDelivery } from '../functions/core/sign';
import type { Route } from '../functions/core/routes';
import { CliError, connectionProblem } from './errors';
import { getEvent, readRecordEvent, send, type EventsDeps } from './events';

/*
 * `webhooks listen`: forwards the events of a listener queue (every event the consumers put on the
 * bus, kept while nobody listens) to a developer's endpoint, each signed with Standard Webhooks.
 * A message is deleted after a 2xx only; an error answer leaves it for a retry with backoff and,
 * after the queue's receive limit, to its dead-letter queue; an endpoint that does not answer at
 * all (refused, reset) holds the event until it is back, spending none of its receives.
 */

/** What `listen` writes: one line per event, per answer, per retry and per loss or return of the queue. */
export type ListenLine =
  | { readonly kind: 'listening'; readonly listener: string; readonly forwardTo: string }
  | { readonly kind: 'forward'; readonly key: string; readonly type: string; readonly provider: string; readonly attempt: number }
  | { readonly kind: 'answer'; readonly key: string; readonly status: number; readonly path: string; readonly ms: number }
  | { readonly kind: 'retry'; readonly key: string; readonly reason: string; readonly inSeconds: number; readonly attempt: number }
  | { readonly kind: 'skipped'; readonly key: string; readonly type: string; readonly provider: string }
  | { readonly kind: 'unreadable'; readonly messageId: string; readonly reason: string }
  | { readonly kind: 'endpoint_down'; readonly url: string; readonly reason: string }
  | { readonly kind: 'endpoint_back'; readonly url: string }
  | { readonly kind: 'queue_lost'; readonly reason: string }
  | { readonly kind: 'queue_back'; readonly afterSeconds: number }
  | { readonly kind: 'error'; readonly key: string; readonly reason: string };

/** Which events to forward; the others are deleted unforwarded. Empty or absent: all. */
export interface ListenFilter {
  readonly routes?: readonly Route[];
  readonly providers?: readonly ProviderName[];
}

export interface ListenDeps {
  readonly sqs: Pick<SQSClient, 'send'>;
  readonly listener: string;
  readonly queueUrl: string;
  /** The listener's Standard Webhooks secret, `whsec_…`. */
  readonly secret: string;
  readonly forwardTo: string;
  readonly filter?: ListenFilter;
  /** Reads a stored event, for a bus entry that carries only its key (an event over 256 KB). */
  readonly readEvent: (key: string) => Promise<NormalizedEvent | undefined>;
  readonly onLine: (line: ListenLine) => void;
  readonly fetch?: typeof fetch;
  /** Epoch milliseconds. */
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Ends the loop after the receive in progress (at most `waitTimeSeconds`), giving back what it brought; `listen` resolves once it has. */
  readonly signal?: AbortSignal;
  /** The long poll of each receive. @default 20 */
  readonly waitTimeSeconds?: number;
  /** The wait before an answered-but-failed event is tried again, by attempt (1 = first). @default 5 s doubling, at most 5 min */
  readonly retryDelaySeconds?: (attempt: number) => number;
  /** The wait before the next receive (or forward) after the queue (or the endpoint) failed `failures` times in a row. @default 1 s doubling, at most 30 s */
  readonly reconnectDelayMs?: (failures: number) => number;
  /** How long the endpoint may take to answer. @default 30 s */
  readonly requestTimeoutMs?: number;
}

/** The scheme every forward is signed with: Standard Webhooks' headers and MAC. */
const STANDARD_SPEC = (() => {
  const spec = PROVIDERS.standard.signatureSchemes.standard;
  if (spec === undefined) throw new Error('the standard provider has no standard signature scheme');
  return spec;
})();

/** Errors of the receive that no retry mends. */
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'KMS.AccessDeniedException']);

const defaultRetryDelay = (attempt: number) => Math.min(5 * 2 ** (attempt - 1), 300);
const defaultReconnectDelay = (failures: number) => Math.min(1000 * 2 ** (failures - 1), 30_000);

/** Long-polls the listener queue and forwards every event until `signal` aborts; never gives up on its own. */
export async function listen(deps: ListenDeps): Promise<void> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const clock = deps.clock ?? Date.now;
  const reconnectDelay = deps.reconnectDelayMs ?? defaultReconnectDelay;
  deps.onLine({ kind: 'listening', listener: deps.listener, forwardTo: deps.forwardTo });
  let failures = 0;
  let lostAt = 0;
  const stopped = () => deps.signal?.aborted === true;
  while (!stopped()) {
    let messages: Message[];
    try {
      const received = await deps.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: deps.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: deps.waitTimeSeconds ?? LISTENER_QUEUE_SETTINGS.waitTimeSeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      messages = received.Messages ?? [];
    } catch (error) {
      if (stopped()) return;
      // Refused for good: retrying would only say the same thing forever.
      if (DENIED.has((error as { name?: string }).name ?? '')) {
        throw new CliError(`listener queue ${deps.queueUrl} refused the receive: ${describe(error)}`, {
          cause: error,
          hint: 'your identity needs sqs:ReceiveMessage, DeleteMessage and ChangeMessageVisibility on the listener queue',
        });
      }
      failures += 1;
      if (failures === 1) {
        lostAt = clock();
        deps.onLine({ kind: 'queue_lost', reason: describe(error) });
      }
      await sleep(reconnectDelay(failures));
      continue;
    }
    if (stopped()) {
      // The receive is never cut short: a long poll abandoned mid-way can still take a message,
      // which would then stay invisible for the visibility timeout. What it brought goes back now.
      await Promise.all(messages.map((message) => changeVisibility(deps, message, 0).catch(() => undefined)));
      return;
    }
    if (failures > 0) {
      deps.onLine({ kind: 'queue_back', afterSeconds: Math.round((clock() - lostAt) / 1000) });
      failures = 0;
    }
    for (const [index, message] of messages.entries()) {
      const outcome = await handleMessage(deps, message, sleep);
      if (outcome === 'endpoint_was_down') {
        // The rest of the batch waited while the endpoint was down: give it back now rather than
        // after its visibility timeout, and receive afresh.
        await Promise.all(messages.slice(index + 1).map((rest) => changeVisibility(deps, rest, 0).catch(() => undefined)));
        break;
      }
      if (stopped()) return;
    }
  }
}

type Outcome = 'done' | 'endpoint_was_down';

/** Forwards one message (or deletes it when filtered out) and settles it on the queue. */
async function handleMessage(deps: ListenDeps, message: Message, sleep: (ms: number) => Promise<void>): Promise<Outcome> {
  const attempt = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
  const retryDelay = deps.retryDelaySeconds ?? defaultRetryDelay;
  let event: NormalizedEvent;
  try {
    event = await eventOf(deps, message);
  } catch (error) {
    deps.onLine({ kind: 'unreadable', messageId: message.MessageId ?? '?', reason: describe(error) });
    await changeVisibility(deps, message, retryDelay(attempt)).catch(() => undefined);
    return 'done';
  }
  const key = eventKey(event);
  try {
    if (!wanted(deps.filter, event)) {
      await deleteMessage(deps, message);
      deps.onLine({ kind: 'skipped', key, type: event.type, provider: event.provider });
      return 'done';
    }
    deps.onLine({ kind: 'forward', key, type: event.type, provider: event.provider, attempt });
    let downSince: number | undefined;
    for (let failures = 1; ; failures += 1) {
      const answer = await forward(deps, event, key);
      if (answer.kind === 'down') {
        if (deps.signal?.aborted === true) return 'done';
        if (downSince === undefined) {
          downSince = failures;
          deps.onLine({ kind: 'endpoint_down', url: deps.forwardTo, reason: answer.reason });
        }
        const waitMs = (deps.reconnectDelayMs ?? defaultReconnectDelay)(failures);
        // Held, not released: a retry after the endpoint is back, with none of the event's receives spent.
        await changeVisibility(deps, message, Math.ceil(waitMs / 1000) + LISTENER_QUEUE_SETTINGS.visibilityTimeoutSeconds);
        await sleep(waitMs);
        continue;
      }
      if (downSince !== undefined) deps.onLine({ kind: 'endpoint_back', url: deps.forwardTo });
      deps.onLine({ kind: 'answer', key, status: answer.status, path: answer.path, ms: answer.ms });
      if (answer.status >= 200 && answer.status < 300) {
        await deleteMessage(deps, message);
      } else {
        const inSeconds = retryDelay(attempt);
        await changeVisibility(deps, message, inSeconds);
        deps.onLine({ kind: 'retry', key, reason: answer.status === 0 ? 'no answer in time' : `answered ${answer.status}`, inSeconds, attempt });
      }
      return downSince === undefined ? 'done' : 'endpoint_was_down';
    }
  } catch (error) {
    // A queue call failed: the message comes back after its visibility timeout, nothing is lost.
    deps.onLine({ kind: 'error', key, reason: describe(error) });
    return 'done';
  }
}

type Answer = { kind: 'answer'; status: number; path: string; ms: number } | { kind: 'down'; reason: string };

/** POSTs the event's JSON, signed with the listener's secret; `status` 0 when the endpoint took too long. */
async function forward(deps: ListenDeps, event: NormalizedEvent, key: string): Promise<Answer> {
  const clock = deps.clock ?? Date.now;
  const body = JSON.stringify(event);
  const headers = signDelivery({
    spec: STANDARD_SPEC,
    body,
    secret: deps.secret,
    timestampSeconds: Math.floor(clock() / 1000),
    id: key,
  });
  const url = new URL(deps.forwardTo);
  const started = performance.now();
  try {
    const response = await (deps.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'webhooks-listen', ...headers },
      body,
      signal: AbortSignal.timeout(deps.requestTimeoutMs ?? 30_000),
    });
    await response.arrayBuffer().catch(() => undefined);
    return { kind: 'answer', status: response.status, path: url.pathname, ms: Math.round(performance.now() - started) };
  } catch (error) {
    const problem = connectionProblem(error);
    if (problem === 'timed out') return { kind: 'answer', status: 0, path: url.pathname, ms: Math.round(performance.now() - started) };
    return { kind: 'down', reason: problem ?? describe(error) };
  }
}

/** The normalized event a listener message carries: the bus entry's `detail`, or the stored event it points at. */
async function eventOf(deps: ListenDeps, message: Message): Promise<NormalizedEvent> {
  const parsed = JSON.parse(message.Body ?? '') as { 'detail-type'?: unknown; detail?: BusDetail };
  const detail = parsed.detail;
  if (typeof detail !== 'object' || detail === null || typeof parsed['detail-type'] !== 'string') {
    throw new Error('not an EventBridge event with a detail');
  }
  if (detail.truncated !== true) return detail as NormalizedEvent;
  const stored = await deps.readEvent(detail.key);
  if (stored === undefined) throw new Error(`event ${detail.key} is not stored any more`);
  return stored;
}

function wanted(filter: ListenFilter | undefined, event: NormalizedEvent): boolean {
  if (filter?.routes !== undefined && filter.routes.length > 0 && !filter.routes.includes(event.type)) return false;
  if (filter?.providers !== undefined && filter.providers.length > 0 && !filter.providers.includes(event.provider)) return false;
  return true;
}

async function deleteMessage(deps: ListenDeps, message: Message): Promise<void> {
  await deps.sqs.send(new DeleteMessageCommand({ QueueUrl: deps.queueUrl, ReceiptHandle: message.ReceiptHandle }));
}

async function changeVisibility(deps: ListenDeps, message: Message, seconds: number): Promise<void> {
  await deps.sqs.send(
    new ChangeMessageVisibilityCommand({ QueueUrl: deps.queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: Math.min(Math.max(0, seconds), 43_200) }),
  );
}

function describe(error: unknown): string {
  return connectionProblem(error) ?? (error instanceof Error ? error.message : String(error));
}

/**
 * A stored event's normalized form (either stored form), or undefined when there is no record;
 * throws {@link CliError} when the record's event cannot be read.
 */
export async function readStoredEvent(deps: EventsDeps, key: string): Promise<NormalizedEvent | undefined> {
  const record = await getEvent(deps, key);
  if (record === undefined) return undefined;
  const read = await send(deps, () => readRecordEvent(deps, record));
  if (!read.ok) throw new CliError(`${read.problem}; nothing to replay`);
  return read.event;
}

/**
 * Puts a stored event on one listener's queue, shaped as the bus would deliver it (an archive
 * replay's `replay-name` set): that listener forwards it again, and no route consumer runs.
 */
export async function replayToListener(deps: EventsDeps & { readonly sqs: Pick<SQSClient, 'send'>; readonly queueUrl: string; readonly clock?: () => number }, key: string): Promise<NormalizedEvent> {
  const event = await readStoredEvent(deps, key);
  if (event === undefined) throw new CliError(`event ${key} is not in ${deps.where ?? `table ${deps.tableName}`}: check the key with webhooks events list`);
  const entry = busEntryFor(event);
  const body = {
    version: '0',
    id: randomUUID(),
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: '',
    time: new Date((deps.clock ?? Date.now)()).toISOString(),
    region: '',
    resources: [],
    detail: JSON.parse(entry.Detail) as unknown,
    'replay-name': 'webhooks listen --replay',
  };
  await deps.sqs.send(new SendMessageCommand({ QueueUrl: deps.queueUrl, MessageBody: JSON.stringify(body) }));
  return event;
}
