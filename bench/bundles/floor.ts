/**
 * The floor bundle of the cold-start benchmark: what any receiver must load and do, and nothing
 * else. The raw DynamoDB and SQS clients and node:crypto; one HMAC check, then the same
 * PutItem, SendMessage and UpdateItem as the receiver. Built with the receiver's esbuild settings.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

const dynamodb = new DynamoDBClient({});
const sqs = new SQSClient({});
const tableName = process.env.TABLE_NAME ?? '';
const queueUrls = JSON.parse(process.env.QUEUE_URLS ?? '{}') as Record<string, string>;
const secret = process.env.TOGETHER_WEBHOOK_SECRET ?? '';

interface Request {
  readonly body?: string;
  readonly headers?: Record<string, string | undefined>;
}

export const handler = async (request: Request): Promise<{ statusCode: number; body: string }> => {
  const body = request.body ?? '';
  const timestamp = request.headers?.['x-together-timestamp'] ?? '';
  const given = Buffer.from(request.headers?.['x-together-signature'] ?? '', 'hex');
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { statusCode: 401, body: '{}' };
  const event = JSON.parse(body) as { id: string; type: string };
  const key = `together#${event.id}`;
  const token = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  await dynamodb.send(
    new PutItemCommand({
      TableName: tableName,
      Item: { pk: { S: key }, status: { S: 'in_progress' }, event: { S: body }, expiresAt: { N: String(now + 604_800) }, leaseToken: { S: token } },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrls[event.type] ?? '', MessageBody: body }));
  await dynamodb.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: { pk: { S: key } },
      ConditionExpression: 'leaseToken = :token',
      UpdateExpression: 'SET #status = :queued REMOVE leaseToken',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':token': { S: token }, ':queued': { S: 'queued' } },
    }),
  );
  return { statusCode: 200, body: '{"status":"accepted"}' };
};
