import type { EventRecord, EventSummary } from '../functions/core/table';
import { eventForJson, publishedForJson } from '../ops/event-json';
import type { PublishedEvent } from '../ops/published';
import type { BurstSummary } from '../ops/send';
import type { PollerFailure, StatusReport } from '../ops/status';
import { escapeControl, formatTable, truncate } from './output';

/*
 * The text the `webhooks` command prints for events, status and send. The reads and actions are
 * in ops/, shared with the console; `--json` prints their results as they are.
 */

/** The table of `events list`. */
export function formatEventList(events: readonly EventSummary[]): string {
  if (events.length === 0) return 'no events in this window\n';
  return formatTable(
    ['RECEIVED', 'KEY', 'TYPE', 'STATUS', 'ATTEMPTS', 'REPLAYS', 'SUBJECT', 'LAST ERROR'],
    events.map((event) => [
      event.receivedAt,
      event.pk,
      event.route,
      event.status,
      event.attempts ?? 0,
      event.replayCount ?? 0,
      truncate(event.subject, 24),
      truncate(event.lastError, 60),
    ]),
  );
}

/** The text of `events show`. */
export function formatEventDetail(record: EventRecord & { eventProblem?: string }, withPayload: boolean): string {
  const lines: [string, string | number | undefined][] = [
    ['key', record.pk],
    ['provider', record.provider],
    ['event id', record.eventId],
    ['type', record.route],
    ['provider type', record.providerType],
    ['subject', record.subject],
    ['status', record.status],
    ['received', record.receivedAt],
    ['queued', record.queuedAt],
    ['handled', record.handledAt],
    ['attempts', record.attempts ?? 0],
    ['last error', record.lastError],
    ['note', record.note],
    ['replays', record.replayCount ?? 0],
    ['replayed', record.replayedAt],
    ['lease until', record.leaseExpiresAt === undefined ? undefined : new Date(record.leaseExpiresAt * 1000).toISOString()],
    ['steps done', record.steps === undefined || Object.keys(record.steps).length === 0 ? undefined : Object.keys(record.steps).join(', ')],
    ['expires', new Date(record.expiresAt * 1000).toISOString()],
  ];
  const width = Math.max(...lines.map(([label]) => label.length));
  const text = lines
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([label, value]) => `${`${label}:`.padEnd(width + 2)}${escapeControl(String(value))}`)
    .join('\n');
  // JSON.stringify escapes C0 controls but leaves C1 and bidi characters raw.
  const shown = eventForJson(record, true);
  const payload = !withPayload
    ? ''
    : shown.event === undefined
      ? `event:  (not readable: ${escapeControl(String(shown.eventProblem ?? 'the record holds none'))})\n`
      : `event:\n${escapeControl(JSON.stringify(shown.event, null, 2), { keepNewlines: true })}\n`;
  return `${text}\n${payload}`;
}

/** The lines `events show` adds for the stand-in bus (local runtime only: EventBridge keeps nothing to read back). */
export function formatPublished(published: PublishedEvent | undefined, withPayload: boolean): string {
  // Aligned with the lines of formatEventDetail above it.
  const label = 'event bus:'.padEnd(15);
  if (published === undefined) return `${label}nothing published (yet): an event is published once handled\n`;
  const shown = publishedForJson(published, withPayload);
  const how = shown.truncated ? `by reference (over EventBridge's 256 KB), ${String(shown.detailBytes)} bytes` : `${String(shown.detailBytes)} bytes`;
  const times = published.times > 1 ? `, ${published.times} times (replayed)` : '';
  return (
    `${label}${String(shown.source)} / ${String(shown.detailType)} at ${String(shown.publishedAt)}${times}, ${how} (local stand-in for EventBridge)\n` +
    (withPayload ? `published detail:\n${JSON.stringify(shown.detail, null, 2)}\n` : '')
  );
}

/** Most undeliverable records the text of `status` lists; `--json` has them all. */
const LISTED = 20;

/** The text of `status`. */
export function formatStatus(report: StatusReport): string {
  const queues = formatTable(
    ['ROUTE', 'QUEUED', 'IN FLIGHT', 'DLQ'],
    report.routes.map((route) => [route.route, route.queue.visible, route.queue.inFlight, route.deadLetters.visible + route.deadLetters.inFlight]),
  );
  const events = Object.entries(report.events)
    .map(([status, count]) => `${status} ${count}`)
    .join(', ');
  const dead = report.routes.filter((route) => route.deadLetters.visible + route.deadLetters.inFlight > 0).map((route) => route.route);
  const verdicts: string[] = [];
  if (dead.length > 0) {
    verdicts.push(`UNHEALTHY: dead letters waiting on ${dead.join(', ')} (see \`webhooks dlq list\`, then \`webhooks dlq redrive\`)`);
  }
  for (const route of report.routes.filter((health) => health.noRecord > 0)) {
    verdicts.push(
      `UNHEALTHY: ${route.noRecord} dead letter${route.noRecord === 1 ? '' : 's'} on ${route.route} ${route.noRecord === 1 ? 'has' : 'have'} no event record (no_record): ` +
        'the receiver never accepted them, someone sent them to the queue. They were not handled; find the sender (CloudTrail SendMessage) and delete them, do not redrive them',
    );
  }
  const stranded = report.undeliverable;
  if (stranded.length > 0) {
    verdicts.push(
      `UNHEALTHY: ${stranded.length} event${stranded.length === 1 ? ' is' : 's are'} queued far longer than ${stranded.length === 1 ? 'its' : 'their'} queue's oldest message: ` +
        'the message is gone (expired, or lost while the consumer was stopped) and nothing will deliver it. ' +
        `${dead.length > 0 ? 'Redrive the dead letters first; then replay' : 'Replay'} each one still listed:`,
      ...stranded.slice(0, LISTED).map((record) => `  webhooks replay '${record.key}'    # ${record.route}, queued ${record.queuedAt}`),
      ...(stranded.length > LISTED ? [`  … and ${stranded.length - LISTED} more (\`webhooks status --json\` lists them all)`] : []),
    );
  }
  const polling = formatPollerFailures(report.pollerFailures);
  const reasons =
    report.failureReasons.length === 0
      ? ''
      : `failed, by reason (retried by their queue; \`webhooks events show '<key>'\` for one):\n${report.failureReasons
          .map((reason) => `  ${reason.count} × ${escapeControl(reason.reason)}    # e.g. ${escapeControl(reason.example)}\n`)
          .join('')}`;
  const verdict = verdicts.length === 0 ? (polling === '' ? 'healthy: every dead-letter queue is empty\n' : '') : `${verdicts.join('\n')}\n`;
  return `${report.target}\n\n${queues}\nevents since ${report.since}: ${events}\n${reasons}${polling}${verdict}`;
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

/** The closing lines of `send`. */
export function formatBurst(summary: BurstSummary): string {
  const others = Object.entries(summary.other);
  const rate = summary.elapsedMs > 0 ? ` in ${(summary.elapsedMs / 1000).toFixed(1)}s (${Math.round((summary.sent * 1000) / summary.elapsedMs)}/s)` : '';
  const lines = [
    `sent ${summary.sent} deliveries to ${summary.url}${rate}`,
    `  accepted   ${summary.accepted}`,
    `  duplicate  ${summary.duplicate}`,
    `  other      ${others.reduce((sum, [, count]) => sum + count, 0)}`,
    ...others.map(([status, count]) => `    ${status === '0' ? 'no answer' : `HTTP ${status}`}: ${count} (e.g. ${summary.examples[status] ?? '?'})`),
  ];
  return `${lines.join('\n')}\n`;
}
