import { createServer as createHttpsServer, globalAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsumerDependencyError } from '../../functions/consumers/errors';
import { DEFAULT_TRANSFER_POLICY, transferFile, type TransferDeps } from '../../functions/consumers/routes/batch-files';
import { OPENAI_API_VARIABLES } from '../../functions/consumers/enrich/openai';
import { TOGETHER_API_VARIABLES } from '../../functions/poller/config';
import { fakeFilesApi, fakeS3, sha256, type FakeApi, type FakeS3 } from '../support/batch-files';
import { LOOPBACK_TLS } from '../support/loopback-tls';

/**
 * One file's copy from a provider's files API to S3, in-process: what lands, what the copy
 * reports, how it retries, and what each failure tells the operator.
 */

let api: FakeApi;
let s3: FakeS3;

beforeAll(async () => {
  [api, s3] = await Promise.all([fakeFilesApi(), fakeS3()]);
});
afterAll(async () => {
  await Promise.all([api?.close(), s3?.close()]);
});

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
let serial = 0;
const nextFileId = () => `file-${process.pid}-${(serial += 1)}`;

/** A copy from the fake API into bucket `results`, waits recorded instead of slept. */
function copyDeps(overrides: Partial<TransferDeps> = {}) {
  const waits: number[] = [];
  const retries: { fileId: string; attempt: number; delayMs: number; cause: string }[] = [];
  const deps: TransferDeps = {
    s3: s3.client,
    bucket: 'results',
    files: {
      variables: TOGETHER_API_VARIABLES,
      baseUrl: api.url,
      apiKey: async () => 'files-key',
      getFile: async (fileId) => {
        const response = await fetch(`${api.url}/files/${encodeURIComponent(fileId)}`);
        return response.status === 404 ? undefined : ((await response.json()) as { bytes: number });
      },
    },
    policy: { ...DEFAULT_TRANSFER_POLICY, maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 30_000 },
    sleep: async (ms) => void waits.push(ms),
    random: () => 0.5,
    clock: () => NOW,
    onRetry: (notice) => void retries.push(notice),
    ...overrides,
  };
  return { deps, waits, retries };
}

const contentRequests = (fileId: string) => api.requests.filter((request) => request.path === `/files/${encodeURIComponent(fileId)}/content`);

