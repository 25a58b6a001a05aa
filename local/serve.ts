import { mountConsole } from './console';
import { ConfigurationError } from '../functions/core/errors';
import type { Extensions } from '../functions/consumers/steps';
import { integerEnv } from '../functions/core/config';
import { LOOPBACK } from './emulators';
import { exposureWarning } from './http';
import { readyLines } from './ready';
import { LOCAL_DEFAULT_PORTS } from '../ops/local-names';
import { startLocalRuntime } from './runtime';
import { quietSdkNodeWarning, unknownVariableWarnings } from './warnings';

/** What {@link serveLocal} takes besides the environment. */
export interface ServeLocalOptions {
  /** Your own steps (`webhooks dev --steps`); none by default. */
  readonly steps?: Extensions;
  /** A line printed with the others once everything is up (which steps are loaded). */
  readonly banner?: string;
  /** The command the ready lines show for sending a sample (see `readyLines`). */
  readonly sendCommand?: string;
}

/**
 * The local runtime as `npm start` and `webhooks dev` serve it: emulators, receiver, consumers
 * and console, configured by environment (see README), its addresses printed; stops on SIGINT or
 * SIGTERM and resolves then.
 */
export async function serveLocal(env: NodeJS.ProcessEnv, options: ServeLocalOptions = {}): Promise<void> {
  quietSdkNodeWarning((line) => console.warn(line));
  for (const line of unknownVariableWarnings(env)) console.warn(line);
  const host = env.HOST === undefined || env.HOST.trim() === '' ? LOOPBACK : env.HOST.trim();
  const runtime = await startLocalRuntime({
    env,
    host,
    port: integerEnv(env, 'PORT', LOCAL_DEFAULT_PORTS.PORT, 0, 65_535),
    dynamodbPort: integerEnv(env, 'DYNAMODB_PORT', LOCAL_DEFAULT_PORTS.DYNAMODB_PORT, 0, 65_535),
    sqsPort: integerEnv(env, 'SQS_PORT', LOCAL_DEFAULT_PORTS.SQS_PORT, 0, 65_535),
    ...(options.steps === undefined ? {} : { steps: options.steps }),
    ...(fakeProvidersOff(env) ? {} : { fakeProviders: { port: integerEnv(env, 'FAKE_PROVIDERS_PORT', LOCAL_DEFAULT_PORTS.FAKE_PROVIDERS_PORT, 0, 65_535) } }),
  });
  const warning = exposureWarning(host);
  if (warning !== undefined) console.warn(warning);
  const consoleUrl = mountConsole(runtime, env);
  if (consoleUrl === undefined) console.warn(`the web console is off while HOST=${host}: it serves only loopback; run \`npx webhooks console\` on this machine instead`);
  if (runtime.developmentSecrets.length > 0) {
    console.warn(
      `warning: using development signing secrets for ${runtime.developmentSecrets.join(', ')} ` +
        '(set {PROVIDER}_WEBHOOK_SECRET to use your own; see README)',
    );
  }
  console.log(`DynamoDB (dynalite) at ${runtime.emulators.dynamodbEndpoint}, SQS (fauxqs) at ${runtime.emulators.sqsEndpoint}`);
  for (const name of runtime.config.providers.keys()) {
    console.log(`  POST ${runtime.url}/webhooks/${name}`);
  }
  if (runtime.fakeProviders !== undefined) {
    console.log(
      `fake provider APIs at ${runtime.fakeProviders.url} (for \`npx webhooks simulate fine-tune --provider openai|together|replicate|llmtune|mythicdot\`)` +
        (runtime.fakeProviders.openai ? "; OpenAI's events are completed from its fake (set OPENAI_API_KEY for OpenAI's own API)" : ''),
    );
  }
  console.log("EventBridge: a local stand-in records what each consumer would publish; see it with `npx webhooks events show '<key>'`");
  if (runtime.polling !== undefined) {
    console.log(`polling Together at ${runtime.polling.baseUrl} every ${runtime.polling.intervalSeconds}s`);
    console.log(`batch results: completed Together batches are copied to s3://${runtime.resources.resultsBucket}/together/batches/`);
  }
  if (options.banner !== undefined) console.log(options.banner);
  console.log(
    readyLines({
      url: runtime.url,
      dynamodbEndpoint: runtime.emulators.dynamodbEndpoint,
      sqsEndpoint: runtime.emulators.sqsEndpoint,
      providers: [...runtime.config.providers.keys()],
      ...(consoleUrl === undefined ? {} : { consoleUrl }),
      ...(options.sendCommand === undefined ? {} : { sendCommand: options.sendCommand }),
      ...(runtime.fakeProviders === undefined ? {} : { fakeProvidersUrl: runtime.fakeProviders.url }),
    }).join('\n'),
  );

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${signal}: stopping`);
      await runtime.stop();
      resolve();
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  });
}

/** `LOCAL_FAKE_PROVIDERS=off` (or `0`, `false`): no fake provider APIs. */
function fakeProvidersOff(env: NodeJS.ProcessEnv): boolean {
  const value = env.LOCAL_FAKE_PROVIDERS?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'on' || value === '1' || value === 'true') return false;
  if (value === 'off' || value === '0' || value === 'false') return true;
  throw new ConfigurationError(`LOCAL_FAKE_PROVIDERS must be on or off, got "${env.LOCAL_FAKE_PROVIDERS}"`);
}
