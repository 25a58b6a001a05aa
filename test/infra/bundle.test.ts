import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyStructuredResultV2, SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROVIDERS } from '../../functions/core/providers';
import { ROUTES, type Route } from '../../functions/core/routes';
import type { PollSummary } from '../../functions/poller/poll';
import { toSqsRecord } from '../../local/consumers';
import { buildDelivery } from '../../ops/deliveries';
import { startEmulators, type Emulators } from '../../local/emulators';
import { startFakeOpenAi } from '../../local/fake-openai';
import { batchScript, startFakeTogether } from '../../local/fake-together';
import { createLocalResources, createPollerTable, queueUrlMap, type LocalResources } from '../../local/resources';
import { localClients, type LocalClients } from '../../local/runtime';
import { ESM_REQUIRE_BANNER } from '../../infra/constructs/bundled-function';
import { BUNDLE_TARGET_KB } from '../../bench/coldstart';
import { DEFAULT_STACK_NAME } from '../../functions/core/stack-outputs';
import { acceptedRecord, normalizedEvent, sqsRecord } from '../support/consumers';
import { deliveryEvent } from '../support/gateway';

/**
 * The bundles as `cdk deploy` would upload them, loaded and invoked in fresh Node processes:
 * catches what type checks and in-process tests cannot (ESM/CJS interop, a dependency left out,
 * a top-level await, a missing environment variable). The SDK inside each bundle finds the
 * emulators through the standard AWS_ENDPOINT_URL_* variables, as it would find AWS.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cdkCli = join(repoRoot, 'node_modules', 'aws-cdk', 'bin', 'cdk');
const run = promisify(execFile);
const POLLER_TABLE_NAME = 'bundle-smoke-poller';

interface TemplateFunction {
  Properties: { Environment: { Variables: Record<string, unknown> }; Runtime: string; Handler: string };
  Metadata: Record<string, string>;
  /** The cloud assembly the function was read from (not a template field). */
  root: string;
}

let outdir: string;
let functions: TemplateFunction[];
/** The same app synthesized with `-c tracing=false`. */
let untracedOutdir: string;
let untracedFunctions: TemplateFunction[];
let emulators: Emulators;
let clients: LocalClients;
let resources: LocalResources;
/** A stand-in of Secrets Manager's GetSecretValue: no emulator here serves it. */
let secretsManager: Server;
/** What the stand-in answers for {@link OPENAI_SECRET_ARN}; each test that reads it sets it. */
let openAiKey = ' ';
const OPENAI_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:openai-api-key-AbCdEf';

/**
 * `cdk synth` as an operator runs it, with cdk.json, infra/app.ts, cdk-nag and local esbuild
 * bundling; the template's functions. `validate: false` leaves CDK's CloudFormation validation out
 * (its own switch, CDK_VALIDATION), for a variant whose templates other tests validate.
 */
async function synth(context: readonly string[], validate = true): Promise<{ outdir: string; functions: TemplateFunction[] }> {
  const root = mkdtempSync(join(tmpdir(), 'webhooks-synth-'));
  const contextArgs = context.flatMap((entry) => ['--context', entry]);
  await run(process.execPath, [cdkCli, 'synth', '--quiet', '--no-notices', ...contextArgs, '--output', root], {
    cwd: repoRoot,
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', ...(validate ? {} : { CDK_VALIDATION: 'false' }) },
    maxBuffer: 16 * 1024 * 1024,
  });
  const template = JSON.parse(readFileSync(join(root, `${DEFAULT_STACK_NAME}.template.json`), 'utf8')) as {
    Resources: Record<string, { Type: string } & Omit<TemplateFunction, 'root'>>;
  };
  const found = Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::Lambda::Function');
  return { outdir: root, functions: found.map((fn) => ({ ...fn, root })) };
}

