import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Schedule } from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/event';
import { ROUTES } from '../functions/core/routes';
import { WebhookReceiver, type TogetherPollingProps, type WebhookReceiverProps } from './constructs/webhook-receiver';
import { STACK_OUTPUTS, providerPascal } from '../functions/core/stack-outputs';
import { receiverContextReader, type ContextReader } from './context';

/** Properties of {@link WebhookReceiverStack}. */
export interface WebhookReceiverStackProps extends StackProps {
  /**
   * Settings of the receiver; see {@link WebhookReceiverProps} for each one and its default.
   * @default - every default
   */
  readonly receiver?: WebhookReceiverProps;
}

/**
 * The deployable stack: one {@link WebhookReceiver} and the outputs the operator reads (the URL
 * and secret of each provider, the tables, the queues of each route). Output names are fixed by
 * {@link STACK_OUTPUTS}.
 */
export class WebhookReceiverStack extends Stack {
  /** The receiver and everything it owns. */
  public readonly webhooks: WebhookReceiver;

  constructor(scope: Construct, id: string, props: WebhookReceiverStackProps = {}) {
    super(scope, id, props);
    const webhooks = new WebhookReceiver(this, 'Webhooks', props.receiver);
    this.webhooks = webhooks;

    // Outputs are created on the stack itself so that their names are exactly the ids below,
    // with no hash suffix: scripts and the CLI look them up by name.
    const output = (name: string, value: string, description: string) => new CfnOutput(this, name, { value, description });

    for (const provider of webhooks.providers) {
      output(STACK_OUTPUTS.webhookUrl(provider), `${webhooks.endpointUrl}/webhooks/${provider}`, `Webhook URL to configure at ${provider}`);
      const secret = webhooks.secrets.get(provider);
      if (secret !== undefined) {
        output(STACK_OUTPUTS.secretArn(provider), secret.secretArn, `Secret holding the active ${provider} signing secrets (JSON array)`);
      }
    }
    output(STACK_OUTPUTS.eventsTableName, webhooks.table.tableName, 'Events table (idempotency record and event log)');
    output(STACK_OUTPUTS.jobsTableName, webhooks.jobsTable.tableName, 'Jobs table (latest state of each job and batch)');
    output(STACK_OUTPUTS.jobHistoryTableName, webhooks.jobHistoryTable.tableName, 'Job-history table (each job\'s checkpoints and states)');
    output(STACK_OUTPUTS.alertsTopicArn, webhooks.alertsTopic.topicArn, 'Topic the consumers publish alerts to; subscribe to it');
    output(STACK_OUTPUTS.alarmTopicArn, webhooks.alarmTopic.topicArn, 'Topic every alarm notifies');
    output(STACK_OUTPUTS.apiEndpoint, webhooks.endpointUrl, 'Base URL of the webhook endpoint');
    output(STACK_OUTPUTS.dashboardName, webhooks.dashboard.dashboardName, 'CloudWatch dashboard of the receiver');
    const togetherApiKey = webhooks.poller?.apiKeySecret ?? webhooks.batchResults?.apiKeySecret;
    if (togetherApiKey !== undefined) {
      output(
        STACK_OUTPUTS.togetherApiKeySecretArn,
        togetherApiKey.secretArn,
        'Secret to store the Together API key in (a plain string); polling and batch results fail until it is set',
      );
    }
    if (webhooks.openAiApiKeySecret !== undefined) {
      output(
        STACK_OUTPUTS.openAiApiKeySecretArn,
        webhooks.openAiApiKeySecret.secretArn,
        'Secret to store the OpenAI API key in (a plain string); OpenAI events fail into the dead-letter queue until it is set',
      );
    }
    if (webhooks.batchResults !== undefined) {
      output(
        STACK_OUTPUTS.batchResultsBucketName,
        webhooks.batchResults.bucket.bucketName,
        webhooks.openAiApiKeySecret === undefined
          ? 'Bucket completed Together batches are copied to (together/batches/{batchId}/)'
          : 'Bucket ended batches are copied to (together/batches/{batchId}/, openai/batches/{batchId}/)',
      );
    }
    if (webhooks.poller !== undefined) {
      output(STACK_OUTPUTS.pollerTableName, webhooks.poller.table.tableName, 'Poller state table (what the Together poller last saw of each job and batch)');
    }
    if (webhooks.events !== undefined) {
      output(STACK_OUTPUTS.eventBusArn, webhooks.events.eventBus.eventBusArn, 'Event bus every handled event is published to (source ai-webhooks.<provider>)');
      output(STACK_OUTPUTS.eventArchiveName, webhooks.events.archive.archiveName, 'Archive of the bus, for EventBridge replays');
    }
    for (const listener of webhooks.listeners?.listeners.values() ?? []) {
      output(STACK_OUTPUTS.listenerQueueUrl(listener.name), listener.queue.queueUrl, `Queue of listener ${listener.name} (webhooks listen --listener ${listener.name})`);
      output(STACK_OUTPUTS.listenerDeadLetterQueueUrl(listener.name), listener.deadLetterQueue.queueUrl, `Dead-letter queue of listener ${listener.name}`);
      output(STACK_OUTPUTS.listenerSecretArn(listener.name), listener.secret.secretArn, `Signing key of listener ${listener.name} (whsec_ + the value)`);
    }
    for (const route of ROUTES) {
      const queue = webhooks.queues[route];
      const deadLetterQueue = webhooks.deadLetterQueues[route];
      output(STACK_OUTPUTS.queueUrl(route), queue.queueUrl, `Queue of route ${route}`);
      output(STACK_OUTPUTS.queueArn(route), queue.queueArn, `Queue of route ${route}`);
      output(STACK_OUTPUTS.deadLetterQueueUrl(route), deadLetterQueue.queueUrl, `Dead-letter queue of route ${route}`);
      output(STACK_OUTPUTS.deadLetterQueueArn(route), deadLetterQueue.queueArn, `Dead-letter queue of route ${route}`);
    }
  }
}


