import { UsageError } from './errors';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** Default window of `events list`, `status` and `replay --status`. */
export const DEFAULT_SINCE = '24h';

/**
 * `--since`: a duration back from now (`90s`, `30m`, `24h`, `7d`, `2w`) or an ISO 8601 date or
 * time (`2026-11-01`, `2026-11-01T16:00:00Z`). Returns epoch milliseconds.
 */
export function parseSince(value: string, nowMs: number): number {
  const trimmed = value.trim();
  const duration = /^(\d+)\s*([smhdw])$/i.exec(trimmed);
  if (duration !== null) {
    const unit = (duration[2] as string).toLowerCase() as keyof typeof UNIT_MS;
    return nowMs - Number(duration[1]) * UNIT_MS[unit];
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const ms = Date.parse(trimmed);
    if (Number.isFinite(ms)) {
      if (ms > nowMs) throw new UsageError(`--since ${value} is in the future`);
      return ms;
    }
  }
  throw new UsageError(`--since must be a duration like 30m, 24h or 7d, or an ISO date like 2026-11-01T16:00:00Z; got "${value}"`);
}

/** The UTC days (`YYYY-MM-DD`) from `sinceMs` to `nowMs`, newest first: the partitions of the time index. */
export function daysNewestFirst(sinceMs: number, nowMs: number): string[] {
  const days: string[] = [];
  const first = new Date(sinceMs).toISOString().slice(0, 10);
  const cursor = new Date(`${new Date(nowMs).toISOString().slice(0, 10)}T00:00:00.000Z`);
  for (;;) {
    const day = cursor.toISOString().slice(0, 10);
    days.push(day);
    if (day <= first) return days;
    cursor.setUTCDate(cursor.getUTCDate() - 1);
  }
}

/** A whole number option within bounds, or a usage error naming the option. */
export function parseWholeNumber(value: string, option: string, min: number, max: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`${option} must be a whole number from ${min} to ${max}; got "${value}"`);
  }
  return parsed;
}
