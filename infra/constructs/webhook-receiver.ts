import { fileURLToPath } from 'node:url';
import { Duration, Fn, RemovalPolicy, SecretValue, Stack, Token, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, LogGroupLogDestination, type HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  Metric,
  TreatMissingData,
  type MetricOptions,
  type IAlarm,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IEventBus, IRuleTarget, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { FunctionUrlAuthType, type CfnFunction, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ACCEPT_WORST_CASE_MS } from '../../functions/core/accept';
import { AWS_CALL_BUDGET } from '../../functions/core/aws';
import {
  DEFAULT_LEASE_SECONDS,
  DEFAULT_MAX_BODY_BYTES,
  MAX_BODY_BYTES_LIMIT,
  MAX_RETENTION_DAYS,
  MIN_RETENTION_DAYS,
  RECEIVER_MARGIN_MS,
  RECEIVER_TIMEOUT_SECONDS,
  retentionVariable,
} from '../../functions/core/config';
import { PROVIDER_NAMES, type ProviderName } from '../../functions/core/event';
import { PROVIDERS } from '../../functions/core/providers';
import { ROUTES, routePascal, type Route } from '../../functions/core/routes';
import { EVENTS_TABLE, JOBS_TABLE } from '../../functions/core/table';
import { providerPascal } from '../../functions/core/stack-outputs';
import { BATCH_RESULTS_CONSUMER, BATCH_RESULTS_CONSUMER_ENTRY, BatchResults, type BatchResultsOptions } from './batch-results';
import { BundledFunction, type FunctionLogLevel } from './bundled-function';
import { addEnvironment, addSecret, routeList } from './consumer-settings';
import { DEFAULT_EVENT_ARCHIVE_RETENTION, recordLifetime, WebhookEventBus, type OnEventOptions } from './event-bus';
import { grantItemAccess, RECEIVER_TABLE_ACTIONS } from './grants';
import { acknowledgeGuardRule, acknowledgePublicFunctionUrl, acknowledgeWebhookRoute, GUARD_REASONS } from './guard';
import { RoutePipeline } from './route-pipeline';
import { DEFAULT_POLL_SCHEDULE, TogetherPoller } from './together-poller';

/** The receiver's entry: the one Lambda behind the API. */
export const RECEIVER_ENTRY = fileURLToPath(new URL('../../functions/receiver/handler.ts', import.meta.url));
/** The consumers' entry: one file, deployed once per route with `ROUTE` set. */
export const CONSUMER_ENTRY = fileURLToPath(new URL('../../functions/consumers/handler.ts', import.meta.url));

/**
 * The receiver's timeout. It answers the sender itself, and must end before the lease on an
 * in-progress event (`LEASE_SECONDS`, default 30) so that a live request is never overtaken.
 */
export const RECEIVER_TIMEOUT = Duration.seconds(RECEIVER_TIMEOUT_SECONDS);

/**
 * The longest an accept can spend in AWS calls before it answers: the conditional put, the send,
 * and the release or the mark, each bounded by AWS_CALL_BUDGET (every attempt at its timeouts, and
 * the back-off between them).
 */
export const ACCEPT_WORST_CASE_SECONDS = ACCEPT_WORST_CASE_MS / 1000;

/** The receiver's time budget, as {@link checkReceiverBudget} checks it at synth. */
export interface ReceiverBudget {
  /** The function's timeout. */
  readonly timeoutSeconds: number;
  /** The lease an in-progress record holds: `LEASE_SECONDS`, whose default is also its minimum. */
  readonly leaseSeconds: number;
  /** The accept path's AWS calls at their worst. */
  readonly acceptWorstCaseMs: number;
  /** One attempt of the secrets read at its timeouts: a refresh that succeeds on its first try. */
  readonly secretsFirstAttemptMs: number;
  /** What a request keeps free of AWS calls: verification, logging, the answer. */
  readonly marginMs: number;
}

/** The budget the stack deploys. */
export const RECEIVER_BUDGET: ReceiverBudget = {
  timeoutSeconds: RECEIVER_TIMEOUT_SECONDS,
  leaseSeconds: DEFAULT_LEASE_SECONDS,
  acceptWorstCaseMs: ACCEPT_WORST_CASE_MS,
  secretsFirstAttemptMs: AWS_CALL_BUDGET.connectionTimeoutMs + AWS_CALL_BUDGET.requestTimeoutMs,
  marginMs: RECEIVER_MARGIN_MS,
};

/**
 * A request starts its accept only while the accept, at its worst, still answers `marginMs` before
 * the timeout, and answers 503 otherwise (functions/receiver/receive.ts): so a secrets refresh at
 * its worst (~8 s) followed by a slow accept (~24 s) ends in a 503, never in a Lambda timeout with
 * a leased record. Throws unless that leaves room for a secrets read answered on its first attempt
 * (a refreshing cache then costs no delivery), and unless the lease outlasts the accept and the
 * timeout, so that a live request is never overtaken.
 */
export function checkReceiverBudget(budget: ReceiverBudget = RECEIVER_BUDGET): void {
  const beforeAccept = budget.timeoutSeconds * 1000 - budget.marginMs - budget.acceptWorstCaseMs;
  if (beforeAccept < budget.secretsFirstAttemptMs) {
    throw new Error(
      `the receiver timeout (${budget.timeoutSeconds} s) leaves ${Math.max(0, beforeAccept)} ms before the accept's worst case ` +
        `(${budget.acceptWorstCaseMs} ms of AWS calls and ${budget.marginMs} ms to spare); a secrets read takes up to ${budget.secretsFirstAttemptMs} ms on its first attempt`,
    );
  }
  if (budget.acceptWorstCaseMs >= budget.leaseSeconds * 1000) {
    throw new Error(`the accept's worst case (${budget.acceptWorstCaseMs} ms) must stay below LEASE_SECONDS (${budget.leaseSeconds} s)`);
  }
  if (budget.timeoutSeconds >= budget.leaseSeconds) {
    throw new Error(`the receiver timeout (${budget.timeoutSeconds} s) must stay below LEASE_SECONDS (${budget.leaseSeconds} s)`);
  }
}

/** The AWS managed key of SNS, which encrypts the alerts topic. */
const SNS_MANAGED_KEY_ALIAS = 'alias/aws/sns';

export const DEFAULT_THROTTLING_RATE_LIMIT = 100;
export const DEFAULT_THROTTLING_BURST_LIMIT = 200;
/** Deliveries the receiver handles at once behind a function URL (its reserved concurrency). */
export const DEFAULT_FUNCTION_URL_CONCURRENCY = 10;
export const DEFAULT_METRICS_NAMESPACE = 'WebhookReceiver';
/** The receiver's `POWERTOOLS_SERVICE_NAME`: the `service` dimension of its metrics. */
const RECEIVER_SERVICE = 'receiver';

/** Properties of {@link WebhookReceiver}. Every one is optional. */
export interface WebhookReceiverProps {
  /**
   * The providers that get a URL and a signing secret; the others answer 404.
   * @default every provider in `PROVIDER_NAMES`
   */
  readonly providers?: readonly ProviderName[];
  /**
   * Together's signature scheme: `timestamped` (signs `${timestamp}.${body}`) or `body` (signs the
   * body alone). Checked against the schemes Together's provider definition declares.
   * @default 'timestamped' (the provider's default)
   */
  readonly togetherSignatureScheme?: string;
  /**
   * Largest accepted body, in bytes; larger deliveries get 413. At most 339 968 (332 KiB), so that
   * any body within it fits its DynamoDB record and its SQS message.
   * @default 262144 (256 KiB)
   */
  readonly maxBodyBytes?: number;
  /**
   * How many days an event id is remembered (duplicates within it are answered 200 `duplicate`,
   * and a body timestamp older than it is rejected). From 7 to 365.
   * @default 7
   */
  readonly retentionDays?: number;
  /**
   * A provider's own retention in days (7 to 365), for all its deliveries, as `RETENTION_DAYS_<PROVIDER>`.
   * Without one, deliveries that carry no timestamp at all (Together's body-only scheme, LLMTune
   * without `deliveredAt`) are remembered at least 30 days, the others `retentionDays`. Records are
   * kept at least as long as a copy of their message can still be delivered (29 days), whatever this says.
   * @default - none
   */
  readonly retentionDaysByProvider?: Readonly<Partial<Record<ProviderName, number>>>;
  /**
   * What happens to the tables, queues, secrets and log groups when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * An address subscribed to the alarm topic this construct creates. Nothing is delivered until
   * the subscription is confirmed from the email AWS sends.
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * An existing topic for alarms, instead of one created here. Cannot be combined with `alarmEmail`.
   * Its policy must let `cloudwatch.amazonaws.com` publish (the topic this construct creates does).
   * @default - a new topic
   */
  readonly alarmTopic?: ITopic;
  /**
   * Steady-state requests per second the API accepts before answering 429 (senders retry).
   * @default 100
   */
  readonly throttlingRateLimit?: number;
  /**
   * Requests the API accepts in a burst above the steady rate.
   * @default 200
   */
  readonly throttlingBurstLimit?: number;
  /**
   * What receives the deliveries. `httpApi`: an API Gateway HTTP API, throttled per second
   * (`throttlingRateLimit`, `throttlingBurstLimit`) with an access log line per request.
   * `functionUrl`: a Lambda function URL straight to the receiver, US$1.00 per million deliveries
   * less, throttled by the receiver's reserved concurrency (`functionUrlConcurrency`) instead of a
   * request rate; it gives up the access logs, the per-second throttle, the `/webhooks/{provider}`
   * route match (any path ending in a provider's name reaches it) and custom domains through API
   * Gateway. Signature checks, idempotency and every guarantee of the write path are the same.
   * @default 'httpApi'
   */
  readonly endpoint?: 'httpApi' | 'functionUrl';
  /**
   * With `endpoint: 'functionUrl'`: the receiver's reserved concurrency, the most deliveries it
   * handles at once; above it Lambda answers 429 and senders retry. Reserving takes it from the
   * account's unreserved concurrency, which must keep at least 100.
   * @default 10
   */
  readonly functionUrlConcurrency?: number;
  /**
   * Retention of every log group (functions and API access logs). A year by default, the least
   * the AWS Control Tower control CT.CLOUDWATCH.PR.2 accepts; a shorter one is your choice to make.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays;
  /**
   * CloudWatch namespace of the functions' metrics (`POWERTOOLS_METRICS_NAMESPACE`).
   * @default 'WebhookReceiver'
   */
  readonly metricsNamespace?: string;
  /**
   * Age of the oldest message on a route's queue above which its alarm fires.
   * @default Duration.minutes(10)
   */
  readonly oldestMessageAgeThreshold?: Duration;
  /**
   * Poll Together's REST API for fine-tune job and batch changes, as well as (or instead of)
   * receiving its webhooks: a scheduled function, its state table and a secret for the API key
   * (see {@link TogetherPoller}). Off unless `enabled` is true, because every run calls Together
   * with the operator's API key, which the operator stores in the secret after deploying.
   * @default - no polling
   */
  readonly togetherPolling?: TogetherPollingProps;
  /**
   * Publish every handled event to EventBridge, once per event (see README "Events to
   * EventBridge"): `true` creates a bus, or pass a bus of this account. With a bus, `onEvent`
   * adds rules to it. Costs $1.00 per million events put, plus the archive's storage.
   * @default - no bus; the consumers publish nothing
   */
  readonly eventBus?: boolean | IEventBus;
  /**
   * How long the bus's archive keeps events for replays, in whole days. Never longer than event
   * records are kept (29 days, or the shortest of `retentionDays` and `retentionDaysByProvider`
   * when longer): an archived entry of an event over 256 KB points at its record. Only with
   * `eventBus`.
   * @default Duration.days(29)
   */
  readonly eventArchiveRetention?: Duration;
  /**
   * X-Ray tracing of every function: active tracing and Powertools' Tracer, one trace per delivery
   * from the receiver through SQS to the consumer (and on to EventBridge). `false` leaves the
   * functions on PassThrough with the Tracer off.
   * @default true
   */
  readonly tracing?: boolean;
  /**
   * Copy each completed Together batch's output and error files into an S3 bucket
   * (`together/batches/{batchId}/output.jsonl`, `errors.jsonl`) and record where on its job
   * item; see {@link BatchResults}. Uses the poller's Together API key secret, or creates one
   * when polling is off. `true` for the defaults.
   * @default false
   */
  readonly batchResults?: boolean | BatchResultsOptions;
  /**
   * Level of every function's own log lines. At INFO the receiver writes one line per delivery and
   * the consumer none per handled event (the event record is the event log); WARN keeps only what
   * needs a look. Lambda's platform lines stay at WARN either way.
   * @default 'INFO'
   */
  readonly logLevel?: FunctionLogLevel;
}

/** Settings of Together polling; see {@link WebhookReceiverProps.togetherPolling}. */
export interface TogetherPollingProps {
  /** Whether to deploy the poller. Polling is opted into: it spends the operator's API quota. */
  readonly enabled: boolean;
  /**
   * When to poll. Together's API reference suggests every 30–60 s.
   * @default Schedule.rate(Duration.minutes(1))
   */
  readonly schedule?: Schedule;
}

/**
 * The whole receiver: an HTTP API with `ANY /webhooks/{provider}` in front of the receiver
 * function; the events (idempotency) and jobs tables; one signing secret per enabled provider;
 * per canonical route a queue, a dead-letter queue, a consumer and their alarms; an alerts topic
 * the consumers publish to; an alarm topic and a dashboard; with `eventBus`, an EventBridge bus
 * every handled event is published to, its archive, and the rules `onEvent` adds.
 *
 * Everything is read from the data model in `functions/core`: a route added to `ROUTES` or a
 * provider added to `PROVIDERS` gets its resources here with no change to this file.
 */
export class WebhookReceiver extends Construct {
  /** The HTTP API: `ANY /webhooks/{provider}` → the receiver (`endpoint: 'httpApi'` only). */
  public readonly api?: HttpApi;
  /** The `$default` stage: throttled and access-logged (`endpoint: 'httpApi'` only). */
  public readonly stage?: HttpStage;
  /** The API's access logs, one JSON line per request (`endpoint: 'httpApi'` only). */
  public readonly accessLogs?: LogGroup;
  /** The receiver's function URL (`endpoint: 'functionUrl'` only). */
  public readonly functionUrl?: FunctionUrl;
  /** Base URL of the endpoint, without a trailing slash; a provider's webhook URL is this + `/webhooks/{provider}`. */
  public readonly endpointUrl: string;
  /** The events table: one item per `{provider}#{eventId}` (idempotency record and event log). */
  public readonly table: Table;
  /** The jobs projection written by the consumers. */
  public readonly jobsTable: Table;
  /** Consumers publish operator alerts here (a fine-tune failed, a model is deprecated, …). */
  public readonly alertsTopic: Topic;
  /** Every alarm notifies this topic. */
  public readonly alarmTopic: ITopic;
  /** The function behind the API: verify, record once, send to the route's queue. */
  public readonly receiver: BundledFunction;
  /** Per enabled provider, the secret holding its active signing secrets (a JSON array of strings). */
  public readonly secrets: ReadonlyMap<ProviderName, Secret>;
  /** Per canonical route: its queue, dead-letter queue, consumer and alarms. */
  public readonly routes: Readonly<Record<Route, RoutePipeline>>;
  /** Per route, the queue the receiver sends to. */
  public readonly queues: Readonly<Record<Route, Queue>>;
  /** Per route, the queue its failed messages end up on. */
  public readonly deadLetterQueues: Readonly<Record<Route, Queue>>;
  /** Per route, the function that drains its queue. */
  public readonly consumers: Readonly<Record<Route, BundledFunction>>;
  /** Every alarm this construct creates; all notify {@link alarmTopic}. */
  public readonly alarms: readonly IAlarm[];
  /** API, receiver, queue and consumer metrics with the alarm states, on one page. */
  public readonly dashboard: Dashboard;
  /** The providers this deployment serves, in the order given. */
  public readonly providers: readonly ProviderName[];
  /** The Together poller, when `togetherPolling.enabled` is true. */
  public readonly poller?: TogetherPoller;
  /** The bus, its archive and the `onEvent` rules, when `eventBus` is set. */
  public readonly events?: WebhookEventBus;
  /** The results bucket and its grants, when `batchResults` is on. */
  public readonly batchResults?: BatchResults;

  constructor(scope: Construct, id: string, props: WebhookReceiverProps = {}) {
    super(scope, id);
    const settings = resolveSettings(props);
    this.providers = settings.providers;
    const { removalPolicy, logRetention, metricsNamespace } = settings;

    // ── Data ─────────────────────────────────────────────────────────────────────────────
    const index = EVENTS_TABLE.byTimeIndex;
    this.table = new Table(this, 'EventsTable', {
      partitionKey: { name: EVENTS_TABLE.partitionKey, type: AttributeType.STRING },
      timeToLiveAttribute: EVENTS_TABLE.ttlAttribute,
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: index.name,
      partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
      sortKey: { name: index.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: [...index.projectedAttributes],
    });
    this.jobsTable = new Table(this, 'JobsTable', {
      partitionKey: { name: JOBS_TABLE.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
    });
    this.jobsTable.addGlobalSecondaryIndex({
      indexName: JOBS_TABLE.byActiveDayIndex.name,
      partitionKey: { name: JOBS_TABLE.byActiveDayIndex.partitionKey, type: AttributeType.STRING },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: [...JOBS_TABLE.byActiveDayIndex.projectedAttributes],
    });

    // ── Topics ───────────────────────────────────────────────────────────────────────────
    this.alertsTopic = new Topic(this, 'AlertsTopic', {
      displayName: 'Webhook receiver alerts',
      enforceSSL: true,
      // The AWS managed key: publishers in this account may use it through SNS by its key policy.
      masterKey: Alias.fromAliasName(this, 'SnsManagedKey', SNS_MANAGED_KEY_ALIAS),
    });
    this.alarmTopic = props.alarmTopic ?? this.createAlarmTopic(props.alarmEmail);
    const alarmAction = new SnsAction(this.alarmTopic);

    // ── Secrets ──────────────────────────────────────────────────────────────────────────
    const secrets = new Map<ProviderName, Secret>();
    for (const provider of settings.providers) {
      const secret = new Secret(this, `SigningSecret${providerPascal(provider)}`, {
        description: `Active ${provider} webhook signing secrets: a JSON array of strings. Empty until set; until then ${provider} deliveries get 503.`,
        // Not a secret: an empty list, which the receiver treats as "not configured yet" (503).
        secretStringValue: SecretValue.unsafePlainText('[]'),
        removalPolicy,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The value is issued by the provider, not generated by AWS, so there is no rotation function to run. Rotation is manual and overlap-free: add the new secret to the JSON array, update the provider, remove the old one later (see README).',
      });
      secrets.set(provider, secret);
    }
    this.secrets = secrets;

    // ── Routes ───────────────────────────────────────────────────────────────────────────
    const batchResults = props.batchResults === true ? {} : props.batchResults === false ? undefined : props.batchResults;
    const routes = {} as Record<Route, RoutePipeline>;
    for (const route of ROUTES) {
      routes[route] = new RoutePipeline(this, `Route${routePascal(route)}`, {
        route,
        consumerEntry: route === 'batch.completed' && batchResults !== undefined ? BATCH_RESULTS_CONSUMER_ENTRY : CONSUMER_ENTRY,
        eventsTable: this.table,
        jobsTable: this.jobsTable,
        alertsTopic: this.alertsTopic,
        alertsTopicKeyAlias: SNS_MANAGED_KEY_ALIAS,
        retentionDays: settings.retentionDays,
        metricsNamespace,
        logRetention,
        removalPolicy,
        alarmAction,
        oldestMessageAgeThreshold: settings.oldestMessageAgeThreshold,
        tracing: settings.tracing,
        ...(route === 'batch.completed' && batchResults !== undefined ? { consumerSettings: BATCH_RESULTS_CONSUMER } : {}),
        logLevel: settings.logLevel,
      });
    }
    this.routes = routes;
    this.queues = mapRoutes((route) => routes[route].queue);
    this.deadLetterQueues = mapRoutes((route) => routes[route].deadLetterQueue);
    this.consumers = mapRoutes((route) => routes[route].consumer);
    if (props.eventBus !== undefined && props.eventBus !== false) {
      this.events = new WebhookEventBus(this, 'Events', {
        eventBus: props.eventBus,
        archiveRetention: props.eventArchiveRetention ?? DEFAULT_EVENT_ARCHIVE_RETENTION,
        recordLifetime: recordLifetime([settings.retentionDays, ...Object.values(settings.retentionDaysByProvider)]),
        removalPolicy,
      });
      this.events.connectConsumers(ROUTES.map((route) => routes[route].consumer.handler));
    } else if (props.eventArchiveRetention !== undefined) {
      throw new Error('eventArchiveRetention needs eventBus: set eventBus: true (or pass a bus) to get a bus and its archive');
    }

    // ── Receiver ─────────────────────────────────────────────────────────────────────────
    const stack = Stack.of(this);
    const queueUrlsJson = stack.toJsonString(mapRoutes((route) => routes[route].queue.queueUrl));
    this.receiver = new BundledFunction(this, 'Receiver', {
      entry: RECEIVER_ENTRY,
      description: 'Verifies webhook deliveries, records each event once and sends it to its route queue',
      timeout: RECEIVER_TIMEOUT,
      memorySize: 512,
      environment: {
        TABLE_NAME: this.table.tableName,
        QUEUE_URLS: queueUrlsJson,
        SECRET_ARNS: stack.toJsonString(Object.fromEntries([...secrets].map(([provider, secret]) => [provider, secret.secretArn]))),
        PROVIDERS: settings.providers.join(','),
        TOGETHER_SIGNATURE_SCHEME: settings.togetherSignatureScheme,
        MAX_BODY_BYTES: String(settings.maxBodyBytes),
        RETENTION_DAYS: String(settings.retentionDays),
        ...Object.fromEntries(
          Object.entries(settings.retentionDaysByProvider).map(([provider, days]) => [retentionVariable(provider as ProviderName), String(days)]),
        ),
      },
      serviceName: RECEIVER_SERVICE,
      metricsNamespace,
      logRetention,
      removalPolicy,
      tracing: settings.tracing,
      logLevel: settings.logLevel,
    });
    grantItemAccess(this.table, this.receiver.handler, RECEIVER_TABLE_ACTIONS);
    for (const route of ROUTES) routes[route].queue.grantSendMessages(this.receiver.handler);
    for (const secret of secrets.values()) secret.grantRead(this.receiver.handler);

    // ── Together poller ──────────────────────────────────────────────────────────────────
    if (props.togetherPolling?.enabled === true) {
      this.poller = new TogetherPoller(this, 'TogetherPoller', {
        eventsTable: this.table,
        queues: this.queues,
        queueUrlsJson,
        retentionDays: settings.retentionDays,
        schedule: props.togetherPolling.schedule ?? DEFAULT_POLL_SCHEDULE,
        metricsNamespace,
        logRetention,
        removalPolicy,
        alarmAction,
        tracing: settings.tracing,
        logLevel: settings.logLevel,
      });
    }
    const senders = [this.receiver.role, ...(this.poller === undefined ? [] : [this.poller.function.role])];
    for (const route of ROUTES) routes[route].allowSendersOnly(senders);
    if (batchResults !== undefined) {
      this.batchResults = new BatchResults(this, 'BatchResults', {
        ...batchResults,
        consumer: routes['batch.completed'].consumer,
        ...(this.poller === undefined ? {} : { apiKeySecret: this.poller.apiKeySecret }),
        removalPolicy,
      });
    }

    // ── Endpoint ─────────────────────────────────────────────────────────────────────────
    let endpointMetrics: EndpointMetrics;
    if (settings.endpoint === 'functionUrl') {
      // Throttling is the receiver's concurrency: at most this many deliveries at once, 429 above.
      (this.receiver.handler.node.defaultChild as CfnFunction).reservedConcurrentExecutions = settings.functionUrlConcurrency;
      const url = this.receiver.handler.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
      this.functionUrl = url;
      acknowledgePublicFunctionUrl(this.receiver.handler, url);
      // The URL ends in a slash; the base URL of both endpoints has none.
      this.endpointUrl = Fn.join('', ['https://', Fn.select(2, Fn.split('/', url.url))]);
      const fnMetric = (metricName: string, props: MetricOptions) => this.receiver.handler.metric(metricName, props);
      endpointMetrics = {
        requests: (props) => fnMetric('UrlRequestCount', props),
        clientErrors: (props) => fnMetric('Url4xxCount', props),
        serverErrors: (props) => fnMetric('Url5xxCount', props),
        latency: [(props) => fnMetric('UrlRequestLatency', { ...props, label: 'latency' })],
      };
    } else {
      this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy });
      acknowledgeGuardRule(this.accessLogs, 'cloudwatch_log_group_encrypted_check', GUARD_REASONS.logKey);
      this.api = new HttpApi(this, 'Api', {
        description: 'Receives signed webhook deliveries at /webhooks/{provider}',
        // The stage is added below, with throttling and access logs.
        createDefaultStage: false,
      });
      this.stage = this.api.addStage('DefaultStage', {
        stageName: '$default',
        autoDeploy: true,
        throttle: { rateLimit: settings.throttlingRateLimit, burstLimit: settings.throttlingBurstLimit },
        accessLogSettings: {
          destination: new LogGroupLogDestination(this.accessLogs),
          format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
        },
      });
      // ANY, not POST: the contract answers other methods with 405 and a JSON body from the
      // function. A POST-only route would make API Gateway itself answer 404 for them.
      this.api
        .addRoutes({
          path: '/webhooks/{provider}',
          methods: [HttpMethod.ANY],
          integration: new HttpLambdaIntegration('ReceiverIntegration', this.receiver.handler),
        })
        .forEach(acknowledgeWebhookRoute);
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Webhook senders cannot present AWS or OAuth credentials; every delivery is authenticated by the receiver function with the provider\'s HMAC signature over the raw body (401 otherwise), before any parsing or I/O.',
      });
      const api = this.api;
      this.endpointUrl = api.apiEndpoint;
      endpointMetrics = {
        requests: (props) => api.metricCount(props),
        clientErrors: (props) => api.metricClientError(props),
        serverErrors: (props) => api.metricServerError(props),
        latency: [(props) => api.metricLatency({ ...props, label: 'latency' }), (props) => api.metricIntegrationLatency({ ...props, label: 'integration' })],
      };
    }

    // ── Operations ───────────────────────────────────────────────────────────────────────
    const minute = Duration.minutes(1);
    const receiverErrors = new Alarm(this, 'ReceiverErrorsAlarm', {
      alarmDescription: 'The receiver function failed (crashed or timed out). Senders retry, but check its logs.',
      metric: this.receiver.handler.metricErrors({ period: minute, statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const api5xx = new Alarm(this, 'Api5xxAlarm', {
      alarmDescription:
        'The API answered 5xx: a dependency failed (503, retryable), a provider secret is not set or is refused (503, see the Secret alarms), or the receiver failed. See the receiver logs.',
      metric: endpointMetrics.serverErrors({ period: minute, statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const secretAlarms = [...secrets].flatMap(([provider, secret]) => this.createSecretAlarms(provider, secret, metricsNamespace));
    for (const alarm of [receiverErrors, api5xx, ...secretAlarms]) {
      alarm.addAlarmAction(alarmAction);
      alarm.addOkAction(alarmAction);
    }
    this.alarms = [
      receiverErrors,
      api5xx,
      ...secretAlarms,
      ...ROUTES.flatMap((route) => [routes[route].deadLetterAlarm, routes[route].oldestMessageAlarm, routes[route].noRecordAlarm]),
      ...(this.poller === undefined ? [] : [this.poller.errorsAlarm, this.poller.durationAlarm, this.poller.failingJobsAlarm]),
    ];
    this.dashboard = this.createDashboard(endpointMetrics);
  }

  /**
   * A provider's two secret alarms, on the receiver's `Rejected` metric (EMF, one per delivery):
   * signed-looking deliveries while its secret is not set, and any delivery while its secret is
   * refused. Each names the secret to fix; unsigned requests are 401s and never count here.
   */
  private createSecretAlarms(provider: ProviderName, secret: Secret, namespace: string): Alarm[] {
    const rejected = (reason: string) =>
      new Metric({
        namespace,
        metricName: 'Rejected',
        dimensionsMap: { service: RECEIVER_SERVICE, provider, reason },
        statistic: 'Sum',
        period: Duration.minutes(1),
      });
    const alarm = (id: string, reason: string, description: string) =>
      new Alarm(this, `${id}${providerPascal(provider)}Alarm`, {
        alarmDescription: description,
        metric: rejected(reason),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    return [
      alarm(
        'SecretNotSet',
        'secret_not_set',
        `${provider} is delivering signed events but no signing secret is set: they get 503 and the sender retries them. Store the secret in ${secret.secretArn} (see README, Set the signing secrets).`,
      ),
      alarm(
        'SecretInvalid',
        'secret_invalid',
        `The ${provider} signing secret in ${secret.secretArn} is refused (empty key, not a JSON array or comma list, or for standard not whsec_ + base64 of 24-64 bytes): its deliveries get 503. The receiver log line "signing secret refused" says which entry and why.`,
      ),
    ];
  }

  /**
   * Sends the events of `routes` to `target` (any `aws-events-targets` target: a Lambda function,
   * a state machine, a queue, an API destination…) with a rule on the bus. Each event arrives as
   * a {@link WebhookBusEvent}. `options` narrow the rule: `providers`, and fields of the event
   * (`detail`). Needs `eventBus`.
   */
  public onEvent(routes: Route | readonly Route[], target: IRuleTarget, options?: OnEventOptions): Rule {
    if (this.events === undefined) {
      throw new Error('onEvent needs an event bus: create the WebhookReceiver with eventBus: true (or pass a bus of yours)');
    }
    return this.events.addRule(routes, target, options);
  }

  /**
   * Calls `grant` with the consumer function of each route, for the permissions your own steps
   * (`functions/consumers/extensions.ts`) need: `grant((consumer) => bucket.grantPut(consumer, 'evaluations/*'))`.
   */
  public grantToConsumers(routes: Route | readonly Route[], grant: (consumer: NodejsFunction, route: Route) => void): void {
    for (const route of routeList(routes, 'grantToConsumers')) grant(this.consumers[route].handler, route);
  }

  /** Sets environment variables of the consumers of `routes`, for your own steps to read. */
  public addConsumerEnvironment(routes: Route | readonly Route[], variables: Readonly<Record<string, string>>): void {
    addEnvironment(routeList(routes, 'addConsumerEnvironment').map((route) => this.consumers[route].handler), variables);
  }

  /**
   * Lets the consumers of `routes` read `secret`, and puts its ARN (never its value) in the
   * environment variable `variable`: read the value at run time with Powertools' `getSecret`.
   */
  public addConsumerSecret(routes: Route | readonly Route[], variable: string, secret: ISecret): void {
    addSecret(routeList(routes, 'addConsumerSecret').map((route) => this.consumers[route].handler), variable, secret);
  }

  private createAlarmTopic(email: string | undefined): Topic {
    const topic = new Topic(this, 'AlarmTopic', { displayName: 'Webhook receiver alarms', enforceSSL: true });
    // Without this, CloudWatch may not publish to the topic and no alarm notification arrives.
    topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisAccount',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
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

  private createDashboard(endpoint: EndpointMetrics): Dashboard {
    const minute = Duration.minutes(1);
    const perRoute = (label: string, metric: (route: Route) => IMetric) =>
      new GraphWidget({ title: label, width: 12, left: ROUTES.map(metric), leftYAxis: { min: 0 } });
    const dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: [...this.alarms], width: 24 }));
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Endpoint requests',
        width: 12,
        left: [
          endpoint.requests({ period: minute, statistic: 'Sum', label: 'requests' }),
          endpoint.clientErrors({ period: minute, statistic: 'Sum', label: '4xx' }),
          endpoint.serverErrors({ period: minute, statistic: 'Sum', label: '5xx' }),
        ],
      }),
      new GraphWidget({
        title: 'Endpoint latency (p99)',
        width: 12,
        left: endpoint.latency.map((metric) => metric({ period: minute, statistic: 'p99' })),
      }),
    );
    const receiver = this.receiver.handler;
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
    if (this.poller !== undefined) {
      const poller = this.poller.function.handler;
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
        this.queues[route].metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: route }),
      ),
      perRoute('Oldest message age (s), per route', (route) =>
        this.queues[route].metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum', label: route }),
      ),
    );
    dashboard.addWidgets(
      perRoute('Dead letters, per route', (route) =>
        this.deadLetterQueues[route].metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: route }),
      ),
      perRoute('Consumer errors, per route', (route) =>
        this.consumers[route].handler.metricErrors({ period: minute, statistic: 'Sum', label: route }),
      ),
    );
    return dashboard;
  }
}

