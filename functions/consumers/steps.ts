import { ConfigurationError } from '../core/errors';
import { ROUTES, isRoute, type Route } from '../core/routes';
import type { RouteStep } from './routes/context';

/**
 * Your own steps, the package's `ai-webhook-receiver/steps` entry: the types a steps module is
 * written against, and {@link defineSteps}. Give the module to the construct
 * (`new WebhookReceiver(this, 'Hooks', { steps: 'src/steps.ts' })`) and to the local runtime
 * (`npx webhooks dev --steps src/steps.ts`); it exports `steps`:
 *
 * ```ts
 * import { defineSteps } from 'ai-webhook-receiver/steps';
 *
 * export const steps = defineSteps({
 *   'fine_tune.completed': [
 *     async (event, context) => {
 *       await context.once('evaluation', (key) => startEvaluation({ model: event.data.modelName, idempotencyKey: key }));
 *     },
 *   ],
 * });
 * ```
 */
export type { OnceOptions, OnceScope, RouteContext, RouteStep } from './routes/context';
export type { JobHistory } from './routes/job-plan';
export type { NormalizedEvent, ProviderName, RouteEvent } from '../core/event';
export type { Route } from '../core/routes';

/**
 * Steps per canonical route: each route's run after its built-in steps, inside the same claim on
 * the event, and get that route's events (`event.data` typed for it).
 */
export type Extensions = { readonly [R in Route]?: readonly RouteStep<R>[] };

/** Returns `steps` as they are, typed: in a JavaScript module, your editor checks them all the same. */
export function defineSteps(steps: Extensions): Extensions {
  return steps;
}

/**
 * `value` as {@link Extensions}, or a ConfigurationError naming what is wrong in it (from
 * `where`): a key that is not a route, or a route whose steps are not a list of functions. The
 * consumer checks its steps when it starts, and `webhooks dev` each time it loads them.
 */
export function checkSteps(value: unknown, where: string): Extensions {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError(`${where} must export \`steps\`, an object of route → list of steps (e.g. { 'fine_tune.completed': [myStep] }); got ${Array.isArray(value) ? 'a list' : typeof value}`);
  }
  for (const [route, steps] of Object.entries(value)) {
    if (!isRoute(route)) throw new ConfigurationError(`${where}: \`steps\` has "${route}", which is not a route; the routes are ${ROUTES.join(', ')}`);
    if (!Array.isArray(steps) || !steps.every((step) => typeof step === 'function')) {
      throw new ConfigurationError(`${where}: the steps of "${route}" must be a list of functions (event, context) => Promise<void>`);
    }
  }
  return value as Extensions;
}
