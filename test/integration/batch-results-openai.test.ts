import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEvent } from '../../functions/core/event';
import { openAiEnricherFromEnv } from '../../functions/consumers/enrich/openai';
import { createOpenAiApi } from '../../functions/consumers/enrich/openai-api';
import { OPENAI_API_VARIABLES } from '../../functions/consumers/enrich/openai';
import { stepsFor } from '../../functions/consumers/routes';
import { DEFAULT_TRANSFER_POLICY } from '../../functions/consumers/routes/batch-files';
import { BATCH_RESULTS_STEP, resultKeys, storeBatchResults } from '../../functions/consumers/routes/batch-results';
import { createFakeOpenAi, type FakeOpenAiApi } from '../../local/fake-openai';
import { consumerOn, jobItem, normalizedEvent, sqsEvent, sqsRecord } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';

/**
 * OpenAI's batch files copied by the consumer, on the emulators, from the fake OpenAI API served
 * here so that a test can change what `GET /files/{id}/content` sends: each body the fake (or the
 * override) served is hashed as it goes out, to compare with what was stored.
 */

let env: Emulated;
let fake: FakeOpenAiApi;
let server: Server;
let baseUrl: string;
/** Per file id, the content to send instead of the fake's (its file object keeps the fake's `bytes`). */
const overrides = new Map<string, string>();
/** Every file body sent: its id, sha256 and length. */
const served: { fileId: string; sha256: string; bytes: number }[] = [];

beforeAll(async () => {
  env = await startEmulated();
  fake = createFakeOpenAi();
  server = createServer((request, response) => {
    const content = /^\/v1\/files\/([^/]+)\/content$/.exec(new URL(request.url ?? '/', 'http://localhost').pathname);
    if (content !== null) {
      const fileId = decodeURIComponent(content[1] as string);
      const override = overrides.get(fileId);
      const write = response.write.bind(response);
      const hash = createHash('sha256');
      let bytes = 0;
      // Hash what goes out, whoever sends it.
      response.write = ((chunk: Buffer | string, ...rest: never[]) => {
        const buffer = Buffer.from(chunk);
        hash.update(buffer);
        bytes += buffer.length;
        return write(chunk, ...rest);
      }) as typeof response.write;
      response.on('finish', () => served.push({ fileId, sha256: hash.digest('hex'), bytes }));
      if (override !== undefined && request.headers.authorization === `Bearer ${fake.apiKey}`) {
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(Buffer.byteLength(override)) });
        response.write(override);
        response.end();
        return;
      }
      const end = response.end.bind(response);
      response.end = ((chunk?: unknown, ...rest: never[]) => {
        if (chunk !== undefined && typeof chunk !== 'function') response.write(chunk as Buffer);
        return end(...rest);
      }) as typeof response.end;
    }
    fake.handle(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await env?.stop();
});

const noWait = async () => undefined;

/** The batch-results step with OpenAI's files API at the fake, retries without waiting. */
function resultsStep(maxAttempts = DEFAULT_TRANSFER_POLICY.maxAttempts) {
  const apiKey = async () => fake.apiKey;
  return storeBatchResults({
    s3: env.clients.s3,
    bucket: env.resources.resultsBucket,
    sources: { openai: { variables: OPENAI_API_VARIABLES, baseUrl, apiKey, getFile: createOpenAiApi({ baseUrl, apiKey, sleep: noWait }).getFile } },
    policy: { ...DEFAULT_TRANSFER_POLICY, maxAttempts },
    sleep: noWait,
    random: () => 0.5,
    clock: Date.now,
  });
}

/** The consumer of `route` as deployed with batch results on: the enricher against the fake, then the steps with the copy. */
function consumer(route: 'batch.completed' | 'batch.expired', maxAttempts?: number) {
  const enrich = openAiEnricherFromEnv({ OPENAI_API_BASE_URL: baseUrl, OPENAI_API_KEY: fake.apiKey }, { sleep: noWait, retry: { requestTimeoutMs: 1_000 } });
  return consumerOn(env, route, { enrich, steps: stepsFor(route, {}, { batchResults: resultsStep(maxAttempts) }) });
}

/** A thin OpenAI event as the receiver queues it: only the batch id. */
function openAiBatchEvent<R extends 'batch.completed' | 'batch.expired'>(type: R, batchId: string): RouteEvent<R> {
  return normalizedEvent({ type, provider: 'openai', providerType: type, subject: batchId, data: { batchId }, providerData: { id: batchId } } as never) as RouteEvent<R>;
}

async function stored(key: string): Promise<{ sha256: string; bytes: number }> {
  const { Body } = await env.clients.s3.send(new GetObjectCommand({ Bucket: env.resources.resultsBucket, Key: key }));
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of Body as Readable) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function exists(key: string): Promise<boolean> {
  try {
    await env.clients.s3.send(new HeadObjectCommand({ Bucket: env.resources.resultsBucket, Key: key }));
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'NotFound' || (error as { name?: string }).name === 'NoSuchKey') return false;
    throw error;
  }
}

