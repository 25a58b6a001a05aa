import { type Command, InvalidArgumentError, Option } from 'commander';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/provider-names';
import { LISTENER_QUEUE_SETTINGS } from '../functions/core/listeners';
import { ROUTES, isRoute, type Route } from '../functions/core/routes';
import { CliError, EXIT, UsageError, type ExitCode } from '../ops/errors';
import type { ListenDeps, ListenLine } from '../ops/listen';
import type { Target } from '../ops/target';
import { printText, terminalJson, type Output } from './output';

/** What `webhooks listen` takes from the program that holds it. */
export interface ListenCommandDeps {
  readonly output: Output;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly connect: (stack: string | undefined) => Promise<Target>;
  readonly jsonOption: () => Option;
  readonly stackOption: () => Option;
  readonly setCode: (code: ExitCode) => void;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Stops listening; default on SIGINT or SIGTERM. */
  readonly listenUntil?: AbortSignal;
  /** Passed to the loop (tests shorten the long poll and the backoff). */
  readonly listenTuning?: Pick<ListenDeps, 'waitTimeSeconds' | 'retryDelaySeconds' | 'reconnectDelayMs'>;
}

interface ListenOptions {
  forwardTo?: string;
  stack?: string;
  listener?: string;
  route: string[];
  provider: string[];
  printSecret?: boolean;
  replay: string[];
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function collectProvider(value: string, previous: string[]): string[] {
  if (!(PROVIDER_NAMES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`${value} is not a provider; known: ${PROVIDER_NAMES.join(', ')}`);
  }
  return [...previous, value];
}

/** Adds `webhooks listen` to the program. */
export function addListenCommand(program: Command, deps: ListenCommandDeps): void {
  const { output, clock, connect } = deps;
  program
    .command('listen')
    .description(
      "forward the events of a listener queue to your endpoint, each a POST of the normalized event JSON signed with Standard Webhooks (webhook-id = the event key); events that arrived while nothing listened come first. " +
        'A 2xx deletes the event; any other answer retries it with backoff, and after ' +
        `${LISTENER_QUEUE_SETTINGS.maxReceiveCount} tries it goes to the listener's dead-letter queue; an endpoint that does not answer at all holds the event until it is back. ` +
        'Events of other routes or providers than --route/--provider are deleted without being forwarded. Reconnects by itself after sleep or a network loss; Ctrl-C stops',
    )
    .addOption(new Option('--forward-to <url>', 'your endpoint, e.g. http://localhost:8080/hooks'))
    .addOption(new Option('--listener <name>', "the stack's listener (its -c listeners= name); default: the only one (locally: local)"))
    .addOption(new Option('--route <route>', `only this canonical route (repeat for more): ${ROUTES.join(', ')}`).argParser(collect).default([], 'every route'))
    .addOption(
      new Option('--provider <provider>', `only this provider (repeat for more): ${PROVIDER_NAMES.join(', ')}`).argParser(collectProvider).default([], 'every provider'),
    )
    .option('--print-secret', "print the listener's signing secret (whsec_…), for your handler's Standard Webhooks verifier")
    .addOption(new Option('--replay <key>', "put a stored event (<provider>#<eventId>) on this listener's queue only: no route consumer runs again (repeatable)").argParser(collect).default([], 'none'))
    .addOption(deps.jsonOption())
    .addOption(deps.stackOption())
    .action(async (options: ListenOptions) => {
      const routes = options.route.map((route) => {
        if (!isRoute(route)) throw new UsageError(`--route ${route} is not a canonical route; known: ${ROUTES.join(', ')}`);
        return route;
      });
      const forwardTo = options.forwardTo === undefined ? undefined : endpointUrl(options.forwardTo);
      // Loaded here: the SQS and DynamoDB clients they bring cost every other command its start-up.
      const [{ parseEventKey }, { listen, readStoredEvent, replayToListener }] = await Promise.all([import('./reads'), import('../ops/listen')]);
      const replayKeys = options.replay.map((key) => parseEventKey(key).key);
      if (forwardTo === undefined && replayKeys.length === 0 && options.printSecret !== true) {
        throw new UsageError('give --forward-to <url> (or --replay <key>, or --print-secret)');
      }
      const target = await connect(options.stack);
      if (target.listener === undefined) throw new CliError(`${target.description} has no listener queues`);
      const listener = await target.listener(options.listener);
      const line = (value: ListenLine) => write(output, value, options.json === true, clock);
      const events = { documents: target.documents, tableName: target.eventsTable, where: target.description };
      const secret = options.printSecret === true || forwardTo !== undefined ? await listener.secret() : undefined;
      if (options.printSecret === true) {
        if (options.json) output.stdout.write(`${terminalJson({ kind: 'secret', listener: listener.name, secret })}\n`);
        else printText(output, `${secret}\n`);
      }
      for (const key of replayKeys) {
        const event = await replayToListener({ ...events, sqs: listener.sqs, queueUrl: listener.queueUrl, clock }, key);
        const replayed = { kind: 'replayed', key, type: event.type, listener: listener.name } as const;
        if (options.json) output.stdout.write(`${terminalJson(replayed)}\n`);
        else printText(output, `replayed ${key} (${event.type}) to listener ${listener.name} only\n`);
      }
      if (forwardTo === undefined || secret === undefined) {
        deps.setCode(EXIT.ok);
        return;
      }
      const until = deps.listenUntil ?? stopOnSignal(output);
      await listen({
        sqs: listener.sqs,
        listener: listener.name,
        queueUrl: listener.queueUrl,
        secret,
        forwardTo,
        filter: { routes: routes as Route[], providers: options.provider as ProviderName[] },
        readEvent: (key) => readStoredEvent(events, key),
        onLine: line,
        clock,
        signal: until,
        ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
        ...(deps.sleep === undefined ? {} : { sleep: deps.sleep }),
        ...deps.listenTuning,
      });
      deps.setCode(EXIT.ok);
    });
}

function endpointUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--forward-to ${value} is not a URL: give one like http://localhost:8080/hooks`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--forward-to must be an http or https URL, got ${value}`);
  return url.toString();
}

