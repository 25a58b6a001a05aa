import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run, type CliDeps } from '../../cli/program';
import { captureOutput } from './cli-support';

let server: Server | undefined;
afterEach(async () => {
  const open = server;
  server = undefined;
  if (open !== undefined) await new Promise((resolve) => open.close(resolve));
});

/** A fake Together API that records the one request it gets and answers with `reply`. */
async function fakeTogether(reply: { status: number; body: unknown }) {
  const seen: { method?: string; url?: string; authorization?: string; contentType?: string; body?: unknown } = {};
  server = createServer((request: IncomingMessage, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      Object.assign(seen, {
        method: request.method,
        url: request.url,
        authorization: request.headers.authorization,
        contentType: request.headers['content-type'],
        body: JSON.parse(text),
      });
      response.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, seen };
}

/** A fetch that records the URLs it is asked for and answers 200 `{}`, for tests that must not reach a network. */
function recordingFetch() {
  const urls: string[] = [];
  const fetchImpl = (async (input: string | URL | Request) => {
    urls.push(String(input));
    return new Response('{}', { status: 200 });
  }) as typeof fetch;
  return { urls, fetchImpl };
}

const register = async (env: Record<string, string>, argv: string[], deps: Partial<CliDeps> = {}) => {
  const captured = captureOutput();
  const code = await run(['register', 'together', ...argv], { output: captured.output, env, ...deps });
  return { code, stdout: captured.stdout, stderr: captured.stderr };
};

/** The lines of `text` that hold `secret`. */
const linesWith = (text: string, secret: string) => text.split('\n').filter((line) => line.includes(secret));

describe('webhooks register together', () => {
  it('POSTs the URL, the events and a fresh secret to {base}/webhooks with the bearer key, and prints how to store the secret', async () => {
    const api = await fakeTogether({ status: 201, body: { id: 'wh_123' } });

    const { code, stdout } = await register({ TOGETHER_API_KEY: 'tk-test', TOGETHER_API_BASE_URL: api.base }, [
      '--url',
      'https://hooks.example.com/webhooks/together',
      '--events',
      'fine_tune.completed,batch.done',
    ]);

    const body = api.seen.body as { url: string; events: string[]; secret: string };
    expect(code).toBe(0);
    expect(api.seen.method).toBe('POST');
    expect(api.seen.url).toBe('/v1/webhooks');
    expect(api.seen.authorization).toBe('Bearer tk-test');
    expect(api.seen.contentType).toBe('application/json');
    expect(body.url).toBe('https://hooks.example.com/webhooks/together');
    expect(body.events).toEqual(['fine_tune.completed', 'batch.done']);
    expect(body.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stdout).toContain('(webhook wh_123)');
    expect(stdout).toContain('read -rs TOGETHER_WEBHOOK_SECRET && export TOGETHER_WEBHOOK_SECRET');
    expect(stdout).toContain(
      `printf '["%s"]' "$TOGETHER_WEBHOOK_SECRET" | aws secretsmanager put-secret-value --secret-id <the SecretArnTogether output of your stack> --secret-string file:///dev/stdin`,
    );
  });

  it('registers the documented Together events when --events is not given', async () => {
    const api = await fakeTogether({ status: 200, body: {} });

    await register({ TOGETHER_API_KEY: 'tk', TOGETHER_API_BASE_URL: api.base }, ['--url', 'https://h/webhooks/together']);

    expect((api.seen.body as { events: string[] }).events).toEqual([
      'fine_tune.completed',
      'fine_tune.failed',
      'fine_tune.checkpoint',
      'model.deprecated',
      'batch.done',
    ]);
  });

  it('prints the secret the API returns when it chooses its own', async () => {
    const api = await fakeTogether({ status: 200, body: { id: 'wh_9', secret: 'from-together-42' } });

    const { stdout } = await register({ TOGETHER_API_KEY: 'tk', TOGETHER_API_BASE_URL: api.base }, ['--url', 'https://h/webhooks/together']);

    expect(stdout).toContain('signing secret (chosen by Together): from-together-42');
  });

  it('exits 2 and names TOGETHER_API_KEY when it is not set, without calling the API', async () => {
    const api = await fakeTogether({ status: 200, body: {} });

    const { code, stderr } = await register({ TOGETHER_API_BASE_URL: api.base }, ['--url', 'https://h/webhooks/together']);

    expect(code).toBe(2);
    expect(stderr).toContain('TOGETHER_API_KEY is not set');
    expect(api.seen.method).toBeUndefined();
  });

  it('exits 1 and says to check the key when Together answers 401', async () => {
    const api = await fakeTogether({ status: 401, body: { error: 'invalid api key' } });

    const { code, stderr } = await register({ TOGETHER_API_KEY: 'bad', TOGETHER_API_BASE_URL: api.base }, ['--url', 'https://h/webhooks/together']);

    expect(code).toBe(1);
    expect(stderr).toContain('Together answered 401');
    expect(stderr).toContain('check the key');
  });

  it('[P-TOG] says in its help that Together documents no webhooks, and that the poller is the way to its documented API', async () => {
    const { stdout, stderr } = await register({}, ['--help']);

    const help = (stdout + stderr).replace(/\s+/g, ' ');
    expect(help).toContain('an endpoint Together does not document');
    expect(help).toContain("Together's public API documents no webhooks");
    expect(help).toContain('-c togetherPolling=true');
  });

  it('[P-TOG] says after registering that the endpoint is not one Together documents, and how to poll instead', async () => {
    const api = await fakeTogether({ status: 201, body: { id: 'wh_1' } });

    const { code, stdout } = await register({ TOGETHER_API_KEY: 'tk', TOGETHER_API_BASE_URL: api.base }, ['--url', 'https://h/webhooks/together']);

    expect(code).toBe(0);
    expect(stdout).toContain("Together's public API documents no webhooks");
    expect(stdout).toContain('TOGETHER_API_KEY=<key> npm start');
  });

  it('[P-TOG] answers a 404 from Together by saying it documents no webhooks and how to poll instead', async () => {
    const api = await fakeTogether({ status: 404, body: { error: 'not found' } });

    const { code, stderr } = await register({ TOGETHER_API_KEY: 'tk', TOGETHER_API_BASE_URL: api.base }, ['--url', 'https://h/webhooks/together']);

    expect(code).toBe(1);
    expect(stderr).toContain("Together's public API documents no webhooks; poll it instead");
    expect(stderr).toContain('-c togetherPolling=true');
  });
});

describe('secret handling in webhooks register', () => {
  it('prints the fresh secret once and never on a command line it suggests (shell history)', async () => {
    const api = await fakeTogether({ status: 201, body: { id: 'wh_1' } });

    const { stdout } = await register({ TOGETHER_API_KEY: 'tk', TOGETHER_API_BASE_URL: api.base }, ['--url', 'https://h/webhooks/together']);

    const secret = (api.seen.body as { secret: string }).secret;
    expect(linesWith(stdout, secret)).toEqual([`signing secret: ${secret}`]);
  });

  it('refuses --secret on the command line, says how to pass it safely, and calls nothing', async () => {
    const { urls, fetchImpl } = recordingFetch();

    const { code, stderr } = await register({ TOGETHER_API_KEY: 'tk' }, ['--url', 'https://h/webhooks/together', '--secret', 'hunter2'], { fetch: fetchImpl });

    expect(code).toBe(2);
    expect(stderr).toContain('--secret-stdin');
    expect(stderr).toContain('--secret-file');
    expect(stderr).not.toContain('hunter2');
    expect(urls).toEqual([]);
  });

  it('reads the secret from stdin with --secret-stdin, registers it, and does not print it', async () => {
    const api = await fakeTogether({ status: 201, body: { id: 'wh_2' } });

    const { code, stdout } = await register(
      { TOGETHER_API_KEY: 'tk', TOGETHER_API_BASE_URL: api.base },
      ['--url', 'https://h/webhooks/together', '--secret-stdin'],
      { readStdin: async () => 'my-own-secret-1\n' },
    );

    expect(code).toBe(0);
    expect((api.seen.body as { secret: string }).secret).toBe('my-own-secret-1');
    expect(stdout).not.toContain('my-own-secret-1');
  });

  it('reads the secret from a file with --secret-file and points the store commands at that file', async () => {
    const api = await fakeTogether({ status: 201, body: { id: 'wh_3' } });
    const path = join(mkdtempSync(join(tmpdir(), 'register-')), 'together.secret');
    writeFileSync(path, 'file-secret-2\n', { mode: 0o600 });

    const { code, stdout } = await register({ TOGETHER_API_KEY: 'tk', TOGETHER_API_BASE_URL: api.base }, ['--url', 'https://h/webhooks/together', '--secret-file', path]);

    expect(code).toBe(0);
    expect((api.seen.body as { secret: string }).secret).toBe('file-secret-2');
    expect(stdout).not.toContain('file-secret-2');
    expect(stdout).toContain(`TOGETHER_WEBHOOK_SECRET="$(cat ${path})"`);
  });

  it('refuses an empty secret from stdin', async () => {
    const { urls, fetchImpl } = recordingFetch();

    const { code, stderr } = await register({ TOGETHER_API_KEY: 'tk' }, ['--url', 'https://h/webhooks/together', '--secret-stdin'], {
      fetch: fetchImpl,
      readStdin: async () => '\n',
    });

    expect(code).toBe(2);
    expect(stderr).toContain('stdin held no secret');
    expect(urls).toEqual([]);
  });

  it('never echoes the API response body, which may hold the secret or the key: status and a short reason only', async () => {
    const api = await fakeTogether({ status: 400, body: { error: { message: 'bad secret my-own-secret-3 for key tk-live-123', code: 'invalid_request' } } });

    const { code, stderr } = await register(
      { TOGETHER_API_KEY: 'tk-live-123', TOGETHER_API_BASE_URL: api.base },
      ['--url', 'https://h/webhooks/together', '--secret-stdin'],
      { readStdin: async () => 'my-own-secret-3' },
    );

    expect(code).toBe(1);
    expect(stderr).toContain('Together answered 400');
    expect(stderr).toContain('invalid_request');
    expect(stderr).not.toContain('my-own-secret-3');
    expect(stderr).not.toContain('tk-live-123');
  });

  it('refuses a plain http:// API base URL that is not loopback, before sending the key', async () => {
    for (const base of ['http://api.together.xyz/v1', 'http://127.0.0.1.example.com/v1', 'http://localhost.example.com/v1', 'http://10.0.0.1/v1']) {
      const { urls, fetchImpl } = recordingFetch();

      const { code, stderr } = await register({ TOGETHER_API_KEY: 'tk', TOGETHER_API_BASE_URL: base }, ['--url', 'https://h/webhooks/together'], { fetch: fetchImpl });

      expect({ base, code, urls }).toEqual({ base, code: 2, urls: [] });
      expect(stderr).toContain('TOGETHER_API_BASE_URL must be https://');
    }
  });

  it('accepts http:// on loopback (127.0.0.0/8, ::1, localhost), for a local stand-in of the API', async () => {
    for (const base of ['http://127.0.0.1:9/v1', 'http://127.4.5.6/v1', 'http://[::1]:9/v1', 'http://localhost:9/v1']) {
      const { urls, fetchImpl } = recordingFetch();

      const { code } = await register({ TOGETHER_API_KEY: 'tk', TOGETHER_API_BASE_URL: base }, ['--url', 'https://h/webhooks/together'], { fetch: fetchImpl });

      expect({ base, code, urls }).toEqual({ base, code: 0, urls: [`${base}/webhooks`] });
    }
  });

  it('refuses a plain http:// receiver URL that is not loopback', async () => {
    const { urls, fetchImpl } = recordingFetch();

    const { code, stderr } = await register({ TOGETHER_API_KEY: 'tk' }, ['--url', 'http://hooks.example.com/webhooks/together'], { fetch: fetchImpl });

    expect(code).toBe(2);
    expect(stderr).toContain('--url must be https://');
    expect(urls).toEqual([]);
  });
});
