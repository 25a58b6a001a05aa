import { packageFile } from '../../functions/core/package-root';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, BillingMode, Table, TableEncryption, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { POLLED_PROVIDER_TYPES } from '../../functions/poller/observe';
import { PROVIDERS } from '../../functions/core/providers';
import { FALLBACK_ROUTE, type Route } from '../../functions/core/routes';
import { DEFAULT_POLL_LIMITS, FAILING_JOBS_METRIC } from '../../functions/poller/poll';
import { POLLER_TABLE } from '../../functions/poller/state';
import { DEFAULT_RETRY_POLICY } from '../../functions/poller/together-api';
import { BundledFunction, type FunctionLogLevel } from './bundled-function';
import { grantItemAccess, POLLER_STATE_ACTIONS, RECEIVER_TABLE_ACTIONS } from './grants';
import { createProviderApiKeySecret, TOGETHER_API_KEY } from './provider-api-key';

/** The poller's entry: one scheduled function. */
export const POLLER_ENTRY = packageFile('functions/poller/handler.ts');

/**
 * The poller's timeout. A run stops starting work after `POLL_TIME_BUDGET_SECONDS` (default 50)
 * and ends within about that plus one request timeout; the rest is margin for a cold start.
 */
export const POLLER_TIMEOUT = Duration.seconds(90);

/** The `service` dimension of the poller's metrics (Powertools adds it; the handler names it so too). */
const POLLER_SERVICE_NAME = 'poller';

/** How often Together is polled unless told otherwise; its API reference suggests 30–60 s. */
export const DEFAULT_POLL_SCHEDULE = Schedule.rate(Duration.minutes(1));

/**
 * The routes the poller sends to: its provider types through Together's route map, exactly as
 * `observe.ts` routes them. Not every value of that map: `model.deprecated` only ever arrives by
 * webhook, so the poller may not send to its queue.
 */
export const POLLED_ROUTES: readonly Route[] = [
  ...new Set(POLLED_PROVIDER_TYPES.map((type) => PROVIDERS.together.routes[type] ?? FALLBACK_ROUTE)),
];

/** Properties of {@link TogetherPoller}. */
export interface TogetherPollerProps {
  /** The events table: the poller records each event there once, through the receiver's accept path. */
  readonly eventsTable: ITable;
  /** Every route's queue, for `QUEUE_URLS`; the poller may send only to {@link POLLED_ROUTES}. */
  readonly queues: Readonly<Record<Route, IQueue>>;
  /** `QUEUE_URLS` as the receiver gets it: a JSON object, route → queue URL. */
  readonly queueUrlsJson: string;
  /** `RETENTION_DAYS`: how long an event id is remembered, as for the receiver. */
  readonly retentionDays: number;
  /** When to poll. */
  readonly schedule: Schedule;
  readonly metricsNamespace: string;
  readonly logRetention: RetentionDays;
  /** Applied to the state table, the API key secret and the log group. */
  readonly removalPolicy: RemovalPolicy;
  /** Where the errors and duration alarms go. */
  readonly alarmAction: IAlarmAction;
  /** X-Ray tracing of the poller (see `BundledFunctionProps.tracing`). @default true */
  readonly tracing?: boolean;
  /** The poller's log level (see `BundledFunctionProps.logLevel`). @default 'INFO' */
  readonly logLevel?: FunctionLogLevel;
}

/**
 * Polls Together's REST API on a schedule and turns what changed into the same normalized events
 * as its webhooks, through the same idempotent accept path: the function, its state table, the
 * secret that holds the operator's Together API key, the schedule, and three alarms.
 */
export class TogetherPoller extends Construct {
  /** The scheduled function (`functions/poller/handler.ts`). */
  public readonly function: BundledFunction;
  /** What the poller last saw of each job and batch (`POLLER_TABLE`). No TTL: see `state.ts`. */
  public readonly table: Table;
  /**
   * The operator's Together API key, a plain string. Created blank; until the key is stored in
   * it, every run fails and {@link errorsAlarm} fires.
   */
  public readonly apiKeySecret: Secret;
  /** The EventBridge rule that invokes {@link function} on the schedule. */
  public readonly rule: Rule;
  /** Fires when runs keep failing (no key, a rejected key, Together or AWS unavailable). */
  public readonly errorsAlarm: Alarm;
  /** Fires when runs come close to the function's timeout. */
  public readonly durationAlarm: Alarm;
  /**
   * Fires while a job's events keep being refused by the accept path (`FailingJobs`): the runs go
   * on with the other jobs and retry this one with backoff, and `webhooks status` names it.
   */
  public readonly failingJobsAlarm: Alarm;

