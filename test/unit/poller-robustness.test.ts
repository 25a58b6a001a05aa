import { describe, expect, it } from 'vitest';
import { PayloadTooLargeError } from '../../functions/core/errors';
import type { NormalizedEvent } from '../../functions/core/event';
import { pollTogether, type PollLimits } from '../../functions/poller/poll';
import { stateKey } from '../../functions/poller/state';
import type { Batch, FineTuneJob } from '../../functions/poller/together-api';
import { account, memoryStore, recorder } from '../support/poller';

const NOW_MS = Date.parse('2026-11-01T12:00:00Z');
const hoursAgo = (hours: number) => new Date(NOW_MS - hours * 3_600_000).toISOString();
const LIMITS: PollLimits = { maxJobsPerRun: 50, timeBudgetMs: 60_000, backfillSeconds: 86_400 };

const job = (id: string, status = 'running', updatedAt = hoursAgo(0.1)): FineTuneJob => ({ id, status, updated_at: updatedAt });
const tooLarge = () => new PayloadTooLargeError('normalized event is over 380000 bytes', 'event_too_large');
const failFor = (subject: string) => (event: NormalizedEvent) => (event.subject === subject ? tooLarge() : undefined);

describe('a poll run with one bad event', () => {
  it('the poller no longer stalls on one bad event: a permanent accept error is recorded on that job and the run goes on', async () => {
    const { api } = account([job('ft-bad'), job('ft-good')]);
    const state = memoryStore();
    const { accept, ids } = recorder(failFor('ft-bad'));

    const summary = await pollTogether({ api, accept, state, clock: () => NOW_MS }, LIMITS);

    expect(ids).toEqual(['poll:ft:ft-good:started']);
    expect(summary).toMatchObject({ failed: 1, failing: 1, accepted: 1 });
    expect(state.items.get(stateKey('fine_tune', 'ft-bad'))).toMatchObject({
      terminal: false,
      failures: 1,
      lastError: 'started: normalized event is over 380000 bytes',
      retryAt: new Date(NOW_MS + 60_000).toISOString(),
    });
    expect(state.items.get(stateKey('fine_tune', 'ft-bad'))?.emitted).toEqual(new Set());
  });

  it('retries a job whose accept failed with backoff, and clears the failure once it goes through', async () => {
    const { api } = account([job('ft-bad')]);
    const state = memoryStore();
    let broken = true;
    const attempts: number[] = [];
    const { accept, ids } = recorder((event) => {
      attempts.push(now);
      return broken && event.subject === 'ft-bad' ? tooLarge() : undefined;
    });
    let now = NOW_MS;
    const run = () => pollTogether({ api, accept, state, clock: () => now }, LIMITS);

    await run();
    now = NOW_MS + 59_000;
    const waiting = await run();
    now = NOW_MS + 60_000;
    await run();
    const second = state.items.get(stateKey('fine_tune', 'ft-bad'));
    now = NOW_MS + 60_000 + 120_000;
    broken = false;
    const fixed = await run();

    expect(attempts).toEqual([NOW_MS, NOW_MS + 60_000, NOW_MS + 180_000]);
    expect(waiting).toMatchObject({ failing: 1, processed: 0 });
    expect(second).toMatchObject({ failures: 2, retryAt: new Date(NOW_MS + 180_000).toISOString() });
    expect(fixed).toMatchObject({ failing: 0, accepted: 1 });
    expect(ids).toEqual(['poll:ft:ft-bad:started']);
    const cleared = state.items.get(stateKey('fine_tune', 'ft-bad'));
    expect([cleared?.failures, cleared?.lastError, cleared?.retryAt]).toEqual([undefined, undefined, undefined]);
  });

  it('accepts the other events of a job whose event failed, and keeps polling it until all went through', async () => {
    const { api, hidden } = account([job('ft-done', 'completed')]);
    const state = memoryStore();
    let broken = true;
    const { accept, ids } = recorder((event) => (broken && event.id.endsWith(':started') ? tooLarge() : undefined));
    let now = NOW_MS;
    const run = () => pollTogether({ api, accept, state, clock: () => now }, LIMITS);

    await run();
    const afterFailure = state.items.get(stateKey('fine_tune', 'ft-done'));
    hidden.add('ft-done');
    broken = false;
    now += 60_000;
    await run();

    expect(afterFailure).toMatchObject({ terminal: false, failures: 1 });
    expect(afterFailure?.emitted).toEqual(new Set(['completed']));
    expect(ids).toEqual(['poll:ft:ft-done:completed', 'poll:ft:ft-done:started']);
    expect(state.items.get(stateKey('fine_tune', 'ft-done'))?.terminal).toBe(true);
    expect(state.items.get(stateKey('fine_tune', 'ft-done'))?.failures).toBeUndefined();
  });
});

