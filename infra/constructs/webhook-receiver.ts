import { Stack } from 'aws-cdk-lib';
import type { HttpApi, HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Dashboard, IAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { IRuleTarget, Rule } from 'aws-cdk-lib/aws-events';
import { Alias } from 'aws-cdk-lib/aws-kms';
import type { FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { packageFile } from '../../functions/core/package-root';
import { retentionVariable } from '../../functions/core/config';
import type { ProviderName } from '../../functions/core/event';
import { ROUTES, routePascal, type Route } from '../../functions/core/routes';
import { BATCH_RESULTS_CONSUMER, BATCH_RESULTS_CONSUMER_ENTRY, BatchResults } from './batch-results';
import { BundledFunction, RECEIVER_BUNDLE_ALIASES } from './bundled-function';
import { addEnvironment, addSecret, routeList } from './consumer-settings';
import { DEFAULT_EVENT_ARCHIVE_RETENTION, recordLifetime, WebhookEventBus, type OnEventOptions } from './event-bus';
import { WebhookListeners } from './listeners';
import { grantItemAccess, RECEIVER_TABLE_ACTIONS } from './grants';
import { createOpenAiApiKey } from './openai-api-key';
import { RoutePipeline } from './route-pipeline';
import { RECEIVER_TIMEOUT } from './receiver-budget';
import { createEndpoint } from './receiver-endpoint';
import { createAlarmTopic, createDashboard, createReceiverAlarms } from './receiver-monitoring';
import { RECEIVER_SERVICE, resolveSettings, type WebhookReceiverProps } from './receiver-settings';
import { createSecretAlarms, createSigningSecrets } from './signing-secrets';
import { createTables } from './tables';
import { DEFAULT_POLL_SCHEDULE, TogetherPoller } from './together-poller';

// The construct's props are defined with their validation; they are the construct's own interface.
export type { TogetherPollingProps, WebhookReceiverProps } from './receiver-settings';

/** The receiver's entry: the one Lambda behind the API. */
export const RECEIVER_ENTRY = packageFile('functions/receiver/handler.ts');
/** The consumers' entry: one file, deployed once per route with `ROUTE` set. */
export const CONSUMER_ENTRY = packageFile('functions/consumers/handler.ts');

/** The AWS managed key of SNS, which encrypts the alerts topic. */
const SNS_MANAGED_KEY_ALIAS = 'alias/aws/sns';

/**
 * The whole receiver: an HTTP API with `ANY /webhooks/{provider}` (or a function URL) in front of
 * the receiver function; the events (idempotency) and jobs tables; one signing secret per enabled provider;
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
  /** Each job's checkpoints and states, one item each under the job's key, written by the consumers. */
  public readonly jobHistoryTable: Table;
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
  /** The listener queues of `webhooks listen`, when `listeners` names any. */
  public readonly listeners?: WebhookListeners;
  /** The results bucket and its grants, when `batchResults` is on. */
  public readonly batchResults?: BatchResults;
  /**
   * When the deployment serves `openai`: the secret to store the OpenAI API key in, which the
   * consumers of OpenAI's routes complete its events with (created blank; until the key is stored,
   * OpenAI events fail into the dead-letter queue).
   */
  public readonly openAiApiKeySecret?: Secret;

  constructor(scope: Construct, id: string, props: WebhookReceiverProps = {}) {
    super(scope, id);
    const settings = resolveSettings(props);
    this.providers = settings.providers;
    const { removalPolicy, logRetention, metricsNamespace } = settings;

    // ── Data ─────────────────────────────────────────────────────────────────────────────
    const tables = createTables(this, removalPolicy);
    this.table = tables.events;
    this.jobsTable = tables.jobs;
    this.jobHistoryTable = tables.jobHistory;

    // ── Topics ───────────────────────────────────────────────────────────────────────────
    this.alertsTopic = new Topic(this, 'AlertsTopic', {
      displayName: 'Webhook receiver alerts',
      enforceSSL: true,
      // The AWS managed key: publishers in this account may use it through SNS by its key policy.
      masterKey: Alias.fromAliasName(this, 'SnsManagedKey', SNS_MANAGED_KEY_ALIAS),
    });
    this.alarmTopic = props.alarmTopic ?? createAlarmTopic(this, props.alarmEmail);
    const alarmAction = new SnsAction(this.alarmTopic);

    // ── Secrets ──────────────────────────────────────────────────────────────────────────
    const secrets = createSigningSecrets(this, settings.providers, removalPolicy);
    this.secrets = secrets;

    // ── Routes ───────────────────────────────────────────────────────────────────────────
    const batchResults = props.batchResults === true ? {} : props.batchResults === false ? undefined : props.batchResults;
    const servesOpenAi = settings.providers.includes('openai');
    // The routes whose consumer copies batch files: Together's completed batches, and OpenAI's
    // completed or expired ones (an expired batch keeps the output of the requests it finished).
    const copiesResults = (route: Route) =>
      batchResults !== undefined && (route === 'batch.completed' || (route === 'batch.expired' && servesOpenAi));
    const routes = {} as Record<Route, RoutePipeline>;
    for (const route of ROUTES) {
      routes[route] = new RoutePipeline(this, `Route${routePascal(route)}`, {
        route,
        consumerEntry: copiesResults(route) ? BATCH_RESULTS_CONSUMER_ENTRY : CONSUMER_ENTRY,
        eventsTable: this.table,
        jobsTable: this.jobsTable,
        jobHistoryTable: this.jobHistoryTable,
        alertsTopic: this.alertsTopic,
        alertsTopicKeyAlias: SNS_MANAGED_KEY_ALIAS,
        retentionDays: settings.retentionDays,
        metricsNamespace,
        logRetention,
        removalPolicy,
        alarmAction,
        oldestMessageAgeThreshold: settings.oldestMessageAgeThreshold,
        tracing: settings.tracing,
        ...(copiesResults(route) ? { consumerSettings: BATCH_RESULTS_CONSUMER } : {}),
        logLevel: settings.logLevel,
        ...(settings.steps === undefined ? {} : { steps: settings.steps }),
      });
    }
    this.routes = routes;
    this.queues = mapRoutes((route) => routes[route].queue);
    this.deadLetterQueues = mapRoutes((route) => routes[route].deadLetterQueue);
    this.consumers = mapRoutes((route) => routes[route].consumer);
    if (servesOpenAi) {
      this.openAiApiKeySecret = createOpenAiApiKey(this, 'OpenAiApiKey', {
        consumers: this.consumers,
        ...(settings.openAiApiBaseUrl === undefined ? {} : { baseUrl: settings.openAiApiBaseUrl }),
        removalPolicy,
      });
    }
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
    if (props.listeners !== undefined && props.listeners.length > 0) {
      if (this.events === undefined) throw new Error('listeners needs eventBus: the listener queues are fed by the bus; set eventBus: true (-c eventBus=true)');
      this.listeners = new WebhookListeners(this, 'Listeners', { eventBus: this.events.eventBus, names: props.listeners, removalPolicy });
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
      aliases: RECEIVER_BUNDLE_ALIASES,
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
        ...(servesOpenAi ? { openAiExpiredConsumer: routes['batch.expired'].consumer } : {}),
        ...(this.poller === undefined ? {} : { apiKeySecret: this.poller.apiKeySecret }),
        removalPolicy,
      });
    }

    // ── Endpoint ─────────────────────────────────────────────────────────────────────────
    const endpoint = createEndpoint(this, this.receiver.handler, settings);
    this.api = endpoint.api;
    this.stage = endpoint.stage;
    this.accessLogs = endpoint.accessLogs;
    this.functionUrl = endpoint.functionUrl;
    this.endpointUrl = endpoint.url;

    // ── Operations ───────────────────────────────────────────────────────────────────────
    const receiverAlarms = createReceiverAlarms(this, this.receiver.handler, endpoint.metrics);
    const secretAlarms = [...secrets].flatMap(([provider, secret]) => createSecretAlarms(this, provider, secret, metricsNamespace));
    for (const alarm of [...receiverAlarms, ...secretAlarms]) {
      alarm.addAlarmAction(alarmAction);
      alarm.addOkAction(alarmAction);
    }
    this.alarms = [
      ...receiverAlarms,
      ...secretAlarms,
      ...ROUTES.flatMap((route) => [routes[route].deadLetterAlarm, routes[route].oldestMessageAlarm, routes[route].noRecordAlarm]),
      ...(this.poller === undefined ? [] : [this.poller.errorsAlarm, this.poller.durationAlarm, this.poller.failingJobsAlarm]),
    ];
    this.dashboard = createDashboard(this, {
      alarms: this.alarms,
      endpoint: endpoint.metrics,
      receiver: this.receiver.handler,
      ...(this.poller === undefined ? {} : { poller: this.poller.function.handler }),
      queues: this.queues,
      deadLetterQueues: this.deadLetterQueues,
      consumers: mapRoutes((route) => routes[route].consumer.handler),
    });
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
   * (the `steps` module) need: `grant((consumer) => bucket.grantPut(consumer, 'evaluations/*'))`.
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
}

function mapRoutes<T>(build: (route: Route) => T): Record<Route, T> {
  return Object.fromEntries(ROUTES.map((route) => [route, build(route)])) as Record<Route, T>;
}
