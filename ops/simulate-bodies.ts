/**
 * The deliveries of one simulated fine-tune, as each provider sends them: the bodies its documents
 * show (docs/contract.md), one job, `steps` training steps whose loss falls along {@link lossAt}.
 * Pure: the same input gives the same bodies, so a test can say what the job must end as.
 */

import type { ProviderName } from '../functions/core/event';

/** The providers `simulate fine-tune` drives, each as it really reports a job. */
export const SIMULATED_PROVIDERS = ['openai', 'together', 'replicate', 'llmtune', 'mythicdot'] as const satisfies readonly ProviderName[];
export type SimulatedProvider = (typeof SIMULATED_PROVIDERS)[number];

export const SIMULATED_OUTCOMES = ['completed', 'failed', 'cancelled'] as const;
export type SimulatedOutcome = (typeof SIMULATED_OUTCOMES)[number];

export interface JobScript {
  /** The job's id at the provider: the subject of its events. */
  readonly jobId: string;
  /** Loss points: 3 to 500. */
  readonly steps: number;
  readonly outcome: SimulatedOutcome;
  /** Unix seconds the job starts at; each step takes a minute. */
  readonly startSeconds: number;
}

/** One webhook of the job: its id (the event id, or Standard Webhooks' `webhook-id`) and body. */
export interface ScriptedDelivery {
  readonly id: string;
  readonly body: Record<string, unknown>;
}

/** Training steps between two reported points. */
export const STEP_STRIDE = 10;

/** The loss at point `index` (1-based) of `points`: from about 2.7 down to about 0.4, deterministic. */
export function lossAt(index: number, points: number): number {
  return Math.round((2.4 * Math.exp((-3 * index) / points) + 0.35) * 10_000) / 10_000;
}

/** The job's curve: `{ step, loss, at }` for each point, at the stride's steps. */
export function curve(script: JobScript): { step: number; loss: number; atSeconds: number }[] {
  return Array.from({ length: script.steps }, (_, offset) => ({
    step: (offset + 1) * STEP_STRIDE,
    loss: lossAt(offset + 1, script.steps),
    atSeconds: script.startSeconds + (offset + 1) * 60,
  }));
}

/** The model name a completed simulated job ends with, per provider. */
export function modelNameOf(provider: string, jobId: string): string {
  switch (provider) {
    case 'openai':
      return `ft:gpt-4o-mini-2024-07-18:acme::${jobId.slice(-8)}`;
    case 'replicate':
      return `acme/llama-ft:${jobId.replace(/[^a-z0-9]/g, '').slice(0, 16).padEnd(16, '0')}`;
    default:
      return `acme/Meta-Llama-3.1-8B-Instruct-${jobId}`;
  }
}

const BASE_MODEL = 'meta-llama/Meta-Llama-3.1-8B-Instruct';
const FAILURE = 'CUDA out of memory at step';

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const endOf = (script: JobScript) => script.startSeconds + (script.steps + 1) * 60;

/** Together's pushes (seed 000/002): a checkpoint per point, then the end; Together pushes no cancel. */
export function togetherDeliveries(script: JobScript): ScriptedDelivery[] {
  const { jobId } = script;
  const points = curve(script);
  const event = (suffix: string, type: string, data: Record<string, unknown>, created: number): ScriptedDelivery => ({
    id: `evt_${jobId}_${suffix}`,
    body: { id: `evt_${jobId}_${suffix}`, type, data: { fine_tune_id: jobId, ...data }, created },
  });
  const checkpoints = points.map(({ step, loss, atSeconds }) => event(`step${step}`, 'fine_tune.checkpoint', { step, loss }, atSeconds));
  const last = points.at(-1);
  switch (script.outcome) {
    case 'completed':
      return [...checkpoints, event('completed', 'fine_tune.completed', { model_name: modelNameOf('together', jobId), eval_loss: last?.loss }, endOf(script))];
    case 'failed':
      return [...checkpoints, event('failed', 'fine_tune.failed', { error_message: `${FAILURE} ${last?.step ?? 0}`, step: last?.step }, endOf(script))];
    case 'cancelled':
      return checkpoints;
  }
}

