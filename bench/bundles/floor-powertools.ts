/**
 * The floor bundle plus Powertools Logger and Metrics, created at init and used once per call as
 * the receiver uses them: the difference to the floor is what the two cost at a cold start.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { handler as floor } from './floor';

const logger = new Logger({ serviceName: 'webhook-receiver' });
const metrics = new Metrics({ namespace: 'WebhookReceiver', serviceName: 'receiver' });

export const handler = async (request: Parameters<typeof floor>[0]): ReturnType<typeof floor> => {
  const response = await floor(request);
  logger.info('event accepted', { status: response.statusCode });
  metrics.addMetric('Accepted', MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
  return response;
};
