import { Command, CommanderError, Option } from 'commander';
import { PROVIDER_NAMES } from '../functions/core/provider-names';
import { DEFAULT_STACK_NAME } from '../functions/core/stack-outputs';
import { addDlqCommands } from './dlq-commands';
import { CliError, EXIT, UsageError, connectionError, errorJson, type ExitCode } from '../ops/errors';
import type { EventsDeps } from '../ops/events';
import { addJobsCommands } from './jobs-commands';
import { addListenCommand, type ListenCommandDeps } from './listen-command';
import { escapeControl, printJson, printText, startProgress, terminalJson, type Output } from './output';
import { addRegisterTogether } from './register-command';
import { addSendCommand, loadSampleTypesHelp } from './send-command';
import { addSimulateCommand } from './simulate-command';
import type { ReplayOutcome } from '../ops/replay';
import type { Target } from '../ops/target';
import { DEFAULT_SINCE, daysNewestFirst, parseSince, parseWholeNumber } from '../ops/time';

type Env = Readonly<Record<string, string | undefined>>;

/** Everything a command touches outside itself, injectable for tests. */
export interface CliDeps {
  readonly output: Output;
  readonly env: Env;
  /** Epoch milliseconds. */
  readonly clock?: () => number;
  /** The target of a run: the local runtime, or the stack named by `--stack`. */
  readonly connect?: (stack: string | undefined) => Promise<Target>;
  readonly fetch?: typeof fetch;
  /** Waits between move-task status checks. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** All of stdin, for `--secret-stdin`; default the process's. */
  readonly readStdin?: () => Promise<string>;
  /** Stops `webhooks listen`; default on SIGINT or SIGTERM. */
  readonly listenUntil?: AbortSignal;
  /** `webhooks listen`'s long poll and backoff (tests shorten them). */
  readonly listenTuning?: ListenCommandDeps['listenTuning'];
  /** Commands the entry point adds: `webhooks console`, which the console face defines (local/webhooks.ts). */
  readonly commands?: readonly AddCommand[];
}

/** What every command of the program shares, handed to the commands an entry point adds. */
export interface CommandContext {
  readonly output: Output;
  readonly env: Env;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly connect: (stack: string | undefined) => Promise<Target>;
  readonly stackOption: () => Option;
  readonly jsonOption: () => Option;
}

/** Adds a command to the program, after `status` and before `register`. */
export type AddCommand = (program: Command, context: CommandContext) => void;

interface TargetOptions {
  stack?: string;
}

/**
 * Runs the `webhooks` command line (arguments after the program name) and resolves with its exit
 * code: 0 ok, 1 a failure or an unhealthy result, 2 a usage error. Never exits the process.
 */
export async function run(argv: readonly string[], deps: CliDeps): Promise<ExitCode> {
  let code: ExitCode = EXIT.ok;
  // Known before parsing, so that a parse error is JSON too.
  const json = wantsJson(argv);
  const sampleTypesHelp = (argv[0] === 'help' ? argv[1] : argv[0]) === 'send' ? await loadSampleTypesHelp() : undefined;
  const program = buildProgram(deps, (next) => (code = next), { json, ...(sampleTypesHelp === undefined ? {} : { sampleTypesHelp }) });
  const fail = (exit: ExitCode, error: { reason: string; hint?: string | undefined }, text: string) => {
    deps.output.stderr.write(json ? `${terminalJson(errorJson(error))}\n` : `error: ${escapeControl(text, { keepNewlines: true })}\n`);
    return exit;
  };
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with exit code 0; every other parse failure is a usage error,
      // which commander has printed already unless the output is JSON.
      if (error.exitCode === 0) return EXIT.ok;
      if (json) fail(EXIT.usage, { reason: error.message.replace(/^error: /, ''), hint: USAGE_HINT }, error.message);
      return EXIT.usage;
    }
    if (error instanceof UsageError) return fail(EXIT.usage, { reason: error.reason, hint: error.hint ?? USAGE_HINT }, error.message);
    if (error instanceof CliError) return fail(EXIT.failure, error, error.message);
    const explained = connectionError(error, 'the target') ?? { reason: String(error), hint: 'rerun with WEBHOOKS_DEBUG=1 for the stack trace' };
    fail(EXIT.failure, explained, 'message' in explained ? explained.message : explained.reason);
    if (deps.env.WEBHOOKS_DEBUG === '1' && error instanceof Error && error.stack) deps.output.stderr.write(`${error.stack}\n`);
    return EXIT.failure;
  }
}

