import type { Logger } from '@aws-lambda-powertools/logger';
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BusPublisher } from '../functions/consumers/publish';
import type { PublishedDeps, PublishedEntry } from '../ops/published';

/*
 * The EventBridge bus of `npm start`. No emulator serves EventBridge, so the consumers publish
 * through the same `BusPublisher` interface to a recorder instead: each entry they would have put
 * is kept, by event key, in a table on the local DynamoDB emulator (in memory, like the rest of
 * `npm start`), where `webhooks events show` (another process) and the console read it
 * (ops/published.ts). Each entry also goes, as EventBridge would deliver it, to the local listener
 * queue, as a stack's listener rules send it to theirs (`webhooks listen`).
 */

export interface LocalBusDeps extends PublishedDeps {
  readonly clock?: () => number;
  /** Told of each entry, so that `npm start` shows what would go to EventBridge. */
  readonly logger?: Pick<Logger, 'info'>;
  /** The listener queue every entry is sent to, shaped as an EventBridge rule's SQS target receives it. */
  readonly listener?: { readonly sqs: Pick<SQSClient, 'send'>; readonly queueUrl: string };
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
      if (deps.listener !== undefined) {
        const delivered = {
          version: '0',
          id: randomUUID(),
          'detail-type': entry.DetailType,
          source: entry.Source,
          account: '000000000000',
          time: published.publishedAt,
          region: 'local',
          resources: [],
          detail: JSON.parse(entry.Detail) as unknown,
        };
        await deps.listener.sqs.send(new SendMessageCommand({ QueueUrl: deps.listener.queueUrl, MessageBody: JSON.stringify(delivered) }));
      }
      deps.logger?.info('published to the local event bus (EventBridge in AWS)', { key, source: entry.Source, detailType: entry.DetailType });
    },
  };
}
