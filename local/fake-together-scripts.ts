/**
 * The scripts of the fake Together API: the states a fine-tune job or a batch moves through, and
 * ready-made lifecycles for the common outcomes (a job that completes or fails, a batch that ends
 * in each terminal status).
 */

/** One state of a scripted fine-tune job; its events are appended to the job's event list. */
export interface FakeJobStep {
  readonly status: string;
  readonly events?: readonly FakeEventInput[];
  readonly model_output_name?: string;
}

/** An event as a script writes it; `object`, `created_at`, `level` and `hash` are filled in. */
export interface FakeEventInput {
  readonly type: string;
  readonly message?: string;
  readonly step?: number;
  readonly checkpoint_path?: string;
  readonly model_path?: string;
  readonly level?: string;
  readonly hash?: string;
}

/** One state of a scripted batch. */
export interface FakeBatchStep {
  readonly status: string;
  readonly output_file_id?: string;
  readonly error_file_id?: string;
  readonly error?: string;
  readonly progress?: number;
}


/**
 * A fine-tune job that queues, starts, saves `checkpoints` checkpoints (one step each) and
 * completes with `model_output_name`.
 */
export function successfulFineTuneScript(options: { checkpoints?: number; modelOutputName?: string } = {}): FakeJobStep[] {
  const checkpoints = options.checkpoints ?? 2;
  return [
    { status: 'pending', events: [{ type: 'job_pending' }] },
    { status: 'running', events: [{ type: 'job_start' }, { type: 'training_start' }] },
    ...Array.from({ length: checkpoints }, (_, index) => {
      const step = (index + 1) * 100;
      return {
        status: 'running',
        events: [{ type: 'checkpoint_save', step, checkpoint_path: `s3://together-checkpoints/ft/checkpoint-${step}`, message: `Checkpoint saved at step ${step}` }],
      };
    }),
    {
      status: 'completed',
      events: [{ type: 'training_complete' }, { type: 'model_upload_complete' }, { type: 'job_complete' }],
      ...(options.modelOutputName === undefined ? {} : { model_output_name: options.modelOutputName }),
    },
  ];
}

/** A fine-tune job that starts and then fails with `message` in a `job_error` event. */
export function failedFineTuneScript(message = 'CUDA out of memory at step 120', status = 'error'): FakeJobStep[] {
  return [
    { status: 'pending', events: [{ type: 'job_pending' }] },
    { status: 'running', events: [{ type: 'job_start' }] },
    { status, events: [{ type: 'job_error', message, step: 120 }] },
  ];
}

/** A batch that validates, runs and ends in `final` (`COMPLETED`, `FAILED`, `EXPIRED`, `CANCELLED`). */
export function batchScript(id: string, final: 'COMPLETED' | 'FAILED' | 'EXPIRED' | 'CANCELLED'): FakeBatchStep[] {
  const last: FakeBatchStep =
    final === 'COMPLETED'
      ? { status: final, output_file_id: `file-out-${id}`, error_file_id: `file-err-${id}` }
      : { status: final, error: final === 'FAILED' ? 'input file failed validation' : `batch ${final.toLowerCase()}`, ...(final === 'FAILED' ? { error_file_id: `file-err-${id}` } : {}) };
  return [{ status: 'VALIDATING' }, { status: 'IN_PROGRESS', progress: 40 }, last];
}
