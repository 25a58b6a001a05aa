import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { clientConfig } from '../core/aws';
import { readConsumerConfig } from './config';
import { consumerFromConfig } from './consume';

// One entry for every route; `ROUTE` picks the logic. Created once per execution environment.
const config = readConsumerConfig();
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
});

// Each record's `Handled` / `Failed` count carries that record's provider as a dimension, so it is
// written as a single metric the moment it is counted: nothing is left to publish at the end.
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  return consume(event, context);
};
