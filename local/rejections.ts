import type { Rejection } from '../ops/rejections';

/** The most refusals the local runtime keeps: the signature-debugging view needs recent ones only. */
export const REJECTIONS_KEPT = 200;

export interface RejectionLog {
  readonly record: (rejection: Rejection) => void;
  /** Newest first. */
  readonly list: () => Rejection[];
}

/** A ring of the last `capacity` refusals, in memory: the local runtime's, gone when it stops. */
export function createRejectionLog(capacity = REJECTIONS_KEPT): RejectionLog {
  const kept: Rejection[] = [];
  return {
    record(rejection) {
      kept.push(rejection);
      if (kept.length > capacity) kept.splice(0, kept.length - capacity);
    },
    list: () => [...kept].reverse(),
  };
}
