/**
 * What the cost model bills DynamoDB on: the event record in each state it is written in, and a
 * job item as its history grows, each measured with `functions/core/item-size.ts` on the sample
 * deliveries the providers' public references describe (no padding). Pure: no emulator.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { envelopeFields } from '../functions/core/accept';
import { itemBytes } from '../functions/core/item-size';
import { normalizeDelivery } from '../functions/core/normalize';
import { payloadItemOf } from '../functions/core/payload-item';
import { storedPayload } from '../functions/core/stored-event';
import { PROVIDERS } from '../functions/core/providers';
import type { ProviderName } from '../functions/core/event';
import { checkpointSortKey, EVENTS_TABLE, JOBS_TABLE, recordRetentionSeconds, transitionSortKey, type EventRecord, type JobCheckpoint, type JobItem, type JobTransition } from '../functions/core/table';
import { verifySignature, type SignatureSpec } from '../functions/core/verify';
import { checkpointsOf, type JobFact } from '../functions/consumers/routes/job-history';
import { planJob, type HistoryWrite } from '../functions/consumers/routes/job-plan';
import { buildDelivery } from '../ops/deliveries';

/** One write unit covers 1 KB of item; one strongly consistent read unit 4 KB. */
export const WRITE_UNIT_BYTES = 1024;
export const READ_UNIT_BYTES = 4096;

/** Write units of a write: an update or a refused put is billed on the larger of the item before and after. */
export function writeUnits(...itemSizes: readonly number[]): number {
  return Math.max(1, Math.ceil(Math.max(...itemSizes) / WRITE_UNIT_BYTES));
}

/** Read units of a strongly consistent GetItem: at least one, found or not. */
export function readUnits(itemSize: number): number {
  return Math.max(1, Math.ceil(itemSize / READ_UNIT_BYTES));
}

/** The event record of one delivery, in bytes, after each of its writes. */
export interface RecordStates {
  readonly provider: ProviderName;
  readonly type: string;
  readonly payloadBytes: number;
  /** The SQS message body: the normalized event as the receiver sends it. */
  readonly eventBytes: number;
  /** The provider's payload and occurredAt as the record keeps them (dictionary id + raw deflate). */
  readonly packedBytes: number;
  /** Whether they stay in the record (`payload`) or go to a payload item. */
  readonly inline: boolean;
  /** The payload item, when not inline; 0 when inline. */
  readonly payloadItem: number;
  /** After the receiver's put (`in_progress`, with its lease). */
  readonly inProgress: number;
  /** After the receiver's mark (`queued`, `queuedAt`, lease removed). */
  readonly queued: number;
  /** After the consumer's claim (`handling`, its lease, `attempts`, `steps`). */
  readonly handling: number;
  /** After the handled mark (`handled`, `handledAt`, lease and steps removed): what is stored until TTL. */
  readonly handled: number;
  /** After a failed attempt (`failed`, `lastError`, `failedAt`, lease removed). */
  readonly failed: number;
  /** After the claim of the retry that follows it (`handling` again, its lease, the error kept). */
  readonly retrying: number;
  /** The time index item the put writes (keys, `provider`, `route`). */
  readonly index: number;
  /** Write units of the put, the queued mark, the claim and the handled mark, in that order. */
  readonly writeUnits: readonly [number, number, number, number];
  /** Write units of the payload item's put (0 when inline): once per event, and again per refused duplicate. */
  readonly payloadItemWriteUnits: number;
  /** Write units a refused duplicate costs: its payload item's put, and the refused put, billed on the stored record. */
  readonly duplicateWriteUnits: number;
}

const LEASE_TOKEN = '3f2b8c1e-7d4a-4e9b-a6c5-0d1e2f3a4b5c';
const ISO = '2026-12-01T12:00:00.123Z';
/** A consumer's error as it is recorded: a dependency's answer, named. */
export const SAMPLE_ERROR = 'openai: GET /fine_tuning/jobs/ftjob-abc123 answered 503 Service Unavailable; retrying from the queue';

