/**
 * Section 4 of `npm run bench` alone (bench/coldstart.ts, the same code), without writing
 * bench/results.json or the docs: `tsx bench/coldstart-run.ts [rounds]`. Prints the bundle sizes
 * and, per runtime, the traced and untraced receiver's load against the floor bundle.
 */
import { loadavg } from 'node:os';
import { benchColdStart } from './coldstart';

const rounds = Number(process.argv[2] ?? 10);
const loadAverage = loadavg().map((value) => value.toFixed(2)).join(' ');
const result = await benchColdStart({ rounds, synthTimeoutMs: 300_000 });
const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
console.log(`load average at the start ${loadAverage}; ${rounds} rounds; checked on the ${result.checkedOn}`);
console.log(`receiver bundle ${result.receiverBundle.value} KB, with tracing: false ${result.untracedBundle.value} KB (target ≤ ${result.receiverBundle.target})`);
for (const load of result.loads) console.log(`  ${load.runtime.padEnd(13)} ${load.name.padEnd(46)} ${kb(load.bundleBytes).padStart(9)}  load ${load.loadMs.toFixed(1)} ms`);
for (const ratio of result.initRatios) {
  console.log(
    `${ratio.runtime}: traced ${ratio.ratio.value} (${ratio.spread.min}–${ratio.spread.max}), untraced ${ratio.untraced.ratio.value} (${ratio.untraced.spread.min}–${ratio.untraced.spread.max}); floor ${ratio.floorLoadMs} ms (target ≤ ${ratio.ratio.target})`,
  );
}
if (result.node24Missing !== undefined) console.log(`Node 24 not measured: ${result.node24Missing}`);
