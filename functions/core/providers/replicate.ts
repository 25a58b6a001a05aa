import * as z from '../zod';
import type { DataCheckpoint } from '../data';
import { parseTrainingLog } from '../training-log';
import { errorText, fieldsOf, text, type Fields } from './fields';
import { defineProvider, pickSubject, toSeconds, STANDARD_WEBHOOKS_SPEC } from './types';

const time = () => z.optional(z.nullable(z.union([z.number(), z.string()])));

/** Replicate's webhook body: the prediction or training object itself, with no event type. */
const Envelope = () =>
  z.looseObject({
    id: z.string(),
    // Replicate's statuses are lower-case words (`starting`, `processing`, `succeeded`, …); an
    // unknown one still routes (to `other`), but it must be a word: it becomes the event's type.
    status: z.string().check(z.regex(/^[a-z_]{1,32}$/, 'must be a lower-case word such as "succeeded"')),
    created_at: time(),
    started_at: time(),
    completed_at: time(),
    urls: z.optional(z.nullable(z.looseObject({ get: z.optional(z.nullable(z.string())), cancel: z.optional(z.nullable(z.string())) }))),
  });

/** What Replicate's object is: a training (a fine-tune job) or a prediction (one model run). */
export type ReplicateKind = 'training' | 'prediction';

const TRAINING_PATH = /^\/v1\/trainings\/[^/]+(?:\/cancel)?\/?$/;

/**
 * A training when the object's API address (`urls.get`, else `urls.cancel`) is under
 * `/v1/trainings/`, or when it names the `destination` model only a training has; a prediction
 * otherwise. The body is the object as Replicate's get-training or get-prediction operation
 * returns it, and that address is the one field that says which: a training's `starting` and
 * `processing` bodies carry the same fields as a prediction's.
 */
export function replicateKind(object: unknown): ReplicateKind {
  const fields = fieldsOf(object);
  const urls = fieldsOf(fields.urls);
  const address = [urls.get, urls.cancel].find((url): url is string => typeof url === 'string');
  if (address !== undefined && TRAINING_PATH.test(pathOf(address))) return 'training';
  return text(fields.destination) === undefined ? 'prediction' : 'training';
}

function pathOf(url: string): string {
  try {
    return new URL(url, 'https://api.replicate.com').pathname;
  } catch {
    // Stryker disable next-line StringLiteral: an address that is no URL has no path; nothing but a training's path reads as one
    return '';
  }
}

/**
 * Routed types: `{kind}.{status}`. A training is a fine-tune job: its `starting` and `processing`
 * webhooks (start, output, logs) report it started (the jobs projection keeps one `started`
 * transition per job, however many arrive), and each end has its route. `aborted` (ended by
 * Replicate before it ran) is a failure: no model came of it and its owner did not cancel it.
 * Predictions (`prediction.*`) go to `other`, on purpose: a prediction is one model run, awaited
 * by the code that started it, neither a fine-tune nor a batch.
 */
const ROUTES = {
  'training.starting': 'fine_tune.started',
  'training.processing': 'fine_tune.started',
  'training.succeeded': 'fine_tune.completed',
  'training.failed': 'fine_tune.failed',
  'training.aborted': 'fine_tune.failed',
  'training.canceled': 'fine_tune.cancelled',
} as const;

/**
 * The model version a training made: `output.version` as Replicate gives it
 * (`owner/model:versionid`), a bare version id joined to the training's `destination`, else the
 * `destination` alone.
 */
function modelName(training: Fields): string | undefined {
  const version = text(fieldsOf(training.output).version);
  const destination = text(training.destination);
  if (version !== undefined && (version.includes('/') || destination === undefined)) return version;
  if (version !== undefined) return text(`${destination}:${version}`) ?? version;
  return destination;
}

/** The loss curve the trainer printed in `logs` (see {@link parseTrainingLog}); absent when none. */
function checkpoints(training: Fields): DataCheckpoint[] | undefined {
  const points = parseTrainingLog(training.logs);
  return points.length === 0 ? undefined : points;
}

/**
 * Replicate: Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`,
 * secret `whsec_…`, checked by the one Standard Webhooks verifier) over the prediction or training
 * object itself. The event id is the signed `webhook-id`: one object sends several webhooks
 * (start, output, logs, completed), each a distinct event about the same job. The subject is the
 * object's `id`; the type is `{kind}.{status}` ({@link replicateKind}), never a body field.
 */
export const replicate = defineProvider({
  name: 'replicate',
  signatureSchemes: { standard: STANDARD_WEBHOOKS_SPEC },
  defaultSignatureScheme: 'standard',
  secretEnv: 'REPLICATE_WEBHOOK_SECRET',
  developmentSecret: 'whsec_ZGV2LXJlcGxpY2F0ZS13ZWJob29rLXNlY3JldC0zMiE=',
  routes: ROUTES,
  envelope: Envelope,
  toFacts: (object, verified) => ({
    // The verifier has already required and signed this header.
    // Stryker disable next-line StringLiteral: the verifier has required and signed the webhook-id header, so it is never absent here
    id: verified.headerId ?? '',
    providerType: `${replicateKind(object)}.${object.status}`,
    subject: pickSubject(object, ['id']),
    // The newest of the object's times: when it ended, else started, else was created.
    occurredAtSeconds:
      toSeconds(object.completed_at ?? undefined, 'completed_at') ??
      toSeconds(object.started_at ?? undefined, 'started_at') ??
      toSeconds(object.created_at ?? undefined, 'created_at') ??
      verified.signedAtSeconds,
    providerData: object,
  }),
  // A training's own fields: `model` is the base model it trains, `output.version` the new one,
  // `error` why it failed, `logs` its trainer's output. `metrics` (`predict_time`, `total_time`)
  // are times, not a curve, and are not read.
  data: {
    'fine_tune.started': { jobId: (t) => text(t.id), baseModel: (t) => text(t.model), checkpoints },
    'fine_tune.completed': { jobId: (t) => text(t.id), modelName, baseModel: (t) => text(t.model), checkpoints },
    'fine_tune.failed': { jobId: (t) => text(t.id), errorMessage: (t) => errorText(t.error), checkpoints },
    'fine_tune.cancelled': { jobId: (t) => text(t.id), checkpoints },
  },
});
