import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { together } from '../../functions/core/providers/together';
import { observeBatch, observeFineTune } from '../../functions/poller/observe';
import type { Batch, FineTuneEvent, FineTuneJob } from '../../functions/poller/together-api';

const RECEIVED_AT = '2026-11-01T12:00:00.000Z';

const job = (status: string, overrides: Partial<FineTuneJob> = {}): FineTuneJob => ({
  id: 'ft-7',
  status,
  model: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference',
  model_output_name: 'acme/llama-support-v3',
  created_at: '2026-11-01T10:00:00Z',
  updated_at: '2026-11-01T11:00:00Z',
  ...overrides,
});

const event = (type: string, minute: number, extra: Partial<FineTuneEvent> = {}): FineTuneEvent => ({
  type,
  created_at: `2026-11-01T10:${String(minute).padStart(2, '0')}:00Z`,
  message: type,
  ...extra,
});

const checkpoint = (step: number, minute: number, hash?: string) =>
  event('checkpoint_save', minute, { step, checkpoint_path: `s3://ckpt/ft-7/${step}`, ...(hash === undefined ? {} : { hash }) });

const batch = (status: string, overrides: Partial<Batch> = {}): Batch => ({
  id: 'batch-9',
  status,
  output_file_id: 'file-out',
  error_file_id: 'file-err',
  completed_at: '2026-11-01T11:30:00Z',
  ...overrides,
});

