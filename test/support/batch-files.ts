import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { RouteContext } from '../../functions/consumers/routes/context';

/**
 * In-process stand-ins for the unit tests of batch results: a provider's files API (Together's and
 * OpenAI's share `GET /files/{id}` and `GET /files/{id}/content`; Together's batch lookup is
 * `GET /batches/{id}`), an S3 that keeps what is put to it (path-style), and a route context whose
 * job items and once-records live in memory.
 */

export interface Served {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Sends nothing: the connection stays open and quiet. */
  readonly hang?: boolean;
}

export interface FakeApi {
  /** The base URL, `/v1` included. */
  readonly url: string;
  /** `GET /files/{id}` answers the file object with `bytes` (unless given), `/content` the text. */
  file(fileId: string, content: string, options?: { bytes?: number; contentLength?: boolean }): void;
  /** `GET /batches/{id}` answers this batch object. */
  batch(batchId: string, batch: Record<string, unknown>): void;
  /** The next answers to `path` (after `/v1`), before the registered one. */
  inject(path: string, ...answers: Served[]): void;
  /** Requests seen: path (after `/v1`) and the authorization header. */
  readonly requests: { path: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

async function listen(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function fakeFilesApi(): Promise<FakeApi> {
  const files = new Map<string, { content: string; bytes?: number; contentLength: boolean }>();
  const batches = new Map<string, Record<string, unknown>>();
  const injected = new Map<string, Served[]>();
  const requests: FakeApi['requests'] = [];
  const json = (response: ServerResponse, status: number, body: unknown) =>
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const server = await listen((request, response) => {
    const path = (request.url ?? '').replace(/^\/v1/, '');
    requests.push({ path, authorization: request.headers.authorization });
    const next = injected.get(path)?.shift();
    if (next?.hang === true) return;
    if (next !== undefined) {
      response.writeHead(next.status ?? 200, next.headers ?? {}).end(next.body ?? '');
      return;
    }
    const [, kind, id, rest] = path.split('/').map((part) => decodeURIComponent(part));
    if (kind === 'batches' && id !== undefined && batches.has(id)) return json(response, 200, batches.get(id));
    const file = kind === 'files' && id !== undefined ? files.get(id) : undefined;
    if (file === undefined) return json(response, 404, { error: { message: 'not found' } });
    if (rest === 'content') {
      response.writeHead(200, file.contentLength ? { 'content-length': String(Buffer.byteLength(file.content)) } : {}).end(file.content);
      return;
    }
    json(response, 200, { id, object: 'file', bytes: file.bytes ?? Buffer.byteLength(file.content), created_at: 1_700_000_000, filename: 'output.jsonl', purpose: 'batch_output' });
  });
  return {
    url: `${server.url}/v1`,
    file: (fileId, content, options = {}) => void files.set(fileId, { content, bytes: options.bytes, contentLength: options.contentLength ?? true }),
    batch: (batchId, batch) => void batches.set(batchId, { id: batchId, created_at: '2026-01-01T00:00:00Z', ...batch }),
    inject: (path, ...answers) => void injected.set(path, [...(injected.get(path) ?? []), ...answers]),
    requests,
    close: server.close,
  };
}

export interface FakeS3 {
  readonly url: string;
  readonly client: S3Client;
  /** Requests received, failed ones included. */
  readonly requests: number;
  /** Objects by `{bucket}/{key}`. */
  readonly objects: Map<string, string>;
  /** Each object's Content-Type and `x-amz-meta-*` headers, by `{bucket}/{key}`. */
  readonly heads: Map<string, Record<string, string>>;
  /** Answers every request with this status while set (e.g. 500). */
  failWith: number | undefined;
  close(): Promise<void>;
}

/** An S3 on loopback that keeps each PutObject's body; multipart uploads are not needed by files this small. */
export async function fakeS3(): Promise<FakeS3> {
  const objects = new Map<string, string>();
  const heads = new Map<string, Record<string, string>>();
  const state: { failWith: number | undefined; requests: number } = { failWith: undefined, requests: 0 };
  const server = await listen((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      state.requests += 1;
      if (state.failWith !== undefined) {
        response.writeHead(state.failWith, { 'content-type': 'application/xml' }).end('<Error><Code>InternalError</Code><Message>down</Message></Error>');
        return;
      }
      if (request.method === 'PUT') {
        const key = decodeURIComponent((request.url ?? '').split('?')[0]!.slice(1));
        objects.set(key, Buffer.concat(chunks).toString('utf8'));
        heads.set(key, Object.fromEntries(Object.entries(request.headers).filter(([name]) => name === 'content-type' || name.startsWith('x-amz-meta-')) as [string, string][]));
      }
      response.writeHead(200, { etag: '"etag"' }).end();
    });
  });
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: server.url,
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  return {
    url: server.url,
    client,
    objects,
    heads,
    get requests() {
      return state.requests;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(value) {
      state.failWith = value;
    },
    close: server.close,
  };
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * An UpdateItem's `SET #a = :a, …` and its `attribute_exists(#a)` / `attribute_not_exists(#a)`
 * conditions joined by AND, as DynamoDB reads them; any other form is refused as DynamoDB refuses
 * an expression it cannot parse or whose names or values are not all given.
 */
function updateOf(input: Record<string, unknown>): { set: [string, unknown][]; holds: (item: Record<string, unknown> | undefined) => boolean } {
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
  const invalid = (what: string) => new Error(`ValidationException: ${what}`);
  const nameOf = (token: string) => {
    const name = names[token];
    if (name === undefined || name === '') throw invalid(`no name for ${token}`);
    return name;
  };
  const update = /^SET (.+)$/.exec(String(input.UpdateExpression ?? ''));
  if (update === null) throw invalid(`UpdateExpression ${String(input.UpdateExpression)}`);
  const set = update[1]!.split(',').map((assignment): [string, unknown] => {
    const parts = /^\s*(#\w+) = (:\w+)\s*$/.exec(assignment);
    if (parts === null || !(parts[2]! in values)) throw invalid(`SET ${assignment}`);
    return [nameOf(parts[1]!), values[parts[2]!]];
  });
  const conditions = input.ConditionExpression === undefined ? [] : String(input.ConditionExpression).split(' AND ').map((clause) => {
    const parts = /^(attribute_exists|attribute_not_exists)\((#\w+)\)$/.exec(clause.trim());
    if (parts === null) throw invalid(`ConditionExpression ${clause}`);
    const name = nameOf(parts[2]!);
    return (item: Record<string, unknown> | undefined) => (item !== undefined && name in item) === (parts[1] === 'attribute_exists');
  });
  return { set, holds: (item) => conditions.every((holds) => holds(item)) };
}

type Command = { readonly constructor: { readonly name: string }; readonly input: Record<string, unknown> };

export interface MemoryContext {
  readonly context: RouteContext;
  /** Job items by `pk`. */
  readonly items: Map<string, Record<string, unknown>>;
  /** Steps whose once-record is kept. */
  readonly done: Set<string>;
  /** Log lines: level, message and fields. */
  readonly logs: { level: string; message: string; fields: Record<string, unknown> }[];
  /** Makes the next command of this name fail with `error`. */
  failNext(command: 'UpdateCommand' | 'GetCommand', error: Error): void;
}

/** A route context of event `key` whose documents client answers the step's update and read from `items`. */
export function memoryContext(key: string, items: Record<string, Record<string, unknown>> = {}): MemoryContext {
  const table = new Map(Object.entries(items));
  const done = new Set<string>();
  const logs: MemoryContext['logs'] = [];
  const failures = new Map<string, Error>();
  const log = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void logs.push({ level, message, fields });
  const send = async ({ constructor, input }: Command) => {
    const failure = failures.get(constructor.name);
    failures.delete(constructor.name);
    if (failure !== undefined) throw failure;
    const pk = String((input.Key as { pk: string }).pk);
    const item = table.get(pk);
    if (constructor.name === 'GetCommand') return { Item: item };
    const { set, holds } = updateOf(input);
    if (!holds(item)) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
    const updated = item ?? { pk };
    for (const [name, value] of set) updated[name] = value;
    table.set(pk, updated);
    return {};
  };
  const context = {
    key,
    logger: { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') },
    documents: { send },
    jobsTableName: 'jobs',
    once: async (name: string, effect: (idempotencyKey: string) => Promise<void>) => {
      if (done.has(name)) return;
      await effect(`${key}#${name}`);
      done.add(name);
    },
  } as unknown as RouteContext;
  return { context, items: table, done, logs, failNext: (command, error) => void failures.set(command, error) };
}
