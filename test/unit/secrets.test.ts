import type { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
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