describe('jobs that leave the list', () => {
  it('the poller finds jobs that leave the list: a known running job absent from GET /fine-tunes is looked up by id', async () => {
    const jobs = [job('ft-gone')];
    const { api, hidden, lookups } = account(jobs);
    const state = memoryStore();
    const { accept, ids } = recorder();
    let now = NOW_MS;
    const run = () => pollTogether({ api, accept, state, clock: () => now }, LIMITS);
    await run();
    hidden.add('ft-gone');
    jobs[0] = job('ft-gone', 'completed');

    now += 60_000;
    const summary = await run();
    now += 60_000;
    await run();

    expect(lookups).toEqual(['ft-gone']);
    expect(summary).toMatchObject({ lookedUp: 1, accepted: 1 });
    expect(ids).toEqual(['poll:ft:ft-gone:started', 'poll:ft:ft-gone:completed']);
    expect(state.open.has(stateKey('fine_tune', 'ft-gone'))).toBe(false);
  });

  it('the poller finds batches that leave the list: a known unfinished batch absent from GET /batches is looked up by id', async () => {
    const batches: Batch[] = [{ id: 'batch-gone', status: 'IN_PROGRESS', created_at: hoursAgo(1) }];
    const { api, hidden, lookups } = account([], {}, batches);
    const state = memoryStore();
    const { accept, ids } = recorder();
    let now = NOW_MS;
    const run = () => pollTogether({ api, accept, state, clock: () => now }, LIMITS);
    await run();
    hidden.add('batch-gone');
    now += 60_000;
    await run();
    batches[0] = { id: 'batch-gone', status: 'FAILED', created_at: hoursAgo(1), completed_at: new Date(now).toISOString(), error: 'input invalid' };

    now += 60_000;
    await run();

    expect(lookups).toEqual(['batch-gone', 'batch-gone']);
    expect(ids).toEqual(['poll:batch:batch-gone:FAILED']);
  });

  it('records a job the API no longer knows (404) as finished, and stops looking it up', async () => {
    const jobs = [job('ft-deleted')];
    const { api, lookups } = account(jobs);
    const state = memoryStore();
    const { accept } = recorder();
    let now = NOW_MS;
    const run = () => pollTogether({ api, accept, state, clock: () => now }, LIMITS);
    await run();
    jobs.length = 0;

    now += 60_000;
    const summary = await run();
    now += 60_000;
    await run();

    expect(lookups).toEqual(['ft-deleted']);
    expect(summary).toMatchObject({ lookedUp: 1, gone: 1 });
    expect(state.items.get(stateKey('fine_tune', 'ft-deleted'))).toMatchObject({ terminal: true, status: 'not_found' });
  });

  it('bounds the lookups of a run by its time budget: the rest waits for the next run', async () => {
    const jobs = [job('ft-a'), job('ft-b'), job('ft-c')];
    const base = account(jobs);
    let now = NOW_MS;
    // Each lookup takes 20 s of the injected clock.
    const api = { ...base.api, getFineTune: async (id: string) => ((now += 20_000), base.api.getFineTune(id)) };
    const state = memoryStore();
    const { accept } = recorder();
    const run = () => pollTogether({ api, accept, state, clock: () => now }, { ...LIMITS, timeBudgetMs: 30_000 });
    await run();
    for (const id of ['ft-a', 'ft-b', 'ft-c']) base.hidden.add(id);

    now += 60_000;
    const first = await run();
    now += 60_000;
    const second = await run();

    expect(first).toMatchObject({ lookedUp: 2, deferred: 1 });
    expect(second.lookedUp).toBeGreaterThanOrEqual(1);
    expect(new Set(base.lookups)).toEqual(new Set(['ft-a', 'ft-b', 'ft-c']));
  });
});

describe('backfill', () => {
  it('bounds backfill by the time budget of the run: the rest is recorded by the next runs, nothing announced', async () => {
    const old = ['ft-1', 'ft-2', 'ft-3', 'ft-4', 'ft-5'].map((id) => job(id, 'completed', hoursAgo(72)));
    const { api } = account(old);
    let now = NOW_MS;
    // Each state write takes 20 s of the injected clock.
    const state = memoryStore(() => void (now += 20_000));
    const { accept, ids } = recorder();
    const run = () => pollTogether({ api, accept, state, clock: () => now }, { ...LIMITS, timeBudgetMs: 30_000 });

    const first = await run();
    const rest = [await run(), await run()];

    expect(first).toMatchObject({ backfilled: 2, deferred: 3 });
    expect(rest.map((summary) => summary.backfilled)).toEqual([2, 1]);
    expect(ids).toEqual([]);
    expect([...state.items.values()].every((item) => item.terminal)).toBe(true);
  });

  it('backfill edges: a job that finished 23 h before the first poll is announced', async () => {
    const { api } = account([job('ft-23h', 'completed', hoursAgo(23))], {}, [{ id: 'batch-23h', status: 'COMPLETED', completed_at: hoursAgo(23) }]);
    const { accept, ids } = recorder();

    const summary = await pollTogether({ api, accept, state: memoryStore(), clock: () => NOW_MS }, LIMITS);

    expect(summary.backfilled).toBe(0);
    expect(ids.sort()).toEqual(['poll:batch:batch-23h:COMPLETED', 'poll:ft:ft-23h:completed', 'poll:ft:ft-23h:started']);
  });

  it('backfill edges: a job that finished 25 h before the first poll is recorded as history without events', async () => {
    const { api, eventReads } = account([job('ft-25h', 'completed', hoursAgo(25))], {}, [{ id: 'batch-25h', status: 'COMPLETED', completed_at: hoursAgo(25) }]);
    const state = memoryStore();
    const { accept, ids } = recorder();

    const summary = await pollTogether({ api, accept, state, clock: () => NOW_MS }, LIMITS);

    expect(summary.backfilled).toBe(2);
    expect(ids).toEqual([]);
    expect(eventReads).toEqual([]);
    expect(state.items.get(stateKey('fine_tune', 'ft-25h'))).toMatchObject({ terminal: true, status: 'completed' });
    expect(state.items.get(stateKey('batch', 'batch-25h'))).toMatchObject({ terminal: true, status: 'COMPLETED' });
  });
});
