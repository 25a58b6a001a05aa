import { run, type AddCommand, type CliDeps } from '../cli/program';
import { addConsoleCommand, type ConsoleCommandDeps } from '../console/command';
import type { ExitCode } from '../ops/errors';
import { addDevCommand } from './dev-command';
import { quietSdkNodeWarning } from './sdk-warning';

/*
 * The `webhooks` command: the CLI face with the console face's `webhooks console` and the local
 * runtime's `webhooks dev` added. Both faces
 * stand on ops/ and neither imports the other, so the command is put together here, above both,
 * as `npm start` (start.ts) puts the runtime and the console together. The bin (cli/webhooks.js)
 * runs `main`.
 */

export interface WebhooksDeps extends Omit<CliDeps, 'commands'> {
  /** How long `webhooks console` serves; default until SIGINT or SIGTERM. */
  readonly serveConsole?: ConsoleCommandDeps['serve'];
}

/**
 * Runs the `webhooks` command line (arguments after the program name), `console` included, and
 * resolves with its exit code (see `run`). Never exits the process.
 */
export function runWebhooks(argv: readonly string[], deps: WebhooksDeps): Promise<ExitCode> {
  const { serveConsole, ...cli } = deps;
  return run(argv, { ...cli, commands: webhooksCommands(serveConsole) });
}

/** The commands the `webhooks` command adds to the CLI's own: `console`, and `dev` (the local runtime with your steps). */
export function webhooksCommands(serveConsole?: ConsoleCommandDeps['serve']): readonly AddCommand[] {
  return [
    (program, context) => addConsoleCommand(program, { ...context, ...(serveConsole === undefined ? {} : { serve: serveConsole }) }),
    (program, context) => addDevCommand(program, { env: context.env }),
  ];
}

/** The bin: runs the process's arguments, then exits with the command's code. */
export async function main(): Promise<never> {
  quietSdkNodeWarning();
  const code = await runWebhooks(process.argv.slice(2), { output: { stdout: process.stdout, stderr: process.stderr }, env: process.env });
  // SDK clients keep idle sockets open; the command is done, so end now with its code.
  process.exit(code);
}
