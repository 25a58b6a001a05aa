import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonAddress, parseTraceHeader, sdkCallTracing, type SubsegmentDocument } from '../../functions/core/sdk-tracing';

const ROOT = '1-5759e988-bd862e3fe1be46a994272793';
const PARENT = '53995c3f42cd8ad8';
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/fine-tune-completed';

interface Seen {
  readonly headers: IncomingHttpHeaders;
  readonly body: { MessageBody: string; MessageSystemAttributes?: Record<string, { DataType: string; StringValue: string }> };
}

/** An SQS endpoint speaking the JSON protocol: answers SendMessage, or the status it is told to. */
let server: Server;
let endpoint: string;
const seen: Seen[] = [];
let answerStatus = 200;

beforeAll(async () => {
  server = createServer(async (incoming, answer) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Seen['body'];
    seen.push({ headers: incoming.headers, body });
    answer.writeHead(answerStatus, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'req-1' });
    answer.end(
      answerStatus === 200
        ? JSON.stringify({ MessageId: 'msg-1', MD5OfMessageBody: createHash('md5').update(body.MessageBody).digest('hex') })
        : JSON.stringify({ __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'no such queue' }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** An SQS client with the plugin, the invocation's header given, and the subsegments it emits. */
function tracedClient(traceHeader: string | undefined) {
  const emitted: SubsegmentDocument[] = [];
  const ids = ['a1b2c3d4e5f60718', 'b1b2c3d4e5f60718'];
  const client = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  client.middlewareStack.use(
    sdkCallTracing({ traceHeader: () => traceHeader, emit: (subsegment) => emitted.push(subsegment), nowSeconds: () => 1_700_000_000.5, newId: () => ids.shift() ?? 'ffffffffffffffff' }) as never,
  );
  return { client, emitted };
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

    expect(emitted).toEqual([
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

  it('[LEAN-B] an unsampled invocation, or none, adds nothing: no attribute, no subsegment', async () => {
    for (const header of [`Root=${ROOT};Parent=${PARENT};Sampled=0`, undefined]) {
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
});
