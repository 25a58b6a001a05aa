/**
 * Exit codes scripts can rely on: 0 ok, 1 a failure or an unhealthy result, 2 a usage error
 * (bad arguments or missing configuration: fix the command line or the environment, then rerun).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The command line or the environment is wrong; the message says what to change. Exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command ran but could not do its job (a dependency failed, a record is missing…). Exit 1. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * The fix for an SDK error that means "nothing is listening there": the usual case locally is
 * that `npm start` is not running.
 */
export function describeConnectionError(error: unknown, where: string): string | undefined {
  const code = (error as { code?: string } | undefined)?.code ?? (error as { cause?: { code?: string } } | undefined)?.cause?.code;
  const name = (error as { name?: string } | undefined)?.name;
  if (code === 'ECONNREFUSED' || name === 'TimeoutError' || code === 'ETIMEDOUT') {
    return `could not reach ${where}: start the local runtime with \`npm start\` (or set DYNAMODB_PORT / SQS_PORT), or pass --stack <name> for a deployed stack`;
  }
  return undefined;
}
