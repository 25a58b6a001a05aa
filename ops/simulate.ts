import { randomBytes } from 'node:crypto';
import type { JobState } from '../functions/core/table';
import { buildDelivery, postDelivery } from './deliveries';
import { CliError, connectionProblem, receiverUnreachable } from './errors';
import { getJob, type JobDetail, type JobsDeps } from './jobs';
import {
  llmtuneDeliveries,
  mythicdotDeliveries,
  replicateDeliveries,
  togetherDeliveries,
  type JobScript,
  type ScriptedDelivery,
  type SimulatedOutcome,
  type SimulatedProvider,
} from './simulate-bodies';

export { SIMULATED_OUTCOMES, SIMULATED_PROVIDERS, type SimulatedOutcome, type SimulatedProvider } from './simulate-bodies';


/** Where `simulate` asks the local fake OpenAI API for a job (`local/fake-providers.ts`). */
export const FAKE_SIMULATE_PATH = '/simulate/openai/fine-tunes';

/** The body of a request to {@link FAKE_SIMULATE_PATH}. */
export interface SimulatedJobRequest {
  readonly id: string;
  readonly steps: number;
  readonly outcome: SimulatedOutcome;
  /** Unix seconds the job started at. */
  readonly startSeconds?: number;
}

/** The fake's answer: the job it made, its model, and the curve its metrics events give. */
export interface SimulatedJobResponse {
  readonly id: string;
  readonly model?: string;
  readonly curve: readonly { step: number; loss: number }[];
}

/** How one provider's job is simulated: its deliveries, and what its API must know first. */
interface Simulation {
  /** Makes the job in the provider's fake API first, where its webhooks carry only an id; the points its API reports. */
  readonly prepare?: (script: JobScript, fakeUrl: string) => Promise<number>;
  readonly deliveries: (script: JobScript) => ScriptedDelivery[];
  /** Job ids as the provider makes them. */
  readonly jobId: (random: string) => string;
  /** The points of the curve the job ends with. */
  readonly points: (script: JobScript) => number;
  /** The end state the jobs projection reaches for an outcome; undefined when the provider never reports that end. */
  readonly endState: (outcome: SimulatedOutcome) => JobState | undefined;
}

const END_STATES: Record<SimulatedOutcome, JobState> = { completed: 'completed', failed: 'failed', cancelled: 'cancelled' };

const OPENAI_TYPES: Record<SimulatedOutcome, string> = { completed: 'fine_tuning.job.succeeded', failed: 'fine_tuning.job.failed', cancelled: 'fine_tuning.job.cancelled' };

const SIMULATIONS: Record<SimulatedProvider, Simulation> = {
  // OpenAI's webhook names the job only: the job, its checkpoints and metrics are in its (fake) API.
  openai: {
    prepare: async (script, fakeUrl) => {
      const request: SimulatedJobRequest = { id: script.jobId, steps: script.steps, outcome: script.outcome, startSeconds: script.startSeconds };
      const made = (await postJson(new URL(FAKE_SIMULATE_PATH, fakeUrl), request)) as SimulatedJobResponse;
      return made.curve.length;
    },
    deliveries: (script) => {
      const id = `evt_${script.jobId}_${script.outcome}`;
      // The fake's job takes 10 s a step; its webhook comes once it has finished.
      return [{ id, body: { id, object: 'event', created_at: script.startSeconds + script.steps * 10 + 2, type: OPENAI_TYPES[script.outcome], data: { id: script.jobId } } }];
    },
    jobId: (random) => `ftjob-${random}`,
    points: (script) => script.steps,
    endState: (outcome) => END_STATES[outcome],
  },
  together: { deliveries: togetherDeliveries, jobId: (random) => `ft-${random}`, points: (script) => script.steps, endState: (outcome) => (outcome === 'cancelled' ? 'running' : END_STATES[outcome]) },
  // LLMTune sends a cancel as `training.failed` (seed 003), which the contract routes to `fine_tune.failed`.
  llmtune: { deliveries: llmtuneDeliveries, jobId: (random) => `job-${random}`, points: (script) => script.steps, endState: (outcome) => (outcome === 'cancelled' ? 'failed' : END_STATES[outcome]) },
  replicate: { deliveries: replicateDeliveries, jobId: (random) => `r${random}`, points: (script) => script.steps, endState: (outcome) => END_STATES[outcome] },
  mythicdot: { deliveries: mythicdotDeliveries, jobId: (random) => `ftjob-${random}`, points: (script) => (script.outcome === 'cancelled' ? 0 : script.steps), endState: (outcome) => (outcome === 'cancelled' ? 'started' : END_STATES[outcome]) },
};

