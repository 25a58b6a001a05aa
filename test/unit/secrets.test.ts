import type { Logger } from '@aws-lambda-powertools/logger';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { parseSecretList, readEnabledProviders } from '../../functions/core/config';
import { ConfigurationError, ReceiverError } from '../../functions/core/errors';
import { createSecretsReader, SECRET_CACHE_SECONDS } from '../../functions/core/secrets';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:llmtune-signing-AbCdEf';
const STANDARD_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:standard-signing-AbCdEf';
const VALID_STANDARD = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

/** Error lines a reader logs, with their fields. */
function recordingLogger() {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const logger = { error: (message: string, fields: Record<string, unknown> = {}) => void lines.push({ message, fields }) } as unknown as Logger;
  return { lines, logger };
}

/** A Secrets Manager reader for `llmtune` and `standard` whose stored values are `values`. */
function awsReader(values: Record<string, unknown>, clock: () => number = () => 0) {
  const { lines, logger } = recordingLogger();
  const env = { SECRET_ARNS: JSON.stringify({ llmtune: ARN, standard: STANDARD_ARN }) };
  const read = createSecretsReader(env, readEnabledProviders({ PROVIDERS: 'llmtune,standard' }), {
    fetchSecret: async (arn) => values[arn],
    logger,
    clock,
  });
  return { read, lines };
}

/** What a read gives: the list, or the status and reason of its error. */
async function outcome(read: () => Promise<readonly string[]>): Promise<unknown> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ReceiverError) return `${error.statusCode} ${error.reason}`;
    throw error;
  }
}

describe('secrets from the environment (npm start)', () => {
  const providers = readEnabledProviders({ PROVIDERS: 'standard,together' });

  it('forgery with a degenerate Standard Webhooks secret: STANDARD_WEBHOOK_SECRET=whsec_ fails at start, naming the variable, the provider and the fix', () => {
    expect(() => createSecretsReader({ STANDARD_WEBHOOK_SECRET: 'whsec_' }, providers)).toThrow(ConfigurationError);
    expect(() => createSecretsReader({ STANDARD_WEBHOOK_SECRET: 'whsec_' }, providers)).toThrow(
      /STANDARD_WEBHOOK_SECRET \(standard\): secret 1 of 1 has an empty key; .*openssl rand -base64 32/,
    );
  });

  it('forgery with a degenerate Standard Webhooks secret: a list with one degenerate entry fails at start and names the entry, not its value', () => {
    const start = () => createSecretsReader({ STANDARD_WEBHOOK_SECRET: `${VALID_STANDARD},whsec_tooShortKey1` }, providers);

    expect(start).toThrow(/secret 2 of 2 decodes to 9 bytes/);
    expect(start).not.toThrow(/tooShortKey/);
  });

  it('reads valid secrets from the environment as before', async () => {
    const read = createSecretsReader({ STANDARD_WEBHOOK_SECRET: ` ${VALID_STANDARD} `, TOGETHER_WEBHOOK_SECRET: 'a,b' }, providers);

    expect(await read('standard')).toEqual([VALID_STANDARD]);
    expect(await read('together')).toEqual(['a', 'b']);
  });
});

