import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';

/**
 * The names a request to a local listener may give in its `Host`, with any port or none; also any
 * name under `.localhost`, which resolves to loopback only (RFC 6761) and is the host of the SQS
 * emulator's queue URLs (`sqs.us-east-1.localhost`). A browser cannot forge `Host`, and a
 * DNS-rebinding page names its own domain (`webhook-batch-results.attacker.example`, which the S3
 * emulator would read as a bucket): refused.
 */
export const LOOPBACK_HOST_NAMES: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Why a request does not name this machine in its `Host`, or undefined when it does. */
export function hostRefusal(request: IncomingMessage): string | undefined {
  const host = request.headers.host ?? '';
  const hostname = host.replace(/:\d{1,5}$/, '').toLowerCase();
  if (LOOPBACK_HOST_NAMES.has(hostname) || /^([a-z0-9-]+\.)+localhost$/.test(hostname)) return undefined;
  return `this local server answers only at 127.0.0.1, localhost (or a name under it) or [::1], not at "${host.slice(0, 80)}"`;
}

/**
 * Why a request comes from a web page, or undefined when it does not. Browsers send `Origin` with
 * every cross-origin request, every POST and every CORS preflight (a file:// page sends `null`),
 * and `Sec-Fetch-Site` with the rest but for an address typed by hand (`none`). Programs (the AWS
 * SDK, curl, providers' senders) send neither.
 */
export function webPageRefusal(request: IncomingMessage): string | undefined {
  const origin = request.headers.origin;
  if (origin !== undefined) return `a web page (origin ${origin.slice(0, 80)}) may not use this local server`;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'none') return `a ${site.slice(0, 20)} web request may not use this local server`;
  return undefined;
}

/** Why a request to a local listener that serves programs only is refused: another Host, or a web page. */
export function programOnlyRefusal(request: IncomingMessage): string | undefined {
  return hostRefusal(request) ?? webPageRefusal(request);
}

/** Answers a refused request with 403 and the reason; no CORS header, so a page learns nothing. */
export function sendRefusal(response: ServerResponse, reason: string): void {
  const body = JSON.stringify({ error: 'forbidden', message: reason });
  response.writeHead(403, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close' });
  response.end(body);
}

/**
 * Puts {@link programOnlyRefusal} in front of every request listener of `server`, an emulator's
 * HTTP server: a refused request gets 403 and never reaches the emulator, which would answer
 * any page (dynalite approves every preflight) and accept any signature.
 */
export function guardProgramOnly(server: Server): void {
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const refused = programOnlyRefusal(request);
    if (refused !== undefined) {
      sendRefusal(response, refused);
      return;
    }
    for (const listener of listeners) listener.call(server, request, response);
  });
}
