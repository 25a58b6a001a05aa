import type { Logger } from '@aws-lambda-powertools/logger';
import type { AcceptResult } from '../core/accept';
import { BadRequestError, ConflictError, ReceiverError } from '../core/errors';
import type { NormalizedEvent } from '../core/event';
import { readJobCurve } from './curve';
import { isBatchTerminal, isFineTuneTerminal, isoTime, observeBatch, observeFineTune, type Observation } from './observe';
import { parseStateKey, stateKey, type PolledKind, type PollerState, type PollerStateStore } from './state';
import { TogetherApiError, type Batch, type FineTuneJob, type TogetherApi } from './together-api';

/** Limits of one poll run; see {@link DEFAULT_POLL_LIMITS}. */
export interface PollLimits {
  /**
   * Jobs read from the API per run (polled, or looked up by id); the rest wait for the next run,
   * least recently polled first.
   */
  readonly maxJobsPerRun: number;
  /** No new work (a job, a lookup, a backfill write) is started after this long; the next run carries on. */
  readonly timeBudgetMs: number;
  /**
   * A job or batch the poller has never seen that finished longer ago than this is recorded as
   * finished without events, so a first deployment does not announce an account's whole history.
   */
  readonly backfillSeconds: number;
}

/** 50 jobs, 50 s, one day of history. */
export const DEFAULT_POLL_LIMITS: PollLimits = { maxJobsPerRun: 50, timeBudgetMs: 50_000, backfillSeconds: 86_400 };

export interface PollerDeps {
  readonly api: TogetherApi;
  /** The idempotent accept path, {@link acceptEvent} bound to the events table and queues. */
  readonly accept: (event: NormalizedEvent) => Promise<AcceptResult>;
  readonly state: PollerStateStore;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'debug'>;
}

/**
 * Backoff of a job whose events could not be accepted: 1 min after the first failed run, doubling
 * after each further one, at most 1 h; the job waits that long before it is tried again.
 */
export const FAILED_JOB_RETRY = { baseSeconds: 60, maxSeconds: 3_600 } as const;

/** The metric the handler publishes {@link PollSummary.failing} as, and the stack alarms on. */
export const FAILING_JOBS_METRIC = 'FailingJobs';

/** The observation keys of a fine-tune's end, which carries its curve. */
const END_KEYS = ['completed', 'failed', 'cancelled'] as const;

/** Longest `lastError` kept on a job: enough to read the cause. */
const MAX_LAST_ERROR_LENGTH = 300;

/** What one run did, for logs and metrics. */
export interface PollSummary {
  /** Observations handed to the accept path. */
  observed: number;
  accepted: number;
  duplicate: number;
  /** Observations another poller was accepting at that moment; their job is retried next run. */
  contended: number;
  /** Jobs whose event list could not be read after retries. */
  apiErrors: number;
  /** Jobs and batches worked on. */
  processed: number;
  /** Skipped because they are finished. */
  skippedTerminal: number;
  /** Finished before the poller first saw them, recorded without events. */
  backfilled: number;
  /** Left for the next run by the job bound or the time budget. */
  deferred: number;
  /** Unfinished jobs and batches the lists no longer show, read by id. */
  lookedUp: number;
  /** Of those, the ones the API no longer knows (404): recorded as finished, nothing to announce. */
  gone: number;
  /** Jobs with an event that could not be accepted for good in this run: recorded on the job, retried with backoff. */
  failed: number;
  /** Jobs in that state after this run, those waiting for their retry included (the `FailingJobs` metric). */
  failing: number;
  /** Finished jobs whose checkpoints or metrics could not be read: their end went out without that part of the curve. */
  curvesMissing: number;
}

interface WorkItem {
  /** `poll` a listed job or batch, `lookup` one the list no longer shows, `backfill` old history. */
  readonly action: 'poll' | 'lookup' | 'backfill';
  readonly kind: PolledKind;
  readonly pk: string;
  readonly id: string;
  readonly previous: PollerState | undefined;
  readonly fineTune?: FineTuneJob;
  readonly batch?: Batch;
}

/** One run's shared view: what it found and what it did. */
interface Run {
  readonly deps: PollerDeps;
  readonly summary: PollSummary;
  /** The unfinished keys, kept in step with the table by {@link record}. */
  readonly open: Set<string>;
  /** Keys of the jobs whose events could not be accepted, as of now. */
  readonly failing: Set<string>;
}

