/**
 * The canonical routes. Every accepted delivery lands on exactly one of them; each route has its
 * own queue, dead-letter queue and consumer. Adding a route here gives it all three, locally and
 * in the CDK stack.
 */
export const ROUTES = [
  'fine_tune.started',
  'fine_tune.checkpoint',
  'fine_tune.completed',
  'fine_tune.failed',
  'fine_tune.cancelled',
  'batch.completed',
  'batch.failed',
  'batch.cancelled',
  'batch.expired',
  'model.deprecated',
  'model.deployed',
  'deployment.changed',
  'usage.threshold_reached',
  'other',
] as const;

export type Route = (typeof ROUTES)[number];

/** Where a provider type with no entry in the provider's map goes: nothing is dropped. */
export const FALLBACK_ROUTE: Route = 'other';

/** A name usable for SQS queues and CloudFormation logical ids: `fine_tune.completed` → `fine-tune-completed`. */
export function routeSlug(route: Route): string {
  return route.replace(/[._]/g, '-');
}

/** `fine_tune.completed` → `FineTuneCompleted`, for construct ids. */
export function routePascal(route: Route): string {
  return route
    .split(/[._]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

export function isRoute(value: string): value is Route {
  return (ROUTES as readonly string[]).includes(value);
}
