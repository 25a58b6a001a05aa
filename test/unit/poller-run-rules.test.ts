import { describe, expect, it } from 'vitest';
import { pollTogether, type PollLimits } from '../../functions/poller/poll';
import { stateKey } from '../../functions/poller/state';
import type { Batch, FineTuneJob } from '../../functions/poller/together-api';
import { account, memoryStore, recorder } from '../support/poller';

const NOW_MS = Date.parse('2026-11-01T12:00:00Z');
const hoursAgo = (hours: number) => new Date(NOW_MS - hours * 3_600_000).toISOString();
const LIMITS: PollLimits = { maxJobsPerRun: 50, timeBudgetMs: 60_000, backfillSeconds: 86_400 };

const job = (id: string, status = 'running', updatedAt: FineTuneJob['updated_at'] = hoursAgo(0.1)): FineTuneJob => ({ id, status, updated_at: updatedAt });
const ftKey = (id: string) => stateKey('fine_tune', id);
const batchKey = (id: string) => stateKey('batch', id);

describe('[RULE] what a poll run records per job', () => {
  it("[RULE] a job's state keeps its kind, the API's updated_at as sent and the time of its newest event", async () => {
    const { api } = account([job('ft-1', 'running', 1_793_527_200)], {
      'ft-1': [
        { type: 'job_start', created_at: '2026-11-01T10:05:00Z' },
        { type: 'message', created_at: '2026-11-01T10:09:00Z' },
        { type: 'message', created_at: '2026-11-01T10:02:00Z' },
        { type: 'message', created_at: 'unknown' },
      ],
    }, [{ id: 'batch-1', status: 'IN_PROGRESS', created_at: hoursAgo(1) }]);
    const state = memoryStore();

    await pollTogether({ api, accept: recorder().accept, state, clock: () => NOW_MS }, LIMITS);

    expect(state.items.get(ftKey('ft-1'))).toMatchObject({ kind: 'fine_tune', updatedAt: '1793527200', lastEventAt: '2026-11-01T10:09:00.000Z', terminal: false });
    expect(state.items.get(batchKey('batch-1'))).toMatchObject({ kind: 'batch', terminal: false });
  });

  it('[RULE] a job Together sends without updated_at or events is stored without them', async () => {
    const { api } = account([job('ft-1', 'running', null)]);
    const state = memoryStore();

    await pollTogether({ api, accept: recorder().accept, state, clock: () => NOW_MS }, LIMITS);

    const stored = state.items.get(ftKey('ft-1'));
    expect([stored?.updatedAt, stored?.lastEventAt, stored?.terminal]).toEqual([undefined, undefined, false]);
  });

  it('[RULE] backfilled history keeps its kind and the time the API sent, and a job Together no longer knows keeps none', async () => {
    const jobs = [job('ft-old', 'completed', hoursAgo(72)), job('ft-gone')];
    const batches: Batch[] = [
      { id: 'batch-old', status: 'COMPLETED', completed_at: hoursAgo(72) },
      { id: 'batch-undated', status: 'FAILED', completed_at: null, created_at: hoursAgo(72) },
    ];
    const { api } = account(jobs, {}, batches);
    const state = memoryStore();
    let now = NOW_MS;
    const run = () => pollTogether({ api, accept: recorder().accept, state, clock: () => now }, LIMITS);
    await run();
    jobs.splice(1, 1);

    now += 60_000;
    await run();

    expect(state.items.get(ftKey('ft-old'))).toMatchObject({ kind: 'fine_tune', terminal: true, updatedAt: hoursAgo(72) });
    expect(state.items.get(batchKey('batch-old'))).toMatchObject({ kind: 'batch', terminal: true, updatedAt: hoursAgo(72) });
    expect(state.items.get(batchKey('batch-undated'))).toMatchObject({ kind: 'batch', terminal: true });
    expect(state.items.get(batchKey('batch-undated'))?.updatedAt).toBeUndefined();
    expect(state.items.get(ftKey('ft-gone'))).toMatchObject({ status: 'not_found', terminal: true });
    expect(state.items.get(ftKey('ft-gone'))?.updatedAt).toBeUndefined();
  });

  it.each([
    ['a fine-tune that ends in error', [job('ft-x', 'error')], []],
    ['a fine-tune that ends in user_error', [job('ft-x', 'user_error')], []],
    ['a batch that ends FAILED', [], [{ id: 'batch-x', status: 'FAILED', completed_at: hoursAgo(1) }]],
    ['a batch that ends EXPIRED', [], [{ id: 'batch-x', status: 'expired', completed_at: hoursAgo(1) }]],
  ] as [string, FineTuneJob[], Batch[]][])('[RULE] %s is finished: announced once, then never read again', async (_, jobs, batches) => {
    const { api, eventReads } = account(jobs, {}, batches);
    const state = memoryStore();
    const { accept, ids } = recorder();
    const deps = { api, accept, state, clock: () => NOW_MS };

    await pollTogether(deps, LIMITS);
    const again = await pollTogether(deps, LIMITS);

    expect(ids).toHaveLength(1);
    expect(eventReads.length).toBeLessThanOrEqual(1);
    expect(again).toMatchObject({ skippedTerminal: 1, processed: 0, observed: 0 });
    expect([...state.items.values()].map((item) => item.terminal)).toEqual([true]);
    expect(state.open.size).toBe(0);
  });

  it('[RULE] the run that sees a job finish removes it from the unfinished jobs', async () => {
    const jobs = [job('ft-1')];
    const { api } = account(jobs);
    const state = memoryStore();
    const deps = { api, accept: recorder().accept, state, clock: () => NOW_MS };
    await pollTogether(deps, LIMITS);
    const whileRunning = new Set(state.open);
    jobs[0] = job('ft-1', 'completed');

    await pollTogether(deps, LIMITS);

    expect(whileRunning).toEqual(new Set([ftKey('ft-1')]));
    expect(state.open).toEqual(new Set());
  });

  it('[RULE] a finished job left among the unfinished by a crash is removed by the next run, and not announced again', async () => {
    const { api, lookups } = account([job('ft-listed', 'completed', hoursAgo(72))]);
    const state = memoryStore();
    const { accept, ids } = recorder();
    const deps = { api, accept, state, clock: () => NOW_MS };
    await pollTogether(deps, LIMITS);
    // As if each run had died between writing the terminal state and removing the key.
    state.open.add(ftKey('ft-listed'));
    state.items.set(ftKey('ft-hidden'), { pk: ftKey('ft-hidden'), kind: 'fine_tune', subject: 'ft-hidden', status: 'completed', terminal: true, emitted: new Set(), polledAt: hoursAgo(1) });
    state.open.add(ftKey('ft-hidden'));

    await pollTogether(deps, LIMITS);

    expect(state.open).toEqual(new Set());
    expect([ids, lookups]).toEqual([[], []]);
  });

  it('[RULE] an unfinished key without a state, left by a crash, is looked up by the id in the key; keys the poller never writes are dropped', async () => {
    const { api, hidden, lookups } = account([job('ft-lost', 'completed')]);
    hidden.add('ft-lost');
    const state = memoryStore();
    const { accept, ids } = recorder();
    for (const pk of [ftKey('ft-lost'), 'together#poller#first-poll', `legacy#${ftKey('ft-stray')}`]) state.open.add(pk);

    const summary = await pollTogether({ api, accept, state, clock: () => NOW_MS }, LIMITS);

    expect(lookups).toEqual(['ft-lost']);
    expect(summary.lookedUp).toBe(1);
    expect(ids).toEqual(['poll:ft:ft-lost:started', 'poll:ft:ft-lost:completed']);
    expect(state.open).toEqual(new Set());
  });

  it('[RULE] an unfinished batch marked open by a run that died before writing it is written by the next run', async () => {
    const { api } = account([], {}, [{ id: 'batch-1', status: 'IN_PROGRESS', created_at: hoursAgo(1) }]);
    const state = memoryStore();
    state.open.add(batchKey('batch-1'));

    await pollTogether({ api, accept: recorder().accept, state, clock: () => NOW_MS }, LIMITS);

    expect(state.items.get(batchKey('batch-1'))).toMatchObject({ kind: 'batch', status: 'IN_PROGRESS', terminal: false });
  });
});