/**
 * One poll of Together: lists fine-tune jobs and batches, reads the events of every job not yet
 * finished (by id for those the lists no longer show), and hands each new observation to the accept
 * path, which stores each event id once. A job's state is written only after its observations were
 * handed over, so a run that dies part-way is repeated by the next run rather than skipped. An
 * observation the accept path refuses for good is recorded on its job, which is retried with
 * backoff, and the run goes on. Every piece of work, backfill included, starts within the run's
 * time budget; the rest waits for the next run. Throws when the lists cannot be read
 * (`TogetherAuthError`, `TogetherApiError`) or the accept path or state table fail (`DependencyError`).
 */
export async function pollTogether(deps: PollerDeps, limits: PollLimits = DEFAULT_POLL_LIMITS): Promise<PollSummary> {
  const startedAtMs = deps.clock();
  const summary: PollSummary = {
    observed: 0,
    accepted: 0,
    duplicate: 0,
    contended: 0,
    apiErrors: 0,
    processed: 0,
    skippedTerminal: 0,
    backfilled: 0,
    deferred: 0,
    lookedUp: 0,
    gone: 0,
    failed: 0,
    failing: 0,
    curvesMissing: 0,
  };

  const [jobs, batches] = await Promise.all([deps.api.listFineTunes(), deps.api.listBatches()]);
  // Backfill is measured from the first run, not from now: after an outage longer than the window,
  // what finished meanwhile is still announced.
  const firstPolledMs = await deps.state.firstPolledAt(startedAtMs);
  const open = await deps.state.openKeys();
  const listed = new Set([...jobs.map((job) => stateKey('fine_tune', job.id)), ...batches.map((batch) => stateKey('batch', batch.id))]);
  const missing = [...open].filter((pk) => !listed.has(pk));
  const states = await deps.state.load([...listed, ...missing]);
  const failing = new Set([...states.values()].filter((state) => !state.terminal && (state.failures ?? 0) > 0).map((state) => state.pk));
  const run: Run = { deps, summary, open, failing };

  const work: WorkItem[] = [];
  // A job whose events failed waits out its backoff; it stays counted as failing meanwhile.
  const due = (item: WorkItem) => {
    const retryAt = item.previous?.retryAt;
    if (retryAt === undefined || Date.parse(retryAt) <= startedAtMs) work.push(item);
  };
  const finished = async (pk: string) => {
    summary.skippedTerminal += 1;
    // A crash between writing the terminal state and removing the key leaves it open.
    if (open.has(pk)) await closeKey(run, pk);
  };
  for (const job of jobs) {
    const pk = stateKey('fine_tune', job.id);
    const previous = states.get(pk);
    if (previous?.terminal) {
      await finished(pk);
    } else if (previous === undefined && isFineTuneTerminal(job.status) && finishedBeforeBackfill(job.updated_at, firstPolledMs, limits)) {
      work.push({ action: 'backfill', kind: 'fine_tune', pk, id: job.id, previous, fineTune: job });
    } else {
      // Every unfinished job is read each run: a checkpoint need not change the job's updated_at.
      due({ action: 'poll', kind: 'fine_tune', pk, id: job.id, previous, fineTune: job });
    }
  }
  for (const batch of batches) {
    const pk = stateKey('batch', batch.id);
    const previous = states.get(pk);
    if (previous?.terminal) {
      await finished(pk);
    } else if (!isBatchTerminal(batch.status)) {
      // Nothing to announce until it finishes, but it is remembered once, so that it is looked up
      // by id should it leave the list before then.
      if (previous === undefined || !open.has(pk)) due({ action: 'poll', kind: 'batch', pk, id: batch.id, previous, batch });
    } else if (previous === undefined && finishedBeforeBackfill(batch.completed_at ?? batch.created_at, firstPolledMs, limits)) {
      work.push({ action: 'backfill', kind: 'batch', pk, id: batch.id, previous, batch });
    } else {
      due({ action: 'poll', kind: 'batch', pk, id: batch.id, previous, batch });
    }
  }
  for (const pk of missing) {
    const previous = states.get(pk);
    const key = parseStateKey(pk);
    if (key === undefined || previous?.terminal) await closeKey(run, pk);
    else due({ action: 'lookup', kind: key.kind, pk, id: previous?.subject || key.id, previous });
  }
  // Never-polled first, then the least recently polled, so that the bounds below starve none.
  work.sort((a, b) => (a.previous?.polledAt ?? '').localeCompare(b.previous?.polledAt ?? ''));

  let apiCalls = 0;
  for (const [index, item] of work.entries()) {
    if (deps.clock() - startedAtMs >= limits.timeBudgetMs) {
      summary.deferred += work.length - index;
      break;
    }
    // The job bound counts the work that reads the API; a backfill or a listed batch is one write.
    const readsApi = item.action === 'lookup' || (item.action === 'poll' && item.kind === 'fine_tune');
    if (readsApi && apiCalls >= limits.maxJobsPerRun) {
      summary.deferred += 1;
      continue;
    }
    if (readsApi) apiCalls += 1;
    if (item.action === 'backfill') {
      const status = item.fineTune?.status ?? item.batch?.status ?? '';
      await record(run, terminalState(item.kind, item.pk, item.id, status, item.fineTune?.updated_at ?? item.batch?.completed_at, new Date(deps.clock()).toISOString()));
      summary.backfilled += 1;
    } else {
      summary.processed += 1;
      await pollItem(run, item);
    }
  }
  if (summary.deferred > 0) {
    deps.logger?.info('poll run limit reached; the rest waits for the next run', {
      deferred: summary.deferred,
      maxJobsPerRun: limits.maxJobsPerRun,
      timeBudgetMs: limits.timeBudgetMs,
    });
  }
  summary.failing = failing.size;
  return summary;
}

