import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JOBS_TABLE, type JobItem } from '../../functions/core/table';
import { MAX_JOB_ITEM_BYTES, mergeJob, type JobFact, type JobWrite } from '../../functions/consumers/routes/job-history';

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

/** What the events imply, without the bookkeeping of when and how often it was written. */
function projection(item: Partial<JobItem> | undefined) {
  const { updatedAt: _updatedAt, version: _version, activeDay: _activeDay, ...rest } = item ?? {};
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

  it('a repeated checkpoint (same step) keeps one entry with the earlier report\'s values, and a redelivery of the same event writes nothing', () => {
    const once = replay([checkpoint(100)]);

    const redelivered = mergeJob(once, checkpoint(100), NOW);
    const reportedAgain = applied(once, mergeJob(once, checkpoint(100, { eventId: 'evt_poll_100', occurredAt: at(101), loss: 0.5 }), NOW));

    expect(redelivered).toBeUndefined();
    expect(reportedAgain?.checkpoints).toEqual([{ step: 100, loss: 0.1, at: at(100), eventId: 'evt_step_100' }]);
    expect(reportedAgain?.loss).toBe(0.1);
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

    expect(storedBytes(item)).toBeLessThanOrEqual(DYNAMODB_ITEM_LIMIT_BYTES);
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

/** DynamoDB's item size limit: 400 KB. */
const DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024;

/**
 * A value's size as DynamoDB counts it, written apart from the code under test: strings in UTF-8
 * bytes, a number one byte per two significant digits plus one, a list or map 3 bytes plus 1 per
 * element plus its elements (a map's names in UTF-8), a boolean or null 1 byte.
 */
function dynamoBytes(value: unknown): number {
  if (typeof value === 'string') return new TextEncoder().encode(value).length;
  if (typeof value === 'number') {
    const digits = (value.toExponential().split('e')[0] ?? '').replace(/[-.]/g, '').replace(/0+$/, '').length;
    return Math.ceil(digits / 2) + 1;
  }
  if (Array.isArray(value)) return 3 + value.reduce<number>((sum, entry) => sum + 1 + dynamoBytes(entry), 0);
  if (typeof value === 'object' && value !== null) {
    return 3 + Object.entries(value).reduce((sum, [name, entry]) => sum + 1 + dynamoBytes(name) + dynamoBytes(entry), 0);
  }
  return 1;
}

/** The item as stored, key included: its attributes' names and values. */
function storedBytes(item: Partial<JobItem> | Record<string, unknown> | undefined): number {
  return Object.entries({ pk: 'together#ft-1', ...item }).reduce((sum, [name, value]) => sum + dynamoBytes(name) + dynamoBytes(value), 0);
}

/** A path of `length` characters of three UTF-8 bytes each (one UTF-16 unit), ending in `tag`. */
const wide = (length: number, tag: string) => `${'€'.repeat(length - tag.length)}${tag}`;

const longCheckpoints = (count: number) => Array.from({ length: count }, (_, index) => checkpoint(index + 1, { path: wide(2048, `/${index + 1}`) }));
const longCompletion = () => transition('completed', 900, { model: 'acct/model', checkpointPaths: Array.from({ length: 50 }, (_, index) => wide(2048, `/final-${index}`)) });

describe('job history: the item stays within DynamoDB\'s 400 KB', () => {
  it('[H3-5] no report makes the item larger than 400 KB counted as DynamoDB counts it, multi-byte characters in UTF-8', () => {
    const facts = [...longCheckpoints(500), longCompletion()];
    let item: Partial<JobItem> | undefined;
    let largest = 0;

    for (const fact of facts) {
      item = applied(item, mergeJob(item, fact, NOW));
      largest = Math.max(largest, storedBytes(item));
    }

    expect(largest).toBeLessThanOrEqual(DYNAMODB_ITEM_LIMIT_BYTES);
  });

  it('[H3-5] the oldest checkpoints make room first: the completion\'s 50 paths and the newest checkpoint stay', () => {
    const item = replay([...longCheckpoints(500), longCompletion()]);

    expect(item?.checkpointPaths).toEqual(longCompletion().details.checkpointPaths);
    expect(item?.checkpoints?.at(-1)?.step).toBe(500);
    expect(item?.checkpoints?.[0]?.step).toBeGreaterThan(1);
    expect(item?.state).toBe('completed');
  });

  it('[H3-5] when no checkpoint is left to drop, the completion\'s path list is cut from its end to fit', () => {
    const written = { ...replay([checkpoint(1)]), notes: 'n'.repeat(150_000) } as Partial<JobItem>;
    const completion = longCompletion();

    const item = applied(written, mergeJob(written, completion, NOW));

    expect(storedBytes(item)).toBeLessThanOrEqual(DYNAMODB_ITEM_LIMIT_BYTES);
    expect(item?.checkpointPaths?.length).toBeGreaterThan(0);
    expect(item?.checkpointPaths).toEqual(completion.details.checkpointPaths?.slice(0, item?.checkpointPaths?.length));
    expect(item?.model).toBe('acct/model');
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

describe('job history: reports of one transition or step', () => {
  it('[H3-1] a poll of the completion before its push keeps the push\'s evaluation loss and paths', () => {
    const poll = transition('completed', 60, { model: 'acct/model' });
    const push = { ...transition('completed', 60, { model: 'acct/model', evalLoss: 0.41, checkpointPaths: ['s3://ft/final'] }), eventId: 'evt_push_done' };

    const item = replay([{ ...poll, eventId: 'poll:ft:ft-1:completed' }, push]);

    expect(item?.evalLoss).toBe(0.41);
    expect(item?.checkpointPaths).toEqual(['s3://ft/final']);
  });

  it('[H3-1] a push with the loss and a poll with the path of one step keep both, in either order', () => {
    const push = checkpoint(500, { eventId: 'evt_step_500', loss: 0.87 });
    const poll = checkpoint(500, { eventId: 'poll:ft:ft-1:checkpoint:step-500', loss: undefined, path: 's3://ft/step-500' });

    const pushFirst = replay([push, poll]);
    const pollFirst = replay([poll, push]);

    const merged = { step: 500, loss: 0.87, path: 's3://ft/step-500', at: at(500), eventId: 'evt_step_500' };
    expect(pushFirst?.checkpoints).toEqual([merged]);
    expect(pollFirst?.checkpoints).toEqual([merged]);
    expect(pollFirst?.loss).toBe(0.87);
  });

  it('[H3-1] the state names its earliest report, as its transitions entry does, whatever arrives first', () => {
    const late = { ...transition('completed', 61, { model: 'acct/model' }), eventId: 'poll:ft:ft-1:completed' };
    const early = transition('completed', 60, { evalLoss: 0.41 });

    const item = replay([late, early]);

    expect(item).toMatchObject({ stateEventId: early.eventId, stateAt: at(60), model: 'acct/model', evalLoss: 0.41 });
    expect(item?.transitions?.at(-1)).toEqual({ state: 'completed', at: item?.stateAt, eventId: item?.stateEventId });
  });
});

/** Who reports a transition or step: a push, a poll, and another push; their ids sort in this order at equal times. */
const REPORTERS = ['evt_', 'poll:', 'zz_'] as const;

/**
 * Up to three reports of one thing, each at the same time or a little later, and for each of
 * `fieldCount` fields the report that carries it: -2 all of them (the same value), -1 none.
 */
const reports = (fieldCount: number) =>
  fc.integer({ min: 1, max: 3 }).chain((count) =>
    fc.record({
      delays: fc.array(fc.constantFrom(0, 0, 0.25), { minLength: count, maxLength: count }),
      owners: fc.array(fc.integer({ min: -2, max: count - 1 }), { minLength: fieldCount, maxLength: fieldCount }),
    }),
  );

/** The fields of `values` that report `index` carries. */
function carried<T extends Record<string, unknown>>(values: T, owners: readonly number[], index: number): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter((_, field) => owners[field] === -2 || owners[field] === index)) as Partial<T>;
}

describe('job history under any delivery order and repeats', () => {
  it('[H3-1] several reports of each transition and step, with complementary fields, end in the same item in any order, stateEventId and stateAt included', () => {
    const facts = fc
      .record({
        started: fc.option(reports(0), { nil: undefined }),
        steps: fc.uniqueArray(fc.integer({ min: 1, max: 600 }), { maxLength: 6 }).chain((steps) =>
          fc.tuple(...steps.map((step) => fc.tuple(fc.constant(step), reports(2)))),
        ),
        terminal: fc.option(fc.tuple(fc.constantFrom('completed' as const, 'failed' as const), reports(3)), { nil: undefined }),
      })
      .map(({ started, steps, terminal }) => [
        ...(started?.delays.map((delay, index) => ({ ...transition('started', delay), eventId: `${REPORTERS[index]}started` })) ?? []),
        ...steps.flatMap(([step, { delays, owners }]) =>
          delays.map((delay, index) => {
            const fields = carried({ loss: 10 / step, path: `s3://ft/step-${step}` }, owners, index);
            return checkpoint(step, { eventId: `${REPORTERS[index]}step_${step}`, occurredAt: at(step + delay), loss: fields.loss, path: fields.path });
          }),
        ),
        ...(terminal === undefined
          ? []
          : terminal[1].delays.map((delay, index) => {
              const [state, { owners }] = terminal;
              const details =
                state === 'completed'
                  ? carried({ model: 'acct/m', evalLoss: 0.41, checkpointPaths: ['s3://ft/final'] }, owners, index)
                  : carried({ error: 'boom' }, owners, index);
              return { ...transition(state, 700 + delay, details), eventId: `${REPORTERS[index]}${state}` };
            })),
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
          const item = replay(delivered);

          expect(projection(item)).toEqual(projection(replay(list)));
          expect(item?.transitions?.find((entry) => entry.state === item.state)).toEqual({ state: item?.state, at: item?.stateAt, eventId: item?.stateEventId });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('job history: a list of checkpoints in one event', () => {
  const completion = (checkpoints: JobFact['checkpoints'], eventId = 'evt_done'): JobFact => ({
    ...transition('completed', 60, { model: 'ft:my-model' }),
    eventId,
    checkpoints,
  });

  it('every listed step becomes a point of the curve, at its own time or else the event\'s', () => {
    const item = replay([completion([{ step: 10, loss: 2.5, at: at(10) }, { step: 20, loss: 1.5 }, { step: 30, loss: 0.9, path: 'ckpt-30' }])]);

    expect(item?.checkpoints).toEqual([
      { step: 10, loss: 2.5, at: at(10), eventId: 'evt_done' },
      { step: 20, loss: 1.5, at: at(60), eventId: 'evt_done' },
      { step: 30, loss: 0.9, at: at(60), eventId: 'evt_done', path: 'ckpt-30' },
    ]);
    expect(item).toMatchObject({ state: 'completed', model: 'ft:my-model', step: 30, loss: 0.9 });
  });

  it('a list that repeats pushed checkpoints adds nothing to them but what they lacked', () => {
    const pushed = replay([checkpoint(10), checkpoint(20)]);

    const item = replay([completion([{ step: 10, loss: 1, path: 'ckpt-10' }, { step: 20 }])], pushed);

    expect(item?.checkpoints?.map((entry) => [entry.step, entry.loss, entry.eventId, entry.path])).toEqual([
      [10, 1, 'evt_step_10', 'ckpt-10'],
      [20, 0.5, 'evt_step_20', undefined],
    ]);
  });

  it('the same list delivered twice writes once', () => {
    const once = replay([completion([{ step: 1, loss: 3 }, { step: 2, loss: 2 }])]);

    expect(mergeJob(once, completion([{ step: 1, loss: 3 }, { step: 2, loss: 2 }]), NOW)).toBeUndefined();
  });
});

describe('job history: what the job item holds', () => {
  it('[RULE] a job first seen by a batch report is a batch, and one first seen by a fine-tune report a fine-tune', () => {
    const batch = replay([{ ...transition('completed', 5, { output: 'file-out' }), subject: 'batch_1', kind: 'batch' }]);
    const fineTune = replay([transition('started', 1)]);

    expect(batch?.kind).toBe('batch');
    expect(fineTune?.kind).toBe('fine_tune');
  });

  it('[RULE] a job reported only by its states holds no list of checkpoints', () => {
    const item = replay([transition('started', 1), transition('completed', 9, { model: 'acct/model' })]);

    expect(item).not.toHaveProperty('checkpoints');
    expect(item?.state).toBe('completed');
  });

  it('[RULE] a step reported without a loss holds no loss at all, not an empty one', () => {
    const item = replay([checkpoint(7, { loss: undefined })]);

    expect(item?.checkpoints).toHaveLength(1);
    expect(item?.checkpoints?.[0]).not.toHaveProperty('loss');
    expect(item).not.toHaveProperty('loss');
  });

  it('[RULE] a failure reported after the completion of a job whose item holds no history changes nothing', () => {
    const completed: Partial<JobItem> = {
      pk: 'together#ft-1',
      provider: 'together',
      subject: 'ft-1',
      kind: 'fine_tune',
      state: 'completed',
      rank: 3,
      stateAt: at(60),
      stateEventId: 'evt_done',
      firstSeenAt: at(0),
      version: 4,
    };

    expect(mergeJob(completed, transition('failed', 70, { error: 'late' }), NOW)).toBeUndefined();
  });
});

describe('job history: the item as written fits, with as much as fits', () => {
  const huge = (step: number) => ({ step, loss: 1 / step, at: at(step), eventId: `evt_step_${step}`, path: `${'p'.repeat(1_990)}/${step}` });

  it('[RULE] the oldest checkpoints go only as far as needed: the item fits, and one more of them would not', () => {
    const item = { ...replay([transition('started', 0)]), checkpoints: Array.from({ length: 210 }, (_, index) => huge(index + 1)), step: 210, loss: 1 / 210 };

    const after = applied(item, mergeJob(item, checkpoint(211, { path: `${'p'.repeat(1_990)}/211` }), NOW));
    const first = after?.checkpoints?.[0]?.step ?? 0;

    expect(storedBytes(after)).toBeLessThanOrEqual(MAX_JOB_ITEM_BYTES);
    expect(storedBytes({ ...after, checkpoints: [huge(first - 1), ...(after?.checkpoints ?? [])] })).toBeGreaterThan(MAX_JOB_ITEM_BYTES);
    expect(after?.checkpoints?.at(-1)?.step).toBe(211);
  });

  it.each([
    ['5 bytes under the limit keeps the oldest checkpoint', -5, [1, 2]],
    ['exactly at the limit keeps the oldest checkpoint', 0, [1, 2]],
    ['5 bytes over the limit drops the oldest checkpoint', 5, [2]],
  ])('[RULE] the limit is counted on the item as written, key and bookkeeping included: an item %s', (_case, delta, steps) => {
    const base = replay([transition('started', 0), checkpoint(1, { loss: 0.5, path: 'p'.repeat(1_000) })]);
    const next = checkpoint(2, { loss: 0.25, path: 'q'.repeat(1_000) });
    const unpadded = storedBytes(applied(base, mergeJob(base, next, NOW)));
    // "notes" (5 bytes) and its value: the item as merged is `delta` bytes from the limit.
    const padded = { ...base, notes: 'n'.repeat(MAX_JOB_ITEM_BYTES + delta - unpadded - 5) } as Partial<JobItem>;

    const after = applied(padded, mergeJob(padded, next, NOW));

    expect(after?.checkpoints?.map((entry) => entry.step)).toEqual(steps);
    expect(storedBytes(after)).toBeLessThanOrEqual(MAX_JOB_ITEM_BYTES);
  });

  it('[RULE] an item over the limit by exactly its oldest checkpoint drops that one only', () => {
    const base = replay([transition('started', 0), checkpoint(1, { loss: 0.5, path: 'p'.repeat(1_000) }), checkpoint(2, { loss: 0.25, path: 'q'.repeat(1_000) })]);
    const next = checkpoint(3, { loss: 0.125, path: 'r'.repeat(1_000) });
    const merged = applied(base, mergeJob(base, next, NOW));
    const withoutOldest = storedBytes({ ...merged, checkpoints: merged?.checkpoints?.slice(1) });
    const padded = { ...base, notes: 'n'.repeat(MAX_JOB_ITEM_BYTES - withoutOldest - 5) } as Partial<JobItem>;

    const after = applied(padded, mergeJob(padded, next, NOW));

    expect(after?.checkpoints?.map((entry) => entry.step)).toEqual([2, 3]);
    expect(storedBytes(after)).toBe(MAX_JOB_ITEM_BYTES);
  });

  it('[RULE] a completion over the limit by exactly the last of its paths loses that path only', () => {
    const base = replay([checkpoint(1, { loss: 0.5 })]);
    const completion = transition('completed', 60, { model: 'acct/model', checkpointPaths: ['s3://ft/a'.padEnd(500, 'a'), 's3://ft/b'.padEnd(500, 'b')] });
    const merged = applied(base, mergeJob(base, completion, NOW));
    const withoutLast = storedBytes({ ...merged, checkpointPaths: merged?.checkpointPaths?.slice(0, 1) });
    const padded = { ...base, notes: 'n'.repeat(MAX_JOB_ITEM_BYTES - withoutLast - 5) } as Partial<JobItem>;

    const after = applied(padded, mergeJob(padded, completion, NOW));

    expect(after?.checkpointPaths).toEqual(completion.details.checkpointPaths?.slice(0, 1));
    expect(storedBytes(after)).toBe(MAX_JOB_ITEM_BYTES);
  });

  /** A job item another writer has filled with `bytes` of its own, beyond what the projection can make room for. */
  const filled = (bytes: number) => ({ ...replay([checkpoint(1)]), notes: 'n'.repeat(bytes) }) as Partial<JobItem>;

  it('[RULE] on an item another writer filled past the limit, a checkpoint still merges and the newest checkpoint stays', () => {
    const item = applied(filled(MAX_JOB_ITEM_BYTES), mergeJob(filled(MAX_JOB_ITEM_BYTES), checkpoint(2), NOW));

    expect(item?.checkpoints?.map((entry) => entry.step)).toEqual([2]);
    expect(item?.step).toBe(2);
  });

  it('[RULE] on an item another writer filled past the limit, a completion keeps its state and model and leaves no empty list of paths', () => {
    const completion = transition('completed', 60, { model: 'acct/model', checkpointPaths: ['s3://ft/a', 's3://ft/b'] });

    const write = mergeJob(filled(MAX_JOB_ITEM_BYTES), completion, NOW);

    expect(write?.set).toMatchObject({ state: 'completed', model: 'acct/model' });
    expect(write?.set).not.toHaveProperty('checkpointPaths');
    expect(applied(filled(MAX_JOB_ITEM_BYTES), write)?.checkpoints).toHaveLength(1);
  });
});