describe('[RULE] history and long runs', () => {
  it('[RULE] a job that finished exactly the backfill window before the first poll is still announced', async () => {
    const { api } = account([job('ft-24h', 'completed', hoursAgo(24))], {}, [{ id: 'batch-24h', status: 'COMPLETED', completed_at: hoursAgo(24) }]);
    const { accept, ids } = recorder();

    const summary = await pollTogether({ api, accept, state: memoryStore(), clock: () => NOW_MS }, LIMITS);

    expect(summary.backfilled).toBe(0);
    expect(ids.sort()).toEqual(['poll:batch:batch-24h:COMPLETED', 'poll:ft:ft-24h:completed', 'poll:ft:ft-24h:started']);
  });

  it('[RULE] a job the poller followed is announced when it ends, however old the updated_at Together sends', async () => {
    const jobs = [job('ft-long', 'running', hoursAgo(72))];
    const { api } = account(jobs);
    const state = memoryStore();
    const { accept, ids } = recorder();
    const deps = { api, accept, state, clock: () => NOW_MS };
    await pollTogether(deps, LIMITS);
    jobs[0] = job('ft-long', 'completed', hoursAgo(72));

    const summary = await pollTogether(deps, LIMITS);

    expect(summary.backfilled).toBe(0);
    expect(ids).toEqual(['poll:ft:ft-long:started', 'poll:ft:ft-long:completed']);
  });

  it.each([
    ['with', NOW_MS + 3_600_000],
    ['without', null],
  ])('[RULE] a batch that ran for days since before the first poll is announced when it ends, %s completed_at', async (_, completedAtMs) => {
    const batches: Batch[] = [{ id: 'batch-long', status: 'IN_PROGRESS', created_at: hoursAgo(72) }];
    const { api } = account([], {}, batches);
    const state = memoryStore();
    const { accept, ids } = recorder();
    await pollTogether({ api, accept, state, clock: () => NOW_MS }, LIMITS);
    batches[0] = { ...batches[0], id: 'batch-long', status: 'COMPLETED', completed_at: completedAtMs === null ? null : new Date(completedAtMs).toISOString() };

    await pollTogether({ api, accept, state, clock: () => NOW_MS + 2 * 3_600_000 }, LIMITS);

    expect(ids).toEqual(['poll:batch:batch-long:COMPLETED']);
  });

  it('[RULE] a backfilled batch is never announced by a later run', async () => {
    const { api } = account([], {}, [{ id: 'batch-old', status: 'COMPLETED', completed_at: hoursAgo(72) }]);
    const state = memoryStore();
    const { accept, ids } = recorder();
    const deps = { api, accept, state, clock: () => NOW_MS };

    const first = await pollTogether(deps, LIMITS);
    const second = await pollTogether(deps, LIMITS);

    expect([first.backfilled, second.skippedTerminal, ids]).toEqual([1, 1, []]);
  });
});
