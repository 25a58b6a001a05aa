import * as z from './zod';
import type { Route } from './routes';

/*
 * Every schema here is built on first use, one route at a time (routeDataSchema): building zod
 * schemas is most of what importing them costs, and a receiver's first delivery needs one route's.
 */

/**
 * Longest text kept in a canonical field. The provider's data travels beside it in full
 * (`providerData`), so the copy must stay small enough that the event still fits its record.
 */
export const MAX_DATA_TEXT_LENGTH = 2048;

const text = (description: string) => z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_DATA_TEXT_LENGTH), z.describe(description)));
const number = (description: string) => z.optional(z.number().check(z.describe(description)));

const jobId = () => text("The provider's fine-tune job id.");
const batchId = () => text("The provider's batch id.");
const errorMessage = () => text(`Why it failed, in the provider's words (cut to ${MAX_DATA_TEXT_LENGTH} characters).`);

/**
 * The first instant past what a canonical time holds: from year 10000 an ISO 8601 time needs six
 * digits, which `z.iso.datetime()` refuses. A provider's time at or past it is left out.
 */
export const END_OF_DATA_TIME_MS = Date.UTC(10_000, 0, 1);

/** Most points a `checkpoints` list carries: the jobs projection keeps as many. */
export const MAX_DATA_CHECKPOINTS = 500;

/**
 * A job's checkpoints and per-step metrics, oldest first, where the provider gives several at once
 * (read from its API, or from a log it sends): the loss curve `jobs show` and the console draw.
 */
const checkpoints = () =>
  z.optional(
    z
      .array(
        z.object({
          step: z.int().check(z.nonnegative()),
          loss: z.optional(z.number()),
          path: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_DATA_TEXT_LENGTH))),
          at: z.optional(z.iso.datetime()),
        }),
      )
      .check(z.maxLength(MAX_DATA_CHECKPOINTS), z.describe('Checkpoints and metrics by step (`step`, `loss`, `path`, `at`), oldest first.')),
  );

const baseModel = (verb: string) => text(`The model the job ${verb}.`);
const trainedTokens = () => number('Tokens the job trained on (billable), as the provider counts them.');
const resultFiles = () =>
  z.optional(
    z
      .array(z.string().check(z.minLength(1), z.maxLength(MAX_DATA_TEXT_LENGTH)))
      .check(z.maxLength(100), z.describe("The provider's ids of the files holding the job's results (e.g. its metrics).")),
  );
const outputFileId = () => text("The provider's id of the file holding the results.");
const errorFileId = () => text("The provider's id of the file holding the requests that failed: a completed batch can hold some.");
const count = (what: string) => z.optional(z.int().check(z.nonnegative(), z.describe(what)));
const requestCounts = () =>
  z.optional(
    z
      .object({
        total: count('Requests in the batch.'),
        completed: count('Requests that completed.'),
        failed: count('Requests that failed.'),
      })
      .check(z.describe("The batch's requests by outcome (`total`, `completed`, `failed`).")),
  );

const deploymentData = () =>
  z.object({
    deploymentId: text("The provider's deployment (endpoint) id."),
    modelId: text('The model the deployment serves.'),
    status: text("The deployment's status, as the provider names it."),
  });

/**
 * The canonical `data` of each route: the same shape whatever the provider. Every field is
 * optional: a field the provider does not send is absent, never guessed. The provider's own data
 * travels unchanged beside it, as `providerData`.
 */
const ROUTE_DATA_BUILDERS = {
  'fine_tune.started': () => z.object({
    jobId: jobId(),
    baseModel: baseModel('fine-tunes'),
    checkpoints: checkpoints(),
  }),
  'fine_tune.checkpoint': () => z.object({
    jobId: jobId(),
    step: number('The training step the checkpoint was taken at.'),
    loss: number('The training loss at that step.'),
    checkpointPath: text('Where the checkpoint was saved.'),
  }),
  'fine_tune.completed': () => z.object({
    jobId: jobId(),
    modelName: text('The name of the fine-tuned model, as the provider serves it.'),
    evalLoss: number('The evaluation loss of the finished model.'),
    baseModel: baseModel('fine-tuned'),
    trainedTokens: trainedTokens(),
    resultFiles: resultFiles(),
    checkpoints: checkpoints(),
  }),
  'fine_tune.failed': () => z.object({
    jobId: jobId(),
    errorMessage: errorMessage(),
    step: number('The training step the job failed at.'),
    baseModel: baseModel('fine-tuned'),
    trainedTokens: trainedTokens(),
    checkpoints: checkpoints(),
  }),
  // Cancelled and expired are ends the owner chose or allowed, not failures: nothing alerts.
  'fine_tune.cancelled': () => z.object({ jobId: jobId(), baseModel: baseModel('fine-tuned'), trainedTokens: trainedTokens(), checkpoints: checkpoints() }),
  'batch.completed': () => z.object({
    batchId: batchId(),
    outputFileId: outputFileId(),
    outputUrl: text('Where the results can be downloaded.'),
    errorFileId: errorFileId(),
    totalTokens: number('Tokens the batch used.'),
    requestCounts: requestCounts(),
  }),
  'batch.failed': () => z.object({ batchId: batchId(), errorMessage: errorMessage(), errorFileId: errorFileId(), requestCounts: requestCounts() }),
  // A batch cancelled or expired part way keeps what it finished: its files and counts say how much.
  'batch.cancelled': () => z.object({ batchId: batchId(), outputFileId: outputFileId(), errorFileId: errorFileId(), requestCounts: requestCounts() }),
  'batch.expired': () => z.object({ batchId: batchId(), outputFileId: outputFileId(), errorFileId: errorFileId(), requestCounts: requestCounts() }),
  'model.deprecated': () => z.object({
    modelId: text('The deprecated model.'),
    replacementModel: text('The model the provider says to move to.'),
    sunsetDate: text('When the model stops serving, as the provider writes it.'),
  }),
  'model.deployed': deploymentData,
  'deployment.changed': deploymentData,
  'usage.threshold_reached': () => z.object({
    metric: text('What is measured (`tokens`, `usd`, …).'),
    threshold: number('The threshold that was crossed, in units of the metric.'),
    current: number('The current usage, in units of the metric.'),
  }),
  other: () => z.object({}),
} as const satisfies Record<Route, () => z.ZodMiniObject>;

/** The schema of each route's canonical `data`. */
export type RouteDataSchemas = { readonly [R in Route]: ReturnType<(typeof ROUTE_DATA_BUILDERS)[R]> };

const built = new Map<Route, z.ZodMiniObject>();

/**
 * The schema of a route's canonical `data` (see ROUTE_DATA_BUILDERS), built on its first use and the
 * same instance ever after.
 */
export function routeDataSchema<R extends Route>(route: R): RouteDataSchemas[R] {
  let schema = built.get(route);
  if (schema === undefined) {
    schema = ROUTE_DATA_BUILDERS[route]();
    built.set(route, schema);
  }
  return schema as RouteDataSchemas[R];
}

/** The canonical `data` of one route, e.g. `EventData<'fine_tune.completed'>['modelName']`. */
export type EventData<R extends Route> = z.infer<RouteDataSchemas[R]>;

/** One entry of a fine-tune's `checkpoints` list. */
export type DataCheckpoint = NonNullable<EventData<'fine_tune.completed'>['checkpoints']>[number];
