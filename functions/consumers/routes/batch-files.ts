import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ApiVariables } from '../../core/api-config';
import { backoffDelayMs, parseRetryAfterMs } from '../../core/api-get';
import type { BatchResultFile } from '../../core/table';
import { ConsumerDependencyError } from '../errors';

/** How a file is copied: retries, stall detection and the multipart upload's shape. */
export interface TransferPolicy {
  /** Tries of one file, the first included; each starts the file again from its first byte. */
  readonly maxAttempts: number;
  /** Backoff ceiling before jitter for the first retry; doubles on each further one. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** The longest `Retry-After` waited out; a longer one fails the attempt at the event (SQS retries it later). */
  readonly maxRetryAfterMs: number;
  /** A download whose socket is idle this long (before the headers or mid-body) is cut and tried again. */
  readonly idleTimeoutMs: number;
  /** Multipart part size; memory held is about `partSizeBytes × (queueSize + 1)`. */
  readonly partSizeBytes: number;
  /** Parts uploaded at once. */
  readonly queueSize: number;
}

/**
 * Four tries per file with backoff under 1, 2, 4 s; a 30 s stall is a failure. Parts of 5 MiB (the
 * S3 minimum), one at a time: the file's bytes in memory stay at about 10 MB whatever its size, and
 * the copying function peaks near 130 MB for a 200 MiB file (`npm run bench:batch-results`; two
 * parts at a time measured about 10 MB more, 8 MiB parts four at a time about 45 MB more, for no
 * gain in speed on the emulators). 10 000 parts of 5 MiB bound a file at 48.8 GiB.
 */
export const DEFAULT_TRANSFER_POLICY: TransferPolicy = {
  maxAttempts: 4,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
  idleTimeoutMs: 30_000,
  partSizeBytes: 5 * 1024 * 1024,
  queueSize: 1,
};

/**
 * A provider's files API as the copy reads it: Together's and OpenAI's have the same two paths,
 * `GET /files/{id}` (the file object, with its size in `bytes`) and `GET /files/{id}/content`.
 */
export interface FilesApi {
  /** The provider's variables: messages name them (`TOGETHER_API_KEY_SECRET_ARN`, …). */
  readonly variables: ApiVariables;
  /** The API's base URL, e.g. `https://api.together.xyz/v1`. */
  readonly baseUrl: string;
  readonly apiKey: () => Promise<string>;
  /** The file object, `undefined` on a 404: where each file's size comes from, which the copy must match. */
  readonly getFile: (fileId: string) => Promise<{ readonly bytes: number } | undefined>;
}

/** What a transfer needs besides the file: clients, the provider's files API, and how to wait. */
export interface TransferDeps {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly files: FilesApi;
  readonly policy: TransferPolicy;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  readonly clock: () => number;
  /** Told of each failed try that is tried again; never given the key or the file's bytes. */
  readonly onRetry?: (notice: { fileId: string; attempt: number; delayMs: number; cause: string }) => void;
}