/**
 * Receiver settings from CDK context (`cdk.json` or `-c key=value`):
 * `providers` (comma list), `togetherSignatureScheme`, `maxBodyBytes`, `retentionDays`,
 * `retentionDays<Provider>` (e.g. `retentionDaysLlmtune`),
 * `removalPolicy` (`retain` | `destroy`), `alarmEmail`, `throttlingRateLimit`, `throttlingBurstLimit`,
 * `togetherPolling` (`true` | `false`, default false), `togetherPollMinutes` (whole minutes
 * between polls, default 1), `eventBus` (`true` | `false`, default false),
 * `listeners` (comma list of listener names, needs `eventBus`), `eventArchiveRetentionDays` (whole days, default 29, at most as long as event records are kept), `tracing` (`true` |
 * `false`, default true), `batchResults` (`true` | `false`, default false),
 * `batchResultsExpirationDays`, `openAiApiBaseUrl`, `endpoint` (`httpApi` | `functionUrl`), `functionUrlConcurrency`,
 * `logLevel` (`DEBUG` | `INFO` | `WARN` | `ERROR`) and `steps` (the path of your steps module): the keys of {@link RECEIVER_CONTEXT_KEYS}, and no
 * other. Values are checked by {@link WebhookReceiver}.
 */
export function receiverPropsFromContext(readContext: ContextReader): WebhookReceiverProps {
  const read = receiverContextReader(readContext);
  const text = (key: string): string | undefined => {
    const value = read(key);
    if (value === undefined || value === null || String(value).trim() === '') return undefined;
    return String(value).trim();
  };
  const number = (key: string): number | undefined => {
    const value = text(key);
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed)) throw new Error(`context value ${key} must be a number, got "${value}"`);
    return parsed;
  };
  const flag = (key: string): boolean | undefined => {
    const value = text(key)?.toLowerCase();
    if (value === undefined) return undefined;
    if (value !== 'true' && value !== 'false') throw new Error(`context value ${key} must be true or false, got "${value}"`);
    return value === 'true';
  };
  const archiveDays = number('eventArchiveRetentionDays');
  const removal = text('removalPolicy');
  if (removal !== undefined && removal !== 'retain' && removal !== 'destroy') {
    throw new Error(`context value removalPolicy must be retain or destroy, got "${removal}"`);
  }
  const providers = text('providers')
    ?.split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of providers ?? []) {
    if (!(PROVIDER_NAMES as readonly string[]).includes(name)) {
      throw new Error(`context value providers names unknown provider "${name}"; known: ${PROVIDER_NAMES.join(', ')}`);
    }
  }
  return {
    providers: providers as ProviderName[] | undefined,
    togetherPolling: togetherPollingFromContext(text, number),
    batchResults: batchResultsFromContext(text, number),
    openAiApiBaseUrl: text('openAiApiBaseUrl'),
    togetherSignatureScheme: text('togetherSignatureScheme'),
    maxBodyBytes: number('maxBodyBytes'),
    retentionDays: number('retentionDays'),
    retentionDaysByProvider: Object.fromEntries(
      PROVIDER_NAMES.flatMap((provider) => {
        const days = number(`retentionDays${providerPascal(provider)}`);
        return days === undefined ? [] : [[provider, days]];
      }),
    ),
    removalPolicy: removal === 'destroy' ? RemovalPolicy.DESTROY : removal === 'retain' ? RemovalPolicy.RETAIN : undefined,
    alarmEmail: text('alarmEmail'),
    throttlingRateLimit: number('throttlingRateLimit'),
    throttlingBurstLimit: number('throttlingBurstLimit'),
    eventBus: flag('eventBus'),
    listeners: listenersFromContext(text('listeners')),
    ...(archiveDays === undefined ? {} : { eventArchiveRetention: Duration.days(archiveDays) }),
    tracing: flag('tracing'),
    endpoint: text('endpoint') as WebhookReceiverProps['endpoint'],
    functionUrlConcurrency: number('functionUrlConcurrency'),
    logLevel: text('logLevel')?.toUpperCase() as WebhookReceiverProps['logLevel'],
    steps: text('steps'),
  };
}

