import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../functions/core/event';
import { createApiKeyReader, pollerFromConfig, readPollerConfig, type PollerClients } from '../../functions/poller/config';
import { createPollerStateStore, failingJobs, stateKey } from '../../functions/poller/state';
import { batchScript, failedFineTuneScript, startFakeTogether, successfulFineTuneScript, type FakeTogether } from '../../local/fake-together';
import { createPollerTable, queueUrlMap } from '../../local/resources';
import { startEmulated, type Emulated } from '../support/emulated';

const silent = new Logger({ serviceName: 'test', logLevel: 'SILENT' });

let env: Emulated;
let fake: FakeTogether;
let tableName: string;
let tables = 0;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});
beforeEach(async () => {
  // A table per test: what one test leaves unfinished is none of the next one's business.
  tableName = `together-poller-${++tables}`;
  await createPollerTable(env.clients.dynamodb, tableName);
  await env.drainAll();
  fake = await startFakeTogether();
});
afterEach(async () => {
  await fake.stop();
});

function poller(overrides: Partial<PollerClients> = {}) {
  const config = readPollerConfig({
    TABLE_NAME: env.resources.eventsTable,
    QUEUE_URLS: JSON.stringify(queueUrlMap(env.resources)),
    POLLER_TABLE_NAME: tableName,
    TOGETHER_API_BASE_URL: fake.url,
    TOGETHER_API_KEY: fake.apiKey,
  });
  return pollerFromConfig(config, {
    documents: env.clients.documents,
    sqs: env.clients.sqs,
    apiKey: createApiKeyReader(config.apiKey),
    logger: silent,
    sleep: async () => undefined,
    ...overrides,
  });
}

async function queuedIds(): Promise<string[]> {
  const drained = await env.drainAll();
  return [...drained.values()].flat().map((message) => (JSON.parse(message.Body ?? '{}') as NormalizedEvent).id).sort();
}

async function stateItem(pk: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await env.clients.documents.send(new GetCommand({ TableName: tableName, Key: { pk }, ConsistentRead: true }));
  return Item;
}

describe('Together poller, jobs that leave the list', () => {
  it('looks up a running job by id once it leaves GET /fine-tunes and announces its completion', async () => {
    fake.addJob('ft-hidden', successfulFineTuneScript({ checkpoints: 1 }));
    fake.advance('ft-hidden');
    const run = poller();
    await run();
    fake.hide('ft-hidden');
    fake.finish('ft-hidden');

    const summary = await run();
    fake.requests.length = 0;
    await run();

    expect(summary).toMatchObject({ lookedUp: 1, accepted: 2 });
    const ids = await queuedIds();
    expect(ids).toHaveLength(3);
    expect(ids).toEqual(expect.arrayContaining(['poll:ft:ft-hidden:started', 'poll:ft:ft-hidden:completed']));
    expect(ids.filter((id) => id.startsWith('poll:ft:ft-hidden:checkpoint:'))).toHaveLength(1);
    expect(fake.requestsTo('/fine-tunes/ft-hidden')).toEqual([]);
  });

  it('looks up an unfinished batch by id once it leaves GET /batches and announces its end', async () => {
    fake.addBatch('batch-hidden', batchScript('batch-hidden', 'EXPIRED'));
    const run = poller();
    await run();
    fake.hide('batch-hidden');
    fake.finish('batch-hidden');

    await run();

    expect(fake.requestsTo('/batches/batch-hidden').map((request) => request.status)).toEqual([200]);
    expect(await queuedIds()).toEqual(['poll:batch:batch-hidden:EXPIRED']);
  });
});

describe('Together poller, an event refused for good', () => {
  it('records the failure on its job, goes on with the others, and reports the job as failing', async () => {
    fake.addJob('ft-huge', failedFineTuneScript('x'.repeat(400_000)));
    fake.addJob('ft-fine', failedFineTuneScript('CUDA out of memory'));
    fake.finish();
    const run = poller();

    const summary = await run();

    expect(summary).toMatchObject({ failed: 1, failing: 1 });
    expect(await queuedIds()).toEqual(['poll:ft:ft-fine:failed', 'poll:ft:ft-fine:started', 'poll:ft:ft-huge:started']);
    expect(await stateItem(stateKey('fine_tune', 'ft-huge'))).toMatchObject({ terminal: false, failures: 1, lastError: expect.stringMatching(/^failed: normalized event is over/) });
    const failing = await failingJobs(createPollerStateStore(env.clients.documents, tableName));
    expect(failing.map((state) => state.subject)).toEqual(['ft-huge']);
  });

  it('clears the failure from the job once its events go through', async () => {
    fake.addJob('ft-once-bad', failedFineTuneScript('x'.repeat(400_000)));
    fake.finish();
    await poller()();
    const failed = await stateItem(stateKey('fine_tune', 'ft-once-bad'));
    const retryAtMs = Date.parse(String(failed?.retryAt));
    await fake.stop();
    fake = await startFakeTogether();
    fake.addJob('ft-once-bad', failedFineTuneScript('CUDA out of memory'));
    fake.finish();

    await poller({ clock: () => retryAtMs })();

    expect(await stateItem(stateKey('fine_tune', 'ft-once-bad'))).toMatchObject({ terminal: true });
    expect(await stateItem(stateKey('fine_tune', 'ft-once-bad'))).not.toHaveProperty('failures');
    expect(await failingJobs(createPollerStateStore(env.clients.documents, tableName))).toEqual([]);
  });
});