async function pollItem(run: Run, item: WorkItem): Promise<void> {
  const { deps, summary } = run;
  const receivedAt = new Date(deps.clock()).toISOString();
  let observations: Observation[];
  // Stryker disable next-line LogicalOperator,StringLiteral: every path that reads `status` (the BadRequestError of an observation) runs after it is set from the API's answer below
  let status = item.fineTune?.status ?? item.batch?.status ?? item.previous?.status ?? '';
  let updatedAt: string | number | null | undefined;
  let lastEventAt: string | undefined;
  try {
    let { fineTune, batch } = item;
    if (item.action === 'lookup') {
      summary.lookedUp += 1;
      if (item.kind === 'fine_tune') fineTune = await deps.api.getFineTune(item.id);
      else batch = await deps.api.getBatch(item.id);
      if (fineTune === undefined && batch === undefined) {
        // Deleted, or kept by Together no longer: nothing more will happen to it.
        summary.gone += 1;
        run.failing.delete(item.pk);
        deps.logger?.warn('a job the poller was following is no longer known to Together; recorded as finished', { subject: item.id });
        await record(run, terminalState(item.kind, item.pk, item.id, 'not_found', undefined, receivedAt));
        return;
      }
    }
    if (fineTune !== undefined) {
      status = fineTune.status;
      updatedAt = fineTune.updated_at;
      const events = await deps.api.listFineTuneEvents(item.id);
      lastEventAt = events.map((event) => isoTime(event.created_at)).reduce<string | undefined>((latest, at) => (at !== undefined && (latest === undefined || at > latest) ? at : latest), undefined);
      // The curve is read once, for the job's end: two more requests per job, not per poll.
      const curve = isFineTuneTerminal(status) && !END_KEYS.some((key) => item.previous?.emitted.has(key)) ? await readJobCurve(deps.api, item.id) : undefined;
      for (const { what, error } of curve?.unreadable ?? []) {
        deps.logger?.warn(`could not read a finished job's ${what} from Together; its end goes out without them`, { subject: item.id, reason: error.reason, detail: error.message });
      }
      if ((curve?.unreadable.length ?? 0) > 0) summary.curvesMissing += 1;
      observations = observeFineTune(fineTune, events, receivedAt, curve?.curve);
    } else {
      const known = batch as Batch;
      status = known.status;
      updatedAt = known.completed_at;
      observations = observeBatch(known, receivedAt);
    }
  } catch (error) {
    if (error instanceof TogetherApiError) {
      // One job's reads failing must not hold back the others; it is read again next run.
      summary.apiErrors += 1;
      deps.logger?.warn('could not read a job from Together; retrying next run', { subject: item.id, reason: error.reason, detail: error.message });
      return;
    }
    if (error instanceof BadRequestError) {
      await recordFailure(run, item, { status, emitted: new Set(), errors: [error.message] });
      return;
    }
    throw error;
  }

  const seen = item.previous?.emitted ?? new Set<string>();
  const emitted = new Set<string>();
  const errors: string[] = [];
  for (const observation of observations) {
    if (seen.has(observation.key)) continue;
    summary.observed += 1;
    let result: AcceptResult;
    try {
      result = await deps.accept(observation.event);
    } catch (error) {
      if (error instanceof ConflictError) {
        // Another poller is accepting this very event: it owns the job this run. Leave the state
        // alone so that the next run looks again instead of trusting a half-finished job.
        summary.contended += 1;
        deps.logger?.info('another poller is accepting this job; leaving it to the next run', { subject: item.id, key: observation.event.id });
        return;
      }
      // Refused for good (too large, invalid): retrying at once cannot help, and the job's other
      // events and the other jobs need not wait for it. A dependency failure fails the run.
      if (isPermanent(error)) {
        errors.push(`${observation.key}: ${error.message}`);
        continue;
      }
      throw error;
    }
    if (result.status === 'accepted') {
      summary.accepted += 1;
      deps.logger?.info('event accepted', { key: result.key, route: observation.event.type, subject: item.id });
    } else {
      summary.duplicate += 1;
      deps.logger?.debug('already accepted', { key: result.key, state: result.state });
    }
    emitted.add(observation.key);
  }

  const fields = { status, emitted, ...(updatedAt === undefined || updatedAt === null ? {} : { updatedAt: String(updatedAt) }), ...(lastEventAt === undefined ? {} : { lastEventAt }) };
  if (errors.length > 0) {
    await recordFailure(run, item, { ...fields, errors });
    return;
  }
  run.failing.delete(item.pk);
  await record(run, {
    pk: item.pk,
    kind: item.kind,
    subject: item.id,
    ...fields,
    terminal: item.kind === 'fine_tune' ? isFineTuneTerminal(status) : isBatchTerminal(status),
    polledAt: new Date(deps.clock()).toISOString(),
  });
}

