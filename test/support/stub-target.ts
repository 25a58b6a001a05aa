import { ROUTES } from '../../functions/core/routes';
import type { Target } from '../../ops/target';

/** A client of DynamoDB and SQS that finds nothing: every read answers no items and no messages. */
const EMPTY_CLIENT = { send: async (_command: unknown): Promise<unknown> => ({ Items: [], Messages: [] }) };

/** A queue and a dead-letter queue for every route, by name. */
export const routeQueues = () =>
  Object.fromEntries(ROUTES.map((route) => [route, { url: `queue/${route}`, deadLetterUrl: `queue/${route}-dlq` }])) as Awaited<ReturnType<Target['queues']>>;

/** A local target whose DynamoDB and SQS are `client` (by default one that finds nothing), for the console's tests. */
export function stubTarget(description: string, client: { send: (command: never) => Promise<unknown> } = EMPTY_CLIENT, queues: Target['queues'] = async () => routeQueues()): Target {
  return {
    kind: 'local',
    description,
    documents: client as unknown as Target['documents'],
    sqs: client as unknown as Target['sqs'],
    eventsTable: 'events',
    jobsTable: 'jobs',
    queues,
    webhookUrls: {},
    secretArns: {},
  } as Target;
}
