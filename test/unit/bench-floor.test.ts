import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { floorCommands } from '../../bench/floor';
import { acceptEvent } from '../../functions/core/accept';
import { normalizeDelivery } from '../../functions/core/normalize';
import { PROVIDERS } from '../../functions/core/providers';
import { verifySignature, type SignatureSpec } from '../../functions/core/verify';
import { buildDelivery } from '../../ops/deliveries';

/** What a request asks of DynamoDB or SQS, values aside: the expressions and the names they use. */
function shape(input: Record<string, unknown>) {
  const keys = (value: unknown) => Object.keys((value ?? {}) as object).sort();
  return {
    ConditionExpression: input.ConditionExpression,
    UpdateExpression: input.UpdateExpression,
    ExpressionAttributeNames: input.ExpressionAttributeNames,
    ExpressionAttributeValues: keys(input.ExpressionAttributeValues),
    Item: keys(input.Item),
    MessageAttributes: keys(input.MessageAttributes),
    ReturnValuesOnConditionCheckFailure: input.ReturnValuesOnConditionCheckFailure,
  };
}

describe('the benchmark floor', () => {
  it('sends the same PutItem, SendMessage and UpdateItem as acceptEvent, expression for expression', async () => {
    const together = PROVIDERS.together;
    const spec = together.signatureSchemes.timestamped as SignatureSpec;
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed' });
    const nowMs = Date.now();
    const event = normalizeDelivery({
      provider: together,
      spec,
      body: delivery.body,
      verified: verifySignature({ spec, headers: delivery.headers, body: delivery.body, secrets: [together.developmentSecret], nowSeconds: Math.floor(nowMs / 1000) }),
      receivedAtMs: nowMs,
      retentionSeconds: 7 * 86_400,
    });
    const sent: Record<string, unknown>[] = [];
    const client = { send: async (command: { input: Record<string, unknown> }) => (sent.push(command.input), {}) };
    await acceptEvent(
      {
        documents: client as unknown as DynamoDBDocumentClient,
        sqs: client as unknown as SQSClient,
        tableName: 'events',
        queueUrls: { [event.type]: 'queue' } as never,
        leaseSeconds: 30,
        retentionSeconds: 7 * 86_400,
        clock: () => nowMs,
      },
      event,
    );
    const floor = floorCommands('events', 'queue', event, nowMs);

    expect(sent).toHaveLength(3);
    expect([floor.put, floor.send, floor.update].map((command) => shape(command.input as unknown as Record<string, unknown>))).toEqual(sent.map(shape));
  });
});