/** A try that failed in a way another try can fix (429, 5xx, network, a stall, a short body, S3). */
class RetryableTransferError extends Error {
  override name = 'RetryableTransferError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Streams provider file `fileId` (`GET {baseUrl}/files/{fileId}/content`) into `s3://{bucket}/{key}`
 * with a multipart upload, counting bytes and lines and hashing on the way: the file never sits in
 * memory whole. The copy completes only when it holds exactly the `bytes` the file's object
 * (`GET /files/{fileId}`) gives: a body that ends early, even on a clean close with no
 * `Content-Length`, or runs long fails the try, and a `Content-Length` that disagrees with the
 * file's size, or a file object without one, is refused. A failed try aborts its multipart upload
 * and the next try starts the file again from its first byte under the same key, so a retry, or a
 * whole second run, leaves the same object. 401/403/404 are not retried: the key or the file id is
 * wrong.
 */
export async function transferFile(deps: TransferDeps, fileId: string, key: string): Promise<BatchResultFile> {
  const path = `/files/${encodeURIComponent(fileId)}/content`;
  const expectedBytes = await fileSize(deps, fileId);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await transferOnce(deps, fileId, path, key, expectedBytes);
    } catch (error) {
      if (!(error instanceof RetryableTransferError)) throw error;
      if (attempt >= deps.policy.maxAttempts) {
        throw new ConsumerDependencyError(`copying ${path} to s3://${deps.bucket}/${key} failed ${attempt} times (last: ${error.message}); the event is retried`, {
          cause: error,
        });
      }
      let delayMs = backoffDelayMs(deps.policy, attempt, deps.random);
      if (error.retryAfterMs !== undefined) {
        if (error.retryAfterMs > deps.policy.maxRetryAfterMs) {
          throw new ConsumerDependencyError(
            `GET ${path}: ${deps.files.variables.provider} asked to wait ${Math.ceil(error.retryAfterMs / 1000)} s (Retry-After), longer than the ${deps.policy.maxRetryAfterMs / 1000} s a copy waits; the event is retried`,
          );
        }
        delayMs = error.retryAfterMs;
      }
      deps.onRetry?.({ fileId, attempt, delayMs, cause: error.message });
      await deps.sleep(delayMs);
    }
  }
}

/** The file's size from the provider's files API, which the copy must match byte for byte. */
async function fileSize(deps: TransferDeps, fileId: string): Promise<number> {
  const provider = deps.files.variables.provider;
  let file;
  try {
    file = await deps.files.getFile(fileId);
  } catch (error) {
    throw new ConsumerDependencyError(
      `could not read the size of file ${fileId} from ${provider}, without which its copy cannot be checked (${error instanceof Error ? error.message : String(error)}); the event is retried`,
      { cause: error },
    );
  }
  if (file === undefined) {
    throw new ConsumerDependencyError(`${provider} has no file ${fileId} (HTTP 404 on GET /files/${fileId}); check the API key belongs to the account that ran the batch`);
  }
  return file.bytes;
}

async function transferOnce(deps: TransferDeps, fileId: string, path: string, key: string, expectedBytes: number): Promise<BatchResultFile> {
  const { variables } = deps.files;
  const apiKey = await deps.files.apiKey();
  let response: IncomingMessage;
  try {
    response = await httpGet(new URL(`${deps.files.baseUrl}${path}`), { authorization: `Bearer ${apiKey}` }, deps.policy.idleTimeoutMs);
  } catch (error) {
    throw retryable(`GET ${path}`, error);
  }
  checkStatus(response, path, deps.clock(), variables);

  const length = response.headers['content-length'];
  if (length !== undefined && Number(length) !== expectedBytes) {
    response.destroy();
    throw new ConsumerDependencyError(
      `GET ${path} sent Content-Length ${length}, but ${variables.provider}'s file object gives ${expectedBytes} bytes; refused (check ${variables.baseUrlVariable} points at ${variables.provider}'s API)`,
    );
  }
  const meter = new FileMeter(expectedBytes);
  // `pipeline` carries a failure of the download (a reset, the stall timeout) into the meter, which
  // the upload reads: the upload then fails and aborts its multipart upload.
  const source = pipeline(response, meter, () => undefined);
  const upload = new Upload({
    client: deps.s3,
    // Stryker disable next-line MethodExpression: metadata keys travel as x-amz-meta-* headers, whose names are case-insensitive, and S3 keeps them lowercased
    params: { Bucket: deps.bucket, Key: key, Body: source, ContentType: 'application/jsonl', Metadata: { [`${variables.provider.toLowerCase()}-file-id`]: fileId } },
    partSize: deps.policy.partSizeBytes,
    queueSize: deps.policy.queueSize,
    leavePartsOnError: false,
  });
  try {
    await upload.done();
  } catch (error) {
    source.destroy();
    throw retryable(`copying ${path} to S3`, error);
  }
  return { uri: `s3://${deps.bucket}/${key}`, fileId, bytes: meter.bytes, lines: meter.lines(), sha256: meter.hash.digest('hex') };
}

/** Redirects followed; the key goes only to the API's own origin. */
const MAX_REDIRECTS = 3;

