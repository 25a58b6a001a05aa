import { randomBytes } from 'node:crypto';
import { credentialUrlProblem } from '../functions/core/credential-url';
import { secretProblem } from '../functions/core/verify';
import { CliError, UsageError, connectionProblem } from './errors';
import { DEFAULT_TOGETHER_API_BASE_URL, TOGETHER_PUSH_UNDOCUMENTED } from './together-push';

export { DEFAULT_TOGETHER_API_BASE_URL, TOGETHER_PUSH_UNDOCUMENTED, TOGETHER_WEBHOOK_EVENTS } from './together-push';

type Env = Readonly<Record<string, string | undefined>>;

export interface RegisterOptions {
  /** The receiver's Together URL: `https://…/webhooks/together`. */
  readonly url: string;
  readonly events: readonly string[];
  /** A secret to register instead of a fresh one (e.g. to keep the current one), read from stdin or a file. */
  readonly secret?: string;
}

export interface Registration {
  /** The signing secret in force: the one the API returned, else the one we sent. */
  readonly secret: string;
  /** Whether the API chose the secret. */
  readonly secretFromApi: boolean;
  readonly id?: string;
  readonly endpoint: string;
  readonly events: readonly string[];
}

/** A new signing secret: 32 random bytes, URL-safe base64. */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Registers the receiver's URL with Together: POST `{base}/webhooks`, an endpoint Together's public
 * API does not document ({@link TOGETHER_PUSH_UNDOCUMENTED}), with a bearer key and
 * `{ url, events, secret }`. Needs TOGETHER_API_KEY; the secret is fresh unless given. Both URLs
 * must be https (plain http only to loopback, for a local stand-in): the request carries the API
 * key and the signing secret. A refusal is reported by status and a short code, never by the
 * response body, which may quote the key or the secret back.
 */
export async function registerTogether(options: RegisterOptions, env: Env, fetchImpl: typeof fetch = fetch): Promise<Registration> {
  const apiKey = env.TOGETHER_API_KEY?.trim();
  if (apiKey === undefined || apiKey === '') {
    throw new UsageError('TOGETHER_API_KEY is not set: export your Together API key (https://api.together.xyz/settings/api-keys) and rerun');
  }
  const receiverUrl = secureUrl(options.url, '--url', "the receiver's Together webhook URL (https://…/webhooks/together)");
  const base = secureUrl(env.TOGETHER_API_BASE_URL?.trim() || DEFAULT_TOGETHER_API_BASE_URL, 'TOGETHER_API_BASE_URL', "Together's API").toString().replace(/\/+$/, '');
  const endpoint = `${base}/webhooks`;
  const secret = options.secret ?? newWebhookSecret();
  // Together signs with the secret's bytes as the HMAC key: an empty one would let anyone sign.
  const problem = secretProblem('hmac-hex-timestamped', secret);
  if (problem !== undefined) throw new UsageError(`the secret to register ${problem}; leave it out to register a fresh one`);

  let response: Response;
  try {
    response = await fetchImpl(endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ url: receiverUrl.toString(), events: options.events, secret }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const problem = connectionProblem(error) ?? (error as { cause?: { code?: string } }).cause?.code ?? 'no answer';
    throw new CliError(`could not reach ${endpoint} (${problem})`, { cause: error, hint: 'check TOGETHER_API_BASE_URL and your network' });
  }
  const text = await response.text();
  if (!response.ok) {
    const code = safeErrorCode(text, [apiKey, secret]);
    const hint =
      response.status === 401 || response.status === 403
        ? 'Together refused TOGETHER_API_KEY; check the key'
        : response.status === 404
          ? `${endpoint} does not exist: Together's public API documents no webhooks; poll it instead (TOGETHER_API_KEY=<key> npm start, or deploy with -c togetherPolling=true), or check TOGETHER_API_BASE_URL`
          : 'check --url and --events; the response body is not shown, since it may quote the key or the secret';
    throw new CliError(`Together answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${code === undefined ? '' : ` (${code})`} to POST ${endpoint}`, { hint });
  }
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    // A 2xx without JSON still registered the URL; the secret is the one we sent.
  }
  const returned = typeof body.secret === 'string' && body.secret !== '' ? body.secret : undefined;
  return {
    secret: returned ?? secret,
    secretFromApi: returned !== undefined && returned !== secret,
    ...(typeof body.id === 'string' ? { id: body.id } : {}),
    endpoint,
    events: options.events,
  };
}

