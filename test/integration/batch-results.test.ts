import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../functions/core/event';
import { stepsFor } from '../../functions/consumers/routes';
import { DEFAULT_TRANSFER_POLICY } from '../../functions/consumers/routes/batch-files';
import { BATCH_RESULTS_STEP, resultKeys, storeBatchResults } from '../../functions/consumers/routes/batch-results';
import { TOGETHER_API_VARIABLES } from '../../functions/poller/config';
import { createTogetherApi } from '../../functions/poller/together-api';
import { startFakeTogether, type FakeTogether } from '../../local/fake-together';
import { consumerOn, jobItem, normalizedEvent, sqsEvent, sqsRecord } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';

let env: Emulated;
let fake: FakeTogether;

beforeAll(async () => {
  [env, fake] = await Promise.all([startEmulated(), startFakeTogether()]);
});
afterAll(async () => {
  await Promise.all([env?.stop(), fake?.stop()]);
});

const noWait = async () => undefined;

/** A one-handler HTTP server on loopback. */
async function listen(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** S3 command names the step's client sent, in order. */
function countedS3(s3: S3Client): { commands: string[] } {
  const seen = { commands: [] as string[] };
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      seen.commands.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: `count-${randomUUID()}` },
  );
  return seen;
}

/**
 * A Together stand-in over raw TCP: `GET /v1/files/{id}` answers the file object with `bytes`
 * (`fileObjectBytes`, else the content's size; `null` leaves it out), and
 * `GET /v1/files/{id}/content` sends a response head with no `Content-Length` and no chunked
 * encoding (or the given `contentLength`), then the first `sendBytes` bytes, then closes cleanly.
 */