beforeAll(async () => {
  // With Together polling and batch results on, so that the poller and the results step are bundled
  // too, and a steps module of the user's; and once more untraced, whose bundles leave the Tracer out
  // (the traced synth beside it and test/infra/control-tower.test.ts, untraced, validate its resources).
  const everything = ['togetherPolling=true', 'batchResults=true', `steps=${fileURLToPath(new URL('../support/bundle-steps.ts', import.meta.url))}`];
  const [traced, untraced] = await Promise.all([synth(everything), synth([...everything, 'tracing=false'], false)]);
  ({ outdir, functions } = traced);
  ({ outdir: untracedOutdir, functions: untracedFunctions } = untraced);
  emulators = await startEmulators({ dynamodbPort: 0, sqsPort: 0 });
  clients = localClients(emulators);
  resources = await createLocalResources(clients);
  await createPollerTable(clients.dynamodb, POLLER_TABLE_NAME);
  secretsManager = createServer(async (incoming, answer) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId?: string };
    const known = incoming.headers['x-amz-target'] === 'secretsmanager.GetSecretValue' && SecretId === OPENAI_SECRET_ARN;
    answer.writeHead(known ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
    answer.end(
      JSON.stringify(
        known
          ? { ARN: OPENAI_SECRET_ARN, Name: 'openai-api-key', SecretString: openAiKey, VersionId: 'v1', VersionStages: ['AWSCURRENT'] }
          : { __type: 'ResourceNotFoundException', message: 'Secrets Manager cannot find the specified secret.' },
      ),
    );
  });
  await new Promise<void>((resolve) => secretsManager.listen(0, '127.0.0.1', resolve));
}, 180_000);

afterAll(async () => {
  await new Promise((resolve) => secretsManager?.close(resolve));
  await emulators?.stop();
  for (const root of [outdir, untracedOutdir]) if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

function receiverFunction(from: readonly TemplateFunction[] = functions): TemplateFunction {
  const found = from.find((fn) => fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'receiver');
  if (found === undefined) throw new Error('no receiver function in the template');
  return found;
}

function consumerFunction(route: Route): TemplateFunction {
  const found = functions.find((fn) => fn.Properties.Environment.Variables.ROUTE === route);
  if (found === undefined) throw new Error(`no consumer function for ${route} in the template`);
  return found;
}

function bundlePath(fn: TemplateFunction): string {
  return join(fn.root, fn.Metadata['aws:asset:path'] as string, 'index.mjs');
}

/**
 * The function's environment from the template, with each CloudFormation reference replaced by
 * the local resource it stands for. A reference this does not know fails the test: a new
 * variable must be given a local value here.
 */
function localEnvironment(fn: TemplateFunction): Record<string, string> {
  const local: Record<string, string | undefined> = {
    TABLE_NAME: resources.eventsTable,
    JOBS_TABLE_NAME: resources.jobsTable,
    JOB_HISTORY_TABLE_NAME: resources.jobHistoryTable,
    ALERTS_TOPIC_ARN: resources.alertsTopicArn,
    QUEUE_URLS: JSON.stringify(queueUrlMap(resources)),
    // Without SECRET_ARNS the receiver reads each provider's secrets from {NAME}_WEBHOOK_SECRET:
    // there is no Secrets Manager emulator here.
    SECRET_ARNS: undefined,
    POLLER_TABLE_NAME,
    RESULTS_BUCKET_NAME: resources.resultsBucket,
    // Likewise the poller takes its key from TOGETHER_API_KEY when this is unset.
    TOGETHER_API_KEY_SECRET_ARN: undefined,
    // The enricher turns on with this alone; its key comes from the Secrets Manager stand-in.
    OPENAI_API_KEY_SECRET_ARN: OPENAI_SECRET_ARN,
  };
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.Properties.Environment.Variables)) {
    if (typeof value === 'string') {
      env[name] = value;
    } else if (name in local) {
      const replacement = local[name];
      if (replacement !== undefined) env[name] = replacement;
    } else {
      throw new Error(`no local value for ${name}, a reference in the template: ${JSON.stringify(value)}`);
    }
  }
  return env;
}

/**
 * `*.localhost` resolves to loopback (RFC 6761) on most systems but not in this container. The
 * SDK sends each SQS call to the host of its queue URL, and the emulator's queue URLs are
 * `sqs.{region}.localhost`, so the child gets a resolver that follows the RFC.
 */
