import { describe, expect, it } from 'vitest';
import type { ProviderName } from '../../functions/core/event';
import { normalizeDelivery } from '../../functions/core/normalize';
import { PROVIDERS } from '../../functions/core/providers';
import type { SignatureSpec } from '../../functions/core/verify';

/*
 * Every provider type the wire contract (providers.md, and for OpenAI its documented types) names, with the canonical route and the
 * subject it promises, written out as literals. The expectations never come from the providers'
 * own route maps or samples, so a wrong entry in a map fails here.
 */

const NOW_MS = Date.parse('2026-11-01T16:45:13Z');
const NOW_S = NOW_MS / 1000;

interface Row {
  readonly type: string;
  readonly route: string;
  /** The provider's `data` as the contract lists its fields. */
  readonly data: Record<string, unknown>;
  /** The subject the event must carry; undefined where the provider names none. */
  readonly subject: string | undefined;
}

/** Normalizes one delivery of `provider` with the envelope the contract gives it. */
function normalize(provider: ProviderName, row: Row) {
  const definition = PROVIDERS[provider];
  const envelopes: Record<ProviderName, Record<string, unknown>> = {
    together: { id: 'evt_contract', type: row.type, created: NOW_S, data: row.data },
    llmtune: { event: row.type, data: row.data, deliveredAt: '2026-11-01T16:45:12Z' },
    mythicdot: { id: 'evt_contract', type: row.type, created: NOW_S, data: row.data },
    openai: { id: 'evt_contract', object: 'event', created_at: NOW_S, type: row.type, data: row.data },
    // Replicate's body is the object itself, with no type: the row's data is the whole body.
    replicate: row.data,
    standard: { id: 'evt_contract', object: 'event', created_at: NOW_S, type: row.type, data: row.data },
  };
  return normalizeDelivery({
    provider: definition,
    spec: definition.signatureSchemes[definition.defaultSignatureScheme] as SignatureSpec,
    body: Buffer.from(JSON.stringify(envelopes[provider])),
    verified: { headerId: 'msg_contract', signedAtSeconds: NOW_S },
    receivedAtMs: NOW_MS,
    retentionSeconds: 7 * 86_400,
  });
}

