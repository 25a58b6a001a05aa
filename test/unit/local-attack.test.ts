import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_OPENAI_API_KEY } from '../../local/fake-openai';
import { FAKE_REPLICATE_API_TOKEN, startFakeProviders, type FakeProviders } from '../../local/fake-providers';
import { FAKE_TOGETHER_API_KEY } from '../../local/fake-together';
import { createLocalServer } from '../../local/http';
import { FAKE_SIMULATE_PATH } from '../../ops/simulate';
import { rawRequest } from '../support/net';

/**
 * The refusals of the local servers that are not the console, each sent as an attacker would: a
 * real HTTP request to the real server on 127.0.0.1. The local receiver's handler and the fake
 * APIs' request logs record what got through, so "nothing changed" is "nothing got there".
 */


const send = rawRequest;

const MAX_BODY_BYTES = 1_024;
const reached: APIGatewayProxyEventV2[] = [];
const tooLarge: string[] = [];
let server: Server;
let base: string;
let host: string;
let fakes: FakeProviders;

beforeAll(async () => {
  server = createLocalServer(
    async (event) => {
      reached.push(event);
      return { statusCode: 200, body: '{"status":"accepted"}' };
    },
    () => ({ status: 'ok', providers: ['together'] }),
    { maxBodyBytes: MAX_BODY_BYTES },
    { onBodyTooLarge: (provider) => tooLarge.push(provider) },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  host = new URL(base).host;
  fakes = await startFakeProviders({ port: 0, replicateSecret: 'whsec_fake-replicate-secret' });
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await fakes?.stop();
});

beforeEach(() => {
  reached.length = 0;
  tooLarge.length = 0;
});

const DELIVERY = '{"id":"evt_1","type":"fine_tune.completed"}';
const program = () => ({ host, 'content-type': 'application/json' });

describe('the local receiver server (npm start, /webhooks and /health)', () => {
  it('[ATTACK] a delivery as a sender posts it, from a program naming 127.0.0.1, reaches the receiver (so the refusals below are not vacuous)', async () => {
    const answer = await send(base, 'POST', '/webhooks/together', program(), [DELIVERY]);

    expect(answer.status).toBe(200);
    expect(reached).toHaveLength(1);
  });

  it('[ATTACK] a delivery naming another Host (a DNS-rebinding page) is refused with 403 and never reaches the receiver', async () => {
    const answer = await send(base, 'POST', '/webhooks/together', { ...program(), host: `hooks.attacker.example:${new URL(base).port}` }, [DELIVERY]);

    expect(answer.status).toBe(403);
    expect(reached).toEqual([]);
  });

  it('[ATTACK] a delivery posted by a web page of another origin is refused with 403, without CORS headers, and never reaches the receiver', async () => {
    const answer = await send(base, 'POST', '/webhooks/together', { ...program(), origin: 'http://evil.example' }, [DELIVERY]);

    expect(answer.status).toBe(403);
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    expect(reached).toEqual([]);
  });

  it('[ATTACK] a delivery posted by a file:// page or sandboxed frame (Origin null) is refused with 403 and never reaches the receiver', async () => {
    const answer = await send(base, 'POST', '/webhooks/together', { ...program(), origin: 'null' }, [DELIVERY]);

    expect(answer.status).toBe(403);
    expect(reached).toEqual([]);
  });

  it('[ATTACK] a no-cors request of another site without Origin (Sec-Fetch-Site cross-site) is refused with 403 and never reaches the receiver', async () => {
    const answer = await send(base, 'POST', '/webhooks/together', { ...program(), 'sec-fetch-site': 'cross-site' }, [DELIVERY]);

    expect(answer.status).toBe(403);
    expect(reached).toEqual([]);
  });

  it('[ATTACK] /health read by a web page of another origin is refused with 403 and tells it nothing', async () => {
    const answer = await send(base, 'GET', '/health', { host, origin: 'http://evil.example' });

    expect(answer.status).toBe(403);
    expect(answer.body).not.toContain('providers');
  });

  it('[ATTACK] a body over the cap sent chunked, without Content-Length, is refused with 413 and never reaches the receiver', async () => {
    const chunk = Buffer.alloc(MAX_BODY_BYTES / 4, 0x20);

    const answer = await send(base, 'POST', '/webhooks/together', { ...program(), 'transfer-encoding': 'chunked' }, [chunk, chunk, chunk, chunk, '{}']);

    expect(answer.status).toBe(413);
    expect(reached).toEqual([]);
    expect(tooLarge).toEqual(['together']);
  });

  it('[ATTACK] a body announced over the cap by Content-Length is refused with 413 before any of it is sent, and never reaches the receiver', async () => {
    // Only the headers go out: the answer must come without the server waiting for the body.
    const answer = await send(base, 'POST', '/webhooks/together', { ...program(), 'content-length': String(100 * MAX_BODY_BYTES) });

    expect(answer.status).toBe(413);
    expect(reached).toEqual([]);
  });

  it('[ATTACK] with HOST beyond loopback (any Host served), a delivery posted by a web page is still refused with 403 and never reaches the receiver', async () => {
    const exposed = createLocalServer(
      async (event) => {
        reached.push(event);
        return { statusCode: 200, body: '{}' };
      },
      undefined,
      {},
      { anyHost: true },
    );
    await new Promise<void>((resolve) => exposed.listen(0, '127.0.0.1', resolve));
    const exposedBase = `http://127.0.0.1:${(exposed.address() as AddressInfo).port}`;
    try {
      const fromSender = await send(exposedBase, 'POST', '/webhooks/together', { ...program(), host: 'dev-box.example:3000' }, [DELIVERY]);
      const fromPage = await send(exposedBase, 'POST', '/webhooks/together', { ...program(), host: 'dev-box.example:3000', origin: 'http://evil.example' }, [DELIVERY]);

      expect([fromSender.status, fromPage.status]).toEqual([200, 403]);
      expect(reached).toHaveLength(1);
    } finally {
      exposed.closeAllConnections();
      await new Promise((resolve) => exposed.close(resolve));
    }
  });

  it('[ATTACK] a path that is not /webhooks/{provider} is refused with 404 and never reaches the receiver', async () => {
    const answer = await send(base, 'POST', '/webhooks', program(), [DELIVERY]);
    const nested = await send(base, 'POST', '/webhooks/together/extra', program(), [DELIVERY]);

    expect([answer.status, nested.status]).toEqual([404, 404]);
    expect(reached).toEqual([]);
  });
});

describe('the fake provider APIs (npm start, npm run fake-providers)', () => {
  const fakeHost = () => new URL(fakes.url).host;
  const simulate = JSON.stringify({ id: 'ftjob-attack', steps: 8, outcome: 'completed' });
  const jobExists = async (id: string) =>
    (await send(fakes.url, 'GET', `/openai/v1/fine_tuning/jobs/${id}`, { host: fakeHost(), authorization: `Bearer ${FAKE_OPENAI_API_KEY}` })).status === 200;

  it('[ATTACK] a simulated job asked by a program naming 127.0.0.1 is made (so the refusals below are not vacuous)', async () => {
    const answer = await send(fakes.url, 'POST', FAKE_SIMULATE_PATH, { host: fakeHost(), 'content-type': 'application/json' }, [JSON.stringify({ id: 'ftjob-allowed', steps: 8, outcome: 'completed' })]);

    expect(answer.status).toBe(200);
    expect(await jobExists('ftjob-allowed')).toBe(true);
  });

  it('[ATTACK] a web page of another origin cannot make a job in the fake OpenAI: 403, no CORS header, and no job', async () => {
    const answer = await send(fakes.url, 'POST', FAKE_SIMULATE_PATH, { host: fakeHost(), origin: 'http://evil.example', 'content-type': 'text/plain' }, [simulate]);

    expect(answer.status).toBe(403);
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    expect(await jobExists('ftjob-attack')).toBe(false);
  });

  it('[ATTACK] a request naming another Host (DNS rebinding) cannot make a job in the fake OpenAI: 403 and no job', async () => {
    const answer = await send(fakes.url, 'POST', FAKE_SIMULATE_PATH, { host: 'fakes.attacker.example', 'content-type': 'application/json' }, [simulate]);

    expect(answer.status).toBe(403);
    expect(await jobExists('ftjob-attack')).toBe(false);
  });

  it('[ATTACK] a page of another origin cannot read the Replicate signing secret from the fake API, even with its token: 403 and no secret', async () => {
    const answer = await send(fakes.url, 'GET', '/replicate/v1/webhooks/default/secret', { host: fakeHost(), origin: 'http://evil.example', authorization: `Bearer ${FAKE_REPLICATE_API_TOKEN}` });

    expect(answer.status).toBe(403);
    expect(answer.body).not.toContain('whsec_');
  });

  it('[ATTACK] the Replicate signing secret asked without the API token is refused with 401 and not given', async () => {
    const answer = await send(fakes.url, 'GET', '/replicate/v1/webhooks/default/secret', { host: fakeHost(), authorization: 'Bearer r8_guess' });

    expect(answer.status).toBe(401);
    expect(answer.body).not.toContain('whsec_');
  });

  it('[ATTACK] the fake OpenAI and Together APIs refuse a wrong API key with 401, as the real ones do, and log the request as unauthorized', async () => {
    fakes.openai.requests.length = 0;

    const openai = await send(fakes.url, 'GET', '/openai/v1/fine_tuning/jobs/ftjob-allowed', { host: fakeHost(), authorization: 'Bearer sk-guess' });
    const together = await send(fakes.url, 'GET', '/together/v1/fine-tunes/ft-1', { host: fakeHost(), authorization: `Bearer ${FAKE_TOGETHER_API_KEY}x` });

    expect([openai.status, together.status]).toEqual([401, 401]);
    expect(fakes.openai.requests.map((logged) => logged.authorized)).toEqual([false]);
  });
});
