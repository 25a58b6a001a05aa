import { isDeepStrictEqual } from 'node:util';
import { attributeValueBytes, DYNAMODB_ITEM_LIMIT_BYTES, itemBytes } from '../../core/item-size';
import type { DataCheckpoint } from '../../core/data';
import { JOB_STATES, JOBS_TABLE, type JobCheckpoint, type JobItem, type JobState, type JobTransition } from '../../core/table';

/** What one event says about its job: the merge's input (`JobUpdate` is this, keyed, without the event's id and time). */
export interface JobFact {
  readonly provider: string;
  readonly subject: string;
  readonly kind: JobItem['kind'];
  readonly state: JobState;
  readonly step?: number;
  readonly loss?: number;
  /** Where the checkpoint was stored, with `step`. */
  readonly path?: string;
  /** More steps the event reports at once (a provider's API or log): each merges like `step`, at the event's time unless it says. */
  readonly checkpoints?: readonly DataCheckpoint[];
  /** Set together with a terminal state. */
  readonly details: Partial<Pick<JobItem, 'model' | 'output' | 'error' | 'evalLoss' | 'checkpointPaths'>>;
  readonly eventId: string;
  readonly occurredAt: string;
}

/** The attributes the projection owns. Anything else on the item (written by other code) is left alone. */
const PROJECTED = [
  'provider',
  'subject',
  'kind',
  'state',
  'rank',
  'stateEventId',
  'stateAt',
  'model',
  'output',
  'error',
  'evalLoss',
  'checkpointPaths',
  'step',
  'loss',
  'checkpoints',
  'transitions',
  'firstSeenAt',
] as const satisfies readonly (keyof JobItem)[];

/**
 * Largest job item the projection writes, as DynamoDB counts it ({@link itemBytes}): 500
 * checkpoints of usual size take 50–120 KB, so this binds only for long or multi-byte paths and
 * ids. The 9,600 bytes left of DynamoDB's limit are room for attributes other writers add (a
 * batch's stored results, about 1 KB). What the projection never drops (key, state, model, output,
 * error, transitions, the newest checkpoint) the event schema bounds to under 40 KB.
 */
export const MAX_JOB_ITEM_BYTES = DYNAMODB_ITEM_LIMIT_BYTES - 9_600;

/** One conditional write of the projection: `version` must still be what the merge read. */
export interface JobWrite {
  readonly set: Readonly<Record<string, unknown>>;
  readonly remove: readonly string[];
  /** `undefined`: the item must not exist yet; `null`: it exists without a version (written before versions). */
  readonly expectedVersion: number | null | undefined;
}

/**
 * The write that applies `fact` to the job item as read (`current`), or undefined when the fact
 * changes nothing (a duplicate, or an older fact already superseded). Pure: the caller reads the
 * item, writes the result on condition that `version` has not moved, and merges again if it has.
 * The result does not depend on the order facts arrive in, nor on repeats:
 * - the state moves only to a higher rank (started < running < completed | failed | cancelled |
 *   expired); the first
 *   terminal state is final;
 * - each state the job was reported in is in `transitions` once, at its earliest report (by time,
 *   then event id), and `stateEventId`/`stateAt` name that same report for the current state;
 * - `checkpoints` holds one entry per step, in step order, the highest
 *   {@link JOBS_TABLE.maxCheckpoints} only; `step`/`loss` are the highest one's;
 * - reports of one transition (the state's details) or of one step (`loss`, `path`) merge field by
 *   field ({@link mergeReports}): a push and a poll of the same thing lose nothing of each other.
 * The item as written stays within {@link MAX_JOB_ITEM_BYTES} ({@link fitItem}).
 *
 * The projection applies it to the job item's latest state (`planJob` in `job-plan.ts`), the
 * history going to items of its own; over an item that holds its history inline, as here, it is
 * the reference those history items are tested against.
 */