describe('fine-tune observations', () => {
  it('sees nothing in a pending job', () => {
    expect(observeFineTune(job('pending'), [event('job_pending', 1)], RECEIVED_AT)).toEqual([]);
  });

  it('sees fine_tune.started when the job is running, dated by its job_start event', () => {
    const [started, ...rest] = observeFineTune(job('running'), [event('job_pending', 1), event('job_start', 2)], RECEIVED_AT);

    expect(rest).toEqual([]);
    expect(started?.event).toMatchObject({
      id: 'poll:ft:ft-7:started',
      provider: 'together',
      type: 'fine_tune.started',
      providerType: 'fine_tune.started',
      subject: 'ft-7',
      occurredAt: '2026-11-01T10:02:00.000Z',
      receivedAt: RECEIVED_AT,
      schemaVersion: 2,
      data: { jobId: 'ft-7', baseModel: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference' },
      providerData: { fine_tune_id: 'ft-7', status: 'running', model: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference' },
    });
  });

  it('sees fine_tune.started from a training_start event even while the status still says queued', () => {
    const keys = observeFineTune(job('queued'), [event('training_start', 3)], RECEIVED_AT).map((o) => o.key);

    expect(keys).toEqual(['started']);
  });

  it('sees one fine_tune.checkpoint per checkpoint_save event, with step and checkpoint_path, oldest first', () => {
    const observations = observeFineTune(job('running'), [checkpoint(200, 20, 'h200'), event('job_start', 2), checkpoint(100, 10, 'h100')], RECEIVED_AT);

    const checkpoints = observations.filter((o) => o.event.type === 'fine_tune.checkpoint');
    expect(checkpoints.map((o) => o.event.id)).toEqual(['poll:ft:ft-7:checkpoint:h100', 'poll:ft:ft-7:checkpoint:h200']);
    expect(checkpoints[0]?.event.data).toStrictEqual({ jobId: 'ft-7', step: 100, checkpointPath: 's3://ckpt/ft-7/100' });
    expect(checkpoints[0]?.event.providerData).toEqual({ fine_tune_id: 'ft-7', step: 100, checkpoint_path: 's3://ckpt/ft-7/100', message: 'checkpoint_save' });
    expect(checkpoints[0]?.event.occurredAt).toBe('2026-11-01T10:10:00.000Z');
  });

  it('keys a checkpoint without a hash by its step, and counts a repeated event once', () => {
    const observations = observeFineTune(job('running'), [checkpoint(100, 10), checkpoint(100, 10)], RECEIVED_AT);

    expect(observations.map((o) => o.key)).toEqual(['started', 'checkpoint:step-100']);
  });

  it('sees started, checkpoints and fine_tune.completed with modelName from model_output_name for a finished job', () => {
    const observations = observeFineTune(
      job('completed'),
      [event('job_start', 2), checkpoint(100, 10, 'a'), checkpoint(200, 20, 'b'), event('job_complete', 30)],
      RECEIVED_AT,
    );

    expect(observations.map((o) => o.event.type)).toEqual(['fine_tune.started', 'fine_tune.checkpoint', 'fine_tune.checkpoint', 'fine_tune.completed']);
    expect(observations[3]?.event).toMatchObject({
      id: 'poll:ft:ft-7:completed',
      occurredAt: '2026-11-01T10:30:00.000Z',
      data: { jobId: 'ft-7', modelName: 'acme/llama-support-v3', baseModel: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference' },
      providerData: { fine_tune_id: 'ft-7', status: 'completed', model_name: 'acme/llama-support-v3' },
    });
  });

  it('leaves modelName absent, not guessed, while Together has not named the output model', () => {
    const [, completed] = observeFineTune(job('completed', { model_output_name: null }), [], RECEIVED_AT);

    expect(completed?.event.data).toStrictEqual({ jobId: 'ft-7', baseModel: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference' });
  });

  it('sees fine_tune.started for a job that went from pending to completed between two polls without start events', () => {
    const keys = observeFineTune(job('completed'), [], RECEIVED_AT).map((o) => o.key);

    expect(keys).toEqual(['started', 'completed']);
  });

  it('sees fine_tune.failed with the message of the last job_error event', () => {
    const observations = observeFineTune(
      job('error'),
      [event('job_start', 2), event('job_error', 5, { message: 'first try' }), event('job_error', 9, { message: 'CUDA out of memory', step: 120 })],
      RECEIVED_AT,
    );

    const failed = observations.at(-1);
    expect(failed?.event).toMatchObject({
      id: 'poll:ft:ft-7:failed',
      type: 'fine_tune.failed',
      occurredAt: '2026-11-01T10:09:00.000Z',
      data: { jobId: 'ft-7', errorMessage: 'CUDA out of memory', step: 120 },
      providerData: { fine_tune_id: 'ft-7', status: 'error', error_message: 'CUDA out of memory', step: 120 },
    });
  });

  it('sees fine_tune.failed for a job that ends user_error, without a start it never had', () => {
    const observations = observeFineTune(job('user_error'), [], RECEIVED_AT);

    expect(observations.map((o) => o.event.type)).toEqual(['fine_tune.failed']);
    const failed = observations[0]?.event;
    expect(failed?.type === 'fine_tune.failed' ? failed.data.errorMessage : undefined).toMatch(/user_error/);
  });

  it('[P-TOG] sees fine_tune.cancelled, not fine_tune.failed, for a job Together reports cancelled', () => {
    const observations = observeFineTune(job('cancelled'), [event('job_start', 1), event('cancel_requested', 5)], RECEIVED_AT);

    expect(observations.map((o) => [o.key, o.event.type, o.event.providerType])).toEqual([
      ['started', 'fine_tune.started', 'fine_tune.started'],
      ['cancelled', 'fine_tune.cancelled', 'fine_tune.cancelled'],
    ]);
    expect(observations[1]?.event).toMatchObject({ id: 'poll:ft:ft-7:cancelled', occurredAt: '2026-11-01T10:05:00.000Z', data: { jobId: 'ft-7' } });
  });

  it('[P-TOG] puts the curve it is given on the end of the job as data.checkpoints, and none on a job still running', () => {
    const curve = [{ step: 10, loss: 2.1 }, { step: 20, loss: 1.7, path: 's3://ckpt/ft-7/20' }];

    const [, completed] = observeFineTune(job('completed'), [event('job_start', 1)], RECEIVED_AT, curve);
    const running = observeFineTune(job('running'), [event('job_start', 1)], RECEIVED_AT, curve);

    expect(completed?.event.data).toMatchObject({ modelName: 'acme/llama-support-v3', checkpoints: curve });
    expect(running.map((o) => o.event.data)).toEqual([{ jobId: 'ft-7', baseModel: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference' }]);
  });

  it('[RULE] a cancelled job is dated by its cancel request, not by a later event of another kind, and names its status in providerData', () => {
    const observations = observeFineTune(job('CANCELLED'), [event('job_start', 1), event('cancel_requested', 5), event('refund_issued', 8)], RECEIVED_AT);

    const cancelled = observations.at(-1)?.event;
    expect(cancelled?.occurredAt).toBe('2026-11-01T10:05:00.000Z');
    expect(cancelled?.providerData).toStrictEqual({ fine_tune_id: 'ft-7', status: 'cancelled' });
  });

  it('[RULE] a job end with an empty curve carries no data.checkpoints', () => {
    const [, completed] = observeFineTune(job('completed'), [event('job_start', 1)], RECEIVED_AT, []);

    expect(completed?.event.data).not.toHaveProperty('checkpoints');
  });

  it('routes every provider type through the together provider table', () => {
    const observations = observeFineTune(job('completed'), [event('job_start', 1), checkpoint(1, 2)], RECEIVED_AT);

    for (const { event: normalized } of observations) expect(normalized.type).toBe(together.routes[normalized.providerType]);
  });

  it('gives the same ids whatever order the API lists events in and whenever it is polled', () => {
    const events = [event('job_start', 1), checkpoint(100, 10, 'x1'), checkpoint(200, 20, 'x2'), event('job_error', 25, { message: 'boom' })];
    const reference = observeFineTune(job('error'), events, RECEIVED_AT).map((o) => o.event.id);

    fc.assert(
      fc.property(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }), (shuffled, when) => {
        const ids = observeFineTune(job('error'), shuffled, when.toISOString()).map((o) => o.event.id);
        expect(ids).toEqual(reference);
      }),
    );
  });
});

describe('batch observations', () => {
  it('sees nothing while a batch is validating or in progress', () => {
    expect([...observeBatch(batch('VALIDATING'), RECEIVED_AT), ...observeBatch(batch('IN_PROGRESS'), RECEIVED_AT)]).toEqual([]);
  });

  it('sees batch.completed with outputFileId and errorFileId', () => {
    const [completed] = observeBatch(batch('COMPLETED'), RECEIVED_AT);

    expect(completed?.event).toMatchObject({
      id: 'poll:batch:batch-9:COMPLETED',
      type: 'batch.completed',
      providerType: 'batch.completed',
      subject: 'batch-9',
      occurredAt: '2026-11-01T11:30:00.000Z',
      data: { batchId: 'batch-9', outputFileId: 'file-out', errorFileId: 'file-err' },
      providerData: { batch_id: 'batch-9', status: 'COMPLETED', output_file_id: 'file-out', error_file_id: 'file-err' },
    });
  });

  it('sees batch.failed for a FAILED batch, with its error', () => {
    const [failed] = observeBatch(batch('FAILED', { error: 'why' }), RECEIVED_AT);

    expect(failed?.event).toMatchObject({
      id: 'poll:batch:batch-9:FAILED',
      type: 'batch.failed',
      data: { batchId: 'batch-9', errorMessage: 'why' },
      providerData: { status: 'FAILED', error: 'why' },
    });
  });

  it.each([
    ['EXPIRED', 'batch.expired'],
    ['CANCELLED', 'batch.cancelled'],
    ['cancelled', 'batch.cancelled'],
  ])('[P-TOG] sees a %s batch as %s, not a failure, with its files kept in providerData', (status, route) => {
    const [ended] = observeBatch(batch(status, { error: 'why' }), RECEIVED_AT);

    expect(ended?.event).toMatchObject({
      id: `poll:batch:batch-9:${status.toUpperCase()}`,
      type: route,
      providerType: route,
      data: { batchId: 'batch-9' },
      providerData: { status: status.toUpperCase(), output_file_id: 'file-out', error_file_id: 'file-err', error: 'why' },
    });
  });
});
