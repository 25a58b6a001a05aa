import { describe, expect, it } from 'vitest';
import { MAX_DATA_CHECKPOINTS } from '../../functions/core/data';
import { PROVIDERS } from '../../functions/core/providers';
import { curveOf } from '../../functions/core/providers/curve';

describe('[CURVE] a loss curve from a list in a payload', () => {
  it('reads { step, loss } entries and OpenAI checkpoint objects, in step order', () => {
    expect(
      curveOf([
        { step: 20, loss: 1.5 },
        { step_number: 10, metrics: { train_loss: 2.5, valid_loss: 2.7 }, fine_tuned_model_checkpoint: 'ft:gpt-4o-mini:acme::ckpt-10', created_at: 1_764_000_000 },
        { step: 30, train_loss: '0.9', checkpoint_path: 's3://ckpt/30' },
      ]),
    ).toEqual([
      { step: 10, loss: 2.5, path: 'ft:gpt-4o-mini:acme::ckpt-10', at: '2025-11-24T16:00:00.000Z' },
      { step: 20, loss: 1.5 },
      { step: 30, loss: 0.9, path: 's3://ckpt/30' },
    ]);
  });

  it('skips entries without a whole non-negative step, and is undefined when none is left or it is no list', () => {
    expect(curveOf([{ step: -1, loss: 1 }, { step: 1.5, loss: 1 }, { loss: 1 }, 'x', null])).toBeUndefined();
    expect(curveOf({ step: 1, loss: 1 })).toBeUndefined();
    expect(curveOf([{ step: 2 }, { step: 'x' }])).toEqual([{ step: 2 }]);
  });

  it(`keeps the newest ${MAX_DATA_CHECKPOINTS} steps of a long list, a repeated step at its later entry`, () => {
    const long = Array.from({ length: 2_000 }, (_, index) => ({ step: index, loss: 1 / (index + 1) }));

    const curve = curveOf([...long, { step: 1_999, loss: 0 }]);

    expect(curve).toHaveLength(MAX_DATA_CHECKPOINTS);
    expect(curve?.[0]?.step).toBe(2_000 - MAX_DATA_CHECKPOINTS);
    expect(curve?.at(-1)).toEqual({ step: 1_999, loss: 0 });
  });

  it('LLMTune: metrics.history of a completion becomes its checkpoints', () => {
    const data = PROVIDERS.llmtune.canonicalData('fine_tune.completed', {
      jobId: 'job-1',
      artifact: 'acme/llama-ft',
      metrics: { loss: 0.8, evalLoss: 0.9, history: [{ step: 100, loss: 2 }, { step: 200, loss: 1.2 }, { step: 300, loss: 0.8 }] },
    });

    expect(data).toMatchObject({ modelName: 'acme/llama-ft', checkpoints: [{ step: 100, loss: 2 }, { step: 200, loss: 1.2 }, { step: 300, loss: 0.8 }] });
  });

  it('MythicDot: the job object\'s checkpoints, in OpenAI\'s shape, become its checkpoints', () => {
    const data = PROVIDERS.mythicdot.canonicalData('fine_tune.completed', {
      object: { id: 'ftjob_1', fine_tuned_model: 'ft:acme-1', checkpoints: [{ step_number: 5, metrics: { train_loss: 1 } }] },
    });

    expect(data).toEqual({ jobId: 'ftjob_1', modelName: 'ft:acme-1', checkpoints: [{ step: 5, loss: 1 }] });
  });
});

describe('[CURVE] the fields of a checkpoint', () => {
  it('[RULE] a checkpoint holds only the fields its entry gave: no loss, path or time keys when they were not sent', () => {
    const curve = curveOf([{ step: 1 }, { step: 2, loss: 0.5 }]);

    expect(curve).toStrictEqual([{ step: 1 }, { step: 2, loss: 0.5 }]);
    expect(Object.keys(curve?.[0] ?? {})).toEqual(['step']);
  });

  it('[RULE] step 0 is a step; a blank or empty step or loss is no number', () => {
    expect(curveOf([{ step: 0, loss: 3 }])).toStrictEqual([{ step: 0, loss: 3 }]);
    expect(curveOf([{ step: '', loss: 1 }, { step: '  ', loss: 1 }])).toBeUndefined();
    expect(curveOf([{ step: '4', loss: ' ' }, { step: 5, loss: '' }])).toStrictEqual([{ step: 4 }, { step: 5 }]);
  });

  it.each([
    ['Unix seconds', 1_764_000_000, '2025-11-24T16:00:00.000Z'],
    ['an ISO 8601 string', '2025-11-24T16:00:00Z', '2025-11-24T16:00:00.000Z'],
    ['the epoch', 0, '1970-01-01T00:00:00.000Z'],
    ['the last second with a four-digit year', 253_402_300_799, '9999-12-31T23:59:59.000Z'],
  ])('[RULE] a checkpoint time given as %s becomes an ISO time', (_name, createdAt, at) => {
    expect(curveOf([{ step: 1, created_at: createdAt }])).toStrictEqual([{ step: 1, at }]);
  });

  it.each([
    ['before the epoch', -1],
    ['past year 9999', 253_402_300_800],
    ['not a time', 'soon'],
    ['not a number or a string', [2020]],
    ['infinite', Number.POSITIVE_INFINITY],
  ])('[RULE] a checkpoint time %s is left out, the checkpoint kept', (_name, createdAt) => {
    expect(curveOf([{ step: 1, loss: 2, created_at: createdAt }])).toStrictEqual([{ step: 1, loss: 2 }]);
  });

  it('[RULE] of a list longer than it reads, only its last entries count: a step listed only before them is not in the curve', () => {
    const readAtMost = 10 * MAX_DATA_CHECKPOINTS;
    const tail = Array.from({ length: readAtMost }, (_, index) => ({ step: index, loss: 1 }));

    const curve = curveOf([{ step: 1_000_000, loss: 9 }, ...tail]);

    expect(curve?.some((point) => point.step === 1_000_000)).toBe(false);
    expect(curve?.at(-1)).toStrictEqual({ step: readAtMost - 1, loss: 1 });
  });
});