export interface SimulateOptions {
  readonly provider: SimulatedProvider;
  /** Loss points, 3 to 500. */
  readonly steps: number;
  readonly outcome: SimulatedOutcome;
  /** The receiver's base URL. */
  readonly url: string;
  /** The local fake provider APIs (`local/fake-providers.ts`), for providers whose webhooks carry only an id. */
  readonly fakeUrl: string;
  /** Signing secret; the provider's development secret when undefined. */
  readonly secret?: string;
  /** Told of each delivery as it is answered. */
  readonly onDelivery?: (delivery: { id: string; status: number; body: string }) => void;
}

export interface SimulateDeps {
  readonly jobs: JobsDeps;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** How long to wait for the job to reach its end state. */
  readonly waitMs: number;
}

export interface SimulationResult {
  /** `<provider>#<job id>`: the key of `jobs show`. */
  readonly key: string;
  readonly expectedState: JobState | undefined;
  /** The job as the projection holds it when it reached the expected state, or when the wait ran out. */
  readonly job: JobDetail | undefined;
  readonly reached: boolean;
}

/**
 * Drives one fine-tune of `provider` end to end against a running receiver: its webhooks, signed as
 * that provider signs them, in order, each answered before the next; then waits until the jobs
 * projection holds the job in the state its outcome ends in (the consumers run asynchronously).
 */
export async function simulateFineTune(options: SimulateOptions, deps: SimulateDeps): Promise<SimulationResult> {
  const simulation = SIMULATIONS[options.provider];
  const jobId = simulation.jobId(randomBytes(6).toString('hex'));
  const script: JobScript = { jobId, steps: options.steps, outcome: options.outcome, startSeconds: Math.floor(deps.clock() / 1000) - (options.steps + 2) * 60 };
  const points = simulation.prepare === undefined ? simulation.points(script) : await simulation.prepare(script, options.fakeUrl);
  for (const scripted of simulation.deliveries(script)) {
    const delivery = buildDelivery({
      provider: options.provider,
      type: '',
      id: scripted.id,
      body: JSON.stringify(scripted.body),
      ...(options.secret === undefined ? {} : { secret: options.secret }),
    });
    let answer: { status: number; body: string };
    try {
      answer = await postDelivery(options.url, delivery);
    } catch (error) {
      const problem = connectionProblem(error);
      if (problem === undefined) throw error;
      throw receiverUnreachable(new URL(delivery.path, options.url).toString(), problem);
    }
    options.onDelivery?.({ id: scripted.id, ...answer });
    if (answer.status < 200 || answer.status >= 300) throw new CliError(`the receiver refused ${options.provider} delivery ${scripted.id}: ${answer.status} ${answer.body.slice(0, 200)}`);
  }
  const key = `${options.provider}#${jobId}`;
  const expectedState = simulation.endState(options.outcome);
  const deadline = deps.clock() + deps.waitMs;
  for (;;) {
    const job = await getJob(deps.jobs, key);
    // Every point of the curve too: the checkpoints' consumers run beside the completion's.
    const reached = job !== undefined && (expectedState === undefined || job.state === expectedState) && job.checkpoints.length >= points;
    if (reached || deps.clock() >= deadline) return { key, expectedState, job, reached };
    await deps.sleep(250);
  }
}

async function postJson(url: URL, body: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (error) {
    const problem = connectionProblem(error);
    if (problem === undefined) throw error;
    throw new CliError(`could not reach the fake provider APIs at ${url.origin} (${problem})`, {
      hint: '`npm start` serves them unless LOCAL_FAKE_PROVIDERS=off; or run `npm run fake-providers`, or pass --fake-url',
    });
  }
  const text = await response.text();
  if (!response.ok) throw new CliError(`the fake provider APIs at ${url.origin} answered ${response.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}
