import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import * as z from '../zod';
import { curveOf } from './curve';
import { errorText, fieldsOf, number, text } from './fields';
import { defineProvider, pickSubject, toSeconds, type DataReaders } from './types';

const Envelope = () =>
  z.looseObject({
    event: z.string(),
    data: z.record(z.string(), z.unknown()),
    deliveredAt: z.optional(z.string()),
  });

/**
 * LLMTune sends no event id. The id is derived from the type and the data (RFC 8785 canonical
 * JSON, so key order and spacing do not matter); `deliveredAt` is left out so retries collapse.
 * The receiver bounds the data's nesting before this runs, so the recursion is shallow.
 */
export function llmtuneEventId(event: string, data: unknown): string {
  return createHash('sha256').update(`${event}\n${canonicalData(data)}`).digest('hex');
}

/**
 * RFC 8785 has no form for what JSON.parse makes of `1e400` (Infinity) or `"\ud800"` (a lone
 * surrogate), and `canonicalize` throws on them. Such data is identified by its stored form instead
 * (Infinity is stored as null); data that still has none, by that form's JSON text, marked so that
 * it cannot equal any canonical text. LLMTune resends the same bytes, so retries still collapse.
 */
function canonicalData(data: unknown): string {
  try {
    // Stryker disable next-line StringLiteral: the envelope makes the data a JSON object, which always has a canonical text
    return canonicalize(data) ?? '';
  } catch {
    // Stryker disable next-line StringLiteral: the envelope makes the data a JSON object, which always has a JSON text
    const stored: unknown = JSON.parse(JSON.stringify(data) ?? 'null');
    try {
      // Stryker disable next-line StringLiteral: the stored form of a JSON object is a JSON object, which always has a canonical text
      return canonicalize(stored) ?? '';
    } catch {
      return `\u0000${JSON.stringify(stored)}`;
    }
  }
}

const DEPLOYMENT: DataReaders<'model.deployed' | 'deployment.changed'> = {
  deploymentId: (d) => text(d.deploymentId),
  modelId: (d) => text(d.modelId),
  status: (d) => text(d.status),
};

/** LLMTune (seed 003): hex HMAC of the raw body, `{ event, data, deliveredAt }`. */
export const llmtune = defineProvider({
  name: 'llmtune',
  signatureSchemes: { body: { scheme: 'hmac-hex', signatureHeader: 'x-llmtune-signature' } },
  defaultSignatureScheme: 'body',
  secretEnv: 'LLMTUNE_WEBHOOK_SECRET',
  developmentSecret: 'dev-llmtune-secret',
  routes: {
    'training.started': 'fine_tune.started',
    'training.completed': 'fine_tune.completed',
    'training.failed': 'fine_tune.failed',
    'model.deployed': 'model.deployed',
    'deployment.created': 'deployment.changed',
    'deployment.paused': 'deployment.changed',
    'deployment.deleted': 'deployment.changed',
    'usage.threshold_reached': 'usage.threshold_reached',
  },
  envelope: Envelope,
  toFacts: (envelope) => {
    const deliveredAt = toSeconds(envelope.deliveredAt, 'deliveredAt');
    return {
      id: llmtuneEventId(envelope.event, envelope.data),
      providerType: envelope.event,
      subject: pickSubject(envelope.data, ['jobId', 'deploymentId', 'modelId']),
      occurredAtSeconds: deliveredAt,
      bodyTimestampSeconds: deliveredAt,
      providerData: envelope.data,
    };
  },
  // Field names from LLMTune's payloads (seed 003): camelCase, the model as `artifact`, losses under `metrics`.
  data: {
    'fine_tune.started': { jobId: (d) => text(d.jobId), baseModel: (d) => text(d.baseModel) },
    'fine_tune.completed': {
      jobId: (d) => text(d.jobId),
      modelName: (d) => text(d.artifact),
      evalLoss: (d) => number(fieldsOf(d.metrics).evalLoss),
      baseModel: (d) => text(d.baseModel),
      // Not in LLMTune's published samples: a per-step history, where a payload carries one.
      checkpoints: (d) => curveOf(fieldsOf(d.metrics).history),
    },
    'fine_tune.failed': {
      jobId: (d) => text(d.jobId),
      errorMessage: (d) => errorText(d.error) ?? errorText(d.errorMessage),
      checkpoints: (d) => curveOf(fieldsOf(d.metrics).history),
    },
    'model.deployed': DEPLOYMENT,
    'deployment.changed': DEPLOYMENT,
    'usage.threshold_reached': {
      metric: (d) => text(d.metric),
      threshold: (d) => number(d.threshold),
      current: (d) => number(d.current),
    },
  },
});
