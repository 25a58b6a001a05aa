import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { PROVIDER_NAMES, routeEventSchema, SCHEMA_VERSION, type NormalizedEvent, type ProviderName } from './event';
import { attributeValueBytes, itemBytes } from './item-size';
import { CURRENT_DICTIONARY, PAYLOAD_DICTIONARIES } from './payload-dictionaries';
import { PROVIDERS } from './providers';
import { isRoute } from './routes';
import type { EventRecord } from './table';

/*
 * How an event record keeps its event without storing it twice. The envelope is in the record's
 * attributes already (provider, eventId, route, providerType, subject, receivedAt); what is left
 * is the provider's payload (`providerData`) and `occurredAt`, packed into one Binary value:
 *   byte 0: the id of the dictionary it was deflated with (`PAYLOAD_DICTIONARIES`, 0 for none);
 *   then raw deflate of the JSON `{"o": occurredAt, "p": providerData, "d": data}`.
 * `data`, the canonical data, is left out when the provider's own `canonicalData` gives it back
 * from `providerData` (every delivery); the poller's events, whose data comes from Together's API,
 * keep it. The packed form is of schema version 2; a later version takes a new dictionary id range.
 */

/**
 * The deflate level of every pack. With a dictionary, the payloads of one delivery (60 to 1,200
 * bytes of JSON) pack within a few bytes of level 9 at level 1 (at most 11 bytes more on the
 * providers' samples, none of which leaves its record for it), in less time: the receiver packs
 * every delivery. Any level inflates alike, so records packed at another level stay readable.
 */
export const PACK_LEVEL = 1;

/** Largest event record, in any state, that one write unit covers. */
export const RECORD_BUDGET_BYTES = 1024;

/** How a record's payload is kept: in its `payload` attribute, or once in an item of its own. */
export interface StoredPayload {
  /** Dictionary id + raw deflate of the event's occurredAt, providerData and, where needed, data. */
  readonly bytes: Uint8Array;
  /** Whether the record stays within {@link RECORD_BUDGET_BYTES} in its ordinary states with the bytes inline. */
  readonly inline: boolean;
}

/** What the caller of {@link packPayload} knows of the event. */
export interface PackOptions {
  /**
   * The event's `data` is its provider's `canonicalData` of its very `providerData`, read through
   * the event's schema unchanged (the receiver's normalize: `ReadDelivery.dataDerived`), so the
   * read back derives it again and `d` is left out without deriving it a second time to check.
   * Omitted, the derivation is run and compared, and `d` kept where it differs.
   */
  readonly dataDerived?: boolean;
}

/** Packs an event's payload with its provider's current dictionary. */
export function packPayload(event: NormalizedEvent, options: PackOptions = {}): Uint8Array {
  const content: Record<string, unknown> = { o: event.occurredAt, p: event.providerData };
  // Stryker disable next-line BooleanLiteral,ConditionalExpression: a fast path; given dataDerived, the data is derived, so a second derivation finds the same and leaves `d` out too (cost only)
  if (options.dataDerived !== true && !sameEvent(rebuild(event, { o: event.occurredAt, p: event.providerData }), event)) content.d = event.data;
  const id = CURRENT_DICTIONARY[event.provider];
  const dictionary = dictionaryBytes(id);
  const deflated = deflateRawSync(Buffer.from(JSON.stringify(content)), { level: PACK_LEVEL, ...(dictionary === undefined ? {} : { dictionary }) });
  const bytes = new Uint8Array(1 + deflated.length);
  bytes[0] = dictionary === undefined ? 0 : id;
  bytes.set(deflated, 1);
  return bytes;
}

const dictionaryBuffers = new Map<number, Buffer>();

/** A dictionary's bytes, made once per id (zlib copies them in; nothing writes to them). */
function dictionaryBytes(id: number): Buffer | undefined {
  let bytes = dictionaryBuffers.get(id);
  // Stryker disable next-line ConditionalExpression: a cache; the dictionary's bytes made again are the same
  if (bytes === undefined) {
    const text = PAYLOAD_DICTIONARIES[id];
    if (text === undefined) return undefined;
    bytes = Buffer.from(text);
    dictionaryBuffers.set(id, bytes);
  }
  return bytes;
}

/**
 * What the record's largest ordinary state holds besides its envelope and payload: a consumer's
 * claim of a retry (status `handling`, its lease, `attempts`, two steps done) after a failed
 * attempt (`lastError`, `failedAt`). The other states hold less: the put only a lease; `queued`
 * no lease; `handled` no lease and no error; `failed` no lease and no steps.
 *
 * The error is reserved at {@link ERROR_RESERVE_BYTES}, a dependency's answer named, not at its
 * 300-byte cap: a longer error, a replay's `replayCount` and `replayedAt` (48 bytes) or more steps
 * may take a record past one write unit for the few writes of that failure or replay. That costs
 * a write unit on a rare path; keeping every payload that could reach it apart would cost one on
 * every event.
 */
export const ERROR_RESERVE_BYTES = 120;
const ISO = '2026-01-01T00:00:00.000Z';
const LARGEST_STATE = {
  status: 'handling',
  leaseToken: '00000000-0000-4000-8000-000000000000',
  leaseExpiresAt: 9_999_999_999,
  queuedAt: ISO,
  attempts: 99,
  steps: { alert: ISO, eventbridge: ISO },
  lastError: 'e'.repeat(ERROR_RESERVE_BYTES),
  failedAt: ISO,
} as const;

