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

/** Starts a progress indicator for `total` steps, labelled `label`. */
export type StartProgress = (label: string, total: number) => Progress;

/**
 * What starts progress bars on stderr, only when stderr is a TTY: pipes, files and CI logs get no
 * control characters, and stdout stays clean for `--json`. The bar's code (cli-progress) is loaded
 * only then: a command whose stderr is not a terminal never reads it.
 */
export async function progressStarter(output: Output): Promise<StartProgress> {
  if (output.stderr.isTTY !== true) return () => SILENT;
  const { SingleBar } = await import('cli-progress');
  return (label, total) => {
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
  };
}

/** A progress bar on stderr when stderr is a TTY (see {@link progressStarter}); otherwise one that does nothing. */
export async function startProgress(output: Output, label: string, total: number): Promise<Progress> {
  return (await progressStarter(output))(label, total);
}

/**
 * What a terminal may act on: C0 controls (ESC, BEL, CR, BS…), DEL, C1 controls (the 8-bit CSI
 * and OSC among them), line and paragraph separators, and the bidi marks, overrides and isolates
 * that reorder what is shown (U+202A–U+202E, U+2066–U+2069).
 */
const BEYOND_C0 = '\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';
const CONTROL = new RegExp(`[\\u0000-\\u001f${BEYOND_C0}]`, 'g');
const CONTROL_BUT_NEWLINE = new RegExp(`[\\u0000-\\u0009\\u000b-\\u001f${BEYOND_C0}]`, 'g');
/** What JSON.stringify leaves raw of the above: it escapes C0 itself. */
const RAW_IN_JSON = new RegExp(`[${BEYOND_C0}]`, 'g');

const unicodeEscape = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * `text` with every control character shown as a visible `\u001b`-style escape. Subjects, ids,
 * errors and types come from providers and from the network: printed raw, they could rewrite the
 * screen, retitle the terminal or make a failed event look handled. `keepNewlines` leaves `\n`
 * alone, for text whose lines are ours.
 */
export function escapeControl(text: string, options: { keepNewlines?: boolean } = {}): string {
  return text.replace(options.keepNewlines ? CONTROL_BUT_NEWLINE : CONTROL, unicodeEscape);
}

/**
 * Writes human-readable text to stdout, every control character but the newline escaped: the one
 * way text reaches the terminal, so a formatter that forgets to escape a value cannot let it through.
 */
export function printText(output: Output, text: string): void {
  output.stdout.write(escapeControl(text, { keepNewlines: true }));
}

/**
 * `value` as JSON that is safe on a terminal: JSON.stringify escapes C0 controls but writes DEL,
 * C1 controls, U+2028/U+2029 and the bidi controls raw; these are written as `\\uXXXX` too. They
 * can only occur inside strings, so the text is still valid JSON and parses back to `value`.
 */
export function terminalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(RAW_IN_JSON, unicodeEscape);
}

/** Prints `value` as indented JSON: the `--json` form of every read. */
export function printJson(output: Output, value: unknown): void {
  output.stdout.write(`${terminalJson(value, 2)}\n`);
}

/** A plain left-aligned table; empty cells print as `-`, control characters as escapes. */
export function formatTable(headers: readonly string[], rows: readonly (readonly (string | number | undefined)[])[]): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === undefined || cell === '' ? '-' : escapeControl(String(cell)))))];
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
