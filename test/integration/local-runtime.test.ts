import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/core/errors';
import { createLocalServer, exposureWarning, type GatewayHandler, type LocalServerLimits } from '../../local/http';
import { startLocalRuntime } from '../../local/runtime';
import { closedPort } from '../support/net';

const silent = () => new Logger({ serviceName: 'test', logLevel: 'SILENT' });

describe('local runtime', () => {
  it('fails on bad configuration before it listens, leaving its port free', async () => {
    const port = await closedPort();

    const starting = startLocalRuntime({
      env: { TOGETHER_API_KEY: 'key', TOGETHER_API_BASE_URL: 'not a url' },
      port,
      dynamodbPort: 0,
      sqsPort: 0,
      consumers: false,
      logger: silent(),
    });

    await expect(starting).rejects.toBeInstanceOf(ConfigurationError);
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', () => resolve());
    });
    await new Promise((resolve) => probe.close(resolve));
  });

  it.each([
    ['STANDARD_WEBHOOK_SECRET', 'whsec_', 'standard'],
    ['STANDARD_WEBHOOK_SECRET', 'whsec_!!!!', 'standard'],
    ['STANDARD_WEBHOOK_SECRET', `whsec_${Buffer.alloc(32, 1).toString('base64')},whsec_`, 'standard'],
    ['LLMTUNE_WEBHOOK_SECRET', '{"a":"s1"}', 'llmtune'],
  ])(
    'forgery with a degenerate Standard Webhooks secret: %s=%j fails before listening, naming the provider and the fix',
    async (variable, value, provider) => {
      const port = await closedPort();

      const starting = startLocalRuntime({ env: { [variable]: value }, port, dynamodbPort: 0, sqsPort: 0, consumers: false, logger: silent() });
      // Stop a runtime that started anyway, so that a failing run leaves nothing behind.
      const outcome = await starting.then(async (runtime) => {
        await runtime.stop();
        return 'started';
      }, (error: unknown) => error);

      expect(outcome).toBeInstanceOf(ConfigurationError);
      const message = (outcome as Error).message;
      expect(message).toContain(variable);
      expect(message).toContain(`(${provider})`);
      expect(message).toMatch(provider === 'standard' ? /openssl rand -base64 32/ : /JSON array of strings/);
      const probe = createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(port, '127.0.0.1', () => resolve());
      });
      await new Promise((resolve) => probe.close(resolve));
    },
  );
  it('refuses PROVIDERS set but empty with one configuration error, before it listens', async () => {
    for (const providers of ['', ' ', ' , ']) {
      const starting = startLocalRuntime({ env: { PROVIDERS: providers }, port: 0, dynamodbPort: 0, sqsPort: 0, consumers: false, logger: silent() });

      await expect(starting).rejects.toThrow(ConfigurationError);
      await expect(starting).rejects.toThrow(/^PROVIDERS is set but names no provider: unset it to enable all \(together, llmtune, mythicdot, openai, replicate, standard\), or list some, e\.g\. PROVIDERS=together,standard$/);
    }
  });

  it('hands a malformed percent escape in the provider segment to the handler as no provider, not a 500', async () => {
    const server = createLocalServer(async (event) => ({ statusCode: 200, body: JSON.stringify(event.pathParameters ?? null) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const response = await fetch(`http://127.0.0.1:${port}/webhooks/%E0`, { method: 'POST', body: '{}' });

    expect([response.status, await response.text()]).toEqual([200, 'null']);
    await new Promise((resolve) => server.close(resolve));
  });
});

/** This machine's addresses other than loopback: where a listener on 0.0.0.0 would answer. */
const externalAddresses = () =>
  Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined && !entry.internal && entry.family === 'IPv4')
    .map((entry) => entry?.address as string);

