import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { bodyTooLargeError } from '../functions/receiver/receive';
import { hostRefusal } from '../ops/loopback';
import { sendRefusal, webPageRefusal } from './loopback';

/** API Gateway's own payload limit: larger requests never reach the function. */
export const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

const WEBHOOK_PATH = /^\/webhooks\/([^/]+)\/?$/;
// ignoreBOM keeps a leading byte-order mark in the text: the verifier must see the bytes as sent.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

/** Whether `host`, an address to listen on, is this machine's loopback only. */
export function isLoopbackAddress(host: string): boolean {
  return LOOPBACK_HOSTS.has(host);
}

/** The warning `npm start` prints when HOST puts the webhook endpoint beyond loopback; none otherwise. */
export function exposureWarning(host: string): string | undefined {
  if (isLoopbackAddress(host)) return undefined;
  return (
    `warning: HOST=${host} exposes the webhook endpoint beyond this machine, where anyone who knows the ` +
    'development secrets can deliver events; the emulators stay on 127.0.0.1'
  );
}

/** How much of a client the local server waits for, as API Gateway bounds it. */
export interface LocalServerLimits {
  /** Reading stops past this many body bytes with the receiver's 413. Default: API Gateway's 10 MiB. */
  readonly maxBodyBytes?: number;
  /** Time a client has to send its request headers. Default 10 s. */
  readonly headersTimeoutMs?: number;
  /** Time a client has to send its whole request. Default 30 s, API Gateway's integration timeout. */
  readonly requestTimeoutMs?: number;
}

/**
 * Translates a Node request into the API Gateway HTTP API (payload 2.0) event the receiver gets
 * in AWS: lower-case header names, repeated headers joined with commas, the body as text when it
 * is UTF-8 and base64 otherwise, and the gateway's arrival time.
 */
export function toGatewayEvent(request: IncomingMessage, body: Buffer, nowMs = Date.now()): APIGatewayProxyEventV2 {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(request.headersDistinct)) {
    if (values !== undefined) headers[name] = values.join(',');
  }
  let text: string | undefined;
  try {
    text = utf8.decode(body);
  } catch {
    text = undefined;
  }
  const provider = decodePathSegment(WEBHOOK_PATH.exec(url.pathname)?.[1]);
  const method = request.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: 'ANY /webhooks/{provider}',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(provider === undefined ? {} : { pathParameters: { provider } }),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: 'ANY /webhooks/{provider}',
      stage: '$default',
      time: new Date(nowMs).toISOString(),
      timeEpoch: nowMs,
    },
    body: text ?? body.toString('base64'),
    isBase64Encoded: text === undefined,
  };
}

/** A percent-decoded path segment; undefined for a malformed escape (`%E0`), which no provider matches. */
function decodePathSegment(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** A handler for the paths that are not webhooks or `/health` (the web console): it answers every request it gets. */
export type PageHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/** What the server tells its runtime and asks of it, beside the receiver. */
export interface LocalServerHooks {
  /** The handler of every other path, read per request: the console is mounted once the runtime runs. */
  readonly pages?: () => PageHandler | undefined;
  /** Told of a body refused before the receiver saw it (413). */
  readonly onBodyTooLarge?: (provider: string, path: string, detail: string) => void;
  /**
   * Serve requests whatever their `Host`; default false: only a loopback Host is served. For a
   * server that `HOST` puts beyond loopback, where senders name the machine as they reach it.
   */
  readonly anyHost?: boolean;
}

export type GatewayHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * An HTTP server that serves `/webhooks/{provider}` through the handler, and `GET /health`. Like
 * API Gateway it never holds a request open for a slow client (408 after the limits' timeouts) and
 * never buffers past the body cap: it answers 413 and closes the connection. A request naming
 * another Host (unless `anyHost`) is refused with 403, and so is a web page's request to the
 * webhooks or `/health`: they serve senders and tools, never pages (the pages' handler, the
 * console, makes its own checks).
 */
export function createLocalServer(
  handler: GatewayHandler,
  health: () => object = () => ({ status: 'ok' }),
  limits: LocalServerLimits = {},
  hooks: LocalServerHooks = {},
): Server {
  const maxBodyBytes = limits.maxBodyBytes ?? GATEWAY_MAX_BODY_BYTES;
  const headersTimeout = limits.headersTimeoutMs ?? 10_000;
  const requestTimeout = limits.requestTimeoutMs ?? 30_000;
  const server = createServer(
    // Node checks the timeouts every connectionsCheckingInterval (default 30 s): check often enough to honour them.
    { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(10, Math.min(1_000, headersTimeout / 2)) },
    async (request, response) => {
      const send = (status: number, body: string, headers: Record<string, string> = {}) => {
        response.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers });
        response.end(body);
      };
      try {
        const path = new URL(request.url ?? '/', 'http://localhost').pathname;
        const pages = hooks.pages?.();
        const servesPage = !WEBHOOK_PATH.test(path) && path !== '/health' && pages !== undefined;
        const refused = (hooks.anyHost === true ? undefined : hostRefusal(request)) ?? (servesPage ? undefined : webPageRefusal(request));
        if (refused !== undefined) {
          sendRefusal(response, refused);
          return;
        }
        if (path === '/health') {
          send(200, JSON.stringify(health()));
          return;
        }
        if (servesPage) {
          await pages(request, response);
          return;
        }
        if (!WEBHOOK_PATH.test(path)) {
          send(404, JSON.stringify({ error: 'not_found', message: 'POST deliveries to /webhooks/{provider}' }));
          return;
        }
        const body = await readBody(request, maxBodyBytes);
        if (body === undefined) {
          // The rest of the body is never read: the connection closes after the answer.
          hooks.onBodyTooLarge?.(decodePathSegment(WEBHOOK_PATH.exec(path)?.[1]) ?? 'unknown', path, bodyTooLargeError(maxBodyBytes).message);
          send(413, JSON.stringify(bodyTooLargeError(maxBodyBytes).publicBody()), { connection: 'close' });
          return;
        }
        const result = await handler(toGatewayEvent(request, body));
        send(result.statusCode ?? 200, result.body ?? '', stringHeaders(result.headers));
      } catch {
        if (!response.headersSent) send(500, JSON.stringify({ error: 'internal_error' }));
      }
    },
  );
  return server;
}

/** The whole body, or undefined as soon as it is known to be over `maxBytes` (nothing more is read). */
function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  if (Number(request.headers['content-length'] ?? 0) > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      request.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      stop();
      request.pause();
      resolve(undefined);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    const onClose = () => onError(new Error('the client closed the connection before the body ended'));
    request.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function stringHeaders(headers: APIGatewayProxyStructuredResultV2['headers']): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name, String(value)]));
}
