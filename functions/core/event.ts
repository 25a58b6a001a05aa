import * as z from './zod';
import { routeDataSchema } from './data';
import { PROVIDER_NAMES } from './provider-names';
import { isRoute, ROUTES, type Route } from './routes';

export { PROVIDER_NAMES, type ProviderName } from './provider-names';

/** Longest event id accepted: ids are keys in DynamoDB and SQS attributes, not documents. */
export const MAX_EVENT_ID_LENGTH = 256;
export const MAX_TYPE_LENGTH = 128;

// C0, DEL and C1 control characters: never part of a real id, and dangerous in logs and keys.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

const printable = (max: number) =>
  z.string().check(
    z.minLength(1, 'must not be empty'),
    z.maxLength(max, `must be at most ${max} characters`),
    z.refine((value) => !CONTROL_CHARACTERS.test(value), 'must not contain control characters'),
  );

// Lone surrogates have no UTF-8 form, and SQS refuses U+FFFE/U+FFFF in the message attribute an
// id travels in. With the control characters above, this keeps every id inside SQS's character
// set, so an id needs no escaping anywhere (attributes are plain strings, not JSON).
const UNENCODABLE = /[\p{Surrogate}\p{Noncharacter_Code_Point}]/u;

const eventIdSchema = () =>
  printable(MAX_EVENT_ID_LENGTH).check(
    z.refine(
      (value) => !UNENCODABLE.test(value),
      'must not contain lone surrogates or non-characters (U+FDD0 to U+FDEF, U+FFFE, U+FFFF, U+1FFFE, …)',
    ),
  );

/**
 * The version of the normalized event's shape, carried by every message as `schemaVersion`.
 * Fields may be added within a version; a change that removes, renames or retypes one is a new
 * version. Version 1 (no `schemaVersion`) carried the provider's data as `data`.
 */
export const SCHEMA_VERSION = 2;

/*
 * The schemas below are built on first use, once each (z.builtOnce): building zod schemas is most of
 * what importing them costs, and the receiver's first delivery needs only its own route's
 * (incomingRouteEventSchema), not the union of all of them.
 */

/** What every normalized event holds, whatever its route. */
export const eventEnvelopeSchema = z.builtOnce(() =>
  z.object({
  id: eventIdSchema(),
  provider: z.enum(PROVIDER_NAMES),
  /** The canonical route. */
  type: z.enum(ROUTES),
  /** The provider's own type name, unchanged. */
  providerType: printable(MAX_TYPE_LENGTH),
  /** The job, batch, model or deployment the event is about, where the provider names one. */
  subject: z.optional(z.string().check(z.minLength(1), z.maxLength(512))),
  occurredAt: z.iso.datetime(),
  receivedAt: z.iso.datetime(),
  schemaVersion: z.literal(SCHEMA_VERSION),
  /** The route's canonical data (`routeDataSchema`): the same fields whatever the provider. */
  data: z.record(z.string(), z.unknown()),
  /** The provider's data, unchanged; absent when the delivery carried none. */
  providerData: z.optional(z.unknown()),
  }),
);

const buildRouteEvent = <R extends Route>(route: R) =>
  z.extend(eventEnvelopeSchema(), { type: z.literal(route), data: routeDataSchema(route) });

/** The event schema of one route. */
type RouteEventSchema<R extends Route> = ReturnType<typeof buildRouteEvent<R>>;

const routeEvents = new Map<Route, RouteEventSchema<Route>>();

/** The normalized event of one route: the member of {@link normalizedEventSchema} whose `type` is `route`. */
export function routeEventSchema<R extends Route>(route: R): RouteEventSchema<R> {
  let schema = routeEvents.get(route);
  if (schema === undefined) {
    schema = buildRouteEvent(route);
    routeEvents.set(route, schema);
  }
  return schema as RouteEventSchema<R>;
}

const routeEvent = routeEventSchema;

/** The normalized event: the body of every message on a route's queue, its `data` typed by its `type`. */
export const normalizedEventSchema = z.builtOnce(() =>
  z.discriminatedUnion('type', [
    routeEvent('fine_tune.started'),
    routeEvent('fine_tune.checkpoint'),
    routeEvent('fine_tune.completed'),
    routeEvent('fine_tune.failed'),
    routeEvent('fine_tune.cancelled'),
    routeEvent('batch.completed'),
    routeEvent('batch.failed'),
    routeEvent('batch.cancelled'),
    routeEvent('batch.expired'),
    routeEvent('model.deprecated'),
    routeEvent('model.deployed'),
    routeEvent('deployment.changed'),
    routeEvent('usage.threshold_reached'),
    routeEvent('other'),
  ]),
);

/**
 * A normalized event. Checking `event.type` narrows `event.data` to that route's fields:
 * after `event.type === 'fine_tune.completed'`, `event.data.modelName` is a `string | undefined`.
 */
export type NormalizedEvent = z.infer<ReturnType<typeof normalizedEventSchema>>;

/**
 * The bidi controls: the Arabic letter mark, LRM and RLM, embeddings and overrides, isolates. In an
 * id they reorder how a key is shown, so that `together#\u202e321_evil_tve` reads as another event's
 * key; no provider's id needs them.
 */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * A normalized event as it enters the system (the receiver's deliveries, the poller's
 * observations): its id holds no bidi control either. Only intake applies this rule: events
 * queued or stored before it are still read, handled and replayed.
 */
export const incomingEventSchema = z.builtOnce(() => normalizedEventSchema().check(noBidiControls()));

const incomingRouteEvents = new Map<Route, z.ZodMiniType<NormalizedEvent>>();

/**
 * {@link incomingEventSchema} for an event whose `type` is `route`, built alone: for such an event
 * the union checks exactly this member, so the outcome (and its issues) are the same. A `type` that
 * is no route (a provider's map can be handed anything) gets the union itself, which refuses it.
 */
export function incomingRouteEventSchema(route: unknown): z.ZodMiniType<NormalizedEvent> {
  if (typeof route !== 'string' || !isRoute(route)) return incomingEventSchema();
  let schema = incomingRouteEvents.get(route);
  if (schema === undefined) {
    schema = (routeEventSchema(route) as z.ZodMiniType<NormalizedEvent>).check(noBidiControls());
    incomingRouteEvents.set(route, schema);
  }
  return schema;
}

function noBidiControls() {
  return z.refine<NormalizedEvent>((event) => !BIDI_CONTROLS.test(event.id), {
    path: ['id'],
    message: 'must not contain bidi controls (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069): they make one key display as another',
  });
}

type EventByRoute = { [E in NormalizedEvent as E['type']]: E };

/** The normalized event of one route (of any of them, for a union of routes). */
export type RouteEvent<R extends Route> = EventByRoute[R];

// Every route has its event type: a route added to ROUTES without one fails to compile here.
const everyRouteHasAnEvent: [Exclude<Route, NormalizedEvent['type']>] extends [never] ? true : false = true;
void everyRouteHasAnEvent;

/** The idempotency key of an event: `{provider}#{eventId}`. */
export function eventKey(event: Pick<NormalizedEvent, 'provider' | 'id'>): string {
  return `${event.provider}#${event.id}`;
}