/** LLMTune (seed 003): started, then completed or failed (a cancel is a `training.failed`), its history under `metrics`. */
export function llmtuneDeliveries(script: JobScript): ScriptedDelivery[] {
  const { jobId } = script;
  const history = curve(script).map(({ step, loss }) => ({ step, loss }));
  const last = history.at(-1);
  const started = { event: 'training.started', data: { jobId, baseModel: BASE_MODEL, trainingMethod: 'sft', status: 'running', createdAt: iso(script.startSeconds) }, deliveredAt: iso(script.startSeconds) };
  const end =
    script.outcome === 'completed'
      ? {
          event: 'training.completed',
          data: {
            jobId,
            baseModel: BASE_MODEL,
            artifact: modelNameOf('llmtune', jobId),
            metrics: { loss: last?.loss, evalLoss: last === undefined ? undefined : last.loss + 0.05, totalTokens: 3_250_000, history },
            completedAt: iso(endOf(script)),
          },
          deliveredAt: iso(endOf(script)),
        }
      : {
          event: 'training.failed',
          data: {
            jobId,
            baseModel: BASE_MODEL,
            status: script.outcome === 'cancelled' ? 'cancelled' : 'failed',
            error: script.outcome === 'cancelled' ? 'cancelled by the user' : `${FAILURE} ${last?.step ?? 0}`,
            metrics: { history },
          },
          deliveredAt: iso(endOf(script)),
        };
  // LLMTune sends no id: the receiver derives it from the body.
  return [started, end].map((body, index) => ({ id: `${jobId}-${index}`, body }));
}

/** MythicDot (seed 004): the job object under `data.object`, OpenAI's field names. */
export function mythicdotDeliveries(script: JobScript): ScriptedDelivery[] {
  const { jobId } = script;
  const checkpoints = curve(script).map(({ step, loss, atSeconds }) => ({ object: 'fine_tuning.job.checkpoint', step_number: step, metrics: { train_loss: loss }, created_at: atSeconds }));
  const job = { id: jobId, object: 'fine_tuning.job', model: BASE_MODEL, created_at: script.startSeconds };
  const event = (type: string, object: Record<string, unknown>, created: number): ScriptedDelivery => ({
    id: `evt_${jobId}_${type.split('.').at(-1) ?? type}`,
    body: { id: `evt_${jobId}_${type.split('.').at(-1) ?? type}`, type, created, data: { object: { ...job, ...object } } },
  });
  const started = event('fine_tuning.job.started', { status: 'running' }, script.startSeconds);
  switch (script.outcome) {
    case 'completed':
      return [started, event('fine_tuning.job.succeeded', { status: 'succeeded', fine_tuned_model: modelNameOf('mythicdot', jobId), trained_tokens: 3_250_000, checkpoints }, endOf(script))];
    case 'failed':
      return [started, event('fine_tuning.job.failed', { status: 'failed', error: { message: `${FAILURE} ${script.steps * STEP_STRIDE}` }, checkpoints }, endOf(script))];
    case 'cancelled':
      // MythicDot documents no cancel event: the job just stops reporting.
      return [started];
  }
}

/**
 * Replicate: the training object itself at each webhook (start, a `logs` webhook per point with
 * the trainer's log so far, completed), each with a `webhook-id` of its own. The log is ostris'
 * ai-toolkit's tqdm bar, the loss in its postfix, as Replicate shows it.
 */
export function replicateDeliveries(script: JobScript): ScriptedDelivery[] {
  const { jobId } = script;
  const points = curve(script);
  const total = points.at(-1)?.step ?? 0;
  const api = 'https://api.replicate.com/v1';
  const object = (fields: Record<string, unknown>) => ({
    id: jobId,
    model: 'ostris/flux-dev-lora-trainer',
    version: '26dce37af90b9d997eeb970d92e47de3064d46c300504ae376c75bef6a9022d2',
    destination: 'acme/llama-ft',
    input: { steps: total, learning_rate: 0.0004 },
    output: null,
    logs: '',
    error: null,
    metrics: {},
    created_at: iso(script.startSeconds - 20),
    started_at: iso(script.startSeconds),
    completed_at: null,
    urls: { get: `${api}/trainings/${jobId}`, cancel: `${api}/trainings/${jobId}/cancel` },
    ...fields,
  });
  const logUpTo = (count: number) =>
    `Running ${total} steps\n${points
      .slice(0, count)
      .map(({ step, loss }) => `flux_train_replicate: ${Math.floor((100 * step) / total)}%| | ${step}/${total} [00:10<00:10, 1.11s/it, lr: 4.0e-04 loss: ${loss}]`)
      .join('\r')}\n`;
  const started = { id: `msg_${jobId}_start`, body: object({ status: 'starting' }) };
  const logs = points.map((_, index) => ({ id: `msg_${jobId}_logs${index + 1}`, body: object({ status: 'processing', logs: logUpTo(index + 1) }) }));
  const ended = { completed_at: iso(endOf(script)), logs: logUpTo(points.length) };
  const end =
    script.outcome === 'completed'
      ? object({ ...ended, status: 'succeeded', output: { version: modelNameOf('replicate', jobId), weights: `https://replicate.delivery/${jobId}/trained_model.tar` }, metrics: { predict_time: 600 } })
      : script.outcome === 'failed'
        ? object({ ...ended, status: 'failed', error: `${FAILURE} ${total}` })
        : object({ ...ended, status: 'canceled' });
  return [started, ...logs, { id: `msg_${jobId}_completed`, body: end }];
}
