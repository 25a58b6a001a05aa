import { describe, expect, it } from 'vitest';
import { ConflictError, DependencyError } from '../../functions/core/errors';
import { pollTogether, type PollLimits } from '../../functions/poller/poll';
import { stateKey } from '../../functions/poller/state';
import { TogetherAuthError, type Batch, type FineTuneEvent, type FineTuneJob, type TogetherApi } from '../../functions/poller/together-api';
import { account, memoryStore, recorder } from '../support/poller';

const NOW_MS = Date.parse('2026-11-01T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(NOW_MS - minutes * 60_000).toISOString();
const LIMITS: PollLimits = { maxJobsPerRun: 50, timeBudgetMs: 60_000, backfillSeconds: 86_400 };

const running = (id: string, overrides: Partial<FineTuneJob> = {}): FineTuneJob => ({ id, status: 'running', updated_at: minutesAgo(1), ...overrides });
const checkpointEvent = (step: number): FineTuneEvent => ({ type: 'checkpoint_save', step, created_at: minutesAgo(60 - step / 100), hash: `h${step}` });

describe('a poll run', () => {
  it('hands each observation to the accept path once, and nothing on a poll that sees no change', async () => {
    const { api } = account([running('ft-1')], { 'ft-1': [{ type: 'job_start' }, checkpointEvent(100)] });
    const state = memoryStore();
    const { accept, ids } = recorder();
    const deps = { api, accept, state, clock: () => NOW_MS };

    const first = await pollTogether(deps, LIMITS);
    const second = await pollTogether(deps, LIMITS);

    expect(ids).toEqual(['poll:ft:ft-1:started', 'poll:ft:ft-1:checkpoint:h100']);
    expect(first).toMatchObject({ observed: 2, accepted: 2, processed: 1 });
    expect(second).toMatchObject({ observed: 0, accepted: 0, processed: 1 });
  });

  it('writes a job state only after all of its observations were accepted', async () => {
    const { api } = account([running('ft-1')], { 'ft-1': [checkpointEvent(100), checkpointEvent(200)] });
    const state = memoryStore();
    const { accept } = recorder((_, index) => (index === 1 ? new DependencyError('queue down', 'sqs_unavailable') : undefined));

    await expect(pollTogether({ api, accept, state, clock: () => NOW_MS }, LIMITS)).rejects.toBeInstanceOf(DependencyError);

    expect(state.items.has(stateKey('fine_tune', 'ft-1'))).toBe(false);
  });

  it('leaves a job to the next run when another poller is accepting the same event, and goes on with the others', async () => {
    const { api } = account([running('ft-busy'), running('ft-free')]);
    const state = memoryStore();
    const { accept, ids } = recorder((event) => (event.subject === 'ft-busy' ? new ConflictError('held', 'in_progress') : undefined));

    const summary = await pollTogether({ api, accept, state, clock: () => NOW_MS }, LIMITS);

    expect(summary).toMatchObject({ contended: 1, accepted: 1 });
    expect(ids).toEqual(['poll:ft:ft-free:started']);
    expect(state.items.has(stateKey('fine_tune', 'ft-busy'))).toBe(false);
    expect(state.items.get(stateKey('fine_tune', 'ft-free'))?.emitted).toEqual(new Set(['started']));
  });

  it('counts a job whose events cannot be read and goes on with the others', async () => {
    const { api, failing } = account([running('ft-down'), running('ft-up')]);
    failing.add('ft-down');
    const state = memoryStore();
    const { accept, ids } = recorder();

    const summary = await pollTogether({ api, accept, state, clock: () => NOW_MS }, LIMITS);

    expect(summary.apiErrors).toBe(1);
    expect(ids).toEqual(['poll:ft:ft-up:started']);
    expect(state.items.has(stateKey('fine_tune', 'ft-down'))).toBe(false);
  });

  it('stops reading the events of a job once it is finished', async () => {
    const { api, eventReads } = account([running('ft-1', { status: 'completed' })]);
    const state = memoryStore();
    const { accept } = recorder();
    const deps = { api, accept, state, clock: () => NOW_MS };

    await pollTogether(deps, LIMITS);
    const again = await pollTogether(deps, LIMITS);

    expect(eventReads).toEqual(['ft-1']);
    expect(again).toMatchObject({ skippedTerminal: 1, processed: 0 });
    expect(state.items.get(stateKey('fine_tune', 'ft-1'))?.terminal).toBe(true);
  });

  it('works on at most maxJobsPerRun jobs and takes the least recently polled first next time', async () => {
    const { api, eventReads } = account([running('ft-a'), running('ft-b'), running('ft-c')]);
    const state = memoryStore();
    const { accept } = recorder();
    let now = NOW_MS;
    const deps = { api, accept, state, clock: () => now };

    const first = await pollTogether(deps, { ...LIMITS, maxJobsPerRun: 2 });
    now += 60_000;
    await pollTogether(deps, { ...LIMITS, maxJobsPerRun: 2 });

    expect(first).toMatchObject({ processed: 2, deferred: 1 });
    expect(eventReads.slice(0, 2)).toEqual(['ft-a', 'ft-b']);
    expect(eventReads[2]).toBe('ft-c');
  });

  it('starts no new job once the time budget is spent', async () => {
    const { api, eventReads } = account([running('ft-a'), running('ft-b'), running('ft-c')]);
    let now = NOW_MS;
    // Each event read takes 20 s of the injected clock.
    const slowApi: TogetherApi = { ...api, listFineTuneEvents: async (id) => ((now += 20_000), api.listFineTuneEvents(id)) };
    const { accept } = recorder();

    const summary = await pollTogether({ api: slowApi, accept, state: memoryStore(), clock: () => now }, { ...LIMITS, timeBudgetMs: 30_000 });

    expect(summary).toMatchObject({ processed: 2, deferred: 1 });
    expect(eventReads).toEqual(['ft-a', 'ft-b']);
  });

  it('records jobs and batches that finished before the backfill window as finished, without events', async () => {
    const { api, eventReads } = account(
      [running('ft-old', { status: 'completed', updated_at: minutesAgo(3 * 24 * 60) }), running('ft-new', { status: 'completed', updated_at: minutesAgo(5) })],
      {},
      [
        { id: 'batch-old', status: 'COMPLETED', completed_at: minutesAgo(3 * 24 * 60) },
        { id: 'batch-new', status: 'EXPIRED', completed_at: minutesAgo(5) },
      ],
    );
    const state = memoryStore();
    const { accept, ids } = recorder();

    const summary = await pollTogether({ api, accept, state, clock: () => NOW_MS }, LIMITS);

    expect(summary.backfilled).toBe(2);
    expect(eventReads).toEqual(['ft-new']);
    expect(ids.sort()).toEqual(['poll:batch:batch-new:EXPIRED', 'poll:ft:ft-new:completed', 'poll:ft:ft-new:started']);
    expect(state.items.get(stateKey('fine_tune', 'ft-old'))?.terminal).toBe(true);
    expect(state.items.get(stateKey('batch', 'batch-old'))?.terminal).toBe(true);
  });

  it('announces what finished during an outage longer than the backfill window', async () => {
    const batches: Batch[] = [{ id: 'batch-slow', status: 'IN_PROGRESS', created_at: minutesAgo(10) }];
    const { api } = account([], {}, batches);
    const state = memoryStore();
    const { accept, ids } = recorder();
    await pollTogether({ api, accept, state, clock: () => NOW_MS }, LIMITS);
    const threeDaysLaterMs = NOW_MS + 3 * 86_400_000;
    batches[0] = { id: 'batch-slow', status: 'COMPLETED', created_at: minutesAgo(10), completed_at: new Date(NOW_MS + 3_600_000).toISOString() };

    const summary = await pollTogether({ api, accept, state, clock: () => threeDaysLaterMs }, LIMITS);

    expect(summary.backfilled).toBe(0);
    expect(ids).toEqual(['poll:batch:batch-slow:COMPLETED']);
  });

  it('fails the run when the key is rejected', async () => {
    const api: TogetherApi = {
      listFineTunes: async () => {
        throw new TogetherAuthError(401, '/fine-tunes');
      },
      listBatches: async () => [],
      listFineTuneEvents: async () => [],
      getFineTune: async () => undefined,
      getBatch: async () => undefined,
      listFineTuneCheckpoints: async () => undefined,
      listFineTuneMetrics: async () => undefined,
    };

    await expect(pollTogether({ api, accept: recorder().accept, state: memoryStore(), clock: () => NOW_MS }, LIMITS)).rejects.toThrow(
      /TOGETHER_API_KEY was rejected/,
    );
  });
});
