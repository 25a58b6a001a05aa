import type { AcceptSettings } from './accept';
import { MAX_STORED_EVENT_BYTES } from './event-size';
import { ConfigurationError } from './errors';
import { PROVIDER_NAMES, type ProviderName } from './event';
import { PROVIDERS, type Provider } from './providers';
import { ROUTES, type Route } from './routes';
import { secretProblem, secretRule, type SignatureScheme, type SignatureSpec } from './verify';

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
/** Room a stored event needs beyond the body's own bytes: field names, id, type, subject, timestamps. */
export const EVENT_ENVELOPE_BYTES = 8 * 1024;
/**
 * The largest body cap, in whole KiB: a stored event is never longer than its body plus its
 * envelope (see stringifyWithin), so every body within the cap stores and queues.
 */
export const MAX_BODY_BYTES_LIMIT = Math.floor((MAX_STORED_EVENT_BYTES - EVENT_ENVELOPE_BYTES) / 1024) * 1024;
export const MIN_RETENTION_DAYS = 7;
export const MAX_RETENTION_DAYS = 365;
/** Lease on an in-progress record: longer than the receiver's timeout, so a live request is never overtaken. */
export const DEFAULT_LEASE_SECONDS = 30;
/** Retention of deliveries that carry no timestamp at all, unless their provider's own is set. */
export const UNTIMESTAMPED_RETENTION_DAYS = 30;
/**
 * The receiver function's timeout, which the stack sets. Each request is budgeted against it, with
 * RECEIVER_MARGIN_MS to spare, so that a slow dependency ends in a 503 and never in a timeout.
 */
export const RECEIVER_TIMEOUT_SECONDS = 29;
/** What a request keeps free of AWS calls: verification, logging and the answer. */
export const RECEIVER_MARGIN_MS = 1_000;

type Env = Readonly<Record<string, string | undefined>>;

/** A required variable, or a start-up error that names it. */
export function requireEnv(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigurationError(`environment variable ${name} is required but not set`);
  }
  return value;
}