describe('secrets from Secrets Manager (AWS)', () => {
  it('forgery with a degenerate Standard Webhooks secret: a refused secret is a 503 secret_invalid on every read and logged once per refresh', async () => {
    let nowMs = 5_000;
    const { read, lines } = awsReader({ [STANDARD_ARN]: '["whsec_!!!!"]' }, () => nowMs);

    const first = [await outcome(() => read('standard')), await outcome(() => read('standard')), await outcome(() => read('standard'))];
    const loggedBeforeRefresh = lines.length;
    nowMs += SECRET_CACHE_SECONDS * 1000;
    const afterRefresh = await outcome(() => read('standard'));

    expect(first).toEqual(['503 secret_invalid', '503 secret_invalid', '503 secret_invalid']);
    expect(afterRefresh).toBe('503 secret_invalid');
    expect(loggedBeforeRefresh).toBe(1);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ message: 'signing secret refused', fields: { provider: 'standard', secret: STANDARD_ARN, reason: 'secret_invalid' } });
  });

  it('forgery with a degenerate Standard Webhooks secret: a secret fixed in Secrets Manager is used as soon as its new value is read', async () => {
    const values: Record<string, unknown> = { [STANDARD_ARN]: '["whsec_"]' };
    const { read } = awsReader(values);
    await outcome(() => read('standard'));

    values[STANDARD_ARN] = JSON.stringify([VALID_STANDARD]);

    expect(await read('standard')).toEqual([VALID_STANDARD]);
  });

  it.each([
    ['a JSON array of strings', '["s1", " s2 "]', ['s1', 's2']],
    ['a comma list', 's1, s2', ['s1', 's2']],
    ['one secret', 's1', ['s1']],
    ['an empty list (not set yet)', '[]', []],
  ])('Secrets Manager value formats: %s is accepted', async (_, value, expected) => {
    const { read, lines } = awsReader({ [ARN]: value });

    expect(await read('llmtune')).toEqual(expected);
    expect(lines).toEqual([]);
  });

  it.each([
    ['a key/value JSON object', '{"a":"s1"}'],
    ['a key/value JSON object of several keys', '{"a":"s1","b":"s2"}'],
    ['a JSON array holding a non-string', '["s1", 2]'],
    ['a JSON array that does not parse', '["s1", "s2"'],
    ['a JSON string', '"s1"'],
    ['a binary secret', new Uint8Array([115, 49])],
  ])('Secrets Manager value formats: %s is refused with one log line naming the secret and the expected format', async (_, value) => {
    const { read, lines } = awsReader({ [ARN]: value });

    const results = [await outcome(() => read('llmtune')), await outcome(() => read('llmtune'))];

    expect(results).toEqual(['503 secret_invalid', '503 secret_invalid']);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.fields).toMatchObject({ provider: 'llmtune', secret: ARN, reason: 'secret_invalid' });
    expect(String(lines[0]?.fields.detail)).toContain('a JSON array of strings');
    expect(String(lines[0]?.fields.detail)).toContain('comma-separated list');
    expect(JSON.stringify(lines)).not.toMatch(/s1|s2/);
  });
});

describe('[RULE] the secrets reader as the receiver uses it', () => {
  const TOGETHER_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:together-signing-AbCdEf';

  it('[RULE] SECRET_ARNS set but blank reads the secrets from the environment, as when unset', async () => {
    const read = createSecretsReader({ SECRET_ARNS: '  ', LLMTUNE_WEBHOOK_SECRET: 's1,s2' }, readEnabledProviders({ PROVIDERS: 'llmtune' }));

    expect(await read('llmtune')).toEqual(['s1', 's2']);
  });

  it('[RULE] from the environment, a provider whose variable is unset, or that is not enabled, has no secret', async () => {
    const read = createSecretsReader({ LLMTUNE_WEBHOOK_SECRET: 's1' }, readEnabledProviders({ PROVIDERS: 'llmtune,together' }));

    expect([await read('together'), await read('standard')]).toEqual([[], []]);
  });

  it.each([
    ['not JSON', `{llmtune: ${ARN}}`],
    ['a JSON array', JSON.stringify([ARN])],
    ['JSON null', 'null'],
    ['a JSON string', JSON.stringify(ARN)],
  ])('[RULE] SECRET_ARNS that is %s fails at start, saying what it must be', (_, value) => {
    const start = () => createSecretsReader({ SECRET_ARNS: value }, readEnabledProviders({ PROVIDERS: 'llmtune' }), { fetchSecret: async () => 's1' });

    expect(start).toThrow(ConfigurationError);
    expect(start).toThrow(/^SECRET_ARNS must be a JSON object of provider → secret ARN$/);
  });

  it('[RULE] SECRET_ARNS without a secret for an enabled provider fails at start, naming the providers', () => {
    const start = () =>
      createSecretsReader({ SECRET_ARNS: JSON.stringify({ llmtune: ARN, together: '' }) }, readEnabledProviders({ PROVIDERS: 'llmtune,together,standard' }), { fetchSecret: async () => 's1' });

    expect(start).toThrow(/^SECRET_ARNS has no secret for: together, standard$/);
  });

  it('[RULE] a provider SECRET_ARNS names but that is not enabled has no secret, and its secret is never read', async () => {
    const fetched: string[] = [];
    const read = createSecretsReader({ SECRET_ARNS: JSON.stringify({ llmtune: ARN, together: TOGETHER_ARN }) }, readEnabledProviders({ PROVIDERS: 'llmtune' }), {
      fetchSecret: async (arn) => {
        fetched.push(arn);
        return 's1';
      },
    });

    expect(await read('together')).toEqual([]);
    expect(fetched).toEqual([]);
  });

  it('[RULE] a refused secret is logged once while its check is cached, even as time passes within the cache period', async () => {
    let nowMs = 5_000;
    const { read, lines } = awsReader({ [ARN]: '{"a":"s1"}' }, () => nowMs);

    await outcome(() => read('llmtune'));
    nowMs += 60_000;
    await outcome(() => read('llmtune'));
    nowMs += SECRET_CACHE_SECONDS * 1000 - 60_001;
    await outcome(() => read('llmtune'));

    expect(lines).toHaveLength(1);
  });

  it('[RULE] the log line of a refused secret names its ARN and provider in the detail; the 503 error names the provider and points to that line', async () => {
    const { read, lines } = awsReader({ [ARN]: '"s1"' });

    const error = await read('llmtune').catch((caught: unknown) => caught);

    expect(String(lines[0]?.fields.detail)).toMatch(new RegExp(`^secret ${ARN} \\(llmtune\\) holds a JSON string`));
    expect(error).toBeInstanceOf(ReceiverError);
    expect((error as Error).message).toBe('the signing secret of llmtune is refused: see the "signing secret refused" log line');
  });

  it('[RULE] a reader given no logger still refuses an invalid secret with 503 secret_invalid', async () => {
    const read = createSecretsReader({ SECRET_ARNS: JSON.stringify({ llmtune: ARN }) }, readEnabledProviders({ PROVIDERS: 'llmtune' }), { fetchSecret: async () => '{"a":"s1"}' });

    expect(await outcome(() => read('llmtune'))).toBe('503 secret_invalid');
  });
});

