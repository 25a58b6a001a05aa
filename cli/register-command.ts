import { Option, type Command } from 'commander';
import { UsageError } from '../ops/errors';
import { printJson, type Output } from './output';
import type { SecretSource } from '../ops/register';
import { DEFAULT_TOGETHER_API_BASE_URL, TOGETHER_PUSH_UNDOCUMENTED, TOGETHER_WEBHOOK_EVENTS } from '../ops/together-push';
import type { Target } from '../ops/target';

/** What `register together` needs of the program around it. */
export interface RegisterContext {
  readonly output: Output;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Writes human-readable text (escaped). */
  readonly print: (text: string) => void;
  readonly connect: (stack: string | undefined) => Promise<Target>;
  readonly jsonOption: () => Option;
  readonly stackOption: () => Option;
  readonly fetch: typeof fetch;
  /** All of stdin, for `--secret-stdin`; default the process's. */
  readonly readStdin?: () => Promise<string>;
}

interface TogetherOptions {
  stack?: string;
  url?: string;
  events: string;
  secret?: string;
  secretStdin?: boolean;
  secretFile?: string;
  json?: boolean;
}

/** Adds `register together` to the `register` command. */
export function addRegisterTogether(register: Command, ctx: RegisterContext): void {
  register
    .command('together')
    .description(
      `POST {TOGETHER_API_BASE_URL}/webhooks (default ${DEFAULT_TOGETHER_API_BASE_URL}), an endpoint Together does not document, with TOGETHER_API_KEY and a fresh signing secret, then print the secret once with the commands that store it; for Together's documented API use the poller instead`,
    )
    .addOption(new Option('--url <url>', "the receiver's Together URL (https://…/webhooks/together); default with --stack: its WebhookUrlTogether output"))
    .addOption(new Option('--events <names>', 'comma-separated event names').default(TOGETHER_WEBHOOK_EVENTS.join(',')))
    .option('--secret-stdin', 'register the secret read from stdin instead of a fresh one (e.g. `webhooks register together --secret-stdin < secret.txt`)')
    .addOption(new Option('--secret-file <path>', 'register the secret in this file instead of a fresh one').conflicts('secretStdin'))
    // Refused: a secret on the command line stays in the shell's history and shows in `ps`.
    .addOption(new Option('--secret <secret>').hideHelp())
    .addOption(ctx.jsonOption())
    .addOption(ctx.stackOption())
    .addHelpText('after', `\n${TOGETHER_PUSH_UNDOCUMENTED}\n\nThe API base URL and --url must be https:// (plain http only to 127.0.0.1, ::1 or localhost).`)
    .action(async (options: TogetherOptions) => {
      if (options.secret !== undefined) {
        throw new UsageError('--secret is not accepted: a secret on the command line stays in your shell history and shows in `ps`', {
          hint: 'pass it on stdin with --secret-stdin (e.g. `< secret.txt`) or from a file with --secret-file PATH, or leave both out for a fresh one',
        });
      }
      const events = options.events
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '');
      if (events.length === 0) throw new UsageError('--events must name at least one event, e.g. fine_tune.completed,fine_tune.failed');
      // Loaded here: its secrets and signatures need node:crypto, which the help of the CLI does not.
      const { checkSuppliedSecret, registerTogether, storeSecretInstructions } = await import('../ops/register');
      const source: SecretSource = options.secretFile !== undefined ? { kind: 'file', path: options.secretFile } : options.secretStdin ? { kind: 'stdin' } : { kind: 'shown' };
      const supplied = await readSuppliedSecret(source, checkSuppliedSecret, ctx.readStdin);
      const target = options.stack === undefined ? undefined : await ctx.connect(options.stack);
      const url = options.url ?? target?.webhookUrls.together;
      if (url === undefined) {
        throw new UsageError(
          target === undefined
            ? "--url is required: the receiver's public Together URL (https://…/webhooks/together), or pass --stack to use its WebhookUrlTogether output"
            : `${target.description} has no WebhookUrlTogether output: is Together enabled there? Pass --url`,
        );
      }
      const registration = await registerTogether({ url, events, ...(supplied === undefined ? {} : { secret: supplied }) }, ctx.env, ctx.fetch);
      const secretArn = target?.secretArns.together;
      // A secret the user supplied is not echoed; one made here or by Together is shown once.
      const shown = supplied === undefined || registration.secretFromApi;
      if (options.json) {
        const { secret, ...rest } = registration;
        printJson(ctx.output, { ...rest, ...(shown ? { secret } : {}), url, ...(secretArn === undefined ? {} : { secretArn }) });
        return;
      }
      ctx.print(
        [
          `registered ${url} with Together${registration.id === undefined ? '' : ` (webhook ${registration.id})`} for ${events.join(', ')}`,
          '',
          shown
            ? `signing secret${registration.secretFromApi ? ' (chosen by Together)' : ''}: ${registration.secret}`
            : `signing secret: the one from ${source.kind === 'file' ? source.path : 'stdin'} (not shown)`,
          '',
          storeSecretInstructions(shown ? { kind: 'shown' } : source, secretArn),
          '',
          TOGETHER_PUSH_UNDOCUMENTED,
          '',
        ].join('\n'),
      );
    });
}

/** The secret of `--secret-stdin` / `--secret-file`, checked; undefined for a fresh one. */
async function readSuppliedSecret(
  source: SecretSource,
  checkSuppliedSecret: (raw: string, source: string) => string,
  readStdin: () => Promise<string> = readProcessStdin,
): Promise<string | undefined> {
  if (source.kind === 'shown') return undefined;
  if (source.kind === 'stdin') return checkSuppliedSecret(await readStdin(), 'stdin');
  let text: string;
  try {
    text = await (await import('node:fs/promises')).readFile(source.path, 'utf8');
  } catch (error) {
    throw new UsageError(`--secret-file ${source.path} cannot be read (${(error as { code?: string }).code ?? String(error)})`);
  }
  return checkSuppliedSecret(text, source.path);
}

async function readProcessStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('paste the signing secret, then Enter and Ctrl-D:\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

