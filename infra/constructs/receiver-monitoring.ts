import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, AlarmStatusWidget, ComparisonOperator, Dashboard, GraphWidget, TreatMissingData, type IAlarm, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ROUTES, type Route } from '../../functions/core/routes';
import type { EndpointMetrics } from './receiver-endpoint';

// Every resource here is created in the construct's own scope, so that its construct id (and
// logical id) is the construct's.

/** The alarm topic, which CloudWatch of this account may publish to; `email` is subscribed to it. */
export function createAlarmTopic(scope: Construct, email: string | undefined): Topic {
  const topic = new Topic(scope, 'AlarmTopic', { displayName: 'Webhook receiver alarms', enforceSSL: true });
  // Without this, CloudWatch may not publish to the topic and no alarm notification arrives.
  topic.addToResourcePolicy(
    new PolicyStatement({
      sid: 'AllowCloudWatchAlarmsOfThisAccount',
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
    }),
  );
  Validations.of(topic).acknowledge({
    id: 'AwsSolutions-SNS2',
    reason:
      'CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key, and a customer managed key only for this topic adds cost per deployment; alarm notifications carry alarm names and metric values, never event data or secrets. Publishing requires TLS.',
  });
  if (email !== undefined) topic.addSubscription(new EmailSubscription(email));
  return topic;
}

/** The receiver's own alarms: the function failed, and the endpoint answered 5xx. */
export function createReceiverAlarms(scope: Construct, receiver: NodejsFunction, endpoint: EndpointMetrics): Alarm[] {
  const minute = Duration.minutes(1);
  const receiverErrors = new Alarm(scope, 'ReceiverErrorsAlarm', {
    alarmDescription: 'The receiver function failed (crashed or timed out). Senders retry, but check its logs.',
    metric: receiver.metricErrors({ period: minute, statistic: 'Sum' }),
    threshold: 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  const api5xx = new Alarm(scope, 'Api5xxAlarm', {
    alarmDescription:
      'The API answered 5xx: a dependency failed (503, retryable), a provider secret is not set or is refused (503, see the Secret alarms), or the receiver failed. See the receiver logs.',
    metric: endpoint.serverErrors({ period: minute, statistic: 'Sum' }),
    threshold: 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  return [receiverErrors, api5xx];
}

/** What the dashboard shows: the receiver's parts and every alarm. */
export interface DashboardSources {
  readonly alarms: readonly IAlarm[];
  readonly endpoint: EndpointMetrics;
  readonly receiver: NodejsFunction;
  /** The Together poller's function, when polling is on. */
  readonly poller?: NodejsFunction;
  readonly queues: Readonly<Record<Route, Queue>>;
  readonly deadLetterQueues: Readonly<Record<Route, Queue>>;
  readonly consumers: Readonly<Record<Route, NodejsFunction>>;
}

/** Endpoint, receiver, poller, queue and consumer metrics with the alarm states, on one page. */
export function createDashboard(scope: Construct, sources: DashboardSources): Dashboard {
  const minute = Duration.minutes(1);
  const perRoute = (label: string, metric: (route: Route) => IMetric) =>
    new GraphWidget({ title: label, width: 12, left: ROUTES.map(metric), leftYAxis: { min: 0 } });
  const dashboard = new Dashboard(scope, 'Dashboard', { defaultInterval: Duration.hours(3) });
  dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: [...sources.alarms], width: 24 }));
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Endpoint requests',
      width: 12,
      left: [
        sources.endpoint.requests({ period: minute, statistic: 'Sum', label: 'requests' }),
        sources.endpoint.clientErrors({ period: minute, statistic: 'Sum', label: '4xx' }),
        sources.endpoint.serverErrors({ period: minute, statistic: 'Sum', label: '5xx' }),
      ],
    }),
    new GraphWidget({
      title: 'Endpoint latency (p99)',
      width: 12,
      left: sources.endpoint.latency.map((metric) => metric({ period: minute, statistic: 'p99' })),
    }),
  );
  const receiver = sources.receiver;
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Receiver',
      width: 12,
      left: [
        receiver.metricInvocations({ period: minute, statistic: 'Sum' }),
        receiver.metricErrors({ period: minute, statistic: 'Sum' }),
        receiver.metricThrottles({ period: minute, statistic: 'Sum' }),
      ],
    }),
    new GraphWidget({
      title: 'Receiver duration (p99)',
      width: 12,
      left: [receiver.metricDuration({ period: minute, statistic: 'p99' })],
    }),
  );
  const poller = sources.poller;
  if (poller !== undefined) {
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Together poller',
        width: 12,
        left: [poller.metricInvocations({ period: minute, statistic: 'Sum' }), poller.metricErrors({ period: minute, statistic: 'Sum' })],
      }),
      new GraphWidget({
        title: 'Together poller duration (max)',
        width: 12,
        left: [poller.metricDuration({ period: minute, statistic: 'Maximum' })],
      }),
    );
  }
  dashboard.addWidgets(
    perRoute('Messages waiting, per route', (route) =>
      sources.queues[route].metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: route }),
    ),
    perRoute('Oldest message age (s), per route', (route) =>
      sources.queues[route].metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum', label: route }),
    ),
  );
  dashboard.addWidgets(
    perRoute('Dead letters, per route', (route) =>
      sources.deadLetterQueues[route].metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: route }),
    ),
    perRoute('Consumer errors, per route', (route) =>
      sources.consumers[route].metricErrors({ period: minute, statistic: 'Sum', label: route }),
    ),
  );
  return dashboard;
}
