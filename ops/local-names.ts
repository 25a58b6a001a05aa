import { routeSlug, type Route } from '../functions/core/routes';

/*
 * The names and ports of the local runtime's resources: `npm start` creates them (local/resources.ts)
 * and both faces find them (ops/target.ts), so they are defined here, below both.
 */

/** The ports `npm start` uses unless PORT, DYNAMODB_PORT or SQS_PORT say otherwise. */
export const LOCAL_DEFAULT_PORTS = { PORT: 3000, DYNAMODB_PORT: 8000, SQS_PORT: 4566, FAKE_PROVIDERS_PORT: 4010 } as const;

/** Local resource names. In AWS, CloudFormation names them. */
export const LOCAL_NAMES = {
  eventsTable: 'webhook-events',
  jobsTable: 'webhook-jobs',
  jobHistoryTable: 'webhook-job-history',
  /** The Together poller's state table, created when `npm start` polls. */
  pollerTable: 'together-poller',
  /** The stand-in EventBridge bus: the entries the consumers published, by event key. */
  busTable: 'webhook-bus',
  alertsTopic: 'webhook-alerts',
  alertsQueue: 'webhook-alerts',
  resultsBucket: 'webhook-batch-results',
  queue: (route: Route) => `webhooks-${routeSlug(route)}`,
  deadLetterQueue: (route: Route) => `webhooks-${routeSlug(route)}-dlq`,
  /** The listener queue `webhooks listen` reads (fed by the stand-in bus), and its dead-letter queue. */
  listenerQueue: (name: string) => `webhooks-listener-${name}`,
  listenerDeadLetterQueue: (name: string) => `webhooks-listener-${name}-dlq`,
} as const;
