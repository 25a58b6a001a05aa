import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JobCheckpoint, JobItem, JobTransition } from '../../functions/core/table';
import { mergeJob, type JobFact, type JobWrite } from '../../functions/consumers/routes/job-history';
import { jobHistory, planJob, type HistoryWrite } from '../../functions/consumers/routes/job-plan';
import { jobDetail } from '../../ops/jobs';

const NOW = new Date('2026-11-25T12:00:00.000Z');
const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const BASE = { provider: 'together', subject: 'ft-1', kind: 'fine_tune' as const, details: {} };

/** The item after a write, as DynamoDB would hold it. */
function applied(item: Partial<JobItem> | undefined, write: JobWrite | undefined): Partial<JobItem> | undefined {
  if (write === undefined) return item;
  const next: Record<string, unknown> = { pk: 'together#ft-1', ...item, ...write.set };
  for (const name of write.remove) delete next[name];
  return next as Partial<JobItem>;
}

/** The history as one job item kept it inline, before the history items: the reference. */
function inlineReplay(facts: readonly JobFact[]): Partial<JobItem> | undefined {
  return facts.reduce<Partial<JobItem> | undefined>((item, fact) => applied(item, mergeJob(item, fact, NOW)), undefined);
}

/** A job item and its history items in memory, written as the projection plans them; `writes` counts every write. */
function itemsReplay(facts: readonly JobFact[], start?: Partial<JobItem>) {
  let item = start;
  const history = new Map<string, JobCheckpoint | JobTransition>();
  let writes = 0;
  const put = (write: HistoryWrite<JobCheckpoint> | HistoryWrite<JobTransition>) => {
    const key = 'step' in write.entry ? `c#${write.entry.step}` : `t#${write.entry.state}`;
    // The conditional write: it must still hold what the plan read.
    expect(history.get(key)).toEqual(write.held);
    history.set(key, write.entry);
    writes += 1;
  };
  for (const fact of facts) {
    const values = [...history.values()];
    const held = { checkpoints: values.filter((entry): entry is JobCheckpoint => 'step' in entry), transitions: values.filter((entry): entry is JobTransition => 'state' in entry) };
    const plan = planJob(item, fact, held, NOW);
    plan.before.forEach(put);
    if (plan.job !== undefined) writes += 1;
    item = applied(item, plan.job);
    [...plan.checkpoints, ...plan.transitions].forEach(put);
  }
  const values = [...history.values()];
  const items = { checkpoints: values.filter((entry): entry is JobCheckpoint => 'step' in entry), transitions: values.filter((entry): entry is JobTransition => 'state' in entry) };
  return { item, items, history: jobHistory(item ?? {}, items), writes };
}

/** Reports of a job: each step and state reported up to three times, with complementary fields and distinct times. */
const facts = fc
  .record({
    steps: fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }),
    states: fc.subarray(['started', 'running', 'completed', 'failed', 'cancelled'] as const),
    repeats: fc.array(fc.record({ minutes: fc.integer({ min: 0, max: 120 }), loss: fc.option(fc.double({ min: 0.01, max: 5, noNaN: true }), { nil: undefined }), path: fc.boolean() }), { minLength: 1, maxLength: 3 }),
  })
  .map(({ steps, states, repeats }) => {
    const all: JobFact[] = [];
    repeats.forEach((repeat, copy) => {
      for (const step of steps) {
        all.push({
          ...BASE,
          state: 'running',
          step,
          ...(repeat.loss === undefined ? {} : { loss: repeat.loss / step }),
          ...(repeat.path ? { path: `s3://ft/${step}` } : {}),
          eventId: `evt_step_${step}_${copy}`,
          occurredAt: at(step + repeat.minutes),
        });
      }
      for (const state of states) {
        all.push({ ...BASE, state, ...(state === 'completed' ? { details: { model: `m-${copy}` } } : {}), eventId: `evt_${state}_${copy}`, occurredAt: at(200 + repeat.minutes) });
      }
    });
    return all;
  });

