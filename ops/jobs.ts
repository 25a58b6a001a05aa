import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { GetCommand, QueryCommand, documentsOf } from './documents';
import { jobHistory, type JobHistory } from '../functions/consumers/routes/job-plan';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/provider-names';
import { JOBS_TABLE, type BatchResults, type JobCheckpoint, type JobItem, type JobState, type JobTransition } from '../functions/core/table';
import { UsageError } from './errors';
import { itemsByKey, send, type EventsDeps } from './events';
import { daysNewestFirst } from './time';

/** What the job reads need: the jobs table (the same shape as the events table's), and the job-history table. */
export interface JobsDeps extends EventsDeps {
  /**
   * Each job's checkpoints and states, one item each. A stack deployed before it has none: its
   * job items hold their history themselves, and only that is read.
   */
  readonly historyTableName?: string;
}

// The names the commands offer as choices, apart from the reads so that `--help` loads no SDK client.
import { JOB_KINDS, JOB_STATE_NAMES } from './job-names';
export { DEFAULT_JOBS_SINCE, JOB_KINDS, JOB_STATE_NAMES } from './job-names';

/** One job or batch as lists show it: its latest state, never its history. */
export type JobSummary = Pick<
  JobItem,
  'pk' | 'provider' | 'subject' | 'kind' | 'state' | 'step' | 'loss' | 'model' | 'output' | 'error' | 'stateAt' | 'firstSeenAt' | 'updatedAt'
>;

const SUMMARY_ATTRIBUTES = [
  'pk',
  'provider',
  'subject',
  'kind',
  'state',
  'step',
  'loss',
  'model',
  'output',
  'error',
  'stateAt',
  'firstSeenAt',
  'updatedAt',
] as const satisfies readonly (keyof JobSummary)[];

/** One event of a job's history: a state it reached, a checkpoint, or both (the first checkpoint). */
export interface JobEvent {
  /** When the provider says it happened. */
  readonly at: string;
  /** Its event key, for `webhooks events show`. */
  readonly key: string;
  /** The canonical route it came through. */
  readonly type: string;
  readonly state?: JobState;
  readonly step?: number;
  readonly loss?: number;
}

/** Everything the projection knows of one job, as plain data. */
export interface JobDetail extends JobSummary {
  readonly evalLoss?: number;
  /** Where a completed batch's files were copied, with batch results on. */
  readonly results?: BatchResults;
  /** The paths the completion listed, then each checkpoint's path in step order, without repeats. */
  readonly checkpointPaths: readonly string[];
  readonly transitions: readonly JobTransition[];
  /** Step order; the highest `JOBS_TABLE.maxCheckpoints` are kept. */
  readonly checkpoints: readonly JobCheckpoint[];
  /** The events that make up the history above, oldest first. */
  readonly events: readonly JobEvent[];
}

export interface JobFilter {
  readonly kind?: JobItem['kind'];
  readonly state?: JobState;
}

/** What `listJobs` returns: jobs updated in the window, matching the filter, at most `limit`. */
export interface JobListQuery extends JobFilter {
  /** Epoch ms; jobs updated at or after it. */
  readonly sinceMs: number;
  readonly nowMs: number;
  readonly limit: number;
}

/** Checks `--kind` and `--state` against the data model (the console passes user input here too). */
export function parseJobFilter(options: { kind?: string; state?: string }): JobFilter {
  if (options.kind !== undefined && !(JOB_KINDS as readonly string[]).includes(options.kind)) {
    throw new UsageError(`--kind must be one of ${JOB_KINDS.join(', ')}; got "${options.kind}"`);
  }
  if (options.state !== undefined && !(JOB_STATE_NAMES as readonly string[]).includes(options.state)) {
    throw new UsageError(`--state must be one of ${JOB_STATE_NAMES.join(', ')}; got "${options.state}"`);
  }
  return {
    ...(options.kind === undefined ? {} : { kind: options.kind as JobItem['kind'] }),
    ...(options.state === undefined ? {} : { state: options.state as JobState }),
  };
}

/** `<provider>#<job>` → its parts. The job id may itself contain `#`: only the first one separates. */
export function parseJobKey(key: string): { provider: ProviderName; subject: string; key: string } {
  const separator = key.indexOf('#');
  const provider = key.slice(0, separator);
  const subject = key.slice(separator + 1);
  if (separator <= 0 || subject === '' || !(PROVIDER_NAMES as readonly string[]).includes(provider)) {
    throw new UsageError(
      `"${key}" is not a job key: write <provider>#<job or batch id> with provider one of ${PROVIDER_NAMES.join(', ')} (quote it in the shell, e.g. 'together#ft-abc123'; \`webhooks jobs list\` shows them)`,
    );
  }
  return { provider: provider as ProviderName, subject, key };
}

/** Keys per BatchGetItem. */
const BATCH_KEYS = 100;

/**
 * Jobs updated in the window, most recently updated first, without a scan: one Query of the
 * `byActiveDay` index per UTC day, newest day first (the kind filter runs in DynamoDB), then each
 * day's current items by key, without their history. A day's jobs are all read before any is
 * returned, to order them by `updatedAt`; a day holds the jobs active that day, which stays small.
 * `onDay` reports progress after each day.
 */
