import * as z from '../zod';
import { ID_ONLY_DATA } from './openai';
import { defineProvider, pickSubject, toSeconds } from './types';

const Envelope = z.looseObject({
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
      scheme: 'standard',
      signatureHeader: 'webhook-signature',
      timestampHeader: 'webhook-timestamp',
      idHeader: 'webhook-id',
      // Svix, where the scheme comes from, still sends its own brand of the same headers.
      alternateHeaders: { signatureHeader: 'svix-signature', timestampHeader: 'svix-timestamp', idHeader: 'svix-id' },
    },
  },
  defaultSignatureScheme: 'standard',
  secretEnv: 'STANDARD_WEBHOOK_SECRET',
  developmentSecret: 'whsec_ZGV2LXN0YW5kYXJkLXNlY3JldC0zMi1ieXRlcyE=',
  routes: {
    'fine_tuning.job.succeeded': 'fine_tune.completed',
    'fine_tuning.job.failed': 'fine_tune.failed',
    'fine_tuning.job.cancelled': 'fine_tune.cancelled',
    'batch.completed': 'batch.completed',
    'batch.failed': 'batch.failed',
    'batch.expired': 'batch.expired',
    'batch.cancelled': 'batch.cancelled',
  },
  envelope: Envelope,
  toFacts: (envelope, verified) => {
    return {
      // The verifier has already required and signed this header.
      id: verified.headerId ?? '',
      providerType: envelope.type,
      subject: pickSubject(envelope.data, ['id']),
      occurredAtSeconds: toSeconds(envelope.created_at, 'created_at') ?? verified.signedAtSeconds,
      providerData: envelope.data,
    };
  },
  // Shaped like OpenAI's events: only the object's id, nothing else mapped or guessed.
  data: ID_ONLY_DATA,
  samples: Object.fromEntries(
    [
      'fine_tuning.job.succeeded',
      'fine_tuning.job.failed',
      'fine_tuning.job.cancelled',
      'batch.completed',
      'batch.failed',
      'batch.expired',
      'batch.cancelled',
    ].map((type) => [
      type,
      ({ id, nowSeconds }: { id: string; nowSeconds: number }) => ({
        id: `evt_${id}`,
        object: 'event',
        created_at: nowSeconds,
        type,
        // One job or batch per sample id: different samples are different jobs, a resend the same.
        data: { id: `${type.startsWith('batch') ? 'batch' : 'ftjob'}_${id}` },
      }),
    ]),
  ),
});
