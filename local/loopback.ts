import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostRefusal } from '../ops/loopback';

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

/** A fake API listening on 127.0.0.1, refusing web pages and other Hosts before `listener` sees the request. */
export interface LoopbackServer {
  /** `http://127.0.0.1:{port}` */
  readonly origin: string;
  stop(): Promise<void>;
}

/** Serves `listener` on 127.0.0.1:`port` (0: a free one) behind {@link guardProgramOnly}. */
export async function serveOnLoopback(listener: RequestListener, port = 0): Promise<LoopbackServer> {
  const server = createServer(listener);
  guardProgramOnly(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
