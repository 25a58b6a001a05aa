import { createHash } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EVENTS_TABLE, MIN_RECORD_RETENTION_SECONDS, type EventRecord } from './table';

/*
 * A payload too large to keep inline is written once as an item of its own in the events table,
 * `payload#{hash}#{provider}#{eventId}`: its key, the packed bytes, and a TTL; no attribute an
 * index reads, so it is never listed. Its record names it by `payloadItem` (the hash). No
 * transition of the record touches it; it is kept MIN_RECORD_RETENTION_SECONDS past the record's
 * first expiry, since every automatic transition (each moving the record's expiry on) happens while
 * a copy of the event's message lives, and replay and redrive move it on with the record.
 */

/** The payload item of a record. */
export interface PayloadItem {
  readonly pk: string;
  readonly payload: Uint8Array;
  readonly expiresAt: number;
}

/**
 * How a payload item's key begins. A record's key begins with its provider's name, which this is
 * not, so no event id, whatever it holds, makes a record's key that is a payload item's.
 */
export const PAYLOAD_ITEM_PREFIX = 'payload#';

/** The key of a record's payload item, from the record's key and its `payloadItem` hash. */
export function payloadItemKey(recordKey: string, hash: string): string {
  return `${PAYLOAD_ITEM_PREFIX}${hash}#${recordKey}`;
}

/** Whether a key of the events table is a payload item's (a key a scan meets beside the records). */
export function isPayloadItemKey(key: string): boolean {
  return key.startsWith(PAYLOAD_ITEM_PREFIX);
}

/** The payload item of packed bytes for the record `recordKey`, which expires at `recordExpiresAt`. */
export function payloadItemOf(recordKey: string, bytes: Uint8Array, recordExpiresAt: number): { readonly hash: string; readonly item: PayloadItem } {
  // Named by content: a duplicate's put of the same bytes rewrites the same item, and a different
  // payload under the same event id (never its record's) lands beside it, not over it.
  const hash = createHash('sha256').update(bytes).digest('base64url').slice(0, 12);
  return { hash, item: { pk: payloadItemKey(recordKey, hash), payload: bytes, expiresAt: recordExpiresAt + MIN_RECORD_RETENTION_SECONDS } };
}

/** Puts a payload item; unconditional, since an item of the same key holds the same bytes. */
export async function writePayloadItem(documents: Pick<DynamoDBDocumentClient, 'send'>, tableName: string, item: PayloadItem): Promise<void> {
  await documents.send(new PutCommand({ TableName: tableName, Item: item }));
}

/** The packed bytes of a record's payload item (consistent read), or undefined when it is gone. */
export async function readPayloadItem(
  documents: Pick<DynamoDBDocumentClient, 'send'>,
  tableName: string,
  record: Pick<EventRecord, 'pk' | 'payloadItem'>,
): Promise<Uint8Array | undefined> {
  if (record.payloadItem === undefined) return undefined;
  const { Item } = await documents.send(
    new GetCommand({ TableName: tableName, Key: { [EVENTS_TABLE.partitionKey]: payloadItemKey(record.pk, record.payloadItem) }, ConsistentRead: true }),
  );
  const payload: unknown = Item?.payload;
  return payload instanceof Uint8Array ? payload : undefined;
}

/**
 * Moves a payload item's expiry to at least `expiresAt` (replay and redrive, which keep its record
 * longer); a missing item stays missing.
 */
export async function keepPayloadItem(
  documents: Pick<DynamoDBDocumentClient, 'send'>,
  tableName: string,
  record: Pick<EventRecord, 'pk' | 'payloadItem'>,
  expiresAt: number,
): Promise<void> {
  if (record.payloadItem === undefined) return;
  try {
    await documents.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { [EVENTS_TABLE.partitionKey]: payloadItemKey(record.pk, record.payloadItem) },
        UpdateExpression: 'SET #expiresAt = :expiresAt',
        ConditionExpression: 'attribute_exists(#pk) AND #expiresAt < :expiresAt',
        ExpressionAttributeNames: { '#pk': EVENTS_TABLE.partitionKey, '#expiresAt': EVENTS_TABLE.ttlAttribute },
        ExpressionAttributeValues: { ':expiresAt': expiresAt },
      }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
  }
}