/** The once-record of the copy for the batch's completion, in the jobs table. */
async function onceRecord(batchId: string): Promise<{ doneAt?: string } | undefined> {
  const { Item } = await env.clients.documents.send(
    new GetCommand({ TableName: env.resources.jobsTable, Key: { pk: `once#openai#${batchId}#completed#${BATCH_RESULTS_STEP}` }, ConsistentRead: true }),
  );
  return Item as { doneAt?: string } | undefined;
}

const servedOf = (fileId: string) => served.filter((file) => file.fileId === fileId).map(({ sha256, bytes }) => ({ sha256, bytes }));

describe('[P-OAI2] OpenAI batch results', () => {
  it('[P-OAI2] a batch.completed copies the output and error files byte-identical to what OpenAI served, once even when delivered twice', async () => {
    const batch = fake.createBatch({ id: `batch_${randomUUID().replaceAll('-', '')}`, outcome: 'completed', requests: 7, failedRequests: 2 });
    const event = openAiBatchEvent('batch.completed', batch.id);
    const keys = resultKeys(batch.id, 'openai');

    const first = await consumer('batch.completed')(sqsEvent(sqsRecord(event)));
    const second = await consumer('batch.completed')(sqsEvent(sqsRecord(event, 2)));

    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(keys.output).toBe(`openai/batches/${batch.id}/output.jsonl`);
    // Served once each: the second delivery found the step done and copied nothing.
    expect(servedOf(batch.output_file_id!)).toHaveLength(1);
    expect(servedOf(batch.error_file_id!)).toHaveLength(1);
    expect(await stored(keys.output)).toEqual(servedOf(batch.output_file_id!)[0]);
    expect(await stored(keys.errors)).toEqual(servedOf(batch.error_file_id!)[0]);
    expect((await onceRecord(batch.id))?.doneAt).toEqual(expect.any(String));
    const item = await jobItem(env, `openai#${batch.id}`);
    expect(item?.results).toMatchObject({
      output: { uri: `s3://${env.resources.resultsBucket}/${keys.output}`, fileId: batch.output_file_id, lines: 5 },
      errors: { uri: `s3://${env.resources.resultsBucket}/${keys.errors}`, fileId: batch.error_file_id, lines: 2 },
    });
  });

  it('[P-OAI2] a batch.expired with partial output copies the output it has', async () => {
    const batch = fake.createBatch({ id: `batch_${randomUUID().replaceAll('-', '')}`, outcome: 'expired', requests: 5, failedRequests: 3 });
    const event = openAiBatchEvent('batch.expired', batch.id);
    const keys = resultKeys(batch.id, 'openai');

    const response = await consumer('batch.expired')(sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect(batch.output_file_id).toBeDefined();
    expect(await stored(keys.output)).toEqual(servedOf(batch.output_file_id!)[0]);
    expect((await stored(keys.output)).bytes).toBeGreaterThan(0);
    expect((await jobItem(env, `openai#${batch.id}`))?.results).toMatchObject({ output: { fileId: batch.output_file_id, lines: 2 } });
  });

  it('[P-OAI2] a file whose served length differs from its bytes fails the attempt, stores nothing and leaves the step to run again', async () => {
    const batch = fake.createBatch({ id: `batch_${randomUUID().replaceAll('-', '')}`, outcome: 'completed', requests: 3, failedRequests: 0 });
    const fileId = batch.output_file_id!;
    overrides.set(fileId, '{"id":"batch_req_1","custom_id":"request-1"}\n{"extra":"line the file object does not count"}\n'.repeat(3));
    const event = openAiBatchEvent('batch.completed', batch.id);
    const keys = resultKeys(batch.id, 'openai');

    let response;
    try {
      response = await consumer('batch.completed', 2)(sqsEvent(sqsRecord(event)));
    } finally {
      overrides.delete(fileId);
    }

    expect(response.batchItemFailures).toHaveLength(1);
    expect(await exists(keys.output)).toBe(false);
    expect((await jobItem(env, `openai#${batch.id}`))?.results).toBeUndefined();
    const { Item } = await env.clients.documents.send(
      new GetCommand({ TableName: env.resources.eventsTable, Key: { pk: `openai#${event.id}` }, ConsistentRead: true }),
    );
    expect(Item?.status).not.toBe('handled');
    expect((await onceRecord(batch.id))?.doneAt).toBeUndefined();
    // The next delivery, served the right bytes, copies the file.
    const retried = await consumer('batch.completed')(sqsEvent(sqsRecord(event, 2)));
    expect(retried.batchItemFailures).toEqual([]);
    expect(await stored(keys.output)).toEqual(servedOf(fileId).at(-1));
  });
});
