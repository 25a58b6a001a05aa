// @ts-check
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';

const tableName = process.env.EVALUATIONS_TABLE;
if (tableName === undefined) throw new Error('environment variable EVALUATIONS_TABLE is required but not set');
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));

/**
 * A fine-tune finished, at any provider: queue an evaluation of the new model. EventBridge
 * delivers at least once, so the request is written once per event, keyed by the event's key.
 *
 * @param {import('ai-webhook-receiver/events').WebhookBusEvent<'fine_tune.completed'>} event
 * @returns {Promise<void>}
 */
export const handler = async (event) => {
  const { detail } = event;
  if (detail.truncated) {
    // Over EventBridge's 256 KB: only a reference came. The whole event is in the receiver's events
    // table under `detail.key` (attribute `event`); this handler does not read it, so it fails and
    // EventBridge retries, then keeps the event in the rule's dead-letter queue.
    throw new Error(`event ${detail.key} came by reference; read it from the events table`);
  }
  // Typed for this route, whatever the provider: string | undefined, absent when not sent.
  const { modelName, jobId } = detail.data;
  if (modelName === undefined) return;
  try {
    await documents.send(
      new PutCommand({
        TableName: tableName,
        Item: { pk: `${detail.provider}#${detail.id}`, modelName, jobId, provider: detail.provider, requestedAt: event.time },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return; // Delivered twice: already queued.
    throw error;
  }
};