/** One JSON line per request: enough to trace a delivery from the sender to the function's log. */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  method: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  integrationRequestId: '$context.awsEndpointRequestId',
};

function mapRoutes<T>(build: (route: Route) => T): Record<Route, T> {
  return Object.fromEntries(ROUTES.map((route) => [route, build(route)])) as Record<Route, T>;
}

interface Settings {
  readonly providers: readonly ProviderName[];
  readonly togetherSignatureScheme: string;
  readonly maxBodyBytes: number;
  readonly retentionDays: number;
  readonly retentionDaysByProvider: Readonly<Partial<Record<ProviderName, number>>>;
  readonly removalPolicy: RemovalPolicy;
  readonly throttlingRateLimit: number;
  readonly throttlingBurstLimit: number;
  readonly logRetention: RetentionDays;
  readonly metricsNamespace: string;
  readonly oldestMessageAgeThreshold: Duration;
  readonly tracing: boolean;
  readonly logLevel: FunctionLogLevel;
  readonly endpoint: 'httpApi' | 'functionUrl';
  readonly functionUrlConcurrency: number;
}

/** The endpoint's request, error and latency metrics, whichever endpoint it is. */
interface EndpointMetrics {
  readonly requests: (props: MetricOptions) => IMetric;
  readonly clientErrors: (props: MetricOptions) => IMetric;
  readonly serverErrors: (props: MetricOptions) => IMetric;
  readonly latency: readonly ((props: MetricOptions) => IMetric)[];
}

