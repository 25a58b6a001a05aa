import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPollerStateStore, stateKey, type PollerState, type PollerStateStore } from '../../functions/poller/state';
import { createPollerTable } from '../../local/resources';
import { startEmulated, type Emulated } from '../support/emulated';
import { runningJobState } from '../support/poller';

/** The poller's state table on the emulators: what two pollers writing the same job leave behind. */

const TABLE = 'together-poller-state';
let env: Emulated;
let store: PollerStateStore;
beforeAll(async () => {
  env = await startEmulated();
  await createPollerTable(env.clients.dynamodb, TABLE);
  store = createPollerStateStore(env.clients.documents, TABLE);
});
afterAll(async () => {
  await env?.stop();
});

describe('poller state store', () => {
  it('never writes a finished job back to unfinished when a slower poller saves after it', async () => {
    await store.save(runningJobState('ft-slow', { status: 'completed', terminal: true, emitted: new Set(['started', 'completed']) }));

    await store.save(runningJobState('ft-slow', { status: 'running', terminal: false, emitted: new Set(['started']) }));

    const saved = (await store.load([stateKey('fine_tune', 'ft-slow')])).get(stateKey('fine_tune', 'ft-slow'));
    expect({ status: saved?.status, terminal: saved?.terminal }).toEqual({ status: 'completed', terminal: true });
  });

  it('keeps the emitted keys of both pollers when they save the same job', async () => {
    await store.save(runningJobState('ft-both', { emitted: new Set(['started']) }));

    await store.save(runningJobState('ft-both', { emitted: new Set(['checkpoint:step-10']) }));

    const saved = (await store.load([stateKey('fine_tune', 'ft-both')])).get(stateKey('fine_tune', 'ft-both'));
    expect([...(saved?.emitted ?? [])].sort()).toEqual(['checkpoint:step-10', 'started']);
  });
});
