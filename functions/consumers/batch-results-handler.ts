import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { clientConfig } from '../core/aws';
import { ConfigurationError } from '../core/errors';
import { readConsumerConfig } from './config';
import { consumerFromConfig } from './consume';
import { batchResultsFromEnv } from './routes/batch-results';

// The `batch.completed` consumer with batch results on: `handler.ts` plus the copy step. An entry
// of its own, so that only this function's bundle carries the S3 client and the upload code (the
// shared bundle would load 16 MB more in every route's function).
const config = readConsumerConfig();
if (config.route !== 'batch.completed' || config.resultsBucket === undefined) {
  throw new ConfigurationError(`the batch results consumer needs ROUTE=batch.completed and RESULTS_BUCKET_NAME; got ROUTE=${config.route}`);
}
const logger = new Logger({ serviceName: 'webhook-consumer', persistentKeys: { route: config.route } });
const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'WebhookReceiver',
  serviceName: 'consumer',
});
const consume = consumerFromConfig(config, {
  documents: DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig())),
  sns: new SNSClient(clientConfig()),
  logger,
  metrics,
  batchResults: batchResultsFromEnv(process.env),
});

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  return consume(event, context);
};
