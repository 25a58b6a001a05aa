import { type Command, Option } from 'commander';
import { EXIT, UsageError, type ExitCode } from '../ops/errors';
import { LOCAL_DEFAULT_PORTS } from '../ops/local-names';
import { SIMULATED_OUTCOMES, SIMULATED_PROVIDERS, type SimulatedOutcome, type SimulatedProvider } from '../ops/simulate-bodies';
import type { Target } from '../ops/target';
import { parseWholeNumber } from '../ops/time';
import { formatJobDetail, printable } from './jobs-format';
import { printJson, printText, type Output } from './output';

/** What `simulate` takes from the program that holds it. */
export interface SimulateCommandDeps {
  readonly output: Output;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: () => number;
  readonly connect: (stack: string | undefined) => Promise<Target>;
  readonly jsonOption: () => Option;
  readonly setCode: (code: ExitCode) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Adds `simulate fine-tune`: one job of a provider, end to end, against the local runtime. */
export function addSimulateCommand(program: Command, deps: SimulateCommandDeps): void {
  const { output, env, clock, connect, setCode } = deps;
  const simulate = program.command('simulate').description('drive a realistic job end to end against the local runtime, as a provider reports it');
  simulate
    .command('fine-tune')
    .description("one fine-tune job: the provider's signed webhooks in order (and its API answered by the local fake), then the job as `jobs show` prints it")
    .addOption(new Option('--provider <provider>', 'whose job').choices(SIMULATED_PROVIDERS).makeOptionMandatory())
    .addOption(new Option('--steps <n>', 'points of the loss curve, 3 to 500').default('12'))
    .addOption(new Option('--outcome <outcome>', 'how the job ends').choices(SIMULATED_OUTCOMES).default('completed'))
    .addOption(new Option('--url <url>', `receiver base URL; default http://127.0.0.1:$PORT (${LOCAL_DEFAULT_PORTS.PORT})`))
    .addOption(new Option('--fake-url <url>', `the fake provider APIs, for OpenAI's job; default http://127.0.0.1:$FAKE_PROVIDERS_PORT (${LOCAL_DEFAULT_PORTS.FAKE_PROVIDERS_PORT})`))
    .addOption(new Option('--wait <seconds>', 'how long to wait for the job to reach its end state').default('60'))
    .addOption(deps.jsonOption())
    .action(async (options: { provider: SimulatedProvider; steps: string; outcome: SimulatedOutcome; url?: string; fakeUrl?: string; wait: string; json?: boolean }) => {
      const steps = parseWholeNumber(options.steps, '--steps', 3, 500);
      const waitMs = parseWholeNumber(options.wait, '--wait', 1, 3_600) * 1000;
      const url = urlOption(options.url ?? `http://127.0.0.1:${env.PORT?.trim() || LOCAL_DEFAULT_PORTS.PORT}`, '--url');
      const fakeUrl = urlOption(options.fakeUrl ?? `http://127.0.0.1:${env.FAKE_PROVIDERS_PORT?.trim() || LOCAL_DEFAULT_PORTS.FAKE_PROVIDERS_PORT}`, '--fake-url');
      // Loaded here: the providers' definitions (zod schemas) and the DynamoDB client it reads the
      // job with cost every other command its start-up.
      const [{ parseSecretList }, { PROVIDERS }, { simulateFineTune }] = await Promise.all([
        import('../functions/core/config'),
        import('../functions/core/providers'),
        import('../ops/simulate'),
      ]);
      const { secretEnv } = PROVIDERS[options.provider];
      const secret = parseSecretList(env[secretEnv], secretEnv)[0];
      const target = await connect(undefined);
      const result = await simulateFineTune(
        {
          provider: options.provider,
          steps,
          outcome: options.outcome,
          url,
          fakeUrl,
          ...(secret === undefined ? {} : { secret }),
          onDelivery: (delivery) => {
            if (!options.json) printText(output, `--> ${delivery.status} ${options.provider}#${printable(delivery.id)}\n`);
          },
        },
        {
          jobs: {
            documents: target.documents,
            tableName: target.jobsTable,
            ...(target.jobHistoryTable === undefined ? {} : { historyTableName: target.jobHistoryTable }),
            where: target.description,
          },
          clock,
          sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
          waitMs,
        },
      );
      if (options.json) printJson(output, result);
      else if (result.job !== undefined) printText(output, `\n${formatJobDetail(result.job)}`);
      if (!result.reached) {
        const seen = result.job?.state === undefined ? 'no job yet' : `the job is ${result.job.state}`;
        output.stderr.write(`error: ${printable(result.key)} did not reach ${result.expectedState ?? 'its end'} within ${waitMs / 1000} s (${seen}); are the consumers running (\`npm start\`)? see \`webhooks status\`\n`);
      }
      setCode(result.reached ? EXIT.ok : EXIT.failure);
    });
}

function urlOption(value: string, option: string): string {
  try {
    new URL(value);
  } catch {
    throw new UsageError(`${option} must be a URL such as http://127.0.0.1:3000; got "${value}"`);
  }
  return value;
}