describe('copying a batch file', () => {
  it.each([
    ['lines that each end in a newline', '{"a":1}\n{"b":2}\n', 2],
    ['a last line without a newline', '{"a":1}\n{"b":2}', 2],
    ['one line without a newline', '{"a":1}', 1],
    ['an empty file', '', 0],
  ])('[RULE] a file of %s is stored byte for byte and reported with its size, line count and hash', async (_case, content, lines) => {
    const fileId = nextFileId();
    api.file(fileId, content);
    const { deps } = copyDeps();

    const file = await transferFile(deps, fileId, `together/batches/b/${fileId}.jsonl`);

    expect(file).toEqual({ uri: `s3://results/together/batches/b/${fileId}.jsonl`, fileId, bytes: Buffer.byteLength(content), lines, sha256: sha256(content) });
    expect(s3.objects.get(`results/together/batches/b/${fileId}.jsonl`)).toBe(content);
  });

  it('[RULE] the stored object is JSONL and names the provider’s file id; the request carries the API key', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');

    await transferFile({ ...copyDeps().deps, files: { ...copyDeps().deps.files, variables: OPENAI_API_VARIABLES } }, fileId, `openai/${fileId}`);

    expect(s3.heads.get(`results/openai/${fileId}`)).toEqual({ 'content-type': 'application/jsonl', 'x-amz-meta-openai-file-id': fileId });
    expect(contentRequests(fileId).map((request) => request.authorization)).toEqual(['Bearer files-key']);
  });

  it('[RULE] a file id is one path segment of the request, whatever it holds', async () => {
    const fileId = `${nextFileId()}/../#x`;
    api.file(fileId, '{"a":1}\n');

    const file = await transferFile(copyDeps().deps, fileId, 'k/odd');

    expect(file.bytes).toBe(8);
    expect(contentRequests(fileId)).toHaveLength(1);
  });

  it('[RULE] a 503 and a 500 are tried again after a jittered backoff that doubles, each try told to the operator', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { status: 503 }, { status: 500 });
    const { deps, waits, retries } = copyDeps();

    await transferFile(deps, fileId, `k/${fileId}`);

    expect(waits).toEqual([500, 1_000]);
    expect(retries).toEqual([
      { fileId, attempt: 1, delayMs: 500, cause: `GET /files/${fileId}/content answered HTTP 503` },
      { fileId, attempt: 2, delayMs: 1_000, cause: `GET /files/${fileId}/content answered HTTP 500` },
    ]);
    expect(s3.objects.get(`results/k/${fileId}`)).toBe('{"a":1}\n');
  });

  it('[RULE] a file that fails every try fails retryably after maxAttempts tries, naming the path, the key and the last cause', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { status: 502 }, { status: 502 }, { status: 504 });
    const { deps, waits } = copyDeps();

    const failure = transferFile(deps, fileId, `k/${fileId}`);

    await expect(failure).rejects.toThrow(ConsumerDependencyError);
    await expect(failure).rejects.toThrow(
      `copying /files/${fileId}/content to s3://results/k/${fileId} failed 3 times (last: GET /files/${fileId}/content answered HTTP 504); the event is retried`,
    );
    // What the failure log shows as its cause.
    expect(String(((await failure.catch((error: unknown) => error)) as Error).cause)).toBe(`RetryableTransferError: GET /files/${fileId}/content answered HTTP 504`);
    expect(contentRequests(fileId)).toHaveLength(3);
    expect(waits).toHaveLength(2);
    expect(s3.objects.has(`results/k/${fileId}`)).toBe(false);
  });

  it.each([
    ['delay-seconds', '7', 7_000],
    ['an HTTP date', new Date(NOW + 12_000).toUTCString(), 12_000],
  ])('[RULE] a 429 with Retry-After as %s is waited out before the next try', async (_case, retryAfter, waited) => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { status: 429, headers: { 'retry-after': retryAfter } });
    const { deps, waits } = copyDeps();

    await transferFile(deps, fileId, `k/${fileId}`);

    expect(waits).toEqual([waited]);
  });

  it('[RULE] a Retry-After longer than a copy waits fails at once, retryably, saying how long the provider asked', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { status: 429, headers: { 'retry-after': '61' } });
    const { deps, waits } = copyDeps({ policy: { ...DEFAULT_TRANSFER_POLICY, maxRetryAfterMs: 60_000 } });

    const failure = transferFile(deps, fileId, `k/${fileId}`);

    await expect(failure).rejects.toThrow(ConsumerDependencyError);
    await expect(failure).rejects.toThrow(`GET /files/${fileId}/content: Together asked to wait 61 s (Retry-After), longer than the 60 s a copy waits; the event is retried`);
    expect(waits).toEqual([]);
  });

  it('[RULE] a Retry-After of exactly the longest wait is waited out', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { status: 503, headers: { 'retry-after': '60' } });
    const { deps, waits } = copyDeps({ policy: { ...DEFAULT_TRANSFER_POLICY, maxRetryAfterMs: 60_000 } });

    await transferFile(deps, fileId, `k/${fileId}`);

    expect(waits).toEqual([60_000]);
  });

  it.each([
    [401, 'store a valid Together API key in the secret TOGETHER_API_KEY_SECRET_ARN names (TOGETHER_API_KEY locally)'],
    [403, 'store a valid Together API key in the secret TOGETHER_API_KEY_SECRET_ARN names (TOGETHER_API_KEY locally)'],
    [404, 'the batch names a file Together does not have (check the API key belongs to the account that ran the batch)'],
    [400, 'check TOGETHER_API_BASE_URL'],
    [300, 'check TOGETHER_API_BASE_URL'],
  ])('[RULE] an HTTP %i is not tried again and tells the operator what to fix', async (status, hint) => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { status });
    const { deps, waits } = copyDeps();

    const failure = transferFile(deps, fileId, `k/${fileId}`);

    await expect(failure).rejects.toThrow(ConsumerDependencyError);
    await expect(failure).rejects.toThrow(`GET /files/${fileId}/content answered HTTP ${status}; ${hint}`);
    expect(contentRequests(fileId)).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('[RULE] a Content-Length that disagrees with the file object’s size is refused without a retry', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n', { bytes: 100 });

    const failure = transferFile(copyDeps().deps, fileId, `k/${fileId}`);

    await expect(failure).rejects.toThrow(
      `GET /files/${fileId}/content sent Content-Length 8, but Together's file object gives 100 bytes; refused (check TOGETHER_API_BASE_URL points at Together's API)`,
    );
    expect(contentRequests(fileId)).toHaveLength(1);
  });

  it.each([
    ['runs past the file’s size', 5, 'the body ran past the file\'s 5 bytes'],
    ['ends before the file’s size', 100, 'the body ended after 8 of 100 bytes'],
  ])('[RULE] a body without Content-Length that %s fails every try and stores nothing', async (_case, bytes, cause) => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n', { bytes, contentLength: false });
    const { deps } = copyDeps({ policy: { ...DEFAULT_TRANSFER_POLICY, maxAttempts: 2 } });

    const failure = transferFile(deps, fileId, `k/${fileId}`);

    await expect(failure).rejects.toThrow(new RegExp(`failed 2 times \\(last: copying /files/${fileId}/content to S3: .*${cause}`));
    expect(s3.objects.has(`results/k/${fileId}`)).toBe(false);
  });

  it('[RULE] a download that goes quiet is cut and tried again', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { hang: true });
    const { deps, retries } = copyDeps({ policy: { ...DEFAULT_TRANSFER_POLICY, idleTimeoutMs: 100 } });

    await transferFile(deps, fileId, `k/${fileId}`);

    expect(retries.map((retry) => retry.cause)).toEqual([`GET /files/${fileId}/content: no data for 0.1 s`]);
    expect(s3.objects.get(`results/k/${fileId}`)).toBe('{"a":1}\n');
  });

  it('[RULE] redirects are followed three times at most; a fourth is an answer the operator is told to check', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    const loop = { status: 302, headers: { location: `${api.url}/files/${fileId}/content` } };
    api.inject(`/files/${fileId}/content`, loop, loop, loop, loop);

    await expect(transferFile(copyDeps().deps, fileId, `k/${fileId}`)).rejects.toThrow(`GET /files/${fileId}/content answered HTTP 302; check TOGETHER_API_BASE_URL`);
    expect(contentRequests(fileId).map((request) => request.authorization)).toEqual(Array(4).fill('Bearer files-key'));
  });

  it('[RULE] a redirect without a Location is an answer the operator is told to check', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { status: 302 });

    await expect(transferFile(copyDeps().deps, fileId, `k/${fileId}`)).rejects.toThrow(`GET /files/${fileId}/content answered HTTP 302; check TOGETHER_API_BASE_URL`);
    expect(contentRequests(fileId)).toHaveLength(1);
  });

  it('[RULE] a Location on an answer that is no redirect is not followed', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { status: 200, headers: { location: `${api.url}/files/elsewhere/content`, 'content-length': '8' }, body: '{"a":1}\n' });

    await transferFile(copyDeps().deps, fileId, `k/${fileId}`);

    expect(api.requests.filter((request) => request.path === '/files/elsewhere/content')).toEqual([]);
    expect(s3.objects.get(`results/k/${fileId}`)).toBe('{"a":1}\n');
  });

  it('[RULE] a redirect to another origin is followed without the API key', async () => {
    const fileId = nextFileId();
    const storage = await fakeFilesApi();
    storage.file(fileId, '{"a":1}\n');
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { status: 307, headers: { location: `${storage.url}/files/${fileId}/content` } });

    try {
      await transferFile(copyDeps().deps, fileId, `k/${fileId}`);
      expect(storage.requests.map((request) => request.authorization)).toEqual([undefined]);
    } finally {
      await storage.close();
    }
    expect(s3.objects.get(`results/k/${fileId}`)).toBe('{"a":1}\n');
  });

  it('[RULE] a copy told of no retries still tries again', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    api.inject(`/files/${fileId}/content`, { status: 503 });
    const { deps, waits } = copyDeps();
    const { onRetry: _untold, ...untold } = deps;

    await transferFile(untold, fileId, `k/${fileId}`);

    expect(waits).toEqual([500]);
    expect(s3.objects.get(`results/k/${fileId}`)).toBe('{"a":1}\n');
  });

  it('[RULE] an S3 that fails is tried again and then fails retryably, naming S3', async () => {
    const fileId = nextFileId();
    api.file(fileId, '{"a":1}\n');
    s3.failWith = 500;
    const { deps, retries } = copyDeps({ policy: { ...DEFAULT_TRANSFER_POLICY, maxAttempts: 2 } });

    try {
      await expect(transferFile(deps, fileId, `k/${fileId}`)).rejects.toThrow(`copying /files/${fileId}/content to s3://results/k/${fileId} failed 2 times (last: copying /files/${fileId}/content to S3:`);
    } finally {
      s3.failWith = undefined;
    }
    expect(retries).toHaveLength(1);
  });

  it.each([
    [
      'cannot be read',
      async () => {
        throw new Error('HTTP 503 after 4 tries');
      },
      'could not read the size of file %ID from Together, without which its copy cannot be checked (HTTP 503 after 4 tries); the event is retried',
    ],
    [
      'cannot be read (a rejection that is not an Error)',
      async () => {
        throw 'socket hang up';
      },
      'could not read the size of file %ID from Together, without which its copy cannot be checked (socket hang up); the event is retried',
    ],
    ['is missing', async () => undefined, 'Together has no file %ID (HTTP 404 on GET /files/%ID); check the API key belongs to the account that ran the batch'],
  ])('[RULE] a file whose object %s fails retryably before any download', async (_case, getFile, message) => {
    const fileId = nextFileId();
    const { deps } = copyDeps();

    const failure = transferFile({ ...deps, files: { ...deps.files, getFile } }, fileId, `k/${fileId}`);

    await expect(failure).rejects.toThrow(ConsumerDependencyError);
    await expect(failure).rejects.toThrow(message.replaceAll('%ID', fileId));
    expect(contentRequests(fileId)).toEqual([]);
    // What the failure log shows as its cause: the reader's own error, when there was one.
    const thrown = await getFile().catch((error: unknown) => error);
    expect(String(((await failure.catch((error: unknown) => error)) as Error).cause)).toBe(String(thrown));
  });
});

