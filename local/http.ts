import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** API Gateway's own payload limit: larger requests never reach the function. */
export const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

const WEBHOOK_PATH = /^\/webhooks\/([^/]+)\/?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

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

export type GatewayHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** An HTTP server that serves `/webhooks/{provider}` through the handler, and `GET /health`. */
export function createLocalServer(handler: GatewayHandler, health: () => object = () => ({ status: 'ok' })): Server {
  return createServer(async (request, response) => {
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(body);
    };
    try {
      const path = new URL(request.url ?? '/', 'http://localhost').pathname;
      if (path === '/health') {
        send(200, JSON.stringify(health()));
        return;
      }
      if (!WEBHOOK_PATH.test(path)) {
        send(404, JSON.stringify({ error: 'not_found', message: 'POST deliveries to /webhooks/{provider}' }));
        return;
      }
      const body = await readBody(request);
      if (body === undefined) {
        send(413, JSON.stringify({ error: 'body_too_large', message: 'request body is over the gateway limit' }));
        return;
      }
      const result = await handler(toGatewayEvent(request, body));
      send(result.statusCode ?? 200, result.body ?? '', stringHeaders(result.headers));
    } catch {
      if (!response.headersSent) send(500, JSON.stringify({ error: 'internal_error' }));
    }
  });
}

/** The whole body, or undefined when it is over the gateway's limit. */
async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > GATEWAY_MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function stringHeaders(headers: APIGatewayProxyStructuredResultV2['headers']): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name, String(value)]));
}
