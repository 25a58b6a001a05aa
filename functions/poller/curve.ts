import { END_OF_DATA_TIME_MS, MAX_DATA_CHECKPOINTS, MAX_DATA_TEXT_LENGTH, type DataCheckpoint } from '../core/data';
import { isoTime } from './observe';
import { TogetherApiError, type FineTuneCheckpoint, type FineTuneMetric, type TogetherApi } from './together-api';

/** What {@link readJobCurve} found: the curve, and which reads failed (a 404 is no failure). */
export interface JobCurveRead {
  readonly curve: DataCheckpoint[];
  /** `checkpoints`, `metrics`: the reads that failed after the client's retries, with why. */
  readonly unreadable: readonly { readonly what: 'checkpoints' | 'metrics'; readonly error: TogetherApiError }[];
}

/**
 * Reads a job's checkpoints, then its metrics, and merges them ({@link jobCurve}). Neither read
 * holds back the job's end: one that answers 404 (an API without it) or fails after the client's
 * retries (5xx, timeouts, a body not of the documented shape) leaves its part out, and the failures
 * are returned for the caller to log and count. A rejected key (`TogetherAuthError`) still throws.
 */
export async function readJobCurve(api: Pick<TogetherApi, 'listFineTuneCheckpoints' | 'listFineTuneMetrics'>, jobId: string): Promise<JobCurveRead> {
  const unreadable: { what: 'checkpoints' | 'metrics'; error: TogetherApiError }[] = [];
  const attempt = async <T>(what: 'checkpoints' | 'metrics', read: () => Promise<T | undefined>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof TogetherApiError)) throw error;
      unreadable.push({ what, error });
      return undefined;
    }
  };
  const checkpoints = await attempt('checkpoints', () => api.listFineTuneCheckpoints(jobId));
  const metrics = await attempt('metrics', () => api.listFineTuneMetrics(jobId));
  return { curve: jobCurve(checkpoints, metrics), unreadable };
}

/**
 * A fine-tune's curve, as canonical `data.checkpoints`: Together's per-step training metrics
 * (`train/global_step`, `train/loss`, `timestamp`) merged by step with its saved checkpoints (`step`,
 * `path`, `created_at`), oldest step first. Evaluation rows (`eval/*` only) are left out: the curve
 * is the training loss. At most {@link MAX_DATA_CHECKPOINTS} points: every checkpoint with a path,
 * then metric steps spread evenly over the run, the first and last included. Metric rows without
 * a training loss, and rows without a non-negative integer step, add no point; either list may be
 * absent (`undefined`: the API answered 404 or could not be read).
 */
export function jobCurve(checkpoints: readonly FineTuneCheckpoint[] | undefined, metrics: readonly FineTuneMetric[] | undefined): DataCheckpoint[] {
  const byStep = new Map<number, DataCheckpoint>();
  const merge = (step: number, fields: Omit<DataCheckpoint, 'step'>) => {
    const known = byStep.get(step) ?? { step };
    byStep.set(step, { ...known, ...Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) });
  };
  // Stryker disable next-line ArrayDeclaration: a list of strings in place of the empty one has no step, so it adds no point either
  for (const row of metrics ?? []) {
    const step = stepOf(row['train/global_step'] ?? row.global_step ?? row.step);
    if (step === undefined) continue;
    const loss = finite(row['train/loss'] ?? row.loss);
    // A row of other scalars (learning rate, grad norm) at a step adds no point to a loss curve.
    if (loss === undefined) continue;
    merge(step, { loss, at: metricTime(row.timestamp) });
  }
  // Stryker disable next-line ArrayDeclaration: a list of strings in place of the empty one has no step, so it adds no point either
  for (const checkpoint of checkpoints ?? []) {
    const step = stepOf(checkpoint.step);
    if (step === undefined) continue;
    const path = typeof checkpoint.path === 'string' && checkpoint.path.trim() !== '' && checkpoint.path.length <= MAX_DATA_TEXT_LENGTH ? checkpoint.path : undefined;
    // The checkpoint's own time wins: it is when the artifact the path names was written.
    merge(step, { path, at: isoTime(checkpoint.created_at) });
  }
  return bounded([...byStep.values()].sort((a, b) => a.step - b.step), MAX_DATA_CHECKPOINTS);
}

/** Keeps every point with a path (up to `max`), then points spread evenly over the others. */
function bounded(points: DataCheckpoint[], max: number): DataCheckpoint[] {
  // Stryker disable next-line EqualityOperator: at exactly `max` points the picks below keep every one of them too
  if (points.length <= max) return points;
  const withPath = points.flatMap((point, index) => (point.path === undefined ? [] : [index])).slice(0, max);
  const others = points.flatMap((point, index) => (point.path === undefined ? [index] : []));
  const room = max - withPath.length;
  // others.length > room here, so the picks below are distinct and include both ends.
  const picked = room <= 0 ? [] : room === 1 ? [others[others.length - 1] as number] : Array.from({ length: room }, (_, k) => others[Math.round((k * (others.length - 1)) / (room - 1))] as number);
  return [...new Set([...withPath, ...picked])].sort((a, b) => a - b).map((index) => points[index] as DataCheckpoint);
}

function stepOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * A metric row's `timestamp` as ISO 8601. Together sends nanoseconds since the epoch; seconds,
 * milliseconds and microseconds are told apart by size, and an ISO string is read as one.
 */
function metricTime(value: unknown): string | undefined {
  if (typeof value === 'string') return isoTime(value);
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined;
  const ms = value >= 1e17 ? value / 1e6 : value >= 1e14 ? value / 1e3 : value >= 1e11 ? value : value * 1000;
  return ms < END_OF_DATA_TIME_MS ? new Date(ms).toISOString() : undefined;
}
