import { describe, expect, it } from 'vitest';
import type { AcceptResult } from '../../functions/core/accept';
import { BadRequestError, DependencyError, PayloadTooLargeError } from '../../functions/core/errors';
import type { NormalizedEvent } from '../../functions/core/event';
import { pollTogether, type PollerDeps, type PollLimits } from '../../functions/poller/poll';
import { stateKey } from '../../functions/poller/state';
import { TogetherAuthError, type Batch, type FineTuneJob, type TogetherApi } from '../../functions/poller/together-api';
import { account, memoryStore, recorder } from '../support/poller';

const NOW_MS = Date.parse('2026-11-01T12:00:00Z');
const hoursAgo = (hours: number) => new Date(NOW_MS - hours * 3_600_000).toISOString();
const LIMITS: PollLimits = { maxJobsPerRun: 50, timeBudgetMs: 60_000, backfillSeconds: 86_400 };

const job = (id: string, status = 'running', updatedAt: FineTuneJob['updated_at'] = hoursAgo(0.1)): FineTuneJob => ({ id, status, updated_at: updatedAt });
const ftKey = (id: string) => stateKey('fine_tune', id);
const CURVE = { checkpoints: [{ step: 10, path: 's3://ckpt/10', created_at: '2026-11-01T10:00:00Z' }], metrics: [{ 'train/global_step': 10, 'train/loss': 1.5 }] };

/** A logger that keeps what an operator would read. */
function logLines() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  return { lines, logger: { info: at('info'), warn: at('warn'), debug: at('debug') } as unknown as NonNullable<PollerDeps['logger']> };
}

/** An accept path that keeps the events it took. */
function taking() {
  const taken: NormalizedEvent[] = [];
  const accept = async (event: NormalizedEvent): Promise<AcceptResult> => {
    taken.push(event);
    return { status: 'accepted', key: `together#${event.id}` };
  };
  return { taken, accept };
}

describe('[RULE] the bounds of a run', () => {
  it('[RULE] the job bound counts only the jobs read from the API: batches to record and backfills are not held back by it', async () => {
    const jobs = [job('ft-a'), job('ft-b')];
    const batches: Batch[] = [];
    const { api, hidden, lookups, eventReads } = account(jobs, {}, batches);
    const state = memoryStore();
    let now = NOW_MS;
    const run = (maxJobsPerRun: number) => pollTogether({ api, accept: recorder().accept, state, clock: () => now }, { ...LIMITS, maxJobsPerRun });
    await run(5);
    hidden.add('ft-b');
    jobs.push(job('ft-old', 'completed', hoursAgo(72)));
    batches.push({ id: 'batch-new', status: 'IN_PROGRESS', created_at: hoursAgo(1) });
    eventReads.length = 0;

    now += 60_000;
    const summary = await run(1);

    expect(summary).toMatchObject({ processed: 2, backfilled: 1, deferred: 1, lookedUp: 0 });
    expect([eventReads, lookups]).toEqual([['ft-a'], []]);
    expect(state.items.get(stateKey('batch', 'batch-new'))?.terminal).toBe(false);
  });

  it('[RULE] no new job starts once exactly the time budget is spent, and the operator is told how much waits', async () => {
    const { api, eventReads } = account([job('ft-a'), job('ft-b'), job('ft-c')]);
    let now = NOW_MS;
    const slowApi: TogetherApi = { ...api, listFineTuneEvents: async (id) => ((now += 20_000), api.listFineTuneEvents(id)) };
    const { lines, logger } = logLines();

    const summary = await pollTogether({ api: slowApi, accept: recorder().accept, state: memoryStore(), clock: () => now, logger }, { ...LIMITS, timeBudgetMs: 20_000 });

    expect(summary).toMatchObject({ processed: 1, deferred: 2 });
    expect(eventReads).toEqual(['ft-a']);
    expect(lines.filter((line) => line.level === 'info' && /limit reached/.test(line.message)).map((line) => line.fields)).toEqual([
      { deferred: 2, maxJobsPerRun: 50, timeBudgetMs: 20_000 },
    ]);
  });

  it('[RULE] a run within its bounds logs no limit', async () => {
    const { api } = account([job('ft-a')]);
    const { lines, logger } = logLines();

    await pollTogether({ api, accept: recorder().accept, state: memoryStore(), clock: () => NOW_MS, logger }, LIMITS);

    expect(lines.filter((line) => /limit/.test(line.message))).toEqual([]);
  });
});

