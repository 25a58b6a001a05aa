import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { CliError, UsageError } from '../ops/errors';
import { consoleApi, type ConsoleDeps } from './api';
import { consoleAssets, indexPage, type Asset } from './assets';
import { LOGIN_PATH, SECURITY_HEADERS, loginRefusal, loginUrl, newConsoleSecrets, refusal, sessionCookie, type ConsoleSecrets, type Refusal } from './security';

/** Largest JSON body an action takes: a replay of 100 keys is far under it. */
const MAX_ACTION_BYTES = 64 * 1024;

/** Answers one request: the local runtime mounts it on the `npm start` server (local/console.ts), `startConsoleServer` on its own. */
export type ConsoleHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/** A failure the page shows: its status and a message that says what to do. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The console's HTTP handler: the login URL, the page and its two assets, and the JSON API over
 * {@link consoleApi}. Everything but the login needs the session cookie the login URL sets; reads
 * also need the page's token; actions need it and the page's own origin (see security.ts). The
 * secrets are fixed per process; a new start makes the browser log in again.
 */
export function consoleHandler(deps: ConsoleDeps, secrets: ConsoleSecrets = newConsoleSecrets()): ConsoleHandler {
  const api = consoleApi(deps);
  const gets: Record<string, (query: URLSearchParams, rest: string) => Promise<unknown> | unknown> = {
    '/api/info': () => api.info(),
    '/api/events': (query) => api.events(query),
    '/api/counts': (query) => api.counts(query),
    '/api/event': async (query) => found(await api.event(query.get('key') ?? ''), 'no such event (expired, or a wrong key?)'),
    '/api/dlq': (query) => api.deadLetters(query),
    '/api/jobs': (query) => api.jobs(query),
    '/api/job': async (query) => found(await api.job(query.get('key') ?? ''), 'no such job (no event of it handled yet, or a wrong key?)'),
    '/api/rejections': () => api.rejections(),
  };
  const posts: Record<string, (body: unknown) => Promise<unknown>> = {
    '/api/replay': (body) => api.replay(body),
    '/api/redrive': (body) => api.redrive(body),
    '/api/send': (body) => api.send(body),
  };

  return async (request, response) => {
    // Stryker disable next-line StringLiteral: Node's HTTP server gives every request its url
    const requested = request.url ?? '/';
    const url = new URL(requested, 'http://localhost');
    const path = url.pathname;
    // Stryker disable next-line StringLiteral: Node's HTTP server gives every request its method
    const method = request.method ?? 'GET';
    const check = (kind: 'page' | 'read' | 'change') => {
      const denied: Refusal | undefined = refusal(request, secrets, kind);
      if (denied !== undefined) throw new HttpError(denied.status, denied.message);
    };
    try {
      if (path === LOGIN_PATH) {
        if (method !== 'GET') throw new HttpError(405, 'open the login URL with GET');
        const denied = loginRefusal(request, secrets, url.searchParams.get('secret'));
        if (denied !== undefined) throw new HttpError(denied.status, denied.message);
        // 303 to the page: the secret leaves the address bar, and the cookie is sent from now on.
        response.writeHead(303, { ...SECURITY_HEADERS, location: '/', 'set-cookie': sessionCookie(request, secrets), 'content-length': '0' });
        response.end();
        return;
      }
      if (!path.startsWith('/api/')) {
        check('page');
        if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'the console pages are read with GET');
        const asset = path === '/' ? indexPage(secrets.token) : (await consoleAssets())[path];
        if (asset === undefined) throw new HttpError(404, `no page ${path}: open / for the console`);
        sendAsset(request, response, asset);
        return;
      }
      const post = posts[path];
      const get = gets[path];
      if (method === 'POST' && post !== undefined) {
        // Stryker disable next-line StringLiteral: refusal() applies every check to a kind that is neither 'page' nor 'read', as to 'change'
        check('change');
        sendJson(response, 200, await post(await readJson(request)));
        return;
      }
      if (method === 'GET' && get !== undefined) {
        check('read');
        sendJson(response, 200, await get(url.searchParams, path));
        return;
      }
      throw new HttpError(post !== undefined || get !== undefined ? 405 : 404, `no ${method} ${path}`);
    } catch (error) {
      const [status, message] =
        error instanceof HttpError
          ? [error.status, error.message]
          : error instanceof UsageError
            ? [400, error.message]
            : error instanceof CliError
              ? [502, error.message]
              : [500, 'the console failed on this request; its terminal has nothing more (the error is not shown, as it may quote data)'];
      // Stryker disable next-line ConditionalExpression: nothing that runs after a writeHead here throws, so a caught error never finds the headers sent
      if (!response.headersSent) sendJson(response, status, { error: message });
      else response.end();
    }
  };
}

function found<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new HttpError(404, message);
  return value;
}

function sendAsset(request: IncomingMessage, response: ServerResponse, asset: Asset): void {
  const accepted = request.headers['accept-encoding'];
  // Stryker disable next-line StringLiteral: without Accept-Encoding, any text without the word gzip serves the plain body alike
  const gzip = /\bgzip\b/.test(accepted ?? '');
  const body = gzip ? gzipSync(asset.body) : asset.body;
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': asset.type,
    'content-length': String(body.length),
    vary: 'accept-encoding',
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  });
  // Stryker disable next-line ConditionalExpression,StringLiteral: Node's HTTP server sends no body to HEAD whatever is passed here
  response.end(request.method === 'HEAD' ? undefined : body);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
  response.end(body);
}

/** The JSON body of an action; only `application/json`, which no plain HTML form can send. */
async function readJson(request: IncomingMessage): Promise<unknown> {
  const type = request.headers['content-type'];
  if (type === undefined || !type.startsWith('application/json')) throw new HttpError(415, 'actions take application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_ACTION_BYTES) throw new HttpError(413, `an action body is at most ${MAX_ACTION_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (typeof parsed !== 'object' || parsed === null) {
      // Stryker disable next-line StringLiteral: the catch below replaces this message with its own
      throw new Error('not an object');
    }
    return parsed;
  } catch {
    throw new HttpError(400, 'the action body is not a JSON object');
  }
}

/** A console server of its own (`webhooks console`), on 127.0.0.1 only; `loginUrl` is the one to print. */
export async function startConsoleServer(
  deps: ConsoleDeps,
  port: number,
): Promise<{ url: string; loginUrl: string; server: Server; close: () => Promise<void> }> {
  const secrets = newConsoleSecrets();
  const handler = consoleHandler(deps, secrets);
  const server = createServer((request, response) => void handler(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    loginUrl: loginUrl(`http://127.0.0.1:${bound}/`, secrets),
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
