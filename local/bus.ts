import type { Logger } from '@aws-lambda-powertools/logger';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BusPublisher } from '../functions/consumers/publish';
import type { PublishedDeps, PublishedEntry } from '../ops/published';

/*
 * The EventBridge bus of `npm start`. No emulator serves EventBridge, so the consumers publish
 * through the same `BusPublisher` interface to a recorder instead: each entry they would have put
 * is kept, by event key, in a table on the local DynamoDB emulator (in memory, like the rest of
 * `npm start`), where `webhooks events show` (another process) and the console read it
 * (ops/published.ts).
 */

export interface LocalBusDeps extends PublishedDeps {
  readonly clock?: () => number;
  /** Told of each entry, so that `npm start` shows what would go to EventBridge. */
  readonly logger?: Pick<Logger, 'info'>;
}

/** The stand-in bus: records each entry instead of putting it on EventBridge. */
export function localBus(deps: LocalBusDeps): BusPublisher {
  return {
    async publish(entry, { key }) {
      const published: PublishedEntry = { ...entry, publishedAt: new Date((deps.clock ?? Date.now)()).toISOString() };
      await deps.documents.send(
        new UpdateCommand({
          TableName: deps.tableName,
          Key: { pk: key },
          UpdateExpression: 'SET entry = :entry ADD times :one',
          ExpressionAttributeValues: { ':entry': published, ':one': 1 },
        }),
      );
      deps.logger?.info('published to the local event bus (EventBridge in AWS)', { key, source: entry.Source, detailType: entry.DetailType });
    },
  };
}
