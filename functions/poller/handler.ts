import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { clientConfig } from '../core/aws';
import { createTracer, tracedHandler } from '../core/tracing';
import { createApiKeyReader, pollerFromConfig, readPollerConfig } from './config';
import { FAILING_JOBS_METRIC, type PollSummary } from './poll';
import { TogetherApiError, TogetherAuthError } from './together-api';

// Created once per execution environment and reused across scheduled invocations.
const logger = new Logger({ serviceName: 'together-poller' });
const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'WebhookReceiver',
  serviceName: 'poller',
  defaultDimensions: { provider: 'together' },
});
const tracer = await createTracer();
const config = readPollerConfig();
// Together's API is called with fetch, which the tracer captures too.
const poll = pollerFromConfig(config, {
  documents: DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient(clientConfig()))),
  sqs: tracer.captureAWSv3Client(new SQSClient(clientConfig())),
  apiKey: createApiKeyReader(config.apiKey),
  logger,
  onRetry: (notice) => logger.warn('Together API call failed; retrying', { ...notice }),
});

/**
 * Scheduled (EventBridge); the event carries nothing the poller needs. A run that cannot list
 * Together's jobs fails the invocation so that the function's Errors alarm sees it; a job whose
 * events cannot be accepted is counted in `FailingJobs` (its own alarm) while the run goes on.
 */
export const handler = tracedHandler(tracer, async (_event: unknown, context: Context): Promise<PollSummary> => {
  logger.addContext(context);
  try {
    const summary = await poll();
    logger.info('poll finished', { ...summary });
    metrics.addMetric('Observed', MetricUnit.Count, summary.observed);
    metrics.addMetric('Accepted', MetricUnit.Count, summary.accepted);
    metrics.addMetric('Duplicate', MetricUnit.Count, summary.duplicate);
    metrics.addMetric('ApiErrors', MetricUnit.Count, summary.apiErrors);
    // Published every run, 0 included, so that the alarm sees a stuck job until it goes through.
    metrics.addMetric(FAILING_JOBS_METRIC, MetricUnit.Count, summary.failing);
    return summary;
  } catch (error) {
    if (error instanceof TogetherApiError || error instanceof TogetherAuthError) {
      metrics.addMetric('ApiErrors', MetricUnit.Count, 1);
    }
    logger.error('poll failed', { error: error as Error });
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
});
