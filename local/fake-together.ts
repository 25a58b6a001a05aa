import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileObject, sendFile, type FakeFileContent, type ServedFile } from './fake-together-files';
import type { FakeBatchStep, FakeJobStep } from './fake-together-scripts';
import { scriptedLifecycles } from './fake-together-state';
import { serveOnLoopback } from './loopback';

export type { FakeFileContent, GeneratedFile, ServedFile } from './fake-together-files';
export { batchScript, failedFineTuneScript, successfulFineTuneScript, type FakeBatchStep, type FakeEventInput, type FakeJobStep } from './fake-together-scripts';

/**
 * A stand-in for Together's REST API (the shapes in docs/providers.md, "together-poll") for tests
 * and the `npm run fake-together` demo: scripted fine-tune job and batch lifecycles with their
 * checkpoints and a decreasing loss curve, fault injection, a request log, and webhook
 * registration for the operator CLI. Never deployed.
 */

/** A fault for the next matching requests. */
export interface FakeFault {
  /** A path (after `/v1`) or pattern; every path when absent. */
  readonly path?: string | RegExp;
  /** How many requests it hits; 1 when absent. */
  readonly times?: number;
  /** Answer with this status (429, 500, …). */
  readonly status?: number;
  /** The `Retry-After` header to send with it, seconds or an HTTP date. */
  readonly retryAfter?: string;
  /** Never answer: the client's timeout has to fire. */
  readonly hang?: boolean;
  /** For a file's contents: cut the connection after this many bytes of the body. */
  readonly breakAfterBytes?: number;
}

export interface FakeRequest {
  readonly method: string;
  /** Path after `/v1`, e.g. `/fine-tunes/ft-1/events`. */
  readonly path: string;
  readonly authorized: boolean;
  /** The status sent; `undefined` for a hung request. */
  readonly status?: number;
  readonly at: number;
}

export interface RegisteredWebhook {
  readonly id: string;
  readonly url: string;
  readonly events: readonly string[];
  readonly secret: string;
  /** The request body as received. */
  readonly body: unknown;
}

export interface FakeTogetherOptions extends FakeTogetherHandlerOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
}

/** The fake without a listener: see {@link createFakeTogetherHandler}. */
export interface FakeTogetherHandlerOptions {
  /** The only key accepted; anything else is a 401. */
  readonly apiKey?: string;
  /** Epoch milliseconds, for `created_at` / `updated_at`. */
  readonly clock?: () => number;
}

export interface FakeTogether extends FakeTogetherControls {
  /** Base URL including `/v1`: what `TOGETHER_API_BASE_URL` is set to. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The fake's request handler, for a server that mounts it (paths with or without `/v1`), with the
 * same controls as {@link FakeTogether}. It never rejects: an error becomes a 500.
 */
export interface FakeTogetherHandler extends FakeTogetherControls {
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

/** What a test or the demo does with the fake: script jobs, inject faults, read the request log. */
export interface FakeTogetherControls {
  readonly apiKey: string;
  /** Every request received, oldest first. */
  readonly requests: FakeRequest[];
  readonly webhooks: RegisteredWebhook[];
  /** A job at its first step. */
  addJob(id: string, steps: readonly FakeJobStep[]): void;
  /**
   * A batch at its first step. The files its steps name are served with a few lines each unless
   * {@link addFile} gives them other contents.
   */
  addBatch(id: string, steps: readonly FakeBatchStep[]): void;
  /**
   * Contents for `GET /files/{id}/content`: bytes, or a file generated while it is served.
   * `GET /files/{id}` answers the file's object, with its size in `bytes`.
   */
  addFile(id: string, content: FakeFileContent): void;
  /** Every file body sent in full, oldest first, with its size and hash. */
  readonly served: ServedFile[];
  /** Moves the named job or batch (or every one) one step on; false when nothing moved. */
  advance(id?: string): boolean;
  /** Moves the named job or batch (or every one) to its last step. */
  finish(id?: string): void;
  /** Whether every job and batch is at its last step. */
  finished(): boolean;
  /**
   * Leaves the job or batch out of `GET /fine-tunes` and `GET /batches` from now on, as Together's
   * lists drop older entries; `GET /fine-tunes/{id}` and `GET /batches/{id}` still answer.
   */
  hide(id: string): void;
  inject(fault: FakeFault): void;
  clearFaults(): void;
  /** Requests to a path (exact, after `/v1`, without the query) or matching a pattern. */
  requestsTo(path: string | RegExp): FakeRequest[];
}

/** The key the fake accepts unless told otherwise. */
export const FAKE_TOGETHER_API_KEY = 'fake-together-key';

/** Starts the fake on loopback. */
export async function startFakeTogether(options: FakeTogetherOptions = {}): Promise<FakeTogether> {
  const fake = createFakeTogetherHandler(options);
  // Like the emulators, it answers programs on this machine, never a web page.
  const server = await serveOnLoopback((request, response) => void fake.handle(request, response), options.port);
  return { ...fake, url: `${server.origin}/v1`, stop: server.stop };
}

/**
 * The fake's state and routes without a listener: `GET /fine-tunes…` (a job, its events,
 * checkpoints and metrics), `GET /batches…`, `GET /files/{id}` and its content, and webhook
 * registration, behind the bearer key and the injected faults.
 */
export function createFakeTogetherHandler(options: FakeTogetherHandlerOptions = {}): FakeTogetherHandler {
  const apiKey = options.apiKey ?? FAKE_TOGETHER_API_KEY;
  const clock = options.clock ?? Date.now;
  const files = new Map<string, FakeFileContent>();
  const lifecycles = scriptedLifecycles(clock, files);
  const faults: { fault: FakeFault; left: number }[] = [];
  const requests: FakeRequest[] = [];
  const webhooks: RegisteredWebhook[] = [];
  const served: ServedFile[] = [];

  const takeFault = (path: string): FakeFault | undefined => {
    const found = faults.find(({ fault }) =>
      fault.path === undefined ? true : typeof fault.path === 'string' ? fault.path === path : fault.path.test(path),
    );
    if (found === undefined) return undefined;
    found.left -= 1;
    if (found.left <= 0) faults.splice(faults.indexOf(found), 1);
    return found.fault;
  };

  const route = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const path = url.pathname.startsWith('/v1') ? url.pathname.slice(3) || '/' : url.pathname;
    const authorized = request.headers.authorization === `Bearer ${apiKey}`;
    const body = await readBody(request);
    const log = (status: number | undefined) => requests.push({ method, path, authorized, ...(status === undefined ? {} : { status }), at: clock() });
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      log(status);
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(payload));
    };

