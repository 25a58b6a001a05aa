import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import type { IEventBus, Schedule } from 'aws-cdk-lib/aws-events';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { DEFAULT_MAX_BODY_BYTES, MAX_BODY_BYTES_LIMIT, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from '../../functions/core/config';
import { credentialUrlProblem } from '../../functions/core/credential-url';
import { PROVIDER_NAMES, type ProviderName } from '../../functions/core/event';
import { PROVIDERS } from '../../functions/core/providers';
import type { BatchResultsOptions } from './batch-results';
import type { FunctionLogLevel } from './bundled-function';
import { checkReceiverBudget } from './receiver-budget';

export const DEFAULT_THROTTLING_RATE_LIMIT = 100;
export const DEFAULT_THROTTLING_BURST_LIMIT = 200;
/** Deliveries the receiver handles at once behind a function URL (its reserved concurrency). */
export const DEFAULT_FUNCTION_URL_CONCURRENCY = 10;
export const DEFAULT_METRICS_NAMESPACE = 'WebhookReceiver';
/** The receiver's `POWERTOOLS_SERVICE_NAME`: the `service` dimension of its metrics. */
export const RECEIVER_SERVICE = 'receiver';

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
   * Listener queues for `webhooks listen`, one per name (1 to 20 lowercase letters and digits):
   * each gets every event put on the bus, kept 4 days, and a generated signing secret. Needs
   * `eventBus`. Idle, a listening developer costs about US$0.05 a month of SQS requests.
   * @default - none
   */
  readonly listeners?: readonly string[];
  /**
   * X-Ray tracing of every function: active tracing, Powertools' Tracer in the consumers and the
   * poller, a subsegment per AWS call in the receiver; one trace per delivery from the receiver
   * through SQS to the consumer (and on to EventBridge). `false` leaves the functions on
   * PassThrough with their tracing code left out of their bundles.
   * @default true
   */
  readonly tracing?: boolean;
  /**
   * Copy each completed Together batch's output and error files into an S3 bucket
   * (`together/batches/{batchId}/output.jsonl`, `errors.jsonl`) and record where on its job
   * item; see {@link BatchResults}. Uses the poller's Together API key secret, or creates one
   * when polling is off. Serving `openai`, OpenAI's completed batches, and its expired ones with
   * partial output, are copied too (`openai/batches/{batchId}/…`), with the OpenAI API key
   * secret. `true` for the defaults.
   * @default false
   */
  readonly batchResults?: boolean | BatchResultsOptions;
  /**
   * The OpenAI API the consumers complete OpenAI's events from (`OPENAI_API_BASE_URL`), for a
   * proxy or a stand-in: https, or plain http to loopback only, since every request carries the
   * key. Only when the deployment serves `openai`.
   * @default 'https://api.openai.com/v1'
   */
  readonly openAiApiBaseUrl?: string;
  /**
   * Level of every function's own log lines. At INFO the receiver writes one line per delivery and
   * the consumer none per handled event (the event record is the event log); WARN keeps only what
   * needs a look. Lambda's platform lines stay at WARN either way.
   * @default 'INFO'
   */
  readonly logLevel?: FunctionLogLevel;
  /**
   * Your own steps: the path of a module (TypeScript or JavaScript; relative to the working
   * directory of `cdk synth`) that exports `steps`, an object of route → list of steps
   * (`defineSteps` and the types are in `ai-webhook-receiver/steps`). It is bundled into every
   * route's consumer, whose steps run after the built-in ones inside the same claim on the event;
   * give them permissions with {@link WebhookReceiver.grantToConsumers}. See docs/extending.md.
   * @default - no steps of your own
   */
  readonly steps?: string;
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

/** {@link WebhookReceiverProps} with every default filled in and every value checked. */
export interface ReceiverSettings {
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
  /** Set only when given. */
  readonly openAiApiBaseUrl?: string;
  /** The absolute path of the steps module, when there is one. */
  readonly steps: string | undefined;
}

/**
 * Props with their defaults, checked against the same bounds the receiver enforces at start-up,
 * so that a bad value fails `cdk synth` instead of every cold start after deploy.
 */
export function resolveSettings(props: WebhookReceiverProps): ReceiverSettings {
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
  const openAiApiBaseUrl = openAiApiBaseUrlOf(props.openAiApiBaseUrl, providers);
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
    steps: stepsModule(props.steps),
    functionUrlConcurrency: wholeNumber('functionUrlConcurrency', props.functionUrlConcurrency, DEFAULT_FUNCTION_URL_CONCURRENCY, 1, 1_000),
    ...(openAiApiBaseUrl === undefined ? {} : { openAiApiBaseUrl }),
  };
}

/**
 * The base URL without a trailing slash, held to the rule the consumers apply at start
 * (functions/core/credential-url.ts), so that a URL they would refuse fails `cdk synth` instead.
 */
function openAiApiBaseUrlOf(raw: string | undefined, providers: readonly ProviderName[]): string | undefined {
  if (raw === undefined) return undefined;
  if (!providers.includes('openai')) {
    throw new Error(`openAiApiBaseUrl is set but the deployment does not serve openai (providers: ${providers.join(', ')}); add openai or leave it unset`);
  }
  if (Token.isUnresolved(raw)) return raw;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Error(`openAiApiBaseUrl must be an absolute URL such as https://api.openai.com/v1, got "${raw}"`);
  }
  const problem = credentialUrlProblem(url, 'openAiApiBaseUrl', raw);
  if (problem !== undefined) throw new Error(`${problem}: every request to it carries the OpenAI API key`);
  return raw.trim().replace(/\/+$/, '');
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

/** The steps module as an absolute path, refused at synth when it is not a file. */
function stepsModule(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const absolute = resolve(path);
  if (!/\.(ts|mts|js|mjs)$/.test(absolute)) throw new Error(`steps must be a .ts, .mts, .js or .mjs module that exports \`steps\`; got "${path}"`);
  if (!existsSync(absolute) || !statSync(absolute).isFile()) {
    throw new Error(`steps names ${absolute}, which is not a file: give the path of your steps module, relative to where \`cdk synth\` runs (e.g. 'src/steps.ts')`);
  }
  return absolute;
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
