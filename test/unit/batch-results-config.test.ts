import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/core/errors';
import { batchResultsFromEnv } from '../../functions/consumers/routes/batch-results';

const BASE = { RESULTS_BUCKET_NAME: 'results', TOGETHER_API_KEY: 'local-key' };
const s3 = new S3Client({ region: 'us-east-1' });

describe('batch results configuration', () => {
  it('names RESULTS_BUCKET_NAME when it is missing', () => {
    expect(() => batchResultsFromEnv({ ...BASE, RESULTS_BUCKET_NAME: undefined }, { s3 })).toThrow(/RESULTS_BUCKET_NAME is required/);
  });

  it('[H3-15] refuses a plain http TOGETHER_API_BASE_URL that is not loopback, naming the variable and the fix', () => {
    const refusal = () => batchResultsFromEnv({ ...BASE, TOGETHER_API_BASE_URL: 'http://example.com/v1' }, { s3 });

    expect(refusal).toThrow(ConfigurationError);
    expect(refusal).toThrow(/TOGETHER_API_BASE_URL must be https:\/\/ .*got "http:\/\/example\.com\/v1"/);
  });

  it('[H3-15] accepts an https TOGETHER_API_BASE_URL and plain http on loopback', () => {
    const secure = () => batchResultsFromEnv({ ...BASE, TOGETHER_API_BASE_URL: 'https://api.together.example/v1' }, { s3 });
    const loopback = () => batchResultsFromEnv({ ...BASE, TOGETHER_API_BASE_URL: 'http://127.0.0.1:9999/v1' }, { s3 });

    expect(secure).not.toThrow();
    expect(loopback).not.toThrow();
  });

  it('[P-OAI2] serves OpenAI alone from OPENAI_API_KEY, refusing a plain http OPENAI_API_BASE_URL off loopback', () => {
    const openAiOnly = { RESULTS_BUCKET_NAME: 'results', OPENAI_API_KEY: 'sk-local' };

    expect(() => batchResultsFromEnv(openAiOnly, { s3 })).not.toThrow();
    expect(() => batchResultsFromEnv({ ...openAiOnly, OPENAI_API_BASE_URL: 'http://example.com/v1' }, { s3 })).toThrow(/OPENAI_API_BASE_URL must be https:\/\//);
  });

  it('[P-OAI2] names both providers’ key variables when neither is set', () => {
    expect(() => batchResultsFromEnv({ RESULTS_BUCKET_NAME: 'results' }, { s3 })).toThrow(/TOGETHER_API_KEY_SECRET_ARN or OPENAI_API_KEY_SECRET_ARN/);
  });
});
