import type { Route } from '../../core/routes';
import type { Extensions } from '../steps';
import { publishAlert } from './alerts';
import type { Enricher, RouteStep } from './context';
import { projectJob } from './jobs';
import { logEvent } from './log';

export type { Enricher, RouteContext, RouteStep } from './context';

/**
 * What each route's consumer does, in order: the one table of route logic. Typed over every
 * route, so a route added to ROUTES does not compile until it has an entry here. The projection
 * comes before the alert: it is idempotent, while the alert is guarded by `once`.
 */
export const BUILT_IN_STEPS: { readonly [R in Route]: readonly RouteStep<R>[] } = {
  'fine_tune.started': [projectJob],
  'fine_tune.checkpoint': [projectJob],
  'fine_tune.completed': [projectJob],
  'fine_tune.failed': [projectJob, publishAlert],
  // Cancelled and expired are not failures: projected as terminal states, never alerted.
  'fine_tune.cancelled': [projectJob],
  'batch.completed': [projectJob],
  'batch.failed': [projectJob, publishAlert],
  'batch.cancelled': [projectJob],
  'batch.expired': [projectJob],
  'model.deprecated': [publishAlert],
  'model.deployed': [logEvent],
  'deployment.changed': [logEvent],
  'usage.threshold_reached': [publishAlert],
  other: [logEvent],
};

/** Built-in steps that run only where the deployment turns them on. */
export interface OptionalSteps {
  /**
   * After the projection of `batch.completed` and `batch.expired` (OpenAI's partial output): copy
   * the batch's files to S3 (`batch-results.ts`).
   */
  readonly batchResults?: RouteStep<'batch.completed' | 'batch.expired'>;
  /** Before every step: the event's data completed from its provider's API (`enrich/`). */
  readonly enrich?: Enricher;
}

/**
 * The steps a route's consumer runs: the built-in ones, the optional ones turned on, then the
 * user's (`extensions`, from the construct's `steps` module; see `../steps.ts`). They take that route's events only: the consumer refuses a message
 * of another route.
 */
export function stepsFor<R extends Route>(route: R, extensions: Extensions = {}, optional: OptionalSteps = {}): readonly RouteStep<R>[] {
  // The only optional step is the batch routes', so on those routes it is a step of R.
  const turnedOn =
    (route === 'batch.completed' || route === 'batch.expired') && optional.batchResults !== undefined ? [optional.batchResults as unknown as RouteStep<R>] : [];
  return [...BUILT_IN_STEPS[route], ...turnedOn, ...(extensions[route] ?? [])];
}
