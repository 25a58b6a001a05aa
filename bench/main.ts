/**
 * `npm run bench`: every section measured as a ratio against a floor taken in the same run, on
 * the same machine, interleaved. Prints a table, writes bench/results.json and renders the
 * figures of docs/performance.md from it.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchColdStart, type ColdStartResult } from './coldstart';
import { ACCESS_LOG_FIELDS } from '../infra/constructs/receiver-endpoint';
import { accessLogLineBytes, ASSUMPTIONS, AWS_ROUND_TRIPS_MS, PRICES_USD, type CostTable } from './cost';
import { costMeasurements, costSection, LEAN_NAME } from './cost-report';
import { describeCost } from './cost-table';
import { benchEndToEnd } from './e2e';
import { forkWorker } from './fork';
import type { ReceiverWorkerOptions, ReceiverWorkerResult } from './receiver-worker';
import { check, describeCheck, median, round, type Check } from './stats';
import { renderDocs } from './docs';
import { benchVerification } from './verification';
import { quietSdkNodeWarning } from '../local/warnings';

const RESULTS_FILE = new URL('results.json', import.meta.url);

/** Receiver latency ÷ its I/O floor, p50 and p99, at most. */
const LATENCY_TARGET = 1.1;
/** USD per million deliveries at 100 M a month, 1 KB events, on demand, at most. */
const DEFAULT_COST_TARGET = 7.25;
const LEAN_COST_TARGET = 5.5;

/** A target of the run, named so that the docs can cite it. */
export interface NamedCheck extends Check {
  readonly id: string;
  readonly label: string;
  readonly spread?: { readonly min: number; readonly max: number; readonly median?: number };
}

function machine() {
  const cpuinfo = (() => {
    try {
      return readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return '';
    }
  })();
  return {
    nproc: cpus().length,
    model: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadAverageAtStart: loadavg().map((value) => round(value, 2)),
  };
}

function section(title: string): void {
  console.log(`\n${title}`);
}


