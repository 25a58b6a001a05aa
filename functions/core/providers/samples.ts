import { ID_ONLY_ROUTES } from './openai';
import { REPLICATE_SAMPLES } from './replicate-samples';
import type { ProviderName } from '../event';

/**
 * The providers' sample deliveries, for `webhooks send`, the console's test sender, the soak, the
 * tests and the docs. They live apart from the provider definitions (`./index.ts`) because the
 * receiver bundles those and never sends a sample: nothing the receiver imports imports this file.
 */

/** A sample delivery body of one provider type, for the sample sender, tests and benchmarks. */
export type SampleBuilder = (input: { id: string; nowSeconds: number }) => Record<string, unknown>;

/** The object id of each sample's type: OpenAI's prefixes (`ftjob_`, `batch_`, …). */
const SAMPLE_ID_PREFIX: Readonly<Record<string, string>> = { fine_tuning: 'ftjob', batch: 'batch', eval: 'evalrun', response: 'resp' };

/**
 * Samples of events shaped like OpenAI's, `{ id, object: "event", created_at, type, data: { id } }`,
 * one per type; `eventId` gives the body's `id` from the sample id. One job or batch per sample
 * id: different samples are different jobs, a resend the same.
 */
export function idOnlySamples(types: readonly string[], eventId: (id: string) => string): Record<string, SampleBuilder> {
  return Object.fromEntries(
    types.map((type) => [
      type,
      ({ id, nowSeconds }: { id: string; nowSeconds: number }) => ({
        id: eventId(id),
        object: 'event',
        created_at: nowSeconds,
        type,
        data: { id: `${SAMPLE_ID_PREFIX[type.split('.')[0] ?? ''] ?? 'obj'}_${id}` },
      }),
    ]),
  );
}

/**
 * Together's: each sample id is its own job or batch (`ft-{id}`), so different samples never collide
 * in the jobs projection, and a resend of one id is the same event about the same job.
 */
const TOGETHER_SAMPLES: Readonly<Record<string, SampleBuilder>> = {
  'fine_tune.completed': ({ id, nowSeconds }) => ({
    id,
    type: 'fine_tune.completed',
    created: nowSeconds,
    data: { fine_tune_id: `ft-${id}`, model_name: 'acme/llama-3-8b-support-v2', eval_loss: 0.412 },
  }),
  'fine_tune.failed': ({ id, nowSeconds }) => ({
    id,
    type: 'fine_tune.failed',
    created: nowSeconds,
    data: { fine_tune_id: `ft-${id}`, error_message: 'CUDA out of memory at step 1200', step: 1200 },
  }),
  'fine_tune.checkpoint': ({ id, nowSeconds }) => ({
    id,
    type: 'fine_tune.checkpoint',
    created: nowSeconds,
    data: { fine_tune_id: `ft-${id}`, step: 500, loss: 0.87 },
  }),
  'model.deprecated': ({ id, nowSeconds }) => ({
    id,
    type: 'model.deprecated',
    created: nowSeconds,
    data: {
      model_id: 'meta-llama/Llama-2-70b-chat-hf',
      replacement_model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
      sunset_date: '2027-01-31',
    },
  }),
  'batch.done': ({ id, nowSeconds }) => ({
    id,
    type: 'batch.done',
    created: nowSeconds,
    data: { batch_id: `batch-${id}`, output_url: 'https://api.together.xyz/v1/files/file-out-789', total_tokens: 1843200 },
  }),
  'resource.created': ({ id, nowSeconds }) => ({
    id,
    type: 'resource.created',
    created: new Date(nowSeconds * 1000).toISOString(),
    data: { resource_id: 'res-42' },
  }),
};

/** LLMTune's timestamps: ISO 8601 to the second. */
const iso = (nowSeconds: number) => new Date(nowSeconds * 1000).toISOString().replace('.000Z', 'Z');

/**
 * LLMTune's: its ids derive from the data, so each sample folds the requested id into its data and
 * keeps every other data field fixed: resending the same id is then the same event, as a real retry is.
 */
