import * as z from 'zod';
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

export const EventIdSchema = printable(MAX_EVENT_ID_LENGTH);
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
