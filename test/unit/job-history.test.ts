import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JOBS_TABLE, type JobItem } from '../../functions/core/table';
import { MAX_CHECKPOINT_BYTES, estimatedBytes, mergeJob, type JobFact, type JobWrite } from '../../functions/consumers/routes/job-history';

const NOW = new Date('2026-11-25T12:00:00.000Z');
const T0 = Date.parse('2026-11-25T10:00:00.000Z');

const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function checkpoint(step: number, overrides: Partial<JobFact> = {}): JobFact {
  return {
    provider: 'together',
    subject: 'ft-1',
    kind: 'fine_tune',
    state: 'running',
    step,
    loss: 10 / step,
    details: {},
    eventId: `evt_step_${step}`,
    occurredAt: at(step),
    ...overrides,
  };
}

function transition(state: JobFact['state'], minutes: number, details: JobFact['details'] = {}): JobFact {
  return { provider: 'together', subject: 'ft-1', kind: 'fine_tune', state, details, eventId: `evt_${state}_${minutes}`, occurredAt: at(minutes) };
}

/** The item after a write, as DynamoDB would hold it. */
function applied(item: Partial<JobItem> | undefined, write: JobWrite | undefined): Partial<JobItem> | undefined {
  if (write === undefined) return item;
  const next: Record<string, unknown> = { ...item, ...write.set };
  for (const name of write.remove) delete next[name];
  return next as Partial<JobItem>;
}

function replay(facts: readonly JobFact[], start?: Partial<JobItem>): Partial<JobItem> | undefined {
  return facts.reduce<Partial<JobItem> | undefined>((item, fact) => applied(item, mergeJob(item, fact, NOW)), start);
}

/**
 * What the events imply, without the bookkeeping of when and how often it was written, nor which
 * of two reports of the same state arrived first (`stateEventId`, `stateAt`: the alert's owner).
 */
function projection(item: Partial<JobItem> | undefined) {
  const { updatedAt: _updatedAt, version: _version, activeDay: _activeDay, stateEventId: _id, stateAt: _at, ...rest } = item ?? {};
  return rest;
}

describe('job history: checkpoints', () => {
  it('the 501st checkpoint drops the oldest: the highest 500 steps stay, in step order', () => {
    const steps = Array.from({ length: 501 }, (_, index) => index + 1);

    const item = replay(steps.map((step) => checkpoint(step)));

    expect(item?.checkpoints).toHaveLength(JOBS_TABLE.maxCheckpoints);
    expect(item?.checkpoints?.[0]?.step).toBe(2);
    expect(item?.checkpoints?.at(-1)).toEqual({ step: 501, loss: 10 / 501, at: at(501), eventId: 'evt_step_501' });
    expect(item?.step).toBe(501);
  });

  it('a late checkpoint below the 500 kept is dropped: the list stays as it was', () => {
    const full = replay(Array.from({ length: 500 }, (_, index) => checkpoint(index + 11)));

    const write = mergeJob(full, checkpoint(3), NOW);

    expect(write?.set).not.toHaveProperty('checkpoints');
    expect(applied(full, write)?.checkpoints).toEqual(full?.checkpoints);
    // It still tells when the job was first seen running.
    expect(applied(full, write)?.transitions?.[0]).toEqual({ state: 'running', at: at(3), eventId: 'evt_step_3' });
  });

  it('a repeated checkpoint (same step) keeps one entry, and a redelivery of the same event writes nothing', () => {
    const once = replay([checkpoint(100)]);

    const redelivered = mergeJob(once, checkpoint(100), NOW);
    const reportedAgain = applied(once, mergeJob(once, checkpoint(100, { eventId: 'evt_poll_100', occurredAt: at(101), loss: 0.5 }), NOW));

    expect(redelivered).toBeUndefined();
    expect(reportedAgain?.checkpoints).toEqual([{ step: 100, loss: 0.5, at: at(101), eventId: 'evt_poll_100' }]);
    expect(reportedAgain?.loss).toBe(0.5);
  });

  it('out-of-order checkpoints end in step order, with step and loss of the highest', () => {
    const item = replay([checkpoint(300), checkpoint(100), checkpoint(200)]);

    expect(item?.checkpoints?.map((entry) => entry.step)).toEqual([100, 200, 300]);
    expect(item?.step).toBe(300);
    expect(item?.loss).toBe(10 / 300);
  });

  it('keeps the checkpoint path the provider reports', () => {
    const item = replay([checkpoint(10, { path: 's3://bucket/ft-1/step-10' })]);

    expect(item?.checkpoints?.[0]?.path).toBe('s3://bucket/ft-1/step-10');
  });

  it('drops the oldest checkpoints sooner when entries are so large that 500 would not fit the item', () => {
    const huge = 'p'.repeat(2_000);

    const item = replay(Array.from({ length: 500 }, (_, index) => checkpoint(index + 1, { path: `${huge}${index}` })));

    expect(estimatedBytes(item?.checkpoints)).toBeLessThanOrEqual(MAX_CHECKPOINT_BYTES);
    expect(item?.checkpoints?.length).toBeLessThan(500);
    expect(item?.checkpoints?.at(-1)?.step).toBe(500);
  });

  it('removes a stale loss when the new highest step reports none', () => {
    const before = replay([checkpoint(1)]);

    const write = mergeJob(before, checkpoint(2, { loss: undefined }), NOW);

    expect(write?.remove).toEqual(['loss']);
    expect(applied(before, write)?.step).toBe(2);
  });
});

