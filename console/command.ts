import { type Command, Option } from 'commander';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/provider-names';
import type { Target } from '../ops/target';
import { parseWholeNumber } from '../ops/time';
import { LOCAL_DEFAULT_PORTS } from '../ops/local-names';

/** The default port of `webhooks console`: beside `npm start`'s 3000, which serves the console itself. */
export const CONSOLE_DEFAULT_PORT = 3100;

/** What `webhooks console` takes from the program that holds it (the `webhooks` command, local/webhooks.ts). */
export interface ConsoleCommandDeps {
  readonly output: { readonly stdout: { write(text: string): unknown } };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly connect: (stack: string | undefined) => Promise<Target>;
  readonly stackOption: () => Option;
  /**
   * Keeps the console up until it should stop, then closes it; default: until SIGINT or SIGTERM.
   * Tests pass their own, which uses the console (logging in with `loginUrl`, the printed one) and returns.
   */
  readonly serve?: (loginUrl: string, close: () => Promise<void>) => Promise<void>;
}

/** Until Ctrl-C (or SIGTERM): then the server closes and the command returns. */
function untilSignal(_loginUrl: string, close: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop).off('SIGTERM', stop);
      void close().then(resolve);
    };
    process.on('SIGINT', stop).on('SIGTERM', stop);
  });
}

/** Adds `webhooks console`: the web console of `npm start`, served on its own against the local runtime or a stack. */
export function addConsoleCommand(program: Command, deps: ConsoleCommandDeps): void {
  program
    .command('console')
    .description('serve the web console on 127.0.0.1 (events, dead letters, jobs; replay and redrive) against the local runtime or a stack, until Ctrl-C')
    .addOption(new Option('--port <port>', 'port on 127.0.0.1; 0 picks a free one').default(String(CONSOLE_DEFAULT_PORT)))
    .addOption(deps.stackOption())
    .action(async (options: { stack?: string; port: string }) => {
      const port = parseWholeNumber(options.port, '--port', 0, 65_535);
      // The server (and the SDK under it) is loaded by this command only, not by `webhooks --help`.
      const { startConsoleServer } = await import('./server');
      const target = await deps.connect(options.stack);
      const local = target.kind === 'local';
      const providers = local ? [...PROVIDER_NAMES] : (Object.keys(target.webhookUrls) as ProviderName[]);
      const server = await startConsoleServer(
        {
          target,
          clock: deps.clock,
          env: deps.env,
          providers,
          // Stryker disable next-line ConditionalExpression: a stackName of undefined reads as none, like no stackName
          ...(options.stack === undefined ? {} : { stackName: options.stack }),
          ...(local ? { receiverUrl: `http://127.0.0.1:${deps.env.PORT?.trim() || LOCAL_DEFAULT_PORTS.PORT}` } : {}),
        },
        port,
      );
      deps.output.stdout.write(`web console for ${target.description}: ${server.loginUrl}  (open it to log in; Ctrl-C to stop)\n`);
      await (deps.serve ?? untilSignal)(server.loginUrl, server.close);
    });
}
