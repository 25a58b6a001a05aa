import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/core/errors';
import { ROUTES } from '../../functions/core/routes';
import { readPollerConfig } from '../../functions/poller/config';
import { DEFAULT_TOGETHER_API_BASE_URL } from '../../functions/poller/together-api';

const BASE = {
  TABLE_NAME: 'events',
  QUEUE_URLS: JSON.stringify(Object.fromEntries(ROUTES.map((route) => [route, `https://sqs.example/${route}`]))),
  POLLER_TABLE_NAME: 'poller',
  TOGETHER_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:together-api-key',
};

describe('poller configuration', () => {
  it('defaults to the public Together API and documented limits', () => {
    const config = readPollerConfig(BASE);

    expect(config).toMatchObject({
      baseUrl: DEFAULT_TOGETHER_API_BASE_URL,
      apiKey: { secretArn: BASE.TOGETHER_API_KEY_SECRET_ARN },
      limits: { maxJobsPerRun: 50, timeBudgetMs: 50_000, backfillSeconds: 86_400 },
      retry: { maxAttempts: 4, requestTimeoutMs: 10_000 },
      retentionSeconds: 7 * 86_400,
    });
  });

  it('names POLLER_TABLE_NAME when it is missing', () => {
    expect(() => readPollerConfig({ ...BASE, POLLER_TABLE_NAME: undefined })).toThrow(/POLLER_TABLE_NAME is required/);
  });

  it('names both key variables when neither is set', () => {
    expect(() => readPollerConfig({ ...BASE, TOGETHER_API_KEY_SECRET_ARN: undefined })).toThrow(/TOGETHER_API_KEY_SECRET_ARN .*TOGETHER_API_KEY/);
  });

  it('takes TOGETHER_API_KEY directly when no secret is named (local runtime)', () => {
    expect(readPollerConfig({ ...BASE, TOGETHER_API_KEY_SECRET_ARN: '', TOGETHER_API_KEY: 'local-key' }).apiKey).toEqual({ value: 'local-key' });
  });

  it('rejects a base URL that is not an absolute https URL, naming the variable', () => {
    expect(() => readPollerConfig({ ...BASE, TOGETHER_API_BASE_URL: 'api.together.xyz' })).toThrow(/TOGETHER_API_BASE_URL must be an absolute URL/);
    expect(() => readPollerConfig({ ...BASE, TOGETHER_API_BASE_URL: 'ftp://example.com/v1' })).toThrow(/TOGETHER_API_BASE_URL must be https:\/\//);
  });

  it('[H3-15] refuses a plain http TOGETHER_API_BASE_URL that is not loopback, naming the variable and the fix', () => {
    const refusal = () => readPollerConfig({ ...BASE, TOGETHER_API_BASE_URL: 'http://example.com/v1' });

    expect(refusal).toThrow(ConfigurationError);
    expect(refusal).toThrow(/TOGETHER_API_BASE_URL must be https:\/\/ .*got "http:\/\/example\.com\/v1"/);
  });

  it('[H3-15] accepts an https TOGETHER_API_BASE_URL and plain http on loopback', () => {
    const secure = readPollerConfig({ ...BASE, TOGETHER_API_BASE_URL: 'https://api.together.example/v1' });
    const loopback = readPollerConfig({ ...BASE, TOGETHER_API_BASE_URL: 'http://127.0.0.1:9999/v1' });

    expect(secure.baseUrl).toBe('https://api.together.example/v1');
    expect(loopback.baseUrl).toBe('http://127.0.0.1:9999/v1');
  });

  it('reads the limits from their variables and rejects values out of range', () => {
    const config = readPollerConfig({ ...BASE, POLL_MAX_JOBS_PER_RUN: '5', POLL_TIME_BUDGET_SECONDS: '20', POLL_BACKFILL_HOURS: '0' });

    expect(config.limits).toEqual({ maxJobsPerRun: 5, timeBudgetMs: 20_000, backfillSeconds: 0 });
    expect(() => readPollerConfig({ ...BASE, TOGETHER_MAX_ATTEMPTS: '0' })).toThrow(/TOGETHER_MAX_ATTEMPTS must be a whole number from 1 to 10/);
  });

  it('[RULE] POLL_BACKFILL_HOURS takes up to a year of hours, and TOGETHER_REQUEST_TIMEOUT_SECONDS sets the per-request timeout', () => {
    const config = readPollerConfig({ ...BASE, POLL_BACKFILL_HOURS: '8760', TOGETHER_REQUEST_TIMEOUT_SECONDS: '5' });

    expect([config.limits.backfillSeconds, config.retry.requestTimeoutMs]).toEqual([8_760 * 3_600, 5_000]);
    expect(() => readPollerConfig({ ...BASE, POLL_BACKFILL_HOURS: '8761' })).toThrow(/POLL_BACKFILL_HOURS must be a whole number from 0 to 8760/);
  });
});
