import { MAX_DATA_CHECKPOINTS, type DataCheckpoint } from '../data';
import { fieldsOf, number, text } from './fields';

/** Entries of a list read at most: a longer list keeps its last ones. */
const MAX_ENTRIES_READ = 10 * MAX_DATA_CHECKPOINTS;

/**
 * A loss curve from a list a provider sends inside its payload, one entry per step, in either of
 * the two shapes in use: `{ step, loss }` (also `train_loss`; Hugging Face's `log_history` entries
 * are such), or OpenAI's checkpoint object, `{ step_number, metrics: { train_loss }, created_at,
 * fine_tuned_model_checkpoint }`. Entries without a whole, non-negative step are skipped; a step
 * given twice keeps its later entry; the newest {@link MAX_DATA_CHECKPOINTS} steps are kept, in
 * step order. Undefined when `value` holds no such entry (not a list, or none readable).
 */
export function curveOf(value: unknown): DataCheckpoint[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const bySteps = new Map<number, DataCheckpoint>();
  for (const entry of value.slice(-MAX_ENTRIES_READ)) {
    const point = pointOf(fieldsOf(entry));
    if (point !== undefined) bySteps.set(point.step, point);
  }
  if (bySteps.size === 0) return undefined;
  return [...bySteps.values()].sort((a, b) => a.step - b.step).slice(-MAX_DATA_CHECKPOINTS);
}

function pointOf(fields: Readonly<Record<string, unknown>>): DataCheckpoint | undefined {
  const step = number(fields.step ?? fields.step_number);
  if (step === undefined || !Number.isSafeInteger(step) || step < 0) return undefined;
  const metrics = fieldsOf(fields.metrics);
  const loss = number(fields.loss ?? fields.train_loss ?? metrics.train_loss ?? metrics.loss);
  const path = text(fields.checkpointPath ?? fields.checkpoint_path ?? fields.fine_tuned_model_checkpoint);
  const at = timeOf(fields.at ?? fields.created_at ?? fields.createdAt);
  return { step, ...(loss === undefined ? {} : { loss }), ...(path === undefined ? {} : { path }), ...(at === undefined ? {} : { at }) };
}

/** An ISO time from Unix seconds or an ISO string; undefined for anything else. */
function timeOf(value: unknown): string | undefined {
  // Stryker disable next-line LogicalOperator: Number.isFinite is false for anything but a number, and a non-finite number is no time either way
  const ms = typeof value === 'number' && Number.isFinite(value) ? value * 1000 : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > 253_402_300_799_000) return undefined;
  return new Date(ms).toISOString();
}
