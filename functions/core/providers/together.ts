import * as z from '../zod';
import { errorText, number, text } from './fields';
import { defineProvider, pickSubject, toSeconds } from './types';

const Envelope = () =>
  z.looseObject({
    id: z.string(),
    type: z.string(),
    data: z.optional(z.unknown()),
    created: z.optional(z.union([z.number(), z.string()])),
  });

/** Together AI (seeds 000–002). Timestamped signatures by default; body-only on request. */
export const together = defineProvider({
  name: 'together',
  signatureSchemes: {
    timestamped: {
      scheme: 'hmac-hex-timestamped',
      signatureHeader: 'x-together-signature',
      timestampHeader: 'x-together-timestamp',
    },
    body: { scheme: 'hmac-hex', signatureHeader: 'x-together-signature' },
  },
  defaultSignatureScheme: 'timestamped',
  secretEnv: 'TOGETHER_WEBHOOK_SECRET',
  developmentSecret: 'dev-together-secret',
  routes: {
    'fine_tune.started': 'fine_tune.started',
    'fine_tune.checkpoint': 'fine_tune.checkpoint',
    'fine_tune.completed': 'fine_tune.completed',
    'fine_tune.failed': 'fine_tune.failed',
    // Not in the seeds: the names the poller gives a cancelled job or a cancelled or expired batch
    // (Together's `cancelled`, `CANCELLED`, `EXPIRED`), ends the owner chose or allowed, never failures.
    'fine_tune.cancelled': 'fine_tune.cancelled',
    'model.deprecated': 'model.deprecated',
    'batch.done': 'batch.completed',
    'batch.completed': 'batch.completed',
    'batch.failed': 'batch.failed',
    'batch.cancelled': 'batch.cancelled',
    'batch.expired': 'batch.expired',
  },
  envelope: Envelope,
  toFacts: (envelope) => {
    const created = toSeconds(envelope.created, 'created');
    return {
      id: envelope.id,
      providerType: envelope.type,
      subject: pickSubject(envelope.data, ['fine_tune_id', 'batch_id', 'model_id']),
      occurredAtSeconds: created,
      bodyTimestampSeconds: created,
      providerData: envelope.data,
    };
  },
  // Field names from Together's event table (providers.md); the batch file ids and the checkpoint
  // path are the names Together's API gives them.
  data: {
    'fine_tune.started': { jobId: (d) => text(d.fine_tune_id) },
    'fine_tune.checkpoint': {
      jobId: (d) => text(d.fine_tune_id),
      step: (d) => number(d.step),
      loss: (d) => number(d.loss),
      checkpointPath: (d) => text(d.checkpoint_path),
    },
    'fine_tune.completed': {
      jobId: (d) => text(d.fine_tune_id),
      modelName: (d) => text(d.model_name),
      evalLoss: (d) => number(d.eval_loss),
    },
    'fine_tune.failed': {
      jobId: (d) => text(d.fine_tune_id),
      errorMessage: (d) => errorText(d.error_message),
      step: (d) => number(d.step),
    },
    'fine_tune.cancelled': { jobId: (d) => text(d.fine_tune_id) },
    'model.deprecated': {
      modelId: (d) => text(d.model_id),
      replacementModel: (d) => text(d.replacement_model),
      sunsetDate: (d) => text(d.sunset_date),
    },
    'batch.completed': {
      batchId: (d) => text(d.batch_id),
      outputUrl: (d) => text(d.output_url),
      outputFileId: (d) => text(d.output_file_id),
      errorFileId: (d) => text(d.error_file_id),
      totalTokens: (d) => number(d.total_tokens),
    },
    'batch.failed': {
      batchId: (d) => text(d.batch_id),
      errorMessage: (d) => errorText(d.error_message) ?? errorText(d.error),
    },
    'batch.cancelled': { batchId: (d) => text(d.batch_id) },
    'batch.expired': { batchId: (d) => text(d.batch_id) },
  },
});