  constructor(scope: Construct, id: string, props: TogetherPollerProps) {
    super(scope, id);

    const longestRunMs = DEFAULT_POLL_LIMITS.timeBudgetMs + DEFAULT_RETRY_POLICY.requestTimeoutMs;
    if (longestRunMs >= POLLER_TIMEOUT.toMilliseconds()) {
      throw new Error(`the poller timeout (${POLLER_TIMEOUT.toSeconds()} s) must exceed the poll time budget plus one request timeout (${longestRunMs / 1000} s)`);
    }

    this.table = new Table(this, 'StateTable', {
      partitionKey: { name: POLLER_TABLE.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy,
    });

    this.apiKeySecret = createProviderApiKeySecret(this, 'ApiKey', TOGETHER_API_KEY, props.removalPolicy);

    this.function = new BundledFunction(this, 'Function', {
      entry: POLLER_ENTRY,
      description: 'Polls Together for fine-tune job and batch changes and records each as an event once',
      timeout: POLLER_TIMEOUT,
      memorySize: 256,
      environment: {
        TABLE_NAME: props.eventsTable.tableName,
        QUEUE_URLS: props.queueUrlsJson,
        POLLER_TABLE_NAME: this.table.tableName,
        // The ARN, never the key: the function reads the key from Secrets Manager at run time.
        TOGETHER_API_KEY_SECRET_ARN: this.apiKeySecret.secretArn,
        RETENTION_DAYS: String(props.retentionDays),
      },
      serviceName: POLLER_SERVICE_NAME,
      metricsNamespace: props.metricsNamespace,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      ...(props.tracing === undefined ? {} : { tracing: props.tracing }),
      ...(props.logLevel === undefined ? {} : { logLevel: props.logLevel }),
    });
    const handler = this.function.handler;
    // A failed run is repeated by the next scheduled one; a Lambda retry would only overlap it.
    handler.configureAsyncInvoke({ retryAttempts: 0 });

    grantItemAccess(props.eventsTable, handler, RECEIVER_TABLE_ACTIONS);
    grantItemAccess(this.table, handler, POLLER_STATE_ACTIONS);
    for (const route of POLLED_ROUTES) props.queues[route].grantSendMessages(handler);
    this.apiKeySecret.grantRead(handler);

    this.rule = new Rule(this, 'Schedule', {
      description: 'Runs the Together poller',
      schedule: props.schedule,
      targets: [
        new LambdaFunction(handler, {
          // A tick carries nothing and the next one is on its way: retry a failed invoke briefly,
          // then drop it. There is nothing a dead-letter queue of ticks could be redriven for.
          retryAttempts: 2,
          maxEventAge: Duration.minutes(1),
        }),
      ],
    });

    const fiveMinutes = Duration.minutes(5);
    this.errorsAlarm = new Alarm(this, 'ErrorsAlarm', {
      alarmDescription:
        'Together poll runs keep failing: the API key is not stored in its secret or was rejected, or Together, DynamoDB or SQS is unavailable. See the poller logs.',
      metric: handler.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      // One failed run is made good by the next; failures in two of three windows are not.
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.durationAlarm = new Alarm(this, 'DurationAlarm', {
      alarmDescription: `Together poll runs take over 80% of their ${POLLER_TIMEOUT.toSeconds()} s timeout: Together is slow or the per-run limits are too high.`,
      metric: handler.metricDuration({ period: fiveMinutes, statistic: 'Maximum' }),
      threshold: POLLER_TIMEOUT.toMilliseconds() * 0.8,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.failingJobsAlarm = new Alarm(this, 'FailingJobsAlarm', {
      alarmDescription:
        'The Together poller cannot accept the events of a job (an event over the size limit, or not a valid event); it goes on with the other jobs and retries this one with backoff. `webhooks status` names the job and the error.',
      metric: new Metric({
        namespace: props.metricsNamespace,
        metricName: FAILING_JOBS_METRIC,
        dimensionsMap: { service: POLLER_SERVICE_NAME, provider: 'together' },
        period: fiveMinutes,
        statistic: 'Maximum',
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      // Every run counts the failing jobs, those waiting for their retry included: a job refused
      // once and accepted on its first retry stays below two windows.
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.errorsAlarm, this.durationAlarm, this.failingJobsAlarm]) {
      alarm.addAlarmAction(props.alarmAction);
      alarm.addOkAction(props.alarmAction);
    }
  }
}