const RESOLVE_LOCALHOST =
  "import dns from 'node:dns';" +
  'const lookup = dns.lookup;' +
  'dns.lookup = (name, options, callback) => {' +
  "  if (typeof options === 'function') { callback = options; options = {}; }" +
  "  if (typeof options === 'number') options = { family: options };" +
  "  if (!name.endsWith('.localhost')) return lookup(name, options, callback);" +
  "  if (options.all) return process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);" +
  "  process.nextTick(callback, null, '127.0.0.1', 4);" +
  '};';

/** Loads the bundle in a fresh process, calls `handler(event, context)` once, returns its result. */
const INVOKE = `
import { pathToFileURL } from 'node:url';
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const deadline = Date.now() + 30_000;
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:' + process.env.AWS_LAMBDA_FUNCTION_NAME,
  memoryLimitInMB: '256', awsRequestId: crypto.randomUUID(), logGroupName: 'local', logStreamName: 'local',
  callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => deadline - Date.now(),
};
const { handler } = await import(pathToFileURL(process.argv[1]).href);
const result = await handler(event, context);
process.stdout.write('\\n${'@@RESULT@@'}' + JSON.stringify(result ?? null) + '\\n', () => process.exit(0));
`;

async function invokeBundle<T>(fn: TemplateFunction, event: unknown, extraEnv: Record<string, string> = {}): Promise<T> {
  const env = {
    PATH: process.env.PATH ?? '',
    ...localEnvironment(fn),
    ...extraEnv,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamodbEndpoint,
    AWS_ENDPOINT_URL_SQS: emulators.sqsEndpoint,
    AWS_ENDPOINT_URL_SNS: emulators.sqsEndpoint,
    AWS_ENDPOINT_URL_S3: emulators.sqsEndpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(secretsManager.address() as AddressInfo).port}`,
    AWS_LAMBDA_FUNCTION_NAME: `bundle-smoke-${randomUUID().slice(0, 8)}`,
  };
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', '--import', `data:text/javascript,${encodeURIComponent(RESOLVE_LOCALHOST)}`, '--input-type=module', '--eval', INVOKE, bundlePath(fn)],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(JSON.stringify(event));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const line = stdout.split('\n').find((text) => text.startsWith('@@RESULT@@'));
  if (code !== 0 || line === undefined) {
    throw new Error(`the bundle exited with ${code} and no result\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
  }
  return JSON.parse(line.slice('@@RESULT@@'.length)) as T;
}

/** The local secret variables: each provider's development secret, which buildDelivery signs with. */
const developmentSecrets = Object.fromEntries(Object.values(PROVIDERS).map((provider) => [provider.secretEnv, provider.developmentSecret]));

/** The trace of an invocation in {@link sendMessageHeaders}: its root, and the function's segment. */
const TRACE_ROOT = '1-5759e988-bd862e3fe1be46a994272793';
const TRACE_PARENT = '53995c3f42cd8ad8';

/**
 * Invokes the receiver bundle as Lambda would with active tracing (its trace header in
 * `_X_AMZN_TRACE_ID`), its SQS calls through a proxy that notes their headers (no emulator turns the
 * header into AWSTraceHeader), and returns the headers of its SendMessage calls.
 */
async function sendMessageHeaders(extraEnv: Record<string, string>, receiver: TemplateFunction = receiverFunction()): Promise<IncomingHttpHeaders[]> {
  return (await sendMessageCalls(extraEnv, receiver)).map((call) => call.headers);
}

/** One SendMessage call the receiver made: its HTTP headers and its JSON body. */
interface SendMessageCall {
  readonly headers: IncomingHttpHeaders;
  readonly body: { MessageSystemAttributes?: Record<string, { DataType: string; StringValue: string }> };
}

