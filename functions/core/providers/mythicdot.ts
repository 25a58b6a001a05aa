import * as z from '../zod';
import { curveOf } from './curve';
import { errorText, fieldsOf, number, text } from './fields';
import { defineProvider, pickSubject, toSeconds } from './types';

const Envelope = () =>
  z.looseObject({
    id: z.string(),
    type: z.string(),
    created: z.optional(z.union([z.number(), z.string()])),
    data: z.looseObject({ object: z.optional(z.looseObject({ id: z.optional(z.string()) })) }),
  });

/** MythicDot (seed 004): hex HMAC of the raw body with the `whsec_…` string as key bytes. */
export const mythicdot = defineProvider({
  name: 'mythicdot',
  signatureSchemes: { body: { scheme: 'hmac-hex', signatureHeader: 'x-mythicdot-signature' } },
  defaultSignatureScheme: 'body',
  secretEnv: 'MYTHICDOT_WEBHOOK_SECRET',
  developmentSecret: 'whsec_dev-mythicdot-secret',
  routes: {
    'batch.completed': 'batch.completed',
    'batch.failed': 'batch.failed',
    'fine_tuning.job.started': 'fine_tune.started',
    'fine_tuning.job.succeeded': 'fine_tune.completed',
    'fine_tuning.job.failed': 'fine_tune.failed',
    'usage.threshold_reached': 'usage.threshold_reached',
  },
  envelope: Envelope,
  toFacts: (envelope) => {
    const created = toSeconds(envelope.created, 'created');
    return {
      id: envelope.id,
      providerType: envelope.type,
      subject: pickSubject(envelope.data.object, ['id']),
      occurredAtSeconds: created,
      bodyTimestampSeconds: created,
      providerData: envelope.data,
    };
  },
  // Everything is under `data.object` (seed 004), in OpenAI's field names: the fine-tuned model is
  // `fine_tuned_model`, the base model `model`.
  dataFields: (data) => fieldsOf(fieldsOf(data).object),
  data: {
    'fine_tune.started': { jobId: (o) => text(o.id), baseModel: (o) => text(o.model) },
    'fine_tune.completed': {
      jobId: (o) => text(o.id),
      modelName: (o) => text(o.fine_tuned_model),
      baseModel: (o) => text(o.model),
      // Not in MythicDot's published sample: the job's checkpoints in OpenAI's checkpoint shape, where the object carries them.
      checkpoints: (o) => curveOf(o.checkpoints),
    },
    'fine_tune.failed': { jobId: (o) => text(o.id), errorMessage: (o) => errorText(o.error), checkpoints: (o) => curveOf(o.checkpoints) },
    'batch.completed': {
      batchId: (o) => text(o.id),
      outputFileId: (o) => text(o.output_file_id),
      errorFileId: (o) => text(o.error_file_id),
    },
    'batch.failed': { batchId: (o) => text(o.id), errorMessage: (o) => errorText(o.errors) ?? errorText(o.error) },
    'usage.threshold_reached': {
      // MythicDot names the unit in the field (`threshold_usd`, `current_usd`) instead of sending a metric.
      metric: (o) => (o.threshold_usd !== undefined || o.current_usd !== undefined ? 'usd' : text(o.metric)),
      threshold: (o) => number(o.threshold_usd ?? o.threshold),
      current: (o) => number(o.current_usd ?? o.current),
    },
  },
});