describe('job history: transitions', () => {
  it('records each state once at its earliest report, in time order, and moves the state only up', () => {
    const item = replay([
      transition('completed', 60, { model: 'acct/model' }),
      checkpoint(10),
      transition('started', 1),
      transition('started', 5),
      transition('failed', 70, { error: 'late and contradicting' }),
    ]);

    expect(item?.state).toBe('completed');
    expect(item?.model).toBe('acct/model');
    expect(item?.error).toBeUndefined();
    expect(item?.transitions).toEqual([
      { state: 'started', at: at(1), eventId: 'evt_started_1' },
      { state: 'running', at: at(10), eventId: 'evt_step_10' },
      { state: 'completed', at: at(60), eventId: 'evt_completed_60' },
    ]);
  });

  it('writes on condition of the version it read, and of no item or no version when there was none', () => {
    const first = mergeJob(undefined, transition('started', 1), NOW);
    const second = mergeJob(applied(undefined, first), checkpoint(1), NOW);
    const legacy = mergeJob({ pk: 'together#ft-1', kind: 'fine_tune', state: 'started', rank: 1, updatedAt: at(0) }, checkpoint(1), NOW);

    expect(first?.expectedVersion).toBeUndefined();
    expect(first?.set.version).toBe(1);
    expect(second?.expectedVersion).toBe(1);
    expect(second?.set.version).toBe(2);
    expect(legacy?.expectedVersion).toBeNull();
    expect(second?.set.activeDay).toBe('2026-11-25');
  });
});

describe('job history under any delivery order and repeats', () => {
  it('ends in the same item whatever the order of the facts and however often each arrives', () => {
    const facts = fc
      .record({
        steps: fc.uniqueArray(fc.integer({ min: 1, max: 600 }), { maxLength: 8 }),
        started: fc.boolean(),
        terminal: fc.constantFrom<'completed' | 'failed' | undefined>('completed', 'failed', undefined),
      })
      .map(({ steps, started, terminal }) => [
        ...(started ? [transition('started', 0)] : []),
        ...steps.map((step) => checkpoint(step)),
        ...steps.slice(0, 2).map((step) => checkpoint(step, { eventId: `evt_poll_${step}`, occurredAt: at(step + 0.5), loss: 1 })),
        ...(terminal === undefined ? [] : [transition(terminal, 700, terminal === 'completed' ? { model: 'acct/m' } : { error: 'boom' })]),
      ])
      .filter((list) => list.length > 0);

    fc.assert(
      fc.property(
        facts.chain((list) =>
          fc
            .tuple(fc.shuffledSubarray(list, { minLength: list.length }), fc.subarray(list))
            .chain(([order, repeats]) => fc.shuffledSubarray([...order, ...repeats], { minLength: order.length + repeats.length }))
            .map((delivered) => ({ list, delivered })),
        ),
        ({ list, delivered }) => {
          expect(projection(replay(delivered))).toEqual(projection(replay(list)));
        },
      ),
      { numRuns: 200 },
    );
  });
});
