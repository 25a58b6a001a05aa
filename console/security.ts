import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hostRefusal } from '../ops/loopback';

/** The header every API call carries the page's token in. */
export const TOKEN_HEADER = 'x-console-token';

/** The path of the login URL: `/login?secret=…` exchanges the secret for the session cookie. */
export const LOGIN_PATH = '/login';

/**
 * The secrets of one console process, each 32 random bytes in hex, valid until it stops: the
 * login secret of the printed URL, the session cookie's value it is exchanged for (HttpOnly, so
 * no script reads it), and the token the page carries in a meta tag for its API calls.
 */
export interface ConsoleSecrets {
  readonly login: string;
  readonly session: string;
  readonly token: string;
}

export function newConsoleSecrets(): ConsoleSecrets {
  const fresh = () => randomBytes(32).toString('hex');
  return { login: fresh(), session: fresh(), token: fresh() };
}

/** The URL that logs a browser in to the console served at `base` (`http://127.0.0.1:3000/`). */
export function loginUrl(base: string, secrets: ConsoleSecrets): string {
  const url = new URL(LOGIN_PATH, base);
  url.searchParams.set('secret', secrets.login);
  return url.href;
}

/**
 * The session cookie's name: cookies are kept per host whatever the port, so the console of
 * `npm start` and that of `webhooks console` in one browser each keep their own.
 */
export function sessionCookieName(request: IncomingMessage): string {
  return `webhooks-console-${request.socket.localPort ?? 0}`;
}

/** The `Set-Cookie` value a right login secret gets: the session, for this console's paths, never sent by another site. */
export function sessionCookie(request: IncomingMessage, secrets: ConsoleSecrets): string {
  return `${sessionCookieName(request)}=${secrets.session}; Path=/; HttpOnly; SameSite=Strict`;
}

/** A refused request: 401 asks to log in, 403 is refused whoever asks. */
export interface Refusal {
  readonly status: 401 | 403;
  readonly message: string;
}

/** Why a login request is refused (another Host, a missing or wrong secret), or undefined when it logs in. */
export function loginRefusal(request: IncomingMessage, secrets: ConsoleSecrets, given: string | null): Refusal | undefined {
  const wrongHost = hostRefusal(request);
  if (wrongHost !== undefined) return { status: 403, message: wrongHost };
  if (given === null || !sameSecret(given, secrets.login)) {
    return { status: 403, message: 'wrong or missing login secret: open the login URL the console printed when it started' };
  }
  return undefined;
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
 * machine in its Host (a DNS-rebinding page names its own) and carry the session cookie of the
 * login (401 without it); API calls must carry the page's token; calls that change something
 * must also come from this origin, by Origin and Sec-Fetch-Site, so that a form or fetch of
 * another site is refused even if it guessed the token (a page on another port of this host is
 * of the same site, so SameSite alone would let its cookie through).
 */
export function refusal(request: IncomingMessage, secrets: ConsoleSecrets, kind: 'page' | 'read' | 'change'): Refusal | undefined {
  const wrongHost = hostRefusal(request);
  if (wrongHost !== undefined) return { status: 403, message: wrongHost };
  const session = cookieValue(request, sessionCookieName(request));
  if (session === undefined || !sameSecret(session, secrets.session)) {
    return { status: 401, message: 'log in first: open the login URL the console printed when it started' };
  }
  if (kind === 'page') return undefined;
  const given = request.headers[TOKEN_HEADER];
  if (typeof given !== 'string' || !sameSecret(given, secrets.token)) return { status: 403, message: `missing or wrong ${TOKEN_HEADER}: reload the console page` };
  if (kind === 'read') return undefined;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return { status: 403, message: `a ${site} request may not change anything` };
  const origin = request.headers.origin;
  // Stryker disable next-line ConditionalExpression,StringLiteral: no Origin never equals a URL, and a request without Host was refused above
  if (origin === undefined || origin !== `http://${request.headers.host ?? ''}`) {
    return { status: 403, message: `origin ${origin ?? '(none)'} may not change anything: use the console page itself` };
  }
  return undefined;
}

/** The value of cookie `name` in the request's `Cookie` header, if it is there once or more (the first wins, as browsers send the most specific first). */
function cookieValue(request: IncomingMessage, name: string): string | undefined {
  // Stryker disable next-line StringLiteral: without a Cookie header no pair holds `=`, whatever stands in for it
  for (const pair of (request.headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at !== -1 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
