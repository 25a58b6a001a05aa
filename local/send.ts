// `npm run send`: one signed sample delivery to a running receiver. An entry point, not a library:
// it shares the `webhooks` CLI's errors and exit codes, so both say the same thing when the
// receiver is not running.
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { EXIT, UsageError, connectionProblem, receiverUnreachable, type ExitCode } from '../ops/errors';
import { parseSecretList, signatureSchemeVariable } from '../functions/core/config';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/event';
import { PROVIDERS } from '../functions/core/providers';
import { buildDelivery, sampleTypeFor, sampleTypes } from '../ops/deliveries';
import { LOCAL_DEFAULT_PORTS } from '../ops/local-names';

interface SendOptions {
  url?: string;
  secret?: string;
  id?: string;
  scheme?: string;
  timestampOffset: string;
  body?: string;
  bodyBytes?: string;
  tamper?: boolean;
}

/** The command line of `npm run send --`, without its action: its usage, options and help. */
export function sendProgram(): Command {
  return (
    new Command('npm run send --')
      .description('Sends a correctly signed sample delivery to a running receiver and prints the status and body.')
      .argument('<provider>', PROVIDER_NAMES.join(' | '))
      .argument('<type>', "one of the provider's sample types (see below), or a route one of them maps to")
      .option('--url <url>', `receiver base URL or full endpoint (default http://127.0.0.1:$PORT, PORT=${LOCAL_DEFAULT_PORTS.PORT})`)
      .option('--secret <secret>', 'signing secret (default: first of {PROVIDER}_WEBHOOK_SECRET, else the development secret)')
      .option('--id <id>', 'event id (default: random); send the same id twice to see a duplicate')
      .option('--scheme <name>', 'signature scheme (Together: timestamped | body; default $TOGETHER_SIGNATURE_SCHEME)')
      // A required value takes the next argument even when it starts with a dash: `-400` works.
      .addOption(new Option('--timestamp-offset <seconds>', 'sign as if sent this many seconds from now (e.g. -400 for a stale delivery)').default('0'))
      .option('--body <text>', 'sign and send this text instead of the sample body')
      .option('--body-bytes <n>', 'pad the sample body with whitespace to n bytes')
      .option('--tamper', 'change one byte of the body after signing')
      .addHelpText('after', `\nProviders and sample types:\n${PROVIDER_NAMES.map((name) => `  ${name}: ${sampleTypes(name).join(', ')}`).join('\n')}\n\nExit codes: 0 a 2xx answer, 1 any other answer or none, 2 usage error.`)
      .showHelpAfterError('(run with --help for usage)')
      .exitOverride()
  );
}

async function send(providerName: string, type: string, options: SendOptions, env: NodeJS.ProcessEnv): Promise<ExitCode> {
  if (!(PROVIDER_NAMES as readonly string[]).includes(providerName)) {
    throw new UsageError(`unknown provider "${providerName}"; known: ${PROVIDER_NAMES.join(', ')}`);
  }
  const provider = providerName as ProviderName;
  if (options.body === undefined && sampleTypeFor(provider, type) === undefined) {
    throw new UsageError(`${provider} has no sample of type "${type}"; known: ${sampleTypes(provider).join(', ')}`);
  }
  const offset = Number(options.timestampOffset);
  if (!Number.isInteger(offset)) throw new UsageError(`--timestamp-offset must be a whole number of seconds (e.g. -400); got "${options.timestampOffset}"`);
  const scheme = options.scheme ?? env[signatureSchemeVariable(provider)]?.trim();
  if (scheme !== undefined && scheme !== '' && PROVIDERS[provider].signatureSchemes[scheme] === undefined) {
    throw new UsageError(`${provider} has no signature scheme "${scheme}"; known: ${Object.keys(PROVIDERS[provider].signatureSchemes).join(', ')}`);
  }
  const secret = options.secret ?? parseSecretList(env[PROVIDERS[provider].secretEnv])[0];
  const nowSeconds = Math.floor(Date.now() / 1000) + offset;
  const id = options.id ?? `evt_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  let body: string | undefined = options.body;
  if (options.bodyBytes !== undefined) {
    const size = Number(options.bodyBytes);
    if (!Number.isInteger(size) || size < 0) throw new UsageError(`--body-bytes must be a whole number of bytes; got "${options.bodyBytes}"`);
    const sample = buildDelivery({ provider, type, id, nowSeconds }).body.toString();
    body = sample.slice(0, -1) + ' '.repeat(Math.max(0, size - sample.length)) + '}';
  }
  const delivery = buildDelivery({
    provider,
    type,
    id,
    ...(secret === undefined ? {} : { secret }),
    ...(scheme === undefined || scheme === '' ? {} : { scheme }),
    ...(body === undefined ? {} : { body }),
    nowSeconds,
  });
  const payload = Buffer.from(delivery.body);
  if (options.tamper) payload[payload.length - 2] = (payload[payload.length - 2] ?? 0) ^ 0x01;

  const base = options.url ?? `http://127.0.0.1:${env.PORT?.trim() || LOCAL_DEFAULT_PORTS.PORT}`;
  let url: URL;
  try {
    url = /\/webhooks\//.test(base) ? new URL(base) : new URL(delivery.path, base);
  } catch {
    throw new UsageError(`--url must be a URL such as http://127.0.0.1:3000; got "${base}"`);
  }
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: delivery.headers, body: payload });
  } catch (error) {
    const problem = connectionProblem(error);
    if (problem === undefined) throw error;
    throw receiverUnreachable(url.toString(), problem);
  }
  console.log(`${response.status} ${await response.text()}`);
  return response.ok ? EXIT.ok : EXIT.failure;
}

async function main(argv: readonly string[]): Promise<ExitCode> {
  let code: ExitCode = EXIT.ok;
  const command = sendProgram().action(async (provider: string, type: string, options: SendOptions) => {
    code = await send(provider, type, options, process.env);
  });
  try {
    await command.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    // Commander has printed its own parse errors; --help ends with exit code 0.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return error instanceof UsageError ? EXIT.usage : EXIT.failure;
  }
}

// Run only as the entry point, so that a test can read the command line without sending anything.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
