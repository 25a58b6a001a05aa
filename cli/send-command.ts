import { type Command, Option } from 'commander';
import { PROVIDER_NAMES } from '../functions/core/provider-names';
import type { ExitCode } from '../ops/errors';
import { LOCAL_DEFAULT_PORTS } from '../ops/local-names';
import type { Target } from '../ops/target';
import type { Output } from './output';

/** What `send` takes from the program that holds it. */
export interface SendCommandDeps {
  readonly output: Output;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly connect: (stack: string | undefined) => Promise<Target>;
  readonly jsonOption: () => Option;
  readonly stackOption: () => Option;
  readonly setCode: (code: ExitCode) => void;
  /** What `loadSampleTypesHelp` gives, for the help; left out of it when not loaded. */
  readonly sampleTypesHelp?: string;
}

/** `send`'s options as commander parses them. */
export interface SendOptions {
  count: string;
  duplicateRate: string;
  concurrency: string;
  url?: string;
  secret?: string;
  scheme?: string;
  id?: string;
  timestampOffset: string;
  body?: string;
  bodyBytes?: string;
  tamper?: boolean;
  json?: boolean;
  stack?: string;
}

/**
 * Adds `send`: signed sample deliveries to a receiver, one (its answer printed as it came) or a
 * burst (the answers counted). `npm run send --` is this command.
 */
export function addSendCommand(program: Command, deps: SendCommandDeps): void {
  program
    .command('send')
    .description('send signed sample deliveries to the receiver: one, printing its answer, or a burst, counting the answers')
    .argument('<provider>', PROVIDER_NAMES.join(' | '))
    .argument('<type>', "one of the provider's sample types (see below), or a route one of them maps to")
    .addOption(new Option('--count <n>', 'deliveries to send').default('1'))
    .addOption(new Option('--duplicate-rate <r>', 'share of deliveries that resend an earlier event id, 0 to 0.99').default('0'))
    .addOption(new Option('--concurrency <c>', 'deliveries in flight at once').default('8'))
    .addOption(new Option('--url <url>', `receiver base URL or full endpoint; default http://127.0.0.1:$PORT (${LOCAL_DEFAULT_PORTS.PORT}), or the stack's WebhookUrl<Provider>`))
    .addOption(new Option('--secret <secret>', 'signing secret; default the first of {PROVIDER}_WEBHOOK_SECRET, else (locally) the development secret'))
    .addOption(new Option('--scheme <name>', 'signature scheme (Together: timestamped | body); default {PROVIDER}_SIGNATURE_SCHEME'))
    .addOption(new Option('--id <id>', 'event id of a single delivery (default: random); send the same id twice to see a duplicate'))
    // A required value takes the next argument even when it starts with a dash: `-400` works.
    .addOption(new Option('--timestamp-offset <seconds>', 'sign as if sent this many seconds from now (e.g. -400 for a stale delivery)').default('0'))
    .addOption(new Option('--body <text>', 'sign and send this text instead of the sample body (a single delivery)'))
    .addOption(new Option('--body-bytes <n>', 'pad the sample body with spaces to n bytes (a single delivery)'))
    .addOption(new Option('--tamper', 'change one byte of the body after signing (a single delivery)'))
    .addOption(deps.jsonOption())
    .addOption(deps.stackOption())
    .addHelpText(
      'after',
      () => `${deps.sampleTypesHelp === undefined ? '' : `\nSample types:\n${deps.sampleTypesHelp}\n`}\nOne delivery prints the answer's status and body; a burst (--count > 1) prints the counts. Exit code 0 when every answer is 2xx.`,
    )
    .action(async (providerName: string, type: string, options: SendOptions) => (await import('./send-action')).sendAction(providerName, type, options, deps));
}

/**
 * The sample types that `send`'s help lists. They come from the providers' definitions (with their
 * zod schemas), which the other commands and `webhooks --help` do without: `run` loads them when
 * the command line names `send` (`webhooks send …`, `webhooks help send`).
 */
export async function loadSampleTypesHelp(): Promise<string> {
  return (await import('./send-action')).sampleTypesHelp();
}
