import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventKey } from '../../functions/core/event';
import { LeaseLostError } from '../../functions/consumers/errors';
import { claimEvent, completeStep, markFailed, markHandled, type LedgerDeps, type Lease } from '../../functions/consumers/ledger';
import { eventRecord, normalizedEvent, queuedRecord } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';

/**
 * A consumer that outlived its lease, on the emulators: another consumer took the event over and
 * finished it, and whatever the first one writes afterwards must not touch the record.
 */

const LEASE_SECONDS = 60;
const T0_MS = Date.parse('2026-11-01T16:45:13Z');

let env: Emulated;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});

const ledgerAt = (nowMs: number): LedgerDeps => ({
  documents: env.clients.documents,
  tableName: env.resources.eventsTable,
  leaseSeconds: LEASE_SECONDS,
  retentionSeconds: 7 * 86_400,
  clock: () => nowMs,
});

/** The first consumer's lease, and the record after a second consumer took over past it and handled the event. */
async function takenOverAndHandled() {
  const event = normalizedEvent();
  await queuedRecord(env, event);
  const first = await claimEvent(ledgerAt(T0_MS), event);
  const later = ledgerAt(T0_MS + (LEASE_SECONDS + 1) * 1000);
  const second = await claimEvent(later, event);
  if (first.status !== 'claimed' || second.status !== 'claimed') throw new Error('both claims should succeed');
  await markHandled(later, second.lease);
  return { event, stale: first.lease as Lease };
}

describe('a consumer whose lease was taken over', () => {
  it('cannot mark a record another consumer handled as failed', async () => {
    const { event, stale } = await takenOverAndHandled();

    await expect(markFailed(ledgerAt(T0_MS + 1_000), stale, new Error('late failure'))).rejects.toThrow(LeaseLostError);

    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled', attempts: 2 });
  });

  it('cannot record a step on a record another consumer handled', async () => {
    const { event, stale } = await takenOverAndHandled();

    await expect(completeStep(ledgerAt(T0_MS + 1_000), stale, 'alert')).rejects.toThrow(LeaseLostError);

    expect((await eventRecord(env, eventKey(event)))?.steps).toBeUndefined();
  });
});
