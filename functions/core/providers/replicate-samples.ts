import { createHash } from 'node:crypto';
import type { SampleBuilder } from './samples';

/**
 * Replicate's object id for a sample id: 26 lower-case base32 characters, as Replicate's are. The
 * same sample id is the same prediction or training, so the samples of one id tell one job's story.
 */
export function replicateObjectId(sampleId: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return [...createHash('sha256').update(sampleId).digest().subarray(0, 26)].map((byte) => alphabet[byte % 32]).join('');
}

/** Replicate's timestamps: ISO 8601 with microseconds. */
const at = (seconds: number) => new Date(seconds * 1000).toISOString().replace('Z', '123Z');

const API = 'https://api.replicate.com/v1';
const TRAINER = 'ostris/flux-dev-lora-trainer';
const TRAINER_VERSION = '26dce37af90b9d997eeb970d92e47de3064d46c300504ae376c75bef6a9022d2';
const DESTINATION = 'acme/flux-support-style';
const NEW_VERSION = 'b9a0c4e2f3d1a8c7e6b5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3';

/** ostris' ai-toolkit as Replicate shows it: a tqdm bar redrawn with `\r`, the loss in its postfix. */
function trainerLog(lastStep: number): string {
  const lines = ['Loading checkpoint shards: 100%|██████████| 2/2 [00:04<00:00,  2.10s/it]', 'Preprocessing image dimensions', 'Running 1000 steps'];
  const bars: string[] = [];
  for (let step = 10; step <= lastStep; step += 10) {
    const loss = (0.62 - 0.35 * (step / 1000) + 0.02 * Math.sin(step)).toExponential(3);
    bars.push(`flux_train_replicate:  ${Math.floor(step / 10)}%|█         | ${step}/1000 [00:${String(step % 60).padStart(2, '0')}<16:13,  1.11s/it, lr: 4.0e-04 loss: ${loss}]`);
  }
  return `${lines.join('\n')}\n${bars.join('\r')}\n`;
}

function training(id: string, nowSeconds: number, fields: Record<string, unknown>): Record<string, unknown> {
  const objectId = replicateObjectId(id);
  return {
    id: objectId,
    model: TRAINER,
    version: TRAINER_VERSION,
    input: { input_images: 'https://example.com/support-style-images.zip', steps: 1000, lora_rank: 16, learning_rate: 0.0004 },
    output: null,
    logs: '',
    error: null,
    metrics: {},
    source: 'api',
    webhook: 'https://example.com/webhooks/replicate',
    webhook_events_filter: ['start', 'logs', 'completed'],
    created_at: at(nowSeconds - 900),
    started_at: at(nowSeconds - 880),
    completed_at: null,
    urls: { get: `${API}/trainings/${objectId}`, cancel: `${API}/trainings/${objectId}/cancel`, web: `https://replicate.com/p/${objectId}` },
    ...fields,
  };
}

function prediction(id: string, nowSeconds: number, fields: Record<string, unknown>): Record<string, unknown> {
  const objectId = replicateObjectId(id);
  return {
    id: objectId,
    model: 'black-forest-labs/flux-schnell',
    version: 'bf2f2e683d03a9549f484a37a0df1581514b28f6f0e5f4ecb8b3c5e0d9e1c4a2',
    input: { prompt: 'a lighthouse at dawn, watercolor', num_outputs: 2 },
    output: null,
    logs: '',
    error: null,
    metrics: {},
    source: 'api',
    data_removed: false,
    webhook: 'https://example.com/webhooks/replicate',
    webhook_events_filter: ['start', 'output', 'logs', 'completed'],
    created_at: at(nowSeconds - 6),
    started_at: at(nowSeconds - 5),
    completed_at: null,
    urls: {
      get: `${API}/predictions/${objectId}`,
      cancel: `${API}/predictions/${objectId}/cancel`,
      stream: `https://stream.replicate.com/v1/files/${objectId}`,
      web: `https://replicate.com/p/${objectId}`,
    },
    ...fields,
  };
}

const image = (objectId: string, n: number) => `https://replicate.delivery/xezq/${objectId}/out-${n}.webp`;

/**
 * One sample per webhook Replicate sends (`webhook_events_filter`: start, output, logs, completed),
 * of a training and of a prediction, and a training's completion in each of its ends. Each is
 * named by the type it is received as, `{kind}.{status}` (`training.starting` is the start
 * webhook, `training.processing` a logs one); a prediction's two `processing` webhooks are
 * `prediction.output` and `prediction.logs`. Each body is the object as Replicate's get operation
 * returns it, which is what its webhooks carry.
 */
export const REPLICATE_SAMPLES: Readonly<Record<string, SampleBuilder>> = {
  'training.starting': ({ id, nowSeconds }) => training(id, nowSeconds, { status: 'starting', started_at: null, created_at: at(nowSeconds) }),
  'training.processing': ({ id, nowSeconds }) => training(id, nowSeconds, { status: 'processing', logs: trainerLog(300) }),
  'training.succeeded': ({ id, nowSeconds }) =>
    training(id, nowSeconds, {
      status: 'succeeded',
      logs: `${trainerLog(1000)}Saved to output/flux_train_replicate/flux_train_replicate.safetensors\n`,
      output: { version: `${DESTINATION}:${NEW_VERSION}`, weights: `https://replicate.delivery/xezq/${replicateObjectId(id)}/trained_model.tar` },
      metrics: { predict_time: 872.4, total_time: 900.1 },
      completed_at: at(nowSeconds),
    }),
  'training.failed': ({ id, nowSeconds }) =>
    training(id, nowSeconds, {
      status: 'failed',
      logs: `${trainerLog(420)}torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n`,
      error: 'CUDA out of memory. Tried to allocate 2.00 GiB',
      metrics: { predict_time: 371.9, total_time: 390.2 },
      completed_at: at(nowSeconds),
    }),
  'training.canceled': ({ id, nowSeconds }) =>
    training(id, nowSeconds, { status: 'canceled', logs: trainerLog(150), metrics: { predict_time: 160.3, total_time: 180.0 }, completed_at: at(nowSeconds) }),
  'prediction.starting': ({ id, nowSeconds }) => prediction(id, nowSeconds, { status: 'starting', started_at: null, created_at: at(nowSeconds) }),
  'prediction.output': ({ id, nowSeconds }) =>
    prediction(id, nowSeconds, { status: 'processing', output: [image(replicateObjectId(id), 0)], logs: 'Using seed: 48213\n' }),
  'prediction.logs': ({ id, nowSeconds }) =>
    prediction(id, nowSeconds, { status: 'processing', logs: 'Using seed: 48213\n  0%|          | 0/4 [00:00<?, ?it/s]\r 50%|█████     | 2/4 [00:00<00:00,  7.61it/s]\n' }),
  'prediction.succeeded': ({ id, nowSeconds }) =>
    prediction(id, nowSeconds, {
      status: 'succeeded',
      output: [image(replicateObjectId(id), 0), image(replicateObjectId(id), 1)],
      logs: 'Using seed: 48213\n100%|██████████| 4/4 [00:00<00:00,  7.80it/s]\n',
      metrics: { predict_time: 1.21, total_time: 5.9 },
      completed_at: at(nowSeconds),
    }),
};