const TOGETHER: readonly Row[] = [
  { type: 'fine_tune.completed', route: 'fine_tune.completed', data: { fine_tune_id: 'ft-abc', model_name: 'acct/llama-ft-abc', eval_loss: 0.41 }, subject: 'ft-abc' },
  { type: 'fine_tune.failed', route: 'fine_tune.failed', data: { fine_tune_id: 'ft-def', error_message: 'CUDA out of memory', step: 1200 }, subject: 'ft-def' },
  { type: 'fine_tune.checkpoint', route: 'fine_tune.checkpoint', data: { fine_tune_id: 'ft-ghi', step: 500, loss: 0.87 }, subject: 'ft-ghi' },
  {
    type: 'model.deprecated',
    route: 'model.deprecated',
    data: { model_id: 'meta-llama/Llama-2-70b-chat-hf', replacement_model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', sunset_date: '2027-01-31' },
    subject: 'meta-llama/Llama-2-70b-chat-hf',
  },
  { type: 'batch.done', route: 'batch.completed', data: { batch_id: 'batch-42', output_url: 'https://api.together.xyz/v1/files/file-out', total_tokens: 1843200 }, subject: 'batch-42' },
  // The ends the poller names after Together's `cancelled`, `CANCELLED` and `EXPIRED`: never failures.
  { type: 'fine_tune.cancelled', route: 'fine_tune.cancelled', data: { fine_tune_id: 'ft-stop' }, subject: 'ft-stop' },
  { type: 'batch.cancelled', route: 'batch.cancelled', data: { batch_id: 'batch-stop' }, subject: 'batch-stop' },
  { type: 'batch.expired', route: 'batch.expired', data: { batch_id: 'batch-late' }, subject: 'batch-late' },
  { type: 'resource.created', route: 'other', data: { resource_id: 'res-42' }, subject: undefined },
  { type: 'fine_tune.renamed', route: 'other', data: { fine_tune_id: 'ft-jkl' }, subject: 'ft-jkl' },
];

const LLMTUNE: readonly Row[] = [
  {
    type: 'training.started',
    route: 'fine_tune.started',
    data: { jobId: 'job-1', baseModel: 'meta-llama/Llama-3.3-70B-Instruct', trainingMethod: 'sft', status: 'running', createdAt: '2026-11-01T15:23:54Z' },
    subject: 'job-1',
  },
  {
    type: 'training.completed',
    route: 'fine_tune.completed',
    data: { jobId: 'job-2', baseModel: 'meta-llama/Llama-3.3-70B-Instruct', artifact: 'ionet-model', metrics: { loss: 1.12, evalLoss: 1.02 }, completedAt: '2026-11-01T16:45:12Z' },
    subject: 'job-2',
  },
  { type: 'training.failed', route: 'fine_tune.failed', data: { jobId: 'job-3', status: 'cancelled' }, subject: 'job-3' },
  {
    type: 'model.deployed',
    route: 'model.deployed',
    data: { deploymentId: 'deploy-1', modelId: 'meta-llama/Llama-3.3-70B-Instruct', version: 'v1', environment: 'production', endpoint: 'https://api.llmtune.io/x' },
    subject: 'deploy-1',
  },
  { type: 'deployment.created', route: 'deployment.changed', data: { deploymentId: 'deploy-2', environment: 'staging' }, subject: 'deploy-2' },
  { type: 'deployment.paused', route: 'deployment.changed', data: { deploymentId: 'deploy-3' }, subject: 'deploy-3' },
  { type: 'deployment.deleted', route: 'deployment.changed', data: { deploymentId: 'deploy-4' }, subject: 'deploy-4' },
  { type: 'usage.threshold_reached', route: 'usage.threshold_reached', data: { metric: 'tokens', threshold: 10000000, current: 10250000 }, subject: undefined },
  { type: 'training.queued', route: 'other', data: { jobId: 'job-5' }, subject: 'job-5' },
];

const MYTHICDOT: readonly Row[] = [
  { type: 'batch.completed', route: 'batch.completed', data: { object: { id: 'batch_1', status: 'completed', output_file_id: 'file_1' } }, subject: 'batch_1' },
  { type: 'batch.failed', route: 'batch.failed', data: { object: { id: 'batch_2', status: 'failed' } }, subject: 'batch_2' },
  { type: 'fine_tuning.job.started', route: 'fine_tune.started', data: { object: { id: 'ftjob_1', status: 'running' } }, subject: 'ftjob_1' },
  { type: 'fine_tuning.job.succeeded', route: 'fine_tune.completed', data: { object: { id: 'ftjob_2', status: 'succeeded' } }, subject: 'ftjob_2' },
  { type: 'fine_tuning.job.failed', route: 'fine_tune.failed', data: { object: { id: 'ftjob_3', status: 'failed' } }, subject: 'ftjob_3' },
  { type: 'usage.threshold_reached', route: 'usage.threshold_reached', data: { object: { id: 'usage_2026_11', threshold_usd: 500 } }, subject: 'usage_2026_11' },
  { type: 'file.created', route: 'other', data: { object: { id: 'file_9' } }, subject: 'file_9' },
];

const STANDARD: readonly Row[] = [
  { type: 'fine_tuning.job.succeeded', route: 'fine_tune.completed', data: { id: 'ftjob_a' }, subject: 'ftjob_a' },
  { type: 'fine_tuning.job.failed', route: 'fine_tune.failed', data: { id: 'ftjob_b' }, subject: 'ftjob_b' },
  { type: 'fine_tuning.job.cancelled', route: 'fine_tune.cancelled', data: { id: 'ftjob_c' }, subject: 'ftjob_c' },
  { type: 'batch.completed', route: 'batch.completed', data: { id: 'batch_a' }, subject: 'batch_a' },
  { type: 'batch.failed', route: 'batch.failed', data: { id: 'batch_b' }, subject: 'batch_b' },
  { type: 'batch.expired', route: 'batch.expired', data: { id: 'batch_c' }, subject: 'batch_c' },
  { type: 'batch.cancelled', route: 'batch.cancelled', data: { id: 'batch_d' }, subject: 'batch_d' },
  { type: 'response.completed', route: 'other', data: { id: 'resp_a' }, subject: 'resp_a' },
];

/** OpenAI's documented types: the job and batch ones routed, the others to `other` (see openai.ts). */
const OPENAI: readonly Row[] = [
  { type: 'fine_tuning.job.succeeded', route: 'fine_tune.completed', data: { id: 'ftjob_a' }, subject: 'ftjob_a' },
  { type: 'fine_tuning.job.failed', route: 'fine_tune.failed', data: { id: 'ftjob_b' }, subject: 'ftjob_b' },
  { type: 'fine_tuning.job.cancelled', route: 'fine_tune.cancelled', data: { id: 'ftjob_c' }, subject: 'ftjob_c' },
  { type: 'batch.completed', route: 'batch.completed', data: { id: 'batch_a' }, subject: 'batch_a' },
  { type: 'batch.failed', route: 'batch.failed', data: { id: 'batch_b' }, subject: 'batch_b' },
  { type: 'batch.cancelled', route: 'batch.cancelled', data: { id: 'batch_c' }, subject: 'batch_c' },
  { type: 'batch.expired', route: 'batch.expired', data: { id: 'batch_d' }, subject: 'batch_d' },
  { type: 'eval.run.failed', route: 'other', data: { id: 'evalrun_a' }, subject: 'evalrun_a' },
  { type: 'response.incomplete', route: 'other', data: { id: 'resp_a' }, subject: 'resp_a' },
  { type: 'realtime.call.incoming', route: 'other', data: { call_id: 'rtc_a', sip_headers: [] }, subject: 'rtc_a' },
  { type: 'video.failed', route: 'other', data: { id: 'video_a' }, subject: 'video_a' },
];

describe.each([
  ['together', TOGETHER],
  ['llmtune', LLMTUNE],
  ['mythicdot', MYTHICDOT],
  ['openai', OPENAI],
  ['standard', STANDARD],
] as const)('the %s contract', (provider, rows) => {
  it.each(rows)('routes $type to $route', (row) => {
    const event = normalize(provider, row);
    expect([event.type, event.providerType]).toEqual([row.route, row.type]);
  });

  // The contract leaves the subject of an unknown type open, so only the named types are held to one.
  it.each(rows.filter((row) => row.route !== 'other'))('takes the subject of $type from its data', (row) => {
    expect(normalize(provider, row).subject).toBe(row.subject);
  });
});

describe('the openai envelope', () => {
  it('takes the event id from the body, not the webhook-id header, and occurredAt from created_at in Unix seconds', () => {
    const event = normalize('openai', { type: 'batch.expired', route: 'batch.expired', data: { id: 'batch_d' }, subject: 'batch_d' });

    expect([event.id, event.occurredAt]).toEqual(['evt_contract', '2026-11-01T16:45:13.000Z']);
  });

  it('maps only the object id into the canonical data: the payload carries nothing else', () => {
    const job = normalize('openai', { type: 'fine_tuning.job.succeeded', route: 'fine_tune.completed', data: { id: 'ftjob_a' }, subject: 'ftjob_a' });
    const batch = normalize('openai', { type: 'batch.cancelled', route: 'batch.cancelled', data: { id: 'batch_c' }, subject: 'batch_c' });

    expect([job.data, batch.data]).toEqual([{ jobId: 'ftjob_a' }, { batchId: 'batch_c' }]);
  });
});
