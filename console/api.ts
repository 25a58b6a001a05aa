import { parseSecretList, signatureSchemeVariable } from '../functions/core/config';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/event';
import { PROVIDERS } from '../functions/core/providers';
import { ROUTES, type Route } from '../functions/core/routes';
import { EVENT_STATUSES, type EventRecord, type EventStatus, type EventSummary } from '../functions/core/table';
import { listDeadLetters, MAX_PEEK, redriveWaiting } from '../ops/dlq';
import { CliError, UsageError } from '../ops/errors';
import { eventForJson, eventsInWindow, getEvent, listEvents, parseEventFilter, parseEventKey, readPublished, publishedForJson, send, withRecordEvent, type EventsDeps } from '../ops/events';
import { DEFAULT_JOBS_SINCE, getJob, listJobs, parseJobFilter, parseJobKey, type JobsDeps } from '../ops/jobs';
import { describeReplay, replayMany } from '../ops/replay';
import { sendBurst, type DeliveryResult } from '../ops/send';
import type { Target } from '../ops/target';
import { DEFAULT_SINCE, parseSince, parseWholeNumber } from '../ops/time';
import { sampleTypes } from '../ops/deliveries';
import type { Rejection } from '../ops/rejections';

type Env = Readonly<Record<string, string | undefined>>;

/** What the console works against: the CLI's own target, and what only the local runtime has. */
export interface ConsoleDeps {
  readonly target: Target;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  /** The operator's environment: signing secrets for test deliveries, as `webhooks send` reads them. */
  readonly env: Env;
  /** The stack's name, for the `webhooks` commands the console offers to copy; none locally. */
  readonly stackName?: string;
  /** The enabled providers (locally: the runtime's; for a stack: those with a webhook URL). */
  readonly providers: readonly ProviderName[];
  /** Locally, the receiver's base URL; a stack's deliveries go to its WebhookUrl outputs. */
  readonly receiverUrl?: string;
  /** Locally, the last refused deliveries (a stack keeps them in its logs only). */
  readonly rejections?: () => readonly Rejection[];
}

/** Events per page of the list. */
export const EVENTS_PAGE = 50;

/** Where the next page of a newest-first list starts: at `before`, less the keys already shown at that very time. */
interface Cursor {
  readonly before: string;
  readonly skip: readonly string[];
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(raw: string | null): Cursor | undefined {
  if (raw === null || raw === '') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString()) as Partial<Cursor>;
    if (typeof parsed.before === 'string' && !Number.isNaN(Date.parse(parsed.before)) && Array.isArray(parsed.skip) && parsed.skip.length <= 1_000) {
      return { before: parsed.before, skip: parsed.skip.map(String) };
    }
  } catch {
    // Reported below.
  }
  throw new UsageError('the page cursor is not one this console made: go back to the first page');
}

/** A record as lists show it: no payload, no lease token. */
function summaryOf(record: EventRecord): EventSummary {
  const { event: _event, payload: _payload, payloadItem: _payloadItem, steps: _steps, leaseToken: _token, expiresAt: _expires, receivedDay: _day, ...summary } = record;
  return summary;
}

/** One shell word: the keys may hold anything a sender put in an id. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The reads and actions of the console, each on top of the function the `webhooks` command uses
 * for it: the same index reads, the same replay, the same redrive. Inputs are checked by the CLI's
 * own parsers, so a bad filter gets the CLI's message.
 */