export function mergeJob(current: Partial<JobItem> | undefined, fact: JobFact, now: Date): JobWrite | undefined {
  const rank = JOB_STATES[fact.state];
  const moves = current?.rank === undefined || current.rank < rank;
  // Stryker disable next-line OptionalChaining: the state is kept only when it does not move, which needs an item read
  const state = moves ? fact.state : current?.state;
  const report = { at: fact.occurredAt, eventId: fact.eventId, ...defined(fact.details) };
  const checkpoints = checkpointsOf(fact).reduce(mergeCheckpoints, [...(current?.checkpoints ?? [])]);
  const top = checkpoints.at(-1);
  // An item written before histories existed may hold a higher step than any entry.
  const topStep = top !== undefined && (current?.step === undefined || top.step >= current.step) ? top : undefined;

  const next: Partial<JobItem> = {
    ...pick(current),
    provider: fact.provider,
    subject: fact.subject,
    kind: current?.kind ?? fact.kind,
    ...(moves ? { state: fact.state, rank, stateEventId: fact.eventId, stateAt: fact.occurredAt, ...defined(fact.details) } : {}),
    // Stryker disable next-line OptionalChaining: a report that does not move the state comes with an item read
    ...(!moves && current?.state === fact.state ? stateReport(current, report) : {}),
    transitions: mergeTransitions(current?.transitions ?? [], { state: fact.state, at: fact.occurredAt, eventId: fact.eventId }, state),
    ...(topStep === undefined ? {} : { step: topStep.step, loss: topStep.loss }),
    firstSeenAt: current === undefined ? now.toISOString() : current.firstSeenAt,
  };
  if (checkpoints.length > 0) next.checkpoints = checkpoints;
  // Stryker disable next-line OptionalChaining: transitions is always set just above
  if (next.transitions?.length === 0) delete next.transitions;
  const updatedAt = now.toISOString();
  const version = (current?.version ?? 0) + 1;
  fitItem(next, { ...current, pk: current?.pk ?? `${fact.provider}#${fact.subject}`, updatedAt, activeDay: updatedAt.slice(0, 10), version });

  const set: Record<string, unknown> = {};
  const remove: string[] = [];
  for (const name of PROJECTED) {
    const value = next[name];
    if (isDeepStrictEqual(value, current?.[name])) continue;
    if (value === undefined) remove.push(name);
    else set[name] = value;
  }
  if (Object.keys(set).length === 0 && remove.length === 0) return undefined;
  return {
    set: { ...set, updatedAt, activeDay: updatedAt.slice(0, 10), version },
    remove,
    expectedVersion: current === undefined ? undefined : (current.version ?? null),
  };
}

/** The fields of a state's report: its details, and which report it is. */
type StateReport = JobFact['details'] & { at: string; eventId: string };

/** Another report of the current state, merged into what the item holds of it. */
function stateReport(current: Partial<JobItem>, report: StateReport): Partial<JobItem> {
  const { stateAt, stateEventId, model, output, error, evalLoss, checkpointPaths } = current;
  // An item written before `stateAt` existed: the report is the only one known.
  const held = { model, output, error, evalLoss, checkpointPaths, at: stateAt ?? report.at, eventId: stateEventId ?? report.eventId };
  const { at, eventId, ...details } = mergeReports(held, report);
  return { ...details, stateAt: at, stateEventId: eventId };
}

/**
 * Two reports of the same transition or step, as one: the earlier one's (by time, then event id)
 * time, event id and values, and the later one's values where the earlier has none. With two
 * reports, or more that agree where they overlap, any order of merging gives the same result.
 */
export function mergeReports<T extends { at: string; eventId: string }>(a: T, b: T): T {
  const [earlier, later] = isLater(a, b) ? [b, a] : [a, b];
  return { ...defined(later), ...defined(earlier) } as T;
}

