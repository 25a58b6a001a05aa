import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LEASE_SECONDS,
  DEFAULT_MAX_BODY_BYTES,
  MAX_BODY_BYTES_LIMIT,
  parseSecretList,
  readAcceptSettings,
  readEnabledProviders,
  readReceiverConfig,
  readRetention,
  readSecretList,
  requireEnv,
} from '../../functions/core/config';
import { ConfigurationError } from '../../functions/core/errors';
import { PROVIDER_NAMES } from '../../functions/core/event';
import { ROUTES } from '../../functions/core/routes';

/**
 * The receiver's configuration as an operator sets it (docs/configuration.md): each variable's
 * default, its bounds, and the start-up error that names the variable at fault.
 */
const DAY_SECONDS = 86_400;
const QUEUE_URLS = JSON.stringify(Object.fromEntries(ROUTES.map((route) => [route, `https://sqs.example/${route}`])));
const BASE = { TABLE_NAME: 'events', QUEUE_URLS };

/** The message of the start-up error `read` throws (a ConfigurationError), or "no error". */
function refusal(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    if (error instanceof ConfigurationError) return error.message;
    throw error;
  }
  return 'no error';
}

describe('required variables', () => {
  it.each([
    ['unset', undefined],
    ['empty', ''],
    ['blank', '   '],
  ])('[RULE] TABLE_NAME %s fails at start, naming the variable', (_, value) => {
    expect(refusal(() => requireEnv({ TABLE_NAME: value }, 'TABLE_NAME'))).toBe('environment variable TABLE_NAME is required but not set');
  });

  it('[RULE] a set variable is read as it is', () => {
    expect(requireEnv({ TABLE_NAME: 'events-table' }, 'TABLE_NAME')).toBe('events-table');
  });
});

describe('whole-number settings', () => {
  it.each([
    ['MAX_BODY_BYTES unset', {}, DEFAULT_MAX_BODY_BYTES],
    ['MAX_BODY_BYTES blank', { MAX_BODY_BYTES: '  ' }, DEFAULT_MAX_BODY_BYTES],
    ['MAX_BODY_BYTES empty', { MAX_BODY_BYTES: '' }, DEFAULT_MAX_BODY_BYTES],
    ['MAX_BODY_BYTES at its limit', { MAX_BODY_BYTES: String(MAX_BODY_BYTES_LIMIT) }, MAX_BODY_BYTES_LIMIT],
    ['MAX_BODY_BYTES of 1', { MAX_BODY_BYTES: '1' }, 1],
  ])('[RULE] %s gives a body cap of the documented value', (_, env, expected) => {
    expect(readReceiverConfig({ ...BASE, ...env }).maxBodyBytes).toBe(expected);
  });

  it.each([
    ['over its limit', String(MAX_BODY_BYTES_LIMIT + 1)],
    ['zero', '0'],
    ['a fraction', '1024.5'],
    ['not a number', '256k'],
  ])('[RULE] MAX_BODY_BYTES %s fails at start, naming the variable, its range and the value', (_, value) => {
    expect(refusal(() => readReceiverConfig({ ...BASE, MAX_BODY_BYTES: value }))).toBe(
      `MAX_BODY_BYTES must be a whole number from 1 to ${MAX_BODY_BYTES_LIMIT}, got "${value}"`,
    );
  });

  it('[RULE] RETENTION_DAYS and LEASE_SECONDS are read in days and seconds, with their defaults when unset or blank', () => {
    expect(readAcceptSettings({ ...BASE, RETENTION_DAYS: '30', LEASE_SECONDS: '900' })).toEqual({
      tableName: 'events',
      queueUrls: JSON.parse(QUEUE_URLS),
      retentionSeconds: 30 * DAY_SECONDS,
      leaseSeconds: 900,
    });
    expect(readAcceptSettings({ ...BASE, RETENTION_DAYS: ' ', LEASE_SECONDS: '' })).toMatchObject({ retentionSeconds: 7 * DAY_SECONDS, leaseSeconds: DEFAULT_LEASE_SECONDS });
  });

  it.each([
    ['RETENTION_DAYS', '366', 'RETENTION_DAYS must be a whole number from 7 to 365, got "366"'],
    ['RETENTION_DAYS', '6', 'RETENTION_DAYS must be a whole number from 7 to 365, got "6"'],
    ['LEASE_SECONDS', '29', 'LEASE_SECONDS must be a whole number from 30 to 900, got "29"'],
    ['LEASE_SECONDS', '901', 'LEASE_SECONDS must be a whole number from 30 to 900, got "901"'],
  ])('[RULE] %s=%s fails at start, naming the variable and its range', (name, value, message) => {
    expect(refusal(() => readAcceptSettings({ ...BASE, [name]: value }))).toBe(message);
  });
});

