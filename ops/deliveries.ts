import { randomUUID } from 'node:crypto';
import type { ProviderName } from '../functions/core/event';
import { PROVIDERS } from '../functions/core/providers';
import { PROVIDER_SAMPLES } from '../functions/core/providers/samples';
import { signDelivery } from '../functions/core/sign';

export interface DeliveryOptions {
  readonly provider: ProviderName;
  /** A sample type of the provider (see `sampleTypes`), or a route one of them maps to (`sampleTypeFor`). */
  readonly type: string;
  /** Event id; a fresh one when omitted. For LLMTune it is folded into the data (ids are derived). */
  readonly id?: string;
  /** Signing secret; the provider's development secret when omitted. */
  readonly secret?: string;
  /** Signature scheme name (Together: `timestamped` | `body`); the provider's default when omitted. */
  readonly scheme?: string;
  /** Unix seconds for the signature and the body; now when omitted. */
  readonly nowSeconds?: number;
  /** A body to sign instead of the sample. */
  readonly body?: string | Buffer;
}

export interface Delivery {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly id: string;
}

export function sampleTypes(provider: ProviderName): string[] {
  return Object.keys(PROVIDER_SAMPLES[provider]);
}

/**
 * The sample type `type` names: a sample type of the provider, or a canonical route, read as the
 * first sample whose type the provider routes there (`openai fine_tune.completed` is OpenAI's
 * `fine_tuning.job.succeeded`). Undefined when neither.
 */
export function sampleTypeFor(provider: ProviderName, type: string): string | undefined {
  const samples = PROVIDER_SAMPLES[provider];
  const { routes } = PROVIDERS[provider];
  if (samples[type] !== undefined) return type;
  return Object.keys(samples).find((sample) => routes[sample] === type);
}

/** A correctly signed sample delivery, as the provider would send it. */
export function buildDelivery(options: DeliveryOptions): Delivery {
  const provider = PROVIDERS[options.provider];
  const sampleType = sampleTypeFor(options.provider, options.type);
  const sample = sampleType === undefined ? undefined : PROVIDER_SAMPLES[options.provider][sampleType];
  if (sample === undefined && options.body === undefined) {
    throw new Error(`no sample of type "${options.type}" for ${options.provider}; known: ${sampleTypes(options.provider).join(', ')}`);
  }
  const scheme = options.scheme ?? provider.defaultSignatureScheme;
  const spec = provider.signatureSchemes[scheme];
  if (spec === undefined) {
    throw new Error(`${options.provider} has no signature scheme "${scheme}"; known: ${Object.keys(provider.signatureSchemes).join(', ')}`);
  }
  const nowSeconds = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const id = options.id ?? `evt_${randomUUID().replaceAll('-', '')}`;
  const body =
    options.body === undefined
      ? Buffer.from(JSON.stringify(sample?.({ id, nowSeconds })))
      : Buffer.isBuffer(options.body)
        ? options.body
        : Buffer.from(options.body, 'utf8');
  const headers = {
    'content-type': 'application/json',
    ...signDelivery({ spec, body, secret: options.secret ?? provider.developmentSecret, timestampSeconds: nowSeconds, id }),
  };
  return { path: `/webhooks/${options.provider}`, headers, body, id };
}

/**
 * POSTs a delivery to a receiver's base URL (`http://127.0.0.1:3000`: the provider's path is
 * added) or to a full endpoint (a URL with `/webhooks/` in its path, sent to as it is); resolves
 * with the status and the response body.
 */
export async function postDelivery(url: string, delivery: Delivery): Promise<{ status: number; body: string }> {
  const endpoint = /\/webhooks\//.test(new URL(url).pathname) ? new URL(url) : new URL(delivery.path, url);
  const response = await fetch(endpoint, { method: 'POST', headers: delivery.headers, body: delivery.body });
  return { status: response.status, body: await response.text() };
}
