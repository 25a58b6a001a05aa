import { describe, expect, it } from 'vitest';
import { pollTogether } from '../../functions/poller/poll';
import { createTogetherApi } from '../../functions/poller/together-api';
import { account, memoryStore, recorder } from '../support/poller';

const NOW_MS = Date.parse('2026-11-01T12:00:00Z');

describe('[RULE] edges of what Together sends', () => {
  it('[RULE] a finished job or batch without a readable time on first sight is announced, not taken for history', async () => {
    const { api } = account([{ id: 'ft-undated', status: 'completed', updated_at: null }], {}, [{ id: 'batch-undated', status: 'COMPLETED' }]);
    const { accept, ids } = recorder();

    const summary = await pollTogether({ api, accept, state: memoryStore(), clock: () => NOW_MS }, { maxJobsPerRun: 50, timeBudgetMs: 60_000, backfillSeconds: 0 });

    expect(summary.backfilled).toBe(0);
    expect(ids.sort()).toEqual(['poll:batch:batch-undated:COMPLETED', 'poll:ft:ft-undated:completed', 'poll:ft:ft-undated:started']);
  });

  it.each([{}, { data: null }])('[RULE] a list body of %j is an empty list of jobs, events and checkpoints', async (body) => {
    const api = createTogetherApi({ baseUrl: 'https://api.together.example/v1', apiKey: async () => 'key', sleep: async () => undefined, fetch: async () => Response.json(body) });

    const lists = [await api.listFineTunes(), await api.listFineTuneEvents('ft-1'), await api.listFineTuneCheckpoints('ft-1')];

    expect(lists).toEqual([[], [], []]);
  });
});
