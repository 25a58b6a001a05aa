import { describe, expect, it } from 'vitest';
import { checkpointSortKey, transitionSortKey, type JobItem } from '../../functions/core/table';
import { readJobAndHistory, readJobHistory } from '../../functions/consumers/routes/job-store';

const PK = 'together#ft-1';
const at = (minutes: number) => new Date(Date.parse('2026-11-25T10:00:00.000Z') + minutes * 60_000).toISOString();

/**
 * A job-history table that answers a query `pageSize` items at a time, as DynamoDB does when a
 * page reaches its 1 MB: each page's `LastEvaluatedKey` is where the next one starts. The job
 * item, if any, is `job`. `queries` counts the pages read.
 */
function pagedTable(items: Record<string, unknown>[], pageSize: number, job?: Partial<JobItem>) {
  let queries = 0;
  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const input = command.input;
    if (command.constructor.name === 'GetCommand') return { Item: job };
    queries += 1;
    const from = String((input.ExpressionAttributeValues as Record<string, unknown>)[':from']);
    const matching = items.filter((item) => item.pk === PK && String(item.sk).startsWith(from)).sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
    if (input.ScanIndexForward === false) matching.reverse();
    const start = Number((input.ExclusiveStartKey as { at?: number } | undefined)?.at ?? 0);
    const end = Math.min(start + pageSize, start + Number(input.Limit ?? Infinity));
    return { Items: matching.slice(start, end), ...(end < matching.length ? { LastEvaluatedKey: { at: end } } : {}) };
  };
  return { store: { documents: { send } as never, tableName: 'job-history' }, pages: () => queries };
}

const checkpointItem = (step: number) => ({ pk: PK, sk: checkpointSortKey(step), step, loss: 1 / step, at: at(step), eventId: `evt_${step}` });
const started = { pk: PK, sk: transitionSortKey('started'), state: 'started', at: at(0), eventId: 'evt_s' };
const job: Partial<JobItem> & Pick<JobItem, 'pk'> = { pk: PK, kind: 'fine_tune', state: 'running', rank: 2, stateAt: at(10), stateEventId: 'evt_10' };

describe('reading a job\'s history items', () => {
  it('[RULE] jobs show reads a history that takes several pages of DynamoDB\'s answer: every page\'s checkpoints, in step order', async () => {
    const { store } = pagedTable([...[10, 20, 30, 40, 50].map(checkpointItem), started], 2);

    const history = await readJobHistory(store, job);

    expect(history.checkpoints.map((checkpoint) => checkpoint.step)).toEqual([10, 20, 30, 40, 50]);
    expect(history.checkpoints[0]).toEqual({ step: 10, loss: 0.1, at: at(10), eventId: 'evt_10' });
    expect(history.transitions).toEqual([
      { state: 'started', at: at(0), eventId: 'evt_s' },
      { state: 'running', at: at(10), eventId: 'evt_10' },
    ]);
  });

  it('[RULE] a job with more than 500 checkpoint items shows its highest 500', async () => {
    const { store } = pagedTable(Array.from({ length: 503 }, (_, index) => checkpointItem(index + 1)), 200);

    const history = await readJobHistory(store, job);

    expect(history.checkpoints).toHaveLength(500);
    expect(history.checkpoints[0]?.step).toBe(4);
    expect(history.checkpoints.at(-1)?.step).toBe(503);
  });

  it('[RULE] there is no history of a job that has no item, and none is read', async () => {
    const { store, pages } = pagedTable([checkpointItem(1)], 10);

    expect(await readJobAndHistory(store, 'jobs', PK)).toBeUndefined();
    expect(pages()).toBe(0);
  });

  it('[RULE] a step reads its job\'s history through the job\'s item', async () => {
    const { store } = pagedTable([checkpointItem(5), started], 10, job);

    expect(await readJobAndHistory(store, 'jobs', PK)).toEqual({
      checkpoints: [{ step: 5, loss: 0.2, at: at(5), eventId: 'evt_5' }],
      transitions: [
        { state: 'started', at: at(0), eventId: 'evt_s' },
        { state: 'running', at: at(10), eventId: 'evt_10' },
      ],
    });
  });
});
