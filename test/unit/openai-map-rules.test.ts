import { describe, expect, it } from 'vitest';
import { batchData, fineTuneData, lossCurve } from '../../functions/consumers/enrich/openai-map';
import type { OpenAiJobEvent } from '../../functions/consumers/enrich/openai-api';

/**
 * The canonical data a step gets from OpenAI's answers when they leave fields out, null or empty,
 * as OpenAI's API reference allows: a field without a value is not written at all (never `null`,
 * `''` or `[]`), and nothing in such an answer stops the event from being completed.
 */

const metricsEvent = (step: number, data: Record<string, unknown>): OpenAiJobEvent => ({ id: `ftevent-${step}`, type: 'metrics', data: { step, ...data } });

describe('[RULE] OpenAI answers with missing values', () => {
  it('[RULE] a job whose fields are null or empty gives only its id, never an empty model name, base model or file list', () => {
    const data = fineTuneData('fine_tune.completed', { id: 'ftjob-1', model: null, fine_tuned_model: '', trained_tokens: null, result_files: [] }, []);

    expect(data).toStrictEqual({ jobId: 'ftjob-1' });
  });

  it('[RULE] a failed job without an error object gives no errorMessage', () => {
    expect(fineTuneData('fine_tune.failed', { id: 'ftjob-2', error: null }, [])).toStrictEqual({ jobId: 'ftjob-2' });
  });

  it('[RULE] the result files of a job leave out empty ids and keep the first 100, as the canonical data allows', () => {
    const files = ['', ...Array.from({ length: 120 }, (_, index) => `file-${index}`)];

    const { resultFiles } = fineTuneData('fine_tune.completed', { id: 'ftjob-3', result_files: files }, []) as { resultFiles: string[] };

    expect(resultFiles).toHaveLength(100);
    expect(resultFiles[0]).toBe('file-0');
    expect(resultFiles).not.toContain('');
  });

  it.each(['batch.completed', 'batch.failed', 'batch.expired'])('[RULE] a %s batch with null counts, usage, errors and files gives only its id', (route) => {
    const batch = { id: 'batch_1', output_file_id: '', error_file_id: null, request_counts: null, usage: null, errors: null };

    expect(batchData(route, batch)).toStrictEqual({ batchId: 'batch_1' });
  });

  it('[RULE] a batch whose request counts are all absent gives no requestCounts', () => {
    expect(batchData('batch.completed', { id: 'batch_2', request_counts: {}, errors: { data: null } })).toStrictEqual({ batchId: 'batch_2' });
  });

  it('[RULE] a failed batch gives the messages of its errors, leaving out those without text', () => {
    const errors = { data: [{ code: 'a', message: null }, { code: 'b', message: '' }, { code: 'c', message: 'Line 3 is not valid JSON' }] };

    expect(batchData('batch.failed', { id: 'batch_3', errors })).toStrictEqual({ batchId: 'batch_3', errorMessage: 'Line 3 is not valid JSON' });
  });

  it('[RULE] a checkpoint without a step is skipped, and one without metrics, time or path is a point of its step alone', () => {
    const curve = lossCurve(
      [
        { id: 'ftckpt_a', step_number: null, metrics: { train_loss: 1 } },
        { id: 'ftckpt_b', step_number: 3, created_at: null, fine_tuned_model_checkpoint: null, metrics: null },
        { id: 'ftckpt_c', step_number: 4, metrics: { train_loss: null, valid_loss: null, full_valid_loss: null } },
      ],
      [],
    );

    expect(curve).toStrictEqual({ points: [{ step: 3 }, { step: 4 }] });
  });
});

describe('[RULE] the evaluation loss OpenAI reports', () => {
  it('[RULE] is the validation loss of the newest step, whatever the order the checkpoints come in', () => {
    const checkpoints = [2, 4].map((step) => ({ id: `ftckpt_${step}`, step_number: step, metrics: { full_valid_loss: step / 10 } }));

    expect(lossCurve(checkpoints, []).validLoss).toBe(0.4);
  });

  it("[RULE] a checkpoint's validation loss wins over a metrics event's of the same step", () => {
    const curve = lossCurve([{ id: 'ftckpt_4', step_number: 4, metrics: { full_valid_loss: 0.5 } }], [metricsEvent(4, { valid_loss: 0.7 })]);

    expect(curve.validLoss).toBe(0.5);
  });

  it.each([
    ['full_valid_loss when there is one', { full_valid_loss: 0.3, valid_loss: 0.4 }, 0.3],
    ['valid_loss otherwise', { valid_loss: 0.4 }, 0.4],
  ])('[RULE] of a metrics event is its %s', (_, losses, expected) => {
    expect(lossCurve([], [metricsEvent(1, losses)]).validLoss).toBe(expected);
  });

  it('[RULE] is not erased by a newer step that reports no validation loss', () => {
    const curve = lossCurve([], [metricsEvent(2, { valid_loss: 0.6 }), metricsEvent(5, { train_loss: 1.2 })]);

    expect(curve.validLoss).toBe(0.6);
  });
});

describe('[RULE] OpenAI times out of range', () => {
  it.each([1e13, 253_402_300_800, 0, -1])('[RULE] a metrics event or checkpoint dated %s (past year 9999, or not after 1970) keeps its point without a time, instead of failing the event', (far) => {
    const checkpoint = { id: 'ftckpt-1', object: 'fine_tuning.job.checkpoint', step_number: 2, created_at: far, fine_tuned_model_checkpoint: 'ft:m:ckpt', fine_tuning_job_id: 'ftjob-1', metrics: { train_loss: 0.5 } };

    const events = [{ ...metricsEvent(1, { train_loss: 0.9 }), created_at: 1_700_000_000 }, { ...metricsEvent(3, { train_loss: 0.4 }), created_at: far }] as OpenAiJobEvent[];

    const { points } = lossCurve([checkpoint] as never, events);

    expect(points.map((point) => [point.step, point.at])).toStrictEqual([
      [1, '2023-11-14T22:13:20.000Z'],
      [2, undefined],
      [3, undefined],
    ]);
  });
});
