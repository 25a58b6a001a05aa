import type { Logger } from '@aws-lambda-powertools/logger';
import type { AcceptResult } from '../core/accept';
import { BadRequestError, ConflictError } from '../core/errors';
import type { NormalizedEvent } from '../core/event';
import { isBatchTerminal, isFineTuneTerminal, isoTime, observeBatch, observeFineTune, type Observation } from './observe';
import { stateKey, type PolledKind, type PollerState, type PollerStateStore } from './state';
import { TogetherApiError, type Batch, type FineTuneJob, type TogetherApi } from './together-api';

/** Limits of one poll run; see {@link DEFAULT_POLL_LIMITS}. */
export interface PollLimits {
  /** Jobs and batches worked on per run; the rest wait for the next run, least recently polled first. */
  readonly maxJobsPerRun: number;
  /** No new job is started after this long; the run returns and the next one carries on. */
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
}

interface WorkItem {
  readonly kind: PolledKind;
  readonly pk: string;
  readonly id: string;
  readonly previous: PollerState | undefined;
  readonly fineTune?: FineTuneJob;
  readonly batch?: Batch;
}

/**
 * One poll of Together: lists fine-tune jobs and batches, reads the events of every job not yet
 * finished, and hands each new observation to the accept path, which stores each event id once.
 * A job's state is written only after all of its observations were accepted, so a run that dies
 * part-way is repeated by the next run rather than skipped. Throws when the lists cannot be read
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
  };

  const [jobs, batches] = await Promise.all([deps.api.listFineTunes(), deps.api.listBatches()]);
  // Backfill is measured from the first run, not from now: after an outage longer than the window,
  // what finished meanwhile is still announced.
  const firstPolledMs = await deps.state.firstPolledAt(startedAtMs);
  const states = await deps.state.load([
    ...jobs.map((job) => stateKey('fine_tune', job.id)),
    ...batches.map((batch) => stateKey('batch', batch.id)),
  ]);
  const nowIso = new Date(startedAtMs).toISOString();

  const work: WorkItem[] = [];
  for (const job of jobs) {
    const pk = stateKey('fine_tune', job.id);
    const previous = states.get(pk);
    if (previous?.terminal) {
      summary.skippedTerminal += 1;
    } else if (previous === undefined && isFineTuneTerminal(job.status) && finishedBeforeBackfill(job.updated_at, firstPolledMs, limits)) {
      await deps.state.save(terminalState('fine_tune', pk, job.id, job.status, job.updated_at, nowIso));
      summary.backfilled += 1;
    } else {
      // Every unfinished job is read each run: a checkpoint need not change the job's updated_at.
      work.push({ kind: 'fine_tune', pk, id: job.id, previous, fineTune: job });
    }
  }
  for (const batch of batches) {
    const pk = stateKey('batch', batch.id);
    const previous = states.get(pk);
    if (previous?.terminal) {
      summary.skippedTerminal += 1;
    } else if (!isBatchTerminal(batch.status)) {
      // Nothing to announce until it finishes; the list already said all there is.
      continue;
    } else if (previous === undefined && finishedBeforeBackfill(batch.completed_at ?? batch.created_at, firstPolledMs, limits)) {
      await deps.state.save(terminalState('batch', pk, batch.id, batch.status, batch.completed_at, nowIso));
      summary.backfilled += 1;
    } else {
      work.push({ kind: 'batch', pk, id: batch.id, previous, batch });
    }
  }
  // Never-polled first, then the least recently polled, so a bound on jobs per run starves none.
  work.sort((a, b) => (a.previous?.polledAt ?? '').localeCompare(b.previous?.polledAt ?? ''));

  for (const [index, item] of work.entries()) {
    if (summary.processed >= limits.maxJobsPerRun || deps.clock() - startedAtMs >= limits.timeBudgetMs) {
      summary.deferred = work.length - index;
      deps.logger?.info('poll run limit reached; the rest waits for the next run', {
        deferred: summary.deferred,
        maxJobsPerRun: limits.maxJobsPerRun,
        timeBudgetMs: limits.timeBudgetMs,
      });
      break;
    }
    summary.processed += 1;
    await pollItem(deps, item, summary);
  }
  return summary;
}

async function pollItem(deps: PollerDeps, item: WorkItem, summary: PollSummary): Promise<void> {
  const receivedAt = new Date(deps.clock()).toISOString();
  let observations: Observation[];
  let status: string;
  let updatedAt: string | number | null | undefined;
  let lastEventAt: string | undefined;
  try {
    if (item.fineTune !== undefined) {
      const events = await deps.api.listFineTuneEvents(item.id);
      observations = observeFineTune(item.fineTune, events, receivedAt);
      status = item.fineTune.status;
      updatedAt = item.fineTune.updated_at;
      lastEventAt = events.map((event) => isoTime(event.created_at)).reduce<string | undefined>((latest, at) => (at !== undefined && (latest === undefined || at > latest) ? at : latest), undefined);
    } else {
      const batch = item.batch as Batch;
      observations = observeBatch(batch, receivedAt);
      status = batch.status;
      updatedAt = batch.completed_at;
    }
  } catch (error) {
    if (error instanceof TogetherApiError) {
      // One job's events failing must not hold back the others; it is read again next run.
      summary.apiErrors += 1;
      deps.logger?.warn('could not read fine-tune events; retrying next run', { subject: item.id, reason: error.reason, detail: error.message });
      return;
    }
    if (error instanceof BadRequestError) {
      deps.logger?.warn('skipping a job whose state cannot become an event', { subject: item.id.slice(0, 200), detail: error.message });
      return;
    }
    throw error;
  }

  const seen = item.previous?.emitted ?? new Set<string>();
  const emitted = new Set<string>();
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

  const terminal = item.kind === 'fine_tune' ? isFineTuneTerminal(status) : isBatchTerminal(status);
  await deps.state.save({
    pk: item.pk,
    kind: item.kind,
    subject: item.id,
    status,
    ...(updatedAt === undefined || updatedAt === null ? {} : { updatedAt: String(updatedAt) }),
    terminal,
    emitted,
    ...(lastEventAt === undefined ? {} : { lastEventAt }),
    polledAt: new Date(deps.clock()).toISOString(),
  });
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