/** A 4xx of the accept path other than 409: the event itself is at fault. */
function isPermanent(error: unknown): error is ReceiverError {
  return error instanceof ReceiverError && error.statusCode >= 400 && error.statusCode < 500;
}

/**
 * Records on the job that some of its events could not be accepted: never terminal (so it is
 * polled again until they are), with the accepted ones kept in `emitted` and the next try after
 * {@link FAILED_JOB_RETRY}'s backoff.
 */
async function recordFailure(
  run: Run,
  item: WorkItem,
  seen: { status: string; emitted: ReadonlySet<string>; errors: readonly string[]; updatedAt?: string; lastEventAt?: string },
): Promise<void> {
  const nowMs = run.deps.clock();
  const failures = (item.previous?.failures ?? 0) + 1;
  const delaySeconds = Math.min(FAILED_JOB_RETRY.maxSeconds, FAILED_JOB_RETRY.baseSeconds * 2 ** (failures - 1));
  const lastError = seen.errors.join('; ').slice(0, MAX_LAST_ERROR_LENGTH);
  const retryAt = new Date(nowMs + delaySeconds * 1000).toISOString();
  run.summary.failed += 1;
  run.failing.add(item.pk);
  run.deps.logger?.warn('events of a job could not be accepted; retrying it with backoff', { subject: item.id.slice(0, 200), failures, retryAt, detail: lastError });
  await record(run, {
    pk: item.pk,
    kind: item.kind,
    subject: item.id,
    status: seen.status,
    ...(seen.updatedAt === undefined ? {} : { updatedAt: seen.updatedAt }),
    ...(seen.lastEventAt === undefined ? {} : { lastEventAt: seen.lastEventAt }),
    terminal: false,
    emitted: seen.emitted,
    polledAt: new Date(nowMs).toISOString(),
    failures,
    lastError,
    retryAt,
  });
}

/**
 * Writes a state, keeping the open keys in step: a key is added before the first non-terminal
 * state and removed after the terminal one, so a crash in between never hides an unfinished job.
 */
async function record(run: Run, state: PollerState): Promise<void> {
  // Stryker disable next-line LogicalOperator: for a terminal state the key added here is removed after the write below, leaving the same set (an extra write only)
  if (!state.terminal && !run.open.has(state.pk)) {
    await run.deps.state.setOpen(state.pk, true);
    run.open.add(state.pk);
  }
  await run.deps.state.save(state);
  if (state.terminal && run.open.has(state.pk)) await closeKey(run, state.pk);
}

async function closeKey(run: Run, pk: string): Promise<void> {
  await run.deps.state.setOpen(pk, false);
  run.open.delete(pk);
}

/** Finished more than the backfill window before the poller's first run: history, not news. */
function finishedBeforeBackfill(at: string | number | null | undefined, firstPolledMs: number, limits: PollLimits): boolean {
  const iso = isoTime(at);
  // No readable time: announce it rather than risk losing a recent event.
  if (iso === undefined) return false;
  return firstPolledMs - Date.parse(iso) > limits.backfillSeconds * 1000;
}

function terminalState(kind: PolledKind, pk: string, id: string, status: string, updatedAt: string | number | null | undefined, nowIso: string): PollerState {
  return {
    pk,
    kind,
    subject: id,
    status,
    ...(updatedAt === undefined || updatedAt === null ? {} : { updatedAt: String(updatedAt) }),
    terminal: true,
    emitted: new Set<string>(),
    polledAt: nowIso,
  };
}
