/**
 * Exit codes scripts can rely on: 0 ok, 1 a failure or an unhealthy result, 2 a usage error
 * (bad arguments or missing configuration: fix the command line or the environment, then rerun).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What went wrong, and, apart, what to do about it: `--json` prints them as `error` and `hint`. */
interface Explained {
  /** What went wrong, without the fix. */
  readonly reason: string;
  /** The next step, when one is known. */
  readonly hint?: string;
}

/** `reason: hint`, the one-line form of an error. */
function oneLine(reason: string, hint: string | undefined): string {
  return hint === undefined ? reason : `${reason}: ${hint}`;
}

/** The command line (or request) or the environment is wrong; the message says what to change. Exit 2; 400 in the console. */
export class UsageError extends Error implements Explained {
  override name = 'UsageError';
  readonly reason: string;
  readonly hint?: string;
  constructor(reason: string, options: { hint?: string } = {}) {
    super(oneLine(reason, options.hint));
    this.reason = reason;
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

/** The operation ran but could not do its job (a dependency failed, a record is missing…). Exit 1; 502 in the console. */
export class CliError extends Error implements Explained {
  override name = 'CliError';
  readonly reason: string;
  readonly hint?: string;
  constructor(reason: string, options: { cause?: unknown; hint?: string } = {}) {
    super(oneLine(reason, options.hint));
    this.reason = reason;
    if (options.cause !== undefined) this.cause = options.cause;
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

/**
 * A network failure in words (`connection refused`, `timed out`, …), or undefined when `error` is
 * not one. Reads the code of Node's errors, of fetch's `cause` and of the SDK's.
 */
export function connectionProblem(error: unknown): string | undefined {
  const code = (error as { code?: string } | undefined)?.code ?? (error as { cause?: { code?: string } } | undefined)?.cause?.code;
  const name = (error as { name?: string } | undefined)?.name;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'timed out';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection reset';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  return undefined;
}

/** The usual fix when the CLI's local target does not answer. */
export const LOCAL_RUNTIME_HINT = 'start the local runtime with `npm start` (or set DYNAMODB_PORT / SQS_PORT), or pass --stack <name> for a deployed stack';

/**
 * The error for an SDK call that found nothing listening (refused or timed out), or undefined
 * for any other failure: the usual case locally is that `npm start` is not running.
 */
export function connectionError(error: unknown, where: string, hint: string = LOCAL_RUNTIME_HINT): CliError | undefined {
  const problem = connectionProblem(error);
  if (problem !== 'connection refused' && problem !== 'timed out') return undefined;
  return new CliError(`could not reach ${where} (${problem})`, { cause: error, hint });
}

/** {@link connectionError} as one line of text. */
export function describeConnectionError(error: unknown, where: string, hint?: string): string | undefined {
  return connectionError(error, where, hint)?.message;
}

/**
 * The error when a delivery got no answer from the receiver: the URL tried, what happened, and
 * what to check. `webhooks send` (`npm run send --`) says it.
 */
export function receiverUnreachable(url: string, problem: string, hint: string = RECEIVER_HINT): CliError {
  return new CliError(`could not reach the receiver at ${url} (${problem})`, { hint });
}

/** The usual fix when the local receiver does not answer. */
export const RECEIVER_HINT = 'is `npm start` running? (it listens on http://127.0.0.1:$PORT, default 3000; else pass --url)';

/** An error as `--json` prints it: `{ "error": …, "hint": … }` (hint null when none is known). */
export function errorJson(error: { reason: string; hint?: string | undefined }): { error: string; hint: string | null } {
  return { error: error.reason, hint: error.hint ?? null };
}