describe('copying a batch file from an https API', () => {
  /** An https files API on loopback that answers every content request with `location`; its certificate trusted while `run` runs. */
  async function overHttps<T>(location: (origin: string) => string, run: (baseUrl: string, seen: string[]) => Promise<T>): Promise<T> {
    const seen: string[] = [];
    const server = createHttpsServer({ cert: LOOPBACK_TLS.cert, key: LOOPBACK_TLS.key }, (request, response) => {
      seen.push(`${request.url} ${request.headers.authorization ?? '-'}`);
      if (request.url?.endsWith('/content') === true) response.writeHead(302, { location: location(`https://localhost:${(server.address() as AddressInfo).port}`) }).end();
      else response.writeHead(200, { 'content-length': '8' }).end('{"a":1}\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const trusted = globalAgent.options.ca;
    globalAgent.options.ca = LOOPBACK_TLS.cert;
    try {
      return await run(`https://localhost:${(server.address() as AddressInfo).port}/v1`, seen);
    } finally {
      globalAgent.options.ca = trusted;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  const httpsDeps = (baseUrl: string) => {
    const { deps } = copyDeps();
    return { ...deps, files: { ...deps.files, baseUrl, getFile: async () => ({ bytes: 8 }) } };
  };

  it('[RULE] a redirect from https to plain http is refused without a retry, and the key is never sent over http', async () => {
    const fileId = nextFileId();
    const plainBefore = api.requests.length;

    await overHttps(
      () => `${api.url}/files/${fileId}/content`,
      async (baseUrl, seen) => {
        const failure = transferFile(httpsDeps(baseUrl), fileId, `k/${fileId}`);

        await expect(failure).rejects.toThrow(ConsumerDependencyError);
        await expect(failure).rejects.toThrow(`GET /v1/files/${fileId}/content redirected from https to http:; refused`);
        expect(seen).toEqual([`/v1/files/${fileId}/content Bearer files-key`]);
      },
    );
    expect(api.requests.length).toBe(plainBefore);
  });

  it('[RULE] a redirect within the https API keeps the key and completes the copy', async () => {
    const fileId = nextFileId();

    const file = await overHttps(
      (origin) => `${origin}/blob`,
      async (baseUrl, seen) => {
        const copied = await transferFile(httpsDeps(baseUrl), fileId, `k/${fileId}`);
        expect(seen).toEqual([`/v1/files/${fileId}/content Bearer files-key`, '/blob Bearer files-key']);
        return copied;
      },
    );

    expect(file).toMatchObject({ bytes: 8, lines: 1 });
  });
});