async function main(): Promise<void> {
  quietSdkNodeWarning();
  const started = performance.now();
  const host = machine();
  console.log(`webhook receiver benchmark — ${host.nproc} × ${host.model}, Node ${host.node}, load average ${host.loadAverageAtStart.join(' ')}`);
  console.log('Absolute numbers depend on the machine and its neighbours; the ratios are the result.');

  // 1. Verification.
  const verification = benchVerification({ rounds: 9, sliceMs: 120 });
  section('1. Signature verification: verifySignature vs bare node:crypto HMAC + timingSafeEqual (median of 9 interleaved rounds)');
  for (const row of verification) {
    console.log(
      `  ${row.scheme.padEnd(16)} ${String(row.bodyBytes / 1024).padStart(4)} KiB  project ${row.projectOpsPerSecond.toLocaleString('en-US').padStart(9)}/s  bare ${row.bareOpsPerSecond.toLocaleString('en-US').padStart(9)}/s  ratio ${row.ratio.toFixed(2)}; target ${describeCheck(row.target)}` +
        row.peers.map((peer) => `  ${peer.name} ${peer.opsPerSecond.toLocaleString('en-US')}/s (ours ${peer.ratio.toFixed(2)}×)`).join(''),
    );
  }

  // 2 and 3. Receiver in-process against its I/O floor; calls per delivery.
  const worker = forkWorker<ReceiverWorkerResult>('./receiver-worker.ts');
  const receiverOptions: ReceiverWorkerOptions = { rounds: 100, batch: 50, warmup: 100, callSamples: 20, consumerBatches: 20 };
  worker.send(receiverOptions);
  const receiver = await worker.next();
  await worker.exited();
  const p50 = check(receiver.receiver.p50Ms / receiver.floor.p50Ms, LATENCY_TARGET, 'max');
  const p99 = check(receiver.receiver.p99Ms / receiver.floor.p99Ms, LATENCY_TARGET, 'max');
  const groupSpread = (values: number[]) => ({ min: round(Math.min(...values), 3), max: round(Math.max(...values), 3), median: round(median(values), 3) });
  const latencySpread = { p50: groupSpread(receiver.groupRatios.p50), p99: groupSpread(receiver.groupRatios.p99), groups: receiver.groupRatios.p99.length };
  section(`2. Receiver in-process vs the same PutItem + SendMessage + UpdateItem alone (${receiver.receiver.samples} calls each, ${receiverOptions.rounds} interleaved rounds)`);
  console.log(`  receiver  p50 ${receiver.receiver.p50Ms.toFixed(2)} ms  p99 ${receiver.receiver.p99Ms.toFixed(2)} ms  mean ${receiver.receiver.meanMs.toFixed(2)} ms`);
  console.log(`  floor     p50 ${receiver.floor.p50Ms.toFixed(2)} ms  p99 ${receiver.floor.p99Ms.toFixed(2)} ms  mean ${receiver.floor.meanMs.toFixed(2)} ms`);
  console.log(`  ratio p50 ${describeCheck(p50)}   ratio p99 ${describeCheck(p99)}  (over all ${receiver.receiver.samples} samples)`);
  console.log(`  spread over ${latencySpread.groups} groups of 500: p50 ${latencySpread.p50.min.toFixed(2)}–${latencySpread.p50.max.toFixed(2)} (median ${latencySpread.p50.median.toFixed(2)}), p99 ${latencySpread.p99.min.toFixed(2)}–${latencySpread.p99.max.toFixed(2)} (median ${latencySpread.p99.median.toFixed(2)})`);

  section('3. AWS calls per delivery (SDK middleware, commands by name; locally dynalite forces a GetItem on duplicates)');
  for (const count of receiver.calls) {
    const names = Object.entries(count.commandsPerDelivery).map(([name, n]) => `${name.replace(/Command$/, '')} ${n}`).join(', ') || 'none';
    console.log(`  ${count.kind.padEnd(32)} ${String(count.totalPerDelivery).padStart(4)}  (${names}; statuses ${JSON.stringify(count.statuses)})`);
  }
  const duplicate = receiver.calls.find((count) => count.kind.startsWith('duplicate'));
  const rejectedCalls = receiver.calls.filter((count) => count.kind.startsWith('rejected')).reduce((sum, count) => sum + count.totalPerDelivery, 0);
  const rejected = check(rejectedCalls, 0, 'max');
  console.log(`  in AWS a duplicate costs ${(duplicate?.totalPerDelivery ?? 2) - (duplicate?.commandsPerDelivery.GetItemCommand ?? 0)} call: DynamoDB returns the stored item with the failed condition (ReturnValuesOnConditionCheckFailure), dynalite 4 does not`);
  console.log(`  rejected deliveries: ${rejectedCalls} calls in total (target 0) ${rejected.met ? 'met' : 'MISSED'}`);
  for (const count of receiver.calls.filter((entry) => entry.kind.startsWith('duplicate'))) {
    if (Object.keys(count.statuses).some((status) => status !== '200 duplicate')) {
      console.log(`  WARNING: ${count.kind} was not recognised as a duplicate every time (${JSON.stringify(count.statuses)}); did the code under test change during the run?`);
    }
  }
  const consumerNames = Object.entries(receiver.consumer.tableCommandsPerEvent).map(([name, n]) => `${name.replace('Command', '')} ${n}`).join(', ');
  console.log(`  consumer (${receiver.consumer.route}, batches of ${receiver.consumer.batchSize}): ${receiver.consumer.totalPerEvent} per event (${consumerNames}); batch p50 ${receiver.consumer.batchMs.p50Ms.toFixed(1)} ms`);

  // 4. Cold start.
  const coldStartRounds = 10;
  section(`4. Cold start: bundle size, and module load in fresh processes as a ratio to the floor bundle (${coldStartRounds} interleaved rounds, median)`);
  const coldStart: ColdStartResult = await benchColdStart({ rounds: coldStartRounds, synthTimeoutMs: 120_000 });
  for (const load of coldStart.loads) {
    console.log(
      `  ${load.runtime.padEnd(13)} ${load.name.padEnd(46)} ${String(Math.round(load.bundleBytes / 1000)).padStart(4)} KB (gzip ${String(Math.round(load.gzipBytes / 1000)).padStart(3)} KB)  load ${load.loadMs.toFixed(1).padStart(6)} ms  first invoke ${load.firstInvokeMs.toFixed(1).padStart(5)} ms  ${JSON.stringify(load.statuses)}`,
    );
  }
  if (coldStart.synthesized.measured) {
    const { receiver: synthReceiver, consumer, synthSeconds } = coldStart.synthesized;
    console.log(`  synthesized in ${synthSeconds} s: receiver ${synthReceiver.logicalId} ${Math.round(synthReceiver.bundleBytes / 1000)} KB, ${synthReceiver.memoryMb} MB, ${synthReceiver.architecture}`);
    if (consumer !== undefined) console.log(`  consumer ${consumer.logicalId} ${Math.round(consumer.bundleBytes / 1000)} KB, ${consumer.memoryMb} MB, ${consumer.architecture}`);
  } else {
    console.log(`  synthesized stack: not measured: ${coldStart.synthesized.reason}`);
  }
  for (const ratio of coldStart.initRatios) {
    console.log(
      `  ${ratio.runtime}: receiver ${ratio.receiverLoadMs.toFixed(1)} ms / floor ${ratio.floorLoadMs.toFixed(1)} ms → ratio ${describeCheck(ratio.ratio)}, rounds ${ratio.spread.min.toFixed(2)}–${ratio.spread.max.toFixed(2)}; Powertools Logger + Metrics add ${ratio.powertoolsMs.toFixed(1)} ms`,
    );
  }
  if (coldStart.node24Missing !== undefined) console.log(`  Node 24 not measured: ${coldStart.node24Missing}`);
  console.log(`  receiver bundle (${coldStart.checkedOn}) ${describeCheck(coldStart.receiverBundle)} KB; with tracing: false ${describeCheck(coldStart.untracedBundle)} KB`);
  for (const ratio of coldStart.initRatios) console.log(`  ${ratio.runtime}: receiver with tracing: false ${ratio.untraced.loadMs.toFixed(1)} ms → ratio ${describeCheck(ratio.untraced.ratio)}`);

  // 5. End to end.
  section('5. End to end: npm start runtime vs bare node:http (same verification and calls, same emulators), autocannon, 10 connections, 10% duplicates');
  const e2e = await benchEndToEnd({ durationSeconds: 3, runsPerSide: 4, warmupSeconds: 2, connections: 10, deliveriesPerRun: 20_000, drainTimeoutMs: 45_000 });
  for (const [name, result] of [['runtime', e2e.runtime], ['bare', e2e.bare]] as const) {
    console.log(`  ${name.padEnd(8)} ${result.requestsPerSecond.toFixed(1).padStart(8)} req/s  p50 ${result.p50Ms.toFixed(1)} ms  p99 ${result.p99Ms.toFixed(1)} ms  statuses ${JSON.stringify(result.statuses)}`);
  }
  console.log(`  median of ${e2e.runs.length / 2} paired runs: throughput ratio ${describeCheck(e2e.throughput)}   p99 ratio ${describeCheck(e2e.p99)}   duplicates sent ${(e2e.duplicateFraction * 100).toFixed(1)}%`);
  console.log(
    `  consumers: ${e2e.drain.drained ? `every queue empty ${(e2e.drain.afterLoadMs / 1000).toFixed(1)} s after the load stopped` : `queues NOT empty after ${(e2e.drain.afterLoadMs / 1000).toFixed(0)} s`}; records ${JSON.stringify(e2e.drain.statuses)}`,
  );

  // 6. Cost.
  const synthesized = coldStart.synthesized.measured ? coldStart.synthesized : undefined;
  const lambdaRuntimeInit = coldStart.initRatios[coldStart.initRatios.length - 1];
  const measured = costMeasurements({
    receiverMemoryMb: synthesized?.receiver.memoryMb ?? 512,
    consumerMemoryMb: synthesized?.consumer?.memoryMb ?? 256,
    receiverCpuMs: Math.max(0, receiver.receiver.meanMs - receiver.floor.meanMs),
    // An upper bound: the batch's measured time (emulator calls included) per record.
    consumerCpuMsPerEvent: receiver.consumer.batchMs.meanMs / receiver.consumer.batchSize,
    receiverInitMs: lambdaRuntimeInit?.receiverLoadMs ?? 0,
    receiverLogBytes: receiver.logBytesPerAccepted,
    consumerLogBytesPerEvent: receiver.consumer.logBytesPerEvent,
    consumerHandledLineBytes: receiver.consumer.handledLineBytes,
    accessLogBytes: accessLogLineBytes(ACCESS_LOG_FIELDS),
  });
  const cost = costSection(measured);
  const { tables, savings } = cost;
  const costDefault = check((tables[1] as CostTable).totalUsdPerMillion, DEFAULT_COST_TARGET, 'max');
  const costLean = check((tables[3] as CostTable).totalUsdPerMillion, LEAN_COST_TARGET, 'max');
  section(`6. Cost per million accepted deliveries in AWS (${PRICES_USD.asOf}); round trips stated: DynamoDB write ${AWS_ROUND_TRIPS_MS.dynamodbWrite} ms, SQS send ${AWS_ROUND_TRIPS_MS.sqsSend} ms; batching window ${ASSUMPTIONS.batchingWindowSeconds} s`);
  for (const table of tables) {
    console.log(`  ${table.name}: batches of ${table.batchFill.toFixed(2)}, record ${table.itemBytes} B`);
    for (const line of describeCost(table)) console.log(`  ${line}`);
  }
  console.log('  savings at 100 M a month, 1 KB, each on top of the one above:');
  for (const saving of savings) console.log(`    ${saving.change}: $${saving.beforeUsd.toFixed(3)} → $${saving.afterUsd.toFixed(3)}${saving.taken ? '' : ' (not taken)'}`);
  console.log(`  default 100 M 1 KB ${describeCheck(costDefault)} USD; lean 100 M 1 KB ${describeCheck(costLean)} USD`);
  for (const table of cost.duplicates) console.log(`  ${table.name}: $${table.totalUsdPerMillion.toFixed(3)} per million duplicates`);
  for (const row of cost.capacity) console.log(`  ${row.name}: on-demand $${row.onDemandUsd.toFixed(3)}, provisioned $${row.provisionedUsd.toFixed(3)}, reserved $${row.reservedUsd.toFixed(3)}`);
  for (const fixed of cost.fixedMonthly) console.log(`  fixed, not per delivery: ${fixed}`);

  const checks: NamedCheck[] = [
    ...verification.map((row) => ({
      id: `verification.${row.scheme.replace(/ /g, '-')}.${row.bodyBytes / 1024}KiB`,
      label: `verification ${row.scheme} ${row.bodyBytes / 1024} KiB vs ${row.peers.length > 0 ? 'the fastest library' : 'raw HMAC'}`,
      ...row.target,
    })),
    { id: 'latency.p50', label: `receiver p50 vs floor (${receiver.receiver.samples} samples)`, ...p50, spread: latencySpread.p50 },
    { id: 'latency.p99', label: `receiver p99 vs floor (${receiver.receiver.samples} samples)`, ...p99, spread: latencySpread.p99 },
    { id: 'calls.rejected', label: 'AWS calls made for rejected deliveries', ...rejected },
    ...coldStart.initRatios.map((ratio) => ({ id: `init.${ratio.runtime.replace(/^node v(\d+).*$/, 'node$1')}`, label: `receiver load vs floor bundle, ${ratio.runtime}`, ...ratio.ratio, spread: ratio.spread })),
    ...coldStart.initRatios.map((ratio) => ({ id: `init.untraced.${ratio.runtime.replace(/^node v(\d+).*$/, 'node$1')}`, label: `receiver with tracing: false load vs floor bundle, ${ratio.runtime}`, ...ratio.untraced.ratio, spread: ratio.untraced.spread })),
    { id: 'bundle.receiver', label: 'receiver bundle, KB', ...coldStart.receiverBundle },
    { id: 'bundle.receiver.untraced', label: 'receiver bundle with tracing: false, KB', ...coldStart.untracedBundle },
    { id: 'e2e.throughput', label: 'end to end throughput vs bare', ...e2e.throughput },
    { id: 'e2e.p99', label: 'end to end p99 vs bare', ...e2e.p99 },
    { id: 'cost.default', label: 'default stack, 100 M a month, 1 KB, USD per million', ...costDefault },
    { id: 'cost.lean', label: `${LEAN_NAME}, 100 M a month, 1 KB, USD per million`, ...costLean },
  ];

  const elapsedSeconds = round((performance.now() - started) / 1000, 1);
  console.log(`\nfinished in ${elapsedSeconds} s; load average now ${loadavg().map((value) => value.toFixed(2)).join(' ')}; ${checks.filter((entry) => entry.met).length} of ${checks.length} targets met; results in bench/results.json`);

  await writeFile(
    RESULTS_FILE,
    `${JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        machine: { ...host, loadAverageAtEnd: loadavg().map((value) => round(value, 2)) },
        elapsedSeconds,
        checks,
        verification,
        receiver: { options: receiverOptions, receiver: receiver.receiver, floor: receiver.floor, p50, p99, spread: latencySpread },
        calls: { perDelivery: receiver.calls, rejectedTotal: rejectedCalls, consumer: receiver.consumer },
        coldStart,
        endToEnd: e2e,
        cost,
      },
      null,
      2,
    )}\n`,
  );
  renderDocs();
  console.log('docs/performance.md and README.md rendered from bench/results.json (npm run bench:docs renders them again)');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
