import { type Command, Option } from 'commander';
import { CliError } from '../ops/errors';
import { DEFAULT_JOBS_SINCE, JOB_KINDS, JOB_STATE_NAMES } from '../ops/job-names';
import type { JobsDeps } from '../ops/jobs';
import { SHOWN_ROWS, formatJobDetail, formatJobList, printable } from './jobs-format';
import { printJson, startProgress, type Output } from './output';
import type { Target } from '../ops/target';
import { daysNewestFirst, parseSince, parseWholeNumber } from '../ops/time';

/** What the jobs commands take from the program that holds them. */
export interface JobsCommandDeps {
  readonly output: Output;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly connect: (stack: string | undefined) => Promise<Target>;
  /** The program's shared `--json` and `--stack` options. */
  readonly jsonOption: () => Option;
  readonly stackOption: () => Option;
}

/** Adds `jobs list` and `jobs show` to the program. */
export function addJobsCommands(program: Command, deps: JobsCommandDeps): void {
  const { output, clock, connect, jsonOption, stackOption } = deps;
  const print = (text: string) => output.stdout.write(text);
  const jobsDeps = (target: Target): JobsDeps => ({
    documents: target.documents,
    tableName: target.jobsTable,
    ...(target.jobHistoryTable === undefined ? {} : { historyTableName: target.jobHistoryTable }),
    where: target.description,
  });
  const jobs = program.command('jobs').description('fine-tune jobs and batches: state, checkpoints and loss, model or output');

  jobs
    .command('list')
    .description('jobs and batches updated in a time window, most recently updated first (one index query per day, never a scan)')
    .addOption(new Option('--kind <kind>', 'only fine-tune jobs or only batches').choices(JOB_KINDS))
    .addOption(new Option('--state <state>', 'only jobs in this state').choices(JOB_STATE_NAMES))
    .addOption(new Option('--since <duration|iso>', 'jobs updated since then: 30m, 24h, 7d, or an ISO date/time').default(DEFAULT_JOBS_SINCE))
    .addOption(new Option('--limit <n>', 'at most this many').default('50'))
    .addOption(jsonOption())
    .addOption(stackOption())
    .action(async (options: { stack?: string; kind?: string; state?: string; since: string; limit: string; json?: boolean }) => {
      // Loaded by the commands that read jobs, so that `webhooks --help` loads no SDK client.
      const { listJobs, parseJobFilter } = await import('../ops/jobs');
      const nowMs = clock();
      const filter = parseJobFilter(options);
      const sinceMs = parseSince(options.since, nowMs);
      const limit = parseWholeNumber(options.limit, '--limit', 1, 100_000);
      const target = await connect(options.stack);
      const progress = await startProgress(output, 'days', daysNewestFirst(sinceMs, nowMs).length);
      const found = await listJobs(jobsDeps(target), { ...filter, sinceMs, nowMs, limit }, () => progress.increment()).finally(() => progress.stop());
      if (options.json) printJson(output, found);
      else print(formatJobList(found));
    });

  jobs
    .command('show')
    .description('one job or batch: state, step and loss, model or output, error, times, its events, its checkpoints and a chart of loss over steps')
    .argument('<key>', "the job key, <provider>#<job or batch id> (quote it: 'together#ft-abc123')")
    .option('--all', `every event and checkpoint kept, not only the latest ${SHOWN_ROWS}`)
    .addOption(jsonOption())
    .addOption(stackOption())
    .action(async (key: string, options: { stack?: string; json?: boolean; all?: boolean }) => {
      const { getJob, parseJobKey } = await import('../ops/jobs');
      parseJobKey(key);
      const target = await connect(options.stack);
      const job = await getJob(jobsDeps(target), key);
      if (job === undefined) {
        throw new CliError(`no job ${printable(key)} in ${target.description} (no event of it handled yet, or a wrong key? see \`webhooks jobs list\`)`);
      }
      if (options.json) printJson(output, job);
      else print(formatJobDetail(job, { all: options.all === true }));
    });
}
