import { createHash } from 'node:crypto';
import { defaultBatchFile, type FakeFileContent } from './fake-together-files';
import type { FakeBatchStep, FakeJobStep } from './fake-together-scripts';

/**
 * The jobs and batches of the fake Together API: where each stands in its script, how it moves on,
 * and how Together's API shows it (`GET /fine-tunes…`, `GET /batches…`).
 */

interface ScriptedJob {
  readonly id: string;
  readonly steps: readonly FakeJobStep[];
  index: number;
  readonly createdAt: string;
  updatedAt: string;
  readonly events: Record<string, unknown>[];
}

interface ScriptedBatch {
  readonly id: string;
  readonly steps: readonly FakeBatchStep[];
  index: number;
  readonly createdAt: string;
  completedAt: string | null;
}

/** A fine-tune job as `GET /fine-tunes/{id}` answers it. */
export type JobView = Record<string, unknown>;
/** A batch as `GET /batches/{id}` answers it. */
export type BatchView = Record<string, unknown>;

/** The scripted jobs and batches, and the views the HTTP routes answer with. */
export interface ScriptedLifecycles {
  addJob(id: string, steps: readonly FakeJobStep[]): void;
  /** Also gives every file its steps name a few default lines in `files`, unless it has contents. */
  addBatch(id: string, steps: readonly FakeBatchStep[]): void;
  advance(id?: string): boolean;
  finish(id?: string): void;
  finished(): boolean;
  hide(id: string): void;
  /** The jobs `GET /fine-tunes` lists: every one not hidden. */
  listedJobs(): JobView[];
  /** `undefined` when there is no such job. */
  job(id: string): JobView | undefined;
  /** The events of a job, oldest first; `undefined` when there is no such job. */
  jobEvents(id: string): readonly Record<string, unknown>[] | undefined;
  /** `GET /fine-tunes/{id}/checkpoints`: its saved checkpoints, newest first; `undefined` when there is no such job. */
  jobCheckpoints(id: string): Record<string, unknown>[] | undefined;
  /**
   * `GET /fine-tunes/{id}/metrics`: a training row every {@link FAKE_METRICS_EVERY_STEPS} steps up
   * to where the job has got, and an eval row at each checkpoint, oldest first; at most
   * `resolution` training rows, sampled evenly. `undefined` when there is no such job.
   */
  jobMetrics(id: string, resolution?: number): Record<string, unknown>[] | undefined;
  /** The batches `GET /batches` lists: every one not hidden. */
  listedBatches(): BatchView[];
  /** `undefined` when there is no such batch. */
  batch(id: string): BatchView | undefined;
}

/** Steps between two training rows of a fake job's metrics. */
export const FAKE_METRICS_EVERY_STEPS = 10;

/**
 * A fake job's training loss at `step` of `totalSteps`: 2.4 at the start, falling steadily towards
 * 0.4, the same for every run. Exported so that tests can compute what they expect.
 */
export function fakeLoss(step: number, totalSteps: number): number {
  return Math.round((0.4 + 2 * Math.exp((-3 * step) / Math.max(1, totalSteps))) * 10_000) / 10_000;
}

/**
 * The state behind the fake: `clock` gives epoch milliseconds for `created_at` / `updated_at`;
 * `files` is the fake's file store, shared with its file routes.
 */
