/**
 * The public contract of the events, the package's `ai-webhook-receiver/events` entry: the
 * normalized event (zod schemas and TypeScript types), the canonical routes, and the shape of an
 * event on the EventBridge bus. Nothing here needs AWS or CDK: import it from a Lambda handler.
 *
 * ```ts
 * import type { WebhookBusEvent } from 'ai-webhook-receiver/events';
 * export const handler = async (event: WebhookBusEvent<'fine_tune.completed'>) => { … };
 * ```
 */
export * from './event';
export * from './routes';
export * from './data';
export {
  BUS_SOURCE_PREFIX,
  MAX_BUS_ENTRY_BYTES,
  busSource,
  type BusDetail,
  type BusReference,
  type BusRouteEvent,
  type WebhookBusEvent,
} from './bus';
