import autocannon from 'autocannon';
import { sampleTypes, buildDelivery, type Delivery } from '../ops/deliveries';
import { forkWorker } from './fork';
import type { E2eMessage, E2eRequest } from './e2e-worker';
import { check, median, round, type Check } from './stats';

export interface E2eOptions {
  /** Seconds per measured run; each side runs `runsPerSide` times, in pairs A B, B A, A B, … */
  readonly durationSeconds: number;
  readonly runsPerSide: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  /** Deliveries built ahead of each run; more than a run can send, so nothing wraps around. */
  readonly deliveriesPerRun: number;
  readonly drainTimeoutMs: number;
}

export interface E2eRun {
  readonly side: 'runtime' | 'bare';
  readonly requests: number;
  readonly durationSeconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly statuses: Record<string, number>;
  readonly duplicatesSent: number;
  readonly errors: number;
}

export interface E2eSide {
  readonly requestsPerSecond: number;
  /** Mean of the runs' p50 and p99 latencies. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly statuses: Record<string, number>;
}

export interface E2eResult {
  readonly runs: E2eRun[];
  readonly runtime: E2eSide;
  readonly bare: E2eSide;
  /** Median over the pairs of runtime / bare requests per second. */
  readonly throughput: Check;
  /** Median over the pairs of runtime / bare p99 latency. */
  readonly p99: Check;
  readonly connections: number;
  readonly duplicateFraction: number;
  /** After the last run: until every route queue is empty and how the records ended. */
  readonly drain: { readonly drained: boolean; readonly afterLoadMs: number; readonly statuses: Record<string, number> };
}

/** Every tenth delivery repeats one sent 95 earlier: a resend of an accepted event, not a race with it. */
const DUPLICATE_EVERY = 10;
const DUPLICATE_DISTANCE = 95;

function deliveries(count: number): { list: Delivery[]; duplicates: Set<number> } {
  const types = sampleTypes('together');
  const list: Delivery[] = [];
  const duplicates = new Set<number>();
  for (let i = 0; i < count; i++) {
    if (i >= 100 && i % DUPLICATE_EVERY === DUPLICATE_EVERY - 1) {
      list.push(list[i - DUPLICATE_DISTANCE] as Delivery);
      duplicates.add(i);
    } else {
      list.push(buildDelivery({ provider: 'together', type: types[i % types.length] as string }));
    }
  }
  return { list, duplicates };
}

async function load(url: string, side: E2eRun['side'], seconds: number, options: E2eOptions): Promise<E2eRun> {
  const { list, duplicates } = deliveries(options.deliveriesPerRun);
  let next = 0;
  let duplicatesSent = 0;
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => {
          const index = next++ % list.length;
          if (duplicates.has(index) || next > list.length) duplicatesSent++;
          const delivery = list[index] as Delivery;
          return { ...request, method: 'POST', path: delivery.path, headers: delivery.headers, body: delivery.body };
        },
      },
    ],
  });
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, stats.count ?? 0]));
  return {
    side,
    requests: result.requests.total,
    durationSeconds: result.duration,
    requestsPerSecond: round(result.requests.total / result.duration, 1),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    statuses,
    duplicatesSent,
    errors: result.errors,
  };
}

function side(runs: readonly E2eRun[]): E2eSide {
  const total = runs.reduce((sum, run) => sum + run.requests, 0);
  const seconds = runs.reduce((sum, run) => sum + run.durationSeconds, 0);
  const statuses: Record<string, number> = {};
  for (const run of runs) for (const [code, count] of Object.entries(run.statuses)) statuses[code] = (statuses[code] ?? 0) + count;
  const meanOf = (pick: (run: E2eRun) => number) => round(runs.reduce((sum, run) => sum + pick(run), 0) / runs.length, 2);
  return { requestsPerSecond: round(total / seconds, 1), p50Ms: meanOf((run) => run.p50Ms), p99Ms: meanOf((run) => run.p99Ms), statuses };
}

/**
 * Section 5: `startLocalRuntime` (HTTP adapter, receiver, consumers, emulators in one process, as
 * `npm start`) against a bare node:http server doing the same verification and calls on the same
 * emulators, loaded alternately from this process over loopback.
 */
export async function benchEndToEnd(options: E2eOptions): Promise<E2eResult> {
  const worker = forkWorker<E2eMessage>('./e2e-worker.ts');
  try {
    const ready = await worker.next();
    if (ready.kind !== 'ready') throw new Error('the end-to-end worker did not start');
    const urls = { runtime: ready.runtimeUrl, bare: ready.bareUrl } as const;
    // JIT and connection pools warm on both sides before anything is measured.
    await load(urls.runtime, 'runtime', options.warmupSeconds, options);
    await load(urls.bare, 'bare', options.warmupSeconds, options);

    // Short runs in pairs, the order flipped every pair: on a shared machine the neighbours' load
    // drifts within seconds, and each pair's ratio sees nearly the same neighbours on both sides.
    const runs: E2eRun[] = [];
    const throughputRatios: number[] = [];
    const p99Ratios: number[] = [];
    for (let pair = 0; pair < options.runsPerSide; pair++) {
      const order: Array<E2eRun['side']> = pair % 2 === 0 ? ['runtime', 'bare'] : ['bare', 'runtime'];
      const measured: Partial<Record<E2eRun['side'], E2eRun>> = {};
      for (const name of order) {
        const run = await load(urls[name], name, options.durationSeconds, options);
        measured[name] = run;
        runs.push(run);
      }
      const { runtime, bare } = measured as Record<E2eRun['side'], E2eRun>;
      throughputRatios.push(runtime.requestsPerSecond / bare.requestsPerSecond);
      p99Ratios.push(runtime.p99Ms / bare.p99Ms);
    }
    const request: E2eRequest = { command: 'drain', timeoutMs: options.drainTimeoutMs };
    worker.send(request);
    const drained = await worker.next();
    if (drained.kind !== 'drained') throw new Error('the end-to-end worker did not report the drain');

    const runtime = side(runs.filter((run) => run.side === 'runtime'));
    const bare = side(runs.filter((run) => run.side === 'bare'));
    const sent = runs.reduce((sum, run) => sum + run.requests, 0);
    return {
      runs,
      runtime,
      bare,
      throughput: check(median(throughputRatios), 0.9, 'min'),
      p99: check(median(p99Ratios), 1.2, 'max'),
      connections: options.connections,
      duplicateFraction: round(runs.reduce((sum, run) => sum + run.duplicatesSent, 0) / sent, 3),
      drain: { drained: drained.drained, afterLoadMs: drained.drainMs, statuses: drained.statuses },
    };
  } finally {
    const stop: E2eRequest = { command: 'stop' };
    if (worker.child.connected) worker.send(stop);
    await worker.exited().catch(() => undefined);
  }
}