export function consoleApi(deps: ConsoleDeps) {
  const { target, clock } = deps;
  const events: EventsDeps = { documents: target.documents, tableName: target.eventsTable, where: target.description };
  const jobs: JobsDeps = {
    documents: target.documents,
    tableName: target.jobsTable,
    historyTableName: target.jobHistoryTable,
    where: target.description,
  };
  const stackFlag = deps.stackName === undefined ? '' : ` --stack ${shellQuote(deps.stackName)}`;
  const optional = (query: URLSearchParams, name: string) => {
    // Blank, as absent, takes the default.
    return query.get(name)?.trim() || undefined;
  };
  const windowOf = (query: URLSearchParams, fallback: string) => {
    const nowMs = clock();
    return { sinceMs: parseSince(optional(query, 'since') ?? fallback, nowMs), nowMs };
  };
  // The parsers take an absent option as undefined.
  const filterOf = (query: URLSearchParams) =>
    parseEventFilter({ provider: optional(query, 'provider'), type: optional(query, 'route'), status: optional(query, 'status') });

  return {
    info() {
      return {
        target: target.description,
        kind: target.kind,
        providers: deps.providers.map((name) => ({ name, types: sampleTypes(name) })),
        routes: ROUTES,
        statuses: EVENT_STATUSES,
        rejections: deps.rejections !== undefined,
      };
    },

    /** A page of the events list, newest first; `q` finds an event id (any provider) or a subject. */
    async events(query: URLSearchParams) {
      const window = windowOf(query, DEFAULT_SINCE);
      const filter = filterOf(query);
      const q = optional(query, 'q');
      const limit = parseWholeNumber(optional(query, 'limit') ?? String(EVENTS_PAGE), 'limit', 1, 100);
      const cursor = decodeCursor(query.get('cursor'));
      if (q !== undefined && cursor === undefined) {
        // An id is found by key whatever its time; a subject within the window.
        const keys = q.includes('#') && (PROVIDER_NAMES as readonly string[]).includes(q.slice(0, q.indexOf('#'))) ? [q] : PROVIDER_NAMES.map((name) => `${name}#${q}`);
        const byId = (await Promise.all(keys.map((key) => getEvent(events, key)))).flatMap((record) => (record === undefined ? [] : [summaryOf(record)]));
        const bySubject = await listEvents(events, window, { ...filter, subject: q }, limit);
        const seen = new Set(byId.map((event) => event.pk));
        return { events: [...byId, ...bySubject.filter((event) => !seen.has(event.pk))].slice(0, limit) };
      }
      const skip = new Set(cursor?.skip);
      const read = await listEvents(events, { ...window, ...(cursor === undefined ? {} : { beforeIso: cursor.before }) }, filter, limit + skip.size + 1);
      const fresh = read.filter((event) => !skip.has(event.pk));
      const page = fresh.slice(0, limit);
      if (fresh.length <= limit) return { events: page };
      // More than a page left: this page is full.
      const last = page[limit - 1] as EventSummary;
      const atLast = page.filter((event) => event.receivedAt === last.receivedAt).map((event) => event.pk);
      // Keys shown at the same time on earlier pages stay skipped while the pages stay at that time.
      const shown = cursor?.before === last.receivedAt ? [...skip, ...atLast] : atLast;
      return { events: page, next: encodeCursor({ before: last.receivedAt, skip: shown }) };
    },

    /** Events of the window per status, with the list's provider and route filters. */
    async counts(query: URLSearchParams) {
      const filter = filterOf(query);
      const counts = Object.fromEntries(EVENT_STATUSES.map((status) => [status, 0])) as Record<EventStatus, number>;
      for await (const event of eventsInWindow(events, windowOf(query, DEFAULT_SINCE), { ...filter, status: undefined } as typeof filter)) {
        counts[event.status] += 1;
      }
      return { counts };
    },

    async event(key: string) {
      parseEventKey(key);
      const stored = await getEvent(events, key);
      if (stored === undefined) return undefined;
      const record = await send(events, () => withRecordEvent(events, stored));
      const published = target.busTable === undefined ? undefined : await readPublished(events, target.busTable, key);
      return {
        record: eventForJson(record, true),
        timeline: [
          { label: 'received', at: record.receivedAt },
          ...(record.queuedAt === undefined ? [] : [{ label: 'queued', at: record.queuedAt }]),
          ...(record.replayedAt === undefined ? [] : [{ label: `replayed (${record.replayCount ?? 1}×)`, at: record.replayedAt }]),
          ...(record.status === 'handling' || record.status === 'in_progress'
            ? [{ label: record.status, ...(record.leaseExpiresAt === undefined ? {} : { until: new Date(record.leaseExpiresAt * 1000).toISOString() }) }]
            : []),
          ...(record.status === 'handled' ? [{ label: 'handled', at: record.handledAt }] : []),
          ...(record.status === 'failed' ? [{ label: 'failed', at: record.failedAt, error: record.lastError }] : []),
        ],
        ...(published === undefined ? {} : { published: publishedForJson(published, false) }),
        commands: {
          show: `npx webhooks events show ${shellQuote(key)} --payload${stackFlag}`,
          replay: `npx webhooks replay ${shellQuote(key)}${stackFlag}`,
        },
      };
    },

    /**
     * Replays 1 to 100 events by key. With `status` (the status they were listed by), each only
     * while its record still has it: one that moved on since is skipped, as `webhooks replay --status` does.
     */
    async replay(body: unknown) {
      const { keys, status } = body as { keys?: unknown; status?: unknown };
      if (!Array.isArray(keys) || keys.length === 0 || keys.length > 100 || !keys.every((key) => typeof key === 'string')) {
        throw new UsageError('send {"keys": ["<provider>#<eventId>", …]} with 1 to 100 keys, and "status" when they were selected by one');
      }
      if (status !== undefined && !(EVENT_STATUSES as readonly unknown[]).includes(status)) {
        throw new UsageError(`"status" must be one of ${EVENT_STATUSES.join(', ')}; got ${JSON.stringify(status)}`);
      }
      (keys as string[]).forEach(parseEventKey);
      const selectedStatus = status as EventStatus | undefined;
      const outcomes = await replayMany({ ...events, sqs: target.sqs, queues: await target.queues(), clock, selectedStatus }, keys as string[], () => {});
      return { outcomes: outcomes.map((outcome) => ({ ...outcome, text: describeReplay(outcome) })) };
    },

    /** Depth, a peek and the oldest peeked message of each route's dead-letter queue. */
    async deadLetters(query: URLSearchParams) {
      const typed = optional(query, 'peek');
      const peek = typed === undefined ? 0 : parseWholeNumber(typed, 'peek', 0, MAX_PEEK);
      const reports = await listDeadLetters({ sqs: target.sqs, queues: await target.queues() }, ROUTES, peek);
      return {
        routes: reports.map((report) => {
          const sent = report.peek.flatMap((letter) => letter.sentAt ?? []).sort();
          return { ...report, ...(sent[0] === undefined ? {} : { oldestSeenAt: sent[0] }) };
        }),
        redriveCommand: `npx webhooks dlq redrive --all${stackFlag}`,
      };
    },

    async redrive(body: unknown) {
      const { route, all } = body as { route?: unknown; all?: unknown };
      if ((route === undefined) === (all !== true)) throw new UsageError('send {"route": "<route>"} or {"all": true}');
      if (route !== undefined && !(ROUTES as readonly unknown[]).includes(route)) throw new UsageError(`"${String(route)}" is not a route; routes: ${ROUTES.join(', ')}`);
      const { results } = await redriveWaiting(
        {
          kind: target.kind,
          sqs: target.sqs,
          queues: await target.queues(),
          records: { documents: target.documents, tableName: target.eventsTable, clock },
          // A page does not wait for an AWS move task: the depths show its progress.
          noWait: true,
        },
        route === undefined ? ROUTES : [route as Route],
      );
      return { results, moved: results.reduce((sum, result) => sum + result.moved, 0) };
    },

    async jobs(query: URLSearchParams) {
      const filter = parseJobFilter({ kind: optional(query, 'kind'), state: optional(query, 'state') });
      const { sinceMs, nowMs } = windowOf(query, DEFAULT_JOBS_SINCE);
      return { jobs: await listJobs(jobs, { ...filter, sinceMs, nowMs, limit: parseWholeNumber(optional(query, 'limit') ?? '100', 'limit', 1, 500) }) };
    },

    async job(key: string) {
      parseJobKey(key);
      const job = await getJob(jobs, key);
      return job === undefined ? undefined : { job, command: `npx webhooks jobs show ${shellQuote(key)} --all${stackFlag}` };
    },

    rejections() {
      if (deps.rejections === undefined) throw new UsageError('refused deliveries are kept by the local runtime only; a stack logs them in CloudWatch ("delivery rejected")');
      return { rejections: deps.rejections() };
    },

    /** One signed sample delivery through the real endpoint, as `webhooks send` makes it. */
    async send(body: unknown) {
      const { provider, type } = body as { provider?: unknown; type?: unknown };
      if (!(deps.providers as readonly unknown[]).includes(provider)) {
        throw new UsageError(`provider must be one of ${deps.providers.join(', ')}; got "${String(provider)}"`);
      }
      const name = provider as ProviderName;
      if (!(sampleTypes(name) as unknown[]).includes(type)) {
        throw new UsageError(`${name} has no sample of type "${String(type)}"; known: ${sampleTypes(name).join(', ')}`);
      }
      const secretEnv = PROVIDERS[name].secretEnv;
      const secret = parseSecretList(deps.env[secretEnv], secretEnv)[0];
      const url = deps.receiverUrl ?? target.webhookUrls[name];
      if (url === undefined) throw new CliError(`${target.description} has no WebhookUrl output for ${name}: is the provider enabled there?`);
      if (deps.receiverUrl === undefined && secret === undefined) {
        throw new UsageError(`set ${secretEnv} in the shell that runs \`webhooks console\` to a secret the stack accepts`);
      }
      // An empty variable, as an unset one, means the provider's default scheme.
      const scheme = deps.env[signatureSchemeVariable(name)]?.trim() || undefined;
      const deliveries: DeliveryResult[] = [];
      const summary = await sendBurst(
        {
          provider: name,
          type: type as string,
          url,
          count: 1,
          duplicateRate: 0,
          concurrency: 1,
          secret,
          scheme,
          onResult: (result) => deliveries.push(result),
        },
        clock,
      );
      return { url: summary.url, ...deliveries.map(({ id, status, outcome }) => ({ id, status, outcome }))[0] };
    },
  };
}

export type ConsoleApi = ReturnType<typeof consoleApi>;
