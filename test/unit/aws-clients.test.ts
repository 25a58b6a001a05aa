import { afterEach, describe, expect, it, vi } from 'vitest';
import { AWS_CALL_BUDGET, AWS_CALL_WORST_CASE_MS, clientConfig, EFFECT_CALL_BUDGET, EFFECT_CALL_WORST_CASE_MS, effectClientConfig } from '../../functions/core/aws';
import { defaultProvider } from '../../functions/core/env-credentials';

/*
 * The settings every AWS client of the functions is built with (docs/reliability.md): bounded calls
 * that a dependency cannot hold open, one attempt for effects a repeat would duplicate, and the
 * emulators' endpoint and credentials only when an endpoint is given.
 */

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('AWS clients', () => {
  it('[RULE] in AWS a client uses its own endpoint and the role’s credentials, two attempts, and fails a call the service does not answer in time', () => {
    expect(clientConfig()).toStrictEqual({
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_500, throwOnRequestTimeout: true },
    });
  });

  it('[RULE] against an emulator a client takes its endpoint, us-east-1 unless told, and stand-in credentials', () => {
    expect(clientConfig({ endpoint: 'http://127.0.0.1:4567' })).toMatchObject({
      endpoint: 'http://127.0.0.1:4567',
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    expect(clientConfig({ endpoint: 'http://127.0.0.1:4567', region: 'eu-west-1' })).toMatchObject({ region: 'eu-west-1' });
  });

  it('[RULE] an effect client (PutEvents, Publish) makes one attempt, 1 s to connect and 10 s for the answer, still failing on timeout', () => {
    expect(effectClientConfig()).toStrictEqual({
      maxAttempts: EFFECT_CALL_BUDGET.maxAttempts,
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
    });
    expect(EFFECT_CALL_BUDGET.maxAttempts).toBe(1);
    expect(AWS_CALL_BUDGET.maxAttempts).toBe(2);
    expect(effectClientConfig({ endpoint: 'http://127.0.0.1:4567' })).toMatchObject({ endpoint: 'http://127.0.0.1:4567', maxAttempts: 1 });
  });

  it('[RULE] one call takes at worst 8 s (two attempts at their timeouts and the back-off between), an effect call 11 s: inside the 30 s a sender waits', () => {
    expect(AWS_CALL_WORST_CASE_MS).toBe(2 * (1_000 + 2_500) + 1_000);
    expect(EFFECT_CALL_WORST_CASE_MS).toBe(11_000);
  });

  it('[RULE] a bundled function reads the role’s credentials Lambda puts in its environment', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret-example');
    vi.stubEnv('AWS_SESSION_TOKEN', 'token-example');

    const credentials = await defaultProvider()();

    expect(credentials).toMatchObject({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret-example', sessionToken: 'token-example' });
  });
});
