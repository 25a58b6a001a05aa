import { type Command, Option } from 'commander';
import { ROUTES, isRoute, type Route } from '../functions/core/routes';
import { EXIT, UsageError, type ExitCode } from '../ops/errors';
import { formatTable, printJson, printText, progressStarter, type Progress, type Output } from './output';
import type { Target } from '../ops/target';
import { parseWholeNumber } from '../ops/time';

/** What the dead-letter commands take from the program that holds them. */
export interface DlqCommandDeps {
  readonly output: Output;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly connect: (stack: string | undefined) => Promise<Target>;
  /** The program's shared `--json` and `--stack` options. */
  readonly jsonOption: () => Option;
  readonly stackOption: () => Option;
  /** Receives each command's exit code. */
  readonly setCode: (code: ExitCode) => void;
  /** Waits between move-task status checks. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Adds `dlq list` and `dlq redrive` to the program. */
export function addDlqCommands(program: Command, deps: DlqCommandDeps): void {
  const { output, clock, connect, jsonOption, stackOption, setCode, sleep } = deps;
  const print = (text: string) => printText(output, text);
  const dlq = program.command('dlq').description("inspect and redrive the routes' dead-letter queues");

  dlq
    .command('list')
    .description('dead letters per route, with a peek at a few (ids and types only; nothing is consumed)')
    .argument('[route]', 'only this canonical route')
    .addOption(
      new Option(
        '--peek <n>',
        "dead letters to peek at per route (0-10); each peek is an SQS receive, so it raises the peeked message's receive count (SQS has no read without one); 0 shows depths only",
      ).default('3'),
    )
    .option('--all-routes', 'list empty routes too')
    .addOption(jsonOption())
    .addOption(stackOption())
    .action(async (route: string | undefined, options: { stack?: string } & { peek: string; allRoutes?: boolean; json?: boolean }) => {
      // Loaded by the commands that use it, so that `webhooks --help` loads no SDK client.
      const { listDeadLetters } = await import('../ops/dlq');
      const routes = route === undefined ? ROUTES : [parseRoute(route)];
      const peek = parseWholeNumber(options.peek, '--peek', 0, 10);
      const target = await connect(options.stack);
      const reports = await listDeadLetters({ sqs: target.sqs, queues: await target.queues() }, routes, peek);
      if (options.json) {
        printJson(output, reports);
        return;
      }
      const total = reports.reduce((sum, report) => sum + report.depth.visible + report.depth.inFlight, 0);
      const shown = route !== undefined || options.allRoutes ? reports : reports.filter((report) => report.depth.visible + report.depth.inFlight > 0);
      const lines = [`${total} dead letter${total === 1 ? '' : 's'} in ${target.description}`];
      for (const report of shown) {
        lines.push('', `${report.route}: ${report.depth.visible} waiting${report.depth.inFlight > 0 ? `, ${report.depth.inFlight} in flight` : ''}`);
        if (report.peek.length > 0) {
          lines.push(
            formatTable(
              ['  MESSAGE ID', 'KEY', 'TYPE', 'SENT', 'RECEIVES'],
              report.peek.map((letter) => [`  ${letter.messageId}`, letter.key, letter.type, letter.sentAt, letter.receiveCount]),
            ).trimEnd(),
          );
        }
      }
      if (total > 0) lines.push('', 'move them back with `webhooks dlq redrive <route>` or `webhooks dlq redrive --all`');
      print(`${lines.join('\n')}\n`);
    });

  dlq
    .command('redrive')
    .description("move dead letters back to their route's queue (AWS: StartMessageMoveTask; locally: receive, send, delete)")
    .argument('[route]', 'the canonical route whose dead letters to move')
    .option('--all', 'every route with dead letters')
    .option('--no-wait', 'AWS: return once the move tasks have started')
    .addOption(jsonOption())
    .addOption(stackOption())
    .action(async (route: string | undefined, options: { stack?: string } & { all?: boolean; wait: boolean; json?: boolean }) => {
      const { redriveWaiting } = await import('../ops/dlq');
      if ((route === undefined) === (options.all !== true)) {
        throw new UsageError('name one route (e.g. `webhooks dlq redrive fine_tune.completed`) or pass --all, not both or neither');
      }
      const target = await connect(options.stack);
      const queues = await target.queues();
      const candidates = route === undefined ? ROUTES : [parseRoute(route)];
      const startProgress = await progressStarter(output);
      let progress: Progress | undefined;
      const movedSoFar = new Map<Route, number>();
      const onProgress = (done: Route, moved: number) => {
        movedSoFar.set(done, moved);
        progress?.update([...movedSoFar.values()].reduce((sum, count) => sum + count, 0));
      };
      let outcome: Awaited<ReturnType<typeof redriveWaiting>>;
      try {
        outcome = await redriveWaiting(
          {
            kind: target.kind,
            sqs: target.sqs,
            queues,
            onProgress,
            records: { documents: target.documents, tableName: target.eventsTable, clock },
            noWait: !options.wait,
            onTotal: (total) => (progress = startProgress('redrive', total)),
            ...(sleep ? { sleep } : {}),
          },
          candidates,
        );
      } finally {
        progress?.stop();
      }
      const { routes, results } = outcome;
      const moved = results.reduce((sum, result) => sum + result.moved, 0);
      const failed = results.reduce((sum, result) => sum + result.failed, 0);
      if (options.json) printJson(output, { moved, failed, routes: results });
      else {
        const lines = results.map(
          (result) =>
            `${result.route}: ${result.taskHandle !== undefined && result.status === 'RUNNING' ? 'move task started' : `moved ${result.moved}`}` +
            `${result.failed > 0 ? `, ${result.failed} could not be sent (still dead-lettered)` : ''}`,
        );
        print(`${lines.map((line) => `${line}\n`).join('')}${routes.length === 0 ? 'no dead letters to move\n' : `moved ${moved} dead letter${moved === 1 ? '' : 's'} back to their queues\n`}`);
      }
      setCode(failed === 0 ? EXIT.ok : EXIT.failure);
    });
}

function parseRoute(value: string): Route {
  if (!isRoute(value)) throw new UsageError(`"${value}" is not a route; routes: ${ROUTES.join(', ')}`);
  return value;
}
