import { isDeepStrictEqual } from 'node:util';
import { JOBS_TABLE, type JobCheckpoint, type JobItem, type JobState, type JobTransition } from '../../core/table';
import { checkpointsOf, mergeCheckpoints, mergeJob, mergeReports, mergeTransitions, type JobFact, type JobWrite } from './job-history';

/** A job's history as readers show it, and as the history items hold it. */
export interface JobHistory {
  /** Step order, one per step, the highest `JOBS_TABLE.maxCheckpoints`. */
  readonly checkpoints: readonly JobCheckpoint[];
  /** Each state once, at its earliest report, in time order. */
  readonly transitions: readonly JobTransition[];
}

/** One history item to write: `entry` replaces `held` (undefined: the item does not exist yet) on condition that it is still `held`. */
export interface HistoryWrite<T extends JobCheckpoint | JobTransition> {
  readonly entry: T;
  readonly held: T | undefined;
}

/**
 * What one fact writes, in order: `before`, the state the job item is leaving, at its earliest
 * report (the job item holds the current state's report as `stateAt`/`stateEventId`, so its
 * history item is written only when the job moves on, before the job item, so that no crash loses
 * it); then `job`, the job item's latest state; then the history items of the fact's steps and of
 * its state (unless the job is in that state: the job item holds it).
 */
export interface JobPlan {
  readonly before: readonly HistoryWrite<JobTransition>[];
  readonly job: JobWrite | undefined;
  readonly checkpoints: readonly HistoryWrite<JobCheckpoint>[];
  readonly transitions: readonly HistoryWrite<JobTransition>[];
}

/** The history items a plan reads first: those of the fact's steps, and those of the job's states. */
export interface HeldHistory {
  readonly checkpoints: readonly JobCheckpoint[];
  readonly transitions: readonly JobTransition[];
}

/**
 * The writes that apply `fact` to a job: its item as read (`current`, the latest state, and the
 * inline history of an item written before the history table) and the history items `held` for
 * the fact's steps and the job's states. Pure, and the same merge as {@link mergeJob}: reports of
 * one step or one state merge into one entry (the earliest's time, event id and values, the
 * others' values where it has none), the state moves only up in rank, the first terminal state is
 * final. The job item is written only when its latest state changes; every history item only when
 * its entry changes, so a redelivered fact writes nothing.
 */
export function planJob(current: Partial<JobItem> | undefined, fact: JobFact, held: HeldHistory, now: Date): JobPlan {
  // Stryker disable next-line ArrayDeclaration: defaults never read as entries: the inline transitions are only left out, and no step matches a string
  const { checkpoints: inlineCheckpoints = [], transitions: inlineTransitions = [], ...latest } = current ?? {};
  const reported = checkpointsOf(fact).reduce<JobCheckpoint[]>((list, entry) => {
    const same = list.find((checkpoint) => checkpoint.step === entry.step);
    return same === undefined ? [...list, entry] : [...list.filter((checkpoint) => checkpoint !== same), mergeReports(same, entry)];
  }, []);
  const heldStep = (step: number) => held.checkpoints.find((checkpoint) => checkpoint.step === step);
  // The job item's step and loss follow the highest step the fact reports, merged with what is known of it.
  const highest = reported.reduce<JobCheckpoint | undefined>((top, entry) => (top === undefined || entry.step > top.step ? entry : top), undefined);
  const known = highest === undefined ? [] : [inlineCheckpoints.find((checkpoint) => checkpoint.step === highest.step), heldStep(highest.step)].filter(isDefined);
  // No job item yet: the merge creates it (history items without one are merged below all the same).
  const view: Partial<JobItem> | undefined =
    current === undefined ? undefined : { ...latest, ...(known.length === 0 ? {} : { checkpoints: [known.reduce((a, b) => mergeReports(a, b))] }) };
  const merged = mergeJob(view, fact, now);
  const job = latestOnly(merged);
  // Stryker disable next-line OptionalChaining: without an item the merge creates one, so the write always names the state
  const state = (job?.set.state as JobState | undefined) ?? current?.state;
  const heldState = (name: JobState) => held.transitions.find((transition) => transition.state === name);

  const before: HistoryWrite<JobTransition>[] = [];
  if (job?.set.state !== undefined && current?.state !== undefined && current.stateAt !== undefined && current.stateEventId !== undefined) {
    const leaving = transitionWrite(heldState(current.state), { state: current.state, at: current.stateAt, eventId: current.stateEventId }, state);
    if (leaving !== undefined) before.push(leaving);
  }
  const transitions: HistoryWrite<JobTransition>[] = [];
  if (fact.state !== state) {
    const write = transitionWrite(heldState(fact.state), { state: fact.state, at: fact.occurredAt, eventId: fact.eventId }, state);
    if (write !== undefined) transitions.push(write);
  }
  const checkpoints = reported.flatMap((entry) => {
    const had = heldStep(entry.step);
    const next = had === undefined ? entry : mergeReports(had, entry);
    return had !== undefined && isDeepStrictEqual(next, had) ? [] : [{ entry: next, held: had }];
  });
  return { before, job, checkpoints, transitions };
}

/** The write of a state's history item, unless it changes nothing or the job ended in another terminal state. */
function transitionWrite(held: JobTransition | undefined, entry: JobTransition, state: JobState | undefined): HistoryWrite<JobTransition> | undefined {
  const next = mergeTransitions(held === undefined ? [] : [held], entry, state).find((transition) => transition.state === entry.state);
  return next === undefined || next === held ? undefined : { entry: next, held };
}

/** The job item's write without the history, or undefined when only the history changed. */
function latestOnly(write: JobWrite | undefined): JobWrite | undefined {
  if (write === undefined) return undefined;
  const history = new Set(['checkpoints', 'transitions']);
  const bookkeeping = new Set(['updatedAt', 'activeDay', 'version']);
  const set = Object.fromEntries(Object.entries(write.set).filter(([name]) => !history.has(name)));
  // Stryker disable next-line MethodExpression: the merge never removes the history lists, which the item it is given leaves out
  const remove = write.remove.filter((name) => !history.has(name));
  if (remove.length === 0 && Object.keys(set).every((name) => bookkeeping.has(name))) return undefined;
  return { ...write, set, remove };
}

/**
 * A job's history as readers show it: the history items merged with the inline history of an item
 * written before them, and the current state's report the job item holds, by the projection's own
 * rules (one entry per step and per state, the highest `JOBS_TABLE.maxCheckpoints` steps).
 */
export function jobHistory(item: Partial<JobItem>, items: HeldHistory): JobHistory {
  const inline = item.checkpoints ?? [];
  const checkpoints =
    inline.length === 0
      ? [...items.checkpoints].sort((a, b) => a.step - b.step).slice(-JOBS_TABLE.maxCheckpoints)
      : [...inline, ...items.checkpoints].reduce<JobCheckpoint[]>(mergeCheckpoints, []);
  const current: JobTransition[] =
    item.state !== undefined && item.stateAt !== undefined && item.stateEventId !== undefined ? [{ state: item.state, at: item.stateAt, eventId: item.stateEventId }] : [];
  const transitions = [...(item.transitions ?? []), ...items.transitions, ...current].reduce<JobTransition[]>(
    (list, entry) => mergeTransitions(list, entry, item.state),
    [],
  );
  return { checkpoints, transitions };
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}
