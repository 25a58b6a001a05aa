import { describe, expect, it } from 'vitest';
import { MAX_DATA_TEXT_LENGTH } from '../../functions/core/data';
import type { NormalizedEvent, ProviderName } from '../../functions/core/event';
import { normalizeDelivery } from '../../functions/core/normalize';
import { PROVIDERS } from '../../functions/core/providers';
import type { SignatureSpec } from '../../functions/core/verify';

const NOW_S = 1_793_551_513;

/** A delivery of `body` from `provider`, authenticated, as the receiver normalizes it. */
function normalized(provider: ProviderName, body: Record<string, unknown>): NormalizedEvent {
  const definition = PROVIDERS[provider];
  return normalizeDelivery({
    provider: definition,
    spec: definition.signatureSchemes[definition.defaultSignatureScheme] as SignatureSpec,
    body: Buffer.from(JSON.stringify(body)),
    verified: { headerId: 'msg_1', signedAtSeconds: NOW_S },
    receivedAtMs: NOW_S * 1000,
    retentionSeconds: 7 * 86_400,
  });
}

const together = (type: string, data: Record<string, unknown>) => normalized('together', { id: 'evt_1', type, created: NOW_S, data });
const llmtune = (event: string, data: Record<string, unknown>) => normalized('llmtune', { event, data, deliveredAt: '2026-11-01T16:45:12Z' });
const mythicdot = (type: string, object: Record<string, unknown>) => normalized('mythicdot', { id: 'evt_1', type, created: NOW_S, data: { object } });
const standard = (type: string, data: Record<string, unknown>) => normalized('standard', { id: 'evt_1', object: 'event', created_at: NOW_S, type, data });