describe('[RULE] secrets read from Secrets Manager itself', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  afterEach(() => {
    secretsManager.reset();
    vi.useRealTimers();
  });
  afterAll(() => secretsManager.restore());

  it('[RULE] the stored list is read by the secret ARN, and read again only after the cache period (rotation takes effect within it)', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2026, 0, 15) });
    const asked: string[] = [];
    secretsManager.on(GetSecretValueCommand).callsFake((input: { SecretId?: string }) => {
      asked.push(String(input.SecretId));
      return { SecretString: asked.length === 1 ? '["s1","s2"]' : '["s3"]' };
    });
    const read = createSecretsReader({ SECRET_ARNS: JSON.stringify({ llmtune: ARN }) }, readEnabledProviders({ PROVIDERS: 'llmtune' }));

    const first = await read('llmtune');
    vi.advanceTimersByTime(60_000);
    const withinCache = await read('llmtune');
    vi.advanceTimersByTime(SECRET_CACHE_SECONDS * 1000);
    const afterCache = await read('llmtune');

    expect([first, withinCache, afterCache]).toEqual([['s1', 's2'], ['s1', 's2'], ['s3']]);
    expect(asked).toEqual([ARN, ARN]);
  });
});

describe('parseSecretList', () => {
  it('Secrets Manager value formats: refuses a key/value JSON object instead of splitting it into garbage keys', () => {
    expect(() => parseSecretList('{"a":"s1","b":"s2"}', 'LLMTUNE_WEBHOOK_SECRET')).toThrow(
      /LLMTUNE_WEBHOOK_SECRET holds a JSON object.*JSON array of strings.*comma-separated list/,
    );
  });

  it('Secrets Manager value formats: a JSON array that does not parse is refused without quoting the value', () => {
    expect(() => parseSecretList('["hunter2"', 'X')).toThrow(ConfigurationError);
    expect(() => parseSecretList('["hunter2"', 'X')).not.toThrow(/hunter2/);
  });

  it('drops blank entries of either format', () => {
    expect(parseSecretList(' a , ,b,')).toEqual(['a', 'b']);
    expect(parseSecretList('["a", " ", "b"]')).toEqual(['a', 'b']);
    expect(parseSecretList(undefined)).toEqual([]);
  });
});