function batchResultsFromContext(
  text: (key: string) => string | undefined,
  number: (key: string) => number | undefined,
): WebhookReceiverProps['batchResults'] {
  const enabled = text('batchResults')?.toLowerCase();
  if (enabled !== undefined && enabled !== 'true' && enabled !== 'false') {
    throw new Error(`context value batchResults must be true or false, got "${enabled}"`);
  }
  const expirationDays = number('batchResultsExpirationDays');
  if (enabled !== 'true') {
    if (expirationDays !== undefined) throw new Error('context value batchResultsExpirationDays is set but batchResults is not true: add -c batchResults=true');
    return undefined;
  }
  return expirationDays === undefined ? true : { expirationDays };
}

/** The longest interval `togetherPollMinutes` accepts: a day. */
const MAX_POLL_MINUTES = 24 * 60;

function togetherPollingFromContext(
  text: (key: string) => string | undefined,
  number: (key: string) => number | undefined,
): TogetherPollingProps | undefined {
  const enabled = text('togetherPolling')?.toLowerCase();
  if (enabled !== undefined && enabled !== 'true' && enabled !== 'false') {
    throw new Error(`context value togetherPolling must be true or false, got "${enabled}"`);
  }
  const minutes = number('togetherPollMinutes');
  if (minutes !== undefined && (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_POLL_MINUTES)) {
    throw new Error(`context value togetherPollMinutes must be a whole number from 1 to ${MAX_POLL_MINUTES}, got ${minutes}`);
  }
  if (enabled === undefined) {
    // Polling is off by default; a poll interval alone most likely means it was meant to be on.
    if (minutes !== undefined) throw new Error('context value togetherPollMinutes is set but togetherPolling is not: add -c togetherPolling=true (or false)');
    return undefined;
  }
  return {
    enabled: enabled === 'true',
    ...(minutes === undefined ? {} : { schedule: Schedule.rate(Duration.minutes(minutes)) }),
  };
}

/** `alice,bob` → `['alice', 'bob']`; each name is checked by the construct. */
function listenersFromContext(value: string | undefined): string[] | undefined {
  const names = value?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  return names === undefined || names.length === 0 ? undefined : names;
}