/** An optional whole number within bounds, or a start-up error that names the variable and the range. */
export function integerEnv(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** The variable that picks a provider's signature scheme: `TOGETHER_SIGNATURE_SCHEME`. */
export function signatureSchemeVariable(provider: ProviderName): string {
  return `${provider.toUpperCase()}_SIGNATURE_SCHEME`;
}

/** `RETENTION_DAYS` (7–365, default 7) in seconds: how long event ids are remembered. */
export function readRetentionSeconds(env: Env): number {
  return integerEnv(env, 'RETENTION_DAYS', MIN_RETENTION_DAYS, MIN_RETENTION_DAYS, MAX_RETENTION_DAYS) * 86_400;
}

/** The variable that sets one provider's retention: `RETENTION_DAYS_LLMTUNE`. */
export function retentionVariable(provider: ProviderName): string {
  return `RETENTION_DAYS_${provider.toUpperCase()}`;
}

/** How long event ids are remembered, in seconds, per provider. */
export interface RetentionSettings {
  /** Deliveries that carry a timestamp: a signed header, or `created` / `deliveredAt` in the body. */
  readonly timestamped: Readonly<Record<ProviderName, number>>;
  /** Deliveries that carry none: only their record stops a replay, so it is kept longer. */
  readonly untimestamped: Readonly<Record<ProviderName, number>>;
}

/**
 * Each `RETENTION_DAYS_<PROVIDER>` (7–365) where set, for every delivery of that provider; else
 * `RETENTION_DAYS` for deliveries with a timestamp and at least UNTIMESTAMPED_RETENTION_DAYS for
 * those without.
 */
export function readRetention(env: Env): RetentionSettings {
  const fallback = readRetentionSeconds(env);
  const timestamped = {} as Record<ProviderName, number>;
  const untimestamped = {} as Record<ProviderName, number>;
  for (const provider of PROVIDER_NAMES) {
    const own = integerEnv(env, retentionVariable(provider), 0, MIN_RETENTION_DAYS, MAX_RETENTION_DAYS) * 86_400;
    timestamped[provider] = own || fallback;
    untimestamped[provider] = own || Math.max(fallback, UNTIMESTAMPED_RETENTION_DAYS * 86_400);
  }
  return { timestamped, untimestamped };
}

/** A provider enabled in this deployment, with the signature scheme it uses here. */
export interface EnabledProvider {
  readonly provider: Provider;
  readonly spec: SignatureSpec;
}

/** `PROVIDERS` (comma list, default all) and each `{NAME}_SIGNATURE_SCHEME`. */
export function readEnabledProviders(env: Env): ReadonlyMap<ProviderName, EnabledProvider> {
  const names = (env.PROVIDERS ?? PROVIDER_NAMES.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  // Set but empty would start a receiver that answers 404 to everyone while /health says ok.
  if (names.length === 0) {
    throw new ConfigurationError(
      `PROVIDERS is set but names no provider: unset it to enable all (${PROVIDER_NAMES.join(', ')}), or list some, e.g. PROVIDERS=together,standard`,
    );
  }
  const enabled = new Map<ProviderName, EnabledProvider>();
  for (const name of names) {
    if (!(PROVIDER_NAMES as readonly string[]).includes(name)) {
      throw new ConfigurationError(`PROVIDERS names unknown provider "${name}"; known: ${PROVIDER_NAMES.join(', ')}`);
    }
    const provider = PROVIDERS[name as ProviderName];
    const schemeVariable = signatureSchemeVariable(provider.name);
    const scheme = env[schemeVariable]?.trim() || provider.defaultSignatureScheme;
    const spec = provider.signatureSchemes[scheme];
    if (spec === undefined) {
      throw new ConfigurationError(
        `${schemeVariable} must be one of ${Object.keys(provider.signatureSchemes).join(' | ')}, got "${scheme}"`,
      );
    }
    enabled.set(provider.name, { provider, spec });
  }
  return enabled;
}

/** `QUEUE_URLS`: a JSON object with one queue URL per canonical route. */
export function readQueueUrls(env: Env): Readonly<Record<Route, string>> {
  const raw = requireEnv(env, 'QUEUE_URLS');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigurationError('QUEUE_URLS must be a JSON object of route → queue URL');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError('QUEUE_URLS must be a JSON object of route → queue URL');
  }
  const urls = parsed as Record<string, unknown>;
  const missing = ROUTES.filter((route) => typeof urls[route] !== 'string' || urls[route] === '');
  if (missing.length > 0) throw new ConfigurationError(`QUEUE_URLS has no queue URL for: ${missing.join(', ')}`);
  return urls as Record<Route, string>;
}

/** `TABLE_NAME`, `QUEUE_URLS`, `RETENTION_DAYS`, `LEASE_SECONDS`: what every user of the write path reads. */
export function readAcceptSettings(env: Env): AcceptSettings {
  return {
    tableName: requireEnv(env, 'TABLE_NAME'),
    queueUrls: readQueueUrls(env),
    retentionSeconds: readRetentionSeconds(env),
    // Never below the receiver's timeout (29 s) and the accept path's worst case of AWS calls (24 s).
    leaseSeconds: integerEnv(env, 'LEASE_SECONDS', DEFAULT_LEASE_SECONDS, DEFAULT_LEASE_SECONDS, 900),
  };
}

export interface ReceiverConfig extends AcceptSettings {
  readonly providers: ReadonlyMap<ProviderName, EnabledProvider>;
  readonly retention: RetentionSettings;
  readonly maxBodyBytes: number;
}

/** The receiver's whole configuration, read once at start-up. */
export function readReceiverConfig(env: Env = process.env): ReceiverConfig {
  return {
    ...readAcceptSettings(env),
    providers: readEnabledProviders(env),
    retention: readRetention(env),
    maxBodyBytes: integerEnv(env, 'MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, 1, MAX_BODY_BYTES_LIMIT),
  };
}

/** The formats a list of signing secrets may take, as refusals name them. */
export const SECRET_LIST_FORMAT = 'a JSON array of strings (["secret1","secret2"]) or a comma-separated list (secret1,secret2)';

/**
 * A list of secrets: a JSON array of strings, or a comma-separated string. Blanks are dropped.
 * Anything else (a key/value JSON object, a JSON string, an array holding a non-string, JSON that
 * does not parse) is a {@link ConfigurationError} naming `source` and the expected format: never
 * split on commas into keys nobody meant. Messages never quote the value.
 */
export function parseSecretList(value: string | undefined, source = 'the secret list'): string[] {
  if (value === undefined) return [];
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) throw new ConfigurationError(`${source} holds a JSON object (a key/value secret); expected ${SECRET_LIST_FORMAT}`);
  if (trimmed.startsWith('"')) throw new ConfigurationError(`${source} holds a JSON string; expected ${SECRET_LIST_FORMAT}`);
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      // Not the parser's message: it quotes the text around the error, which is the secret.
      throw new ConfigurationError(`${source} starts with [ but is not valid JSON; expected ${SECRET_LIST_FORMAT}`);
    }
    if (!Array.isArray(parsed) || parsed.some((item) => typeof item !== 'string')) {
      throw new ConfigurationError(`${source} is a JSON array holding something other than strings; expected ${SECRET_LIST_FORMAT}`);
    }
    return (parsed as string[]).map((item) => item.trim()).filter((item) => item !== '');
  }
  return trimmed
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/**
 * The active secrets of one provider, each checked for `scheme`: {@link parseSecretList}, then
 * every entry against {@link secretProblem}. A value that is not a string (a binary secret) is
 * refused too. Throws a {@link ConfigurationError} that names `source` (a variable or a secret's
 * ARN, never the value), the entry and the fix.
 */
export function readSecretList(value: unknown, scheme: SignatureScheme, source: string): string[] {
  if (value !== undefined && typeof value !== 'string') {
    throw new ConfigurationError(`${source} holds a binary value; expected ${SECRET_LIST_FORMAT}`);
  }
  const secrets = parseSecretList(value, source);
  secrets.forEach((secret, index) => {
    const problem = secretProblem(scheme, secret);
    if (problem !== undefined) {
      throw new ConfigurationError(`${source}: secret ${index + 1} of ${secrets.length} ${problem}; ${secretRule(scheme)}`);
    }
  });
  return secrets;
}