/** The record of one sample delivery, built as the receiver and the consumer's ledger write it. */
export function recordStates(provider: ProviderName, type: string, nowSeconds = 1_764_590_400): RecordStates {
  const definition = PROVIDERS[provider];
  const spec = definition.signatureSchemes[definition.defaultSignatureScheme] as SignatureSpec;
  const delivery = buildDelivery({ provider, type, nowSeconds, id: `evt_${'7'.repeat(24)}` });
  const verified = verifySignature({ spec, headers: delivery.headers, body: delivery.body, secrets: [definition.developmentSecret], nowSeconds });
  const retentionSeconds = recordRetentionSeconds(7 * 86_400);
  const event = normalizeDelivery({ provider: definition, spec, body: delivery.body, verified, receivedAtMs: nowSeconds * 1000, retentionSeconds });
  const body = JSON.stringify(event);
  const pk = `${event.provider}#${event.id}`;
  const fields = envelopeFields(event, nowSeconds + retentionSeconds, retentionSeconds);
  const stored = storedPayload(event, { pk, ...fields });
  const item = stored.inline ? undefined : payloadItemOf(pk, stored.bytes, nowSeconds + retentionSeconds);
  const base: EventRecord = { pk, status: 'in_progress', ...fields, ...(item === undefined ? { payload: stored.bytes } : { payloadItem: item.hash }) };
  const lease = { leaseToken: LEASE_TOKEN, leaseExpiresAt: nowSeconds + 30 };
  const inProgress = itemBytes({ ...base, ...lease });
  const queued = itemBytes({ ...base, status: 'queued', queuedAt: ISO });
  const handling = itemBytes({ ...base, status: 'handling', queuedAt: ISO, ...lease, attempts: 1, steps: {} });
  const handled = itemBytes({ ...base, status: 'handled', queuedAt: ISO, attempts: 1, handledAt: ISO });
  const failure = { queuedAt: ISO, attempts: 1, lastError: SAMPLE_ERROR, failedAt: ISO };
  const failed = itemBytes({ ...base, status: 'failed', ...failure });
  const retrying = itemBytes({ ...base, status: 'handling', ...failure, ...lease, attempts: 2, steps: {} });
  const { byTimeIndex } = EVENTS_TABLE;
  const index = itemBytes({
    [EVENTS_TABLE.partitionKey]: base.pk,
    [byTimeIndex.partitionKey]: base.receivedDay,
    [byTimeIndex.sortKey]: base.receivedAt,
    provider: base.provider,
    route: base.route,
  });
  const payloadItem = item === undefined ? 0 : itemBytes({ ...item.item });
  const payloadItemWriteUnits = item === undefined ? 0 : writeUnits(payloadItem);
  return {
    provider,
    type,
    payloadBytes: delivery.body.length,
    eventBytes: Buffer.byteLength(body),
    packedBytes: stored.bytes.length,
    inline: stored.inline,
    payloadItem,
    inProgress,
    queued,
    handling,
    handled,
    failed,
    retrying,
    index,
    writeUnits: [writeUnits(inProgress), writeUnits(inProgress, queued), writeUnits(queued, handling), writeUnits(handling, handled)],
    payloadItemWriteUnits,
    // Refused on the stored record (handled, say), the larger of it and the offered put.
    duplicateWriteUnits: payloadItemWriteUnits + writeUnits(handled, inProgress),
  };
}

/** One realistic delivery per provider: a job's or prediction's completion, as each sends it. */
export const SAMPLE_DELIVERIES: readonly { readonly provider: ProviderName; readonly type: string }[] = [
  { provider: 'openai', type: 'fine_tuning.job.succeeded' },
  { provider: 'standard', type: 'fine_tuning.job.succeeded' },
  { provider: 'together', type: 'fine_tune.completed' },
  { provider: 'llmtune', type: 'training.completed' },
  { provider: 'mythicdot', type: 'fine_tuning.job.succeeded' },
  { provider: 'replicate', type: 'prediction.succeeded' },
  { provider: 'replicate', type: 'training.processing' },
];

