import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { clientConfig } from '../core/aws';
import { readReceiverConfig } from '../core/config';
import { lambdaLogger } from '../core/log-format';
import { createSecretsReader } from '../core/secrets';
import { createSdkCallTracer } from '../core/tracing';
import { receiverFromConfig } from './receive';

// Created once per execution environment and reused across invocations.
// One line per delivery: the log group names the function, so its lines leave that out.
// Stryker disable next-line StringLiteral: the line format leaves the service name out of every line
const logger = lambdaLogger('webhook-receiver');
const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'WebhookReceiver', serviceName: 'receiver' });
// Lambda's active tracing makes the function's segment; this records the SDK calls under it.
const tracer = await createSdkCallTracer();
const config = readReceiverConfig();
const getSecrets = createSecretsReader(process.env, config.providers, { logger });

// Warm the secrets cache during init; a failure here is retried on the first request.
await Promise.all([...config.providers.keys()].map((name) => getSecrets(name).catch(() => undefined)));

const receiver = receiverFromConfig(config, {
  documents: DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient(clientConfig()))),
  // Captured, SendMessage carries the trace header (HTTP header and AWSTraceHeader attribute): SQS
  // keeps it with the message and Lambda links the consumer's trace to this one.
  sqs: tracer.captureAWSv3Client(new SQSClient(clientConfig())),
  getSecrets,
  logger,
  metrics,
});

export const handler = async (request: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
  logger.addContext(context);
  try {
    return await receiver(request);
  } finally {
    metrics.publishStoredMetrics();
  }
};
