/**
 * Renders the figures of docs/performance.md and the README's one-line performance verdict from
 * bench/results.json, between their markers. `npm run bench` calls it after writing the results;
 * `npm run bench:docs` renders again from the results alone. test/unit/bench-docs.test.ts fails
 * when the docs and the results drift apart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const RESULTS_PATH = fileURLToPath(new URL('results.json', import.meta.url));
export const PERFORMANCE_DOC = fileURLToPath(new URL('../docs/performance.md', import.meta.url));
export const README = fileURLToPath(new URL('../README.md', import.meta.url));
export const MARKERS = {
  figures: ['<!-- bench:figures:begin (npm run bench:docs renders this from bench/results.json) -->', '<!-- bench:figures:end -->'],
  readme: ['<!-- bench:readme:begin (npm run bench:docs renders this from bench/results.json) -->', '<!-- bench:readme:end -->'],
} as const;

interface Spread {
  readonly min: number;
  readonly max: number;
  readonly median?: number;
}
interface NamedCheck {
  readonly id: string;
  readonly label: string;
  readonly value: number;
  readonly target: number;
  readonly kind: 'min' | 'max';
  readonly met: boolean;
  readonly spread?: Spread;
}
interface CostLine {
  readonly item: string;
  readonly arithmetic: string;
  readonly usdPerMillion: number;
}
/** The parts of bench/results.json the docs show. */
export interface BenchResults {
  readonly generatedAt: string;
  readonly machine: { readonly nproc: number; readonly model: string; readonly node: string; readonly loadAverageAtStart: number[] };
  readonly elapsedSeconds: number;
  readonly checks: NamedCheck[];
  readonly verification: {
    scheme: string;
    bodyBytes: number;
    projectOpsPerSecond: number;
    bareOpsPerSecond: number;
    /** Median of the per-round ratios project ÷ raw HMAC. */
    ratio: number;
    peers?: { name: string; opsPerSecond: number; ratio: number }[];
  }[];
  readonly receiver: { receiver: { samples: number; p50Ms: number; p99Ms: number }; floor: { p50Ms: number; p99Ms: number } };
  readonly coldStart: {
    loads: { name: string; runtime: string; bundleBytes: number; gzipBytes: number; loadMs: number; firstInvokeMs: number }[];
    initRatios: { runtime: string; receiverLoadMs: number; floorLoadMs: number; powertoolsMs: number; untraced?: { loadMs: number } }[];
    node24Missing?: string;
  };
  readonly cost: {
    prices: { asOf: string };
    roundTripsMs: { dynamodbWrite: number; sqsSend: number };
    assumptions: { batchingWindowSeconds: number };
    tables: { name: string; batchFill: number; itemBytes: number; lines: CostLine[]; totalUsdPerMillion: number }[];
    savings: { change: string; beforeUsd: number; afterUsd: number; taken: boolean }[];
    fixedMonthly: string[];
    /** Written by `npx tsx bench/cost-report.ts` when it priced the run's measurements again. */
    pricedAt?: string;
    duplicates?: { name: string; lines: CostLine[]; totalUsdPerMillion: number }[];
    capacity?: { name: string; onDemandUsd: number; provisionedUsd: number; reservedUsd: number }[];
    records?: {
      provider: string;
      type: string;
      payloadBytes: number;
      inProgress: number;
      queued: number;
      handling: number;
      handled: number;
      writeUnits: number[];
      /** Measured since records keep the payload packed (absent in older results). */
      failed?: number;
      payloadItem?: number;
      duplicateWriteUnits?: number;
    }[];
    lateCheckpoint?: { itemBytes: number; writeUnits: number; readUnits: number; usdPerMillion: number };
  };
}

const fixed = (value: number, digits = 2) => value.toFixed(digits);
const verdict = (check: NamedCheck) => (check.met ? 'met' : '**missed**');
const sign = (check: NamedCheck) => (check.kind === 'min' ? '≥' : '≤');

/** A cost table's lines as Markdown rows, the arithmetic's own pipes escaped. */
function costRows(lines: readonly CostLine[]): string[] {
  return lines.map((line) => `| ${line.item} | ${fixed(line.usdPerMillion, 4)} | ${line.arithmetic.replaceAll('|', '\\|')} |`);
}

