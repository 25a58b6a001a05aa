import { builtOnce, type ZodMiniType } from '../zod';
import type { EventData } from '../data';
import { BadRequestError } from '../errors';
import type { ProviderName } from '../event';
import type { Route } from '../routes';
import type { SignatureSpec, Verified } from '../verify';
import { fieldsOf, type Fields } from './fields';

/** What a provider's envelope says about the event, before it becomes a normalized event. */
export interface EnvelopeFacts {
  readonly id: string;
  readonly providerType: string;
  readonly subject?: string;
  /** When the event happened, Unix seconds, where the envelope says. */
  readonly occurredAtSeconds?: number;
  /**
   * A timestamp inside the signed body that a replay would carry unchanged (`created`,
   * `deliveredAt`). Held to the retention rule when the scheme signs no timestamp header.
   */
  readonly bodyTimestampSeconds?: number;
  /** The envelope's `data`, as received. */
  readonly providerData: unknown;
}

/** Standard Webhooks' headers, as OpenAI and Replicate send them (`standard` also reads Svix's brand of them). */
export const STANDARD_WEBHOOKS_SPEC: SignatureSpec = {
  scheme: 'standard',
  signatureHeader: 'webhook-signature',
  timestampHeader: 'webhook-timestamp',
  idHeader: 'webhook-id',
};

/** Everything the receiver knows about one provider. Adding a provider is adding one of these. */
export interface Provider {
  readonly name: ProviderName;
  /** Signature schemes this provider can use; a deployment picks one (`{NAME}_SIGNATURE_SCHEME`). */
  readonly signatureSchemes: Readonly<Record<string, SignatureSpec>>;
  readonly defaultSignatureScheme: string;
  /** Environment variable holding the comma-separated active secrets in the local runtime. */
  readonly secretEnv: string;
  /** A development secret for `npm start` when none is configured. Never used in AWS. */
  readonly developmentSecret: string;
  /** Provider type → canonical route; any other type goes to `other`. */
  readonly routes: Readonly<Record<string, Route>>;
  /** Reads the parsed JSON body; throws {@link BadRequestError} when it is not this provider's envelope. */
  parse(body: unknown, verified: Verified): EnvelopeFacts;
  /**
   * The route's canonical data from this provider's data (`EnvelopeFacts.providerData`): the fields the
   * provider sent, renamed; `{}` for a route it maps nothing into.
   */
  canonicalData<R extends Route>(route: R, providerData: unknown): EventData<R>;
  /** The canonical fields of each route this provider's webhook body can fill (see `sources.ts` for those read from an API). */
  readonly payloadFields: { readonly [R in Route]?: readonly string[] };
}

/**
 * How one route's canonical fields are read from a provider's data: one reader per field the
 * provider sends. A field with no reader, or whose reader finds nothing, is absent.
 */
export type DataReaders<R extends Route> = { readonly [K in keyof EventData<R>]?: (fields: Fields) => EventData<R>[K] };

/** How one provider's data becomes each route's canonical data; a route with no entry gets `{}`. */
export type DataMapping = { readonly [R in Route]?: DataReaders<R> };

export interface ProviderDefinition<E> extends Omit<Provider, 'parse' | 'canonicalData' | 'payloadFields'> {
  /** Builds the envelope's schema: called once, on the first delivery parsed (not when the module loads). */
  readonly envelope: () => ZodMiniType<E>;
  toFacts(envelope: E, verified: Verified): EnvelopeFacts;
  readonly data: DataMapping;
  /** Where the readers of {@link data} look: the provider's data itself unless said otherwise. */
  readonly dataFields?: (providerData: unknown) => Fields;
}

/** Turns a typed definition into a {@link Provider}: the envelope schema is checked before `toFacts`. */
export function defineProvider<E>(definition: ProviderDefinition<E>): Provider {
  const { envelope: buildEnvelope, toFacts, data, dataFields = fieldsOf, ...rest } = definition;
  const envelope = builtOnce(buildEnvelope);
  return {
    ...rest,
    payloadFields: Object.fromEntries(Object.entries(data).map(([route, readers]) => [route, Object.keys(readers ?? {})])),
    canonicalData<R extends Route>(route: R, providerData: unknown): EventData<R> {
      const readers = (data[route] ?? {}) as Readonly<Record<string, (fields: Fields) => unknown>>;
      const fields = dataFields(providerData);
      const canonical: Record<string, unknown> = {};
      for (const [name, read] of Object.entries(readers)) {
        const value = read(fields);
        if (value !== undefined) canonical[name] = value;
      }
      // Each reader returns its field's type (DataReaders), and every canonical field is optional.
      return canonical as EventData<R>;
    },
    parse(body, verified) {
      const result = envelope().safeParse(body);
      if (!result.success) {
        const issue = result.error.issues[0];
        const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
        // Stryker disable next-line OptionalChaining: a failed parse has at least one issue
        throw new BadRequestError(`not a ${definition.name} envelope: ${where}: ${issue?.message ?? 'invalid'}`);
      }
      return toFacts(result.data, verified);
    },
  };
}

/**
 * 9999-12-31T23:59:59Z. Later times have no ISO 8601 form with a four-digit year, and past
 * 8.64e12 s no Date at all: `toISOString` would throw a RangeError (a 500) instead of a 400.
 */
const MAX_UNIX_SECONDS = 253_402_300_799;

/** Unix seconds from a Unix-seconds number, a numeric string or an ISO 8601 string. */
export function toSeconds(value: number | string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0 && value <= MAX_UNIX_SECONDS) return Math.floor(value);
  } else if (/^\d{1,12}$/.test(value)) {
    if (Number(value) <= MAX_UNIX_SECONDS) return Number(value);
  } else {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms) && ms <= MAX_UNIX_SECONDS * 1000) return Math.floor(ms / 1000);
  }
  throw new BadRequestError(`${field} must be Unix seconds or an ISO 8601 time`);
}

/** The first of `fields` in `data` that holds a non-empty string: the event's subject. */
export function pickSubject(data: unknown, fields: readonly string[]): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const record = data as Record<string, unknown>;
  for (const field of fields) {
    const value = record[field];
    if (typeof value === 'string' && value.length > 0 && value.length <= 512) return value;
  }
  return undefined;
}