/**
 * Props with their defaults, checked against the same bounds the receiver enforces at start-up,
 * so that a bad value fails `cdk synth` instead of every cold start after deploy.
 */
function resolveSettings(props: WebhookReceiverProps): Settings {
  const providers = props.providers ?? PROVIDER_NAMES;
  if (providers.length === 0) throw new Error('providers must name at least one provider');
  for (const name of providers) {
    if (!(PROVIDER_NAMES as readonly string[]).includes(name)) {
      throw new Error(`providers names unknown provider "${name}"; known: ${PROVIDER_NAMES.join(', ')}`);
    }
  }
  if (new Set(providers).size !== providers.length) throw new Error(`providers lists a provider twice: ${providers.join(', ')}`);

  const together = PROVIDERS.together;
  const togetherSignatureScheme = props.togetherSignatureScheme ?? together.defaultSignatureScheme;
  if (together.signatureSchemes[togetherSignatureScheme] === undefined) {
    throw new Error(
      `togetherSignatureScheme must be one of ${Object.keys(together.signatureSchemes).join(' | ')}, got "${togetherSignatureScheme}"`,
    );
  }
  if (props.alarmTopic !== undefined && props.alarmEmail !== undefined) {
    throw new Error('give either alarmTopic (an existing topic, subscribe to it yourself) or alarmEmail, not both');
  }
  checkReceiverBudget();
  const retentionDaysByProvider: Partial<Record<ProviderName, number>> = {};
  for (const [provider, days] of Object.entries(props.retentionDaysByProvider ?? {})) {
    if (!(PROVIDER_NAMES as readonly string[]).includes(provider)) {
      throw new Error(`retentionDaysByProvider names unknown provider "${provider}"; known: ${PROVIDER_NAMES.join(', ')}`);
    }
    if (days === undefined) continue;
    retentionDaysByProvider[provider as ProviderName] = wholeNumber(`retentionDaysByProvider.${provider}`, days, MIN_RETENTION_DAYS, MIN_RETENTION_DAYS, MAX_RETENTION_DAYS);
  }
  const oldestMessageAgeThreshold = props.oldestMessageAgeThreshold ?? Duration.minutes(10);
  return {
    providers,
    togetherSignatureScheme,
    maxBodyBytes: wholeNumber('maxBodyBytes', props.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 1, MAX_BODY_BYTES_LIMIT),
    retentionDays: wholeNumber('retentionDays', props.retentionDays, MIN_RETENTION_DAYS, MIN_RETENTION_DAYS, MAX_RETENTION_DAYS),
    retentionDaysByProvider,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    throttlingRateLimit: wholeNumber('throttlingRateLimit', props.throttlingRateLimit, DEFAULT_THROTTLING_RATE_LIMIT, 1, 10_000),
    throttlingBurstLimit: wholeNumber('throttlingBurstLimit', props.throttlingBurstLimit, DEFAULT_THROTTLING_BURST_LIMIT, 1, 5_000),
    logRetention: props.logRetention ?? RetentionDays.ONE_YEAR,
    metricsNamespace: props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE,
    oldestMessageAgeThreshold,
    tracing: props.tracing ?? true,
    logLevel: logLevelOf(props.logLevel),
    endpoint: endpointOf(props),
    functionUrlConcurrency: wholeNumber('functionUrlConcurrency', props.functionUrlConcurrency, DEFAULT_FUNCTION_URL_CONCURRENCY, 1, 1_000),
  };
}

function endpointOf(props: WebhookReceiverProps): 'httpApi' | 'functionUrl' {
  const endpoint = props.endpoint ?? 'httpApi';
  if (endpoint !== 'httpApi' && endpoint !== 'functionUrl') throw new Error(`endpoint must be 'httpApi' or 'functionUrl', got "${String(endpoint)}"`);
  if (endpoint === 'functionUrl' && (props.throttlingRateLimit !== undefined || props.throttlingBurstLimit !== undefined)) {
    throw new Error("throttlingRateLimit and throttlingBurstLimit apply to the HTTP API; with endpoint: 'functionUrl' set functionUrlConcurrency");
  }
  if (endpoint === 'httpApi' && props.functionUrlConcurrency !== undefined) {
    throw new Error("functionUrlConcurrency applies to endpoint: 'functionUrl' only");
  }
  return endpoint;
}

function logLevelOf(level: string | undefined): FunctionLogLevel {
  const levels: readonly FunctionLogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];
  if (level === undefined) return 'INFO';
  if (!(levels as readonly string[]).includes(level)) throw new Error(`logLevel must be one of ${levels.join(', ')}, got "${level}"`);
  return level as FunctionLogLevel;
}

function wholeNumber(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (Token.isUnresolved(value)) return value;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}
