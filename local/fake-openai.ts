import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Batch } from 'openai/resources/batches';
import { FakeOpenAiState, cursorPage, type FakeBatchInput, type FakeJob, type FakeJobInput } from './fake-openai-state';
import { programOnlyRefusal, sendRefusal, serveOnLoopback } from './loopback';

export { fakeLoss, type FakeBatchInput, type FakeBatchOutcome, type FakeJob, type FakeJobInput, type FakeJobOutcome } from './fake-openai-state';

/**
 * A stand-in for the parts of OpenAI's REST API the enricher reads (fine-tuning jobs, their
 * checkpoints and events, batches, files), for tests and the local runtime: deterministic objects,
 * a Bearer key check, 404 for unknown ids, scripted faults and a request log. Never deployed.
 */

/** A fault for the next matching requests. */
export interface FakeOpenAiFault {
  /** A path (after `/v1`, without the query) or pattern; every path when absent. */
  readonly path?: string | RegExp;
  /** How many requests it hits; 1 when absent. */
  readonly times?: number;
  /** Answer with this status (429, 500, …). */
  readonly status?: number;
  /** The `Retry-After` header to send with it, seconds or an HTTP date. */
  readonly retryAfter?: string;
  /** Never answer: the client's timeout has to fire. */
  readonly hang?: boolean;
}

export interface FakeOpenAiRequest {
  readonly method: string;
  /** Path after `/v1`, without the query, e.g. `/fine_tuning/jobs/ftjob-1/events`. */
  readonly path: string;
  readonly authorized: boolean;
  /** The status sent; `undefined` for a hung request. */
  readonly status?: number;
}

/** The key the fake accepts unless told otherwise. */
export const FAKE_OPENAI_API_KEY = 'sk-fake-openai-key';

export interface FakeOpenAiOptions {
  /** The only key accepted; anything else is a 401. */
  readonly apiKey?: string;
  /** Epoch milliseconds: when jobs and batches are made. */
  readonly clock?: () => number;
}

/** The fake without a server: mount {@link FakeOpenAiApi.handle} under any prefix. */
export interface FakeOpenAiApi {
  readonly apiKey: string;
  /** Every request received, oldest first. */
  readonly requests: FakeOpenAiRequest[];
  /** A fine-tuning job that ran `steps` steps and ended as `outcome` (what `webhooks simulate` makes). */
  createJob(input: FakeJobInput): FakeJob;
  /** A batch that ended as `outcome`, with its files. */
  createBatch(input: FakeBatchInput): Batch;
  inject(fault: FakeOpenAiFault): void;
  clearFaults(): void;
  /** Requests to a path (exact, after `/v1`) or matching a pattern. */
  requestsTo(path: string | RegExp): FakeOpenAiRequest[];
  /**
   * Answers one request whose path, after the mount's prefix, is `path` (starting `/v1/…`, or
   * `/…`). Refuses, like every local server, a request from a web page or to another Host.
   */
  handle(request: IncomingMessage, response: ServerResponse, path?: string): void;
}

export interface FakeOpenAi extends FakeOpenAiApi {
  /** Base URL including `/v1`: what `OPENAI_API_BASE_URL` is set to. */
  readonly url: string;
  stop(): Promise<void>;
}

/** The fake's state and request handler, to mount in a server of fake providers. */
export function createFakeOpenAi(options: FakeOpenAiOptions = {}): FakeOpenAiApi {
  const apiKey = options.apiKey ?? FAKE_OPENAI_API_KEY;
  const state = new FakeOpenAiState(options.clock ?? Date.now);
  const faults: { fault: FakeOpenAiFault; left: number }[] = [];
  const requests: FakeOpenAiRequest[] = [];

  const takeFault = (path: string): FakeOpenAiFault | undefined => {
    const found = faults.find(({ fault }) => (fault.path === undefined ? true : typeof fault.path === 'string' ? fault.path === path : fault.path.test(path)));
    if (found === undefined) return undefined;
    found.left -= 1;
    if (found.left <= 0) faults.splice(faults.indexOf(found), 1);
    return found.fault;
  };

  const handle = (request: IncomingMessage, response: ServerResponse, mountedPath?: string): void => {
    const refused = programOnlyRefusal(request);
    if (refused !== undefined) return sendRefusal(response, refused);
    const url = new URL(mountedPath ?? request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const path = url.pathname.startsWith('/v1/') ? url.pathname.slice(3) : url.pathname;
    const authorized = request.headers.authorization === `Bearer ${apiKey}`;
    const log = (status: number | undefined) => requests.push({ method, path, authorized, ...(status === undefined ? {} : { status }) });
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      log(status);
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(payload));
    };
    const notFound = (what: string) =>
      send(404, { error: { message: `No ${what} found with id '${decodeURIComponent(path.split('/')[2] ?? '')}'.`, type: 'invalid_request_error', param: 'id', code: null } });

    const fault = takeFault(path);
    if (fault?.hang) return void log(undefined); // the socket stays open until the client gives up or the fake stops
    if (fault?.status !== undefined) {
      return send(
        fault.status,
        { error: { message: `injected HTTP ${fault.status}`, type: fault.status === 429 ? 'requests' : 'server_error', param: null, code: null } },
        fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter },
      );
    }
    if (!authorized) {
      return send(401, {
        error: { message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
      });
    }
    if (method !== 'GET') return send(405, { error: { message: `${method} is not served by this fake`, type: 'invalid_request_error', param: null, code: null } });

    const job = /^\/fine_tuning\/jobs\/([^/]+)(\/checkpoints|\/events)?$/.exec(path);
    if (job) {
      const found = state.jobs.get(decodeURIComponent(job[1] as string));
      if (found === undefined) return notFound('fine-tuning job');
      if (job[2] === '/checkpoints') return send(200, cursorPage(found.checkpoints, url.searchParams));
      if (job[2] === '/events') return send(200, cursorPage(found.events, url.searchParams));
      return send(200, found.job);
    }
    const batch = /^\/batches\/([^/]+)$/.exec(path);
    if (batch) {
      const found = state.batches.get(decodeURIComponent(batch[1] as string));
      return found === undefined ? notFound('batch') : send(200, found);
    }
    const file = /^\/files\/([^/]+)(\/content)?$/.exec(path);
    if (file) {
      const found = state.files.get(decodeURIComponent(file[1] as string));
      if (found === undefined) return notFound('file');
      if (file[2] === undefined) return send(200, found.object);
      log(200);
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(found.object.bytes) });
      return void response.end(found.content);
    }
    return send(404, { error: { message: `Invalid URL (${method} /v1${path})`, type: 'invalid_request_error', param: null, code: null } });
  };

  return {
    apiKey,
    requests,
    createJob: (input) => state.createJob(input),
    createBatch: (input) => state.createBatch(input),
    inject(fault) {
      faults.push({ fault, left: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    requestsTo(path) {
      return requests.filter((request) => (typeof path === 'string' ? request.path === path : path.test(request.path)));
    },
    handle,
  };
}

/** Starts the fake on loopback, on `port` (0: a free one). */
export async function startFakeOpenAi(options: FakeOpenAiOptions & { port?: number } = {}): Promise<FakeOpenAi> {
  const api = createFakeOpenAi(options);
  const server = await serveOnLoopback((request, response) => api.handle(request, response), options.port);
  return { ...api, url: `${server.origin}/v1`, stop: server.stop };
}