describe('retention per provider', () => {
  it('[RULE] unset, timestamped deliveries keep RETENTION_DAYS and untimestamped ones at least 30 days', () => {
    const retention = readRetention({ RETENTION_DAYS: '10' });

    for (const provider of PROVIDER_NAMES) {
      expect(retention.timestamped[provider]).toBe(10 * DAY_SECONDS);
      expect(retention.untimestamped[provider]).toBe(30 * DAY_SECONDS);
    }
  });

  it('[RULE] a RETENTION_DAYS over 30 days holds for untimestamped deliveries too', () => {
    expect(readRetention({ RETENTION_DAYS: '90' }).untimestamped.together).toBe(90 * DAY_SECONDS);
  });

  it('[RULE] RETENTION_DAYS_<PROVIDER> sets every delivery of that provider alone, timestamped or not', () => {
    const retention = readRetention({ RETENTION_DAYS_LLMTUNE: '8' });

    expect([retention.timestamped.llmtune, retention.untimestamped.llmtune]).toEqual([8 * DAY_SECONDS, 8 * DAY_SECONDS]);
    expect([retention.timestamped.together, retention.untimestamped.together]).toEqual([7 * DAY_SECONDS, 30 * DAY_SECONDS]);
  });

  it('[RULE] RETENTION_DAYS_<PROVIDER> out of range fails at start, naming the variable', () => {
    expect(refusal(() => readRetention({ RETENTION_DAYS_OPENAI: '400' }))).toBe('RETENTION_DAYS_OPENAI must be a whole number from 7 to 365, got "400"');
  });
});

describe('enabled providers', () => {
  it('[RULE] PROVIDERS unset enables all six with their default schemes; a list enables those alone', () => {
    expect([...readEnabledProviders({}).keys()]).toEqual([...PROVIDER_NAMES]);
    expect([...readEnabledProviders({ PROVIDERS: ' openai , together ' }).keys()]).toEqual(['openai', 'together']);
    expect(readEnabledProviders({ TOGETHER_SIGNATURE_SCHEME: 'body' }).get('together')?.spec.signatureHeader).toBe('x-together-signature');
  });

  it('[RULE] PROVIDERS set but empty fails at start and says how to enable all', () => {
    expect(refusal(() => readEnabledProviders({ PROVIDERS: ' , ' }))).toBe(
      `PROVIDERS is set but names no provider: unset it to enable all (${PROVIDER_NAMES.join(', ')}), or list some, e.g. PROVIDERS=together,standard`,
    );
  });

  it('[RULE] PROVIDERS naming an unknown provider fails at start, naming it and the known ones', () => {
    expect(refusal(() => readEnabledProviders({ PROVIDERS: 'together,stripe' }))).toBe(`PROVIDERS names unknown provider "stripe"; known: ${PROVIDER_NAMES.join(', ')}`);
  });

  it('[RULE] an unknown signature scheme fails at start, naming the variable, the schemes and the value', () => {
    expect(refusal(() => readEnabledProviders({ TOGETHER_SIGNATURE_SCHEME: 'sha1' }))).toBe('TOGETHER_SIGNATURE_SCHEME must be one of timestamped | body, got "sha1"');
  });
});

describe('QUEUE_URLS', () => {
  it('[RULE] one queue URL per route is read as given', () => {
    expect(readAcceptSettings(BASE).queueUrls).toEqual(JSON.parse(QUEUE_URLS));
  });

  it.each([
    ['not JSON', '{fine_tune.completed: x}'],
    ['a JSON array', JSON.stringify([QUEUE_URLS])],
    ['JSON null', 'null'],
    ['a JSON string', JSON.stringify('https://sqs.example/q')],
  ])('[RULE] QUEUE_URLS that is %s fails at start, saying what it must be', (_, value) => {
    expect(refusal(() => readAcceptSettings({ ...BASE, QUEUE_URLS: value }))).toBe('QUEUE_URLS must be a JSON object of route → queue URL');
  });

  it('[RULE] QUEUE_URLS without a route, or with an empty or non-string URL, fails at start, naming those routes', () => {
    const urls = { ...JSON.parse(QUEUE_URLS), 'batch.failed': '', 'model.deployed': 7 } as Record<string, unknown>;
    delete urls['fine_tune.started'];

    expect(refusal(() => readAcceptSettings({ ...BASE, QUEUE_URLS: JSON.stringify(urls) }))).toBe('QUEUE_URLS has no queue URL for: fine_tune.started, batch.failed, model.deployed');
  });

  it('[RULE] QUEUE_URLS unset fails at start, naming it', () => {
    expect(refusal(() => readAcceptSettings({ TABLE_NAME: 'events' }))).toBe('environment variable QUEUE_URLS is required but not set');
  });
});

describe('secret lists', () => {
  it('[RULE] a JSON object with leading blanks is still refused as a key/value secret, naming the default source', () => {
    expect(refusal(() => parseSecretList('  {"a":"s1,s2"}'))).toMatch(/^the secret list holds a JSON object \(a key\/value secret\)/);
  });

  it('[RULE] a JSON array that does not parse is refused as such, naming the source', () => {
    expect(refusal(() => parseSecretList('["s1", "s2"', 'LLMTUNE_WEBHOOK_SECRET'))).toMatch(/^LLMTUNE_WEBHOOK_SECRET starts with \[ but is not valid JSON; expected a JSON array/);
  });

  it('[RULE] a secret of a comma list may end with a quote character', () => {
    expect(parseSecretList('s1,s2"')).toEqual(['s1', 's2"']);
  });

  it('[RULE] an unset secret list is no secret (not a binary value)', () => {
    expect(readSecretList(undefined, 'hmac-hex', 'LLMTUNE_WEBHOOK_SECRET (llmtune)')).toEqual([]);
  });
});