/**
 * The deliveries the cost tables price at "1 KB" and "4 KB": Replicate's webhooks carry the whole
 * prediction or training (input, output, logs), the others a few hundred bytes.
 */
export const COST_SAMPLES = {
  1024: { provider: 'replicate', type: 'prediction.succeeded' },
  4096: { provider: 'replicate', type: 'training.processing' },
} as const satisfies Record<number, { provider: ProviderName; type: string }>;

/** The jobs and job-history tables over one job's life: what each event's reads and writes are billed on. */
export interface JobGrowth {
  readonly events: number;
  /** Bytes the job stores (its item and its history items) before and after each event's writes. */
  readonly sizes: readonly { readonly before: number; readonly after: number }[];
  /** Every write of every event: each history item and job item write on the larger of that item before and after. */
  readonly writeUnits: number;
  /** The consistent reads before each merge: the job item, its step's history items, its state items. */
  readonly readUnits: number;
  /** What the last event leaves stored: the job item plus its history items. */
  readonly finalBytes: number;
  /** The job item alone, as the last event leaves it: its latest state. */
  readonly itemBytes: number;
  /** History items stored (one per checkpoint and per state the job left). */
  readonly historyItems: number;
  /** The index item (`byActiveDay`) the job's first write puts. */
  readonly indexBytes: number;
  /** The last event's own write units and read units. */
  readonly last: { readonly writeUnits: number; readonly readUnits: number };
}

/**
 * A fine-tune as Together reports it: started, `checkpoints` checkpoints (step, loss, path), then
 * completed, each merged by the projection's own {@link planJob}, in order; `late`, a checkpoint
 * of a step below all others that arrives after them (a poll catching up, a redelivery).
 */
export function jobGrowth(checkpoints: number, start = Date.UTC(2026, 11, 1, 12), options: { late?: boolean } = {}): JobGrowth {
  const subject = 'ft-8f0d6c3a-2b1e-4c7d-9a5f-3e2d1c0b9a87';
  const base = { provider: 'together', subject, kind: 'fine_tune' as const, details: {} };
  const checkpoint = (step: number, minutes: number): JobFact => ({
    ...base,
    state: 'running',
    step,
    loss: Math.round((2.5 / (1 + step / 400)) * 1e4) / 1e4,
    path: `s3://together-ft-checkpoints/${subject}/checkpoint-${step}`,
    eventId: `evt_checkpoint_${step}`,
    occurredAt: new Date(start + minutes * 60_000).toISOString(),
  });
  const facts: JobFact[] = [{ ...base, state: 'started', eventId: 'evt_started', occurredAt: new Date(start).toISOString() }];
  for (let i = 1; i <= checkpoints; i++) facts.push(checkpoint(i * 100, i));
  facts.push({
    ...base,
    state: 'completed',
    details: { model: 'acme/Meta-Llama-3.1-8B-Instruct-support-v2-8f0d6c3a', evalLoss: 0.412 },
    eventId: 'evt_completed',
    occurredAt: new Date(start + (checkpoints + 1) * 60_000).toISOString(),
  });
  if (options.late === true) facts.push(checkpoint(50, 0.5));
  return replay(facts, start);
}

/**
 * A checkpoint that arrives late, on a completed job that already holds
 * `JOBS_TABLE.maxCheckpoints` checkpoints: it writes its own history item, and the job item only
 * when it changes the latest state (here it does not).
 */
export function lateCheckpoint(start = Date.UTC(2026, 11, 1, 12)): { readonly itemBytes: number; readonly writeUnits: number; readonly readUnits: number } {
  const full = jobGrowth(JOBS_TABLE.maxCheckpoints, start, { late: true });
  return { itemBytes: full.itemBytes, writeUnits: full.last.writeUnits, readUnits: full.last.readUnits };
}

/** Read units of a consistent query: the items it returns, in 4 KB units, at least one. */
function queryUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
}

