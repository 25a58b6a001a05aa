import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { QUEUE_SETTINGS } from '../functions/core/queues';
import { ROUTES, type Route } from '../functions/core/routes';
import { EVENT_STATUSES, type EventStatus } from '../functions/core/table';
import { MAX_PEEK, peekDeadLetters, queueDepth, type QueueDeps, type QueueDepth } from './dlq';
import type { EventSummary } from '../functions/core/table';
import { eventsInWindow, getEvent, type EventsDeps, type EventWindow } from './events';
import { failingJobs, type PollerStateStore } from '../functions/poller/state';

export interface RouteHealth {
  readonly route: Route;
  readonly queue: QueueDepth;
  readonly deadLetters: QueueDepth;
  /**
   * Dead letters (of the first {@link MAX_PEEK}) whose event has no record (`no_record`): the
   * receiver never accepted them, so someone else sent them to the queue.
   */
  readonly noRecord: number;
}

/** A record `queued` whose message cannot be on its queue any more: nothing will deliver it. */
export interface UndeliverableRecord {
  readonly key: string;
  readonly route: string;
  /** When it was last sent to its queue (received, or replayed). */
  readonly queuedAt: string;
}

export interface StatusReport {
  readonly target: string;
  readonly since: string;
  readonly routes: readonly RouteHealth[];
  readonly events: Readonly<Record<EventStatus, number>>;
  /** `queued` far longer than their queue's oldest message: replay them. */
  readonly undeliverable: readonly UndeliverableRecord[];
  /**
   * Why the window's `failed` events failed, most frequent first (at most {@link MAX_REASONS}): a
   * missing or refused API key, a provider that is down, a bug in a step, each named once.
   */
  readonly failureReasons: readonly FailureReason[];
  /** Jobs whose events the Together poller cannot accept (none without a poller). */
  readonly pollerFailures: readonly PollerFailure[];
  /**
   * False when any dead-letter queue holds a message, any record is undeliverable or the poller
   * cannot accept a job's events: someone must look.
   */
  readonly healthy: boolean;
}

/** One reason `failed` events give (`lastError`, its first line cut to 200 characters), how many, and one of them. */
export interface FailureReason {
  readonly reason: string;
  readonly count: number;
  readonly example: string;
}

/** Failure reasons a status lists. */
export const MAX_REASONS = 5;

/** A job or batch the poller retries with backoff because its events were refused. */
export interface PollerFailure {
  readonly kind: string;
  readonly subject: string;
  /** Runs in a row that failed on it. */
  readonly failures: number;
  readonly lastError: string;
  readonly retryAt?: string;
}

/**
 * How long a record may stay `queued` while nothing is on its queue or dead-letter queue: far
 * longer than a message takes from its send to its consumer's claim, retries included.
 */
export const STRANDED_AFTER_MS = 15 * 60_000;

/** Queue and dead-letter depth of every route, the window's events by status, and the queued events nothing will deliver. */
export async function collectStatus(
  deps: QueueDeps & { readonly events: EventsDeps; readonly target: string; readonly poller?: Pick<PollerStateStore, 'openKeys' | 'load'> },
  window: EventWindow,
): Promise<StatusReport> {
  const [routes, { events, queued, failureReasons }, pollerFailures] = await Promise.all([
    Promise.all(
      ROUTES.map(async (route) => {
        const refs = deps.queues[route];
        const [queue, deadLetters] = await Promise.all([routeQueue(deps, refs.url), queueDepth(deps.sqs, refs.deadLetterUrl)]);
        const noRecord = waiting(deadLetters) === 0 ? 0 : await deadLettersWithoutRecord(deps, refs.deadLetterUrl);
        return { route, queue, deadLetters, noRecord };
      }),
    ),
    readEvents(deps.events, window),
    deps.poller === undefined ? [] : readPollerFailures(deps.poller),
  ]);
  const byRoute = new Map(routes.map((health) => [health.route as string, health]));
  const undeliverable = queued.flatMap((event): UndeliverableRecord[] => {
    const health = byRoute.get(event.route);
    const queuedAt = lastQueuedAt(event);
    if (health === undefined) return [];
    const age = window.nowMs - Date.parse(queuedAt);
    // Older than the queue keeps any message, or old while nothing at all waits for its route.
    const expired = age > health.queue.retentionSeconds * 1000;
    const nothingLeft = waiting(health.queue) === 0 && waiting(health.deadLetters) === 0 && age > STRANDED_AFTER_MS;
    return expired || nothingLeft ? [{ key: event.pk, route: event.route, queuedAt }] : [];
  });
  return {
    target: deps.target,
    since: new Date(window.sinceMs).toISOString(),
    routes: routes.map(({ route, queue: { visible, inFlight }, deadLetters, noRecord }) => ({ route, queue: { visible, inFlight }, deadLetters, noRecord })),
    events,
    failureReasons,
    undeliverable,
    pollerFailures,
    healthy: routes.every((route) => waiting(route.deadLetters) === 0) && undeliverable.length === 0 && pollerFailures.length === 0,
  };
}