const LLMTUNE_SAMPLES: Readonly<Record<string, SampleBuilder>> = {
  'training.started': ({ id, nowSeconds }) => ({
    event: 'training.started',
    data: { jobId: `job-${id}`, baseModel: 'meta-llama/Llama-3.3-70B-Instruct', trainingMethod: 'sft', status: 'running', createdAt: '2026-11-01T15:23:54Z' },
    deliveredAt: iso(nowSeconds),
  }),
  'training.completed': ({ id, nowSeconds }) => ({
    event: 'training.completed',
    data: {
      jobId: `job-${id}`,
      baseModel: 'meta-llama/Llama-3.3-70B-Instruct',
      artifact: 'ionet-finetune-model-id',
      metrics: { loss: 1.12, evalLoss: 1.02, tokensPerSecond: 178, totalTokens: 3250000 },
      completedAt: '2026-11-01T16:45:12Z',
    },
    deliveredAt: iso(nowSeconds),
  }),
  'training.failed': ({ id, nowSeconds }) => ({
    event: 'training.failed',
    data: { jobId: `job-${id}`, baseModel: 'meta-llama/Llama-3.3-70B-Instruct', status: 'failed', error: 'dataset validation failed' },
    deliveredAt: iso(nowSeconds),
  }),
  'model.deployed': ({ id, nowSeconds }) => ({
    event: 'model.deployed',
    data: { deploymentId: `deploy-${id}`, modelId: 'meta-llama/Llama-3.3-70B-Instruct', version: 'v1', environment: 'production', endpoint: 'https://api.llmtune.io/v1/models/deploy/inference' },
    deliveredAt: iso(nowSeconds),
  }),
  'deployment.created': ({ id, nowSeconds }) => ({
    event: 'deployment.created',
    data: { deploymentId: `deploy-${id}`, environment: 'staging' },
    deliveredAt: iso(nowSeconds),
  }),
  'deployment.paused': ({ id, nowSeconds }) => ({
    event: 'deployment.paused',
    data: { deploymentId: `deploy-${id}` },
    deliveredAt: iso(nowSeconds),
  }),
  'deployment.deleted': ({ id, nowSeconds }) => ({
    event: 'deployment.deleted',
    data: { deploymentId: `deploy-${id}` },
    deliveredAt: iso(nowSeconds),
  }),
  'usage.threshold_reached': ({ id, nowSeconds }) => ({
    event: 'usage.threshold_reached',
    data: { alertId: `usage-${id}`, metric: 'tokens', threshold: 10000000, current: 10250000, period: '2026-11' },
    deliveredAt: iso(nowSeconds),
  }),
};

/** MythicDot's: the object in `data.object`, its id from the sample id. */
const MYTHICDOT_SAMPLES: Readonly<Record<string, SampleBuilder>> = {
  'batch.completed': ({ id, nowSeconds }) => ({
    id,
    type: 'batch.completed',
    created: nowSeconds,
    data: {
      object: {
        id: `batch_${id}`,
        status: 'completed',
        request_counts: { total: 1000, completed: 998, failed: 2 },
        output_file_id: 'file_xyz789',
      },
    },
  }),
  'batch.failed': ({ id, nowSeconds }) => ({
    id,
    type: 'batch.failed',
    created: nowSeconds,
    data: { object: { id: `batch_${id}`, status: 'failed', errors: [{ code: 'invalid_jsonl', line: 17 }] } },
  }),
  'fine_tuning.job.started': ({ id, nowSeconds }) => ({
    id,
    type: 'fine_tuning.job.started',
    created: nowSeconds,
    data: { object: { id: `ftjob_${id}`, status: 'running', model: 'mythic-7b' } },
  }),
  'fine_tuning.job.succeeded': ({ id, nowSeconds }) => ({
    id,
    type: 'fine_tuning.job.succeeded',
    created: nowSeconds,
    data: { object: { id: `ftjob_${id}`, status: 'succeeded', fine_tuned_model: 'ft:mythic-7b:acme:2026' } },
  }),
  'fine_tuning.job.failed': ({ id, nowSeconds }) => ({
    id,
    type: 'fine_tuning.job.failed',
    created: nowSeconds,
    data: { object: { id: `ftjob_${id}`, status: 'failed', error: { message: 'training data has 3 invalid rows' } } },
  }),
  'usage.threshold_reached': ({ id, nowSeconds }) => ({
    id,
    type: 'usage.threshold_reached',
    created: nowSeconds,
    data: { object: { id: 'usage_2026_11', threshold_usd: 500, current_usd: 512.4 } },
  }),
};

/** Each provider's sample deliveries, by the provider type each is sent as. Adding a provider adds its entry here. */
export const PROVIDER_SAMPLES: Readonly<Record<ProviderName, Readonly<Record<string, SampleBuilder>>>> = {
  together: TOGETHER_SAMPLES,
  llmtune: LLMTUNE_SAMPLES,
  mythicdot: MYTHICDOT_SAMPLES,
  // One sample per routed type, and one of each kind that goes to `other`.
  openai: idOnlySamples([...Object.keys(ID_ONLY_ROUTES), 'eval.run.succeeded', 'response.completed'], (id) => id),
  replicate: REPLICATE_SAMPLES,
  standard: idOnlySamples(Object.keys(ID_ONLY_ROUTES), (id) => `evt_${id}`),
};
