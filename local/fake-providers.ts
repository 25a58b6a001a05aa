import type { IncomingMessage, ServerResponse } from 'node:http';
import { FAKE_SIMULATE_PATH, type SimulatedJobRequest, type SimulatedJobResponse } from '../ops/simulate';
import { createFakeOpenAi, type FakeOpenAiApi } from './fake-openai';
import { createFakeTogetherHandler, type FakeTogetherHandler } from './fake-together';
import { serveOnLoopback } from './loopback';

/**
 * One local server of fake provider APIs (`npm run fake-providers`, and `npm start` unless told
 * otherwise): OpenAI's under `/openai/v1`, Together's under `/together/v1` and Replicate's under
 * `/replicate/v1`, deterministic, plus `POST /simulate/{provider}/fine-tunes`, which makes a job
 * there for `webhooks simulate`. Loopback only, refused to web pages and other Hosts, like every local server.
 */
export interface FakeProviders {
  /** `http://127.0.0.1:{port}`; each API is under its prefix. */
  readonly url: string;
  /** The base URLs the API variables are set to. */
  readonly baseUrls: { readonly openai: string; readonly together: string; readonly replicate: string };
  readonly openai: FakeOpenAiApi;
  readonly together: FakeTogetherHandler;
  stop(): Promise<void>;
}

/** The token the fake Replicate API takes (its one endpoint: the webhook signing secret). */
export const FAKE_REPLICATE_API_TOKEN = 'r8_fake-replicate-token';

export async function startFakeProviders(options: { port?: number; replicateSecret: string }): Promise<FakeProviders> {
  const openai = createFakeOpenAi();
  const together = createFakeTogetherHandler();
  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const [, prefix = '', ...rest] = path.split('/');
    const below = `/${rest.join('/')}${new URL(request.url ?? '/', 'http://localhost').search}`;
    if (prefix === 'openai') return openai.handle(request, response, below);
    if (prefix === 'together') {
      request.url = below;
      return together.handle(request, response);
    }
    if (prefix === 'replicate') return replicate(request, response, below, options.replicateSecret);
    if (prefix === 'simulate' && request.method === 'POST') return simulate(request, response, rest, openai);
    json(response, 404, { error: `no fake API at ${path}: try /openai/v1, /together/v1, /replicate/v1` });
  };
  const server = await serveOnLoopback((request, response) => {
    void route(request, response).catch((error: unknown) => {
      if (!response.headersSent) json(response, 500, { error: { message: String(error) } });
    });
  }, options.port);
  const url = server.origin;
  return {
    url,
    baseUrls: { openai: `${url}/openai/v1`, together: `${url}/together/v1`, replicate: `${url}/replicate/v1` },
    openai,
    together,
    stop: server.stop,
  };
}

/** `POST /simulate/openai/fine-tunes`: a finished job in the fake OpenAI API, for its webhook to name. */
async function simulate(request: IncomingMessage, response: ServerResponse, rest: readonly string[], openai: FakeOpenAiApi): Promise<void> {
  if (`/${rest.join('/')}` !== FAKE_SIMULATE_PATH.replace('/simulate', '')) return json(response, 404, { error: `only POST ${FAKE_SIMULATE_PATH} is simulated here` });
  let input: SimulatedJobRequest;
  try {
    input = JSON.parse(await body(request)) as SimulatedJobRequest;
  } catch {
    return json(response, 400, { error: 'the body must be JSON: { "id", "steps", "outcome" }' });
  }
  if (typeof input.id !== 'string' || !Number.isInteger(input.steps) || !['completed', 'failed', 'cancelled'].includes(input.outcome)) {
    return json(response, 400, { error: 'expected { "id": string, "steps": integer, "outcome": "completed" | "failed" | "cancelled" }' });
  }
  const made = openai.createJob({
    id: input.id,
    steps: input.steps,
    outcome: input.outcome === 'completed' ? 'succeeded' : input.outcome,
    checkpointEvery: Math.max(1, Math.floor(input.steps / 4)),
    ...(Number.isInteger(input.startSeconds) ? { createdAt: input.startSeconds } : {}),
  });
  const curve = made.events.flatMap((event) => (event.type === 'metrics' && event.data !== undefined ? [event.data as { step: number; train_loss: number }] : []));
  const answer: SimulatedJobResponse = { id: made.job.id, ...(made.job.fine_tuned_model ? { model: made.job.fine_tuned_model } : {}), curve: curve.map(({ step, train_loss }) => ({ step, loss: train_loss })) };
  json(response, 200, answer);
}

/** Replicate's `GET /v1/webhooks/default/secret`, the one call a receiver's operator makes. */
function replicate(request: IncomingMessage, response: ServerResponse, path: string, secret: string): void {
  if (request.headers.authorization !== `Bearer ${FAKE_REPLICATE_API_TOKEN}`) return json(response, 401, { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 });
  if (request.method === 'GET' && path === '/webhooks/default/secret') return json(response, 200, { key: secret });
  json(response, 404, { title: 'Not found', detail: `no fake for ${request.method ?? 'GET'} /v1${path}`, status: 404 });
}

function json(response: ServerResponse, status: number, payload: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(payload));
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
