/**
 * The cost section of `bench/results.json`: the tables of `bench/cost-table.ts` for the run's
 * measurements and the record sizes of `bench/record-sizes.ts`. `npm run bench` writes it with the
 * rest; `npx tsx bench/cost-report.ts` prices the last run's measurements again with the current
 * model and renders the docs, without measuring anything else.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ASSUMPTIONS, AWS_ROUND_TRIPS_MS, PRICES_USD, type CostMeasurements, type CostScenario, type CostTable } from './cost';
import { costTable, duplicateTable, FIXED_MONTHLY } from './cost-table';
import { COST_SAMPLES, consumerMetricLineBytes, jobGrowth, lateCheckpoint, recordStates, SAMPLE_DELIVERIES, type RecordStates } from './record-sizes';
import { round } from './stats';

/** What the run measured, as `bench/main.ts` hands it over. */
export type RunMeasurements = Omit<CostMeasurements, 'atPayload' | 'job' | 'consumerMetricLineBytes'>;

/** The lean option the cost target names: the props it sets. */
export const LEAN_NAME = "lean (endpoint: 'functionUrl', tracing: false)";

/** The run's measurements with the records, the job and the metric line measured here. */
export function costMeasurements(run: RunMeasurements): CostMeasurements {
  const atPayload = new Map(
    Object.entries(COST_SAMPLES).map(([bytes, sample]) => {
      const record = recordStates(sample.provider, sample.type);
      // The message: the stored event, with its three attributes (about 120 B).
      return [Number(bytes), { record, messageBytes: record.eventBytes + 120, sample: `${sample.provider} ${sample.type}, ${record.payloadBytes} B` }] as const;
    }),
  );
  return { ...run, atPayload, job: jobGrowth(ASSUMPTIONS.checkpointsPerJob), consumerMetricLineBytes: consumerMetricLineBytes() };
}

export interface CostSection {
  readonly prices: typeof PRICES_USD;
  readonly roundTripsMs: typeof AWS_ROUND_TRIPS_MS;
  readonly assumptions: typeof ASSUMPTIONS;
  readonly measured: Record<string, unknown>;
  readonly tables: CostTable[];
  readonly savings: { change: string; beforeUsd: number; afterUsd: number; taken: boolean }[];
  readonly capacity: { name: string; onDemandUsd: number; provisionedUsd: number; reservedUsd: number }[];
  readonly duplicates: CostTable[];
  readonly records: RecordStates[];
  readonly lateCheckpoint: { itemBytes: number; writeUnits: number; readUnits: number; usdPerMillion: number };
  readonly fixedMonthly: readonly string[];
}

