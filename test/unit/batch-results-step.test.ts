import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/core/errors';
import type { NormalizedEvent } from '../../functions/core/event';
import { ConsumerDependencyError } from '../../functions/consumers/errors';
import { DEFAULT_TRANSFER_POLICY } from '../../functions/consumers/routes/batch-files';
import { BATCH_RESULTS_STEP, batchResultsFromEnv, resultKeys, resultsS3Config, storeBatchResults, type BatchResultsDeps } from '../../functions/consumers/routes/batch-results';
import { TOGETHER_API_VARIABLES } from '../../functions/poller/config';
import { fakeFilesApi, fakeS3, memoryContext, sha256, type FakeApi, type FakeS3 } from '../support/batch-files';

/**
 * The batch results step in-process: a provider's files API and S3 on loopback, the job item and
 * the once-records in memory. What a user relies on: which file lands under which key, what the
 * job item records, that a redelivery copies nothing again, and that a failure is retryable.
 */

let api: FakeApi;
let s3: FakeS3;

beforeAll(async () => {
  [api, s3] = await Promise.all([fakeFilesApi(), fakeS3()]);
});
afterAll(async () => {
  await Promise.all([api?.close(), s3?.close()]);
});

let serial = 0;
const nextBatchId = () => `batch-${process.pid}-${(serial += 1)}`;

function ended(provider: 'together' | 'openai', batchId: string, data: Record<string, unknown>, type = 'batch.completed'): NormalizedEvent {
  return {
    id: `evt-${batchId}`,
    provider,
    type,
    providerType: type,
    subject: batchId,
    occurredAt: '2026-01-01T00:00:00.000Z',
    receivedAt: '2026-01-01T00:00:00.000Z',
    schemaVersion: 1,
    data,
  } as unknown as NormalizedEvent;
}

/** A job item for each batch, as the projection leaves it before the step runs. */
const jobOf = (provider: string, batchId: string) => ({ [`${provider}#${batchId}`]: { pk: `${provider}#${batchId}`, state: 'completed' } });

const OUTPUT = '{"custom_id":"a","response":{}}\n{"custom_id":"b","response":{}}\n';
const ERRORS = '{"custom_id":"c","error":{"message":"bad request"}}';

function registerFiles(batchId: string) {
  const ids = { output: `file-out-${batchId}`, errors: `file-err-${batchId}` };
  api.file(ids.output, OUTPUT);
  api.file(ids.errors, ERRORS);
  return ids;
}

const stored = (key: string) => s3.objects.get(`results/${key}`);

