import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventKey } from '../../functions/core/event';
import { LeaseHeldError, LeaseLostError, NoRecordError } from '../../functions/consumers/errors';
import { claimEvent, completeStep, markFailed, markHandled, type LedgerDeps, type Lease } from '../../functions/consumers/ledger';
import { eventRecord, normalizedEvent, queuedRecord, storedRecord } from '../support/consumers';
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

describe('the record a claim and its marks leave', () => {
  /** The retention `queuedRecord` writes on the record: the one every transition extends by. */
  const RECORD_RETENTION_SECONDS = 7 * 86_400;

  async function claimed(ledger: LedgerDeps, event = normalizedEvent()) {
    const claim = await claimEvent(ledger, event);
    if (claim.status !== 'claimed') throw new Error(`expected a claim, got ${claim.status}`);
    return claim.lease;
  }

  it('[RULE] a claim while another consumer holds a live lease is refused with a LeaseHeldError naming the status, to retry later, and counts no attempt', async () => {
    const event = normalizedEvent();
    await queuedRecord(env, event);
    await claimed(ledgerAt(T0_MS), event);

    const second = claimEvent(ledgerAt(T0_MS + 1_000), event);

    await expect(second).rejects.toThrow(LeaseHeldError);
    await expect(second).rejects.toThrow(`${eventKey(event)} is being handled by another consumer (status handling); retry later`);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handling', attempts: 1 });
  });

  it('[RULE] a claim of an event without a record is refused with a NoRecordError and creates none', async () => {
    const event = normalizedEvent();

    await expect(claimEvent(ledgerAt(T0_MS), event)).rejects.toThrow(NoRecordError);

    expect(await storedRecord(env, eventKey(event))).toBeUndefined();
  });

  it('[RULE] each claim counts an attempt: the claim after an expired lease is attempt 2 and knows the steps done before it', async () => {
    const event = normalizedEvent();
    await queuedRecord(env, event);
    const first = await claimed(ledgerAt(T0_MS), event);
    await completeStep(ledgerAt(T0_MS), first, 'alert');

    const second = await claimed(ledgerAt(T0_MS + (LEASE_SECONDS + 1) * 1000), event);

    expect(first.attempts).toBe(1);
    expect(second.attempts).toBe(2);
    expect([...second.completedSteps]).toEqual(['alert']);
  });

  it('[RULE] a consumer past its lease is told it lost the lease on the record, taken over or reset', async () => {
    const { event, stale } = await takenOverAndHandled();

    await expect(markHandled(ledgerAt(T0_MS + 1_000), stale)).rejects.toThrow(
      `lost the lease on ${eventKey(event)} (another consumer took it over or it was reset)`,
    );
  });

  it('[RULE] a handled event keeps its notes joined by "; " and drops the last error; handled again without notes, it keeps none', async () => {
    const event = normalizedEvent();
    await queuedRecord(env, event);
    await markFailed(ledgerAt(T0_MS), await claimed(ledgerAt(T0_MS), event), new Error('SNS answered 503'));
    await markHandled(ledgerAt(T0_MS), await claimed(ledgerAt(T0_MS), event), ['no model name', 'evaluation skipped']);
    const withNotes = await storedRecord(env, eventKey(event));
    // A replay puts the record back to queued.
    await env.clients.documents.send(
      new UpdateCommand({
        TableName: env.resources.eventsTable,
        Key: { pk: eventKey(event) },
        UpdateExpression: 'SET #status = :queued',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':queued': 'queued' },
      }),
    );

    await markHandled(ledgerAt(T0_MS), await claimed(ledgerAt(T0_MS), event));

    expect(withNotes).toMatchObject({ status: 'handled', note: 'no model name; evaluation skipped' });
    expect(withNotes).not.toHaveProperty('lastError');
    const replayed = await storedRecord(env, eventKey(event));
    expect(replayed).toMatchObject({ status: 'handled', attempts: 3 });
    expect(replayed).not.toHaveProperty('note');
  });

  it('[RULE] a failed or handled mark keeps the record for its retention from the moment of the mark, counted in seconds', async () => {
    const event = normalizedEvent();
    await queuedRecord(env, event);
    const t0Seconds = Math.floor(T0_MS / 1000);

    await markFailed(ledgerAt(T0_MS + 10_000), await claimed(ledgerAt(T0_MS), event), new Error('SNS answered 503'));
    const failed = await storedRecord(env, eventKey(event));
    await markHandled(ledgerAt(T0_MS + 30_000), await claimed(ledgerAt(T0_MS + 20_000), event));
    const handled = await storedRecord(env, eventKey(event));

    expect(failed).toMatchObject({ status: 'failed', expiresAt: t0Seconds + 10 + RECORD_RETENTION_SECONDS });
    expect(handled).toMatchObject({ status: 'handled', expiresAt: t0Seconds + 30 + RECORD_RETENTION_SECONDS });
  });
});
