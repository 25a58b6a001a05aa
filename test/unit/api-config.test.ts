import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isLoopbackHost } from '../../functions/core/credential-url';
import { ConfigurationError, DependencyError } from '../../functions/core/errors';
import { SECRET_CACHE_SECONDS } from '../../functions/core/secrets';
import { createApiKeyReader, readApiKeySource, readBaseUrl } from '../../functions/poller/config';
import { DEFAULT_TOGETHER_API_BASE_URL } from '../../functions/poller/together-api';

/*
 * How a provider API client reads its configuration, through Together's (the poller's and the batch
 * copy's): the base URL, where the key comes from, and the key itself from Secrets Manager.
 */

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:together-api-key-AbCdEf';

/** A Secrets Manager client whose GetSecretValue answers `answer` (or fails with it), counting the calls. */
function secretsClient(answer: () => Promise<unknown>) {
  const client = new SecretsManagerClient({ region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const calls = { count: 0 };
  client.send = (async () => {
    calls.count += 1;
    return answer();
  }) as never;
  return { client, calls };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('a provider API’s configuration', () => {
  it.each([
    ['unset', undefined],
    ['empty', ''],
    ['blank', '   '],
  ])('[RULE] a base URL %s is the provider’s public API', (_case, value) => {
    expect(readBaseUrl({ TOGETHER_API_BASE_URL: value })).toBe(DEFAULT_TOGETHER_API_BASE_URL);
  });

  it('[RULE] a base URL is read without the spaces and the trailing slashes around it', () => {
    expect(readBaseUrl({ TOGETHER_API_BASE_URL: '  https://api.together.example/v1//  ' })).toBe('https://api.together.example/v1');
  });

  it('[RULE] a plain-http base URL off this machine is refused with the variable, the rule, the value and both ways out', () => {
    expect(() => readBaseUrl({ TOGETHER_API_BASE_URL: 'http://api.together.example/v1' })).toThrow(
      new ConfigurationError(
        'TOGETHER_API_BASE_URL must be https:// (plain http only to 127.0.0.0/8, [::1] or localhost); got "http://api.together.example/v1": ' +
          'every request to it carries the Together API key, which must not cross a network in clear text; ' +
          'set it to https://api.together.xyz/v1 (or unset it), or to a stand-in on this machine',
      ),
    );
  });

  it.each(['https://api.together.example/v1', 'http://127.100.200.254:8080/v1', 'http://localhost:9999/v1', 'http://[::1]:9999/v1'])(
    '[RULE] a base URL that may carry the key is taken: %s',
    (url) => {
      expect(readBaseUrl({ TOGETHER_API_BASE_URL: url })).toBe(url);
    },
  );

  it.each(['ftp://127.0.0.1/v1', 'http://128.0.0.1/v1', 'http://10.127.0.1/v1', 'http://localhost.example/v1'])(
    '[RULE] a base URL that would send the key off this machine in clear text, or over another protocol, is refused: %s',
    (url) => {
      expect(() => readBaseUrl({ TOGETHER_API_BASE_URL: url })).toThrow(`TOGETHER_API_BASE_URL must be https:// (plain http only to 127.0.0.0/8, [::1] or localhost); got "${url}"`);
    },
  );

  it('[RULE] a host name that only ends like a loopback address is not loopback', () => {
    expect(isLoopbackHost('evil127.0.0.1')).toBe(false);
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
  });

  it('[RULE] the key’s secret ARN and the local key are read without spaces; the ARN wins over the local key', () => {
    expect(readApiKeySource({ TOGETHER_API_KEY_SECRET_ARN: ` ${ARN} `, TOGETHER_API_KEY: 'tgp_local' })).toEqual({ secretArn: ARN });
    expect(readApiKeySource({ TOGETHER_API_KEY_SECRET_ARN: ' ', TOGETHER_API_KEY: ' tgp_local ' })).toEqual({ value: 'tgp_local' });
  });

  it.each([
    ['neither is set', {}],
    ['both are blank', { TOGETHER_API_KEY_SECRET_ARN: '', TOGETHER_API_KEY: '  ' }],
  ])('[RULE] when %s, the error names the secret’s variable and the local one', (_case, env) => {
    expect(() => readApiKeySource(env)).toThrow(
      new ConfigurationError('environment variable TOGETHER_API_KEY_SECRET_ARN is required but not set (in the local runtime, set TOGETHER_API_KEY instead)'),
    );
  });

  it('[RULE] a local key is the key as given, read without Secrets Manager', async () => {
    const { client, calls } = secretsClient(async () => ({ SecretString: 'tgp_secret' }));

    const read = createApiKeyReader({ value: 'tgp_local' }, client);

    expect(await read()).toBe('tgp_local');
    expect(calls.count).toBe(0);
  });

  it('[RULE] a key in Secrets Manager is read without spaces, and read again only after the cache time, so a rotated key takes effect', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2026-11-01T12:00:00Z'));
    let stored = ' tgp_first ';
    const { client, calls } = secretsClient(async () => ({ SecretString: stored }));
    const read = createApiKeyReader({ secretArn: ARN }, client);

    const first = await read();
    stored = 'tgp_rotated';
    vi.setSystemTime(Date.parse('2026-11-01T12:00:00Z') + (SECRET_CACHE_SECONDS - 1) * 1000);
    const cached = await read();
    vi.setSystemTime(Date.parse('2026-11-01T12:00:00Z') + (SECRET_CACHE_SECONDS + 1) * 1000);
    const rotated = await read();

    expect([first, cached, rotated]).toEqual(['tgp_first', 'tgp_first', 'tgp_rotated']);
    expect(calls.count).toBe(2);
  });

  it('[RULE] Secrets Manager failing is a retryable 503 that names the provider and keeps the cause for the log', async () => {
    const outage = new Error('ThrottlingException: Rate exceeded');
    const { client } = secretsClient(async () => Promise.reject(outage));

    const failure = await createApiKeyReader({ secretArn: ARN }, client)().then(
      () => expect.fail('expected a failure'),
      (error: unknown) => error as DependencyError,
    );

    expect(failure).toBeInstanceOf(DependencyError);
    expect(failure).toMatchObject({ statusCode: 503, reason: 'secrets_unavailable', message: 'could not read the Together API key from Secrets Manager' });
    expect((failure.cause as Error).message).toContain('Rate exceeded');
  });

  it.each([
    ['an empty string', { SecretString: '' }],
    ['a blank string', { SecretString: '   ' }],
    ['binary', { SecretBinary: new Uint8Array([1, 2, 3]) }],
  ])('[RULE] a secret that holds %s is a configuration error saying to store the key as a plain string', async (_case, answer) => {
    const { client } = secretsClient(async () => answer);

    await expect(createApiKeyReader({ secretArn: ARN }, client)()).rejects.toThrow(
      new ConfigurationError('the secret TOGETHER_API_KEY_SECRET_ARN names is empty; store the Together API key in it as a plain string'),
    );
  });
});