export async function listJobs(deps: JobsDeps, query: JobListQuery, onDay?: (day: string) => void): Promise<JobSummary[]> {
  const found: JobSummary[] = [];
  if (query.limit <= 0) return found;
  const since = new Date(query.sinceMs).toISOString();
  // A job updated since an older day's index entry was read can show up in two days' partitions.
  const seen = new Set<string>();
  for (const day of daysNewestFirst(query.sinceMs, query.nowMs)) {
    const keys = (await keysActiveOn(deps, day, query.kind)).filter((key) => !seen.has(key));
    keys.forEach((key) => seen.add(key));
    const items: JobSummary[] = [];
    for (let start = 0; start < keys.length; start += BATCH_KEYS) {
      items.push(...(await itemsByKey<JobSummary>(deps, keys.slice(start, start + BATCH_KEYS), SUMMARY_ATTRIBUTES)));
    }
    const matching = items
      .filter((item) => item.updatedAt >= since && (query.state === undefined || item.state === query.state) && (query.kind === undefined || item.kind === query.kind))
      .sort((a, b) => (a.updatedAt === b.updatedAt ? a.pk.localeCompare(b.pk) : a.updatedAt < b.updatedAt ? 1 : -1));
    for (const item of matching) {
      found.push(item);
      if (found.length >= query.limit) return found;
    }
    onDay?.(day);
  }
  return found;
}

async function keysActiveOn(deps: JobsDeps, day: string, kind: JobItem['kind'] | undefined): Promise<string[]> {
  const index = JOBS_TABLE.byActiveDayIndex;
  const keys: string[] = [];
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const input: QueryCommandInput = {
      TableName: deps.tableName,
      IndexName: index.name,
      KeyConditionExpression: '#day = :day',
      ProjectionExpression: '#pk',
      ExpressionAttributeNames: { '#day': index.partitionKey, '#pk': JOBS_TABLE.partitionKey, ...(kind === undefined ? {} : { '#kind': 'kind' }) },
      ExpressionAttributeValues: { ':day': day, ...(kind === undefined ? {} : { ':kind': kind }) },
      ...(kind === undefined ? {} : { FilterExpression: '#kind = :kind' }),
      ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
    };
    const page = await send(deps, () => documentsOf(deps.documents).send(new QueryCommand(input)));
    keys.push(...(page.Items ?? []).map((item) => String(item[JOBS_TABLE.partitionKey])));
    exclusiveStartKey = page.LastEvaluatedKey;
  } while (exclusiveStartKey !== undefined);
  return keys;
}

/**
 * One job by its key (`<provider>#<job>`, consistent read), or undefined when the projection has
 * none: its item, then its history items (a query by its key: the highest
 * `JOBS_TABLE.maxCheckpoints` checkpoints, and its states), merged with any history the item
 * itself holds from before the history table.
 */
export async function getJob(deps: JobsDeps, key: string): Promise<JobDetail | undefined> {
  const { Item } = await send(deps, () =>
    documentsOf(deps.documents).send(new GetCommand({ TableName: deps.tableName, Key: { [JOBS_TABLE.partitionKey]: key }, ConsistentRead: true })),
  );
  if (Item === undefined) return undefined;
  const item = Item as JobItem;
  const { historyTableName } = deps;
  if (historyTableName === undefined) return jobDetail(item);
  const historyDeps = { ...deps, tableName: historyTableName };
  // Loaded here, with the SDK it writes with: `jobs list` reads no history.
  const { readJobHistory } = await import('../functions/consumers/routes/job-store');
  return jobDetail(item, await send(historyDeps, () => readJobHistory({ documents: deps.documents, tableName: historyTableName }, item)));
}

/**
 * The plain-data view of a stored job item and its history (by default, the history the item
 * itself holds, and its current state's report).
 */
export function jobDetail(item: JobItem, history: JobHistory = jobHistory(item, { checkpoints: [], transitions: [] })): JobDetail {
  const summary = Object.fromEntries(SUMMARY_ATTRIBUTES.flatMap((name) => (item[name] === undefined ? [] : [[name, item[name]]]))) as JobSummary;
  const { checkpoints, transitions } = history;
  const paths = [...(item.checkpointPaths ?? []), ...checkpoints.flatMap((checkpoint) => (checkpoint.path === undefined ? [] : [checkpoint.path]))];
  return {
    ...summary,
    ...(item.evalLoss === undefined ? {} : { evalLoss: item.evalLoss }),
    ...(item.results === undefined ? {} : { results: item.results }),
    checkpointPaths: [...new Set(paths)],
    transitions,
    checkpoints,
    events: jobEvents(item, transitions, checkpoints),
  };
}

function jobEvents(item: JobItem, transitions: readonly JobTransition[], checkpoints: readonly JobCheckpoint[]): JobEvent[] {
  const byId = new Map<string, JobEvent>();
  const typeOf = (state: JobState) => `${item.kind}.${state === 'running' ? 'checkpoint' : state}`;
  for (const checkpoint of checkpoints) {
    byId.set(checkpoint.eventId, {
      at: checkpoint.at,
      key: `${item.provider}#${checkpoint.eventId}`,
      type: typeOf('running'),
      step: checkpoint.step,
      ...(checkpoint.loss === undefined ? {} : { loss: checkpoint.loss }),
    });
  }
  for (const transition of transitions) {
    // A checkpoint event's row keeps its step; any other transition is its own row, even when its
    // event also listed checkpoints (a completion that carries the curve).
    const checkpoint = transition.state === 'running' ? byId.get(transition.eventId) : undefined;
    byId.set(transition.eventId, {
      ...(checkpoint ?? { at: transition.at, key: `${item.provider}#${transition.eventId}`, type: typeOf(transition.state) }),
      state: transition.state,
    });
  }
  return [...byId.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.step ?? Number.MIN_SAFE_INTEGER) - (b.step ?? Number.MIN_SAFE_INTEGER));
}