// Payloads are the providers' own, from the provider contract and its sources, not our samples.
describe('canonical data of each route, whatever the provider', () => {
  it.each([
    ['together', together('fine_tune.completed', { fine_tune_id: 'ft-abc', model_name: 'acct/llama-ft-abc', eval_loss: 0.41 }), { jobId: 'ft-abc', modelName: 'acct/llama-ft-abc', evalLoss: 0.41 }],
    [
      'llmtune (artifact)',
      llmtune('training.completed', { jobId: 'job-uuid', baseModel: 'meta-llama/Llama-3.3-70B-Instruct', artifact: 'ionet-finetune-model-id', metrics: { loss: 1.12, tokens: 3250000, duration_seconds: 1450 } }),
      { jobId: 'job-uuid', modelName: 'ionet-finetune-model-id', baseModel: 'meta-llama/Llama-3.3-70B-Instruct' },
    ],
    [
      'llmtune (metrics.evalLoss, no artifact)',
      llmtune('training.completed', { jobId: 'job-uuid', baseModel: 'meta-llama/Llama-3.3-70B-Instruct', status: 'completed', metrics: { loss: 1.12, evalLoss: 1.02 } }),
      { jobId: 'job-uuid', evalLoss: 1.02, baseModel: 'meta-llama/Llama-3.3-70B-Instruct' },
    ],
    ['mythicdot', mythicdot('fine_tuning.job.succeeded', { id: 'ftjob_1', status: 'succeeded', fine_tuned_model: 'ft:mythic-7b:acme:2026' }), { jobId: 'ftjob_1', modelName: 'ft:mythic-7b:acme:2026' }],
    ['standard (the job id only)', standard('fine_tuning.job.succeeded', { id: 'ftjob_abc' }), { jobId: 'ftjob_abc' }],
  ])('maps a %s fine_tune.completed into jobId, modelName, evalLoss and baseModel, each only where sent', (_name, event, data) => {
    expect(event.type).toBe('fine_tune.completed');
    expect(event.data).toStrictEqual(data);
  });

  it.each([
    ['together', together('fine_tune.failed', { fine_tune_id: 'ft-1', error_message: 'CUDA out of memory at step 1200', step: 1200 }), { jobId: 'ft-1', errorMessage: 'CUDA out of memory at step 1200', step: 1200 }],
    ['mythicdot', mythicdot('fine_tuning.job.failed', { id: 'ftjob_1', error: { message: 'training data has 3 invalid rows' } }), { jobId: 'ftjob_1', errorMessage: 'training data has 3 invalid rows' }],
    ['standard', standard('fine_tuning.job.failed', { id: 'ftjob_1' }), { jobId: 'ftjob_1' }],
  ])('maps a %s fine_tune.failed into jobId, errorMessage and step', (_name, event, data) => {
    expect([event.type, event.data]).toStrictEqual(['fine_tune.failed', data]);
  });

  it.each([
    ['together batch.done', together('batch.done', { batch_id: 'b-1', output_url: 'https://api.together.xyz/v1/files/file-out', total_tokens: 1843200 }), { batchId: 'b-1', outputUrl: 'https://api.together.xyz/v1/files/file-out', totalTokens: 1843200 }],
    [
      'mythicdot batch.completed',
      mythicdot('batch.completed', { id: 'batch_abc123', status: 'completed', request_counts: { total: 1000, completed: 998, failed: 2 }, output_file_id: 'file_xyz789' }),
      { batchId: 'batch_abc123', outputFileId: 'file_xyz789' },
    ],
    ['standard batch.completed', standard('batch.completed', { id: 'batch_1' }), { batchId: 'batch_1' }],
  ])('maps a %s into batchId, outputFileId or outputUrl, errorFileId and totalTokens', (_name, event, data) => {
    expect([event.type, event.data]).toStrictEqual(['batch.completed', data]);
  });

  it("gives a MythicDot batch failure its first error's code and line as errorMessage", () => {
    const event = mythicdot('batch.failed', { id: 'batch_1', status: 'failed', errors: [{ code: 'invalid_jsonl', line: 17 }] });

    expect(event.data).toStrictEqual({ batchId: 'batch_1', errorMessage: 'invalid_jsonl (line 17)' });
  });

  it('maps a Together model.deprecated into modelId, replacementModel and sunsetDate', () => {
    const event = together('model.deprecated', { model_id: 'm-old', replacement_model: 'm-new', sunset_date: '2027-01-31' });

    expect(event.data).toStrictEqual({ modelId: 'm-old', replacementModel: 'm-new', sunsetDate: '2027-01-31' });
  });

  it('maps a Together checkpoint into jobId, step and loss', () => {
    expect(together('fine_tune.checkpoint', { fine_tune_id: 'ft-1', step: 500, loss: 0.87 }).data).toStrictEqual({ jobId: 'ft-1', step: 500, loss: 0.87 });
  });

  it('maps LLMTune deployments into deploymentId and modelId, and its start into jobId and baseModel', () => {
    const deployed = llmtune('model.deployed', { deploymentId: 'deploy-uuid', modelId: 'meta-llama/Llama-3.3-70B-Instruct', version: 'v1', environment: 'production' });
    const started = llmtune('training.started', { jobId: 'job-1', baseModel: 'base', trainingMethod: 'sft', status: 'running' });

    expect(deployed.data).toStrictEqual({ deploymentId: 'deploy-uuid', modelId: 'meta-llama/Llama-3.3-70B-Instruct' });
    expect(started.data).toStrictEqual({ jobId: 'job-1', baseModel: 'base' });
  });

  it('maps usage thresholds into metric, threshold and current, MythicDot dollars as the usd metric', () => {
    expect(llmtune('usage.threshold_reached', { metric: 'tokens', threshold: 10, current: 12 }).data).toStrictEqual({ metric: 'tokens', threshold: 10, current: 12 });
    expect(mythicdot('usage.threshold_reached', { id: 'u', threshold_usd: 500, current_usd: 512.4 }).data).toStrictEqual({ metric: 'usd', threshold: 500, current: 512.4 });
  });

  it.each([
    ['only the current spend in dollars', { id: 'u', current_usd: 512.4 }, { metric: 'usd', current: 512.4 }],
    ['a metric of its own', { id: 'u', metric: 'requests', threshold: 1000, current: 1001 }, { metric: 'requests', threshold: 1000, current: 1001 }],
  ])('[RULE] a MythicDot usage threshold with %s states its metric', (_name, object, data) => {
    expect(mythicdot('usage.threshold_reached', object).data).toStrictEqual(data);
  });

  it.each([
    ['error_message', { batch_id: 'b1', error_message: 'input file is not JSONL' }, 'input file is not JSONL'],
    ['error alone', { batch_id: 'b1', error: 'quota exceeded' }, 'quota exceeded'],
  ])('[RULE] a failed Together batch says why from its %s', (_name, data, errorMessage) => {
    expect(together('batch.failed', data).data).toStrictEqual({ batchId: 'b1', errorMessage });
  });

  it('gives the other route no canonical data and keeps the provider data', () => {
    const event = together('resource.created', { resource_id: 'res-42' });

    expect([event.type, event.data, event.providerData]).toStrictEqual(['other', {}, { resource_id: 'res-42' }]);
  });

  it("keeps the provider's data unchanged beside the canonical data", () => {
    const data = { object: { id: 'ftjob_1', fine_tuned_model: 'm', hyperparameters: { n_epochs: 3 }, result_files: ['file-1'] } };

    const event = normalized('mythicdot', { id: 'evt_1', type: 'fine_tuning.job.succeeded', created: NOW_S, data });

    expect(event.providerData).toStrictEqual(data);
  });

  it('leaves a field of the wrong kind absent instead of guessing it', () => {
    const event = together('fine_tune.completed', { fine_tune_id: 'ft-1', model_name: { name: 'nested' }, eval_loss: 'not a number' });

    expect(event.data).toStrictEqual({ jobId: 'ft-1' });
  });

  it('leaves an over-long id absent and cuts an over-long errorMessage', () => {
    const event = together('fine_tune.failed', { fine_tune_id: 'f'.repeat(MAX_DATA_TEXT_LENGTH + 1), error_message: 'e'.repeat(MAX_DATA_TEXT_LENGTH + 100) });

    expect(event.type === 'fine_tune.failed' && event.data.jobId).toBe(undefined);
    expect(event.type === 'fine_tune.failed' && event.data.errorMessage?.length).toBe(MAX_DATA_TEXT_LENGTH);
  });

  it('narrows data by type: after checking the route, its fields are typed with no cast', () => {
    const event = together('fine_tune.completed', { fine_tune_id: 'ft-1', model_name: 'acme/m', eval_loss: 0.5 });

    // Compiles only because the check narrows `event.data` to the fine_tune.completed fields.
    const seen: [string | undefined, number | undefined] = event.type === 'fine_tune.completed' ? [event.data.modelName, event.data.evalLoss] : [undefined, undefined];

    expect(seen).toEqual(['acme/m', 0.5]);
  });
});
