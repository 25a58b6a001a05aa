import { JOBS_TABLE, type BatchResultFile } from '../functions/core/table';
import { barChart } from './chart';
import type { JobDetail, JobSummary } from '../ops/jobs';
import { formatTable, truncate } from './output';

/** Rows of the event and checkpoint tables `jobs show` prints unless asked for all. */
export const SHOWN_ROWS = 20;

// C0, DEL, C1, and the bidirectional controls that can reorder what a terminal shows.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` safe to print on a terminal: control characters (which a sender could use to move the
 * cursor, recolour or hide output) are written as escapes, `\x1b` or `\u{202e}`.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (char) => {
    const code = char.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** A loss or step as a short number: four significant digits. */
export function formatNumber(value: number | undefined): string | undefined {
  return value === undefined ? undefined : String(Number(value.toPrecision(4)));
}

const cell = (text: string | undefined, max: number) => truncate(text === undefined ? undefined : printable(text), max);

/** The table of `jobs list`. */
export function formatJobList(jobs: readonly JobSummary[]): string {
  if (jobs.length === 0) return 'no jobs updated in this window\n';
  return formatTable(
    ['UPDATED', 'JOB', 'KIND', 'STATE', 'STEP', 'LOSS', 'MODEL OR OUTPUT', 'ERROR'],
    jobs.map((job) => [
      job.updatedAt,
      // Whole, unlike the other cells: it is what `jobs show` takes.
      printable(job.pk),
      job.kind,
      job.state,
      job.step,
      formatNumber(job.loss),
      cell(job.model ?? job.output, 60),
      cell(job.error, 60),
    ]),
  );
}

/** The text of `jobs show`: the job, its events, its checkpoints and a chart of loss over steps. */
export function formatJobDetail(job: JobDetail, options: { all?: boolean } = {}): string {
  const limit = options.all === true ? Number.POSITIVE_INFINITY : SHOWN_ROWS;
  const latestPath = job.checkpoints.findLast((checkpoint) => checkpoint.path !== undefined)?.path;
  // Paths of checkpoints show in their table; these are the ones only the completion listed.
  const inTable = new Set(job.checkpoints.map((checkpoint) => checkpoint.path));
  const listedOnly = job.checkpointPaths.filter((path) => !inTable.has(path));
  const lines: [string, string | undefined][] = [
    ['job', printable(job.pk)],
    ['kind', job.kind],
    ['state', job.state === undefined ? undefined : `${job.state}${job.stateAt === undefined ? '' : ` since ${job.stateAt}`}`],
    ['step', job.step === undefined ? undefined : `${job.step}${job.loss === undefined ? '' : ` (loss ${formatNumber(job.loss)})`}`],
    ['model', job.model === undefined ? undefined : printable(job.model)],
    ['latest checkpoint', latestPath === undefined ? undefined : printable(latestPath)],
    ['eval loss', formatNumber(job.evalLoss)],
    ['output', job.output === undefined ? undefined : printable(job.output)],
    ['output file', resultFile(job.results?.output)],
    ['error file', resultFile(job.results?.errors)],
    ['files stored', job.results?.storedAt],
    ['error', job.error === undefined ? undefined : printable(job.error)],
    ['first seen', job.firstSeenAt],
    ['updated', job.updatedAt],
  ];
  const width = Math.max(...lines.map(([label]) => label.length)) + 2;
  const out = lines.filter(([, value]) => value !== undefined && value !== '').map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`);

  if (listedOnly.length > 0) {
    out.push('', 'paths the completion listed:', ...listedOnly.map((path) => `  ${printable(path)}`));
  }

  out.push('', `events (${job.events.length}, oldest first):`);
  out.push(...earlier(job.events.length, limit, 'events'));
  out.push(
    formatTable(
      ['AT', 'TYPE', 'STATE', 'STEP', 'LOSS', 'EVENT'],
      job.events.slice(-limit).map((event) => [event.at, event.type, event.state, event.step, formatNumber(event.loss), printable(event.key)]),
    ).trimEnd(),
  );

  if (job.kind === 'fine_tune') {
    out.push('', job.checkpoints.length === 0 ? 'checkpoints: none reported' : `checkpoints (${job.checkpoints.length}; the highest ${JOBS_TABLE.maxCheckpoints} steps are kept):`);
    if (job.checkpoints.length > 0) {
      out.push(...earlier(job.checkpoints.length, limit, 'checkpoints'));
      out.push(
        formatTable(
          ['STEP', 'LOSS', 'AT', 'PATH'],
          job.checkpoints.slice(-limit).map((checkpoint) => [checkpoint.step, formatNumber(checkpoint.loss), checkpoint.at, cell(checkpoint.path, 80)]),
        ).trimEnd(),
      );
    }
    const points = job.checkpoints.flatMap((checkpoint) => (checkpoint.loss === undefined ? [] : [checkpoint]));
    const first = points[0];
    const last = points.at(-1);
    if (first !== undefined && last !== undefined) {
      out.push('', `loss over steps ${first.step} to ${last.step}:`);
      out.push(...barChart(points.map((point) => point.loss as number), { label: (value) => formatNumber(value) ?? '' }));
    }
  }
  return `${out.join('\n')}\n`;
}

/** `s3://…/output.jsonl (2,000 lines, 1.5 MB)` */
function resultFile(file: BatchResultFile | undefined): string | undefined {
  if (file === undefined) return undefined;
  return `${printable(file.uri)} (${file.lines.toLocaleString('en-US')} ${file.lines === 1 ? 'line' : 'lines'}, ${formatBytes(file.bytes)})`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`;
  const [value, unit] = bytes < 1e6 ? [bytes / 1e3, 'kB'] : bytes < 1e9 ? [bytes / 1e6, 'MB'] : [bytes / 1e9, 'GB'];
  return `${Number(value.toPrecision(3))} ${unit}`;
}

function earlier(total: number, limit: number, what: string): string[] {
  return total > limit ? [`  … ${total - limit} earlier ${what} not shown (--all shows them; --json has every one)`] : [];
}
