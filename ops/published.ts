import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, documentsOf } from './documents';
import type { BusEntry } from '../functions/core/bus';

/*
 * The reader of what the stand-in EventBridge bus of `npm start` recorded (local/bus.ts writes it):
 * one item per event key in the bus table of the local DynamoDB emulator.
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

/** Where the recorder keeps its entries. */
export interface PublishedDeps {
  readonly documents: Pick<DynamoDBDocumentClient, 'send'>;
  readonly tableName: string;
}

/** What was published for one event, or undefined when nothing was. */
export async function publishedFor(deps: PublishedDeps, key: string): Promise<PublishedEvent | undefined> {
  const { Item } = await documentsOf(deps.documents).send(new GetCommand({ TableName: deps.tableName, Key: { pk: key }, ConsistentRead: true }));
  return Item === undefined ? undefined : fromItem(Item);
}

/** Every event the stand-in bus holds, the most recently published first. */
export async function listPublished(deps: PublishedDeps): Promise<PublishedEvent[]> {
  // Loaded here: the console's bus page scans; `events show` only gets one key.
  const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
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
