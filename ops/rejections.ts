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
