import type { Batch } from 'openai/resources/batches';
import type { FileObject } from 'openai/resources/files';
import type { FineTuningJobCheckpoint } from 'openai/resources/fine-tuning/jobs/checkpoints';
import type { FineTuningJob, FineTuningJobEvent } from 'openai/resources/fine-tuning/jobs/jobs';

/**
 * The objects of the fake OpenAI API, deterministic: a job made with N steps always has the same
 * loss curve, checkpoints and events, whatever the clock says (times count from `createdAt`). Typed
 * with the official package's shapes, as OpenAI's API reference gives them.
 */

export type FakeJobOutcome = 'succeeded' | 'failed' | 'cancelled';
export type FakeBatchOutcome = 'completed' | 'failed' | 'cancelled' | 'expired';

export interface FakeJobInput {
  /** Default `ftjob-{n}`. */
  readonly id?: string;
  readonly outcome: FakeJobOutcome;
  /** Training steps run before the job ended; default 10. */
  readonly steps?: number;
  /** A checkpoint every this many steps (and at the last step of a job that succeeded); default 3. */
  readonly checkpointEvery?: number;
  /** Default `gpt-4o-mini-2024-07-18`. */
  readonly model?: string;
  /** Unix seconds the job was created at; default the fake's clock. Each step takes 10 s after it. */
  readonly createdAt?: number;
}

export interface FakeBatchInput {
  /** Default `batch_{n}`. */
  readonly id?: string;
  readonly outcome: FakeBatchOutcome;
  /** Requests in the batch; default 4. */
  readonly requests?: number;
  /** How many of them failed (a line each in the error file); default 1. */
  readonly failedRequests?: number;
}

export interface FakeJob {
  readonly job: FineTuningJob;
  /** Newest first, as the API lists them. */
  readonly checkpoints: FineTuningJobCheckpoint[];
  readonly events: FineTuningJobEvent[];
}

/** The training loss the fake reports at `step` (1-based): falling from 2.0 towards 0.2. */
export function fakeLoss(step: number): number {
  return Math.round((0.2 + 1.8 / (1 + 0.3 * (step - 1))) * 10_000) / 10_000;
}

/** Jobs, batches and files of one fake, and how to make more. */
export class FakeOpenAiState {
  readonly jobs = new Map<string, FakeJob>();
  readonly batches = new Map<string, Batch>();
  readonly files = new Map<string, { object: FileObject; content: string }>();
  private made = 0;

  constructor(private readonly createdAt: () => number) {}

  /** A fine-tuning job that ran `steps` steps and ended as `outcome`. */
  createJob(input: FakeJobInput): FakeJob {
    this.made += 1;
    const id = input.id ?? `ftjob-${this.made}`;
    const steps = input.steps ?? 10;
    const every = input.checkpointEvery ?? 3;
    const model = input.model ?? 'gpt-4o-mini-2024-07-18';
    const start = input.createdAt ?? Math.floor(this.createdAt() / 1000);
    const at = (step: number) => start + step * 10;
    const fineTunedModel = `ft:${model}:acme::${id.replace(/^ftjob-/, '')}`;
    const succeeded = input.outcome === 'succeeded';
    const resultFile = `file-result-${id}`;
    if (succeeded) this.addFile(resultFile, 'fine-tune-results', `step,train_loss\n${range(steps).map((step) => `${step},${fakeLoss(step)}`).join('\n')}\n`, at(steps));

    const checkpointSteps = range(steps).filter((step) => step % every === 0 || (succeeded && step === steps));
    const checkpoints = checkpointSteps.map(
      (step): FineTuningJobCheckpoint => ({
        id: `ftckpt_${id}_${step}`,
        object: 'fine_tuning.job.checkpoint',
        created_at: at(step),
        fine_tuned_model_checkpoint: `${fineTunedModel}:ckpt-step-${step}`,
        fine_tuning_job_id: id,
        step_number: step,
        metrics: { step, train_loss: fakeLoss(step), train_mean_token_accuracy: 0.5, full_valid_loss: fakeLoss(step) + 0.05, full_valid_mean_token_accuracy: 0.5 },
      }),
    );
    const event = (n: number, createdAt: number, message: string, extra: Partial<FineTuningJobEvent> = {}): FineTuningJobEvent => ({
      id: `ftevent-${id}-${n}`,
      object: 'fine_tuning.job.event',
      created_at: createdAt,
      level: 'info',
      message,
      type: 'message',
      ...extra,
    });
    const events: FineTuningJobEvent[] = [event(0, start, 'Fine-tuning job started')];
    for (const step of range(steps)) {
      events.push(
        event(step, at(step), `Step ${step}/${steps}: training loss=${fakeLoss(step)}`, {
          type: 'metrics',
          data: { step, train_loss: fakeLoss(step), train_mean_token_accuracy: 0.5, total_steps: steps },
        }),
      );
    }
    const end = at(steps) + 1;
    const last =
      input.outcome === 'succeeded'
        ? event(steps + 1, end, 'The job has successfully completed')
        : input.outcome === 'failed'
          ? event(steps + 1, end, `Job failed at step ${steps}`, { level: 'error' })
          : event(steps + 1, end, 'Fine-tuning job cancelled');
    events.push(last);

    const job: FineTuningJob = {
      id,
      object: 'fine_tuning.job',
      created_at: start,
      finished_at: end,
      model,
      fine_tuned_model: succeeded ? fineTunedModel : null,
      organization_id: 'org-fake',
      status: input.outcome,
      error: input.outcome === 'failed' ? { code: 'invalid_training_file', message: `Training failed at step ${steps}: the training file has an invalid line`, param: 'training_file' } : null,
      hyperparameters: { n_epochs: 1, batch_size: 1, learning_rate_multiplier: 1 },
      result_files: succeeded ? [resultFile] : [],
      seed: 42,
      trained_tokens: succeeded ? steps * 1_000 : null,
      training_file: `file-train-${id}`,
      validation_file: null,
    };
    const made: FakeJob = { job, checkpoints: checkpoints.reverse(), events: events.reverse() };
    this.jobs.set(id, made);
    return made;
  }

