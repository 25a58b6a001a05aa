import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/core/errors';
import { createLocalServer } from '../../local/http';
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

  it('refuses PROVIDERS set but empty with one configuration error, before it listens', async () => {
    for (const providers of ['', ' ', ' , ']) {
      const starting = startLocalRuntime({ env: { PROVIDERS: providers }, port: 0, dynamodbPort: 0, sqsPort: 0, consumers: false, logger: silent() });

      await expect(starting).rejects.toThrow(ConfigurationError);
      await expect(starting).rejects.toThrow(/^PROVIDERS is set but names no provider: unset it to enable all \(together, llmtune, mythicdot, standard\), or list some, e\.g\. PROVIDERS=together,standard$/);
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
