import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import { clientConfig } from '../../functions/core/aws';
import { LISTENER_QUEUE_SETTINGS, LOCAL_LISTENER_SECRET } from '../../functions/core/listeners';
import { buildDelivery, postDelivery } from '../../ops/deliveries';
import type { EventRecord } from '../../functions/core/table';
import { getEvent, withRecordEvent } from '../../ops/events';
import { listen, type ListenLine } from '../../ops/listen';
import { publishedFor } from '../../ops/published';
import { localTarget } from '../../ops/target';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { silentLogger } from '../support/consumers';
import { closedPort, waitFor } from '../support/net';
import { captureOutput } from '../unit/cli-support';

/*
 * `webhooks listen` against `npm start`: the stand-in bus feeds the local listener queue, the
 * command forwards to an endpoint of the test's. The backoff is shortened (retries at once) so
 * that nothing waits on it; the queue's receive limit and dead-letter queue are the real ones.
 */

let runtime: LocalRuntime;
let cliEnv: Record<string, string>;
beforeAll(async () => {
  runtime = await startLocalRuntime({ env: {}, port: 0, dynamodbPort: 0, sqsPort: 0, logger: silentLogger(), visibilityTimeoutSeconds: 1 });
  cliEnv = { DYNAMODB_PORT: new URL(runtime.emulators.dynamodbEndpoint).port, SQS_PORT: new URL(runtime.emulators.sqsEndpoint).port };
}, 60_000);
afterAll(async () => {
  await runtime?.stop();
});

interface Received {
  readonly body: string;
  readonly headers: IncomingHttpHeaders;
  readonly path: string;
}

/** An endpoint that records each request and answers with `status(nth request of this event id)`. */
async function endpoint(status: (attempt: number) => number = () => 200, port = 0): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  const server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const id = String(request.headers['webhook-id']);
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: request.headers, path: request.url ?? '' });
      response.writeHead(status(attempt)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received, server };
}

/** Sends `count` signed deliveries through the receiver and waits until the stand-in bus holds each. */
async function sendEvents(count: number): Promise<string[]> {
  const keys = await Promise.all(
    Array.from({ length: count }, async () => {
      const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed', id: `evt_${randomUUID()}` });
      expect((await postDelivery(runtime.url, delivery)).status).toBe(200);
      return `together#${delivery.id}`;
    }),
  );
  const bus = { documents: runtime.clients.documents, tableName: runtime.resources.busTable };
  await waitFor(async () => (await Promise.all(keys.map((key) => publishedFor(bus, key)))).every((entry) => entry !== undefined), 30_000);
  return keys;
}

