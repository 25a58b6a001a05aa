import type { Route } from '../core/routes';
import type { RouteStep } from './routes/context';

/**
 * YOUR LOGIC GOES HERE. Each route's steps run after its built-in steps (see `routes/index.ts`),
 * inside the same claim on the event: a step that throws fails the event, which is retried and
 * after `maxReceiveCount` attempts waits in the route's dead-letter queue for replay. The event is
 * marked handled only when every step has succeeded.
 *
 * A step may run more than once for one event (a retry after a failure). Make it idempotent:
 * pass `context.key` (`{provider}#{eventId}`) as the idempotency key of the API you call, or wrap
 * the effect in `context.once('name', ...)`, which skips it on a retry once it has succeeded.
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
 *       await context.once('evaluation', () => startEvaluation({ model: modelName, idempotencyKey: context.key }));
 *     },
 *   ],
 * };
 * ```
 *
 * The consumer function's role needs permission for whatever your step calls (see the stack).
 */
export type Extensions = { readonly [R in Route]?: readonly RouteStep<R>[] };

export const EXTENSIONS: Extensions = {};
