import { Fn, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, LogGroupLogDestination, type HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IMetric, MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import { FunctionUrlAuthType, type CfnFunction, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { acknowledgeGuardRule, acknowledgePublicFunctionUrl, acknowledgeWebhookRoute, GUARD_REASONS } from './guard';
import type { ReceiverSettings } from './receiver-settings';

/**
 * One JSON line per request: enough to trace a delivery from the sender to the function's log
 * (`integrationRequestId` is the function's `function_request_id`). Each line is a log event, and
 * CloudWatch keeps its time, so no `requestTime`; the route key (always `ANY /webhooks/{provider}`),
 * the protocol, the response's length and the integration's status (the `status`, or an
 * `integrationError`) say nothing about a delivery that the line does not already.
 */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  method: '$context.httpMethod',
  path: '$context.path',
  status: '$context.status',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  integrationRequestId: '$context.awsEndpointRequestId',
};

/** The endpoint's request, error and latency metrics, whichever endpoint it is. */
export interface EndpointMetrics {
  readonly requests: (props: MetricOptions) => IMetric;
  readonly clientErrors: (props: MetricOptions) => IMetric;
  readonly serverErrors: (props: MetricOptions) => IMetric;
  readonly latency: readonly ((props: MetricOptions) => IMetric)[];
}

/** What receives the deliveries: an HTTP API with its stage and access logs, or a function URL. */
export interface ReceiverEndpoint {
  /** The HTTP API (`endpoint: 'httpApi'` only). */
  readonly api?: HttpApi;
  /** Its `$default` stage (`endpoint: 'httpApi'` only). */
  readonly stage?: HttpStage;
  /** Its access logs (`endpoint: 'httpApi'` only). */
  readonly accessLogs?: LogGroup;
  /** The receiver's function URL (`endpoint: 'functionUrl'` only). */
  readonly functionUrl?: FunctionUrl;
  /** Base URL, without a trailing slash. */
  readonly url: string;
  /** Its request, error and latency metrics. */
  readonly metrics: EndpointMetrics;
}

/**
 * Puts `receiver` behind the endpoint `settings.endpoint` names. The resources are created in
 * `scope` itself, so that their construct ids (and logical ids) are those of the construct.
 */
export function createEndpoint(scope: Construct, receiver: NodejsFunction, settings: ReceiverSettings): ReceiverEndpoint {
  return settings.endpoint === 'functionUrl' ? createFunctionUrl(receiver, settings) : createHttpApi(scope, receiver, settings);
}

function createFunctionUrl(receiver: NodejsFunction, settings: ReceiverSettings): ReceiverEndpoint {
  // Throttling is the receiver's concurrency: at most this many deliveries at once, 429 above.
  (receiver.node.defaultChild as CfnFunction).reservedConcurrentExecutions = settings.functionUrlConcurrency;
  const functionUrl = receiver.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
  acknowledgePublicFunctionUrl(receiver, functionUrl);
  const fnMetric = (metricName: string, props: MetricOptions) => receiver.metric(metricName, props);
  return {
    functionUrl,
    // The URL ends in a slash; the base URL of both endpoints has none.
    url: Fn.join('', ['https://', Fn.select(2, Fn.split('/', functionUrl.url))]),
    metrics: {
      requests: (props) => fnMetric('UrlRequestCount', props),
      clientErrors: (props) => fnMetric('Url4xxCount', props),
      serverErrors: (props) => fnMetric('Url5xxCount', props),
      latency: [(props) => fnMetric('UrlRequestLatency', { ...props, label: 'latency' })],
    },
  };
}

function createHttpApi(scope: Construct, receiver: NodejsFunction, settings: ReceiverSettings): ReceiverEndpoint {
  const accessLogs = new LogGroup(scope, 'AccessLogs', { retention: settings.logRetention, removalPolicy: settings.removalPolicy });
  acknowledgeGuardRule(accessLogs, 'cloudwatch_log_group_encrypted_check', GUARD_REASONS.logKey);
  const api = new HttpApi(scope, 'Api', {
    description: 'Receives signed webhook deliveries at /webhooks/{provider}',
    // The stage is added below, with throttling and access logs.
    createDefaultStage: false,
  });
  const stage = api.addStage('DefaultStage', {
    stageName: '$default',
    autoDeploy: true,
    throttle: { rateLimit: settings.throttlingRateLimit, burstLimit: settings.throttlingBurstLimit },
    accessLogSettings: {
      destination: new LogGroupLogDestination(accessLogs),
      format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
    },
  });
  // ANY, not POST: the contract answers other methods with 405 and a JSON body from the
  // function. A POST-only route would make API Gateway itself answer 404 for them.
  api
    .addRoutes({
      path: '/webhooks/{provider}',
      methods: [HttpMethod.ANY],
      integration: new HttpLambdaIntegration('ReceiverIntegration', receiver),
    })
    .forEach(acknowledgeWebhookRoute);
  Validations.of(api).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason:
      'Webhook senders cannot present AWS or OAuth credentials; every delivery is authenticated by the receiver function with the provider\'s HMAC signature over the raw body (401 otherwise), before any parsing or I/O.',
  });
  return {
    api,
    stage,
    accessLogs,
    url: api.apiEndpoint,
    metrics: {
      requests: (props) => api.metricCount(props),
      clientErrors: (props) => api.metricClientError(props),
      serverErrors: (props) => api.metricServerError(props),
      latency: [(props) => api.metricLatency({ ...props, label: 'latency' }), (props) => api.metricIntegrationLatency({ ...props, label: 'integration' })],
    },
  };
}
