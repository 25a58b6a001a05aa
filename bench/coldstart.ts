import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { PROVIDERS } from '../functions/core/providers';
import { buildDelivery } from '../local/deliveries';
import { queueUrlMap } from '../local/resources';
import { deliveryEvent } from '../test/support/gateway';
import { startBenchEmulators } from './emulated';
import { check, median, round, type Check } from './stats';

const REPO = new URL('..', import.meta.url);
const RECEIVER_ENTRY = new URL('functions/receiver/handler.ts', REPO);

/**
 * The bundling options of infra/constructs/bundled-function.ts (ESM for top-level await, the
 * `require` banner, minified); `target` is what Lambda's Node.js runtimes all understand.
 */
const ESBUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
  logLevel: 'error',
} as const;

export interface BundleLoad {
  readonly name: string;
  readonly bundleBytes: number;
  readonly gzipBytes: number;
  readonly sourceMapBytes?: number;
  readonly nodeOptions?: string;
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

export interface ColdStartResult {
  readonly loads: BundleLoad[];
  /** The synthesized stack's receiver and one consumer, or why they were not measured. */
  readonly synthesized:
    | { readonly measured: true; readonly receiver: SynthesizedFunction; readonly consumer?: SynthesizedFunction; readonly synthSeconds: number }
    | { readonly measured: false; readonly reason: string };
  readonly receiverInit: Check;
  readonly receiverBundle: Check;
  /** Which bundle the targets were checked on. */
  readonly checkedOn: string;
}

interface Variant {
  readonly name: string;
  readonly file: string;
  readonly nodeOptions?: string;
}

/**
 * Section 4. Bundles the receiver with the SDK inside and with `@aws-sdk/*` left to the runtime
 * (resolved here from node_modules, as Lambda resolves it from its own copy), synthesizes the
 * stack when infra exists, and loads each bundle in fresh `node` processes, interleaved.
 */
export async function benchColdStart(options: { readonly processes: number; readonly synthTimeoutMs: number }): Promise<ColdStartResult> {
  const work = await mkdtemp(join(tmpdir(), 'webhook-bench-'));
  const { emulators, resources } = await startBenchEmulators();
  try {
    // Bare specifiers in an ESM bundle resolve from the bundle's folder upwards.
    await symlink(new URL('node_modules', REPO).pathname, join(work, 'node_modules'), 'dir');

    const variants: Variant[] = [];
    const sizes = new Map<string, { bundleBytes: number; gzipBytes: number; sourceMapBytes?: number }>();
    const bundle = async (name: string, folder: string, external: string[], sourcemap: boolean, nodeOptions?: string) => {
      const file = join(work, folder, 'index.mjs');
      await build({ ...ESBUILD_OPTIONS, entryPoints: [RECEIVER_ENTRY.pathname], outfile: file, external, sourcemap, mainFields: [...ESBUILD_OPTIONS.mainFields] });
      sizes.set(name, await sizeOf(file));
      variants.push({ name, file, ...(nodeOptions === undefined ? {} : { nodeOptions }) });
    };
    await bundle('esbuild, SDK bundled', 'bundled', [], false);
    await bundle('esbuild, @aws-sdk/* external', 'external', ['@aws-sdk/*'], false);
    // What the stack deploys today: a source map beside the bundle and NODE_OPTIONS=--enable-source-maps.
    await bundle('esbuild, SDK bundled, source map on', 'bundled-sourcemap', [], true, '--enable-source-maps');

    const synthesized = await synthesize(work, options.synthTimeoutMs);
    if (synthesized.measured) {
      const asset = synthesized.receiverFile;
      sizes.set('synthesized receiver asset', await sizeOf(asset));
      variants.push({ name: 'synthesized receiver asset', file: asset, ...(synthesized.nodeOptions === undefined ? {} : { nodeOptions: synthesized.nodeOptions }) });
    }

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
      ...Object.fromEntries(Object.values(PROVIDERS).map((provider) => [provider.secretEnv, provider.developmentSecret])),
    };

    const runs = new Map<string, Array<{ loadMs: number; firstInvokeMs: number; status: number }>>();
    for (let i = 0; i < options.processes; i++) {
      // Rotate the order so that no variant always runs right after another's page-cache warm-up.
      const order = variants.map((_, index) => variants[(index + i) % variants.length] as Variant);
      for (const variant of order) {
        const result = await loadOnce(variant, env);
        runs.set(variant.name, [...(runs.get(variant.name) ?? []), result]);
      }
    }

    const loads: BundleLoad[] = variants.map((variant) => {
      const results = runs.get(variant.name) ?? [];
      const statuses: Record<string, number> = {};
      for (const { status } of results) statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
      return {
        name: variant.name,
        ...(sizes.get(variant.name) as { bundleBytes: number; gzipBytes: number; sourceMapBytes?: number }),
        ...(variant.nodeOptions === undefined ? {} : { nodeOptions: variant.nodeOptions }),
        loadMs: round(median(results.map((r) => r.loadMs)), 1),
        firstInvokeMs: round(median(results.map((r) => r.firstInvokeMs)), 1),
        processes: results.length,
        statuses,
      };
    });
    const deployed = loads.find((load) => load.name === 'synthesized receiver asset') ?? (loads.find((load) => load.name === 'esbuild, SDK bundled, source map on') as BundleLoad);
    return {
      loads,
      synthesized: synthesized.measured
        ? { measured: true, receiver: synthesized.receiver, ...(synthesized.consumer === undefined ? {} : { consumer: synthesized.consumer }), synthSeconds: synthesized.synthSeconds }
        : { measured: false, reason: synthesized.reason },
      receiverInit: check(deployed.loadMs, 60, 'max'),
      receiverBundle: check(deployed.bundleBytes / 1000, 250, 'max'),
      checkedOn: deployed.name,
    };
  } finally {
    await emulators.stop();
    await rm(work, { recursive: true, force: true });
  }
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

async function loadOnce(variant: Variant, env: Record<string, string>): Promise<{ loadMs: number; firstInvokeMs: number; status: number }> {
  const event = deliveryEvent(buildDelivery({ provider: 'together', type: 'fine_tune.completed' }));
  const child = spawn(process.execPath, ['--input-type=module', '-e', LOADER], {
    env: {
      ...env,
      ...(variant.nodeOptions === undefined ? {} : { NODE_OPTIONS: variant.nodeOptions }),
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
    throw new Error(`loading ${variant.name} failed (exit ${code}):\n${stderr}`);
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