/** As {@link sendMessageHeaders}, with each SendMessage's body beside its headers. */
async function sendMessageCalls(extraEnv: Record<string, string>, receiver: TemplateFunction = receiverFunction()): Promise<SendMessageCall[]> {
  const seen: SendMessageCall[] = [];
  const sqs = new URL(emulators.sqsEndpoint);
  let proxyPort = '';
  const proxy = createServer(async (incoming, answer) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    seen.push({ headers: incoming.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') });
    // The emulator knows its queues by their URLs, with its own port.
    const body = Buffer.from(Buffer.concat(chunks).toString('utf8').replaceAll(`:${proxyPort}/`, `:${sqs.port}/`));
    const headers = { ...incoming.headers, 'content-length': String(body.length) };
    const forwarded = httpRequest({ host: sqs.hostname, port: sqs.port, method: incoming.method, path: incoming.url, headers }, (upstream) => {
      answer.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(answer);
    });
    forwarded.end(body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyPort = String((proxy.address() as AddressInfo).port);
  const viaProxy = Object.fromEntries(Object.entries(queueUrlMap(resources)).map(([route, url]) => [route, url.replace(`:${sqs.port}/`, `:${proxyPort}/`)]));
  const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed' });
  try {
    const response = await invokeBundle<APIGatewayProxyStructuredResultV2>(receiver, deliveryEvent(delivery), {
      ...developmentSecrets,
      QUEUE_URLS: JSON.stringify(viaProxy),
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      LAMBDA_TASK_ROOT: outdir,
      _HANDLER: 'index.handler',
      _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=${TRACE_PARENT};Sampled=1`,
      // Segments go to a port nobody listens on.
      AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:9',
      ...extraEnv,
    });
    if (response.statusCode !== 200) throw new Error(`the receiver answered ${response.statusCode}: ${response.body ?? ''}`);
    return seen.filter((call) => String(call.headers['x-amz-target'] ?? '').endsWith('.SendMessage'));
  } finally {
    await new Promise((resolve) => proxy.close(resolve));
    const queueUrl = resources.queues['fine_tune.completed'].url;
    const { Messages = [] } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const message of Messages) await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
  }
}

describe('bundles from cdk synth', () => {
  it('are minified ES modules with source maps, on the runtime the template names', () => {
    const assets = new Set(functions.map((fn) => fn.Metadata['aws:asset:path']));
    for (const fn of functions) expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler' });
    for (const asset of assets) {
      const bundle = readFileSync(join(outdir, asset as string, 'index.mjs'), 'utf8');
      expect(bundle.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
      // Minified: a few long lines (the remaining line breaks are inside template literals).
      expect(bundle.length / bundle.split('\n').length).toBeGreaterThan(2_000);
      expect(bundle.trimEnd().endsWith('//# sourceMappingURL=index.mjs.map')).toBe(true);
      expect(existsSync(join(outdir, asset as string, 'index.mjs.map'))).toBe(true);
    }
  });

  it('carry only the English zod messages: zod/mini with its English locale, the other locales dropped', () => {
    for (const asset of new Set(functions.map((fn) => fn.Metadata['aws:asset:path']))) {
      const bundle = readFileSync(join(outdir, asset as string, 'index.mjs'), 'utf8');
      // Booleans, not the bundle: a failure would print megabytes of it.
      expect(bundle.includes('Invalid input: expected'), `${asset} has the English messages`).toBe(true);
      // From zod's German locale ("Ungültige Eingabe", escaped to ASCII by esbuild); any other
      // locale would be as good a witness.
      expect(bundle.includes('ltige Eingabe'), `${asset} has another locale`).toBe(false);
    }
  });

  it('resolve the credential chain to the environment provider only: no SSO, STS or metadata-service clients', () => {
    for (const asset of new Set(functions.map((fn) => fn.Metadata['aws:asset:path']))) {
      const bundle = readFileSync(join(outdir, asset as string, 'index.mjs'), 'utf8');
      // Witnesses of the default chain's other links: STS web identity, SSO, the container endpoint.
      for (const witness of ['AssumeRoleWithWebIdentity', 'GetRoleCredentials', 'AWS_CONTAINER_CREDENTIALS_FULL_URI']) {
        expect(bundle.includes(witness), `${asset} contains ${witness}`).toBe(false);
      }
      expect(bundle.includes('AWS_SECRET_ACCESS_KEY'), `${asset} reads credentials from the environment`).toBe(true);
    }
  });

  it('builds one consumer bundle that every route shares, and one of its own for the batch results consumers (batch.completed, and batch.expired serving OpenAI)', () => {
    const asset = (route: Route) => consumerFunction(route).Metadata['aws:asset:path'];
    const consumerAssets = new Set(ROUTES.filter((route) => route !== 'batch.completed' && route !== 'batch.expired').map(asset));

    expect(consumerAssets.size).toBe(1);
    expect(consumerAssets.has(receiverFunction().Metadata['aws:asset:path'])).toBe(false);
    expect(consumerAssets.has(asset('batch.completed'))).toBe(false);
    expect(asset('batch.expired')).toBe(asset('batch.completed'));
    // The shared bundle carries no S3 client: only the function that copies results pays for it.
    expect(readFileSync(bundlePath(consumerFunction('fine_tune.failed')), 'utf8')).not.toContain('CreateMultipartUpload');
    expect(readFileSync(bundlePath(consumerFunction('batch.completed')), 'utf8')).toContain('CreateMultipartUpload');
  });

  it('receiver accepts a signed delivery and puts the event on its route queue', async () => {
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed' });

    const response = await invokeBundle<APIGatewayProxyStructuredResultV2>(receiverFunction(), deliveryEvent(delivery), developmentSecrets);

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? '{}')).toMatchObject({ status: 'accepted', key: `together#${delivery.id}` });
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: resources.queues['fine_tune.completed'].url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages.map((message) => JSON.parse(message.Body ?? '{}').id)).toEqual([delivery.id]);
  });

  it('receiver sends the X-Ray trace header with SendMessage when traced, from its own SQS subsegment, so SQS keeps it as AWSTraceHeader', async () => {
    const sends = await sendMessageHeaders({});

    expect(sends).toHaveLength(1);
    const header = String(sends[0]?.['x-amzn-trace-id']);
    expect(header).toMatch(new RegExp(`^Root=${TRACE_ROOT};Parent=[0-9a-f]{16};Sampled=1`));
    expect(header).not.toContain(`Parent=${TRACE_PARENT}`);
  });

  it('[LEAN-B] receiver’s SendMessage carries the invocation’s trace as its AWSTraceHeader attribute, the same header as the call’s, when _X_AMZN_TRACE_ID is set', async () => {
    const sends = await sendMessageCalls({});

    expect(sends).toHaveLength(1);
    const attribute = sends[0]?.body.MessageSystemAttributes?.AWSTraceHeader;
    expect(attribute?.DataType).toBe('String');
    expect(attribute?.StringValue).toMatch(new RegExp(`^Root=${TRACE_ROOT};Parent=[0-9a-f]{16};Sampled=1$`));
    expect(attribute?.StringValue).toBe(sends[0]?.headers['x-amzn-trace-id']);
  });

  it('[LEAN-B] traced receiver sends the X-Ray daemon a subsegment for each SDK call, its SendMessage’s under Lambda’s function segment', async () => {
    const daemon = createSocket('udp4');
    const documents: Record<string, unknown>[] = [];
    daemon.on('message', (message) => documents.push(JSON.parse(message.toString('utf8').split('\n')[1] ?? '{}')));
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    try {
      const sends = await sendMessageCalls({ AWS_XRAY_DAEMON_ADDRESS: `udp:127.0.0.1:${daemon.address().port} tcp:127.0.0.1:9` });
      // The datagrams left the child before it exited; the socket reads them on its next turns.
      await vi.waitFor(() => expect(documents.map((document) => document.name).sort()).toEqual(['DynamoDB', 'DynamoDB', 'SQS']), { timeout: 5_000 });

      const parent = /Parent=([0-9a-f]{16})/.exec(String(sends[0]?.headers['x-amzn-trace-id']))?.[1];
      expect(documents.find((document) => document.name === 'SQS')).toMatchObject({
        type: 'subsegment',
        id: parent,
        trace_id: TRACE_ROOT,
        parent_id: TRACE_PARENT,
        namespace: 'aws',
        aws: { operation: 'SendMessage' },
        http: { response: { status: 200 } },
      });
      expect(documents.filter((document) => document.name === 'DynamoDB').map((document) => (document.aws as { operation: string }).operation)).toEqual(['PutItem', 'UpdateItem']);
    } finally {
      daemon.close();
    }
  });

  it('receiver with tracing off patches nothing: the SDK passes on Lambda’s own trace header unchanged', async () => {
    const sends = await sendMessageCalls({ POWERTOOLS_TRACE_ENABLED: 'false' });

    expect(sends).toHaveLength(1);
    expect(sends[0]?.headers['x-amzn-trace-id']).toBe(`Root=${TRACE_ROOT};Parent=${TRACE_PARENT};Sampled=1`);
    expect(sends[0]?.body.MessageSystemAttributes).toBeUndefined();
  });

  it('untraced (-c tracing=false), every bundle leaves the Tracer and the X-Ray SDK out; traced, every one but the receiver’s carries them', () => {
    // A variable only the X-Ray SDK reads: a witness of its code in a bundle.
    const witness = 'AWS_XRAY_CONTEXT_MISSING';
    const receiverAsset = receiverFunction().Metadata['aws:asset:path'];
    for (const fn of functions) {
      const traced = fn.Metadata['aws:asset:path'] !== receiverAsset;
      expect(readFileSync(bundlePath(fn), 'utf8').includes(witness), `${bundlePath(fn)} has the X-Ray SDK`).toBe(traced);
    }
    for (const fn of untracedFunctions) {
      expect(fn.Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED).toBe('false');
      expect(readFileSync(bundlePath(fn), 'utf8').includes(witness), `${bundlePath(fn)} has the X-Ray SDK`).toBe(false);
    }
  });

  it('[LEAN-B] receiver bundle is at most 350 KB, traced and untraced, with the SDK code it never runs left out', () => {
    for (const receiver of [receiverFunction(), receiverFunction(untracedFunctions)]) {
      const bundle = readFileSync(bundlePath(receiver), 'utf8');

      expect(Buffer.byteLength(bundle), bundlePath(receiver)).toBeLessThanOrEqual(BUNDLE_TARGET_KB * 1000);
      // Witnesses of the stubbed modules: the event-stream header, SHA-256's and MD5's first words
      // (0x6a09e667, 0x67452301) in the JavaScript hashes, endpoint discovery's variable.
      for (const witness of [':message-type', '1779033703', '1732584193', 'AWS_ENABLE_ENDPOINT_DISCOVERY']) expect(bundle.includes(witness), `${bundlePath(receiver)} has ${witness}`).toBe(false);
    }
  });

  it('[SLIM] receiver bundle leaves out the providers’ sample deliveries, which the sample sender still sends', () => {
    // One string of each provider's samples (OpenAI's and Standard's share theirs), found in what
    // `webhooks send` signs and sends, so a witness that left the samples cannot pass unnoticed.
    const witnesses = [
      { provider: 'together', type: 'fine_tune.completed', witness: 'acme/llama-3-8b-support-v2' },
      { provider: 'llmtune', type: 'training.completed', witness: 'ionet-finetune-model-id' },
      { provider: 'mythicdot', type: 'fine_tuning.job.failed', witness: 'training data has 3 invalid rows' },
      { provider: 'openai', type: 'eval.run.succeeded', witness: 'evalrun' },
      { provider: 'replicate', type: 'training.succeeded', witness: 'acme/flux-support-style' },
    ] as const;
    const sent = witnesses.map(({ provider, type }) => buildDelivery({ provider, type }).body.toString('utf8'));

    witnesses.forEach(({ witness }, index) => expect(sent[index], witness).toContain(witness));
    for (const receiver of [receiverFunction(), receiverFunction(untracedFunctions)]) {
      const bundle = readFileSync(bundlePath(receiver), 'utf8');
      for (const { witness } of witnesses) expect(bundle.includes(witness), `${bundlePath(receiver)} has ${witness}`).toBe(false);
    }
  });

  it('untraced receiver bundle accepts a signed delivery and passes on Lambda’s own trace header unchanged', async () => {
    const sends = await sendMessageHeaders({}, receiverFunction(untracedFunctions));

    expect(sends).toHaveLength(1);
    expect(sends[0]?.['x-amzn-trace-id']).toBe(`Root=${TRACE_ROOT};Parent=${TRACE_PARENT};Sampled=1`);
  });

  it('receiver answers a method other than POST itself, with 405 and a JSON body', async () => {
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed' });

    const response = await invokeBundle<APIGatewayProxyStructuredResultV2>(
      receiverFunction(),
      deliveryEvent(delivery, { method: 'GET' }),
      developmentSecrets,
    );

    expect(response.statusCode).toBe(405);
    expect(() => JSON.parse(response.body ?? '')).not.toThrow();
  });

  it('consumer handles a batch from its queue, marks the event handled and publishes its alert', async () => {
    const route = 'fine_tune.failed';
    const delivery = buildDelivery({ provider: 'together', type: route });
    const accepted = await invokeBundle<APIGatewayProxyStructuredResultV2>(receiverFunction(), deliveryEvent(delivery), developmentSecrets);
    expect(accepted.statusCode).toBe(200);
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: resources.queues[route].url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages).toHaveLength(1);

    const result = await invokeBundle<SQSBatchResponse>(consumerFunction(route), {
      Records: Messages.map((message) => toSqsRecord(message, resources.queues[route].arn)),
    });

    expect(result).toEqual({ batchItemFailures: [] });
    const { Item } = await clients.documents.send(
      new GetCommand({ TableName: resources.eventsTable, Key: { pk: `together#${delivery.id}` }, ConsistentRead: true }),
    );
    expect(Item?.status).toBe('handled');
    const alerts = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: resources.alertsQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(alerts.Messages?.map((message) => message.Body)).toEqual([expect.stringContaining('failed')]);
  });

  it('[PKG] consumer runs the step of the steps module given to the synth (-c steps=…) after its built-in ones', async () => {
    const route = 'model.deployed';
    const event = normalizedEvent({ type: route, providerType: 'model.deployed', data: { modelId: 'acme/deployed-model' } } as never);
    await acceptedRecord({ clients, resources }, event);
    const marks = join(outdir, 'step-marks.txt');

    const result = await invokeBundle<SQSBatchResponse>(consumerFunction(route), { Records: [sqsRecord(event)] }, { STEP_MARK_FILE: marks });

    expect(result).toEqual({ batchItemFailures: [] });
    expect(readFileSync(marks, 'utf8')).toBe(`${event.provider}#${event.id} acme/deployed-model\n`);
  });

  it('consumer with EVENT_BUS_NAME puts the handled event on the bus with PutEvents', async () => {
    // No emulator serves EventBridge: a fake endpoint that accepts every entry and notes it.
    const puts: { Entries: { Source: string; DetailType: string; Detail: string; EventBusName: string }[] }[] = [];
    const eventBridge = createServer(async (incoming, answer) => {
      const chunks: Buffer[] = [];
      for await (const chunk of incoming) chunks.push(chunk as Buffer);
      puts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      answer.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      answer.end(JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: 'eb-1' }] }));
    });
    await new Promise<void>((resolve) => eventBridge.listen(0, '127.0.0.1', resolve));
    const route = 'fine_tune.completed';
    const delivery = buildDelivery({ provider: 'together', type: route });
    try {
      const accepted = await invokeBundle<APIGatewayProxyStructuredResultV2>(receiverFunction(), deliveryEvent(delivery), developmentSecrets);
      expect(accepted.statusCode).toBe(200);
      const { Messages = [] } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: resources.queues[route].url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));

      const result = await invokeBundle<SQSBatchResponse>(
        consumerFunction(route),
        { Records: Messages.map((message) => toSqsRecord(message, resources.queues[route].arn)) },
        { EVENT_BUS_NAME: 'webhooks-bus', AWS_ENDPOINT_URL_EVENTBRIDGE: `http://127.0.0.1:${(eventBridge.address() as AddressInfo).port}` },
      );

      expect(result).toEqual({ batchItemFailures: [] });
      expect(puts.flatMap((put) => put.Entries.map(({ Source, DetailType, EventBusName }) => ({ Source, DetailType, EventBusName })))).toEqual([
        { Source: 'ai-webhooks.together', DetailType: route, EventBusName: 'webhooks-bus' },
      ]);
      expect(JSON.parse(puts[0]?.Entries[0]?.Detail ?? '{}')).toMatchObject({ id: delivery.id, type: route });
    } finally {
      await new Promise((resolve) => eventBridge.close(resolve));
      }
    });

  it('batch.completed consumer copies a completed Together batch’s files into the results bucket', async () => {
    const together = await startFakeTogether();
    try {
      const batchId = `batch-${randomUUID()}`;
      together.addBatch(batchId, batchScript(batchId, 'COMPLETED'));
      const event = normalizedEvent({
        type: 'batch.completed',
        providerType: 'batch.completed',
        subject: batchId,
        data: { batchId, outputFileId: `file-out-${batchId}`, errorFileId: `file-err-${batchId}` },
      });
      // As the receiver accepts it: a consumer refuses a message whose event has no record.
      await acceptedRecord({ clients, resources }, event);

      const result = await invokeBundle<SQSBatchResponse>(consumerFunction('batch.completed'), { Records: [sqsRecord(event)] }, { TOGETHER_API_KEY: together.apiKey, TOGETHER_API_BASE_URL: together.url });

      expect(result).toEqual({ batchItemFailures: [] });
      const { Item } = await clients.documents.send(new GetCommand({ TableName: resources.jobsTable, Key: { pk: `together#${batchId}` }, ConsistentRead: true }));
      expect(Item?.results?.output).toMatchObject({ uri: `s3://${resources.resultsBucket}/together/batches/${batchId}/output.jsonl`, lines: 3 });
      const stored = await clients.s3.send(new GetObjectCommand({ Bucket: resources.resultsBucket, Key: `together/batches/${batchId}/errors.jsonl` }));
      expect(createHash('sha256').update(await stored.Body!.transformToString()).digest('hex')).toBe(together.served.find((file) => file.fileId === `file-err-${batchId}`)?.sha256);
    } finally {
      await together.stop();
    }
  });

  it('[P-OAI2] consumer with the enricher on (OPENAI_API_KEY_SECRET_ARN, as the stack sets it) completes an OpenAI event from a stand-in of the API: the model name is filled', async () => {
    const openai = await startFakeOpenAi();
    openAiKey = openai.apiKey;
    try {
      const route = 'fine_tune.completed';
      const fn = consumerFunction(route);
      expect(fn.Properties.Environment.Variables.OPENAI_API_KEY_SECRET_ARN).toEqual({ Ref: expect.any(String) });
      const { job } = openai.createJob({ outcome: 'succeeded', steps: 4, checkpointEvery: 2 });
      const event = normalizedEvent({ type: route, provider: 'openai', providerType: 'fine_tuning.job.succeeded', subject: job.id, data: { jobId: job.id }, providerData: { id: job.id } } as never);
      await acceptedRecord({ clients, resources }, event);

      const result = await invokeBundle<SQSBatchResponse>(fn, { Records: [sqsRecord(event)] }, { OPENAI_API_BASE_URL: openai.url });

      expect(result).toEqual({ batchItemFailures: [] });
      const { Item } = await clients.documents.send(new GetCommand({ TableName: resources.jobsTable, Key: { pk: `openai#${job.id}` }, ConsistentRead: true }));
      expect(Item?.model).toBe(job.fine_tuned_model);
      expect(openai.requestsTo(`/fine_tuning/jobs/${job.id}`).map((request) => request.authorized)).toEqual([true]);
    } finally {
      openAiKey = ' ';
      await openai.stop();
    }
  });

  it('poller polls Together once and puts a finished batch on its route queue', async () => {
    const together = await startFakeTogether();
    try {
      together.addBatch('batch-smoke', batchScript('batch-smoke', 'COMPLETED'));
      together.finish('batch-smoke');
      const poller = functions.find((fn) => fn.Properties.Environment.Variables.POLLER_TABLE_NAME !== undefined);
      if (poller === undefined) throw new Error('no poller function in the template');

      const summary = await invokeBundle<PollSummary>(poller, {}, { TOGETHER_API_KEY: together.apiKey, TOGETHER_API_BASE_URL: together.url });

      expect(summary).toMatchObject({ accepted: 1, apiErrors: 0 });
      const { Messages = [] } = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: resources.queues['batch.completed'].url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      expect(Messages.map((message) => JSON.parse(message.Body ?? '{}').subject)).toEqual(['batch-smoke']);
    } finally {
      await together.stop();
    }
  });
});
