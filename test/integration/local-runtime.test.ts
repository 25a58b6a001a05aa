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

  it('hands a malformed percent escape in the provider segment to the handler as no provider, not a 500', async () => {
    const server = createLocalServer(async (event) => ({ statusCode: 200, body: JSON.stringify(event.pathParameters ?? null) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const response = await fetch(`http://127.0.0.1:${port}/webhooks/%E0`, { method: 'POST', body: '{}' });

    expect([response.status, await response.text()]).toEqual([200, 'null']);
    await new Promise((resolve) => server.close(resolve));
  });
});