  /** A batch that ended as `outcome`, with its output file (and error file when requests failed). */
  createBatch(input: FakeBatchInput): Batch {
    this.made += 1;
    const id = input.id ?? `batch_${this.made}`;
    const total = input.requests ?? 4;
    const failed = Math.min(total, input.failedRequests ?? 1);
    const done = input.outcome === 'failed' ? 0 : total - failed;
    const created = Math.floor(this.createdAt() / 1000);
    const outputFileId = `file-out-${id}`;
    const errorFileId = `file-err-${id}`;
    if (done > 0) {
      this.addFile(outputFileId, 'batch_output', lines(done, (n) => ({ id: `batch_req_${n}`, custom_id: `request-${n}`, response: { status_code: 200, body: { id: `chatcmpl-${n}` } }, error: null })), created + 60);
    }
    if (failed > 0 && input.outcome !== 'failed') {
      this.addFile(errorFileId, 'batch_output', lines(failed, (n) => ({ id: `batch_req_err_${n}`, custom_id: `request-err-${n}`, response: null, error: { code: 'invalid_request', message: 'bad request line' } })), created + 60);
    }
    const batch: Batch = {
      id,
      object: 'batch',
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      input_file_id: `file-in-${id}`,
      created_at: created,
      status: input.outcome,
      request_counts: { total, completed: done, failed: input.outcome === 'failed' ? 0 : failed },
      ...(done > 0 ? { output_file_id: outputFileId } : {}),
      ...(failed > 0 && input.outcome !== 'failed' ? { error_file_id: errorFileId } : {}),
      ...(input.outcome === 'failed' ? { errors: { object: 'list', data: [{ code: 'invalid_json_line', line: 1, message: 'Line 1 is not valid JSON', param: null }] } } : {}),
      usage: {
        input_tokens: done * 20,
        output_tokens: done * 10,
        total_tokens: done * 30,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens_details: { reasoning_tokens: 0 },
      },
    };
    this.batches.set(id, batch);
    return batch;
  }

  private addFile(id: string, purpose: FileObject['purpose'], content: string, createdAt: number): void {
    this.files.set(id, {
      object: { id, object: 'file', bytes: Buffer.byteLength(content), created_at: createdAt, filename: `${id}.jsonl`, purpose, status: 'processed' },
      content,
    });
  }
}

const range = (n: number): number[] => Array.from({ length: n }, (_, index) => index + 1);
const lines = (n: number, line: (n: number) => unknown): string => range(n).map((index) => `${JSON.stringify(line(index))}\n`).join('');

/**
 * One page of a cursor list (`limit`, default 20, at most 100; `after`: the id of the previous
 * page's last entry), as OpenAI answers it.
 */
export function cursorPage<T extends { id: string }>(items: readonly T[], search: URLSearchParams): { object: 'list'; data: T[]; has_more: boolean; first_id: string | null; last_id: string | null } {
  const limit = Math.min(100, Math.max(1, Number(search.get('limit') ?? 20) || 20));
  const after = search.get('after');
  const from = after === null ? 0 : items.findIndex((item) => item.id === after) + 1;
  const data = items.slice(from, from + limit);
  return { object: 'list', data, has_more: from + limit < items.length, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
