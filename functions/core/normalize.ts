import { BadRequestError, UnauthorizedError } from './errors';
import { incomingRouteEventSchema, SCHEMA_VERSION, type NormalizedEvent } from './event';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json';
import type { Provider } from './providers';
import { FALLBACK_ROUTE } from './routes';
import { TIMESTAMP_TOLERANCE_SECONDS, type SignatureSpec, type Verified } from './verify';

export interface NormalizeInput {
  readonly provider: Provider;
  readonly spec: SignatureSpec;
  /** The verified raw body. */
  readonly body: Uint8Array;
  readonly verified: Verified;
  /** When the request reached the gateway, epoch milliseconds. */
  readonly receivedAtMs: number;
  /** How long the idempotency store remembers an event; body timestamps older than this are replays. */
  readonly retentionSeconds: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A normalized delivery, with the timestamp its signature covers. */
export interface ReadDelivery {
  readonly event: NormalizedEvent;
  /**
   * Unix seconds: the signed timestamp header of schemes that sign one, else the body timestamp
   * (`created`, `deliveredAt`); absent when the delivery carries none. Its record's expiry runs from it.
   */
  readonly signedAtSeconds?: number;
  /**
   * The event's `data` is its provider's `canonicalData` of the `providerData` it carries, as the
   * schema passed it through: what packing the record needs to know (`PackOptions.dataDerived`).
   */
  readonly dataDerived: boolean;
}

/** {@link readDelivery}, for callers that need the event alone. */
export function normalizeDelivery(input: NormalizeInput): NormalizedEvent {
  return readDelivery(input).event;
}

/**
 * Turns an authenticated delivery into the normalized event. Throws {@link BadRequestError} (400)
 * for anything malformed and {@link UnauthorizedError} (401) for a body timestamp that a replay
 * could carry past its dedupe record. Never throws anything else for any input.
 */
export function readDelivery(input: NormalizeInput): ReadDelivery {
  const json = parseJsonObject(input.body);
  const facts = input.provider.parse(json, input.verified);

  if (input.spec.timestampHeader === undefined && facts.bodyTimestampSeconds !== undefined) {
    const nowSeconds = Math.floor(input.receivedAtMs / 1000);
    if (nowSeconds - facts.bodyTimestampSeconds > input.retentionSeconds) {
      throw new UnauthorizedError('body timestamp is older than the idempotency retention', 'body_timestamp_too_old');
    }
    if (facts.bodyTimestampSeconds - nowSeconds > TIMESTAMP_TOLERANCE_SECONDS) {
      throw new UnauthorizedError('body timestamp is in the future', 'body_timestamp_in_future');
    }
  }

  const receivedAt = new Date(input.receivedAtMs).toISOString();
  const type = input.provider.routes[facts.providerType] ?? FALLBACK_ROUTE;
  const candidate = {
    id: facts.id,
    provider: input.provider.name,
    type,
    providerType: facts.providerType,
    subject: facts.subject,
    occurredAt: facts.occurredAtSeconds === undefined ? receivedAt : new Date(facts.occurredAtSeconds * 1000).toISOString(),
    receivedAt,
    schemaVersion: SCHEMA_VERSION,
    data: input.provider.canonicalData(type, facts.providerData),
    providerData: facts.providerData,
  };
  // Its route's schema alone: the union of every route's would check the same member, built all at once.
  const result = incomingRouteEventSchema(type).safeParse(candidate);
  if (!result.success) {
    const issue = result.error.issues[0];
    // Stryker disable next-line OptionalChaining,StringLiteral: a failed parse has at least one issue, and every issue a delivery can raise is on a top-level field (the canonical data's readers return only values their schema takes)
    const field = issue?.path.join('.') ?? 'event';
    // Stryker disable next-line OptionalChaining: a failed parse has at least one issue
    throw new BadRequestError(`event ${field === 'providerType' ? 'type' : field} ${issue?.message ?? 'is invalid'}`);
  }
  const signedAtSeconds = input.spec.timestampHeader === undefined ? facts.bodyTimestampSeconds : input.verified.signedAtSeconds;
  // The schema hands `providerData` on as it came (the very value), so a record read back derives
  // `data` from the same input, through the same schema, as here.
  const dataDerived = result.data.providerData === candidate.providerData;
  return { event: result.data, dataDerived, ...(signedAtSeconds === undefined ? {} : { signedAtSeconds }) };
}

function parseJsonObject(body: Uint8Array): unknown {
  if (body.length === 0) throw new BadRequestError('body is empty; expected a JSON object');
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new BadRequestError('body is not valid UTF-8');
  }
  // Before anything recursive (JSON.stringify, canonical JSON, the providers' parsers) sees it:
  // a few kilobytes of brackets would overflow their stack.
  if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
    throw new BadRequestError(`body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep; at most ${MAX_JSON_DEPTH} are accepted`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequestError('body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError('body is JSON but not an object');
  }
  return value;
}
