import { consoleHandler } from '../console/server';
import type { ConsoleDeps } from '../console/api';
import { loginUrl, newConsoleSecrets } from '../console/security';
import { localTarget } from '../ops/target';
import type { LocalRuntime } from './runtime';

/**
 * Serves the console on the `npm start` server, at `/`, against the runtime's own emulators (the
 * operations' local target, pointed at them) and its refused deliveries. Returns the console's login
 * URL, to print, or undefined when the server listens beyond loopback: the console's actions are
 * the operator's.
 */
export function mountConsole(runtime: LocalRuntime, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (!runtime.loopbackOnly) return undefined;
  const secrets = newConsoleSecrets();
  const target = localTarget({ ...env, DYNAMODB_PORT: new URL(runtime.emulators.dynamodbEndpoint).port, SQS_PORT: new URL(runtime.emulators.sqsEndpoint).port });
  const deps: ConsoleDeps = {
    target,
    clock: Date.now,
    env,
    providers: [...runtime.config.providers.keys()],
    receiverUrl: runtime.url,
    rejections: () => runtime.rejections.list(),
  };
  runtime.mount(consoleHandler(deps, secrets));
  return loginUrl(`${runtime.url}/`, secrets);
}