async function readPollerFailures(store: Pick<PollerStateStore, 'openKeys' | 'load'>): Promise<PollerFailure[]> {
  try {
    return (await failingJobs(store)).map((state) => ({
      kind: state.kind,
      subject: state.subject,
      failures: state.failures ?? 0,
      lastError: state.lastError ?? '',
      ...(state.retryAt === undefined ? {} : { retryAt: state.retryAt }),
    }));
  } catch (error) {
    // No state table: this runtime does not poll (locally, `npm start` without TOGETHER_API_KEY).
    if (error instanceof Error && error.cause instanceof ResourceNotFoundException) return [];
    throw error;
  }
}

const waiting = (depth: QueueDepth) => depth.visible + depth.inFlight;

/** Of the first dead letters (a peek, which counts as a receive), those whose event has no record. */
async function deadLettersWithoutRecord(deps: QueueDeps & { readonly events: EventsDeps }, deadLetterUrl: string): Promise<number> {
  const letters = await peekDeadLetters(deps.sqs, deadLetterUrl, MAX_PEEK);
  const missing = await Promise.all(letters.map(async (letter) => letter.key !== undefined && (await getEvent(deps.events, letter.key)) === undefined));
  return missing.filter(Boolean).length;
}

/** The window's counts by status, and its `queued` records. */
async function readEvents(deps: EventsDeps, window: EventWindow) {
  const events = Object.fromEntries(EVENT_STATUSES.map((status) => [status, 0])) as Record<EventStatus, number>;
  const queued: EventSummary[] = [];
  const reasons = new Map<string, { count: number; example: string }>();
  for await (const event of eventsInWindow(deps, window)) {
    if (event.status in events) events[event.status] += 1;
    if (event.status === 'queued') queued.push(event);
    if (event.status === 'failed') {
      const reason = (event.lastError ?? 'no reason recorded').split('\n')[0]?.slice(0, 200) ?? '';
      const seen = reasons.get(reason);
      reasons.set(reason, { count: (seen?.count ?? 0) + 1, example: seen?.example ?? event.pk });
    }
  }
  const failureReasons = [...reasons.entries()]
    .map(([reason, { count, example }]) => ({ reason, count, example }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
    .slice(0, MAX_REASONS);
  return { events, queued, failureReasons };
}

/** A route queue's depth and how long it keeps a message (a stack deployed earlier may keep them less long). */
async function routeQueue(deps: QueueDeps, queueUrl: string): Promise<QueueDepth & { retentionSeconds: number }> {
  const result = await deps.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'MessageRetentionPeriod'],
    }),
  );
  const attributes = result?.Attributes ?? {};
  const retention = Number(attributes.MessageRetentionPeriod);
  return {
    visible: Number(attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    retentionSeconds: Number.isFinite(retention) && retention > 0 ? retention : QUEUE_SETTINGS.retentionSeconds,
  };
}

/** When the record last went to its queue: a replay sends it again. */
function lastQueuedAt(event: EventSummary): string {
  return [event.queuedAt, event.replayedAt, event.receivedAt].filter((at): at is string => at !== undefined).sort().at(-1) ?? event.receivedAt;
}
