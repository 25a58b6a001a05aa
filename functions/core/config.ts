import type { AcceptSettings } from './accept';
import { ConfigurationError } from './errors';
import { PROVIDER_NAMES, type ProviderName } from './event';
import { PROVIDERS, type Provider } from './providers';
import { ROUTES, type Route } from './routes';
import type { SignatureSpec } from './verify';

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
/** The event is stored in its DynamoDB record (400 KB item limit), so bodies above this cannot be kept. */
export const MAX_BODY_BYTES_LIMIT = 350 * 1024;
export const MIN_RETENTION_DAYS = 7;
export const MAX_RETENTION_DAYS = 365;
/** Lease on an in-progress record: longer than the receiver's timeout, so a live request is never overtaken. */
export const DEFAULT_LEASE_SECONDS = 30;

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
    // Never below the receiver's timeout (25 s) and the accept path's worst case of AWS calls (21 s).
    leaseSeconds: integerEnv(env, 'LEASE_SECONDS', DEFAULT_LEASE_SECONDS, DEFAULT_LEASE_SECONDS, 900),
  };
}

export interface ReceiverConfig extends AcceptSettings {
  readonly providers: ReadonlyMap<ProviderName, EnabledProvider>;
  readonly maxBodyBytes: number;
}

/** The receiver's whole configuration, read once at start-up. */
export function readReceiverConfig(env: Env = process.env): ReceiverConfig {
  return {
    ...readAcceptSettings(env),
    providers: readEnabledProviders(env),
    maxBodyBytes: integerEnv(env, 'MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, 1, MAX_BODY_BYTES_LIMIT),
  };
}

/** A list of secrets: a JSON array of strings, or a comma-separated string. Blanks are dropped. */
export function parseSecretList(value: string | undefined): string[] {
  if (value === undefined) return [];
  const trimmed = value.trim();
  if (trimmed.startsWith('[')) {
    const parsed: unknown = JSON.parse(trimmed);
    if (!Array.isArray(parsed) || parsed.some((item) => typeof item !== 'string')) {
      throw new ConfigurationError('a secret list in JSON must be an array of strings');
    }
    return (parsed as string[]).map((item) => item.trim()).filter((item) => item !== '');
  }
  return trimmed
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
