import * as z from '../zod';
import { ID_ONLY_DATA, ID_ONLY_ROUTES } from './openai';
import { defineProvider, pickSubject, STANDARD_WEBHOOKS_SPEC, toSeconds } from './types';

const Envelope = () =>
  z.looseObject({
    type: z.string(),
    created_at: z.optional(z.union([z.number(), z.string()])),
    data: z.optional(z.looseObject({ id: z.optional(z.string()) })),
  });

/**
 * Any Standard Webhooks sender (OpenAI has its own provider, `openai.ts`; this one reads the same
 * envelope). The event id is the signed `webhook-id`.
 */
export const standard = defineProvider({
  name: 'standard',
  signatureSchemes: {
    standard: {
      ...STANDARD_WEBHOOKS_SPEC,
      // Svix, where the scheme comes from, still sends its own brand of the same headers.
      alternateHeaders: { signatureHeader: 'svix-signature', timestampHeader: 'svix-timestamp', idHeader: 'svix-id' },
    },
  },
  defaultSignatureScheme: 'standard',
  secretEnv: 'STANDARD_WEBHOOK_SECRET',
  developmentSecret: 'whsec_ZGV2LXN0YW5kYXJkLXNlY3JldC0zMi1ieXRlcyE=',
  // Read as OpenAI's events are.
  routes: ID_ONLY_ROUTES,
  envelope: Envelope,
  toFacts: (envelope, verified) => {
    return {
      // The verifier has already required and signed this header.
      // Stryker disable next-line StringLiteral: the verifier has required and signed the webhook-id header, so it is never absent here
      id: verified.headerId ?? '',
      providerType: envelope.type,
      subject: pickSubject(envelope.data, ['id']),
      occurredAtSeconds: toSeconds(envelope.created_at, 'created_at') ?? verified.signedAtSeconds,
      providerData: envelope.data,
    };
  },
  // Shaped like OpenAI's events: only the object's id, nothing else mapped or guessed.
  data: ID_ONLY_DATA,
});
