/**
 * `npm run bench`: every section measured as a ratio against a floor taken in the same run, on
 * the same machine, interleaved. Prints a table and writes bench/results.json (git-ignored).
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchColdStart, type ColdStartResult } from './coldstart';
import { costPerMillion, describeCost, dynamoItemBytes } from './cost';
import { benchEndToEnd } from './e2e';
import { forkWorker } from './fork';
import type { ReceiverWorkerOptions, ReceiverWorkerResult } from './receiver-worker';
import { check, describeCheck, round } from './stats';
import { benchVerification } from './verification';
import { quietSdkNodeWarning } from '../local/warnings';

const RESULTS_FILE = new URL('results.json', import.meta.url);

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
      `  ${row.scheme.padEnd(16)} ${String(row.bodyBytes / 1024).padStart(4)} KiB  project ${row.projectOpsPerSecond.toLocaleString('en-US').padStart(9)}/s  bare ${row.bareOpsPerSecond.toLocaleString('en-US').padStart(9)}/s  ratio ${describeCheck(row.ratio)}`,
    );
  }

  // 2 and 3. Receiver in-process against its I/O floor; calls per delivery.
  const worker = forkWorker<ReceiverWorkerResult>('./receiver-worker.ts');
  const receiverOptions: ReceiverWorkerOptions = { rounds: 100, batch: 10, warmup: 50, callSamples: 20, consumerBatches: 20 };
  worker.send(receiverOptions);
  const receiver = await worker.next();
  await worker.exited();
  const p50 = check(receiver.receiver.p50Ms / receiver.floor.p50Ms, 1.15, 'max');
  const p99 = check(receiver.receiver.p99Ms / receiver.floor.p99Ms, 1.15, 'max');
  section(`2. Receiver in-process vs the same PutItem + SendMessage + UpdateItem alone (${receiver.receiver.samples} calls each, ${receiverOptions.rounds} interleaved rounds)`);
  console.log(`  receiver  p50 ${receiver.receiver.p50Ms.toFixed(2)} ms  p99 ${receiver.receiver.p99Ms.toFixed(2)} ms  mean ${receiver.receiver.meanMs.toFixed(2)} ms`);
  console.log(`  floor     p50 ${receiver.floor.p50Ms.toFixed(2)} ms  p99 ${receiver.floor.p99Ms.toFixed(2)} ms  mean ${receiver.floor.meanMs.toFixed(2)} ms`);
  console.log(`  ratio p50 ${describeCheck(p50)}   ratio p99 ${describeCheck(p99)}`);

  section('3. AWS calls per delivery (SDK middleware, commands by name; locally dynalite forces a GetItem on duplicates)');
  for (const count of receiver.calls) {
    const names = Object.entries(count.commandsPerDelivery).map(([name, n]) => `${name.replace(/Command$/, '')} ${n}`).join(', ') || 'none';
    console.log(`  ${count.kind.padEnd(32)} ${String(count.totalPerDelivery).padStart(4)}  (${names}; statuses ${JSON.stringify(count.statuses)})`);
  }
  const duplicate = receiver.calls.find((count) => count.kind.startsWith('duplicate'));
  const rejectedCalls = receiver.calls.filter((count) => count.kind.startsWith('rejected')).reduce((sum, count) => sum + count.totalPerDelivery, 0);
  console.log(`  in AWS a duplicate costs ${(duplicate?.totalPerDelivery ?? 2) - (duplicate?.commandsPerDelivery.GetItemCommand ?? 0)} call: DynamoDB returns the stored item with the failed condition (ReturnValuesOnConditionCheckFailure), dynalite 4 does not`);
  console.log(`  rejected deliveries: ${rejectedCalls} calls in total (target 0) ${rejectedCalls === 0 ? 'met' : 'MISSED'}`);
  for (const count of receiver.calls.filter((entry) => entry.kind.startsWith('duplicate'))) {
    if (Object.keys(count.statuses).some((status) => status !== '200 duplicate')) {
      console.log(`  WARNING: ${count.kind} was not recognised as a duplicate every time (${JSON.stringify(count.statuses)}); did the code under test change during the run?`);
    }
  }
  const consumerNames = Object.entries(receiver.consumer.tableCommandsPerEvent).map(([name, n]) => `${name.replace('Command', '')} ${n}`).join(', ');
  console.log(`  consumer (${receiver.consumer.route}, batches of ${receiver.consumer.batchSize}): ${receiver.consumer.totalPerEvent} per event (${consumerNames}); batch p50 ${receiver.consumer.batchMs.p50Ms.toFixed(1)} ms`);

  // 4. Cold start.
  section('4. Cold start: receiver bundle size and module load in 10 fresh node processes (median)');
  const coldStart: ColdStartResult = await benchColdStart({ processes: 10, synthTimeoutMs: 120_000 });
  for (const load of coldStart.loads) {
    console.log(
      `  ${load.name.padEnd(36)} ${String(Math.round(load.bundleBytes / 1000)).padStart(5)} KB (gzip ${Math.round(load.gzipBytes / 1000)} KB${load.sourceMapBytes === undefined ? '' : `, map ${Math.round(load.sourceMapBytes / 1000)} KB`})  load ${load.loadMs.toFixed(1)} ms  first invoke ${load.firstInvokeMs.toFixed(1)} ms  ${JSON.stringify(load.statuses)}`,
    );
  }
  if (coldStart.synthesized.measured) {
    const { receiver: synthReceiver, consumer, synthSeconds } = coldStart.synthesized;
    console.log(`  synthesized in ${synthSeconds} s: receiver ${synthReceiver.logicalId} ${Math.round(synthReceiver.bundleBytes / 1000)} KB, ${synthReceiver.memoryMb} MB, ${synthReceiver.architecture}`);
    if (consumer !== undefined) console.log(`  consumer ${consumer.logicalId} ${Math.round(consumer.bundleBytes / 1000)} KB, ${consumer.memoryMb} MB, ${consumer.architecture}`);
  } else {
    console.log(`  synthesized stack: not measured: ${coldStart.synthesized.reason}`);
  }
  const bundled = coldStart.loads.find((load) => load.name === 'esbuild, SDK bundled');
  const external = coldStart.loads.find((load) => load.name === 'esbuild, @aws-sdk/* external');
  if (bundled !== undefined && external !== undefined) {
    const faster = bundled.loadMs + bundled.firstInvokeMs <= external.loadMs + external.firstInvokeMs ? bundled : external;
    console.log(`  load + first invoke: SDK bundled ${(bundled.loadMs + bundled.firstInvokeMs).toFixed(1)} ms vs external ${(external.loadMs + external.firstInvokeMs).toFixed(1)} ms → ${faster.name} is faster`);
  }
  console.log(`  receiver init (${coldStart.checkedOn}) ${describeCheck(coldStart.receiverInit)} ms; bundle ${describeCheck(coldStart.receiverBundle)} KB`);

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
  const eventsTableWritesPerEvent =
    (receiver.calls.find((count) => count.kind === 'accepted (together)')?.totalPerDelivery ?? 3) -
    1 /* the SendMessage */ +
    Object.entries(receiver.consumer.tableCommandsPerEvent)
      .filter(([name]) => name.endsWith(' webhook-events'))
      .reduce((sum, [, n]) => sum + n, 0);
  const otherTableWritesPerEvent = Object.entries(receiver.consumer.tableCommandsPerEvent)
    .filter(([name]) => !name.endsWith(' webhook-events'))
    .reduce((sum, [, n]) => sum + n, 0);
  const deployedLoad = coldStart.loads.find((load) => load.name === coldStart.checkedOn);
  const cost = costPerMillion({
    receiverMemoryMb: synthesized?.receiver.memoryMb ?? 256,
    receiverMemorySource: synthesized === undefined ? '256 MB assumed, no template' : 'from the template',
    receiverDurationMs: receiver.receiver.meanMs,
    receiverInitMs: deployedLoad?.loadMs ?? 0,
    consumerMemoryMb: synthesized?.consumer?.memoryMb ?? 256,
    consumerBatchMs: receiver.consumer.batchMs.meanMs,
    batchSize: receiver.consumer.batchSize,
    storedRecord: receiver.storedRecord,
    // The body plus the three message attributes (names, types, values): about 120 bytes.
    messageBytes: receiver.messageBodyBytes + 120,
    eventsTableWritesPerEvent,
    otherTableWritesPerEvent,
    indexWritesPerEvent: 1,
    receiverLogBytesPerDelivery: receiver.logBytesPerAccepted,
    consumerLogBytesPerEvent: receiver.consumer.logBytesPerEvent,
  });
  const costCheck = check(cost.totalUsdPerMillion, 3, 'max');
  section(`6. Cost per million accepted deliveries in AWS (${cost.prices.asOf}); stored record ${dynamoItemBytes(receiver.storedRecord)} B`);
  for (const line of describeCost(cost)) console.log(line);
  console.log(`  target: ${describeCheck(costCheck)} USD; a duplicate delivery costs $${cost.duplicateUsdPerMillion.toFixed(3)} per million`);
  for (const fixed of cost.fixedMonthly) console.log(`  fixed, not per delivery: ${fixed}`);

  const elapsedSeconds = round((performance.now() - started) / 1000, 1);
  console.log(`\nfinished in ${elapsedSeconds} s; load average now ${loadavg().map((value) => value.toFixed(2)).join(' ')}; results in bench/results.json`);

  await writeFile(
    RESULTS_FILE,
    `${JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        machine: { ...host, loadAverageAtEnd: loadavg().map((value) => round(value, 2)) },
        elapsedSeconds,
        verification,
        receiver: { options: receiverOptions, receiver: receiver.receiver, floor: receiver.floor, p50, p99 },
        calls: { perDelivery: receiver.calls, rejectedTotal: rejectedCalls, consumer: receiver.consumer },
        coldStart,
        endToEnd: e2e,
        cost: { ...cost, check: costCheck },
      },
      null,
      2,
    )}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