/**
 * GET over node:http(s), whose response is a Node stream with backpressure: it reads from the
 * socket only as fast as the upload takes the bytes, and churns about half the memory per MB that
 * `fetch`'s web streams do (`npm run bench:batch-results`). A socket idle for `idleTimeoutMs`
 * (before the headers or mid-body) fails the request. Redirects are followed, without the
 * `authorization` header once they leave the API's origin, never from https to http.
 */
function httpGet(url: URL, headers: Record<string, string>, idleTimeoutMs: number, redirectsLeft = MAX_REDIRECTS): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).get(url, { headers }, (response) => {
      const location = response.headers.location;
      if (response.statusCode !== undefined && REDIRECTS.has(response.statusCode) && location !== undefined && redirectsLeft > 0) {
        response.resume();
        const next = new URL(location, url);
        if (url.protocol === 'https:' && next.protocol !== 'https:') {
          reject(new ConsumerDependencyError(`GET ${url.pathname} redirected from https to ${next.protocol}; refused`));
          return;
        }
        const { authorization: _dropped, ...rest } = headers;
        resolve(httpGet(next, next.origin === url.origin ? headers : rest, idleTimeoutMs, redirectsLeft - 1));
        return;
      }
      resolve(response);
    });
    request.setTimeout(idleTimeoutMs, () => request.destroy(new RetryableTransferError(`no data for ${idleTimeoutMs / 1000} s`)));
    request.on('error', reject);
  });
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function checkStatus(response: IncomingMessage, path: string, nowMs: number, variables: ApiVariables): void {
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return;
  response.resume();
  if (status === 429 || status >= 500) {
    throw new RetryableTransferError(`GET ${path} answered HTTP ${status}`, parseRetryAfterMs(response.headers['retry-after'], nowMs));
  }
  const hint =
    status === 401 || status === 403
      ? `store a valid ${variables.provider} API key in the secret ${variables.keyVariable}_SECRET_ARN names (${variables.keyVariable} locally)`
      : status === 404
        ? `the batch names a file ${variables.provider} does not have (check the API key belongs to the account that ran the batch)`
        : `check ${variables.baseUrlVariable}`;
  throw new ConsumerDependencyError(`GET ${path} answered HTTP ${status}; ${hint}`);
}

/** Why a try failed, as an error that fails the attempt: retryable unless it is final already. */
function retryable(what: string, error: unknown): Error {
  if (error instanceof ConsumerDependencyError) return error;
  // Stryker disable next-line ConditionalExpression,ObjectLiteral: the errors wrapped here (a request's, the upload's) never carry a Retry-After, so either branch builds the same error; a failure's log shows its cause one level down, never the cause's cause
  if (error instanceof RetryableTransferError) return new RetryableTransferError(`${what}: ${error.message}`, error.retryAfterMs, { cause: error });
  // Stryker disable next-line ObjectLiteral: a failure's log shows its cause one level down, never the cause's cause
  return new RetryableTransferError(`${what}: ${error instanceof Error ? error.message : String(error)}`, undefined, { cause: error });
}

/**
 * Passes the bytes through unchanged while counting them and their newlines and hashing them;
 * fails as soon as the body runs past the file's size, and at its end when it is shorter, so that
 * a cut download never completes an upload, whether or not the response said how long it was.
 */
class FileMeter extends Transform {
  bytes = 0;
  readonly hash = createHash('sha256');
  private newlines = 0;
  private lastByte: number | undefined;

  constructor(private readonly expectedBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.expectedBytes) {
      done(new RetryableTransferError(`the body ran past the file's ${this.expectedBytes} bytes`));
      return;
    }
    for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) this.newlines += 1;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a byte stream never passes on an empty chunk
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1];
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.bytes !== this.expectedBytes) {
      done(new RetryableTransferError(`the body ended after ${this.bytes} of ${this.expectedBytes} bytes`));
      return;
    }
    done();
  }

  /** JSONL lines: every newline ends one, and a last line without a newline counts too. */
  lines(): number {
    return this.newlines + (this.lastByte !== undefined && this.lastByte !== 0x0a ? 1 : 0);
  }
}
