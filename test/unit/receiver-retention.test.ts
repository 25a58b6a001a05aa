import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { readReceiverConfig } from '../../functions/core/config';
import type { ProviderName } from '../../functions/core/event';
import { ROUTES } from '../../functions/core/routes';
import { MIN_RECORD_RETENTION_SECONDS } from '../../functions/core/table';
import { receiverFromConfig, type ReceiverClients } from '../../functions/receiver/receive';
import { PROVIDERS } from '../../functions/core/providers';
import { buildDelivery } from '../../ops/deliveries';
import { deliveryEvent } from '../support/gateway';

/**
 * How long the record of an accepted delivery is kept (docs/contract.md, How long records live):
 * the retention and expiry the record is written with, read from the item the table is given.
 */
const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);
const NOW_SECONDS = NOW_MS / 1000;
const DAY_SECONDS = 86_400;
const QUEUE_URLS = JSON.stringify(Object.fromEntries(ROUTES.map((route) => [route, `https://sqs.example/${route}`])));

/** The deployed receiver over a table that keeps the records it is given, with `env` as its configuration. */
function deployed(env: Record<string, string> = {}) {
  const records: Record<string, unknown>[] = [];
  const documents = {
    send: async (command: { constructor: { name: string }; input: { Item?: Record<string, unknown> } }) => {
      if (command.constructor.name === 'PutCommand' && command.input.Item?.status === 'in_progress') records.push(command.input.Item);
      return {};
    },
  };
  const receiver = receiverFromConfig(readReceiverConfig({ TABLE_NAME: 'events', QUEUE_URLS, ...env }), {
    documents,
    sqs: { send: async () => ({ MessageId: 'm-1' }) },
    getSecrets: async (provider: ProviderName) => [PROVIDERS[provider].developmentSecret],
    logger: new Logger({ logLevel: 'SILENT' }),
    clock: () => NOW_MS,
  } as unknown as ReceiverClients);
  return { receiver, records };
}

/** A Together delivery signed at `signedAtSeconds`, with its body's `created` or without. */
function together(scheme: 'timestamped' | 'body', signedAtSeconds: number, withCreated = true) {
  const sample = JSON.parse(buildDelivery({ provider: 'together', type: 'fine_tune.completed', nowSeconds: signedAtSeconds }).body.toString('utf8')) as Record<string, unknown>;
  if (!withCreated) delete sample.created;
  return deliveryEvent(buildDelivery({ provider: 'together', type: 'fine_tune.completed', scheme, nowSeconds: signedAtSeconds, body: JSON.stringify(sample) }), { timeEpoch: NOW_MS });
}

describe('[RULE] how long the record of a delivery is kept', () => {
  it('[RULE] a timestamped delivery is kept RETENTION_DAYS, never under the record minimum; one with no timestamp at all 30 days', async () => {
    const { receiver, records } = deployed({ TOGETHER_SIGNATURE_SCHEME: 'body' });

    const answers = [await receiver(together('body', NOW_SECONDS)), await receiver(together('body', NOW_SECONDS, false))];

    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
    expect(records.map((record) => [record.retentionSeconds, record.expiresAt])).toEqual([
      [MIN_RECORD_RETENTION_SECONDS, NOW_SECONDS + MIN_RECORD_RETENTION_SECONDS],
      [30 * DAY_SECONDS, NOW_SECONDS + 30 * DAY_SECONDS],
    ]);
  });

  it('[RULE] RETENTION_DAYS_<PROVIDER> sets the record’s retention of that provider’s deliveries', async () => {
    const { receiver, records } = deployed({ RETENTION_DAYS_TOGETHER: '45' });

    await receiver(together('timestamped', NOW_SECONDS));

    expect(records[0]).toMatchObject({ retentionSeconds: 45 * DAY_SECONDS, expiresAt: NOW_SECONDS + 45 * DAY_SECONDS });
  });

  it('[RULE] a delivery signed ahead of its receipt is kept that much longer, so no replay of its bytes outlives the record', async () => {
    const { receiver, records } = deployed();

    await receiver(together('timestamped', NOW_SECONDS + 240));

    expect(records[0]).toMatchObject({ retentionSeconds: MIN_RECORD_RETENTION_SECONDS + 240, expiresAt: NOW_SECONDS + MIN_RECORD_RETENTION_SECONDS + 240 });
  });
});
