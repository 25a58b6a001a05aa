import type { DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { BatchGetCommand, GetCommand, QueryCommand, documentsOf } from './documents';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/provider-names';
import type { PublishedEvent } from './published';
import { EVENTS_TABLE, EVENT_STATUSES, type EventRecord, type EventStatus, type EventSummary } from '../functions/core/table';
import { isRoute, ROUTES } from '../functions/core/routes';
import { CliError, UsageError, connectionError } from './errors';
import { daysNewestFirst } from './time';

/** What the operations need of the events table. */
export interface EventsDeps {
  /** A target's documents (their reads need no SDK client), or any client that takes lib-dynamodb commands. */
  readonly documents: Pick<DynamoDBDocumentClient, 'send'>;
  readonly tableName: string;
  /** For error messages: where the table lives. */
  readonly where?: string;
}

/** The attributes read for lists: never the payload (`event`), which may hold customer data and be large. */
const SUMMARY_ATTRIBUTES = [
  'pk',
  'status',
  'provider',
  'eventId',
  'route',
  'providerType',
  'subject',
  'receivedAt',
  'queuedAt',
  'handledAt',
  'attempts',
  'lastError',
  'replayCount',
  'replayedAt',
  'leaseExpiresAt',
] as const;

export interface EventFilter {
  readonly provider?: ProviderName;
  /** Canonical route. */
  readonly route?: string;
  readonly status?: EventStatus;
  /** Exact subject (job or batch id); applied to the records read, as the index does not carry it. */
  readonly subject?: string;
}

export interface EventWindow {
  /** Epoch ms; events received at or after it. */
  readonly sinceMs: number;
  readonly nowMs: number;
  /** ISO time; only events received at or before it (the next page of a newest-first list). */
  readonly beforeIso?: string;
}

/** Checks `--provider`, `--type` and `--status` against the data model. */
export function parseEventFilter(options: { provider?: string; type?: string; status?: string }): EventFilter {
  if (options.provider !== undefined && !(PROVIDER_NAMES as readonly string[]).includes(options.provider)) {
    throw new UsageError(`--provider must be one of ${PROVIDER_NAMES.join(', ')}; got "${options.provider}"`);
  }
  if (options.type !== undefined && !isRoute(options.type)) {
    throw new UsageError(`--type must be a canonical route (${ROUTES.join(', ')}); got "${options.type}"`);
  }
  if (options.status !== undefined && !(EVENT_STATUSES as readonly string[]).includes(options.status)) {
    throw new UsageError(`--status must be one of ${EVENT_STATUSES.join(', ')}; got "${options.status}"`);
  }
  return {
    ...(options.provider === undefined ? {} : { provider: options.provider as ProviderName }),
    ...(options.type === undefined ? {} : { route: options.type }),
    ...(options.status === undefined ? {} : { status: options.status as EventStatus }),
  };
}

/** Keys per index page: a page's records are then read in one BatchGetItem (100 keys at most). */
const PAGE_SIZE = 100;

/**
 * Event summaries received in the window, newest first, without a scan: one Query of the
 * `byReceivedDay` index per UTC day, newest day first, each sorted by `receivedAt` descending;
 * provider and route filters run in DynamoDB (FilterExpression). The index carries only what never
 * changes (see EVENTS_TABLE), so each page's current state (status, attempts, errors) is read from
 * the table by key, and the status filter applies to that. `onDay` reports progress after each day.
 */
export async function* eventsInWindow(
  deps: EventsDeps,
  window: EventWindow,
  filter: EventFilter = {},
  onDay?: (day: string) => void,
): AsyncGenerator<EventSummary> {
  const index = EVENTS_TABLE.byTimeIndex;
  const names: Record<string, string> = { '#day': index.partitionKey, '#at': index.sortKey, '#pk': EVENTS_TABLE.partitionKey };
  const values: Record<string, unknown> = {
    ':since': new Date(window.sinceMs).toISOString(),
    ...(window.beforeIso === undefined ? {} : { ':before': window.beforeIso }),
  };
  const range = window.beforeIso === undefined ? '#at >= :since' : '#at BETWEEN :since AND :before';
  // BETWEEN needs its bounds in order: a page before the window is empty.
  if (window.beforeIso !== undefined && window.beforeIso < (values[':since'] as string)) return;
  const newestMs = window.beforeIso === undefined ? window.nowMs : Math.min(window.nowMs, Date.parse(window.beforeIso));
  const conditions: string[] = [];
  const add = (attribute: string, value: string | undefined) => {
    if (value === undefined) return;
    names[`#f_${attribute}`] = attribute;
    values[`:f_${attribute}`] = value;
    conditions.push(`#f_${attribute} = :f_${attribute}`);
  };
  add('provider', filter.provider);
  add('route', filter.route);

  for (const day of daysNewestFirst(window.sinceMs, newestMs)) {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const input: QueryCommandInput = {
        TableName: deps.tableName,
        IndexName: index.name,
        KeyConditionExpression: `#day = :day AND ${range}`,
        ScanIndexForward: false,
        Limit: PAGE_SIZE,
        ProjectionExpression: '#pk',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...values, ':day': day },
        ...(conditions.length === 0 ? {} : { FilterExpression: conditions.join(' AND ') }),
        ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
      };
      const page = await send(deps, () => documentsOf(deps.documents).send(new QueryCommand(input)));
      const keys = (page.Items ?? []).map((item) => String(item[EVENTS_TABLE.partitionKey]));
      for (const summary of await summariesOf(deps, keys)) {
        if ((filter.status === undefined || summary.status === filter.status) && (filter.subject === undefined || summary.subject === filter.subject)) {
          yield summary;
        }
      }
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
    onDay?.(day);
  }
}

