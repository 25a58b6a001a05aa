import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hostRefusal } from '../local/loopback';

/** The header every API call carries the page's token in. */
export const TOKEN_HEADER = 'x-console-token';

/** A fresh token for one start of the console: the page gets it in a meta tag, a page of another site never does. */
export function newConsoleToken(): string {
  return randomBytes(32).toString('hex');
}

/**
 * The headers of every console answer. The page runs only its own bundled script (no inline script,
 * no eval), styles only from its own sheet, talks only to its own origin, and cannot be framed.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};

/**
 * Why a request may not be served, or undefined when it may. Every request must name this
 * machine in its Host (a DNS-rebinding page names its own); API calls must carry the token; calls
 * that change something must also come from this origin, by Origin and Sec-Fetch-Site, so that a
 * form or fetch of another site is refused even if it guessed the token.
 */
export function refusal(request: IncomingMessage, token: string, kind: 'page' | 'read' | 'change'): string | undefined {
  const wrongHost = hostRefusal(request);
  if (wrongHost !== undefined) return wrongHost;
  if (kind === 'page') return undefined;
  const given = request.headers[TOKEN_HEADER];
  if (typeof given !== 'string' || !sameSecret(given, token)) return `missing or wrong ${TOKEN_HEADER}: reload the console page`;
  if (kind === 'read') return undefined;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `a ${site} request may not change anything`;
  const origin = request.headers.origin;
  if (origin === undefined || origin !== `http://${request.headers.host ?? ''}`) return `origin ${origin ?? '(none)'} may not change anything: use the console page itself`;
  return undefined;
}

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
