import { eventKey, type NormalizedEvent, type ProviderName } from './event';
import type { Route } from './routes';

/*
 * What an event looks like on the EventBridge bus: the contract between the consumers that put it
 * there and the rules (yours, `onEvent`) that match it. Pure: no client, no I/O.
 */

/** Every entry's `source` starts with this, then the provider: `ai-webhooks.together`. */
export const BUS_SOURCE_PREFIX = 'ai-webhooks.';

/**
 * EventBridge's limit on one PutEvents entry, in bytes (Source + DetailType + Detail, UTF-8). An
 * entry must stay under it; a larger event is published as a {@link BusReference}.
 */
export const MAX_BUS_ENTRY_BYTES = 256 * 1024;

/** The `source` of an event's entry: `ai-webhooks.{provider}`. Filter on it to take one provider only. */
export function busSource(provider: ProviderName): string {
  return `${BUS_SOURCE_PREFIX}${provider}`;
}

/**
 * The normalized event of one route (for a union of routes, any of them): its member of the
 * `NormalizedEvent` union, whose `data` is that route's. Where the event type is not a union by
 * route, the event with `type` narrowed.
 */
export type BusRouteEvent<R extends Route> = [Extract<NormalizedEvent, { type: R }>] extends [never]
  ? NormalizedEvent & { readonly type: R }
  : Extract<NormalizedEvent, { type: R }>;

/**
 * What an entry carries instead of the event when the event is too large for EventBridge: the
 * event's envelope (id, provider, route, subject, times, version) without its data, and the key
 * of its record in the events table (`{provider}#{eventId}`), whose `event` attribute holds the
 * whole event for at least 29 days after the entry is put (longer with a longer retention), and
 * at least as long as the bus's archive keeps the entry.
 */
export type BusReference<R extends Route = Route> = Omit<BusRouteEvent<R>, 'data' | 'providerData'> & {
  readonly truncated: true;
  /** The event's key in the events table: `{provider}#{eventId}`. */
  readonly key: string;
};

/**
 * The `detail` of an entry: the normalized event itself, or, for an event over EventBridge's entry
 * limit, a {@link BusReference} to it. Test `detail.truncated` first; after it, `detail.data` is typed.
 * An integer outside the signed 64-bit range, which EventBridge refuses, is a string of its digits
 * there instead of a number (`"18446744073709552000"`).
 */
export type BusDetail<R extends Route = Route> = (BusRouteEvent<R> & { readonly truncated?: undefined }) | BusReference<R>;

/**
 * An event as an EventBridge target receives it (a Lambda function's `event`, a state machine's
 * input): `source` `ai-webhooks.{provider}`, `detail-type` the route, `detail` the event.
 */
export interface WebhookBusEvent<R extends Route = Route> {
  readonly version: string;
  /** EventBridge's id of this entry (not the provider's event id: that is `detail.id`). */
  readonly id: string;
  readonly 'detail-type': R;
  readonly source: string;
  readonly account: string;
  /** When the entry was put on the bus. The provider's time is `detail.occurredAt`. */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: BusDetail<R>;
  /** Set on an event that an archive replayed: the replay's ARN. */
  readonly 'replay-name'?: string;
}

/** One PutEvents entry, as the consumer sends it (the SDK's `PutEventsRequestEntry`, bus name apart). */
export interface BusEntry {
  readonly Source: string;
  readonly DetailType: Route;
  /** JSON of the {@link BusDetail}. */
  readonly Detail: string;
}

/** The size EventBridge counts for an entry, in bytes: Source, DetailType and Detail in UTF-8. */
export function busEntryBytes(entry: BusEntry): number {
  return Buffer.byteLength(entry.Source) + Buffer.byteLength(entry.DetailType) + Buffer.byteLength(entry.Detail);
}

/** The integers PutEvents takes in `detail`: signed 64-bit. */
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER_SPELLING = /^-?\d+$/;

/**
 * Whether JSON.stringify would write `value` as an integer PutEvents refuses. A body's integers
 * are parsed as the nearest double, and JSON.stringify writes one under 1e21 in integer digits
 * (`18446744073709551615` comes out as `18446744073709552000`); the digits it writes are what
 * EventBridge reads, so they are what is checked.
 */
function outsideInt64(value: number): boolean {
  if (Math.abs(value) <= Number.MAX_SAFE_INTEGER) return false;
  const spelling = String(value);
  if (!INTEGER_SPELLING.test(spelling)) return false;
  const integer = BigInt(spelling);
  // Stryker disable next-line EqualityOperator: no double is spelled with the digits of -2^63 or 2^63-1 (its spelling past 2^53 ends in zeros)
  return integer < INT64_MIN || integer > INT64_MAX;
}

/**
 * The JSON of an entry's `detail`: JSON.stringify, except that an integer outside the signed
 * 64-bit range, which PutEvents refuses (every attempt would fail alike), is written as a string of
 * the same digits. Every other value is written as on the route's queue.
 */
export function busDetailJson(detail: unknown): string {
  return JSON.stringify(detail, (_key, value: unknown) => (typeof value === 'number' && outsideInt64(value) ? String(value) : value));
}

/**
 * The entry an event is published as: the whole event as `detail` when the entry fits
 * EventBridge's limit, else a reference to its record ({@link BusReference}, `truncated: true`).
 * Its integers outside the signed 64-bit range are strings ({@link busDetailJson}).
 */
export function busEntryFor(event: NormalizedEvent): BusEntry {
  const whole: BusEntry = { Source: busSource(event.provider), DetailType: event.type, Detail: busDetailJson(event) };
  if (busEntryBytes(whole) < MAX_BUS_ENTRY_BYTES) return whole;
  return { ...whole, Detail: busDetailJson(busReferenceFor(event)) };
}

/**
 * Whether an event is published by reference ({@link busEntryFor}); `json` is its JSON when the
 * caller has it, so that an event far under the limit costs nothing more.
 */
export function publishedByReference(event: NormalizedEvent, json?: string): boolean {
  // The detail is never shorter than the event's JSON (only integers past int64 grow, to strings).
  if (json !== undefined && Buffer.byteLength(json) < MAX_BUS_ENTRY_BYTES / 2) return false;
  return busEntryFor(event).Detail.length < busDetailJson(event).length;
}

/** The reference an oversized event is published as: its envelope and its key, never its data. */
export function busReferenceFor(event: NormalizedEvent): BusReference {
  // The provider's data (where the event has it beside `data`) is what made the entry too large.
  const { data: _data, providerData: _providerData, ...envelope } = event as NormalizedEvent & { providerData?: unknown };
  return { ...envelope, truncated: true, key: eventKey(event) } as BusReference;
}
