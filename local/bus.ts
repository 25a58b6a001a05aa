import type { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BusEntry } from '../functions/core/bus';
import type { BusPublisher } from '../functions/consumers/publish';

/*
 * The EventBridge bus of `npm start`. No emulator serves EventBridge, so the consumers publish
 * through the same `BusPublisher` interface to a recorder instead: each entry they would have put
 * is kept, by event key, in a table on the local DynamoDB emulator (in memory, like the rest of
 * `npm start`), where `webhooks events show` (another process) and a console can read it.
 */

/** An entry the consumers published, as the recorder keeps it. */
export interface PublishedEntry extends BusEntry {
  /** When the consumer published it. */
  readonly publishedAt: string;
}

/**
 * What the recorder holds for one event: the latest entry published for it, and how many times one
 * was (more than once only after a replay, which publishes again). Only the latest is kept: an
 * entry may be up to 256 KB, and two would not fit one item.
 */
export interface PublishedEvent {
  readonly key: string;
  readonly entry: PublishedEntry;
  readonly times: number;
}

export interface LocalBusDeps {
  readonly documents: Pick<DynamoDBDocumentClient, 'send'>;
  readonly tableName: string;
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

/** What was published for one event, or undefined when nothing was. */
export async function publishedFor(deps: Pick<LocalBusDeps, 'documents' | 'tableName'>, key: string): Promise<PublishedEvent | undefined> {
  const { Item } = await deps.documents.send(new GetCommand({ TableName: deps.tableName, Key: { pk: key }, ConsistentRead: true }));
  return Item === undefined ? undefined : fromItem(Item);
}

/** Every event the stand-in bus holds, the most recently published first. */
export async function listPublished(deps: Pick<LocalBusDeps, 'documents' | 'tableName'>): Promise<PublishedEvent[]> {
  const events: PublishedEvent[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await deps.documents.send(
      new ScanCommand({ TableName: deps.tableName, ConsistentRead: true, ...(start === undefined ? {} : { ExclusiveStartKey: start }) }),
    );
    events.push(...(page.Items ?? []).map(fromItem));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return events.sort((a, b) => b.entry.publishedAt.localeCompare(a.entry.publishedAt));
}

function fromItem(item: Record<string, unknown>): PublishedEvent {
  return { key: String(item.pk), entry: item.entry as PublishedEntry, times: Number(item.times) };
}
