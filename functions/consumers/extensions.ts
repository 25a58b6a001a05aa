import type { Route } from '../core/routes';
import type { RouteStep } from './routes/context';

/**
 * YOUR LOGIC GOES HERE. Each route's steps run after its built-in steps (see `routes/index.ts`),
 * inside the same claim on the event: a step that throws fails the event, which is retried and
 * after `maxReceiveCount` attempts waits in the route's dead-letter queue for replay. The event is
 * marked handled only when every step has succeeded.
 *
 * A step may run more than once for one event (a retry after a failure), and a job transition
 * may arrive as two events (a Together push and a poll of the same completion). Wrap an effect in
 * `context.once('name', effect)`: it runs once per job transition, whichever event comes first,
 * retries, redrives and replays included (once per event for routes without a transition, or with
 * `{ scope: 'event' }`: skipped on retries, run again on a replay). `once` records the step after the effect, so a crash in between runs it again: pass
 * the key the effect receives (also `context.idempotencyKey('name')`, e.g.
 * `together#ft-abc#completed#evaluation`) as the idempotency key of the API you call, and the
 * target drops that repeat too.
 *
 * Example: start an evaluation whenever a fine-tune completes. A step gets its route's events, so
 * `event.data` is that route's canonical data (`functions/core/data.ts`), typed, whatever the
 * provider; a field the provider does not send is absent.
 *
 * ```ts
 * import { startEvaluation } from './my-evaluations';
 *
 * export const EXTENSIONS: Extensions = {
 *   'fine_tune.completed': [
 *     async (event, context) => {
 *       const { modelName, jobId } = event.data;
 *       if (modelName === undefined) {
 *         context.logger.warn('fine-tune completed without a model name; no evaluation started', { key: context.key, jobId });
 *         return;
 *       }
 *       await context.once('evaluation', (key) => startEvaluation({ model: modelName, idempotencyKey: key }));
 *     },
 *   ],
 * };
 * ```
 *
 * This file is bundled into every route's consumer and deployed by `cdk deploy`. The consumer's role
 * needs permission for whatever your step calls: `receiver.grantToConsumers(route, …)`, and
 * `addConsumerEnvironment` / `addConsumerSecret` for its settings (README, "Permissions for your own steps").
 */
export type Extensions = { readonly [R in Route]?: readonly RouteStep<R>[] };

export const EXTENSIONS: Extensions = {};