async function rawFiles(
  content: string,
  options: { sendBytes?: number; contentLength?: number; fileObjectBytes?: number | null } = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createTcpServer((socket) => {
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const path = head.split(' ')[1] ?? '';
      if (path.endsWith('/content')) {
        const length = options.contentLength === undefined ? '' : `Content-Length: ${options.contentLength}\r\n`;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n${length}Connection: close\r\n\r\n`);
        socket.end(Buffer.from(content).subarray(0, options.sendBytes ?? Buffer.byteLength(content)));
        return;
      }
      const fileId = decodeURIComponent(path.split('/').pop() ?? '');
      const bytes = options.fileObjectBytes === undefined ? Buffer.byteLength(content) : options.fileObjectBytes;
      const body = JSON.stringify({ id: fileId, object: 'file', ...(bytes === null ? {} : { bytes }), created_at: 1_700_000_000, filename: 'output.jsonl', purpose: 'batch-api' });
      socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Together's files API and batch lookup at `baseUrl`, with the fake's key. */
function togetherFiles(baseUrl: string) {
  const api = createTogetherApi({ baseUrl, apiKey: async () => fake.apiKey, sleep: noWait });
  return { variables: TOGETHER_API_VARIABLES, baseUrl, apiKey: async () => fake.apiKey, getFile: api.getFile, getBatch: api.getBatch };
}

function resultsConsumer(options: { maxAttempts?: number; idleTimeoutMs?: number; sleep?: (ms: number) => Promise<void>; baseUrl?: string } = {}) {
  const baseUrl = options.baseUrl ?? fake.url;
  const step = storeBatchResults({
    s3: env.clients.s3,
    bucket: env.resources.resultsBucket,
    sources: { together: togetherFiles(baseUrl) },
    policy: {
      ...DEFAULT_TRANSFER_POLICY,
      maxAttempts: options.maxAttempts ?? DEFAULT_TRANSFER_POLICY.maxAttempts,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_TRANSFER_POLICY.idleTimeoutMs,
    },
    sleep: options.sleep ?? noWait,
    random: () => 0.5,
    clock: Date.now,
  });
  return consumerOn(env, 'batch.completed', { steps: stepsFor('batch.completed', {}, { batchResults: step }) });
}

function completion(batchId: string, data: Record<string, unknown>): NormalizedEvent {
  return normalizedEvent({ type: 'batch.completed', providerType: 'batch.completed', subject: batchId, data });
}

/** A fresh batch id with its two files registered at the fake. */
function batchWithFiles(output: Parameters<FakeTogether['addFile']>[1], errors: Parameters<FakeTogether['addFile']>[1]) {
  const batchId = `batch-${randomUUID()}`;
  const files = { output: `file-out-${batchId}`, errors: `file-err-${batchId}` };
  fake.addFile(files.output, output);
  fake.addFile(files.errors, errors);
  return { batchId, files, data: { batchId, outputFileId: files.output, errorFileId: files.errors } };
}

async function storedSha256(key: string): Promise<string> {
  const { Body } = await env.clients.s3.send(new GetObjectCommand({ Bucket: env.resources.resultsBucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const servedSha256 = (fileId: string) => fake.served.filter((file) => file.fileId === fileId).map((file) => file.sha256);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function exists(key: string): Promise<boolean> {
  try {
    await env.clients.s3.send(new HeadObjectCommand({ Bucket: env.resources.resultsBucket, Key: key }));
    return true;
  } catch (error) {
    if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NotFound') return false;
    throw error;
  }
}

describe('batch results to S3', () => {
  it('copies a completed batch’s output and error files into the bucket byte for byte and records URIs, sizes and lines on the job item', async () => {
    const output = '{"custom_id":"a","response":{}}\n{"custom_id":"b","response":{}}\n';
    const errors = '{"custom_id":"c","error":{"message":"bad request"}}';
    const { batchId, files, data } = batchWithFiles(output, errors);
    const keys = resultKeys(batchId);

    const result = await resultsConsumer()(sqsEvent(sqsRecord(completion(batchId, data))));

    expect(result.batchItemFailures).toEqual([]);
    expect(await storedSha256(keys.output)).toBe(sha256(output));
    expect(await storedSha256(keys.errors)).toBe(sha256(errors));
    expect(servedSha256(files.output)).toEqual([sha256(output)]);
    const job = await jobItem(env, `together#${batchId}`);
    expect(job).toMatchObject({ state: 'completed' });
    expect(job?.results).toEqual({
      output: { uri: `s3://${env.resources.resultsBucket}/${keys.output}`, fileId: files.output, bytes: Buffer.byteLength(output), lines: 2, sha256: sha256(output) },
      errors: { uri: `s3://${env.resources.resultsBucket}/${keys.errors}`, fileId: files.errors, bytes: Buffer.byteLength(errors), lines: 1, sha256: sha256(errors) },
      storedAt: expect.any(String),
    });
    expect(fake.requestsTo(`/batches/${batchId}`)).toEqual([]);
  });

  it('streams a file larger than one part as a multipart upload, identical to what the API served', async () => {
    const { batchId, files, data } = batchWithFiles({ lines: 50_000, lineBytes: 256 }, '');
    const s3 = countedS3(env.clients.s3);

    const result = await resultsConsumer()(sqsEvent(sqsRecord(completion(batchId, data))));

    expect(result.batchItemFailures).toEqual([]);
    expect(s3.commands.filter((name) => name === 'UploadPartCommand').length).toBe(3);
    const [served] = servedSha256(files.output);
    expect(await storedSha256(resultKeys(batchId).output)).toBe(served);
    const job = await jobItem(env, `together#${batchId}`);
    expect(job?.results?.output).toMatchObject({ bytes: 12_800_000, lines: 50_000 });
    expect(job?.results?.errors).toMatchObject({ bytes: 0, lines: 0 });
  });

  it('asks Together for the batch’s files when the event names none (a push with only outputUrl)', async () => {
    const batchId = `batch-${randomUUID()}`;
    fake.addBatch(batchId, [{ status: 'COMPLETED', output_file_id: `file-out-${batchId}`, error_file_id: `file-err-${batchId}` }]);

    const result = await resultsConsumer()(sqsEvent(sqsRecord(completion(batchId, { batchId, outputUrl: 'https://api.together.xyz/v1/files/x' }))));

    expect(result.batchItemFailures).toEqual([]);
    expect(fake.requestsTo(`/batches/${batchId}`)).toHaveLength(1);
    const job = await jobItem(env, `together#${batchId}`);
    expect(job?.results?.output?.fileId).toBe(`file-out-${batchId}`);
    expect(await storedSha256(resultKeys(batchId).errors)).toBe(servedSha256(`file-err-${batchId}`)[0]);
  });

  it('a second delivery of the same completion (another event of the transition) writes nothing new', async () => {
    const { batchId, files, data } = batchWithFiles('{"custom_id":"a"}\n', '{"custom_id":"b"}\n');
    const consume = resultsConsumer();
    await consume(sqsEvent(sqsRecord(completion(batchId, data))));
    const first = await jobItem(env, `together#${batchId}`);
    const s3 = countedS3(env.clients.s3);

    const result = await consume(sqsEvent(sqsRecord(completion(batchId, data))));

    expect(result.batchItemFailures).toEqual([]);
    expect(s3.commands.filter((name) => /Put|Upload|Multipart/.test(name))).toEqual([]);
    expect(fake.requestsTo(`/files/${files.output}/content`)).toHaveLength(1);
    expect((await jobItem(env, `together#${batchId}`))?.results).toEqual(first?.results);
  });

  it('a rerun after its once-record was lost copies the same bytes to the same keys and keeps the first record', async () => {
    const { batchId, data } = batchWithFiles('{"custom_id":"a"}\n', '{"custom_id":"b"}\n');
    const consume = resultsConsumer();
    await consume(sqsEvent(sqsRecord(completion(batchId, data))));
    const first = await jobItem(env, `together#${batchId}`);
    await env.clients.documents.send(
      new DeleteCommand({ TableName: env.resources.jobsTable, Key: { pk: `once#together#${batchId}#completed#${BATCH_RESULTS_STEP}` } }),
    );

    const result = await consume(sqsEvent(sqsRecord(completion(batchId, data))));

    expect(result.batchItemFailures).toEqual([]);
    expect((await jobItem(env, `together#${batchId}`))?.results).toEqual(first?.results);
    expect(await storedSha256(resultKeys(batchId).output)).toBe(sha256('{"custom_id":"a"}\n'));
  });

  it('retries a 503 and a download cut mid-file, starting the file again and aborting the cut multipart upload', async () => {
    const { batchId, files, data } = batchWithFiles({ lines: 48_000, lineBytes: 256 }, '{"custom_id":"e"}\n');
    const path = `/files/${files.output}/content`;
    fake.inject({ path, status: 503 });
    fake.inject({ path, breakAfterBytes: 7 * 1024 * 1024 });
    const s3 = countedS3(env.clients.s3);

    const result = await resultsConsumer()(sqsEvent(sqsRecord(completion(batchId, data))));

    expect(result.batchItemFailures).toEqual([]);
    expect(fake.requestsTo(path).map((request) => request.status)).toEqual([503, 200, 200]);
    expect(s3.commands).toContain('AbortMultipartUploadCommand');
    expect(await storedSha256(resultKeys(batchId).output)).toBe(servedSha256(files.output)[0]);
    expect((await jobItem(env, `together#${batchId}`))?.results?.output?.lines).toBe(48_000);
  });

  it('waits out a 429’s Retry-After before trying the file again', async () => {
    const { batchId, files, data } = batchWithFiles('{"custom_id":"a"}\n', '');
    fake.inject({ path: `/files/${files.output}/content`, status: 429, retryAfter: '7' });
    const waits: number[] = [];

    const result = await resultsConsumer({ sleep: async (ms) => void waits.push(ms) })(sqsEvent(sqsRecord(completion(batchId, data))));

    expect(result.batchItemFailures).toEqual([]);
    expect(waits).toContain(7_000);
    expect(fake.requestsTo(`/files/${files.output}/content`).map((request) => request.status)).toEqual([429, 200]);
  });

  it('cuts a download whose connection goes quiet and starts it again', async () => {
    const { batchId, files, data } = batchWithFiles('{"custom_id":"a"}\n', '');
    fake.inject({ path: `/files/${files.output}/content`, hang: true });

    const result = await resultsConsumer({ idleTimeoutMs: 200 })(sqsEvent(sqsRecord(completion(batchId, data))));

    expect(result.batchItemFailures).toEqual([]);
    expect(fake.requestsTo(`/files/${files.output}/content`).map((request) => request.status)).toEqual([undefined, 200]);
    expect(await storedSha256(resultKeys(batchId).output)).toBe(sha256('{"custom_id":"a"}\n'));
  });

  it('stores nothing for a completed batch that has neither file, and retries one Together does not report as COMPLETED yet', async () => {
    const empty = `batch-${randomUUID()}`;
    const late = `batch-${randomUUID()}`;
    fake.addBatch(empty, [{ status: 'COMPLETED' }]);
    fake.addBatch(late, [{ status: 'IN_PROGRESS' }]);

    const none = await resultsConsumer()(sqsEvent(sqsRecord(completion(empty, { batchId: empty }))));
    const early = await resultsConsumer()(sqsEvent(sqsRecord(completion(late, { batchId: late }))));

    expect(none.batchItemFailures).toEqual([]);
    expect((await jobItem(env, `together#${empty}`))?.results).toBeUndefined();
    expect(early.batchItemFailures).toHaveLength(1);
  });

  it('follows a redirect to another origin without sending the API key there', async () => {
    const content = '{"custom_id":"r"}\n';
    const seen: (string | undefined)[] = [];
    const storage = await listen((request, response) => {
      seen.push(request.headers.authorization);
      response.writeHead(200, { 'content-length': String(content.length) }).end(content);
    });
    const api = await listen((request, response) => {
      if (request.url === '/v1/files/file-r') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'file-r', object: 'file', bytes: content.length }));
        return;
      }
      seen.push(request.headers.authorization);
      response.writeHead(302, { location: `${storage.url}/blob` }).end();
    });
    const batchId = `batch-${randomUUID()}`;

    try {
      const result = await resultsConsumer({ baseUrl: `${api.url}/v1` })(sqsEvent(sqsRecord(completion(batchId, { batchId, outputFileId: 'file-r' }))));

      expect(result.batchItemFailures).toEqual([]);
      expect(seen).toEqual([`Bearer ${fake.apiKey}`, undefined]);
      expect(await storedSha256(resultKeys(batchId).output)).toBe(sha256(content));
    } finally {
      await Promise.all([storage.close(), api.close()]);
    }
  });

  it('fails the event and records nothing when a file cannot be copied, then stores both on the retry', async () => {
    const { batchId, files, data } = batchWithFiles('{"custom_id":"a"}\n', '{"custom_id":"b"}\n');
    fake.inject({ path: `/files/${files.errors}/content`, status: 500, times: 2 });
    const consume = resultsConsumer({ maxAttempts: 2 });
    const record = sqsRecord(completion(batchId, data));

    const failed = await consume(sqsEvent(record));
    const afterFailure = await jobItem(env, `together#${batchId}`);
    const retried = await consume(sqsEvent({ ...record, attributes: { ...record.attributes, ApproximateReceiveCount: '2' } }));

    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(afterFailure).toMatchObject({ state: 'completed' });
    expect(afterFailure?.results).toBeUndefined();
    expect(retried.batchItemFailures).toEqual([]);
    expect((await jobItem(env, `together#${batchId}`))?.results?.errors?.lines).toBe(1);
  });

  it('does not retry a rejected API key within the attempt, and fails the event', async () => {
    const { batchId, files, data } = batchWithFiles('{"custom_id":"a"}\n', '');
    fake.inject({ path: `/files/${files.output}/content`, status: 401 });

    const result = await resultsConsumer()(sqsEvent(sqsRecord(completion(batchId, data))));

    expect(result.batchItemFailures).toHaveLength(1);
    expect(fake.requestsTo(`/files/${files.output}/content`)).toHaveLength(1);
    expect(await exists(resultKeys(batchId).output)).toBe(false);
  });

  it('[H3-4] a download that closes cleanly mid-body, with no Content-Length, fails the event and stores nothing as done', async () => {
    const content = '{"custom_id":"a","response":{}}\n'.repeat(64);
    const api = await rawFiles(content, { sendBytes: content.length / 2 });
    const batchId = `batch-${randomUUID()}`;

    try {
      const result = await resultsConsumer({ baseUrl: api.url, maxAttempts: 2 })(sqsEvent(sqsRecord(completion(batchId, { batchId, outputFileId: 'file-cut' }))));

      expect(result.batchItemFailures).toHaveLength(1);
      expect((await jobItem(env, `together#${batchId}`))?.results).toBeUndefined();
      expect(await exists(resultKeys(batchId).output)).toBe(false);
    } finally {
      await api.close();
    }
  });

  it('[H3-4] a download whose Content-Length disagrees with the file’s size in the Files API is refused', async () => {
    const content = '{"custom_id":"a","response":{}}\n';
    const api = await rawFiles(content, { contentLength: content.length, fileObjectBytes: content.length * 2 });
    const batchId = `batch-${randomUUID()}`;

    try {
      const result = await resultsConsumer({ baseUrl: api.url, maxAttempts: 2 })(sqsEvent(sqsRecord(completion(batchId, { batchId, outputFileId: 'file-short' }))));

      expect(result.batchItemFailures).toHaveLength(1);
      expect((await jobItem(env, `together#${batchId}`))?.results).toBeUndefined();
      expect(await exists(resultKeys(batchId).output)).toBe(false);
    } finally {
      await api.close();
    }
  });

  it('[H3-4] a file whose size the Files API does not give is refused: its copy could not be checked', async () => {
    const content = '{"custom_id":"a","response":{}}\n';
    const api = await rawFiles(content, { fileObjectBytes: null });
    const batchId = `batch-${randomUUID()}`;

    try {
      const result = await resultsConsumer({ baseUrl: api.url, maxAttempts: 2 })(sqsEvent(sqsRecord(completion(batchId, { batchId, outputFileId: 'file-unsized' }))));

      expect(result.batchItemFailures).toHaveLength(1);
      expect((await jobItem(env, `together#${batchId}`))?.results).toBeUndefined();
      expect(await exists(resultKeys(batchId).output)).toBe(false);
    } finally {
      await api.close();
    }
  });

  it('stores nothing for a batch id that cannot name a folder, and for other providers', async () => {
    const consume = resultsConsumer();
    const before = fake.requests.length;

    const odd = await consume(sqsEvent(sqsRecord(completion('../escape', { outputFileId: 'file-x' }))));
    const other = await consume(
      sqsEvent(sqsRecord(normalizedEvent({ provider: 'mythicdot', type: 'batch.completed', providerType: 'batch.completed', subject: 'b-1', data: { outputFileId: 'file-x' } }))),
    );

    expect(odd.batchItemFailures).toEqual([]);
    expect(other.batchItemFailures).toEqual([]);
    expect(fake.requests.length).toBe(before);
  });
});