describe('job history items', () => {
  it('[HIST] the history read back from the items is the one the job item kept inline for the same reports, in any order (order of steps and states, merged reports)', () => {
    fc.assert(
      fc.property(facts.chain((list) => fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length })), (reports) => {
        const inline = inlineReplay(reports);
        const { item, history } = itemsReplay(reports);

        expect(history.checkpoints).toEqual(inline?.checkpoints ?? []);
        expect(history.transitions).toEqual(inline?.transitions ?? []);
        const { checkpoints: _c, transitions: _t, updatedAt: _u, version: _v, activeDay: _a, ...latest } = inline ?? {};
        const { updatedAt: _u2, version: _v2, activeDay: _a2, ...latestFromItems } = item ?? {};
        expect(latestFromItems).toEqual(latest);
      }),
      { numRuns: 150 },
    );
  });

  it('[HIST] a redelivered report writes nothing: no job item write, no second history item', () => {
    const reports: JobFact[] = [
      { ...BASE, state: 'started', eventId: 'evt_started', occurredAt: at(0) },
      { ...BASE, state: 'running', step: 10, loss: 1.5, eventId: 'evt_10', occurredAt: at(10) },
      { ...BASE, state: 'completed', details: { model: 'acct/m' }, eventId: 'evt_done', occurredAt: at(20) },
    ];
    const once = itemsReplay(reports);

    const twice = itemsReplay([...reports, ...reports]);

    expect(twice.writes).toBe(once.writes);
    expect(twice.items).toEqual(once.items);
    expect(twice.history).toEqual(once.history);
  });

  it('[HIST] a job item of the old format, its history inline, reads the same, and a new report adds to it without growing the inline lists', () => {
    const old: JobFact[] = [
      { ...BASE, state: 'started', eventId: 'evt_started', occurredAt: at(0) },
      ...[10, 20, 30].map((step): JobFact => ({ ...BASE, state: 'running', step, loss: 1 / step, eventId: `evt_${step}`, occurredAt: at(step) })),
    ];
    const late: JobFact = { ...BASE, state: 'running', step: 5, loss: 0.2, eventId: 'evt_5', occurredAt: at(5) };
    const legacy = inlineReplay(old) as JobItem;

    const asRead = jobDetail(legacy);
    const after = itemsReplay([late], legacy);

    expect(asRead.checkpoints).toEqual(legacy.checkpoints);
    expect(asRead.transitions).toEqual(legacy.transitions);
    expect(after.item?.checkpoints).toEqual(legacy.checkpoints);
    expect(after.item?.transitions).toEqual(legacy.transitions);
    expect(after.history).toEqual({ checkpoints: inlineReplay([...old, late])?.checkpoints, transitions: inlineReplay([...old, late])?.transitions });
  });
});