async function depth(queueUrl: string): Promise<number> {
  const { Attributes = {} } = await runtime.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** Runs `webhooks listen …` until `done` holds, then stops it; resolves with its output. */
async function listenUntil(argv: readonly string[], done: () => Promise<boolean> | boolean) {
  const captured = captureOutput();
  const stop = new AbortController();
  const running = run(['listen', ...argv], {
    output: captured.output,
    env: cliEnv,
    listenUntil: stop.signal,
    listenTuning: { waitTimeSeconds: 1, retryDelaySeconds: () => 0, reconnectDelayMs: () => 50 },
  });
  try {
    await waitFor(done, 20_000);
  } catch (error) {
    throw new Error(`listen did not get there; it printed:\n${captured.stdout}${captured.stderr}`, { cause: error });
  } finally {
    stop.abort();
  }
  const code = await running;
  return { code, stdout: captured.stdout, stderr: captured.stderr };
}

describe('webhooks listen, locally', () => {
  it('[LISTEN] forwards every event sent while it was stopped, each once, each verifying with the printed secret', async () => {
    const printed = captureOutput();
    expect(await run(['listen', '--print-secret'], { output: printed.output, env: cliEnv })).toBe(0);
    const secret = printed.stdout.trim();
    const target = await endpoint();
    const keys = await sendEvents(20);

    const result = await listenUntil(['--forward-to', target.url], async () => target.received.length >= 20 && (await depth(runtime.resources.listenerQueue.url)) === 0);

    expect(result.code).toBe(0);
    expect(secret).toBe(LOCAL_LISTENER_SECRET);
    const ids = target.received.map((request) => request.headers['webhook-id']);
    expect([...ids].sort()).toEqual([...keys].sort());
    const verifier = new Webhook(secret);
    for (const request of target.received) {
      const event = verifier.verify(request.body, request.headers as Record<string, string>) as { id: string; type: string };
      expect(`together#${event.id}`).toBe(request.headers['webhook-id']);
      expect(event.type).toBe('fine_tune.completed');
      expect(request.path).toBe('/hooks');
    }
    expect(result.stdout).toContain(`--> fine_tune.completed ${keys[0]}`);
    expect(result.stdout).toMatch(/<-- 200 POST \/hooks \d+ ms/);
    target.server.close();
  });

  it('[LISTEN] retries an event its endpoint refused with 500 three times, and deletes it after the 200', async () => {
    const target = await endpoint((attempt) => (attempt <= 3 ? 500 : 200));
    const [key] = await sendEvents(1);

    const result = await listenUntil(['--forward-to', target.url, '--json'], async () => target.received.some((r) => r.headers['webhook-id'] === key) && target.received.length >= 4 && (await depth(runtime.resources.listenerQueue.url)) === 0);

    expect(target.received.map((request) => request.headers['webhook-id'])).toEqual([key, key, key, key]);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as ListenLine);
    expect(lines.filter((line) => line.kind === 'answer').map((line) => (line as { status: number }).status)).toEqual([500, 500, 500, 200]);
    expect(lines.filter((line) => line.kind === 'retry')).toHaveLength(3);
    target.server.close();
  });

  it("[LISTEN] moves an event its endpoint always refuses to the listener's dead-letter queue after the receive limit", async () => {
    const target = await endpoint(() => 503);
    const [key] = await sendEvents(1);

    await listenUntil(['--forward-to', target.url], async () => (await depth(runtime.resources.listenerQueue.deadLetterUrl)) === 1);

    expect(target.received.filter((request) => request.headers['webhook-id'] === key)).toHaveLength(LISTENER_QUEUE_SETTINGS.maxReceiveCount);
    expect(await depth(runtime.resources.listenerQueue.url)).toBe(0);
    target.server.close();
  });

  it('[LISTEN] holds an event while its endpoint refuses connections, and forwards it once the endpoint is back', async () => {
    const port = await closedPort();
    let target: Awaited<ReturnType<typeof endpoint>> | undefined;
    const [key] = await sendEvents(1);
    const lines: ListenLine[] = [];
    const stop = new AbortController();
    let sleeps = 0;
    const listener = await localTarget(cliEnv).listener?.(undefined);
    if (listener === undefined) throw new Error('no local listener');

    const running = listen({
      sqs: listener.sqs,
      listener: 'local',
      queueUrl: listener.queueUrl,
      secret: LOCAL_LISTENER_SECRET,
      forwardTo: `http://127.0.0.1:${port}/hooks`,
      readEvent: async () => undefined,
      onLine: (line) => lines.push(line),
      waitTimeSeconds: 1,
      signal: stop.signal,
      // The endpoint starts during the second wait: two refusals first.
      sleep: async () => {
        sleeps += 1;
        if (sleeps === 2) target = await endpoint(() => 200, port);
      },
    });
    await waitFor(() => target !== undefined && target.received.length === 1, 30_000);
    await waitFor(async () => (await depth(listener.queueUrl)) === 0, 30_000);
    stop.abort();
    await running;

    expect(target?.received.map((request) => request.headers['webhook-id'])).toEqual([key]);
    expect(lines.filter((line) => line.kind === 'endpoint_down')).toHaveLength(1);
    expect(lines.filter((line) => line.kind === 'endpoint_back')).toHaveLength(1);
    expect(lines.find((line) => line.kind === 'forward')).toMatchObject({ key, attempt: 1 });
    target?.server.close();
  });

  it('[LISTEN] keeps listening across a restart of the queue endpoint, says so once, and says when it is back', async () => {
    const sqsPort = Number(new URL(runtime.emulators.sqsEndpoint).port);
    const proxy = tcpProxy(sqsPort);
    const proxyPort = await proxy.open(0);
    const sqs = new SQSClient({ ...clientConfig({ endpoint: `http://127.0.0.1:${proxyPort}` }), maxAttempts: 1 });
    const target = await endpoint();
    const lines: ListenLine[] = [];
    const waits: number[] = [];
    const stop = new AbortController();
    let key: string | undefined;

    const running = listen({
      sqs,
      listener: 'local',
      queueUrl: runtime.resources.listenerQueue.url,
      secret: LOCAL_LISTENER_SECRET,
      forwardTo: target.url,
      readEvent: async () => undefined,
      onLine: (line) => lines.push(line),
      waitTimeSeconds: 1,
      signal: stop.signal,
      // Default backoff, recorded instead of waited; the endpoint comes back during the third wait,
      // with an event sent while it was away.
      sleep: async (ms) => {
        waits.push(ms);
        if (waits.length === 3) {
          // The emulator still holds the long poll the closed connection left (1 s): sent now, the
          // event would go to it and stay invisible for the visibility timeout, as in SQS.
          await new Promise((resolve) => setTimeout(resolve, 1500));
          [key] = await sendEvents(1);
          await proxy.open(proxyPort);
        }
      },
    });
    await waitFor(() => lines.some((line) => line.kind === 'listening'), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await proxy.close();
    await waitFor(() => key !== undefined && target.received.some((request) => request.headers['webhook-id'] === key), 30_000);
    stop.abort();
    await running;
    await proxy.close();

    expect(waits.slice(0, 3)).toEqual([1000, 2000, 4000]);
    expect(lines.filter((line) => line.kind === 'queue_lost')).toHaveLength(1);
    expect(lines.filter((line) => line.kind === 'queue_back')).toHaveLength(1);
    target.server.close();
  });

  it('[LISTEN] deletes without forwarding the events of other routes than --route', async () => {
    const target = await endpoint();
    const [key] = await sendEvents(1);

    const result = await listenUntil(['--forward-to', target.url, '--route', 'batch.completed'], async () => (await depth(runtime.resources.listenerQueue.url)) === 0);

    expect(target.received).toEqual([]);
    expect(result.stdout).toContain(`--- fine_tune.completed ${key} skipped (not in --route/--provider), deleted`);
    target.server.close();
  });

  it('[LISTEN] forwards the stored event when the bus entry carries only its key (an event over 256 KB)', async () => {
    const target = await endpoint();
    const [key] = await sendEvents(1) as [string];
    const events = { documents: runtime.clients.documents, tableName: runtime.resources.eventsTable };
    const stored = JSON.parse((await withRecordEvent(events, (await getEvent(events, key)) as EventRecord)).event ?? '{}') as Record<string, unknown>;
    const { data: _data, ...envelope } = stored;
    await runtime.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: runtime.resources.listenerQueue.url,
        MessageBody: JSON.stringify({ 'detail-type': stored.type, source: 'ai-webhooks.together', detail: { ...envelope, truncated: true, key } }),
      }),
    );

    await listenUntil(['--forward-to', target.url], async () => target.received.length === 2 && (await depth(runtime.resources.listenerQueue.url)) === 0);

    expect(target.received.map((request) => JSON.parse(request.body) as unknown)).toEqual([stored, stored]);
    target.server.close();
  });

  it('[LISTEN] --replay puts a stored event on the listener queue only: no route consumer runs again', async () => {
    const drain = await endpoint();
    const [key] = await sendEvents(1) as [string];
    await listenUntil(['--forward-to', drain.url], async () => drain.received.some((r) => r.headers['webhook-id'] === key) && (await depth(runtime.resources.listenerQueue.url)) === 0);
    drain.server.close();
    const events = { documents: runtime.clients.documents, tableName: runtime.resources.eventsTable };
    const bus = { documents: runtime.clients.documents, tableName: runtime.resources.busTable };
    const before = await getEvent(events, key);
    const target = await endpoint();

    const result = await listenUntil(['--replay', key, '--forward-to', target.url], () => target.received.length === 1);

    expect(result.stdout).toContain(`replayed ${key} (fine_tune.completed) to listener local only`);
    expect(target.received.map((request) => request.headers['webhook-id'])).toEqual([key]);
    const after = await getEvent(events, key);
    expect(after?.replayCount).toBe(before?.replayCount);
    expect(after?.status).toBe('handled');
    expect((await publishedFor(bus, key))?.times).toBe(1);
    expect(await depth(runtime.resources.queues['fine_tune.completed'].url)).toBe(0);
    target.server.close();
  });
});

/** A TCP proxy to `port` that can be closed (connections reset, then refused) and opened again on the same port. */
function tcpProxy(port: number) {
  let server: TcpServer | undefined;
  const sockets = new Set<Socket>();
  return {
    async open(listenPort: number): Promise<number> {
      server = createTcpServer((client) => {
        const upstream = connect(port, '127.0.0.1');
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const end = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      });
      await new Promise<void>((resolve) => server?.listen(listenPort, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    },
    async close(): Promise<void> {
      const closing = server;
      server = undefined;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (closing !== undefined) await new Promise((resolve) => closing.close(resolve));
    },
  };
}
