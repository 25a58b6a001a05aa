/**
 * Runs one acceptEvent in its own process, so that a test can kill the process for real between
 * the conditional put and the send. Configured entirely by environment variables:
 * DYNAMODB_ENDPOINT, SQS_ENDPOINT, TABLE_NAME, QUEUE_URLS (JSON), LEASE_SECONDS,
 * RETENTION_SECONDS, EVENT (the normalized event, JSON). Prints the result as one JSON line.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { acceptEvent } from '../../../functions/core/accept';
import { clientConfig } from '../../../functions/core/aws';
import { requireEnv } from '../../../functions/core/config';
import { normalizedEventSchema } from '../../../functions/core/event';

const env = process.env;
const documents = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: requireEnv(env, 'DYNAMODB_ENDPOINT') })));
const sqs = new SQSClient(clientConfig({ endpoint: requireEnv(env, 'SQS_ENDPOINT') }));

const result = await acceptEvent(
  {
    documents,
    sqs,
    tableName: requireEnv(env, 'TABLE_NAME'),
    queueUrls: JSON.parse(requireEnv(env, 'QUEUE_URLS')) as Parameters<typeof acceptEvent>[0]['queueUrls'],
    leaseSeconds: Number(requireEnv(env, 'LEASE_SECONDS')),
    retentionSeconds: Number(requireEnv(env, 'RETENTION_SECONDS')),
  },
  normalizedEventSchema().parse(JSON.parse(requireEnv(env, 'EVENT'))),
).catch((error: unknown) => ({ status: 'error', error: String(error) }));
process.stdout.write(`${JSON.stringify(result)}\n`);