describe('job history items: each written once, as the merge says', () => {
  const step = (n: number, minutes: number, fields: Partial<JobFact> = {}): JobFact => ({ ...BASE, state: 'running', step: n, eventId: `evt_${n}_${minutes}`, occurredAt: at(minutes), ...fields });
  const completed = (minutes: number, fields: Partial<JobFact> = {}): JobFact => ({ ...BASE, state: 'completed', details: { model: 'acct/m' }, eventId: `evt_done_${minutes}`, occurredAt: at(minutes), ...fields });

  it('[RULE] a list that names one step twice writes one item for that step, the two reports merged', () => {
    const { history, writes } = itemsReplay([completed(60, { checkpoints: [{ step: 10, loss: 1 }, { step: 10, path: 'ckpt-10' }] })]);

    expect(history.checkpoints).toEqual([{ step: 10, loss: 1, path: 'ckpt-10', at: at(60), eventId: 'evt_done_60' }]);
    expect(writes).toBe(2);
  });

  it('[RULE] a completion listing the highest step without its loss, out of step order, keeps the loss the push of that step reported', () => {
    const { item } = itemsReplay([step(30, 30, { loss: 0.3 }), completed(60, { checkpoints: [{ step: 30 }, { step: 10, loss: 1 }] })]);

    expect(item).toMatchObject({ state: 'completed', step: 30, loss: 0.3 });
  });

  it('[RULE] on an item of the old format, later reports of its highest step keep the loss it holds inline', () => {
    const legacy = inlineReplay([step(10, 10, { loss: 1 }), step(30, 30, { loss: 0.3 })]) as JobItem;

    const { item, history } = itemsReplay([step(30, 31, { path: 's3://ft/30' }), step(30, 32, { path: 's3://ft/30' })], legacy);

    expect(item).toMatchObject({ step: 30, loss: 0.3 });
    expect(history.checkpoints.at(-1)).toEqual({ step: 30, loss: 0.3, path: 's3://ft/30', at: at(30), eventId: 'evt_30_30' });
  });

  it('[RULE] a new highest step without a loss clears the loss of the step before it', () => {
    const { item } = itemsReplay([step(1, 1, { loss: 2 }), step(2, 2)]);

    expect(item?.step).toBe(2);
    expect(item).not.toHaveProperty('loss');
  });

  it('[RULE] a failure reported after the completion writes nothing', () => {
    const reports = [{ ...BASE, state: 'started' as const, eventId: 'evt_s', occurredAt: at(0) }, completed(60)];
    const before = itemsReplay(reports);

    const after = itemsReplay([...reports, { ...BASE, state: 'failed', details: { error: 'late' }, eventId: 'evt_fail', occurredAt: at(70) }]);

    expect(after.writes).toBe(before.writes);
    expect(after.history).toEqual(before.history);
  });

  it.each([
    ['its time', { stateEventId: 'evt_s' }],
    ['its event', { stateAt: at(0) }],
  ])('[RULE] an item whose state is missing %s moves on without writing that state with a part missing', (_case, partial) => {
    const legacy = { pk: 'together#ft-1', ...BASE, state: 'started', rank: 1, transitions: [{ state: 'started', at: at(0), eventId: 'evt_s' }], ...partial } as Partial<JobItem>;

    const { items, history } = itemsReplay([completed(20)], legacy);

    expect(items.transitions).toEqual([]);
    expect(history.transitions).toEqual([
      { state: 'started', at: at(0), eventId: 'evt_s' },
      { state: 'completed', at: at(20), eventId: 'evt_done_20' },
    ]);
  });

  it('[RULE] a merge again after a lost race does not write again the state item it already wrote', () => {
    const current: Partial<JobItem> = { pk: 'together#ft-1', ...BASE, state: 'started', rank: 1, stateAt: at(0), stateEventId: 'evt_s', version: 1 };
    const held = { checkpoints: [], transitions: [{ state: 'started' as const, at: at(0), eventId: 'evt_s' }] };

    const plan = planJob(current, step(10, 10, { loss: 1 }), held, NOW);

    expect(plan.before).toEqual([]);
    expect(plan.job?.set).toMatchObject({ state: 'running', step: 10 });
  });

  it.each([
    ['its state', { stateAt: at(5), stateEventId: 'evt_x' }],
    ['its time', { state: 'completed', stateEventId: 'evt_x' }],
    ['its event', { state: 'completed', stateAt: at(5) }],
  ] as const)('[RULE] jobs show lists no state for an item missing %s of the current one', (_case, partial) => {
    const item: Partial<JobItem> = { pk: 'together#ft-1', ...BASE, transitions: [{ state: 'started', at: at(0), eventId: 'evt_s' }], ...partial };

    expect(jobHistory(item, { checkpoints: [], transitions: [] }).transitions).toEqual([{ state: 'started', at: at(0), eventId: 'evt_s' }]);
  });
});
