import { randomBytes } from 'node:crypto';
import { secretProblem } from '../functions/core/verify';
import { CliError, UsageError } from './errors';

type Env = Readonly<Record<string, string | undefined>>;

/** Together's API unless TOGETHER_API_BASE_URL says otherwise (the poller reads the same variable). */
export const DEFAULT_TOGETHER_API_BASE_URL = 'https://api.together.xyz/v1';

/** The event names Together documents for webhooks (docs/providers.md, seed 000). */
export const TOGETHER_WEBHOOK_EVENTS = ['fine_tune.completed', 'fine_tune.failed', 'fine_tune.checkpoint', 'model.deprecated', 'batch.done'] as const;

export interface RegisterOptions {
  /** The receiver's Together URL: `https://…/webhooks/together`. */
  readonly url: string;
  readonly events: readonly string[];
  /** A secret to register instead of a fresh one (e.g. to keep the current one). */
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
 * Registers the receiver's URL with Together: POST `{base}/webhooks` with a bearer key and
 * `{ url, events, secret }`. Needs TOGETHER_API_KEY; the secret is fresh unless given.
 */
export async function registerTogether(options: RegisterOptions, env: Env, fetchImpl: typeof fetch = fetch): Promise<Registration> {
  const apiKey = env.TOGETHER_API_KEY?.trim();
  if (apiKey === undefined || apiKey === '') {
    throw new UsageError('TOGETHER_API_KEY is not set: export your Together API key (https://api.together.xyz/settings/api-keys) and rerun');
  }
  let receiverUrl: URL;
  try {
    receiverUrl = new URL(options.url);
  } catch {
    throw new UsageError(`--url must be the receiver's Together webhook URL (https://…/webhooks/together); got "${options.url}"`);
  }
  if (!/^https?:$/.test(receiverUrl.protocol)) throw new UsageError(`--url must be an http(s) URL; got "${options.url}"`);
  const base = (env.TOGETHER_API_BASE_URL?.trim() || DEFAULT_TOGETHER_API_BASE_URL).replace(/\/+$/, '');
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
    throw new CliError(`could not reach ${endpoint}: ${(error as { cause?: { code?: string } }).cause?.code ?? String(error)} (check TOGETHER_API_BASE_URL and your network)`, {
      cause: error,
    });
  }
  const text = await response.text();
  if (!response.ok) {
    const hint =
      response.status === 401 || response.status === 403
        ? ': Together refused TOGETHER_API_KEY; check the key'
        : response.status === 404
          ? `: ${endpoint} does not exist; check TOGETHER_API_BASE_URL`
          : '';
    // The API's answer, shortened: it explains a 400 but must not flood the terminal.
    throw new CliError(`Together answered ${response.status} to POST ${endpoint}${hint} (${text.slice(0, 300)})`);
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

/** What to run to make the receiver accept Together's signatures with the new secret. */
export function storeSecretInstructions(secret: string, secretArn: string | undefined): string {
  const arn = secretArn ?? '<the SecretArnTogether output of your stack>';
  return [
    'Store it where the receiver reads it (shown once; it is not saved anywhere else):',
    `  local (npm start):  export TOGETHER_WEBHOOK_SECRET='${secret}'`,
    `  AWS:                aws secretsmanager put-secret-value --secret-id ${arn} --secret-string '${JSON.stringify([secret])}'`,
    'To rotate without dropping deliveries, keep the old secret in the list until Together uses the new one:',
    `  e.g. --secret-string '${JSON.stringify([secret, '<old secret>'])}' (locally: TOGETHER_WEBHOOK_SECRET='${secret},<old secret>')`,
  ].join('\n');
}
