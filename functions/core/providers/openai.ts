import * as z from '../zod';
import { text } from './fields';
import { defineProvider, pickSubject, toSeconds, STANDARD_WEBHOOKS_SPEC } from './types';

const Envelope = () =>
  z.looseObject({
    id: z.string(),
    type: z.string(),
    created_at: z.union([z.number(), z.string()]),
    data: z.optional(z.looseObject({ id: z.optional(z.string()) })),
  });

/**
 * The types OpenAI documents (its SDKs' `UnwrapWebhookEvent`, and the types a webhook endpoint can
 * subscribe to), each with its route. Those routed to `other` have no canonical route, on purpose:
 * - `eval.run.*`: an evaluation run is neither a fine-tune nor a batch, and no route models one;
 * - `response.*`: a background response is one API call's answer, awaited by the code that made
 *   the call, not a job with a lifecycle;
 * - `realtime.call.incoming`, `live.call.incoming`, `live.transport.incoming`: an incoming SIP call
 *   must be accepted or rejected within seconds, which a queued consumer cannot promise;
 * - `video.*`: a video generation, which no route models;
 * - `safety.*`: notices about the organization's use, for people rather than pipelines.
 * They are accepted, recorded and logged like any event, and a user's own step can take them on
 * `other` (docs/extending.md, "Add your own logic to a route").
 */
export const OPENAI_EVENT_ROUTES = {
  'fine_tuning.job.succeeded': 'fine_tune.completed',
  'fine_tuning.job.failed': 'fine_tune.failed',
  'fine_tuning.job.cancelled': 'fine_tune.cancelled',
  'batch.completed': 'batch.completed',
  'batch.failed': 'batch.failed',
  'batch.cancelled': 'batch.cancelled',
  'batch.expired': 'batch.expired',
  'eval.run.succeeded': 'other',
  'eval.run.failed': 'other',
  'eval.run.canceled': 'other',
  'response.completed': 'other',
  'response.failed': 'other',
  'response.cancelled': 'other',
  'response.incomplete': 'other',
  'realtime.call.incoming': 'other',
  'live.call.incoming': 'other',
  'live.transport.incoming': 'other',
  'video.completed': 'other',
  'video.failed': 'other',
  'safety.alert.created': 'other',
  'safety.org_alert.created': 'other',
  'safety.warning_issued': 'other',
  'safety.deactivation_issued': 'other',
} as const;

/**
 * OpenAI: Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`,
 * checked by the one Standard Webhooks verifier) over `{ id, object: "event", created_at, type,
 * data: { id } }`. The event id is the body's `id` (`evt_…`), the subject the object's `data.id`.
 */
/** The types OpenAI's events are routed by; any other goes to `other` by the fallback, as the list above says. */
export const ID_ONLY_ROUTES = Object.fromEntries(Object.entries(OPENAI_EVENT_ROUTES).filter(([, route]) => route !== 'other'));

/**
 * The canonical data of an event that carries only its object's id, as OpenAI's do (and Standard
 * Webhooks senders shaped like them): the other fields are API reads, never mapped or guessed.
 */
export const ID_ONLY_DATA = {
  'fine_tune.completed': { jobId: (d: Record<string, unknown>) => text(d.id) },
  'fine_tune.failed': { jobId: (d: Record<string, unknown>) => text(d.id) },
  'fine_tune.cancelled': { jobId: (d: Record<string, unknown>) => text(d.id) },
  'batch.completed': { batchId: (d: Record<string, unknown>) => text(d.id) },
  'batch.failed': { batchId: (d: Record<string, unknown>) => text(d.id) },
  'batch.cancelled': { batchId: (d: Record<string, unknown>) => text(d.id) },
  'batch.expired': { batchId: (d: Record<string, unknown>) => text(d.id) },
} as const;

export const openai = defineProvider({
  name: 'openai',
  signatureSchemes: { standard: STANDARD_WEBHOOKS_SPEC },
  defaultSignatureScheme: 'standard',
  secretEnv: 'OPENAI_WEBHOOK_SECRET',
  developmentSecret: 'whsec_ZGV2LW9wZW5haS13ZWJob29rLXNlY3JldC0zMmIh',
  routes: ID_ONLY_ROUTES,
  envelope: Envelope,
  toFacts: (envelope) => ({
    id: envelope.id,
    providerType: envelope.type,
    // Calls name their object `call_id` or `session_id` instead of `id`.
    subject: pickSubject(envelope.data, ['id', 'call_id', 'session_id']),
    occurredAtSeconds: toSeconds(envelope.created_at, 'created_at'),
    providerData: envelope.data,
  }),
  data: ID_ONLY_DATA,
});
