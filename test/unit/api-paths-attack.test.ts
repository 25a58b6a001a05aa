import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createOpenAiApi } from '../../functions/consumers/enrich/openai-api';
import { createTogetherApi } from '../../functions/poller/together-api';

/**
 * Ids come from webhook payloads, which a sender writes: an id holding `/`, `..`, `?` or `#` must
 * stay one path segment of the provider API's URL, never reaching another endpoint or adding a
 * query. A real server records the raw request targets the clients send.
 */

const HOSTILE_IDS = ['../../files/file-other', 'ftjob-1/cancel', 'file-1?purpose=batch#frag', 'batch 1%2F..'];
const targets: string[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    targets.push(request.url ?? '');
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

beforeEach(() => {
  targets.length = 0;
});

const options = () => ({ baseUrl: base, apiKey: async () => 'sk-test', sleep: async () => undefined, retry: { maxAttempts: 1, requestTimeoutMs: 2_000 } });

/** The path of a raw request target, split into its segments after `/v1/`, and its query. */
function segments(target: string): { path: string[]; query: string } {
  const [path = '', query = ''] = target.split('?');
  return { path: path.split('/').slice(2).map(decodeURIComponent), query };
}

describe('provider API paths', () => {
  it.each(HOSTILE_IDS)('[ATTACK] an OpenAI file id or batch id from a payload (%j) stays one path segment of GET /files/{id} and /batches/{id}', async (id) => {
    const api = createOpenAiApi(options());

    await api.getFile(id);
    await api.getBatch(id);

    expect(targets.map(segments)).toEqual([
      { path: ['files', id], query: '' },
      { path: ['batches', id], query: '' },
    ]);
  });

  it.each(HOSTILE_IDS)('[ATTACK] an OpenAI fine-tuning job id from a payload (%j) stays one path segment, and a paging cursor one query value', async (id) => {
    const api = createOpenAiApi(options());

    await api.getFineTuningJob(id);
    await api.listCheckpoints(id, { limit: 10, after: id });

    expect(targets.map(segments)).toEqual([
      { path: ['fine_tuning', 'jobs', id], query: '' },
      { path: ['fine_tuning', 'jobs', id, 'checkpoints'], query: expect.any(String) },
    ]);
    expect(Object.fromEntries(new URLSearchParams(segments(targets[1] ?? '').query))).toEqual({ limit: '10', after: id });
  });

  it.each(HOSTILE_IDS)('[ATTACK] a Together job, batch or file id (%j) stays one path segment of its endpoint', async (id) => {
    const api = createTogetherApi(options());

    await api.getFineTune(id);
    await api.getBatch(id);
    await api.getFile(id);
    await api.listFineTuneCheckpoints(id);
    await api.listFineTuneEvents(id).catch(() => undefined);

    expect(targets.map((target) => segments(target).path)).toEqual([
      ['fine-tunes', id],
      ['batches', id],
      ['files', id],
      ['fine-tunes', id, 'checkpoints'],
      ['fine-tunes', id, 'events'],
    ]);
  });
});