export function scriptedLifecycles(clock: () => number, files: Map<string, FakeFileContent>): ScriptedLifecycles {
  const jobs = new Map<string, ScriptedJob>();
  const batches = new Map<string, ScriptedBatch>();
  const hidden = new Set<string>();
  // Events get strictly increasing times even when the clock stands still, so their order is real.
  let lastEventMs = 0;
  const eventTime = () => {
    lastEventMs = Math.max(clock(), lastEventMs + 1);
    return new Date(lastEventMs).toISOString();
  };

  const appendEvents = (job: ScriptedJob, step: FakeJobStep) => {
    for (const input of step.events ?? []) {
      const created_at = eventTime();
      job.events.push({
        object: 'fine-tune-event',
        created_at,
        level: input.level ?? (input.type === 'job_error' ? 'error' : 'info'),
        message: input.message ?? input.type.replace(/_/g, ' '),
        type: input.type,
        ...(input.step === undefined ? {} : { step: input.step }),
        ...(input.checkpoint_path === undefined ? {} : { checkpoint_path: input.checkpoint_path }),
        ...(input.model_path === undefined ? {} : { model_path: input.model_path }),
        hash: input.hash ?? createHash('sha256').update(`${job.id}\n${job.events.length}\n${input.type}`).digest('hex').slice(0, 16),
      });
    }
  };

  const jobView = (job: ScriptedJob): JobView => {
    const step = job.steps[job.index] as FakeJobStep;
    const output = job.steps.find((s) => s.model_output_name !== undefined)?.model_output_name;
    return {
      id: job.id,
      object: 'fine-tune',
      status: step.status,
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference',
      model_output_name: output ?? `acme/Meta-Llama-3.1-8B-Instruct-${job.id}`,
      created_at: job.createdAt,
      updated_at: job.updatedAt,
      token_count: 1_048_576,
      epochs_completed: job.index,
      events: job.events,
    };
  };

  const batchView = (batch: ScriptedBatch): BatchView => {
    const step = batch.steps[batch.index] as FakeBatchStep;
    return {
      id: batch.id,
      status: step.status,
      output_file_id: step.output_file_id ?? null,
      error_file_id: step.error_file_id ?? null,
      error: step.error ?? null,
      progress: step.progress ?? (batch.index === batch.steps.length - 1 ? 100 : 0),
      created_at: batch.createdAt,
      completed_at: batch.completedAt,
      model_id: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
    };
  };

  // A run goes 100 steps past the last step its script names (a checkpoint, an error): the final
  // checkpoint of a completed job is its own step, after the intermediate ones.
  const totalSteps = (job: ScriptedJob) => Math.max(0, ...job.steps.flatMap((step) => (step.events ?? []).map((event) => event.step ?? 0))) + 100;
  const savedCheckpoints = (job: ScriptedJob) => job.events.filter((event) => event.type === 'checkpoint_save' && typeof event.step === 'number');
  // How far training has got: the whole run once completed, else the latest step an event names.
  const reachedStep = (job: ScriptedJob) =>
    (job.steps[job.index] as FakeJobStep).status === 'completed' ? totalSteps(job) : Math.max(0, ...job.events.map((event) => (typeof event.step === 'number' ? event.step : 0)));
  // Together's metric timestamps are nanoseconds; one step a second from the job's creation.
  const stepTimestamp = (job: ScriptedJob, step: number) => (Date.parse(job.createdAt) + step * 1000) * 1e6;

  const checkpointsView = (job: ScriptedJob): Record<string, unknown>[] => {
    const intermediate = savedCheckpoints(job).map((event) => ({
      checkpoint_type: `Intermediate (step ${String(event.step)})`,
      created_at: event.created_at,
      path: event.checkpoint_path ?? event.model_path ?? `s3://together-checkpoints/${job.id}/checkpoint-${String(event.step)}`,
      step: event.step,
      checkpoint: 'adapter',
    }));
    const final =
      (job.steps[job.index] as FakeJobStep).status === 'completed'
        ? [{ checkpoint_type: 'Final', created_at: job.updatedAt, path: String(jobView(job).model_output_name), step: totalSteps(job), checkpoint: 'model' }]
        : [];
    return [...intermediate, ...final].reverse();
  };

  const metricsView = (job: ScriptedJob, resolution: number | undefined): Record<string, unknown>[] => {
    const total = totalSteps(job);
    const reached = reachedStep(job);
    let trainSteps = Array.from({ length: Math.floor(reached / FAKE_METRICS_EVERY_STEPS) }, (_, index) => (index + 1) * FAKE_METRICS_EVERY_STEPS);
    if (resolution !== undefined && resolution > 0 && trainSteps.length > resolution) {
      const all = trainSteps;
      trainSteps = Array.from({ length: resolution }, (_, k) => all[Math.round((k * (all.length - 1)) / Math.max(1, resolution - 1))] as number);
    }
    const train = trainSteps.map((step) => ({
      timestamp: stepTimestamp(job, step),
      'train/global_step': step,
      'train/epoch': Math.round((step / total) * 1000) / 1000,
      'train/loss': fakeLoss(step, total),
      'train/learning_rate': 0.00001,
      'train/grad_norm': 1.2,
    }));
    const evals = savedCheckpoints(job).map((event) => {
      const step = event.step as number;
      return { timestamp: stepTimestamp(job, step), 'eval/global_step': step, 'eval/loss': fakeLoss(step, total) + 0.05 };
    });
    return [...train, ...evals].sort((a, b) => a.timestamp - b.timestamp);
  };

  const moveJob = (job: ScriptedJob, to: number) => {
    while (job.index < to) {
      job.index += 1;
      appendEvents(job, job.steps[job.index] as FakeJobStep);
      job.updatedAt = new Date(clock()).toISOString();
    }
  };
  const moveBatch = (batch: ScriptedBatch, to: number) => {
    if (batch.index >= to) return;
    batch.index = to;
    if (to === batch.steps.length - 1) batch.completedAt = new Date(clock()).toISOString();
  };

  const each = (id: string | undefined, onJob: (job: ScriptedJob) => void, onBatch: (batch: ScriptedBatch) => void) => {
    if (id !== undefined && !jobs.has(id) && !batches.has(id)) throw new Error(`the fake has no job or batch "${id}"`);
    for (const job of jobs.values()) if (id === undefined || job.id === id) onJob(job);
    for (const batch of batches.values()) if (id === undefined || batch.id === id) onBatch(batch);
  };

  return {
    addJob(id, steps) {
      if (steps.length === 0) throw new Error('a scripted job needs at least one step');
      const now = new Date(clock()).toISOString();
      const job: ScriptedJob = { id, steps, index: 0, createdAt: now, updatedAt: now, events: [] };
      appendEvents(job, steps[0] as FakeJobStep);
      jobs.set(id, job);
    },
    addBatch(id, steps) {
      if (steps.length === 0) throw new Error('a scripted batch needs at least one step');
      const batch: ScriptedBatch = { id, steps, index: 0, createdAt: new Date(clock()).toISOString(), completedAt: null };
      for (const fileId of steps.flatMap((step) => [step.output_file_id, step.error_file_id])) {
        if (fileId !== undefined && !files.has(fileId)) files.set(fileId, defaultBatchFile(fileId));
      }
      if (steps.length === 1) batch.completedAt = batch.createdAt;
      batches.set(id, batch);
    },
    advance(id) {
      let moved = false;
      each(
        id,
        (job) => {
          if (job.index < job.steps.length - 1) {
            moveJob(job, job.index + 1);
            moved = true;
          }
        },
        (batch) => {
          if (batch.index < batch.steps.length - 1) {
            moveBatch(batch, batch.index + 1);
            moved = true;
          }
        },
      );
      return moved;
    },
    finish(id) {
      each(
        id,
        (job) => moveJob(job, job.steps.length - 1),
        (batch) => moveBatch(batch, batch.steps.length - 1),
      );
    },
    finished() {
      return [...jobs.values()].every((job) => job.index === job.steps.length - 1) && [...batches.values()].every((batch) => batch.index === batch.steps.length - 1);
    },
    hide(id) {
      each(id, () => undefined, () => undefined);
      hidden.add(id);
    },
    listedJobs: () => [...jobs.values()].filter((job) => !hidden.has(job.id)).map(jobView),
    job(id) {
      const job = jobs.get(id);
      return job === undefined ? undefined : jobView(job);
    },
    jobEvents: (id) => jobs.get(id)?.events,
    jobCheckpoints(id) {
      const job = jobs.get(id);
      return job === undefined ? undefined : checkpointsView(job);
    },
    jobMetrics(id, resolution) {
      const job = jobs.get(id);
      return job === undefined ? undefined : metricsView(job, resolution);
    },
    listedBatches: () => [...batches.values()].filter((batch) => !hidden.has(batch.id)).map(batchView),
    batch(id) {
      const batch = batches.get(id);
      return batch === undefined ? undefined : batchView(batch);
    },
  };
}