    const fault = takeFault(path);
    if (fault?.hang) {
      log(undefined);
      return; // the socket stays open until the client gives up or the fake stops
    }
    if (fault?.status !== undefined && fault.breakAfterBytes === undefined) {
      return send(fault.status, { error: { message: `injected HTTP ${fault.status}` } }, fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter });
    }
    if (!authorized) {
      return send(401, { error: { message: 'Invalid API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } });
    }

    if (method === 'GET' && path === '/fine-tunes') return send(200, { data: lifecycles.listedJobs() });
    const curveMatch = /^\/fine-tunes\/([^/]+)\/(checkpoints|metrics)$/.exec(path);
    if (method === 'GET' && curveMatch) {
      const jobId = decodeURIComponent(curveMatch[1] as string);
      const resolution = Number(url.searchParams.get('resolution') ?? '');
      const found = curveMatch[2] === 'checkpoints' ? lifecycles.jobCheckpoints(jobId) : lifecycles.jobMetrics(jobId, Number.isSafeInteger(resolution) && resolution > 0 ? resolution : undefined);
      if (found === undefined) return send(404, { error: { message: 'fine-tune job not found' } });
      return send(200, curveMatch[2] === 'checkpoints' ? { data: found } : { metrics: found });
    }
    const jobMatch = /^\/fine-tunes\/([^/]+)(\/events)?$/.exec(path);
    if (method === 'GET' && jobMatch) {
      const jobId = decodeURIComponent(jobMatch[1] as string);
      const events = lifecycles.jobEvents(jobId);
      if (events === undefined) return send(404, { error: { message: 'fine-tune job not found' } });
      return send(200, jobMatch[2] === undefined ? lifecycles.job(jobId) : { data: events });
    }
    if (method === 'GET' && path === '/batches') return send(200, lifecycles.listedBatches());
    const batchMatch = /^\/batches\/([^/]+)$/.exec(path);
    if (method === 'GET' && batchMatch) {
      const batch = lifecycles.batch(decodeURIComponent(batchMatch[1] as string));
      return batch === undefined ? send(404, { error: { message: 'batch not found' } }) : send(200, batch);
    }
    const fileObjectMatch = /^\/files\/([^/]+)$/.exec(path);
    if (method === 'GET' && fileObjectMatch) {
      const fileId = decodeURIComponent(fileObjectMatch[1] as string);
      const content = files.get(fileId);
      return content === undefined ? send(404, { error: { message: `file ${fileId} not found` } }) : send(200, fileObject(fileId, content, clock()));
    }
    const fileMatch = /^\/files\/([^/]+)\/content$/.exec(path);
    if (method === 'GET' && fileMatch) {
      const fileId = decodeURIComponent(fileMatch[1] as string);
      const content = files.get(fileId);
      if (content === undefined) return send(404, { error: { message: `file ${fileId} not found` } });
      log(200);
      return sendFile(response, fileId, content, {
        ...(fault?.breakAfterBytes === undefined ? {} : { breakAfterBytes: fault.breakAfterBytes }),
        onServed: (file) => served.push(file),
      });
    }
    if (method === 'POST' && path === '/webhooks') {
      let parsed: { url?: unknown; events?: unknown } = {};
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        return send(400, { error: { message: 'body must be JSON' } });
      }
      if (typeof parsed.url !== 'string' || parsed.url === '') return send(400, { error: { message: 'url is required' } });
      const events = Array.isArray(parsed.events) ? parsed.events.map(String) : [];
      const webhook: RegisteredWebhook = {
        id: `wh_${webhooks.length + 1}`,
        url: parsed.url,
        events,
        secret: `whsec_${randomBytes(24).toString('base64')}`,
        body: parsed,
      };
      webhooks.push(webhook);
      return send(200, { id: webhook.id, url: webhook.url, events: webhook.events, secret: webhook.secret });
    }
    if (method === 'GET' && path === '/webhooks') {
      return send(200, { data: webhooks.map(({ id, url: target, events }) => ({ id, url: target, events })) });
    }
    return send(404, { error: { message: `no route for ${method} ${path}` } });
  };

  return {
    apiKey,
    requests,
    webhooks,
    served,
    addFile(id, content) {
      files.set(id, content);
    },
    addJob: lifecycles.addJob,
    addBatch: lifecycles.addBatch,
    advance: lifecycles.advance,
    finish: lifecycles.finish,
    finished: lifecycles.finished,
    hide: lifecycles.hide,
    inject(fault) {
      faults.push({ fault, left: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    requestsTo(path) {
      return requests.filter((request) => (typeof path === 'string' ? request.path === path : path.test(request.path)));
    },
    async handle(request, response) {
      try {
        await route(request, response);
      } catch (error) {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { message: String(error) } }));
      }
    },
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
