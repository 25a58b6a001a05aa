import { z } from 'zod';
import { ROUTES } from './routes';

export const PROVIDER_NAMES = ['together', 'llmtune', 'mythicdot', 'standard'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** Longest event id accepted: ids are keys in DynamoDB and SQS attributes, not documents. */
export const MAX_EVENT_ID_LENGTH = 256;
export const MAX_TYPE_LENGTH = 128;

// C0, DEL and C1 control characters: never part of a real id, and dangerous in logs and keys.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

const printable = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((value) => !CONTROL_CHARACTERS.test(value), 'must not contain control characters');

// Lone surrogates have no UTF-8 form, and SQS refuses U+FFFE/U+FFFF in the message attribute an
// id travels in. With the control characters above, this keeps every id inside SQS's character
// set, so an id needs no escaping anywhere (attributes are plain strings, not JSON).
const UNENCODABLE = /[\p{Surrogate}\p{Noncharacter_Code_Point}]/u;

export const EventIdSchema = printable(MAX_EVENT_ID_LENGTH).refine(
  (value) => !UNENCODABLE.test(value),
  'must not contain lone surrogates or non-characters (U+FDD0 to U+FDEF, U+FFFE, U+FFFF, U+1FFFE, …)',
);
export const ProviderTypeSchema = printable(MAX_TYPE_LENGTH);

/** The normalized event: the body of every message on a route's queue. */
export const NormalizedEventSchema = z.object({
  id: EventIdSchema,
  provider: z.enum(PROVIDER_NAMES),
  /** The canonical route. */
  type: z.enum(ROUTES),
  /** The provider's own type name, unchanged. */
  providerType: ProviderTypeSchema,
  /** The job, batch, model or deployment the event is about, where the provider names one. */
  subject: z.string().min(1).max(512).optional(),
  occurredAt: z.iso.datetime(),
  receivedAt: z.iso.datetime(),
  /** The provider's data, unchanged. */
  data: z.unknown(),
});

export type NormalizedEvent = z.infer<typeof NormalizedEventSchema>;

/** The idempotency key of an event: `{provider}#{eventId}`. */
export function eventKey(event: Pick<NormalizedEvent, 'provider' | 'id'>): string {
  return `${event.provider}#${event.id}`;
}
