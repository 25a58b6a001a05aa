import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultBatchFile, fileObject, sendFile, type FakeFileContent, type ServedFile } from './fake-together-files';
import { guardProgramOnly } from './loopback';

export type { FakeFileContent, GeneratedFile, ServedFile } from './fake-together-files';

/**
 * A stand-in for Together's REST API (the shapes in docs/providers.md, "together-poll") for tests
 * and the `npm run fake-together` demo: scripted fine-tune job and batch lifecycles, fault
 * injection, a request log, and webhook registration for the operator CLI. Never deployed.
 */

/** One state of a scripted fine-tune job; its events are appended to the job's event list. */
export interface FakeJobStep {
  readonly status: string;
  readonly events?: readonly FakeEventInput[];
  readonly model_output_name?: string;
}

/** An event as a script writes it; `object`, `created_at`, `level` and `hash` are filled in. */
export interface FakeEventInput {
  readonly type: string;
  readonly message?: string;
  readonly step?: number;
  readonly checkpoint_path?: string;
  readonly model_path?: string;
  readonly level?: string;
  readonly hash?: string;
}

/** One state of a scripted batch. */
export interface FakeBatchStep {
  readonly status: string;
  readonly output_file_id?: string;
  readonly error_file_id?: string;
  readonly error?: string;
  readonly progress?: number;
}

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

export interface FakeTogetherOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** The only key accepted; anything else is a 401. */
  readonly apiKey?: string;
  /** Epoch milliseconds, for `created_at` / `updated_at`. */
  readonly clock?: () => number;
}

export interface FakeTogether {
  /** Base URL including `/v1`: what `TOGETHER_API_BASE_URL` is set to. */
  readonly url: string;
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
  /** Requests to a path (exact, after `/v1`) or matching a pattern. */
  requestsTo(path: string | RegExp): FakeRequest[];
  stop(): Promise<void>;
}

/** The key the fake accepts unless told otherwise. */
export const FAKE_TOGETHER_API_KEY = 'fake-together-key';

interface ScriptedJob {
  readonly id: string;
  readonly steps: readonly FakeJobStep[];
  index: number;
  readonly createdAt: string;
  updatedAt: string;
  readonly events: Record<string, unknown>[];
}

interface ScriptedBatch {
  readonly id: string;
  readonly steps: readonly FakeBatchStep[];
  index: number;
  readonly createdAt: string;
  completedAt: string | null;
}

