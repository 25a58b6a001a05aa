import { PROVIDER_NAMES } from '../functions/core/event';
import { nearest } from '../functions/core/nearest';
import { providerPascal, STACK_NAME_CONTEXT_KEY } from '../functions/core/stack-outputs';

/**
 * The receiver's settings as CDK context keys (`-c key=value`), the ones `receiverPropsFromContext`
 * reads: the one list of them, which the synth-time check below and the docs' test both use.
 */
export const RECEIVER_CONTEXT_KEYS: readonly string[] = [
  'providers',
  'togetherSignatureScheme',
  'maxBodyBytes',
  'retentionDays',
  ...PROVIDER_NAMES.map((provider) => `retentionDays${providerPascal(provider)}`),
  'removalPolicy',
  'alarmEmail',
  'throttlingRateLimit',
  'throttlingBurstLimit',
  'togetherPolling',
  'togetherPollMinutes',
  'eventBus',
  'eventArchiveRetentionDays',
  'listeners',
  'tracing',
  'batchResults',
  'batchResultsExpirationDays',
  'openAiApiBaseUrl',
  'endpoint',
  'functionUrlConcurrency',
  'logLevel',
  'steps',
];

/** Every context key the app reads: the stack name and the receiver's settings. */
export const APP_CONTEXT_KEYS: readonly string[] = [STACK_NAME_CONTEXT_KEY, ...RECEIVER_CONTEXT_KEYS];

/** Keys the CDK CLI itself keeps in the context with none of the marks `isCdkContextKey` looks for. */
const CDK_PLAIN_KEYS: ReadonlySet<string> = new Set(['acknowledged-issue-numbers', 'cli-telemetry']);

/**
 * Whether `key` belongs to CDK rather than to this app: feature flags (`@aws-cdk/...`), the CLI's
 * own settings (`aws:cdk:...`), lookups cached in `cdk.context.json` (`availability-zones:...`)
 * and the CLI's plain keys.
 */
export function isCdkContextKey(key: string): boolean {
  return key.includes(':') || key.startsWith('@') || key.startsWith('cdk') || CDK_PLAIN_KEYS.has(key);
}

/**
 * Throws for each context key that is neither the app's nor CDK's, naming the app's key nearest to
 * it: a misspelt `-c eventbus=true` would otherwise be ignored and deploy the default.
 */
export function checkContextKeys(keys: Iterable<string>): void {
  const known = new Set(APP_CONTEXT_KEYS);
  const unknown = [...keys].filter((key) => !known.has(key) && !isCdkContextKey(key));
  if (unknown.length === 0) return;
  throw new Error(
    unknown
      .map((key) => `unknown context key ${key}; did you mean ${nearest(key, APP_CONTEXT_KEYS)}? (see docs/configuration.md, Deploy settings)`)
      .join('\n'),
  );
}

/** Reads a context value that may be given on the command line (`-c key=value`, always a string). */
export type ContextReader = (key: string) => unknown;

/** `read`, refusing any key not in {@link RECEIVER_CONTEXT_KEYS}, so that the list cannot fall behind what is read. */
export function receiverContextReader(read: ContextReader): ContextReader {
  return (key) => {
    if (!RECEIVER_CONTEXT_KEYS.includes(key)) throw new Error(`context key ${key} is read but is not in RECEIVER_CONTEXT_KEYS (infra/context.ts)`);
    return read(key);
  };
}
