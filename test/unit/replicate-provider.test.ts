import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../functions/core/errors';
import { normalizeDelivery } from '../../functions/core/normalize';
import { PROVIDERS } from '../../functions/core/providers';
import type { SignatureSpec } from '../../functions/core/verify';

/*
 * Replicate's webhook body is the prediction or training object itself (its get operation's
 * response), with no event type. The bodies here are written out in Replicate's documented
 * shape; the expectations are literals, never read from the provider's own maps.
 */

const NOW_MS = Date.parse('2026-11-01T16:45:13Z');
const provider = PROVIDERS.replicate;

const trainingUrls = (id: string) => ({ get: `https://api.replicate.com/v1/trainings/${id}`, cancel: `https://api.replicate.com/v1/trainings/${id}/cancel` });
const predictionUrls = (id: string) => ({ get: `https://api.replicate.com/v1/predictions/${id}`, cancel: `https://api.replicate.com/v1/predictions/${id}/cancel` });

function object(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    id: 'zz4ibbonubfz7carwiefibzgga',
    model: 'ostris/flux-dev-lora-trainer',
    version: '26dce37af90b9d997eeb970d92e47de3064d46c300504ae376c75bef6a9022d2',
    input: { input_images: 'https://example.com/images.zip' },
    output: null,
    logs: '',
    error: null,
    metrics: {},
    created_at: '2026-11-01T16:30:00.123456Z',
    started_at: null,
    completed_at: null,
    urls: trainingUrls('zz4ibbonubfz7carwiefibzgga'),
    ...fields,
  };
}

function normalize(body: unknown, webhookId = 'msg_2pXwQ8') {
  return normalizeDelivery({
    provider,
    spec: provider.signatureSchemes[provider.defaultSignatureScheme] as SignatureSpec,
    body: Buffer.from(JSON.stringify(body)),
    verified: { headerId: webhookId, signedAtSeconds: NOW_MS / 1000 },
    receivedAtMs: NOW_MS,
    retentionSeconds: 7 * 86_400,
  });
}

