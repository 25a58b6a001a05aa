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
