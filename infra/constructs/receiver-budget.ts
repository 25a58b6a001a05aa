import { Duration } from 'aws-cdk-lib';
import { ACCEPT_WORST_CASE_MS } from '../../functions/core/accept';
import { AWS_CALL_BUDGET } from '../../functions/core/aws';
import { DEFAULT_LEASE_SECONDS, RECEIVER_MARGIN_MS, RECEIVER_TIMEOUT_SECONDS } from '../../functions/core/config';

/**
 * The receiver's timeout. It answers the sender itself, and must end before the lease on an
 * in-progress event (`LEASE_SECONDS`, default 30) so that a live request is never overtaken.
 */
export const RECEIVER_TIMEOUT = Duration.seconds(RECEIVER_TIMEOUT_SECONDS);

/**
 * The longest an accept can spend in AWS calls before it answers: the conditional put, the send,
 * and the release or the mark, each bounded by AWS_CALL_BUDGET (every attempt at its timeouts, and
 * the back-off between them).
 */
export const ACCEPT_WORST_CASE_SECONDS = ACCEPT_WORST_CASE_MS / 1000;

/** The receiver's time budget, as {@link checkReceiverBudget} checks it at synth. */
export interface ReceiverBudget {
  /** The function's timeout. */
  readonly timeoutSeconds: number;
  /** The lease an in-progress record holds: `LEASE_SECONDS`, whose default is also its minimum. */
  readonly leaseSeconds: number;
  /** The accept path's AWS calls at their worst. */
  readonly acceptWorstCaseMs: number;
  /** One attempt of the secrets read at its timeouts: a refresh that succeeds on its first try. */
  readonly secretsFirstAttemptMs: number;
  /** What a request keeps free of AWS calls: verification, logging, the answer. */
  readonly marginMs: number;
}

/** The budget the stack deploys. */
export const RECEIVER_BUDGET: ReceiverBudget = {
  timeoutSeconds: RECEIVER_TIMEOUT_SECONDS,
  leaseSeconds: DEFAULT_LEASE_SECONDS,
  acceptWorstCaseMs: ACCEPT_WORST_CASE_MS,
  secretsFirstAttemptMs: AWS_CALL_BUDGET.connectionTimeoutMs + AWS_CALL_BUDGET.requestTimeoutMs,
  marginMs: RECEIVER_MARGIN_MS,
};

/**
 * A request starts its accept only while the accept, at its worst, still answers `marginMs` before
 * the timeout, and answers 503 otherwise (functions/receiver/receive.ts): so a secrets refresh at
 * its worst (~8 s) followed by a slow accept (~24 s) ends in a 503, never in a Lambda timeout with
 * a leased record. Throws unless that leaves room for a secrets read answered on its first attempt
 * (a refreshing cache then costs no delivery), and unless the lease outlasts the accept and the
 * timeout, so that a live request is never overtaken.
 */
export function checkReceiverBudget(budget: ReceiverBudget = RECEIVER_BUDGET): void {
  const beforeAccept = budget.timeoutSeconds * 1000 - budget.marginMs - budget.acceptWorstCaseMs;
  if (beforeAccept < budget.secretsFirstAttemptMs) {
    throw new Error(
      `the receiver timeout (${budget.timeoutSeconds} s) leaves ${Math.max(0, beforeAccept)} ms before the accept's worst case ` +
        `(${budget.acceptWorstCaseMs} ms of AWS calls and ${budget.marginMs} ms to spare); a secrets read takes up to ${budget.secretsFirstAttemptMs} ms on its first attempt`,
    );
  }
  if (budget.acceptWorstCaseMs >= budget.leaseSeconds * 1000) {
    throw new Error(`the accept's worst case (${budget.acceptWorstCaseMs} ms) must stay below LEASE_SECONDS (${budget.leaseSeconds} s)`);
  }
  if (budget.timeoutSeconds >= budget.leaseSeconds) {
    throw new Error(`the receiver timeout (${budget.timeoutSeconds} s) must stay below LEASE_SECONDS (${budget.leaseSeconds} s)`);
  }
}
