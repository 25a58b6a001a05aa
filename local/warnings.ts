import { retentionVariable, signatureSchemeVariable } from '../functions/core/config';
import { PROVIDER_NAMES } from '../functions/core/provider-names';
import { nearest } from '../functions/core/nearest';
import { PROVIDERS } from '../functions/core/providers';

// Here too for the callers that import it from here; on its own in sdk-warning.ts, so that the bin
// installs it without the providers this file reads.
export { quietSdkNodeWarning, sdkNodeWarningFilter } from './sdk-warning';

/**
 * The variables `npm start` and the project's tools read (README, "Local configuration"; the
 * per-provider names come from the providers themselves). A set variable that looks like one of
 * them but is not (`TOGETHER_WEBHOOK_SECRETS`) is most likely a typo that silently does nothing.
 */
export const KNOWN_VARIABLES: readonly string[] = [
  'PORT',
  'HOST',
  'DYNAMODB_PORT',
  'SQS_PORT',
  'PROVIDERS',
  'MAX_BODY_BYTES',
  'RETENTION_DAYS',
  'LEASE_SECONDS',
  'LOCAL_VISIBILITY_TIMEOUT_SECONDS',
  'LOCAL_FAKE_PROVIDERS',
  'FAKE_PROVIDERS_PORT',
  ...PROVIDER_NAMES.flatMap((name) => [PROVIDERS[name].secretEnv, signatureSchemeVariable(name), retentionVariable(name)]),
  'TOGETHER_API_KEY',
  'TOGETHER_API_BASE_URL',
  'TOGETHER_POLL_INTERVAL_SECONDS',
  'TOGETHER_REQUEST_TIMEOUT_SECONDS',
  'TOGETHER_MAX_ATTEMPTS',
  'POLL_MAX_JOBS_PER_RUN',
  'POLL_TIME_BUDGET_SECONDS',
  'POLL_BACKFILL_HOURS',
  'OPENAI_API_KEY',
  'OPENAI_API_BASE_URL',
  // Read in AWS (the poller function, `cdk synth`) or by the `webhooks` command: known, so never a typo.
  'TOGETHER_API_KEY_SECRET_ARN',
  'OPENAI_API_KEY_SECRET_ARN',
  'WEBHOOKS_DEBUG',
  'WEBHOOKS_BUNDLE_TRACING',
];

/**
 * Variables under a project prefix that other tools read (OpenAI's and Replicate's SDKs and
 * CLIs): set in many shells, never a typo of ours, so never warned about, nor offered as a
 * nearest name. (OpenAI's `OPENAI_API_KEY` is one of ours too: the consumers read OpenAI's API with it.)
 */
const OTHER_TOOLS_VARIABLES: ReadonlySet<string> = new Set(['OPENAI_BASE_URL', 'OPENAI_ORG_ID', 'OPENAI_PROJECT_ID', 'REPLICATE_API_TOKEN']);

/**
 * The prefixes of the project's own variables: one per provider, and the local runtime's. Other
 * tools' variables (`OPENAI_API_KEY`, `AWS_PROFILE`) are none of the project's business.
 */
export const PROJECT_PREFIXES: readonly string[] = [...PROVIDER_NAMES.map((name) => `${name.toUpperCase()}_`), 'RETENTION_DAYS', 'LOCAL_', 'WEBHOOKS_'];

/**
 * One warning line for each set variable with a project prefix that the project does not read,
 * naming the known variable nearest to it by edit distance.
 */
export function unknownVariableWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = new Set(KNOWN_VARIABLES);
  return Object.keys(env)
    .filter(
      (name) => env[name] !== undefined && !known.has(name) && !OTHER_TOOLS_VARIABLES.has(name) && PROJECT_PREFIXES.some((prefix) => name.startsWith(prefix)),
    )
    .sort()
    .map((name) => `warning: ${name} is set but is not a variable of this project; did you mean ${nearest(name, KNOWN_VARIABLES)}? (see README, "Local configuration")`);
}
