import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyError } from '../../functions/core/errors';
import { createPollerStateStore, stateKey, type PollerState, type PollerStateStore } from '../../functions/poller/state';
import { createPollerTable } from '../../local/resources';
import { startEmulated, type Emulated } from '../support/emulated';

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

const state = (id: string, overrides: Partial<PollerState>): PollerState => ({
  pk: stateKey('fine_tune', id),
  kind: 'fine_tune',
  subject: id,
  status: 'running',
  terminal: false,
  emitted: new Set(),
  polledAt: '2026-11-01T16:45:13.000Z',
  ...overrides,
});

describe('poller state store', () => {
  it('never writes a finished job back to unfinished when a slower poller saves after it', async () => {
    await store.save(state('ft-slow', { status: 'completed', terminal: true, emitted: new Set(['started', 'completed']) }));

    await store.save(state('ft-slow', { status: 'running', terminal: false, emitted: new Set(['started']) }));

    const saved = (await store.load([stateKey('fine_tune', 'ft-slow')])).get(stateKey('fine_tune', 'ft-slow'));
    expect({ status: saved?.status, terminal: saved?.terminal }).toEqual({ status: 'completed', terminal: true });
  });

  it('keeps the emitted keys of both pollers when they save the same job', async () => {
    await store.save(state('ft-both', { emitted: new Set(['started']) }));

    await store.save(state('ft-both', { emitted: new Set(['checkpoint:step-10']) }));

    const saved = (await store.load([stateKey('fine_tune', 'ft-both')])).get(stateKey('fine_tune', 'ft-both'));
    expect([...(saved?.emitted ?? [])].sort()).toEqual(['checkpoint:step-10', 'started']);
  });

  it('[RULE] a job state reads back as written, every field kept, and a batch stays a batch', async () => {
    const failing = state('ft-all', {
      updatedAt: '1793527200',
      lastEventAt: '2026-11-01T10:09:00.000Z',
      emitted: new Set(['started']),
      failures: 2,
      lastError: 'completed: normalized event is over 380000 bytes',
      retryAt: '2026-11-01T16:47:13.000Z',
    });
    const batch: PollerState = { ...state('b-1', { status: 'IN_PROGRESS' }), pk: stateKey('batch', 'b-1'), kind: 'batch' };
    await store.save(failing);
    await store.save(batch);

    const loaded = await store.load([failing.pk, batch.pk, stateKey('fine_tune', 'ft-never')]);

    expect(loaded).toEqual(new Map([[failing.pk, failing], [batch.pk, batch]]));
  });

  it('[RULE] once its events went through, a job loses its failure fields and keeps the rest', async () => {
    await store.save(state('ft-fixed', { updatedAt: '2026-11-01T16:00:00Z', emitted: new Set(['started']), failures: 1, lastError: 'started: too large', retryAt: '2026-11-01T16:46:13.000Z' }));

    await store.save(state('ft-fixed', { lastEventAt: '2026-11-01T16:44:00.000Z', emitted: new Set() }));

    const saved = (await store.load([stateKey('fine_tune', 'ft-fixed')])).get(stateKey('fine_tune', 'ft-fixed'));
    expect(saved).toEqual(state('ft-fixed', { updatedAt: '2026-11-01T16:00:00Z', lastEventAt: '2026-11-01T16:44:00.000Z', emitted: new Set(['started']) }));
  });

  it('[RULE] the first poll time is kept from the first run, and the unfinished keys follow what was added and removed', async () => {
    const first = await store.firstPolledAt(1_000);
    const later = await store.firstPolledAt(2_000);
    await store.setOpen(stateKey('fine_tune', 'ft-open'), true);
    await store.setOpen(stateKey('batch', 'b-open'), true);
    await store.setOpen(stateKey('fine_tune', 'ft-open'), false);

    expect([first, later]).toEqual([1_000, 1_000]);
    expect(await store.openKeys()).toEqual(new Set([stateKey('batch', 'b-open')]));
  });

  it.each([
    ['load', (missing: PollerStateStore) => missing.load([stateKey('fine_tune', 'ft-1')]), 'could not read poller state from no-such-table'],
    ['save', (missing: PollerStateStore) => missing.save(state('ft-1', {})), 'could not write poller state to no-such-table'],
    ['firstPolledAt', (missing: PollerStateStore) => missing.firstPolledAt(1_000), 'could not read the first poll time from no-such-table'],
    ['openKeys', (missing: PollerStateStore) => missing.openKeys(), 'could not read the unfinished jobs from no-such-table'],
    ['setOpen', (missing: PollerStateStore) => missing.setOpen(stateKey('fine_tune', 'ft-1'), true), 'could not write the unfinished jobs to no-such-table'],
  ])('[RULE] %s on a missing table fails retryably, naming the table and keeping the cause', async (_, call, message) => {
    const failure = await call(createPollerStateStore(env.clients.documents, 'no-such-table')).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(DependencyError);
    expect(failure).toMatchObject({ message, reason: 'poller_state_unavailable', statusCode: 503 });
    expect((failure as Error).cause).toBeInstanceOf(ResourceNotFoundException);
  });
});