const USAGE_HINT = 'run the command with --help for usage';

/** Whether `--json` is among the options (before any `--`). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * The commander program; `setCode` receives each command's exit code; `json`: errors are printed by
 * run() as JSON; `sampleTypesHelp`: the sample types `send`'s help lists (see `loadSampleTypesHelp`).
 */
export function buildProgram(deps: CliDeps, setCode: (code: ExitCode) => void, options: { json?: boolean; sampleTypesHelp?: string } = {}): Command {
  const { output, env } = deps;
  const clock = deps.clock ?? Date.now;
  // The AWS SDK, the reads and the formatting are loaded by the commands that use them (here and
  // in the other command files), so that `webhooks --help` starts without them; the reads, their
  // formatting and the target in one module (cli/reads.ts).
  const reads = () => import('./reads');
  const connect =
    deps.connect ??
    (async (stack: string | undefined) => {
      const { localTarget, stackTarget } = await reads();
      return stack === undefined ? localTarget(env) : stackTarget(stack, env);
    });
  const print = (text: string) => printText(output, text);

  const program = new Command('webhooks')
    .description(
      'Operate the webhook receiver: list and replay events, follow jobs and batches, inspect and redrive dead letters, send test bursts, check health, register with Together.\n' +
        'Works against the local runtime of `npm start` by default, or a deployed stack with --stack <name>.',
    )
    .exitOverride()
    // With --json, run() prints a parse error as JSON instead of commander's text.
    .configureOutput({ writeOut: (text) => output.stdout.write(text), writeErr: (text) => (options.json ? undefined : output.stderr.write(text)) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 failure or unhealthy, 2 usage error. With --json, an error is one JSON line on stderr: {"error": …, "hint": …}.\n' +
        `Local target: DynamoDB 127.0.0.1:$DYNAMODB_PORT (8000), SQS 127.0.0.1:$SQS_PORT (4566). AWS target: --stack ${DEFAULT_STACK_NAME} with AWS_PROFILE / AWS_REGION.`,
    );

  const stackOption = () =>
    new Option('--stack <name>', `read a deployed stack's outputs (e.g. ${DEFAULT_STACK_NAME}) and work against AWS; default: the local runtime`);
  const jsonOption = () => new Option('--json', 'print JSON instead of text');
  const sinceOption = (what: string) =>
    new Option('--since <duration|iso>', `${what} received since then: 30m, 24h, 7d, or an ISO date/time`).default(DEFAULT_SINCE);

  const eventsDeps = (target: Target): EventsDeps => ({ documents: target.documents, tableName: target.eventsTable, where: target.description });

  // events ------------------------------------------------------------------------------------
  const eventsCommand = program.command('events').description('list and inspect event records');

  eventsCommand
    .command('list')
    .description('events received in a time window, newest first (one index query per day, never a scan)')
    .addOption(new Option('--provider <provider>', 'only this provider').choices(PROVIDER_NAMES))
    .addOption(new Option('--type <route>', 'only this canonical route (e.g. fine_tune.completed)'))
    .addOption(new Option('--status <status>', 'only this status: in_progress, queued, handling, handled, failed'))
    .addOption(sinceOption('events'))
    .addOption(new Option('--limit <n>', 'at most this many').default('50'))
    .addOption(jsonOption())
    .addOption(stackOption())
    .action(async (options: TargetOptions & { provider?: string; type?: string; status?: string; since: string; limit: string; json?: boolean }) => {
      const { listEvents, parseEventFilter, formatEventList } = await reads();
      const nowMs = clock();
      const filter = parseEventFilter(options);
      const window = { sinceMs: parseSince(options.since, nowMs), nowMs };
      const limit = parseWholeNumber(options.limit, '--limit', 1, 100_000);
      const target = await connect(options.stack);
      const progress = await startProgress(output, 'days', daysNewestFirst(window.sinceMs, nowMs).length);
      const found = await listEvents(eventsDeps(target), window, filter, limit, () => progress.increment()).finally(() => progress.stop());
      if (options.json) printJson(output, found);
      else print(formatEventList(found));
    });

  eventsCommand
    .command('show')
    .description('one event record: status, times, attempts, last error, replays')
    .argument('<key>', "the event key, <provider>#<eventId> (quote it: 'together#evt_123')")
    .option('--payload', 'also print the stored normalized event (may hold customer data)')
    .addOption(jsonOption())
    .addOption(stackOption())
    .action(async (key: string, options: TargetOptions & { json?: boolean; payload?: boolean }) => {
      const { eventForJson, getEvent, parseEventKey, publishedForJson, readPublished, withRecordEvent, formatEventDetail, formatPublished } = await reads();
      parseEventKey(key);
      const target = await connect(options.stack);
      const stored = await getEvent(eventsDeps(target), key);
      if (stored === undefined) throw new CliError(`no event ${key} in ${target.description} (expired, or a wrong key? see \`webhooks events list\`)`);
      const withPayload = options.payload === true;
      // The payload is read (and unpacked) only when it is shown.
      const record = withPayload ? await withRecordEvent(eventsDeps(target), stored) : stored;
      // Locally, what the stand-in bus published for the event.
      const published = target.busTable === undefined ? undefined : { found: await readPublished(eventsDeps(target), target.busTable, key) };
      if (options.json) {
        const bus = published?.found === undefined ? {} : { published: publishedForJson(published.found, withPayload) };
        printJson(output, { ...eventForJson(record, withPayload), ...bus });
      } else {
        print(formatEventDetail(record, withPayload) + (published === undefined ? '' : formatPublished(published.found, withPayload)));
      }
    });

  // jobs --------------------------------------------------------------------------------------
  addJobsCommands(program, { output, clock, connect, jsonOption, stackOption });

  // replay ------------------------------------------------------------------------------------
  program
    .command('replay')
    .description("send events to their route's queue again: status back to queued, replayCount + 1 (refused while in_progress or handling, unless --force)")
    .argument('[keys...]', "event keys, <provider>#<eventId> (quote them: 'together#evt_123')")
    .addOption(new Option('--status <status>', 'replay every event with this status in the window instead (usually failed)'))
    .addOption(new Option('--provider <provider>', 'with --status: only this provider').choices(PROVIDER_NAMES))
    .addOption(new Option('--type <route>', 'with --status: only this canonical route'))
    .addOption(sinceOption('with --status: events'))
    .option('--dry-run', 'print what would be replayed and change nothing')
    .option('--force', 'also replay in_progress and handling events whose lease expired over 5 minutes ago by this clock (their holder died)')
    .addOption(jsonOption())
    .addOption(stackOption())
    .action(
      async (
        keys: string[],
        options: TargetOptions & { status?: string; provider?: string; type?: string; since: string; dryRun?: boolean; force?: boolean; json?: boolean },
      ) => {
        if ((keys.length > 0) === (options.status !== undefined)) {
          throw new UsageError('give event keys or --status <status> (e.g. `webhooks replay --status failed --since 7d`), not both or neither');
        }
        const [{ eventsInWindow, parseEventFilter, parseEventKey }, { describeReplay, replayMany }] = await Promise.all([reads(), import('../ops/replay')]);
        keys.forEach(parseEventKey);
        const target = await connect(options.stack);
        let selected = keys;
        const filter = options.status === undefined ? undefined : parseEventFilter(options);
        if (filter !== undefined) {
          const nowMs = clock();
          selected = [];
          for await (const event of eventsInWindow(eventsDeps(target), { sinceMs: parseSince(options.since, nowMs), nowMs }, filter)) {
            selected.push(event.pk);
          }
        }
        if (options.dryRun) {
          if (options.json) printJson(output, { dryRun: true, keys: selected });
          else print(selected.length === 0 ? 'nothing to replay\n' : `would replay ${selected.length}:\n${selected.map((key) => `  ${escapeControl(key)}\n`).join('')}`);
          return;
        }
        const queues = await target.queues();
        const progress = await startProgress(output, 'replay', selected.length);
        const outcomes: ReplayOutcome[] = await replayMany(
          {
            ...eventsDeps(target),
            sqs: target.sqs,
            queues,
            clock,
            force: options.force === true,
            ...(filter?.status === undefined ? {} : { selectedStatus: filter.status }),
          },
          selected,
          () => progress.increment(),
        ).finally(() => progress.stop());
        const replayed = outcomes.filter((outcome) => outcome.result === 'replayed').length;
        // An event that left the selected status needs no replay: not a failure.
        const movedOn = outcomes.filter((outcome) => outcome.result === 'moved_on').length;
        if (options.json) printJson(output, { replayed, movedOn, total: outcomes.length, outcomes });
        else print(`${outcomes.map((outcome) => `${escapeControl(describeReplay(outcome))}\n`).join('')}replayed ${replayed} of ${outcomes.length}${movedOn === 0 ? '' : `, ${movedOn} moved on`}\n`);
        setCode(replayed + movedOn === outcomes.length ? EXIT.ok : EXIT.failure);
      },
    );

  addDlqCommands(program, { output, clock, connect, jsonOption, stackOption, setCode, ...(deps.sleep ? { sleep: deps.sleep } : {}) });
  addListenCommand(program, {
    output,
    clock,
    connect,
    jsonOption,
    stackOption,
    setCode,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.listenUntil ? { listenUntil: deps.listenUntil } : {}),
    ...(deps.listenTuning ? { listenTuning: deps.listenTuning } : {}),
  });

  addSendCommand(program, { output, env, clock, connect, jsonOption, stackOption, setCode, ...(options.sampleTypesHelp === undefined ? {} : { sampleTypesHelp: options.sampleTypesHelp }) });
  addSimulateCommand(program, { output, env, clock, connect, jsonOption, setCode, ...(deps.sleep ? { sleep: deps.sleep } : {}) });

  // status ------------------------------------------------------------------------------------
  program
    .command('status')
    .description('queue and dead-letter depth per route, and recent events by status; exit 1 when any dead-letter queue holds a message')
    .addOption(sinceOption('count events'))
    .addOption(jsonOption())
    .addOption(stackOption())
    .action(async (options: TargetOptions & { since: string; json?: boolean }) => {
      const [{ collectStatus }, { createPollerStateStore }, { formatStatus }] = await Promise.all([import('../ops/status'), import('../functions/poller/state'), reads()]);
      const nowMs = clock();
      const window = { sinceMs: parseSince(options.since, nowMs), nowMs };
      const target = await connect(options.stack);
      const report = await collectStatus(
        {
          sqs: target.sqs,
          queues: await target.queues(),
          events: eventsDeps(target),
          target: target.description,
          ...(target.pollerTable === undefined ? {} : { poller: createPollerStateStore(target.documents, target.pollerTable) }),
        },
        window,
      );
      if (options.json) printJson(output, report);
      else print(formatStatus(report));
      setCode(report.healthy ? EXIT.ok : EXIT.failure);
    });

  // the entry point's commands (console) --------------------------------------------------------
  for (const add of deps.commands ?? []) add(program, { output, env, clock, connect, stackOption, jsonOption });

  // register ----------------------------------------------------------------------------------
  const register = program.command('register').description("register the receiver's URL with a provider's API");

  addRegisterTogether(register, { output, env, print, connect, jsonOption, stackOption, fetch: deps.fetch ?? fetch, ...(deps.readStdin ? { readStdin: deps.readStdin } : {}) });

  return program;
}
