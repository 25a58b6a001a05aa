import { ROUTES, type Route } from '../functions/core/routes';
import type { EventStatus } from '../functions/core/table';
import { queueDepth, type QueueDeps, type QueueDepth } from './dlq';
import { countByStatus, type EventsDeps, type EventWindow } from './events';
import { formatTable } from './output';

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
  /** False when any dead-letter queue holds a message: someone must look (`dlq list`). */
  readonly healthy: boolean;
}

/** Queue and dead-letter depth of every route, and the window's events by status. */
export async function collectStatus(
  deps: QueueDeps & { readonly events: EventsDeps; readonly target: string },
  window: EventWindow,
): Promise<StatusReport> {
  const [routes, events] = await Promise.all([
    Promise.all(
      ROUTES.map(async (route) => {
        const refs = deps.queues[route];
        const [queue, deadLetters] = await Promise.all([queueDepth(deps.sqs, refs.url), queueDepth(deps.sqs, refs.deadLetterUrl)]);
        return { route, queue, deadLetters };
      }),
    ),
    countByStatus(deps.events, window),
  ]);
  return {
    target: deps.target,
    since: new Date(window.sinceMs).toISOString(),
    routes,
    events,
    healthy: routes.every((route) => route.deadLetters.visible + route.deadLetters.inFlight === 0),
  };
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
  const verdict = report.healthy
    ? 'healthy: every dead-letter queue is empty'
    : `UNHEALTHY: dead letters waiting on ${report.routes
        .filter((route) => route.deadLetters.visible + route.deadLetters.inFlight > 0)
        .map((route) => route.route)
        .join(', ')} (see \`webhooks dlq list\`, then \`webhooks dlq redrive\`)`;
  return `${report.target}\n\n${queues}\nevents since ${report.since}: ${events}\n${verdict}\n`;
}