/**
 * The record's packed payload, and whether it stays inline: only when the record in its largest
 * state ({@link LARGEST_STATE}) stays within {@link RECORD_BUDGET_BYTES} with it.
 */
export function storedPayload(event: NormalizedEvent, fields: Omit<EventRecord, 'status'>, options: PackOptions = {}): StoredPayload {
  const bytes = packPayload(event, options);
  // itemBytes({ ...fields, ...LARGEST_STATE, payload: bytes }), with the state's share counted once.
  let worst = largestStateBytes() + PAYLOAD_NAME_BYTES + bytes.length;
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && !Object.hasOwn(LARGEST_STATE, name) && name !== 'payload') worst += Buffer.byteLength(name, 'utf8') + attributeValueBytes(value);
  }
  return { bytes, inline: worst <= RECORD_BUDGET_BYTES };
}

const PAYLOAD_NAME_BYTES = 'payload'.length;
let largestStateSize: number | undefined;
function largestStateBytes(): number {
  largestStateSize ??= itemBytes(LARGEST_STATE);
  return largestStateSize;
}

/** Thrown when stored bytes cannot be read back: the message names what is wrong, never the payload. */
export class StoredEventError extends Error {
  override readonly name = 'StoredEventError';
}

/** Unpacks {@link packPayload}'s bytes: the stored content, or a {@link StoredEventError}. */
export function unpackPayload(bytes: Uint8Array): StoredContent {
  const id = bytes[0];
  if (id === undefined) throw new StoredEventError('stored payload is empty');
  const dictionary = id === 0 ? undefined : dictionaryBytes(id);
  if (id !== 0 && dictionary === undefined) {
    throw new StoredEventError(`stored payload was packed with dictionary ${id}, which this release does not have: read it with the release that wrote it`);
  }
  let json: unknown;
  try {
    const inflated = inflateRawSync(bytes.subarray(1), dictionary === undefined ? {} : { dictionary });
    json = JSON.parse(inflated.toString('utf8'));
  } catch (error) {
    throw new StoredEventError(`stored payload (dictionary ${id}) does not inflate to JSON`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || typeof (json as { o?: unknown }).o !== 'string') {
    throw new StoredEventError('stored payload has no occurredAt');
  }
  return json as StoredContent;
}

/** What the packed bytes hold. */
export interface StoredContent {
  /** occurredAt */
  readonly o: string;
  /** providerData; absent when the delivery carried none. */
  readonly p?: unknown;
  /** data, only where it is not the provider's canonical data of `p`. */
  readonly d?: Record<string, unknown>;
}

/** The attributes of a record the envelope is rebuilt from. */
type EnvelopeAttributes = Pick<EventRecord, 'provider' | 'eventId' | 'route' | 'providerType' | 'subject' | 'receivedAt'>;

/**
 * The normalized event of a record in the packed form, from its attributes and its payload's
 * bytes (the record's `payload`, or its payload item's): the same event the receiver queued.
 * Throws {@link StoredEventError} when the bytes or the attributes do not make a valid event.
 */
export function eventFromStored(record: EnvelopeAttributes, bytes: Uint8Array): NormalizedEvent {
  const content = unpackPayload(bytes);
  const provider = PROVIDER_NAMES.find((name) => name === record.provider);
  if (provider === undefined || !isRoute(record.route)) throw new StoredEventError(`record of ${record.provider}#${record.eventId} names an unknown provider or route`);
  const candidate = rebuild({ ...record, provider, type: record.route, id: record.eventId }, content);
  const result = routeEventSchema(record.route).safeParse(candidate);
  if (!result.success) {
    const paths = [...new Set(result.error.issues.map((issue) => issue.path.join('.')))];
    throw new StoredEventError(`stored event of ${record.provider}#${record.eventId} is not a normalized event: invalid ${paths.join(', ')}`);
  }
  // The member of the union of every route's events that is this record's route.
  return result.data as NormalizedEvent;
}

type Envelope = Pick<NormalizedEvent, 'id' | 'provider' | 'type' | 'providerType' | 'subject' | 'receivedAt'>;

function rebuild(envelope: Envelope & { provider: ProviderName }, content: StoredContent): unknown {
  return {
    id: envelope.id,
    provider: envelope.provider,
    type: envelope.type,
    providerType: envelope.providerType,
    ...(envelope.subject === undefined ? {} : { subject: envelope.subject }),
    occurredAt: content.o,
    receivedAt: envelope.receivedAt,
    schemaVersion: SCHEMA_VERSION,
    data: content.d ?? PROVIDERS[envelope.provider].canonicalData(envelope.type, content.p),
    ...(content.p === undefined ? {} : { providerData: content.p }),
  };
}

/**
 * Whether the rebuilt candidate reads as the very event (same fields, same order). Checked against
 * the event's own route's schema, the member the union of every route would pick: the receiver
 * packs every delivery and builds only its route's schema.
 */
function sameEvent(candidate: unknown, event: NormalizedEvent): boolean {
  const result = routeEventSchema(event.type).safeParse(candidate);
  return result.success && JSON.stringify(result.data) === JSON.stringify(event);
}
