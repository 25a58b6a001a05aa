/**
 * Order statistics for the benchmarks. The machine is shared, so no absolute number is trusted on
 * its own: every result is a ratio against a floor measured in the same run, with the two sides
 * interleaved so that drift (other tenants, thermal, GC) hits both alike.
 */

/** The q-quantile (0 ≤ q ≤ 1) by the nearest-rank method; NaN for no samples. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function mean(samples: readonly number[]): number {
  return samples.length === 0 ? Number.NaN : samples.reduce((sum, value) => sum + value, 0) / samples.length;
}

export interface LatencySummary {
  readonly samples: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export function summarize(samplesMs: readonly number[]): LatencySummary {
  return {
    samples: samplesMs.length,
    meanMs: round(mean(samplesMs), 3),
    p50Ms: round(quantile(samplesMs, 0.5), 3),
    p99Ms: round(quantile(samplesMs, 0.99), 3),
  };
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A measured ratio and its target, with the direction the target points. */
export interface Check {
  readonly value: number;
  readonly target: number;
  /** `min`: the value must be at least the target; `max`: at most. */
  readonly kind: 'min' | 'max';
  readonly met: boolean;
}

export function check(value: number, target: number, kind: Check['kind']): Check {
  return { value: round(value, 3), target, kind, met: kind === 'min' ? value >= target : value <= target };
}

export function describeCheck(result: Check): string {
  const sign = result.kind === 'min' ? '≥' : '≤';
  return `${result.value.toFixed(2)} (target ${sign} ${result.target}) ${result.met ? 'met' : 'MISSED'}`;
}
