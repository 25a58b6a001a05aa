import { randomUUID } from 'node:crypto';
import type { ProviderName } from '../functions/core/event';
import { PROVIDERS } from '../functions/core/providers';
import { buildDelivery, postDelivery, type Delivery } from './deliveries';
import { connectionProblem } from './errors';

/**
 * Which event id each delivery of a burst carries: `count - round(count × duplicateRate)` fresh
 * ids, then the duplicates, each a resend of one of those ids (round robin), as a sender's
 * retries would be. Pure and deterministic, so the expected counts are known in advance.
 */
export function planBurst(count: number, duplicateRate: number, newId: () => string = () => `evt_${randomUUID().replaceAll('-', '')}`) {
  const duplicates = count === 0 ? 0 : Math.min(count - 1, Math.round(count * duplicateRate));
  const unique = Array.from({ length: count - duplicates }, () => newId());
  const resent = Array.from({ length: duplicates }, (_, position) => unique[position % unique.length] as string);
  return { unique, resent };
}

export interface BurstOptions {
  readonly provider: ProviderName;
  readonly type: string;
  /** Base URL of the receiver (`http://127.0.0.1:3000`) or the full webhook URL of a stack. */
  readonly url: string;
  readonly count: number;
  /** 0 ≤ rate < 1: the share of deliveries that resend an earlier event id. */
  readonly duplicateRate: number;
  /** Deliveries in flight at once. */
  readonly concurrency: number;
  readonly secret?: string;
  readonly scheme?: string;
  /** The event id of a burst of one; random ids otherwise. */
  readonly id?: string;
  /** Sign as if sent this many seconds from now (negative: a stale delivery). */
  readonly timestampOffsetSeconds?: number;
  /** Sign and send this text instead of the sample body. */
  readonly body?: string;
  /** Pad the sample body with spaces to this many bytes. */
  readonly bodyBytes?: number;
  /** Change one byte of the body after signing: the receiver must answer 401. */
  readonly tamper?: boolean;
  /** Called after each delivery, for progress. */
  readonly onResult?: (result: DeliveryResult) => void;
}

export interface DeliveryResult {
  readonly id: string;
  /** HTTP status, or 0 when the request did not get an answer. */
  readonly status: number;
  /** `accepted` / `duplicate` from a 200's body, else the error's short text. */
  readonly outcome: string;
  /** The answer's body (its first 4 KB); empty when there was none. */
  readonly body: string;
}

export interface BurstSummary {
  readonly url: string;
  readonly sent: number;
  readonly accepted: number;
  readonly duplicate: number;
  /** Every answer that is neither: counted by HTTP status (`0` = no answer). */
  readonly other: Readonly<Record<string, number>>;
  /** The first error text seen for each other status, to say what went wrong. */
  readonly examples: Readonly<Record<string, string>>;
  readonly elapsedMs: number;
  /** A single delivery's answer, as it came. */
  readonly answer?: Pick<DeliveryResult, 'status' | 'body'>;
}

/**
 * Sends a burst of signed sample deliveries: the fresh ids first, then (once those are answered)
 * the resends, so that a resend meets a finished record and counts as a duplicate rather than
 * racing its original into a 409. Each delivery is built and signed anew (fresh timestamp).
 */
export async function sendBurst(options: BurstOptions, clock: () => number = Date.now): Promise<BurstSummary> {
  const { unique, resent } = planBurst(options.count, options.duplicateRate, options.id === undefined ? undefined : () => options.id as string);
  const started = clock();
  const results: DeliveryResult[] = [];
  const deliver = async (id: string) => {
    const delivery = deliveryOf(options, id, Math.floor(clock() / 1000) + (options.timestampOffsetSeconds ?? 0));
    let result: DeliveryResult;
    try {
      const response = await postDelivery(options.url, delivery);
      result = { id, status: response.status, outcome: outcomeOf(response.status, response.body), body: response.body.slice(0, 4096) };
    } catch (error) {
      const cause = connectionProblem(error) ?? (error as { cause?: { code?: string } }).cause?.code;
      result = { id, status: 0, outcome: cause ?? (error instanceof Error ? error.message : String(error)), body: '' };
    }
    results.push(result);
    options.onResult?.(result);
  };
  await inPool(unique, options.concurrency, deliver);
  await inPool(resent, options.concurrency, deliver);

  const other: Record<string, number> = {};
  const examples: Record<string, string> = {};
  let accepted = 0;
  let duplicate = 0;
  for (const result of results) {
    if (result.status === 200 && result.outcome === 'accepted') accepted += 1;
    else if (result.status === 200 && result.outcome === 'duplicate') duplicate += 1;
    else {
      const status = String(result.status);
      other[status] = (other[status] ?? 0) + 1;
      examples[status] ??= result.outcome;
    }
  }
  const [only] = results;
  return {
    url: options.url,
    sent: results.length,
    accepted,
    duplicate,
    other,
    examples,
    elapsedMs: clock() - started,
    ...(results.length === 1 && only !== undefined ? { answer: { status: only.status, body: only.body } } : {}),
  };
}

/** One delivery of a burst, signed at `nowSeconds`: the sample, or the body given, padded or tampered as asked. */
function deliveryOf(options: BurstOptions, id: string, nowSeconds: number): Delivery {
  const signing = {
    provider: options.provider,
    type: options.type,
    id,
    nowSeconds,
    ...(options.secret === undefined ? {} : { secret: options.secret }),
    ...(options.scheme === undefined ? {} : { scheme: options.scheme }),
  };
  let body = options.body;
  if (options.bodyBytes !== undefined) {
    const sample = buildDelivery(signing).body.toString();
    body = sample.slice(0, -1) + ' '.repeat(Math.max(0, options.bodyBytes - sample.length)) + '}';
  }
  const delivery = buildDelivery({ ...signing, ...(body === undefined ? {} : { body }) });
  if (options.tamper === true && delivery.body.length > 1) {
    const at = delivery.body.length - 2;
    delivery.body[at] = (delivery.body[at] ?? 0) ^ 0x01;
  }
  return delivery;
}

function outcomeOf(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { status?: unknown; error?: unknown; message?: unknown };
    if (status === 200 && typeof parsed.status === 'string') return parsed.status;
    return [parsed.error, parsed.message].filter((part) => typeof part === 'string').join(': ') || body.slice(0, 120);
  } catch {
    return body.slice(0, 120);
  }
}

async function inPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

/**
 * The next step when every delivery got 401: the sender signs with a secret (or scheme) the
 * receiver does not hold. Undefined otherwise.
 */
export function burstHint(summary: BurstSummary, provider: ProviderName, where: { stack?: string; secretGiven: boolean }): string | undefined {
  if (summary.sent === 0 || summary.other['401'] !== summary.sent) return undefined;
  const { secretEnv } = PROVIDERS[provider];
  const schemes = Object.keys(PROVIDERS[provider].signatureSchemes);
  const scheme = schemes.length > 1 ? ` (and ${provider.toUpperCase()}_SIGNATURE_SCHEME, ${schemes.join(' | ')})` : '';
  const sender = where.secretGiven ? 'the --secret given' : `${secretEnv} in this shell`;
  const fix =
    where.stack === undefined
      ? `${where.secretGiven ? 'leave out --secret and ' : ''}set ${secretEnv}${scheme} to the same value in this shell and in the one running \`npm start\`, or unset it in both for the development secret`
      : `make ${sender} one of the secrets stored in the stack's SecretArn${provider.charAt(0).toUpperCase()}${provider.slice(1)} output${scheme}`;
  return `every delivery got 401: the sender's secret probably differs from the receiver's; ${fix}`;
}
