import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { ROUTES, type Route } from '../functions/core/routes';
import type { EventStatus } from '../functions/core/table';
import { queueDepth, type QueueDeps, type QueueDepth } from './dlq';
import { countByStatus, type EventsDeps, type EventWindow } from './events';
import { formatTable } from './output';
import { failingJobs, type PollerStateStore } from '../functions/poller/state';

export interface RouteHealth {
  readonly route: Route;
  readonly queue: QueueDepth;
  readonly deadLetters: QueueDepth;
}

export interface StatusReport {
  readonly target: string;
  readonly since: string;
  readonly routes: readonly RouteHealth[];
  readonly events: Readonly<Record<EventStatus, number>>;
  /** Jobs whose events the Together poller cannot accept (none without a poller). */
  readonly pollerFailures: readonly PollerFailure[];
  /**
   * False when any dead-letter queue holds a message (`dlq list`) or the poller cannot accept a
   * job's events: someone must look.
   */
  readonly healthy: boolean;
}

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
 * Queue and dead-letter depth of every route, the window's events by status, and the jobs the
 * Together poller cannot accept the events of (when `poller` is given).
 */
export async function collectStatus(
  deps: QueueDeps & { readonly events: EventsDeps; readonly target: string; readonly poller?: Pick<PollerStateStore, 'openKeys' | 'load'> },
  window: EventWindow,
): Promise<StatusReport> {
  const [routes, events, pollerFailures] = await Promise.all([
    Promise.all(
      ROUTES.map(async (route) => {
        const refs = deps.queues[route];
        const [queue, deadLetters] = await Promise.all([queueDepth(deps.sqs, refs.url), queueDepth(deps.sqs, refs.deadLetterUrl)]);
        return { route, queue, deadLetters };
      }),
    ),
    countByStatus(deps.events, window),
    deps.poller === undefined ? [] : readPollerFailures(deps.poller),
  ]);
  return {
    target: deps.target,
    since: new Date(window.sinceMs).toISOString(),
    routes,
    events,
    pollerFailures,
    healthy: routes.every((route) => route.deadLetters.visible + route.deadLetters.inFlight === 0) && pollerFailures.length === 0,
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

/** The text of `status`. */
export function formatStatus(report: StatusReport): string {
  const queues = formatTable(
    ['ROUTE', 'QUEUED', 'IN FLIGHT', 'DLQ'],
    report.routes.map((route) => [route.route, route.queue.visible, route.queue.inFlight, route.deadLetters.visible + route.deadLetters.inFlight]),
  );
  const events = Object.entries(report.events)
    .map(([status, count]) => `${status} ${count}`)
    .join(', ');
  const deadLettered = report.routes.filter((route) => route.deadLetters.visible + route.deadLetters.inFlight > 0);
  const verdict = report.healthy
    ? 'healthy: every dead-letter queue is empty'
    : deadLettered.length === 0
      ? ''
      : `UNHEALTHY: dead letters waiting on ${deadLettered
          .map((route) => route.route)
          .join(', ')} (see \`webhooks dlq list\`, then \`webhooks dlq redrive\`)`;
  return `${report.target}\n\n${queues}\nevents since ${report.since}: ${events}\n${formatPollerFailures(report.pollerFailures)}${verdict === '' ? '' : `${verdict}\n`}`;
}

function formatPollerFailures(failures: readonly PollerFailure[]): string {
  if (failures.length === 0) return '';
  const jobs = failures.map(
    (job) => `  ${job.kind} ${job.subject}: ${job.failures} failed runs${job.retryAt === undefined ? '' : `, next try ${job.retryAt}`}: ${job.lastError}\n`,
  );
  return (
    `UNHEALTHY: the Together poller cannot accept the events of ${failures.length} job${failures.length === 1 ? '' : 's'} ` +
    `(it goes on with the others and retries these with backoff; see the poller logs):\n${jobs.join('')}`
  );
}