describe('batch results as deployed (batchResultsFromEnv)', () => {
  it('[RULE] a Together batch.completed copies the output file to output.jsonl and the error file to errors.jsonl and records both on the job item', async () => {
    const batchId = nextBatchId();
    const ids = registerFiles(batchId);
    const step = batchResultsFromEnv({ RESULTS_BUCKET_NAME: ' results ', TOGETHER_API_KEY: 'together-key', TOGETHER_API_BASE_URL: api.url }, { s3: s3.client });
    const memory = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));

    await step(ended('together', batchId, { batchId, outputFileId: ids.output, errorFileId: ids.errors }) as never, memory.context);

    expect(stored(`together/batches/${batchId}/output.jsonl`)).toBe(OUTPUT);
    expect(stored(`together/batches/${batchId}/errors.jsonl`)).toBe(ERRORS);
    expect(memory.items.get(`together#${batchId}`)?.results).toEqual({
      output: { uri: `s3://results/together/batches/${batchId}/output.jsonl`, fileId: ids.output, bytes: Buffer.byteLength(OUTPUT), lines: 2, sha256: sha256(OUTPUT) },
      errors: { uri: `s3://results/together/batches/${batchId}/errors.jsonl`, fileId: ids.errors, bytes: Buffer.byteLength(ERRORS), lines: 1, sha256: sha256(ERRORS) },
      storedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(api.requests.filter((request) => request.path.includes(batchId)).map((request) => request.authorization)).toEqual(
      Array(4).fill('Bearer together-key'),
    );
  });

  it('[RULE] a Together event that names no file is completed from the batch Together reports', async () => {
    const batchId = nextBatchId();
    const ids = registerFiles(batchId);
    api.batch(batchId, { status: 'COMPLETED', output_file_id: ids.output, error_file_id: ids.errors });
    const step = batchResultsFromEnv({ RESULTS_BUCKET_NAME: 'results', TOGETHER_API_KEY: 'together-key', TOGETHER_API_BASE_URL: api.url }, { s3: s3.client });
    const memory = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));

    await step(ended('together', batchId, { batchId, outputUrl: 'https://api.together.xyz/v1/files/x' }) as never, memory.context);

    expect(stored(`together/batches/${batchId}/output.jsonl`)).toBe(OUTPUT);
    expect(stored(`together/batches/${batchId}/errors.jsonl`)).toBe(ERRORS);
  });

  it('[RULE] an OpenAI batch.expired copies the output it kept under openai/batches/, and a Together event passes untouched when only OpenAI is served', async () => {
    const batchId = nextBatchId();
    const ids = registerFiles(batchId);
    const step = batchResultsFromEnv({ RESULTS_BUCKET_NAME: 'results', OPENAI_API_KEY: 'sk-openai', OPENAI_API_BASE_URL: api.url }, { s3: s3.client });
    const openai = memoryContext(`openai#evt-${batchId}`, jobOf('openai', batchId));
    const together = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));

    await step(ended('openai', batchId, { batchId, outputFileId: ids.output }, 'batch.expired') as never, openai.context);
    await step(ended('together', batchId, { batchId, outputFileId: ids.output }) as never, together.context);

    expect(stored(`openai/batches/${batchId}/output.jsonl`)).toBe(OUTPUT);
    expect(openai.items.get(`openai#${batchId}`)?.results).toMatchObject({ output: { uri: `s3://results/openai/batches/${batchId}/output.jsonl`, lines: 2 } });
    expect(api.requests.filter((request) => request.path.includes(batchId)).map((request) => request.authorization)).toEqual(['Bearer sk-openai', 'Bearer sk-openai']);
    expect(stored(`together/batches/${batchId}/output.jsonl`)).toBeUndefined();
    expect(together.items.get(`together#${batchId}`)?.results).toBeUndefined();
    expect(together.done.size).toBe(0);
  });

  it('[RULE] a RESULTS_BUCKET_NAME of blanks is refused as unset, naming the variable', () => {
    expect(() => batchResultsFromEnv({ RESULTS_BUCKET_NAME: '   ', TOGETHER_API_KEY: 'k' }, { s3: s3.client })).toThrow(ConfigurationError);
    expect(() => batchResultsFromEnv({ RESULTS_BUCKET_NAME: '   ', TOGETHER_API_KEY: 'k' }, { s3: s3.client })).toThrow(
      'environment variable RESULTS_BUCKET_NAME is required for batch results but not set',
    );
  });
});

/** The step over the fake API and S3 for Together, with `getBatch` stubbed when given. */
function together(overrides: Partial<BatchResultsDeps> & { getBatch?: (id: string) => Promise<unknown>; clock?: () => number } = {}) {
  const { getBatch, ...rest } = overrides;
  const files = {
    variables: TOGETHER_API_VARIABLES,
    baseUrl: api.url,
    apiKey: async () => 'together-key',
    getFile: async (fileId: string) => {
      const response = await fetch(`${api.url}/files/${encodeURIComponent(fileId)}`);
      return response.status === 404 ? undefined : ((await response.json()) as { bytes: number });
    },
    getBatch: getBatch ?? (async () => undefined),
  };
  return storeBatchResults({
    s3: s3.client,
    bucket: 'results',
    sources: { together: files as never },
    policy: { ...DEFAULT_TRANSFER_POLICY, maxAttempts: 2 },
    sleep: async () => undefined,
    random: () => 0.5,
    clock: () => Date.parse('2026-02-03T04:05:06.000Z'),
    ...rest,
  });
}