/** Every cost table, saving and comparison the docs show. */
export function costSection(measured: CostMeasurements): CostSection {
  const deployed = { endpoint: 'httpApi', platformLines: 'WARN', handledLine: 'DEBUG', tracing: true } as const;
  const lean = { ...deployed, endpoint: 'functionUrl', tracing: false } as const;
  const at100M = { deliveriesPerMonth: 100_000_000, payloadBytes: 1024 } as const;
  const tables = [
    costTable('default (HTTP API), 1 M a month, 1 KB', { ...deployed, deliveriesPerMonth: 1_000_000, payloadBytes: 1024 }, measured),
    costTable('default (HTTP API), 100 M a month, 1 KB', { ...deployed, ...at100M }, measured),
    costTable('default (HTTP API), 100 M a month, 4 KB', { ...deployed, deliveriesPerMonth: 100_000_000, payloadBytes: 4096 }, measured),
    costTable(`${LEAN_NAME}, 100 M a month, 1 KB`, { ...lean, ...at100M }, measured),
    costTable(`${LEAN_NAME}, 1 M a month, 1 KB`, { ...lean, deliveriesPerMonth: 1_000_000, payloadBytes: 1024 }, measured),
  ];
  const price = (scenario: CostScenario) => costTable('', scenario, measured).totalUsdPerMillion;
  const before = price({ ...at100M, ...deployed, platformLines: 'INFO', handledLine: 'INFO' });
  const platformWarn = price({ ...at100M, ...deployed, handledLine: 'INFO' });
  const handledDebug = costTable('', { ...at100M, ...deployed }, measured);
  const functionUrl = price({ ...at100M, ...deployed, endpoint: 'functionUrl' });
  const untraced = price({ ...at100M, ...lean });
  const markUsd = (handledDebug.writeUnits[1] ?? 0) * PRICES_USD.dynamodbPerMillionWriteUnits;
  const savings = [
    { change: 'Lambda platform lines (START, END, REPORT) at WARN', beforeUsd: before, afterUsd: platformWarn, taken: true },
    { change: "the consumer's `event handled` line at DEBUG (one INFO line per event)", beforeUsd: platformWarn, afterUsd: handledDebug.totalUsdPerMillion, taken: true },
    { change: "endpoint: 'functionUrl' instead of the HTTP API (no gateway request, no access log line)", beforeUsd: handledDebug.totalUsdPerMillion, afterUsd: functionUrl, taken: true },
    { change: 'tracing: false (no X-Ray traces; the bundles leave the Tracer out)', beforeUsd: functionUrl, afterUsd: untraced, taken: true },
    { change: 'no receiver mark-queued write (not taken: the reliability suite asserts the `queued` state)', beforeUsd: handledDebug.totalUsdPerMillion, afterUsd: round(handledDebug.totalUsdPerMillion - markUsd, 3), taken: false },
  ];
  const capacity = [
    { name: 'default (HTTP API), 100 M a month, 1 KB', scenario: { ...deployed, ...at100M } },
    { name: `${LEAN_NAME}, 100 M a month, 1 KB`, scenario: { ...lean, ...at100M } },
  ].map(({ name, scenario }) => ({
    name,
    onDemandUsd: price(scenario),
    provisionedUsd: price({ ...scenario, capacity: 'provisioned' }),
    reservedUsd: price({ ...scenario, capacity: 'reserved' }),
  }));
  const duplicates = [
    duplicateTable('a duplicate, default (HTTP API), 100 M a month, 1 KB', { ...deployed, ...at100M }, measured),
    duplicateTable(`a duplicate, ${LEAN_NAME}, 100 M a month, 1 KB`, { ...lean, ...at100M }, measured),
  ];
  const late = lateCheckpoint();
  return {
    prices: PRICES_USD,
    roundTripsMs: AWS_ROUND_TRIPS_MS,
    assumptions: ASSUMPTIONS,
    measured: { ...measured, atPayload: Object.fromEntries(measured.atPayload) },
    tables,
    savings,
    capacity,
    duplicates,
    records: SAMPLE_DELIVERIES.map(({ provider, type }) => recordStates(provider, type)),
    lateCheckpoint: {
      ...late,
      usdPerMillion: round(late.writeUnits * PRICES_USD.dynamodbPerMillionWriteUnits + late.readUnits * PRICES_USD.dynamodbPerMillionReadUnits, 3),
    },
    fixedMonthly: FIXED_MONTHLY,
  };
}

/** The run's own measurements, read back from a results file's cost section. */
export function runMeasurements(measured: Record<string, unknown>): RunMeasurements {
  const number = (name: keyof RunMeasurements) => {
    const value = measured[name];
    if (typeof value !== 'number') throw new Error(`bench/results.json has no cost.measured.${name}; run npm run bench`);
    return value;
  };
  return {
    receiverMemoryMb: number('receiverMemoryMb'),
    consumerMemoryMb: number('consumerMemoryMb'),
    receiverCpuMs: number('receiverCpuMs'),
    consumerCpuMsPerEvent: number('consumerCpuMsPerEvent'),
    receiverInitMs: number('receiverInitMs'),
    receiverLogBytes: number('receiverLogBytes'),
    consumerLogBytesPerEvent: number('consumerLogBytesPerEvent'),
    consumerHandledLineBytes: number('consumerHandledLineBytes'),
    accessLogBytes: number('accessLogBytes'),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = new URL('results.json', import.meta.url);
  const results = JSON.parse(readFileSync(file, 'utf8')) as { cost: { measured: Record<string, unknown> } } & Record<string, unknown>;
  const section = costSection(costMeasurements(runMeasurements(results.cost.measured)));
  const lean = section.tables[3] as CostTable;
  const checks = (results.checks as { id: string; value: number; target: number; kind: string; met: boolean }[]).map((check) => {
    const table = check.id === 'cost.default' ? section.tables[1] : check.id === 'cost.lean' ? lean : undefined;
    return table === undefined ? check : { ...check, value: table.totalUsdPerMillion, met: table.totalUsdPerMillion <= check.target };
  });
  writeFileSync(file, `${JSON.stringify({ ...results, checks, cost: { ...section, pricedAt: new Date().toISOString() } }, null, 2)}\n`);
  const { renderDocs } = await import('./docs');
  renderDocs();
  console.log(`bench/results.json priced again: default $${section.tables[1]?.totalUsdPerMillion}, lean $${lean.totalUsdPerMillion} per million; docs rendered`);
}