describe('the replicate provider', () => {
  it.each([
    ['starting', 'training.starting', 'fine_tune.started'],
    ['processing', 'training.processing', 'fine_tune.started'],
    ['succeeded', 'training.succeeded', 'fine_tune.completed'],
    ['failed', 'training.failed', 'fine_tune.failed'],
    ['aborted', 'training.aborted', 'fine_tune.failed'],
    ['canceled', 'training.canceled', 'fine_tune.cancelled'],
    ['queued', 'training.queued', 'other'],
  ])('[P-REP] routes a training with status %s as %s to %s', (status, providerType, route) => {
    const event = normalize(object({ status }));

    expect([event.type, event.providerType, event.subject]).toEqual([route, providerType, 'zz4ibbonubfz7carwiefibzgga']);
  });

  it.each(['starting', 'processing', 'succeeded', 'failed', 'canceled'])('[P-REP] routes a prediction with status %s to other', (status) => {
    const event = normalize(object({ status, model: 'black-forest-labs/flux-schnell', urls: predictionUrls('p1') }));

    expect([event.type, event.providerType, event.data]).toEqual(['other', `prediction.${status}`, {}]);
  });

  it('[P-REP] tells a training by urls.get, else urls.cancel, else a destination; and never by a type field in the body', () => {
    const byCancel = normalize(object({ status: 'succeeded', urls: { cancel: trainingUrls('t').cancel } }));
    const byDestination = normalize(object({ status: 'succeeded', urls: null, destination: 'acme/flux-style' }));
    const noAddress = normalize(object({ status: 'succeeded', urls: { get: null } }));
    const typed = normalize(object({ status: 'succeeded', urls: predictionUrls('p'), type: 'fine_tuning.job.succeeded' }));

    expect([byCancel.type, byDestination.type, noAddress.type, typed.type]).toEqual(['fine_tune.completed', 'fine_tune.completed', 'other', 'other']);
  });

  it('[P-REP] takes the event id from the webhook-id header: the several webhooks of one training are distinct events about one job', () => {
    const start = normalize(object({ status: 'starting' }), 'msg_start');
    const logs = normalize(object({ status: 'processing' }), 'msg_logs');

    expect([start.id, logs.id, start.subject, logs.subject]).toEqual(['msg_start', 'msg_logs', 'zz4ibbonubfz7carwiefibzgga', 'zz4ibbonubfz7carwiefibzgga']);
  });

  it('[P-REP] dates the event at completed_at, else started_at, else created_at', () => {
    const created = normalize(object({ status: 'starting' }));
    const started = normalize(object({ status: 'processing', started_at: '2026-11-01T16:31:00.5Z' }));
    const completed = normalize(object({ status: 'succeeded', started_at: '2026-11-01T16:31:00Z', completed_at: '2026-11-01T16:44:59.999999Z' }));

    expect([created.occurredAt, started.occurredAt, completed.occurredAt]).toEqual(['2026-11-01T16:30:00.000Z', '2026-11-01T16:31:00.000Z', '2026-11-01T16:44:59.000Z']);
  });

  it('[P-REP] maps a succeeded training: the new version as modelName, the base model, the loss curve from its logs; metrics are not a curve', () => {
    const logs = 'flux_train_replicate:  1%|  | 10/1000 [00:11<18:15,  1.11s/it, lr: 4.0e-04 loss: 6.056e-01]\rflux_train_replicate:  2%|  | 20/1000 [00:22<18:04,  1.11s/it, lr: 4.0e-04 loss: 5.812e-01]\n';
    const event = normalize(
      object({ status: 'succeeded', logs, output: { version: 'acme/flux-style:b9a0c4e2', weights: 'https://replicate.delivery/x/trained_model.tar' }, metrics: { predict_time: 872.4, total_time: 900.1 } }),
    );

    expect(event.data).toEqual({
      jobId: 'zz4ibbonubfz7carwiefibzgga',
      modelName: 'acme/flux-style:b9a0c4e2',
      baseModel: 'ostris/flux-dev-lora-trainer',
      checkpoints: [
        { step: 10, loss: 0.6056 },
        { step: 20, loss: 0.5812 },
      ],
    });
  });

  it('[P-REP] joins a bare output version to the destination, and takes the destination alone when there is no version', () => {
    const bare = normalize(object({ status: 'succeeded', destination: 'acme/flux-style', output: { version: 'b9a0c4e2' } }));
    const none = normalize(object({ status: 'succeeded', destination: 'acme/flux-style', output: null }));
    const versionOnly = normalize(object({ status: 'succeeded', output: { version: 'b9a0c4e2' } }));

    expect([bare.data, none.data, versionOnly.data].map((data) => (data as { modelName?: string }).modelName)).toEqual([
      'acme/flux-style:b9a0c4e2',
      'acme/flux-style',
      'b9a0c4e2',
    ]);
  });

  it("[P-REP] maps a failed training's error, and a processing one's loss curve on fine_tune.started", () => {
    const failed = normalize(object({ status: 'failed', error: 'CUDA out of memory. Tried to allocate 2.00 GiB' }));
    const processing = normalize(object({ status: 'processing', logs: 'step 100/1000, loss: 0.39\nstep 200/1000, loss: 0.31\n' }));

    expect(failed.data).toEqual({ jobId: 'zz4ibbonubfz7carwiefibzgga', errorMessage: 'CUDA out of memory. Tried to allocate 2.00 GiB' });
    expect(processing.data).toEqual({
      jobId: 'zz4ibbonubfz7carwiefibzgga',
      baseModel: 'ostris/flux-dev-lora-trainer',
      checkpoints: [
        { step: 100, loss: 0.39 },
        { step: 200, loss: 0.31 },
      ],
    });
  });

  it.each([
    ['no id', { status: 'succeeded' }],
    ['no status', { id: 'abc' }],
    ['a status that is not a word', { id: 'abc', status: 'Succeeded!' }],
    ['a time that is not a time', { id: 'abc', status: 'succeeded', completed_at: 'yesterday' }],
  ])('[P-REP] refuses a body with %s as a bad request', (_, body) => {
    expect(() => normalize(body)).toThrow(BadRequestError);
  });
});