/** The current summaries of up to 100 events, in the order of `keys`; records gone since are skipped. */
function summariesOf(deps: EventsDeps, keys: readonly string[]): Promise<EventSummary[]> {
  return itemsByKey<EventSummary>(deps, keys, SUMMARY_ATTRIBUTES);
}

/**
 * Up to 100 items of a table keyed by `pk`, only `attributes`, in the order of `keys` (one
 * BatchGetItem, retrying unprocessed keys); items gone since are skipped.
 */
export async function itemsByKey<T>(deps: EventsDeps, keys: readonly string[], attributes: readonly string[]): Promise<T[]> {
  if (keys.length === 0) return [];
  const names = Object.fromEntries(attributes.map((attribute, position) => [`#a${position}`, attribute]));
  const projection = attributes.map((_, position) => `#a${position}`).join(', ');
  const found = new Map<string, T>();
  let pending: Record<string, unknown>[] = keys.map((key) => ({ [EVENTS_TABLE.partitionKey]: key }));
  for (let attempt = 0; pending.length > 0; attempt += 1) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** attempt)));
    if (attempt >= 8) throw new CliError(`DynamoDB kept ${pending.length} keys unprocessed; try again`);
    const request = { Keys: pending, ProjectionExpression: projection, ExpressionAttributeNames: names };
    const result = await send(deps, () => documentsOf(deps.documents).send(new BatchGetCommand({ RequestItems: { [deps.tableName]: request } })));
    for (const item of result.Responses?.[deps.tableName] ?? []) found.set(String(item.pk), item as T);
    pending = (result.UnprocessedKeys?.[deps.tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
  }
  return keys.flatMap((key) => found.get(key) ?? []);
}

/** Up to `limit` event summaries of the window, newest first. */
export async function listEvents(
  deps: EventsDeps,
  window: EventWindow,
  filter: EventFilter,
  limit: number,
  onDay?: (day: string) => void,
): Promise<EventSummary[]> {
  const events: EventSummary[] = [];
  if (limit <= 0) return events;
  for await (const event of eventsInWindow(deps, window, filter, onDay)) {
    events.push(event);
    if (events.length >= limit) break;
  }
  return events;
}

/** `<provider>#<eventId>` → its parts. The id may itself contain `#`: only the first one separates. */
export function parseEventKey(key: string): { provider: ProviderName; eventId: string; key: string } {
  const separator = key.indexOf('#');
  const provider = key.slice(0, separator);
  const eventId = key.slice(separator + 1);
  if (separator <= 0 || eventId === '' || !(PROVIDER_NAMES as readonly string[]).includes(provider)) {
    throw new UsageError(
      `"${key}" is not an event key: write <provider>#<eventId> with provider one of ${PROVIDER_NAMES.join(', ')} (quote it in the shell, e.g. 'together#evt_123')`,
    );
  }
  return { provider: provider as ProviderName, eventId, key };
}

/** The full record of one event (consistent read), or undefined when there is none. */
export async function getEvent(deps: EventsDeps, key: string): Promise<EventRecord | undefined> {
  const { Item } = await send(deps, () =>
    documentsOf(deps.documents).send(new GetCommand({ TableName: deps.tableName, Key: { [EVENTS_TABLE.partitionKey]: key }, ConsistentRead: true })),
  );
  return Item as EventRecord | undefined;
}

/** Runs a DynamoDB call of a command, turning its failure into an error that says what to check. */
export async function send<T>(deps: EventsDeps, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof CliError || error instanceof UsageError) throw error;
    const where = deps.where ?? `table ${deps.tableName}`;
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new CliError(`table ${deps.tableName} does not exist at ${where}: is the local runtime (\`npm start\`) running, or is --stack right?`, {
        cause: error,
      });
    }
    throw connectionError(error, where) ?? new CliError(`DynamoDB call failed at ${where}: ${String(error)}`, { cause: error });
  }
}


/**
 * What the stand-in bus of `npm start` published for an event; undefined when nothing was, or
 * when the runtime is older than the stand-in bus (no table).
 */
export async function readPublished(deps: EventsDeps, busTable: string, key: string): Promise<PublishedEvent | undefined> {
  try {
    const { publishedFor } = await import('./published');
    return await publishedFor({ documents: deps.documents, tableName: busTable }, key);
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    return send(deps, () => Promise.reject(error));
  }
}

// The JSON views of a record, kept apart from the reads so that formatting loads no SDK client.
export { eventForJson, publishedForJson } from './event-json';

// The payload's readers load with the first payload read (they read a payload item with the SDK's
// client): a list of summaries (`events list`) never does.
type StoredEvents = typeof import('./stored-events');

/** {@link StoredEvents.readRecordEvent}, loaded on first use. */
export const readRecordEvent: StoredEvents['readRecordEvent'] = async (deps, record) => (await import('./stored-events')).readRecordEvent(deps, record);

/** {@link StoredEvents.withRecordEvent}, loaded on first use. */
export const withRecordEvent: StoredEvents['withRecordEvent'] = async (deps, record) => (await import('./stored-events')).withRecordEvent(deps, record);