describe('[RULE] the curve of a job that ends', () => {
  it('[RULE] the end of a finished job carries its curve; a running job reads none and reports nothing missing', async () => {
    const { api, curveReads, curveFailing } = account([job('ft-done', 'completed'), job('ft-running')], {}, [], { 'ft-done': CURVE });
    curveFailing.add('ft-running');
    const { taken, accept } = taking();
    const { lines, logger } = logLines();

    const summary = await pollTogether({ api, accept, state: memoryStore(), clock: () => NOW_MS, logger }, LIMITS);

    const completed = taken.find((event) => event.type === 'fine_tune.completed');
    expect(completed?.data).toMatchObject({ checkpoints: [{ step: 10, loss: 1.5, path: 's3://ckpt/10', at: '2026-11-01T10:00:00.000Z' }] });
    expect(curveReads).toEqual(['ft-done/checkpoints', 'ft-done/metrics']);
    expect(summary.curvesMissing).toBe(0);
    expect(lines.filter((line) => line.level === 'warn')).toEqual([]);
  });

  it('[RULE] a finished job whose curve cannot be read is counted and logged once per part, and its end still goes out', async () => {
    const { api, curveFailing } = account([job('ft-down', 'completed'), job('ft-up', 'completed')], {}, [], { 'ft-up': CURVE });
    curveFailing.add('ft-down');
    const { taken, accept } = taking();
    const { lines, logger } = logLines();

    const summary = await pollTogether({ api, accept, state: memoryStore(), clock: () => NOW_MS, logger }, LIMITS);

    expect(summary.curvesMissing).toBe(1);
    expect(taken.filter((event) => event.type === 'fine_tune.completed').map((event) => event.subject).sort()).toEqual(['ft-down', 'ft-up']);
    expect(lines.filter((line) => line.level === 'warn').map((line) => [line.message, line.fields.subject, line.fields.reason])).toEqual([
      ["could not read a finished job's checkpoints from Together; its end goes out without them", 'ft-down', 'together_unavailable'],
      ["could not read a finished job's metrics from Together; its end goes out without them", 'ft-down', 'together_unavailable'],
    ]);
  });

  it('[RULE] a finished job polled again because another of its events failed does not read its curve again once its end went out', async () => {
    const { api, curveReads } = account([job('ft-done', 'completed')], {}, [], { 'ft-done': CURVE });
    const state = memoryStore();
    const { accept } = recorder((event) => (event.id.endsWith(':started') ? new PayloadTooLargeError('too large', 'event_too_large') : undefined));
    let now = NOW_MS;
    const run = () => pollTogether({ api, accept, state, clock: () => now }, LIMITS);

    await run();
    now += 60_000;
    const again = await run();

    expect(again.processed).toBe(1);
    expect(curveReads).toEqual(['ft-done/checkpoints', 'ft-done/metrics']);
  });
});

describe('[RULE] outcomes of the accept path and the API', () => {
  it('[RULE] a rejected key while reading one job fails the run with TogetherAuthError, and records nothing for that job', async () => {
    const { api } = account([job('ft-1')]);
    const state = memoryStore();
    const rejecting: TogetherApi = { ...api, listFineTuneEvents: async (id) => Promise.reject(new TogetherAuthError(401, `/fine-tunes/${id}/events`)) };

    await expect(pollTogether({ api: rejecting, accept: recorder().accept, state, clock: () => NOW_MS }, LIMITS)).rejects.toBeInstanceOf(TogetherAuthError);

    expect(state.items.has(ftKey('ft-1'))).toBe(false);
  });

  it('[RULE] after a crash between the send and the state write, the next run hands the event again and counts it a duplicate, not a new one', async () => {
    const { api } = account([job('ft-1')]);
    const state = memoryStore();
    const { accept, ids } = recorder();
    const crashing = { ...state, save: async () => Promise.reject(new DependencyError('table down', 'poller_state_unavailable')) };
    await expect(pollTogether({ api, accept, state: crashing, clock: () => NOW_MS }, LIMITS)).rejects.toBeInstanceOf(DependencyError);
    const { lines, logger } = logLines();

    const summary = await pollTogether({ api, accept, state, clock: () => NOW_MS, logger }, LIMITS);

    expect(summary).toMatchObject({ observed: 1, accepted: 0, duplicate: 1 });
    expect(ids).toEqual(['poll:ft:ft-1:started', 'poll:ft:ft-1:started']);
    expect(lines.filter((line) => line.message === 'event accepted')).toEqual([]);
    expect(state.items.get(ftKey('ft-1'))?.emitted).toEqual(new Set(['started']));
  });

  it('[RULE] an event the accept path refuses as invalid (400) is recorded on its job with every cause, cut to 300 characters, and the run goes on', async () => {
    const { api } = account([job('ft-bad', 'completed', 1_793_527_200)], { 'ft-bad': [{ type: 'job_start', created_at: '2026-11-01T10:05:00Z' }] });
    const state = memoryStore();
    const { accept } = recorder(() => new BadRequestError(`invalid ${'x'.repeat(200)}`));

    const summary = await pollTogether({ api, accept, state, clock: () => NOW_MS }, LIMITS);

    const stored = state.items.get(ftKey('ft-bad'));
    expect(summary).toMatchObject({ failed: 1, failing: 1 });
    expect(stored?.lastError).toBe(`started: invalid ${'x'.repeat(200)}; completed: invalid ${'x'.repeat(300)}`.slice(0, 300));
    expect(stored).toMatchObject({ terminal: false, failures: 1, updatedAt: '1793527200', lastEventAt: '2026-11-01T10:05:00.000Z' });
  });

  it('[RULE] FailingJobs counts the unfinished jobs waiting out their backoff, and no unfinished batch or finished job beside them', async () => {
    const { api } = account([job('ft-bad'), job('ft-done', 'completed')], {}, [{ id: 'batch-1', status: 'IN_PROGRESS', created_at: hoursAgo(1) }]);
    const state = memoryStore();
    const { accept } = recorder((event) => (event.subject === 'ft-bad' ? new PayloadTooLargeError('too large', 'event_too_large') : undefined));
    let now = NOW_MS;
    const run = () => pollTogether({ api, accept, state, clock: () => now }, LIMITS);
    await run();

    now += 30_000;
    const waiting = await run();

    expect(waiting).toMatchObject({ failing: 1, processed: 0, skippedTerminal: 1 });
  });
});
