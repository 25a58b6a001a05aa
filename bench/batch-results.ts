/**
 * `npm run bench:batch-results`: a 200 MiB batch output file, generated on the fly by the fake
 * Together API, copied by the `batch.completed` consumer as deployed (its entry bundled by
 * esbuild as `cdk deploy` bundles it, batch results on) into the emulated S3 bucket. The handler
 * runs in a plain Node process of its own, whose peak resident memory
 * (`process.resourceUsage().maxRSS`) must stay under 150 MB; the emulators, which keep the uploaded
 * object in memory, run here. The stored object is checked against the SHA-256 of what the fake
 * served. Exits 1 when either check fails.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { build } from 'esbuild';
import type { JobItem } from '../functions/core/table';
import { resultKeys } from '../functions/consumers/routes/batch-results';
import { BATCH_RESULTS_CONSUMER_ENTRY } from '../infra/constructs/batch-results';
import { ESM_REQUIRE_BANNER } from '../infra/constructs/bundled-function';
import { startFakeTogether } from '../local/fake-together';
import { quietSdkNodeWarning } from '../local/warnings';
import { normalizedEvent, sqsEvent, sqsRecord } from '../test/support/consumers';
import { startBenchEmulators } from './emulated';

/** The file: 819 200 lines of 256 bytes, 200 MiB. */
const LINES = 819_200;
const LINE_BYTES = 256;
/** The bound on the copying process's peak memory. */
export const MAX_PEAK_RSS_BYTES = 150 * 1_000_000;

const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

/** Loads the bundle, runs the handler on the event from stdin, prints its result and the memory it took. */
const DRIVER = `
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const { handler } = await import(process.argv[1]);
const rssBeforeBytes = process.memoryUsage().rss;
const started = performance.now();
const response = await handler(event, { getRemainingTimeInMillis: () => 900_000, functionName: 'bench', awsRequestId: 'bench' });
const durationMs = performance.now() - started;
const maxRssBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write('\\n@@RESULT@@' + JSON.stringify({ response, rssBeforeBytes, maxRssBytes, durationMs }) + '\\n', () => process.exit(0));
`;

interface DriverResult {
  readonly response: { batchItemFailures: unknown[] };
  readonly rssBeforeBytes: number;
  readonly maxRssBytes: number;
  readonly durationMs: number;
}

async function bundleConsumer(outdir: string): Promise<string> {
  const outfile = join(outdir, 'index.mjs');
  // The options of BundledFunction: one minified ESM file with the SDK inside.
  await build({
    entryPoints: [BATCH_RESULTS_CONSUMER_ENTRY],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    minify: true,
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

function runHandler(bundle: string, env: Record<string, string>, event: unknown): Promise<DriverResult> {
  const child = spawn(process.execPath, ['--input-type=module', '--eval', DRIVER, bundle], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-8_000)));
  child.stdin.end(JSON.stringify(event));
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      const line = stdout.split('\n').find((text) => text.startsWith('@@RESULT@@'));
      if (code !== 0 || line === undefined) reject(new Error(`the handler exited with ${code}\n${stderr}`));
      else resolve(JSON.parse(line.slice('@@RESULT@@'.length)) as DriverResult);
    });
  });
}

async function main(): Promise<void> {
  quietSdkNodeWarning();
  const outdir = mkdtempSync(join(tmpdir(), 'webhooks-bench-results-'));
  const { emulators, clients, resources } = await startBenchEmulators();
  const fake = await startFakeTogether();
  try {
    const bundle = await bundleConsumer(outdir);
    const batchId = `batch-bench-${randomUUID()}`;
    const outputFileId = `file-out-${batchId}`;
    fake.addFile(outputFileId, { lines: LINES, lineBytes: LINE_BYTES });
    fake.addFile(`file-err-${batchId}`, '{"custom_id":"request-7","error":{"message":"context length exceeded"}}\n');
    const event = normalizedEvent({
      type: 'batch.completed',
      providerType: 'batch.completed',
      subject: batchId,
      data: { batchId, outputFileId, errorFileId: `file-err-${batchId}` },
    });
    // The variables the stack gives the function, pointed at the emulators and the fake.
    const env = {
      PATH: process.env.PATH ?? '',
      XP: process.env.XP ?? '8', XQ: process.env.XQ ?? '4',
      ROUTE: 'batch.completed',
      TABLE_NAME: resources.eventsTable,
      JOBS_TABLE_NAME: resources.jobsTable,
      JOB_HISTORY_TABLE_NAME: resources.jobHistoryTable,
      ALERTS_TOPIC_ARN: resources.alertsTopicArn,
      RESULTS_BUCKET_NAME: resources.resultsBucket,
      CONSUMER_TIMEOUT_SECONDS: '900',
      TOGETHER_API_KEY: fake.apiKey,
      TOGETHER_API_BASE_URL: fake.url,
      POWERTOOLS_LOG_LEVEL: 'WARN',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamodbEndpoint,
      AWS_ENDPOINT_URL_S3: emulators.sqsEndpoint,
      AWS_ENDPOINT_URL_SNS: emulators.sqsEndpoint,
    };

    const result = await runHandler(bundle, env, sqsEvent(sqsRecord(event)));

    const { Body } = await clients.s3.send(new GetObjectCommand({ Bucket: resources.resultsBucket, Key: resultKeys(batchId).output }));
    const hash = createHash('sha256');
    for await (const chunk of Body as Readable) hash.update(chunk as Buffer);
    const stored = hash.digest('hex');
    const served = fake.served.find((file) => file.fileId === outputFileId);
    const { Item } = await clients.documents.send(new GetCommand({ TableName: resources.jobsTable, Key: { pk: `together#${batchId}` }, ConsistentRead: true }));
    const recorded = (Item as Partial<JobItem> | undefined)?.results?.output;

    const fileBytes = LINES * LINE_BYTES;
    const memoryOk = result.maxRssBytes < MAX_PEAK_RSS_BYTES;
    const identical = result.response.batchItemFailures.length === 0 && served !== undefined && stored === served.sha256 && recorded?.sha256 === stored;
    console.log(`batch results: a ${mb(fileBytes)} output file (${LINES.toLocaleString('en-US')} lines) from the fake Together API to the emulated S3 bucket,`);
    console.log(`copied by the bundled batch.completed consumer in its own Node ${process.version} process`);
    console.log(`  copy took ${(result.durationMs / 1000).toFixed(1)} s (${mb(fileBytes / (result.durationMs / 1000))}/s on the emulators)`);
    console.log(`  resident memory with the handler loaded ${mb(result.rssBeforeBytes)}, peak ${mb(result.maxRssBytes)} (bound ${mb(MAX_PEAK_RSS_BYTES)}) ${memoryOk ? 'met' : 'MISSED'}`);
    console.log(`  job item: ${recorded?.lines ?? '?'} lines, ${recorded?.bytes ?? '?'} bytes at ${recorded?.uri ?? '?'}`);
    console.log(`  stored object sha256 ${stored.slice(0, 16)}…, served ${served?.sha256.slice(0, 16) ?? 'nothing'}… ${identical ? 'identical' : 'DIFFERENT'}`);
    if (!memoryOk || !identical) process.exitCode = 1;
  } finally {
    await fake.stop();
    await emulators.stop();
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
