import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { keepPayloadItem, payloadItemKey } from '../../functions/core/payload-item';

/**
 * Replay and redrive keep a record's payload item as long as the record: its expiry moves on,
 * never back, and a missing item stays missing. The table here keeps items by key and refuses an
 * update as DynamoDB refuses one whose condition (the item exists, its expiry is earlier) fails.
 */
function tableOf(items: Record<string, { expiresAt: number }>, failure?: Error) {
  const documents = {
    send: async (command: UpdateCommand) => {
      if (failure !== undefined) throw failure;
      const key = String(command.input.Key?.pk);
      const expiresAt = Number(command.input.ExpressionAttributeValues?.[':expiresAt']);
      const item = items[key];
      if (item === undefined || item.expiresAt >= expiresAt) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      item.expiresAt = expiresAt;
      return {};
    },
  } as unknown as Pick<DynamoDBDocumentClient, 'send'>;
  return documents;
}

const RECORD = { pk: 'replicate#evt_1', payloadItem: 'AbC-12_xyz09' };
const KEY = payloadItemKey(RECORD.pk, RECORD.payloadItem);

describe('[RULE] keeping a payload item with its record', () => {
  it('[RULE] moves the item’s expiry on, and never back', async () => {
    const items = { [KEY]: { expiresAt: 1_000 } };

    await keepPayloadItem(tableOf(items), 'events', RECORD, 2_000);
    await keepPayloadItem(tableOf(items), 'events', RECORD, 1_500);

    expect(items[KEY]).toEqual({ expiresAt: 2_000 });
  });

  it('[RULE] leaves a missing item missing, without an error', async () => {
    const items: Record<string, { expiresAt: number }> = {};

    await expect(keepPayloadItem(tableOf(items), 'events', RECORD, 2_000)).resolves.toBeUndefined();
    expect(items).toEqual({});
  });

  it('[RULE] passes on any other failure, for the replay to report', async () => {
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException' });

    await expect(keepPayloadItem(tableOf({ [KEY]: { expiresAt: 1_000 } }, throttled), 'events', RECORD, 2_000)).rejects.toBe(throttled);
  });
});