/** `value` as a URL that may carry credentials: https, or plain http to a loopback address only. */
function secureUrl(value: string, name: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${name} must be ${what}; got "${value}"`);
  }
  const problem = credentialUrlProblem(url, name, value);
  if (problem === undefined) return url;
  throw new UsageError(problem, { hint: 'the request carries your API key and the signing secret, which must not cross a network in clear text' });
}

/**
 * A short machine code from an error body (`{"error":{"code":"invalid_request"}}`, `{"type":…}`),
 * when it is one plain word that holds none of `secrets`; anything else stays unshown.
 */
function safeErrorCode(text: string, secrets: readonly string[]): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const record = (value: unknown) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {});
  const error = record(record(parsed).error);
  const candidates = [error.code, error.type, record(parsed).code, record(parsed).type];
  return candidates.find(
    (value): value is string => typeof value === 'string' && /^[a-z][a-z0-9_.-]{0,63}$/i.test(value) && !secrets.some((secret) => secret !== '' && value.includes(secret)),
  );
}

/**
 * A signing secret read from stdin or a file, checked: one printable word. The receiver reads its
 * secrets as a comma-separated list, and the store commands quote it in JSON.
 */
export function checkSuppliedSecret(raw: string, source: string): string {
  const secret = raw.trim();
  if (secret === '') throw new UsageError(`${source} held no secret`, { hint: 'put the signing secret on its first line' });
  if (!/^[\x21-\x7e]+$/.test(secret) || /[,"'\\]/.test(secret)) {
    throw new UsageError(`the secret in ${source} must be one word of printable ASCII without commas, quotes or backslashes`, {
      hint: 'the receiver reads its secrets as a comma-separated list; register a fresh one by leaving out --secret-stdin / --secret-file',
    });
  }
  return secret;
}

/** Where the registered secret came from, for the instructions that store it. */
export type SecretSource = { readonly kind: 'shown' } | { readonly kind: 'stdin' } | { readonly kind: 'file'; readonly path: string };

/**
 * What to run to make the receiver accept Together's signatures with the new secret, without the
 * secret on any command line (shell history, `ps`): it goes into a shell variable by `read -s` or
 * from the file, and to AWS on stdin (`printf` is a shell builtin).
 */
export function storeSecretInstructions(source: SecretSource, secretArn: string | undefined): string {
  const arn = secretArn ?? '<the SecretArnTogether output of your stack>';
  const put = `aws secretsmanager put-secret-value --secret-id ${arn} --secret-string file:///dev/stdin`;
  const load =
    source.kind === 'file'
      ? `TOGETHER_WEBHOOK_SECRET="$(cat ${shellQuote(source.path)})" && export TOGETHER_WEBHOOK_SECRET`
      : 'read -rs TOGETHER_WEBHOOK_SECRET && export TOGETHER_WEBHOOK_SECRET    # paste the secret, then Enter';
  return [
    `Store it where the receiver reads it${source.kind === 'shown' ? ' (shown once; it is not saved anywhere else)' : ''}, keeping it off command lines:`,
    `  this shell:         ${load}`,
    '  local (npm start):  start `npm start` from this shell; it reads TOGETHER_WEBHOOK_SECRET',
    `  AWS:                printf '["%s"]' "$TOGETHER_WEBHOOK_SECRET" | ${put}`,
    'To rotate without dropping deliveries, keep the old secret in the list until Together signs with the new one:',
    `  AWS:                printf '["%s","%s"]' "$TOGETHER_WEBHOOK_SECRET" "$OLD_SECRET" | ${put}`,
    '  local:              export TOGETHER_WEBHOOK_SECRET="$TOGETHER_WEBHOOK_SECRET,$OLD_SECRET"',
  ].join('\n');
}

function shellQuote(path: string): string {
  return /^[\w./~-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}
