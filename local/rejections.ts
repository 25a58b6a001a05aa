/** One refused delivery as the console shows it: never the secret, the signature or the body. */
export interface Rejection {
  /** ISO time the receiver answered. */
  readonly at: string;
  /** The provider of the path, or `unknown` for a path no enabled provider matches. */
  readonly provider: string;
  /** The path the delivery was posted to (at most 160 characters): what an `unknown` provider tried. */
  readonly path: string;
  readonly status: number;
  /** The contract's reason code, e.g. `signature_mismatch`, `timestamp_out_of_tolerance`, `body_too_large`. */
  readonly reason: string;
  /** The receiver's own explanation, as it logs it. */
  readonly detail: string;
}

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