/** Starts the fake on loopback. */
export async function startFakeTogether(options: FakeTogetherOptions = {}): Promise<FakeTogether> {
  const apiKey = options.apiKey ?? FAKE_TOGETHER_API_KEY;
  const clock = options.clock ?? Date.now;
  const jobs = new Map<string, ScriptedJob>();
  const batches = new Map<string, ScriptedBatch>();
  const faults: { fault: FakeFault; left: number }[] = [];
  const requests: FakeRequest[] = [];
  const webhooks: RegisteredWebhook[] = [];
  const files = new Map<string, FakeFileContent>();
  const served: ServedFile[] = [];
  const hidden = new Set<string>();
  // Events get strictly increasing times even when the clock stands still, so their order is real.
  let lastEventMs = 0;
  const eventTime = () => {
    lastEventMs = Math.max(clock(), lastEventMs + 1);
    return new Date(lastEventMs).toISOString();
  };

  const appendEvents = (job: ScriptedJob, step: FakeJobStep) => {
    for (const input of step.events ?? []) {
      const created_at = eventTime();
      job.events.push({
        object: 'fine-tune-event',
        created_at,
        level: input.level ?? (input.type === 'job_error' ? 'error' : 'info'),
        message: input.message ?? input.type.replace(/_/g, ' '),
        type: input.type,
        ...(input.step === undefined ? {} : { step: input.step }),
        ...(input.checkpoint_path === undefined ? {} : { checkpoint_path: input.checkpoint_path }),
        ...(input.model_path === undefined ? {} : { model_path: input.model_path }),
        hash: input.hash ?? createHash('sha256').update(`${job.id}\n${job.events.length}\n${input.type}`).digest('hex').slice(0, 16),
      });
    }
  };

  const jobView = (job: ScriptedJob) => {
    const step = job.steps[job.index] as FakeJobStep;
    const output = job.steps.find((s) => s.model_output_name !== undefined)?.model_output_name;
    return {
      id: job.id,
      object: 'fine-tune',
      status: step.status,
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference',
      model_output_name: output ?? `acme/Meta-Llama-3.1-8B-Instruct-${job.id}`,
      created_at: job.createdAt,
      updated_at: job.updatedAt,
      token_count: 1_048_576,
      epochs_completed: job.index,
      events: job.events,
    };
  };

  const batchView = (batch: ScriptedBatch) => {
    const step = batch.steps[batch.index] as FakeBatchStep;
    return {
      id: batch.id,
      status: step.status,
      output_file_id: step.output_file_id ?? null,
      error_file_id: step.error_file_id ?? null,
      error: step.error ?? null,
      progress: step.progress ?? (batch.index === batch.steps.length - 1 ? 100 : 0),
      created_at: batch.createdAt,
      completed_at: batch.completedAt,
      model_id: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
    };
  };

  const moveJob = (job: ScriptedJob, to: number) => {
    while (job.index < to) {
      job.index += 1;
      appendEvents(job, job.steps[job.index] as FakeJobStep);
      job.updatedAt = new Date(clock()).toISOString();
    }
  };
  const moveBatch = (batch: ScriptedBatch, to: number) => {
    if (batch.index >= to) return;
    batch.index = to;
    if (to === batch.steps.length - 1) batch.completedAt = new Date(clock()).toISOString();
  };

  const takeFault = (path: string): FakeFault | undefined => {
    const found = faults.find(({ fault }) =>
      fault.path === undefined ? true : typeof fault.path === 'string' ? fault.path === path : fault.path.test(path),
    );
    if (found === undefined) return undefined;
    found.left -= 1;
    if (found.left <= 0) faults.splice(faults.indexOf(found), 1);
    return found.fault;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
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

    if (method === 'GET' && path === '/fine-tunes') return send(200, { data: [...jobs.values()].filter((job) => !hidden.has(job.id)).map(jobView) });
    const jobMatch = /^\/fine-tunes\/([^/]+)(\/events)?$/.exec(path);
    if (method === 'GET' && jobMatch) {
      const job = jobs.get(decodeURIComponent(jobMatch[1] as string));
      if (job === undefined) return send(404, { error: { message: 'fine-tune job not found' } });
      return send(200, jobMatch[2] === undefined ? jobView(job) : { data: job.events });
    }
    if (method === 'GET' && path === '/batches') return send(200, [...batches.values()].filter((batch) => !hidden.has(batch.id)).map(batchView));
    const batchMatch = /^\/batches\/([^/]+)$/.exec(path);
    if (method === 'GET' && batchMatch) {
      const batch = batches.get(decodeURIComponent(batchMatch[1] as string));
      return batch === undefined ? send(404, { error: { message: 'batch not found' } }) : send(200, batchView(batch));
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

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: String(error) } }));
    });
  });
  // Like the emulators, it answers programs on this machine, never a web page.
  guardProgramOnly(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const each = (id: string | undefined, onJob: (job: ScriptedJob) => void, onBatch: (batch: ScriptedBatch) => void) => {
    if (id !== undefined && !jobs.has(id) && !batches.has(id)) throw new Error(`the fake has no job or batch "${id}"`);
    for (const job of jobs.values()) if (id === undefined || job.id === id) onJob(job);
    for (const batch of batches.values()) if (id === undefined || batch.id === id) onBatch(batch);
  };

  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    webhooks,
    served,
    addFile(id, content) {
      files.set(id, content);
    },
    addJob(id, steps) {
      if (steps.length === 0) throw new Error('a scripted job needs at least one step');
      const now = new Date(clock()).toISOString();
      const job: ScriptedJob = { id, steps, index: 0, createdAt: now, updatedAt: now, events: [] };
      appendEvents(job, steps[0] as FakeJobStep);
      jobs.set(id, job);
    },
    addBatch(id, steps) {
      if (steps.length === 0) throw new Error('a scripted batch needs at least one step');
      const batch: ScriptedBatch = { id, steps, index: 0, createdAt: new Date(clock()).toISOString(), completedAt: null };
      for (const fileId of steps.flatMap((step) => [step.output_file_id, step.error_file_id])) {
        if (fileId !== undefined && !files.has(fileId)) files.set(fileId, defaultBatchFile(fileId));
      }
      moveBatch(batch, 0);
      if (steps.length === 1) batch.completedAt = batch.createdAt;
      batches.set(id, batch);
    },
    advance(id) {
      let moved = false;
      each(
        id,
        (job) => {
          if (job.index < job.steps.length - 1) {
            moveJob(job, job.index + 1);
            moved = true;
          }
        },
        (batch) => {
          if (batch.index < batch.steps.length - 1) {
            moveBatch(batch, batch.index + 1);
            moved = true;
          }
        },
      );
      return moved;
    },
    finish(id) {
      each(
        id,
        (job) => moveJob(job, job.steps.length - 1),
        (batch) => moveBatch(batch, batch.steps.length - 1),
      );
    },
    finished() {
      return [...jobs.values()].every((job) => job.index === job.steps.length - 1) && [...batches.values()].every((batch) => batch.index === batch.steps.length - 1);
    },
    hide(id) {
      each(id, () => undefined, () => undefined);
      hidden.add(id);
    },
    inject(fault) {
      faults.push({ fault, left: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    requestsTo(path) {
      return requests.filter((request) => (typeof path === 'string' ? request.path === path : path.test(request.path)));
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A fine-tune job that queues, starts, saves `checkpoints` checkpoints (one step each) and
 * completes with `model_output_name`.
 */
export function successfulFineTuneScript(options: { checkpoints?: number; modelOutputName?: string } = {}): FakeJobStep[] {
  const checkpoints = options.checkpoints ?? 2;
  return [
    { status: 'pending', events: [{ type: 'job_pending' }] },
    { status: 'running', events: [{ type: 'job_start' }, { type: 'training_start' }] },
    ...Array.from({ length: checkpoints }, (_, index) => {
      const step = (index + 1) * 100;
      return {
        status: 'running',
        events: [{ type: 'checkpoint_save', step, checkpoint_path: `s3://together-checkpoints/ft/checkpoint-${step}`, message: `Checkpoint saved at step ${step}` }],
      };
    }),
    {
      status: 'completed',
      events: [{ type: 'training_complete' }, { type: 'model_upload_complete' }, { type: 'job_complete' }],
      ...(options.modelOutputName === undefined ? {} : { model_output_name: options.modelOutputName }),
    },
  ];
}

/** A fine-tune job that starts and then fails with `message` in a `job_error` event. */
export function failedFineTuneScript(message = 'CUDA out of memory at step 120', status = 'error'): FakeJobStep[] {
  return [
    { status: 'pending', events: [{ type: 'job_pending' }] },
    { status: 'running', events: [{ type: 'job_start' }] },
    { status, events: [{ type: 'job_error', message, step: 120 }] },
  ];
}

/** A batch that validates, runs and ends in `final` (`COMPLETED`, `FAILED`, `EXPIRED`, `CANCELLED`). */
export function batchScript(id: string, final: 'COMPLETED' | 'FAILED' | 'EXPIRED' | 'CANCELLED'): FakeBatchStep[] {
  const last: FakeBatchStep =
    final === 'COMPLETED'
      ? { status: final, output_file_id: `file-out-${id}`, error_file_id: `file-err-${id}` }
      : { status: final, error: final === 'FAILED' ? 'input file failed validation' : `batch ${final.toLowerCase()}`, ...(final === 'FAILED' ? { error_file_id: `file-err-${id}` } : {}) };
  return [{ status: 'VALIDATING' }, { status: 'IN_PROGRESS', progress: 40 }, last];
}
