import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobItem } from '../../functions/core/table';
import { resultKeys } from '../../functions/consumers/routes/batch-results';
import { buildDelivery, postDelivery } from '../../ops/deliveries';
import { batchScript, startFakeTogether, type FakeTogether } from '../../local/fake-together';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { silentLogger } from '../support/consumers';

/** Polls `probe` until it returns a value other than undefined; the caller asserts on that value. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 25_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let fake: FakeTogether;
let runtime: LocalRuntime;

beforeAll(async () => {
  fake = await startFakeTogether();
  runtime = await startLocalRuntime({
    env: { TOGETHER_API_KEY: fake.apiKey, TOGETHER_API_BASE_URL: fake.url, TOGETHER_POLL_INTERVAL_SECONDS: '1' },
    port: 0,
    dynamodbPort: 0,
    sqsPort: 0,
    logger: silentLogger(),
    visibilityTimeoutSeconds: 1,
  });
});
afterAll(async () => {
  await runtime?.stop();
  await fake?.stop();
});

async function storedSha256(key: string): Promise<string> {
  const { Body } = await runtime.clients.s3.send(new GetObjectCommand({ Bucket: runtime.resources.resultsBucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const servedSha256 = (fileId: string) => fake.served.find((file) => file.fileId === fileId)?.sha256;

async function resultsOf(batchId: string): Promise<NonNullable<JobItem['results']>> {
  return eventually(async () => {
    const { Item } = await runtime.clients.documents.send(
      new GetCommand({ TableName: runtime.resources.jobsTable, Key: { pk: `together#${batchId}` }, ConsistentRead: true }),
    );
    return (Item as Partial<JobItem> | undefined)?.results;
  }, `the results of ${batchId} on its job item`);
}

describe('batch results on the local runtime (TOGETHER_API_KEY set)', () => {
  it('a pushed Together batch.completed ends with both files in the local bucket, byte-identical, and their URIs on the job item', async () => {
    const batchId = `batch-${randomUUID()}`;
    const files = { output: `file-out-${batchId}`, errors: `file-err-${batchId}` };
    fake.addFile(files.output, { lines: 2_000, lineBytes: 512 });
    fake.addFile(files.errors, '{"custom_id":"r-9","error":{"message":"context length exceeded"}}\n');
    // Known to Together (looked up by id) but off its list, so only the push reports it.
    fake.addBatch(batchId, [{ status: 'COMPLETED', output_file_id: files.output, error_file_id: files.errors }]);
    fake.hide(batchId);
    const body = JSON.stringify({
      id: `evt_${randomUUID()}`,
      type: 'batch.completed',
      created: Math.floor(Date.now() / 1000),
      data: { batch_id: batchId, output_file_id: files.output, error_file_id: files.errors },
    });

    const response = await postDelivery(runtime.url, buildDelivery({ provider: 'together', type: 'batch.completed', body }));
    const results = await resultsOf(batchId);

    expect(response.status).toBe(200);
    const keys = resultKeys(batchId);
    expect(results.output?.uri).toBe(`s3://${runtime.resources.resultsBucket}/${keys.output}`);
    expect(results.errors?.uri).toBe(`s3://${runtime.resources.resultsBucket}/${keys.errors}`);
    expect(await storedSha256(keys.output)).toBe(servedSha256(files.output));
    expect(await storedSha256(keys.errors)).toBe(servedSha256(files.errors));
    expect(results.output).toMatchObject({ bytes: 1_024_000, lines: 2_000 });
  });

  it('a polled Together batch that completes ends with both files in the local bucket, byte-identical, and their URIs on the job item', async () => {
    const batchId = `batch-${randomUUID()}`;
    fake.addBatch(batchId, batchScript(batchId, 'COMPLETED'));

    fake.finish(batchId);
    const results = await resultsOf(batchId);

    const keys = resultKeys(batchId);
    expect(results.output?.uri).toBe(`s3://${runtime.resources.resultsBucket}/${keys.output}`);
    expect(await storedSha256(keys.output)).toBe(servedSha256(`file-out-${batchId}`));
    expect(await storedSha256(keys.errors)).toBe(servedSha256(`file-err-${batchId}`));
    expect(results.errors?.lines).toBe(3);
  });
});
