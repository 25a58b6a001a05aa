import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { closedPort } from '../support/net';
import { createSocket } from 'node:dgram';
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { daemonAddress, parseTraceHeader, sdkCallTracing, type SubsegmentDocument } from '../../functions/core/sdk-tracing';
import { createSdkCallTracer, createTracer } from '../../functions/core/tracing';

const ROOT = '1-5759e988-bd862e3fe1be46a994272793';
const PARENT = '53995c3f42cd8ad8';
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/fine-tune-completed';

interface Seen {
  readonly headers: IncomingHttpHeaders;
  readonly body: { MessageBody: string; MessageSystemAttributes?: Record<string, { DataType: string; StringValue: string }> };
}

/** An SQS endpoint speaking the JSON protocol: answers SendMessage (and GetQueueUrl), or the status it is told to. */
let server: Server;
let endpoint: string;
const seen: Seen[] = [];
let answerStatus = 200;
/** Statuses to answer before answerStatus, one per request. */
const nextStatuses: number[] = [];

beforeAll(async () => {
  server = createServer(async (incoming, answer) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Seen['body'];
    seen.push({ headers: incoming.headers, body });
    const status = nextStatuses.shift() ?? answerStatus;
    answer.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'req-1' });
    answer.end(
      status !== 200
        ? JSON.stringify({ __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'no such queue' })
        : body.MessageBody === undefined
          ? JSON.stringify({ QueueUrl: QUEUE_URL })
          : JSON.stringify({ MessageId: 'msg-1', MD5OfMessageBody: createHash('md5').update(body.MessageBody).digest('hex') }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** An SQS client with the plugin, the invocation's header given, and the subsegments it emits. */
function tracedClient(traceHeader: string | undefined, settings: { endpoint?: string; maxAttempts?: number; region?: () => Promise<string> } = {}) {
  const emitted: SubsegmentDocument[] = [];
  const ids = ['a1b2c3d4e5f60718', 'b1b2c3d4e5f60718'];
  const client = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1, ...settings });
  const plugin = sdkCallTracing({
    traceHeader: () => traceHeader,
    emit: (subsegment) => emitted.push(subsegment),
    nowSeconds: () => 1_700_000_000.5,
    newId: () => ids.shift() ?? 'ffffffffffffffff',
  });
  client.middlewareStack.use(plugin as never);
  return { client, emitted, plugin };
}

const send = (client: SQSClient) => client.send(new SendMessageCommand({ QueueUrl: QUEUE_URL, MessageBody: '{"id":"evt_1"}' }));

describe('SDK call tracing without the X-Ray SDK', () => {
  it('[LEAN-B] a sampled invocation’s SendMessage carries a header pointing at its own subsegment, as HTTP header and AWSTraceHeader attribute', async () => {
    const { client } = tracedClient(`Root=${ROOT};Parent=${PARENT};Sampled=1;Lineage=a87bd80c:1`);
    seen.length = 0;

    await send(client);

    const expected = `Root=${ROOT};Parent=a1b2c3d4e5f60718;Sampled=1;Lineage=a87bd80c:1`;
    expect(seen[0]?.headers['x-amzn-trace-id']).toBe(expected);
    expect(seen[0]?.body.MessageSystemAttributes).toEqual({ AWSTraceHeader: { DataType: 'String', StringValue: expected } });
  });

  it('[LEAN-B] a sampled call is sent to the daemon as a subsegment of the function’s segment, with its operation, queue and status', async () => {
    const { client, emitted } = tracedClient(`Root=${ROOT};Parent=${PARENT};Sampled=1`);

    await send(client);

    expect(emitted).toStrictEqual([
      {
        type: 'subsegment',
        id: 'a1b2c3d4e5f60718',
        trace_id: ROOT,
        parent_id: PARENT,
        name: 'SQS',
        namespace: 'aws',
        start_time: 1_700_000_000.5,
        end_time: 1_700_000_000.5,
        aws: { operation: 'SendMessage', queue_url: QUEUE_URL, request_id: 'req-1', retries: 0 },
        http: { response: { status: 200 } },
      },
    ]);
  });

  it('[LEAN-B] a failed call is recorded with its status and error flag, and its error still reaches the caller', async () => {
    const { client, emitted } = tracedClient(`Root=${ROOT};Parent=${PARENT};Sampled=1`);
    answerStatus = 400;
    try {
      await expect(send(client)).rejects.toThrow('no such queue');
    } finally {
      answerStatus = 200;
    }

    expect(emitted[0]).toMatchObject({ http: { response: { status: 400 } }, error: true });
    expect(emitted[0]?.fault).toBeUndefined();
  });

  it('[RULE] the fields after Root, Parent and Sampled are passed on in their order', async () => {
    const { client } = tracedClient(`Root=${ROOT};Parent=${PARENT};Sampled=1;Lineage=a87bd80c:1;Self=1-abc`);
    seen.length = 0;

    await send(client);

    expect(seen[0]?.headers['x-amzn-trace-id']).toBe(`Root=${ROOT};Parent=a1b2c3d4e5f60718;Sampled=1;Lineage=a87bd80c:1;Self=1-abc`);
  });

  it.each([
    [429, { http: { response: { status: 429 } }, throttle: true, error: true }],
    [500, { http: { response: { status: 500 } }, fault: true }],
    [503, { http: { response: { status: 503 } }, fault: true }],
  ])('[RULE] an answer %i is recorded as X-Ray counts it (throttle, error, fault)', async (status, flags) => {
    const { client, emitted } = tracedClient(`Root=${ROOT};Parent=${PARENT};Sampled=1`);
    nextStatuses.push(status);

    await expect(send(client)).rejects.toThrow();

    const { type: _type, id: _id, trace_id: _trace, parent_id: _parent, name: _name, namespace: _namespace, start_time: _start, end_time: _end, aws: _aws, ...recorded } = emitted[0] ?? ({} as SubsegmentDocument);
    expect(recorded).toStrictEqual(flags);
  });

  it('[RULE] a call that never reached the service is an error with no HTTP status, and its own error reaches the caller', async () => {
    const { client, emitted } = tracedClient(`Root=${ROOT};Parent=${PARENT};Sampled=1`, { endpoint: `http://127.0.0.1:${await closedPort()}` });

    await expect(send(client)).rejects.toThrow(/ECONNREFUSED/);

    expect(emitted).toHaveLength(1);
    expect(emitted[0]).toStrictEqual({
      type: 'subsegment',
      id: 'a1b2c3d4e5f60718',
      trace_id: ROOT,
      parent_id: PARENT,
      name: 'SQS',
      namespace: 'aws',
      start_time: 1_700_000_000.5,
      end_time: 1_700_000_000.5,
      aws: { operation: 'SendMessage', queue_url: QUEUE_URL, retries: 0 },
      error: true,
    });
  });

  it('[RULE] a call that fails before it is sent (no region to send it to) is recorded as an error, and its own error reaches the caller', async () => {
    const { client, emitted } = tracedClient(`Root=${ROOT};Parent=${PARENT};Sampled=1`, { region: () => Promise.reject(new Error('no region configured')) });

    await expect(send(client)).rejects.toThrow('no region configured');

    expect(emitted).toHaveLength(1);
    expect(emitted[0]).toMatchObject({ error: true, aws: { operation: 'SendMessage', retries: 0 } });
    expect(emitted[0]?.http).toBeUndefined();
  });

  it('[RULE] a call the SDK retried is one subsegment that counts its retries', async () => {
    const { client, emitted } = tracedClient(`Root=${ROOT};Parent=${PARENT};Sampled=1`, { maxAttempts: 2 });
    nextStatuses.push(500);

    await send(client);

    expect(emitted).toHaveLength(1);
    expect(emitted[0]?.aws).toMatchObject({ retries: 1 });
    expect(emitted[0]?.http).toEqual({ response: { status: 200 } });
  });

  it('[RULE] a client traced twice still records each call once, with one trace header', async () => {
    const { client, emitted, plugin } = tracedClient(`Root=${ROOT};Parent=${PARENT};Sampled=1`);
    client.middlewareStack.use(plugin as never);
    seen.length = 0;

    await send(client);

    expect(emitted).toHaveLength(1);
    expect(seen[0]?.headers['x-amzn-trace-id']).toBe(`Root=${ROOT};Parent=${emitted[0]?.id};Sampled=1`);
  });

  it('[RULE] only SendMessage gets the AWSTraceHeader attribute: another operation’s input is sent as the caller wrote it', async () => {
    const { client, emitted } = tracedClient(`Root=${ROOT};Parent=${PARENT};Sampled=1`);
    const command = new GetQueueUrlCommand({ QueueName: 'fine-tune-completed' });

    await client.send(command);

    expect(command.input).toStrictEqual({ QueueName: 'fine-tune-completed' });
    expect(emitted[0]?.aws).toMatchObject({ operation: 'GetQueueUrl' });
  });

  it('[LEAN-B] an unsampled invocation, or none, adds nothing: no attribute, no subsegment', async () => {
    for (const header of [`Root=${ROOT};Parent=${PARENT};Sampled=0`, `Parent=${PARENT};Sampled=1`, `Root=${ROOT};Sampled=1`, undefined]) {
      const { client, emitted } = tracedClient(header);
      seen.length = 0;

      await send(client);

      expect(seen[0]?.body.MessageSystemAttributes).toBeUndefined();
      expect(emitted).toEqual([]);
    }
  });

  it('[LEAN-B] reads the trace header’s fields and the daemon’s address in the forms Lambda gives them', () => {
    expect(Object.fromEntries(parseTraceHeader(`Root=${ROOT};Parent=${PARENT};Sampled=1`))).toEqual({ Root: ROOT, Parent: PARENT, Sampled: '1' });
    expect(daemonAddress('169.254.79.129:2000')).toEqual({ host: '169.254.79.129', port: 2000 });
    expect(daemonAddress('tcp:127.0.0.1:2000 udp:127.0.0.2:2001')).toEqual({ host: '127.0.0.2', port: 2001 });
    expect(() => daemonAddress('localhost')).toThrow('AWS_XRAY_DAEMON_ADDRESS is "localhost"');
  });

  it('[RULE] a trace header is read leniently: spaces around a field are dropped, a part without a name or a value is skipped', () => {
    expect(Object.fromEntries(parseTraceHeader(` Root = ${ROOT} ;Parent=${PARENT};Sampled;=1;Lineage=a:1`))).toEqual({ Root: ROOT, Parent: PARENT, Lineage: 'a:1' });
  });

  it('[RULE] the daemon’s address is read with spaces around it, up to port 65535', () => {
    expect(daemonAddress(' 169.254.79.129:2000 ')).toEqual({ host: '169.254.79.129', port: 2000 });
    expect(daemonAddress('udp:127.0.0.1:65535 tcp:127.0.0.1:2000')).toEqual({ host: '127.0.0.1', port: 65_535 });
  });

  it.each([':2000', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:http', 'tcp:127.0.0.1:2000'])(
    '[RULE] a daemon address without a UDP host and port in range (%s) is refused, naming the variable and the value',
    (value) => {
      expect(() => daemonAddress(value)).toThrow(`AWS_XRAY_DAEMON_ADDRESS is "${value}"; expected host:port or "udp:host:port tcp:host:port"`);
    },
  );
});

/** A stand-in X-Ray daemon: the UDP documents it receives, each awaited as it arrives. */
async function startDaemon() {
  const socket = createSocket('udp4');
  const documents: string[] = [];
  const waiting: Array<(document: string) => void> = [];
  socket.on('message', (message) => {
    const document = message.toString('utf8');
    const waiter = waiting.shift();
    if (waiter === undefined) documents.push(document);
    else waiter(document);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    next: () => new Promise<string>((resolve) => (documents.length > 0 ? resolve(documents.shift() as string) : waiting.push(resolve))),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

const IN_LAMBDA = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', POWERTOOLS_TRACE_ENABLED: 'true' } as const;
const rawClient = () => new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });

describe('the receiver’s tracer', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('[RULE] in Lambda, a sampled SendMessage reaches the queue with the trace header and its subsegment reaches the X-Ray daemon', async () => {
    const daemon = await startDaemon();
    // As in Lambda: the SDK's own recursion detection would send the function's header unless the call's is set first.
    const lambdaHeader = `Root=${ROOT};Parent=${PARENT};Sampled=1`;
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'receiver');
    vi.stubEnv('_X_AMZN_TRACE_ID', lambdaHeader);
    try {
      const tracer = await createSdkCallTracer({ ...IN_LAMBDA, AWS_XRAY_DAEMON_ADDRESS: daemon.address, _X_AMZN_TRACE_ID: lambdaHeader });
      const client = tracer.captureAWSv3Client(rawClient());
      seen.length = 0;

      await send(client);
      const [header, body] = (await daemon.next()).split('\n');

      expect(tracer.isTracingEnabled()).toBe(true);
      expect(header).toBe('{"format":"json","version":1}');
      const subsegment = JSON.parse(body ?? '') as SubsegmentDocument;
      expect(subsegment).toMatchObject({ type: 'subsegment', trace_id: ROOT, parent_id: PARENT, name: 'SQS', namespace: 'aws', aws: { operation: 'SendMessage' } });
      expect(subsegment.id).toMatch(/^[0-9a-f]{16}$/);
      expect(subsegment.end_time).toBeGreaterThanOrEqual(subsegment.start_time);
      // Seconds since the epoch, as X-Ray counts them (not milliseconds).
      expect(Math.abs(subsegment.start_time - Date.now() / 1000)).toBeLessThan(86_400);
      const expected = `Root=${ROOT};Parent=${subsegment.id};Sampled=1`;
      expect(seen[0]?.headers['x-amzn-trace-id']).toBe(expected);
      expect(seen[0]?.body.MessageSystemAttributes).toEqual({ AWSTraceHeader: { DataType: 'String', StringValue: expected } });
    } finally {
      await daemon.close();
    }
  });

  it.each([
    ['outside Lambda', {}],
    ['in another AWS runtime', { AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE' }],
    ['under SAM local', { ...IN_LAMBDA, AWS_SAM_LOCAL: 'true' }],
    ['with POWERTOOLS_TRACE_ENABLED=false', { ...IN_LAMBDA, POWERTOOLS_TRACE_ENABLED: 'false' }],
  ])('[RULE] %s the receiver traces nothing: its clients are left as they are and a SendMessage carries no trace attribute', async (_where, env) => {
    const tracer = await createSdkCallTracer({ ...env, _X_AMZN_TRACE_ID: `Root=${ROOT};Parent=${PARENT};Sampled=1` });
    const client = rawClient();
    seen.length = 0;

    const captured = tracer.captureAWSv3Client(client);
    await send(captured);

    expect(tracer.isTracingEnabled()).toBe(false);
    expect(captured).toBe(client);
    expect(seen[0]?.body.MessageSystemAttributes).toBeUndefined();
  });

  it('[RULE] a function bundled with tracing off traces nothing even in Lambda', async () => {
    vi.stubEnv('WEBHOOKS_BUNDLE_TRACING', 'false');
    const tracer = await createSdkCallTracer({ ...IN_LAMBDA, _X_AMZN_TRACE_ID: `Root=${ROOT};Parent=${PARENT};Sampled=1` });

    expect(tracer.isTracingEnabled()).toBe(false);
  });

  it('[RULE] without AWS_XRAY_DAEMON_ADDRESS the subsegments go to the daemon’s default address, 127.0.0.1:2000', () => {
    expect(daemonAddress()).toEqual({ host: '127.0.0.1', port: 2000 });
    expect(daemonAddress(undefined)).toEqual({ host: '127.0.0.1', port: 2000 });
  });
});

// Last in this file (which runs in a process of its own): a traced Tracer patches Node's HTTP clients for good.
describe('the consumers’ tracer in Lambda', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('[RULE] records the function’s outbound HTTP calls (the providers’ APIs) as subsegments', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'true');
    const fetchTraced = () => diagnosticsChannel.hasSubscribers('undici:request:create');
    expect(fetchTraced()).toBe(false);

    const tracer = await createTracer();

    expect(tracer.isTracingEnabled()).toBe(true);
    expect(fetchTraced()).toBe(true);
  });
});