describe('batch results: redelivery and failures', () => {
  it('[RULE] a second delivery of the same transition copies nothing again and the job item keeps its record', async () => {
    const batchId = nextBatchId();
    const ids = registerFiles(batchId);
    const memory = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));
    const event = ended('together', batchId, { batchId, outputFileId: ids.output, errorFileId: ids.errors });
    await together()(event as never, memory.context);
    const first = memory.items.get(`together#${batchId}`)?.results;

    await together()(event as never, memory.context);

    expect(memory.done).toEqual(new Set([BATCH_RESULTS_STEP]));
    expect(api.requests.filter((request) => request.path === `/files/${ids.output}/content`)).toHaveLength(1);
    expect(memory.items.get(`together#${batchId}`)?.results).toBe(first);
    expect(memory.logs).toContainEqual({
      level: 'info',
      message: 'batch results stored',
      fields: { key: `together#evt-${batchId}`, batchId, outputBytes: Buffer.byteLength(OUTPUT), outputLines: 2, errorsBytes: Buffer.byteLength(ERRORS), errorsLines: 1 },
    });
  });

  it('[RULE] a rerun after the once-record was lost keeps the first record on the job item and says so', async () => {
    const batchId = nextBatchId();
    const ids = registerFiles(batchId);
    const memory = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));
    const event = ended('together', batchId, { batchId, outputFileId: ids.output });
    await together()(event as never, memory.context);
    memory.done.clear();

    await together({ clock: () => Date.parse('2030-01-01T00:00:00.000Z') })(event as never, memory.context);

    expect(memory.items.get(`together#${batchId}`)?.results).toMatchObject({ storedAt: '2026-02-03T04:05:06.000Z' });
    expect(memory.items.get(`together#${batchId}`)?.results).not.toHaveProperty('errors');
    expect(memory.logs).toContainEqual({
      level: 'info',
      message: 'batch results were already recorded; the first record stands',
      fields: { key: `together#evt-${batchId}`, pk: `together#${batchId}` },
    });
    expect(memory.logs.find((line) => line.message === 'batch results stored')?.fields).toEqual({ key: `together#evt-${batchId}`, batchId, outputBytes: Buffer.byteLength(OUTPUT), outputLines: 2 });
  });

  it.each([
    ['the write of the record fails', 'UpdateCommand', 'could not record the batch results on together#'],
    ['the read of a job item already recorded fails', 'GetCommand', 'could not read the job item together#'],
  ] as const)('[RULE] when %s, the step fails retryably naming the job and keeps no once-record', async (_case, command, message) => {
    const batchId = nextBatchId();
    const ids = registerFiles(batchId);
    const memory = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));
    if (command === 'GetCommand') memory.items.get(`together#${batchId}`)!.results = { storedAt: 'earlier' };
    memory.failNext(command, new Error('throttled'));

    const failure = together()(ended('together', batchId, { batchId, outputFileId: ids.output }) as never, memory.context);

    await expect(failure).rejects.toThrow(ConsumerDependencyError);
    await expect(failure).rejects.toThrow(`${message}${batchId}`);
    expect(memory.done.size).toBe(0);
  });

  it('[RULE] a job item the projection has not written yet fails the step retryably, copying again on the retry', async () => {
    const batchId = nextBatchId();
    const ids = registerFiles(batchId);
    const memory = memoryContext(`together#evt-${batchId}`);

    const failure = together()(ended('together', batchId, { batchId, outputFileId: ids.output }) as never, memory.context);

    await expect(failure).rejects.toThrow(ConsumerDependencyError);
    await expect(failure).rejects.toThrow(`the job item together#${batchId} does not exist yet; the projection step writes it first`);
    expect(memory.done.size).toBe(0);
  });

  it.each([
    ['Together answers no batch', async () => undefined, 'Together has no batch %ID (HTTP 404); check the API key belongs to the account that ran it'],
    ['Together reports it running', async () => ({ id: 'x', status: 'IN_PROGRESS' }), 'Together reports batch %ID as IN_PROGRESS, not COMPLETED, yet; retried later'],
    [
      'Together cannot be read',
      async () => {
        throw new Error('HTTP 503');
      },
      'could not read batch %ID from Together to find its files',
    ],
  ])('[RULE] an event naming no file whose batch %s fails retryably and stores nothing', async (_case, getBatch, message) => {
    const batchId = nextBatchId();
    const memory = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));

    const failure = together({ getBatch })(ended('together', batchId, { batchId }) as never, memory.context);

    await expect(failure).rejects.toThrow(ConsumerDependencyError);
    await expect(failure).rejects.toThrow(message.replace('%ID', batchId));
    expect(memory.items.get(`together#${batchId}`)?.results).toBeUndefined();
    expect(memory.done.size).toBe(0);
  });

  it('[RULE] a completed Together batch with only an error file stores errors.jsonl alone', async () => {
    const batchId = nextBatchId();
    const ids = registerFiles(batchId);
    const memory = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));

    await together({ getBatch: async () => ({ id: batchId, status: 'COMPLETED', output_file_id: null, error_file_id: ids.errors }) })(
      ended('together', batchId, { batchId }) as never,
      memory.context,
    );

    expect(stored(`together/batches/${batchId}/output.jsonl`)).toBeUndefined();
    expect(stored(`together/batches/${batchId}/errors.jsonl`)).toBe(ERRORS);
    expect(Object.keys(memory.items.get(`together#${batchId}`)?.results as object)).toEqual(['errors', 'storedAt']);
  });

  it('[RULE] a completed batch with neither file stores nothing, says so, and is done', async () => {
    const batchId = nextBatchId();
    const memory = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));

    await together({ getBatch: async () => ({ id: batchId, status: 'COMPLETED' }) })(ended('together', batchId, { batchId, outputFileId: '' }) as never, memory.context);

    expect(memory.items.get(`together#${batchId}`)?.results).toBeUndefined();
    expect(memory.done).toEqual(new Set([BATCH_RESULTS_STEP]));
    expect(memory.logs).toEqual([{ level: 'info', message: 'batch has no output or error file; nothing to store', fields: { key: `together#evt-${batchId}`, batchId } }]);
  });

  it.each([
    ['a batch id that would leave its folder', '../escape'],
    ['a batch id with a slash', 'batch/1'],
    ['no batch id', undefined],
  ])('[RULE] an event with %s stores nothing and logs an error naming no id', async (_case, batchId) => {
    const memory = memoryContext('together#evt-odd');
    const before = api.requests.length;

    await together()({ ...ended('together', 'x', { outputFileId: 'file-x' }), subject: batchId } as never, memory.context);

    expect(api.requests.length).toBe(before);
    expect(memory.done.size).toBe(0);
    expect(memory.logs).toEqual([
      { level: 'error', message: 'batch id cannot name a results folder; results not stored', fields: { key: 'together#evt-odd', batchIdLength: batchId?.length } },
    ]);
  });

  it.each([
    ['a Together batch.expired', 'together', 'batch.expired'],
    ['a Together batch.failed', 'together', 'batch.failed'],
    ['another provider', 'replicate', 'batch.completed'],
  ])('[RULE] %s copies nothing', async (_case, provider, type) => {
    const batchId = nextBatchId();
    const memory = memoryContext(`${provider}#evt-${batchId}`, jobOf(provider, batchId));
    const before = api.requests.length;

    await together()({ ...ended('together', batchId, { batchId, outputFileId: 'file-x' }, type), provider } as never, memory.context);

    expect(api.requests.length).toBe(before);
    expect(memory.done.size).toBe(0);
  });
});

