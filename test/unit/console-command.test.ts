import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PROVIDER_NAMES } from '../../functions/core/provider-names';
import { runWebhooks } from '../../local/webhooks';
import { waitFor } from '../support/net';
import { captureOutput } from './cli-support';
import { stubTarget } from '../support/stub-target';

/**
 * `webhooks console` as its user meets it, in-process: its help, what the console it serves
 * offers against the local runtime, and how it stops. The target finds nothing; test deliveries
 * go to a receiver of the test's own.
 */

const localTarget = stubTarget('the local runtime');

const receivers: Server[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** What the console's page sends with each API call, after opening the login URL. */
async function sessionHeaders(loginUrl: string): Promise<Record<string, string>> {
  const login = await fetch(loginUrl, { redirect: 'manual' });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const html = await (await fetch(new URL('/', loginUrl), { headers: { cookie } })).text();
  return { cookie, 'x-console-token': /name="console-token" content="([0-9a-f]+)"/.exec(html)?.[1] ?? '' };
}

/** A receiver that records the method and path of each delivery, on a free port. */
async function startReceiver(deliveries: string[]): Promise<number> {
  const server = createServer((incoming, answer) => {
    deliveries.push(`${incoming.method ?? ''} ${incoming.url ?? ''}`);
    incoming.resume();
    answer.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"accepted"}');
  });
  receivers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('[RULE] webhooks console', () => {
  it('[RULE] its help says it serves on 127.0.0.1 what the console shows, and that --port 0 picks a free port (3100 by default)', async () => {
    const captured = captureOutput();

    await runWebhooks(['console', '--help'], { output: captured.output, env: {} });

    const help = captured.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('serve the web console on 127.0.0.1 (events, dead letters, jobs; replay and redrive) against the local runtime or a stack, until Ctrl-C');
    expect(help).toMatch(/--port <port> +port on 127\.0\.0\.1; 0 picks a free one \(default: "3100"\)/);
  });

  it('[RULE] against the local runtime it offers every provider and sends test deliveries to the receiver on PORT (spaces around it ignored)', async () => {
    const deliveries: string[] = [];
    const port = await startReceiver(deliveries);
    let seen: { providers?: string[]; sent?: number } = {};

    const code = await runWebhooks(['console', '--port', '0'], {
      output: captureOutput().output,
      env: { PORT: ` ${port} ` },
      connect: async () => localTarget,
      serveConsole: async (loginUrl, close) => {
        const headers = await sessionHeaders(loginUrl);
        const info = (await (await fetch(new URL('/api/info', loginUrl), { headers })).json()) as { providers: { name: string }[] };
        const sent = await fetch(new URL('/api/send', loginUrl), {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', origin: new URL(loginUrl).origin },
          body: JSON.stringify({ provider: 'together', type: 'fine_tune.completed' }),
        });
        seen = { providers: info.providers.map((provider) => provider.name), sent: sent.status };
        await close();
      },
    });

    expect(code).toBe(0);
    expect(seen).toEqual({ providers: [...PROVIDER_NAMES], sent: 200 });
    expect(deliveries).toEqual(['POST /webhooks/together']);
  });

  it('[RULE] left to itself it serves until Ctrl-C (or SIGTERM), then closes the console, lets go of both signals and returns', async () => {
    const captured = captureOutput();
    const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
    const added = (signal: 'SIGINT' | 'SIGTERM') => process.listeners(signal).filter((listener) => !before[signal].includes(listener));

    const running = runWebhooks(['console', '--port', '0'], { output: captured.output, env: {}, connect: async () => localTarget });
    await waitFor(() => captured.stdout.includes('/login?secret='));
    const loginUrl = /http:\/\/\S+/.exec(captured.stdout)?.[0] ?? '';
    const served = await fetch(new URL('/', loginUrl));
    expect([added('SIGINT').length, added('SIGTERM').length]).toEqual([1, 1]);
    // What Ctrl-C does, without sending the test process a signal.
    for (const listener of added('SIGINT')) (listener as () => void)();

    expect(await running).toBe(0);
    expect(served.status).toBe(401);
    await expect(fetch(new URL('/', loginUrl))).rejects.toThrow();
    expect([added('SIGINT'), added('SIGTERM')]).toEqual([[], []]);
  });
});