/**
 * Aborts on the first SIGINT or SIGTERM: the loop ends once the receive in progress returns (up to
 * its long poll) and gives back what it brought. A second one quits at once.
 */
function stopOnSignal(output: Output): AbortSignal {
  const controller = new AbortController();
  const stop = () => {
    if (controller.signal.aborted) process.exit(EXIT.failure);
    controller.abort();
    output.stderr.write(`stopping after the receive in progress (up to ${LISTENER_QUEUE_SETTINGS.waitTimeSeconds} s); press Ctrl-C again to quit now\n`);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return controller.signal;
}

/** One line of text, or one JSON object, per {@link ListenLine}. */
function write(output: Output, line: ListenLine, json: boolean, clock: () => number): void {
  if (json) {
    output.stdout.write(`${terminalJson({ at: new Date(clock()).toISOString(), ...line })}\n`);
    return;
  }
  printText(output, `${formatListenLine(line)}\n`);
}

/** The text form of a listen line: `--> fine_tune.completed together#evt_1`, `<-- 200 POST /hooks 12 ms`. */
export function formatListenLine(line: ListenLine): string {
  switch (line.kind) {
    case 'listening':
      return `listening on listener ${line.listener}, forwarding to ${line.forwardTo} (Ctrl-C to stop)`;
    case 'forward':
      return `--> ${line.type} ${line.key}${line.attempt > 1 ? ` (attempt ${line.attempt})` : ''}`;
    case 'answer':
      return line.status === 0 ? `<-- no answer POST ${line.path} ${line.ms} ms` : `<-- ${line.status} POST ${line.path} ${line.ms} ms`;
    case 'retry':
      return `    ${line.key} ${line.reason}: retried in ${line.inSeconds} s (attempt ${line.attempt} of ${LISTENER_QUEUE_SETTINGS.maxReceiveCount}, then the dead-letter queue)`;
    case 'skipped':
      return `--- ${line.type} ${line.key} skipped (not in --route/--provider), deleted`;
    case 'unreadable':
      return `!!! message ${line.messageId} unreadable (${line.reason}): left for the dead-letter queue`;
    case 'endpoint_down':
      return `!!! ${line.url} does not answer (${line.reason}): holding the event, retrying until it is back`;
    case 'endpoint_back':
      return `${line.url} answers again`;
    case 'queue_lost':
      return `!!! lost the listener queue (${line.reason}): reconnecting by itself`;
    case 'queue_back':
      return `reconnected to the listener queue after ${line.afterSeconds} s`;
    case 'error':
      return `!!! ${line.key}: ${line.reason} (the event comes back after its visibility timeout)`;
  }
}