describe('batch results: which batches and files', () => {
  const completedWithout = async () => ({ id: 'x', status: 'COMPLETED' });

  it.each([
    ['one character', 'a', true],
    ['a dot inside', 'batch.v1', true],
    ['underscores, colons and dashes', '_b:1-2', true],
    ['200 characters', 'b'.repeat(200), true],
    ['201 characters', 'b'.repeat(201), false],
    ['a leading dot', '.hidden', false],
    ['a space', 'batch 1', false],
    ['nothing', '', false],
  ])('[RULE] a batch id of %s names a results folder: %s', async (_case, batchId, usable) => {
    const memory = memoryContext('together#evt-ids');

    await together({ getBatch: completedWithout })({ ...ended('together', batchId, {}), subject: batchId } as never, memory.context);

    expect(memory.done.size).toBe(usable ? 1 : 0);
    expect(memory.logs.map((line) => line.level)).toEqual([usable ? 'info' : 'error']);
  });

  it('[RULE] an OpenAI event that names no file is not looked up at Together, even where both are served', async () => {
    const batchId = nextBatchId();
    const lookups: string[] = [];
    const memory = memoryContext(`openai#evt-${batchId}`, jobOf('openai', batchId));
    const both = storeBatchResults({
      s3: s3.client,
      bucket: 'results',
      sources: { together: { variables: TOGETHER_API_VARIABLES, baseUrl: api.url, apiKey: async () => 'k', getFile: async () => undefined, getBatch: async (id: string) => void lookups.push(id) } as never, openai: { variables: TOGETHER_API_VARIABLES, baseUrl: api.url, apiKey: async () => 'k', getFile: async () => undefined } },
      policy: DEFAULT_TRANSFER_POLICY,
      sleep: async () => undefined,
      random: () => 0.5,
      clock: Date.now,
    });

    await both(ended('openai', batchId, { batchId }) as never, memory.context);

    expect(lookups).toEqual([]);
    expect(memory.done).toEqual(new Set([BATCH_RESULTS_STEP]));
    expect(memory.logs.map((line) => line.message)).toEqual(['batch has no output or error file; nothing to store']);
  });

  it('[RULE] a Together event naming only its error file stores that file without asking Together for the batch', async () => {
    const batchId = nextBatchId();
    const ids = registerFiles(batchId);
    const lookups: string[] = [];
    const memory = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));

    await together({ getBatch: async (id) => void lookups.push(id) })(ended('together', batchId, { batchId, errorFileId: ids.errors }) as never, memory.context);

    expect(lookups).toEqual([]);
    expect(stored(`together/batches/${batchId}/errors.jsonl`)).toBe(ERRORS);
    expect(stored(`together/batches/${batchId}/output.jsonl`)).toBeUndefined();
  });

  it('[RULE] a failed try of a file is logged as a warning naming the event, the batch, the file and the cause', async () => {
    const batchId = nextBatchId();
    const ids = registerFiles(batchId);
    api.inject(`/files/${ids.output}/content`, { status: 503 });
    const memory = memoryContext(`together#evt-${batchId}`, jobOf('together', batchId));

    await together()(ended('together', batchId, { batchId, outputFileId: ids.output }) as never, memory.context);

    expect(memory.logs.filter((line) => line.level === 'warn')).toEqual([
      {
        level: 'warn',
        message: 'copying a batch file failed; trying it again',
        fields: { key: `together#evt-${batchId}`, batchId, fileId: ids.output, attempt: 1, delayMs: 500, cause: `GET /files/${ids.output}/content answered HTTP 503` },
      },
    ]);
    expect(stored(`together/batches/${batchId}/output.jsonl`)).toBe(OUTPUT);
  });
});

