import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
// The deployment's own steps: `extensions.ts` (none), or the construct's `steps` module, which the
// bundling puts in its place (package.json `imports`; infra/constructs/bundled-function.ts).
import { steps } from '#steps';
import { clientConfig, effectClientConfig } from '../core/aws';
import { createTracer, currentTraceHeader, traced, tracedHandler, type FunctionTracer } from '../core/tracing';
import { CONSUMER_METRICS_SERVICE, type ConsumerConfig } from './config';
import { consumerFromConfig } from './consume';
import { openAiEnricherFromEnv } from './enrich/openai';
import { eventBridgePublisher } from './publish';
import type { Enricher, OptionalSteps } from './routes';
import { checkSteps } from './steps';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The enricher as the stack turns it on: only where `OPENAI_API_KEY_SECRET_ARN` is set (the
 * consumers of OpenAI's routes, when the deployment serves `openai`), its key read through a traced
 * Secrets Manager client. Elsewhere undefined: no OpenAI request is ever made.
 */
export function deployedEnricher(env: Env, tracer: FunctionTracer): Enricher | undefined {
  if (env.OPENAI_API_KEY_SECRET_ARN === undefined || env.OPENAI_API_KEY_SECRET_ARN.trim() === '') return undefined;
  return openAiEnricherFromEnv(env, { secrets: tracer.captureAWSv3Client(new SecretsManagerClient(clientConfig())) });
}

/**
 * A consumer's Lambda handler as deployed: the clients (traced), the logger, metrics and, with
 * `EVENT_BUS_NAME`, the EventBridge publisher, around {@link consumerFromConfig}. Each entry
 * (`handler.ts`, `batch-results-handler.ts`) calls it once per execution environment; `optional`
 * builds the steps only some deployments turn on, given the entry's tracer for their clients.
 */
export async function deployedConsumer(
  config: ConsumerConfig,
  // Stryker disable next-line ArrowFunction: the default's result is spread, and spreading undefined adds nothing, as spreading {} does
  optional: (tracer: FunctionTracer) => OptionalSteps = () => ({}),
): Promise<(event: SQSEvent, context: Context) => Promise<SQSBatchResponse>> {
  const logger = new Logger({ serviceName: 'webhook-consumer', persistentKeys: { route: config.route } });
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'WebhookReceiver',
    serviceName: CONSUMER_METRICS_SERVICE,
  });
  const tracer = await createTracer();
  const consume = consumerFromConfig(config, {
    extensions: checkSteps(steps, 'the steps module'),
    documents: DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient(clientConfig()))),
    // Publish and PutEvents take no idempotency key: one attempt each, never repeated by the SDK.
    sns: tracer.captureAWSv3Client(new SNSClient(effectClientConfig())),
    logger,
    metrics,
    ...optional(tracer),
    ...(config.eventBusName === undefined
      ? {}
      : {
          bus: eventBridgePublisher({
            client: tracer.captureAWSv3Client(new EventBridgeClient(effectClientConfig())),
            eventBusName: config.eventBusName,
            traceHeader: () => currentTraceHeader(tracer),
          }),
        }),
    // Each record in its own subsegment, findable by its event key. The message's own trace (the
    // receiver's, from its AWSTraceHeader) is linked to this invocation by Lambda.
    traceRecord: (record, handle) =>
      traced(
        tracer,
        '## record',
        {
          route: config.route,
          messageId: record.messageId,
          eventKey: `${record.messageAttributes.provider?.stringValue ?? 'unknown'}#${record.messageAttributes.eventId?.stringValue ?? 'unknown'}`,
        },
        handle,
      ),
  });

  // The consumer publishes its batch's counts itself, one line per provider (consume.ts): nothing
  // is left to publish at the end.
  return tracedHandler(tracer, async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    logger.addContext(context);
    return consume(event, context);
  });
}