/** The steps a fact reports: its listed checkpoints, then its own `step`. */
export function checkpointsOf(fact: JobFact): JobCheckpoint[] {
  const own = fact.step === undefined ? [] : [{ step: fact.step, loss: fact.loss, path: fact.path }];
  return [...(fact.checkpoints ?? []), ...own].map(({ step, loss, path, at }: DataCheckpoint) => ({
    step,
    ...(loss === undefined ? {} : { loss }),
    at: at ?? fact.occurredAt,
    eventId: fact.eventId,
    ...(path === undefined ? {} : { path }),
  }));
}

/** Orders two reports of the same thing: by time, then by event id, so that any arrival order agrees. */
function isLater(a: { at: string; eventId: string }, b: { at: string; eventId: string }): boolean {
  const order = compareTimes(a.at, b.at);
  return order === 0 ? a.eventId > b.eventId : order > 0;
}

/** ISO times compared as instants: `…12Z` and `…12.000Z` are the same time. */
function compareTimes(a: string, b: string): number {
  return Date.parse(a) - Date.parse(b);
}

export function mergeCheckpoints(current: readonly JobCheckpoint[], entry: JobCheckpoint): JobCheckpoint[] {
  const same = current.find((checkpoint) => checkpoint.step === entry.step);
  const reported = same === undefined ? entry : mergeReports(same, entry);
  // Stryker disable next-line EqualityOperator: with no entry of that step there is nothing to compare: the condition is false either way
  if (same !== undefined && isDeepStrictEqual(reported, same)) return [...current];
  const merged = [...current.filter((checkpoint) => checkpoint !== same), reported].sort((a, b) => a.step - b.step);
  // Oldest first: the lowest steps go, so a late low step past the bound is dropped at once.
  while (merged.length > JOBS_TABLE.maxCheckpoints) merged.shift();
  return merged;
}

/**
 * Trims the projected attributes (`next`) until the item as written (`next` over the rest of
 * the item, `written`: key, bookkeeping and other writers' attributes) fits
 * {@link MAX_JOB_ITEM_BYTES}: the oldest checkpoints go first, down to the newest one, then the
 * completion's paths from the end of the list, so that no report fails for size.
 */
function fitItem(next: Partial<JobItem>, written: Readonly<Record<string, unknown>>): void {
  const item: Record<string, unknown> = { ...written };
  for (const name of PROJECTED) item[name] = next[name];
  let bytes = itemBytes(item);
  if (bytes <= MAX_JOB_ITEM_BYTES) return;
  const checkpoints = next.checkpoints ?? [];
  while (checkpoints.length > 1 && bytes > MAX_JOB_ITEM_BYTES) bytes -= 1 + attributeValueBytes(checkpoints.shift());
  if (bytes <= MAX_JOB_ITEM_BYTES || next.checkpointPaths === undefined) return;
  // A copy: the list may be the one read, or the fact's.
  const paths = [...next.checkpointPaths];
  while (paths.length > 0 && bytes > MAX_JOB_ITEM_BYTES) bytes -= 1 + attributeValueBytes(paths.pop());
  if (paths.length > 0) next.checkpointPaths = paths;
  else delete next.checkpointPaths;
}

const TERMINAL: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled', 'expired']);

export function mergeTransitions(current: readonly JobTransition[], entry: JobTransition, finalState: JobState | undefined): JobTransition[] {
  // The first terminal state is final: the other one never happened as far as the job is concerned.
  if (TERMINAL.has(entry.state) && finalState !== undefined && TERMINAL.has(finalState) && entry.state !== finalState) return [...current];
  const same = current.find((transition) => transition.state === entry.state);
  if (same !== undefined && !isLater(same, entry)) return [...current];
  return [...current.filter((transition) => transition !== same), entry].sort(
    (a, b) => compareTimes(a.at, b.at) || JOB_STATES[a.state] - JOB_STATES[b.state],
  );
}

function pick(current: Partial<JobItem> | undefined): Partial<JobItem> {
  if (current === undefined) return {};
  return Object.fromEntries(PROJECTED.flatMap((name) => (current[name] === undefined ? [] : [[name, current[name]]])));
}

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}