/** The figures block of docs/performance.md. */
export function renderFigures(results: BenchResults): string {
  const out: string[] = [];
  const m = results.machine;
  out.push(`Run of ${results.generatedAt.slice(0, 16).replace('T', ' ')} UTC: ${m.nproc} × ${m.model} (shared), ${m.node}, load average ${m.loadAverageAtStart.join(' ')} at the start, ${Math.round(results.elapsedSeconds)} s.`);
  out.push('', '### Targets', '', '| target | measured | spread | target | verdict |', '|---|---:|---|---:|---|');
  for (const check of results.checks) {
    const spread = check.spread === undefined ? '' : `${fixed(check.spread.min)}–${fixed(check.spread.max)}`;
    out.push(`| ${check.label} | ${fixed(check.value)} | ${spread} | ${sign(check)} ${check.target} | ${verdict(check)} |`);
  }
  out.push(
    '',
    '### Signature verification against raw HMAC',
    '',
    'A raw HMAC and compare skips the checks the contract requires; it is the target only for the schemes no library verifies.',
    '',
    '| scheme | body | project | raw HMAC + compare | ratio |',
    '|---|---:|---:|---:|---:|',
  );
  for (const row of results.verification) {
    out.push(
      `| ${row.scheme} | ${row.bodyBytes / 1024} KiB | ${row.projectOpsPerSecond.toLocaleString('en-US')}/s | ${row.bareOpsPerSecond.toLocaleString('en-US')}/s | ${fixed(row.ratio)} |`,
    );
  }
  const peered = results.verification.filter((row) => (row.peers ?? []).length > 0);
  const peerNames = [...new Set(peered.flatMap((row) => (row.peers ?? []).map((peer) => peer.name)))];
  if (peerNames.length > 0) {
    out.push('', '### Signature verification against the libraries', '', `The same deliveries in the same rounds; ours ÷ theirs in brackets.`, '');
    out.push(`| scheme | body | project | ${peerNames.join(' | ')} |`, `|---|---:|---:|${peerNames.map(() => '---:|').join('')}`);
    for (const row of peered) {
      const cells = peerNames.map((name) => {
        const peer = row.peers?.find((candidate) => candidate.name === name);
        return peer === undefined ? '' : `${peer.opsPerSecond.toLocaleString('en-US')}/s (${fixed(peer.ratio)}×)`;
      });
      out.push(`| ${row.scheme} | ${row.bodyBytes / 1024} KiB | ${row.projectOpsPerSecond.toLocaleString('en-US')}/s | ${cells.join(' | ')} |`);
    }
  }
  const r = results.receiver;
  out.push(
    '',
    '### Receiver against its I/O floor',
    '',
    `${r.receiver.samples} calls each side: receiver p50 ${fixed(r.receiver.p50Ms)} ms, p99 ${fixed(r.receiver.p99Ms)} ms; floor (the same PutItem, SendMessage and UpdateItem alone) p50 ${fixed(r.floor.p50Ms)} ms, p99 ${fixed(r.floor.p99Ms)} ms. The spread is over groups of 500 consecutive calls.`,
  );
  out.push('', '### Cold start', '', '| runtime | bundle | size (gzip) | load | first invoke |', '|---|---|---:|---:|---:|');
  for (const load of results.coldStart.loads) {
    out.push(`| ${load.runtime} | ${load.name} | ${Math.round(load.bundleBytes / 1000)} KB (${Math.round(load.gzipBytes / 1000)} KB) | ${fixed(load.loadMs, 1)} ms | ${fixed(load.firstInvokeMs, 1)} ms |`);
  }
  out.push('');
  for (const ratio of results.coldStart.initRatios) {
    const untraced = ratio.untraced === undefined ? '' : ` (with tracing: false ${fixed(ratio.untraced.loadMs, 1)} ms)`;
    out.push(`- ${ratio.runtime}: receiver ${fixed(ratio.receiverLoadMs, 1)} ms${untraced} against the floor bundle's ${fixed(ratio.floorLoadMs, 1)} ms; Powertools Logger and Metrics add ${fixed(ratio.powertoolsMs, 1)} ms to the floor.`);
  }
  if (results.coldStart.node24Missing !== undefined) out.push(`- Node 24 not measured: ${results.coldStart.node24Missing}.`);
  const c = results.cost;
  out.push(
    '',
    '### Cost per million accepted deliveries',
    '',
    `${c.prices.asOf}. Lambda duration is billed on stated in-region round trips (DynamoDB write ${c.roundTripsMs.dynamodbWrite} ms, SQS send ${c.roundTripsMs.sqsSend} ms) plus the CPU measured here, not on emulator latency; log bytes are the lines the functions write with their Lambda context, measured; consumer batches fill from the arrival rate over a ${c.assumptions.batchingWindowSeconds} s batching window. Records are sized with \`functions/core/item-size.ts\` on the providers' sample deliveries (1 KB: Replicate's \`prediction.succeeded\`, 4 KB: its \`training.processing\`), each write billed on the larger item before or after it; the jobs table on a fine-tune's 12 events merged by the projection itself.`,
  );
  for (const table of c.tables) {
    out.push('', `**${table.name}** (batches of ${fixed(table.batchFill)}, record ${table.itemBytes} B): **$${fixed(table.totalUsdPerMillion, 3)}**`, '', '| line | USD/M | arithmetic |', '|---|---:|---|');
    out.push(...costRows(table.lines));
  }
  if (c.pricedAt !== undefined) out.push('', `Priced again on ${c.pricedAt.slice(0, 10)} with this run's measurements (\`npx tsx bench/cost-report.ts\`).`);
  for (const table of c.duplicates ?? []) {
    out.push('', `**${table.name}**, per million duplicates: **$${fixed(table.totalUsdPerMillion, 3)}**`, '', '| line | USD/M | arithmetic |', '|---|---:|---|');
    out.push(...costRows(table.lines));
  }
  if (c.capacity !== undefined) {
    out.push('', 'DynamoDB on provisioned or reserved capacity (every other line as above):', '', '| configuration | on-demand | provisioned | reserved, 1 year |', '|---|---:|---:|---:|');
    for (const row of c.capacity) out.push(`| ${row.name} | $${fixed(row.onDemandUsd, 3)} | $${fixed(row.provisionedUsd, 3)} | $${fixed(row.reservedUsd, 3)} |`);
  }
  if (c.records !== undefined) {
    const packed = c.records.some((row) => row.failed !== undefined);
    out.push(
      '',
      'The record of each provider\'s sample delivery after each write, bytes (write units):',
      '',
      `| delivery | payload | put | queued | claim | handled |${packed ? ' failed | payload item | duplicate |' : ''}`,
      `|---|---:|---:|---:|---:|---:|${packed ? '---:|---:|---:|' : ''}`,
    );
    for (const row of c.records) {
      const [put, queued, claim, handled] = row.writeUnits;
      const more = packed ? ` ${row.failed ?? '-'} | ${row.payloadItem ? `${row.payloadItem} B` : 'inline'} | ${row.duplicateWriteUnits ?? '-'} WRU |` : '';
      out.push(`| ${row.provider} ${row.type} | ${row.payloadBytes} | ${row.inProgress} (${put}) | ${row.queued} (${queued}) | ${row.handling} (${claim}) | ${row.handled} (${handled}) |${more}`);
    }
  }
  if (c.lateCheckpoint !== undefined) {
    const late = c.lateCheckpoint;
    out.push('', `A late checkpoint on a job holding 500: the job item is ${late.itemBytes} B; the checkpoint's reads cost ${late.readUnits} RRU and its writes ${late.writeUnits} WRU: $${fixed(late.usdPerMillion, 3)} per million such events.`);
  }
  out.push('', 'Savings at 100 M a month and 1 KB, each on top of the line above:', '', '| change | before | after |', '|---|---:|---:|');
  for (const saving of c.savings) out.push(`| ${saving.change} | $${fixed(saving.beforeUsd, 3)} | $${fixed(saving.afterUsd, 3)} |`);
  out.push('', 'Not per delivery:', '', ...c.fixedMonthly.map((line) => `- ${line}`));
  return out.join('\n');
}

