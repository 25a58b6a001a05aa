import { Option, type Command } from 'commander';
import { ConfigurationError } from '../functions/core/errors';
import { CliError } from '../ops/errors';

/** What `webhooks dev` takes from the program that holds it. */
export interface DevCommandDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * Adds `webhooks dev`: `npm start` from your own project, the installed package's local runtime
 * (emulators, receiver, consumers, console) with your steps module loaded into the consumers and
 * reloaded when it changes. The runtime, esbuild and the SDK load when the command runs.
 */
export function addDevCommand(program: Command, deps: DevCommandDeps): void {
  program
    .command('dev')
    .description('run the receiver locally (emulators, consumers, web console) with your own steps loaded and reloaded on change, until Ctrl-C; configured like npm start (PORT, …)')
    .addOption(new Option('--steps <module>', 'your steps module (.ts or .js, exports `steps`), as the construct\'s `steps` prop bundles it'))
    .action(async (options: { steps?: string }) => {
      const [{ serveLocal }, { loadSteps }] = await Promise.all([import('./serve'), import('./steps-loader')]);
      let loaded: Awaited<ReturnType<typeof loadSteps>> | undefined;
      try {
        loaded =
          options.steps === undefined
            ? undefined
            : await loadSteps(options.steps, {
                onReload: (outcome) =>
                  console.log(
                    outcome.ok
                      ? `steps reloaded from ${options.steps}: ${outcome.routes.join(', ') || 'no routes'}`
                      : `steps not reloaded, the previous ones still run: ${outcome.error}`,
                  ),
              });
        await serveLocal(
          { ...deps.env },
          {
            // Where the package is installed there is no `npm run send`: the bin sends.
            sendCommand: 'npx webhooks send',
            ...(loaded === undefined ? {} : { steps: loaded.steps, banner: `your steps: ${loaded.path} (reloaded when it changes)` }),
          },
        );
      } catch (error) {
        if (error instanceof ConfigurationError) throw new CliError(error.message);
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new CliError(`a port is already in use (${(error as Error).message}); set PORT, DYNAMODB_PORT or SQS_PORT`);
        throw error;
      } finally {
        await loaded?.stop();
      }
    });
}
