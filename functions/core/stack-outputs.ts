import type { ProviderName } from './provider-names';
import { listenerPascal } from './listeners';
import { routePascal, type Route } from './routes';

/** The stack name `cdk deploy` uses unless the `stackName` context value says otherwise. */
export const DEFAULT_STACK_NAME = 'WebhookReceiver';

/** The context key (`-c stackName=…`) that names the stack; the app reads it, beside the receiver's settings. */
export const STACK_NAME_CONTEXT_KEY = 'stackName';

/** `together` → `Together`, for output names and construct ids. */
export function providerPascal(provider: ProviderName): string {
  return provider.charAt(0).toUpperCase() + provider.slice(1);
}

/**
 * The names of the stack's outputs. They are a public interface: the stack writes them, the
 * operations (ops/target.ts) and the README read them, so a name here never changes once
 * released. They live here, below both infra/ and ops/, so that both import the one definition.
 */
export const STACK_OUTPUTS = {
  /** The URL to configure at the provider: `https://…/webhooks/{provider}`. */
  webhookUrl: (provider: ProviderName) => `WebhookUrl${providerPascal(provider)}`,
  /** The Secrets Manager secret holding the provider's active signing secrets (a JSON array). */
  secretArn: (provider: ProviderName) => `SecretArn${providerPascal(provider)}`,
  queueUrl: (route: Route) => `QueueUrl${routePascal(route)}`,
  queueArn: (route: Route) => `QueueArn${routePascal(route)}`,
  deadLetterQueueUrl: (route: Route) => `DeadLetterQueueUrl${routePascal(route)}`,
  deadLetterQueueArn: (route: Route) => `DeadLetterQueueArn${routePascal(route)}`,
  eventsTableName: 'EventsTableName',
  jobsTableName: 'JobsTableName',
  /** Each job's checkpoints and states; a stack deployed before it has none, and readers show the history its job items hold. */
  jobHistoryTableName: 'JobHistoryTableName',
  alertsTopicArn: 'AlertsTopicArn',
  alarmTopicArn: 'AlarmTopicArn',
  apiEndpoint: 'ApiEndpoint',
  dashboardName: 'DashboardName',
  /** With Together polling or batch results: the secret to store the Together API key in, as a plain string. */
  togetherApiKeySecretArn: 'TogetherApiKeySecretArn',
  /** When the deployment serves `openai`: the secret to store the OpenAI API key in, as a plain string. */
  openAiApiKeySecretArn: 'OpenAiApiKeySecretArn',
  /** With Together polling only: what the poller last saw of each job and batch. */
  pollerTableName: 'PollerTableName',
  /** With an event bus only: the bus the consumers publish handled events to. */
  eventBusArn: 'EventBusArn',
  /** With an event bus only: its archive, for EventBridge replays. */
  eventArchiveName: 'EventArchiveName',
  /** With batch results only: the bucket ended batches' files are copied to (`together/batches/`, `openai/batches/`). */
  batchResultsBucketName: 'BatchResultsBucketName',
  /** Per listener (`listeners`): the queue `webhooks listen` reads. */
  listenerQueueUrl: (name: string) => `ListenerQueueUrl${listenerPascal(name)}`,
  /** Per listener: where an event goes after the listener failed to forward it a few times. */
  listenerDeadLetterQueueUrl: (name: string) => `ListenerDeadLetterQueueUrl${listenerPascal(name)}`,
  /** Per listener: the secret holding its Standard Webhooks signing key. */
  listenerSecretArn: (name: string) => `ListenerSecretArn${listenerPascal(name)}`,
} as const;