/** The cost table of the default stack at 100 M a month and 1 KB: the one the README's verdict names. */
const README_COST_TABLE = 'default (HTTP API), 100 M a month, 1 KB';

/**
 * The README's Performance section: one line with the verdict of the last run (targets met of all)
 * and the default cost, linking to docs/performance.md, which has every figure.
 */
export function renderReadme(results: BenchResults): string {
  const met = results.checks.filter((check) => check.met).length;
  const m = results.machine;
  const table = results.cost.tables.find((candidate) => candidate.name === README_COST_TABLE);
  const cost = table === undefined ? '' : `; a million accepted deliveries cost $${fixed(table.totalUsdPerMillion, 3)} (${table.name}; ${results.cost.prices.asOf})`;
  return `Last run ${results.generatedAt.slice(0, 16).replace('T', ' ')} UTC on ${m.nproc} × ${m.model}: **${met} of ${results.checks.length} targets met**${cost}. Every figure, target, cost table and why each missed target is missed: [docs/performance.md](docs/performance.md).`;
}

/** `text` with the block between `markers` replaced by `content`; throws when a marker is missing. */
export function replaceBetween(text: string, markers: readonly [string, string], content: string): string {
  const start = text.indexOf(markers[0]);
  const end = text.indexOf(markers[1]);
  if (start < 0 || end < start) throw new Error(`markers ${markers[0]} … ${markers[1]} not found`);
  return `${text.slice(0, start + markers[0].length)}\n${content}\n${text.slice(end)}`;
}

export function readResults(path = RESULTS_PATH): BenchResults {
  return JSON.parse(readFileSync(path, 'utf8')) as BenchResults;
}

/** Writes the docs from the results. */
export function renderDocs(results: BenchResults = readResults()): void {
  writeFileSync(PERFORMANCE_DOC, replaceBetween(readFileSync(PERFORMANCE_DOC, 'utf8'), MARKERS.figures, renderFigures(results)));
  writeFileSync(README, replaceBetween(readFileSync(README, 'utf8'), MARKERS.readme, renderReadme(results)));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  renderDocs();
  console.log('docs/performance.md and README.md rendered from bench/results.json');
}