function replay(facts: readonly JobFact[], start: number): JobGrowth {
  let item: Partial<JobItem> | undefined;
  const history = new Map<string, Record<string, unknown>>();
  const stored = () => (item === undefined ? 0 : itemBytes(item)) + [...history.values()].reduce((sum, entry) => sum + itemBytes(entry), 0);
  const sizes: { before: number; after: number }[] = [];
  let units = 0;
  let reads = 0;
  let last = { writeUnits: 0, readUnits: 0 };
  facts.forEach((fact, index) => {
    const before = stored();
    const pk = `${fact.provider}#${fact.subject}`;
    const steps = new Set(checkpointsOf(fact).map((checkpoint) => checkpoint.step));
    const entries = [...history.values()];
    // As the projection reads: state items only for a report of another state than the job's.
    const states = item !== undefined && item.state !== fact.state;
    const held = {
      checkpoints: entries.filter((entry) => steps.has(entry.step as number)) as unknown as JobCheckpoint[],
      transitions: (states ? entries.filter((entry) => entry.state !== undefined) : []) as unknown as JobTransition[],
    };
    let eventReads = readUnits(item === undefined ? 0 : itemBytes(item));
    if (states) eventReads += queryUnits(held.transitions.reduce((sum, entry) => sum + itemBytes(entry as never), 0));
    if (steps.size > 0) eventReads += queryUnits(held.checkpoints.reduce((sum, entry) => sum + itemBytes(entry as never), 0));
    const plan = planJob(item, fact, held, new Date(start + index * 60_000 + 1_000));
    let eventUnits = 0;
    const put = (write: HistoryWrite<JobCheckpoint> | HistoryWrite<JobTransition>) => {
      const sk = 'step' in write.entry ? checkpointSortKey(write.entry.step) : transitionSortKey(write.entry.state);
      const next = { pk, sk, ...write.entry };
      eventUnits += writeUnits(itemBytes(history.get(sk) ?? {}), itemBytes(next));
      history.set(sk, next);
    };
    plan.before.forEach(put);
    if (plan.job !== undefined) {
      const next: Partial<JobItem> = { pk, ...item, ...plan.job.set };
      for (const name of plan.job.remove) delete next[name as keyof JobItem];
      eventUnits += writeUnits(item === undefined ? 0 : itemBytes(item), itemBytes(next));
      item = next;
    }
    [...plan.checkpoints, ...plan.transitions].forEach(put);
    sizes.push({ before, after: stored() });
    units += eventUnits;
    reads += eventReads;
    last = { writeUnits: eventUnits, readUnits: eventReads };
  });
  const indexBytes = itemBytes({ pk: item?.pk, activeDay: item?.activeDay, kind: item?.kind });
  return {
    events: facts.length,
    sizes,
    writeUnits: units,
    readUnits: reads,
    finalBytes: stored(),
    itemBytes: item === undefined ? 0 : itemBytes(item),
    historyItems: history.size,
    indexBytes,
    last,
  };
}

/**
 * Bytes of the metric line (CloudWatch embedded metric format) a deployed consumer writes per
 * batch of one provider's events: `Handled`, the batch's sum, with its route and provider
 * dimensions, as Powertools Metrics prints it (functions/consumers/consume.ts publishes it so).
 */
export function consumerMetricLineBytes(): number {
  const metrics = new Metrics({ namespace: 'WebhookReceiver', serviceName: 'webhook-consumer' });
  let bytes = 0;
  const write = process.stdout.write.bind(process.stdout);
  const log = console.log;
  const count = (chunk: unknown) => {
    bytes += Buffer.byteLength(typeof chunk === 'string' ? chunk : String(chunk));
  };
  process.stdout.write = ((chunk: unknown) => {
    count(chunk);
    return true;
  }) as typeof process.stdout.write;
  console.log = (...parts: unknown[]) => count(`${parts.map(String).join(' ')}\n`);
  try {
    metrics.addDimensions({ route: 'fine_tune.completed', provider: 'replicate' });
    metrics.addMetric('Handled', MetricUnit.Count, 10);
    metrics.publishStoredMetrics();
  } finally {
    process.stdout.write = write;
    console.log = log;
  }
  return bytes;
}
