/** Eighths of a cell, empty to full. */
const BLOCKS = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

export interface ChartOptions {
  /** Columns of bars at most; more points than this are averaged into buckets. Default 60. */
  readonly width?: number;
  /** Rows of bars. Default 6. */
  readonly height?: number;
  /** How the y labels (top and bottom values) are written. */
  readonly label?: (value: number) => string;
}

/**
 * A bar chart of `values` in text, one to four columns per value (one per bucket of values when
 * there are more than `width`), in Unicode block characters at eighth-of-a-row resolution. The top and
 * bottom rows are labelled with the largest and smallest value; the lowest value still shows an
 * eighth, so no column is blank. Lines carry no trailing spaces. Empty input, no lines.
 */
export function barChart(values: readonly number[], options: ChartOptions = {}): string[] {
  const width = Math.max(1, options.width ?? 60);
  const height = Math.max(1, options.height ?? 6);
  const label = options.label ?? String;
  if (values.length === 0) return [];
  // Few values: widen each to up to four columns, so a short history still reads as a curve.
  const repeat = Math.max(1, Math.min(4, Math.floor(width / values.length)));
  const columns = bucketMeans(values, width).flatMap((value) => Array<number>(repeat).fill(value));
  const min = Math.min(...columns);
  const max = Math.max(...columns);
  const eighths = height * 8;
  const levelOf = (value: number) => (max === min ? Math.ceil(eighths / 2) : 1 + Math.round(((value - min) / (max - min)) * (eighths - 1)));
  const levels = columns.map(levelOf);
  // A flat series has one value: label it once, at the bottom.
  const top = max === min ? '' : label(max);
  const bottom = label(min);
  const margin = Math.max(top.length, bottom.length);
  const lines: string[] = [];
  for (let row = height - 1; row >= 0; row -= 1) {
    const name = row === height - 1 ? top : row === 0 ? bottom : '';
    const bars = levels.map((level) => BLOCKS[Math.min(8, Math.max(0, level - row * 8))]).join('');
    lines.push(`${name.padStart(margin)} ┤${bars}`.trimEnd());
  }
  lines.push(`${' '.repeat(margin)} └${'─'.repeat(columns.length)}`);
  return lines;
}

/** `values` in at most `buckets` consecutive groups of near-equal size, each as its mean. */
function bucketMeans(values: readonly number[], buckets: number): number[] {
  if (values.length <= buckets) return [...values];
  return Array.from({ length: buckets }, (_, bucket) => {
    const group = values.slice(Math.floor((bucket * values.length) / buckets), Math.floor(((bucket + 1) * values.length) / buckets));
    return group.reduce((sum, value) => sum + value, 0) / group.length;
  });
}