describe('the keys of a batch’s files', () => {
  it('[RULE] a batch’s files are output.jsonl and errors.jsonl under its provider’s prefix, Together’s unless told', () => {
    expect(resultKeys('b-1')).toEqual({ output: 'together/batches/b-1/output.jsonl', errors: 'together/batches/b-1/errors.jsonl' });
    expect(resultKeys('batch_1', 'openai')).toEqual({ output: 'openai/batches/batch_1/output.jsonl', errors: 'openai/batches/batch_1/errors.jsonl' });
  });
});

describe('the S3 client of the copies', () => {
  it('[RULE] given an emulator’s endpoint, it writes there with path-style URLs', async () => {
    const client = new S3Client(resultsS3Config(s3.url.replace('127.0.0.1', 'localhost')));

    await client.send(new PutObjectCommand({ Bucket: 'results', Key: 'local/emulated.jsonl', Body: '{}\n' }));

    expect(stored('local/emulated.jsonl')).toBe('{}\n');
  });

  it('[RULE] an S3 answer of 500 is tried three times in all before the copy sees it', async () => {
    const client = new S3Client(resultsS3Config(s3.url));
    const before = s3.requests;
    s3.failWith = 500;

    try {
      await expect(client.send(new PutObjectCommand({ Bucket: 'results', Key: 'local/failing.jsonl', Body: '{}\n' }))).rejects.toThrow();
    } finally {
      s3.failWith = undefined;
    }
    expect(s3.requests - before).toBe(3);
  });
});