/** Resolves when a TCP connection to host:port opens (and closes it), rejects when it cannot. */
function reachable(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

describe('local servers listen on loopback only', () => {
  it('every local server (HTTP, DynamoDB, SQS/SNS/S3) binds 127.0.0.1 by default', async () => {
    const runtime = await startLocalRuntime({ env: {}, port: 0, dynamodbPort: 0, sqsPort: 0, consumers: false, logger: silent() });
    try {
      const listeners = runtime.listeners();

      expect(Object.keys(listeners).sort()).toEqual(['dynamodb', 'http', 'sqs']);
      for (const [name, address] of Object.entries(listeners)) expect([name, address.address]).toEqual([name, '127.0.0.1']);
      for (const host of externalAddresses()) {
        for (const { port } of Object.values(listeners)) await expect(reachable(host, port)).rejects.toThrow(/ECONNREFUSED/);
      }
    } finally {
      await runtime.stop();
    }
  });

  it('HOST widens the HTTP server only: the emulators stay on 127.0.0.1', async () => {
    const runtime = await startLocalRuntime({ env: {}, host: '0.0.0.0', port: 0, dynamodbPort: 0, sqsPort: 0, consumers: false, logger: silent() });
    try {
      const { http, dynamodb, sqs } = runtime.listeners();

      expect([http?.address, dynamodb?.address, sqs?.address]).toEqual(['0.0.0.0', '127.0.0.1', '127.0.0.1']);
      expect(runtime.url).toBe(`http://127.0.0.1:${http?.port}`);
    } finally {
      await runtime.stop();
    }
  });

  it('warns when HOST exposes the HTTP server beyond this machine, and only then', () => {
    expect([exposureWarning('127.0.0.1'), exposureWarning('localhost'), exposureWarning('::1')]).toEqual([undefined, undefined, undefined]);
    expect(exposureWarning('0.0.0.0')).toMatch(/HOST=0\.0\.0\.0 .*beyond this machine.*emulators stay on 127\.0\.0\.1/);
  });
});

/** A raw HTTP/1.1 exchange: writes `chunks`, then reads until the server closes the connection. */
async function exchange(port: number, chunks: readonly (string | Buffer)[]): Promise<{ response: string; closed: boolean }> {
  const socket: Socket = connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
  socket.on('error', () => undefined);
  for (const chunk of chunks) socket.write(chunk);
  return { closed: await closed, response: Buffer.concat(received).toString('latin1') };
}

async function listening(handler: GatewayHandler, limits: LocalServerLimits) {
  const server = createLocalServer(handler, undefined, limits);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('local HTTP adapter behaves like API Gateway', () => {
  const calls: unknown[] = [];
  const handler: GatewayHandler = async (event) => {
    calls.push(event);
    return { statusCode: 200, body: '{}' };
  };
  const head = 'POST /webhooks/together HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n';

  it('stops reading at the cap: 413 and close while the rest of the body is still unsent', async () => {
    const server = await listening(handler, { maxBodyBytes: 1_024 });
    const chunk = Buffer.alloc(2_048, 0x20);

    const { response, closed } = await exchange(server.port, [
      `${head}Transfer-Encoding: chunked\r\n\r\n`,
      `${chunk.length.toString(16)}\r\n`,
      chunk,
      '\r\n',
    ]);

    expect(closed).toBe(true);
    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response).toMatch(/connection: close/i);
    expect(response.slice(response.indexOf('\r\n\r\n') + 4)).toBe('{"error":"body_too_large","message":"body is over the 1024-byte limit"}');
    expect(calls).toEqual([]);
    await server.close();
  });

  it('answers 413 at once when Content-Length announces more than the cap', async () => {
    const server = await listening(handler, { maxBodyBytes: 1_024 });

    const { response, closed } = await exchange(server.port, [`${head}Content-Length: 10485760\r\n\r\n`]);

    expect([closed, response.split('\r\n')[0]]).toEqual([true, 'HTTP/1.1 413 Payload Too Large']);
    expect(calls).toEqual([]);
    await server.close();
  });

  it('closes a request whose headers never finish once the headers timeout passes', async () => {
    const server = await listening(handler, { headersTimeoutMs: 100, requestTimeoutMs: 200 });

    const { response, closed } = await exchange(server.port, [head]);

    expect([closed, response.split('\r\n')[0]]).toEqual([true, 'HTTP/1.1 408 Request Timeout']);
    expect(calls).toEqual([]);
    await server.close();
  });

  it('closes a request whose body never arrives once the request timeout passes', async () => {
    const server = await listening(handler, { headersTimeoutMs: 100, requestTimeoutMs: 200 });

    const { response, closed } = await exchange(server.port, [`${head}Content-Length: 10\r\n\r\n`]);

    expect([closed, response.split('\r\n')[0]]).toEqual([true, 'HTTP/1.1 408 Request Timeout']);
    expect(calls).toEqual([]);
    await server.close();
  });
});
