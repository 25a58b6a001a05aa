import { SingleBar } from 'cli-progress';

/** Where a command writes: injected so that tests capture it and the bin passes the process streams. */
export interface Output {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
}

/** A progress indicator for long operations; does nothing when stderr is not a terminal. */
export interface Progress {
  increment(by?: number): void;
  update(value: number): void;
  setTotal(total: number): void;
  stop(): void;
}

const SILENT: Progress = { increment() {}, update() {}, setTotal() {}, stop() {} };

/**
 * A progress bar on stderr, only when stderr is a TTY: pipes, files and CI logs get no control
 * characters, and stdout stays clean for `--json`.
 */
export function startProgress(output: Output, label: string, total: number): Progress {
  if (output.stderr.isTTY !== true) return SILENT;
  const bar = new SingleBar({
    stream: output.stderr as NodeJS.WritableStream,
    format: `${label} [{bar}] {value}/{total}`,
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(total, 0);
  return {
    increment: (by = 1) => bar.increment(by),
    update: (value) => bar.update(value),
    setTotal: (next) => bar.setTotal(next),
    stop: () => bar.stop(),
  };
}

/** Prints `value` as indented JSON: the `--json` form of every read. */
export function printJson(output: Output, value: unknown): void {
  output.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain left-aligned table; empty cells print as `-`. */
export function formatTable(headers: readonly string[], rows: readonly (readonly (string | number | undefined)[])[]): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === undefined || cell === '' ? '-' : String(cell))))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

/** Shortens text for a table cell. */
export function truncate(text: string | undefined, max: number): string | undefined {
  if (text === undefined) return undefined;
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}
