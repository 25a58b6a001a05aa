import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readEventStatus } from '../core/accept';
import { eventKey, type NormalizedEvent } from '../core/event';
import { EVENTS_TABLE, extendExpiry, type EventRecord, type EventStatus } from '../core/table';
import { ConsumerDependencyError, LeaseHeldError, LeaseLostError, NoRecordError } from './errors';

/*
 * The consumer's idempotency record is the event record the receiver already wrote (events table,
 * `{provider}#{eventId}`), moved on with conditional writes: queued → handling (a lease) → handled.
 * Not a second Powertools idempotency record, because this record already is the idempotency
 * record and the event log; a second one would double the writes per event; and replay must be
 * able to reset an event (status back to `queued`) without knowing Powertools' key hashing.
 */

export interface LedgerDeps {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly leaseSeconds: number;
  /** Retention of a record written without its own. */
  readonly retentionSeconds: number;
  /** Epoch milliseconds. */
  readonly clock: () => number;
}

/** A consumer's hold on one event, for one attempt. */
export interface Lease {
  readonly key: string;
  readonly token: string;
  /** 1 on the first attempt; counts every claim, replays included. */
  readonly attempts: number;
  /** Steps an earlier attempt already completed (see {@link completeStep}). */
  readonly completedSteps: ReadonlySet<string>;
}

export type ClaimResult =
  | { readonly status: 'claimed'; readonly lease: Lease }
  /** Already handled: a duplicate delivery, to be acknowledged without any effect. */
  | { readonly status: 'handled'; readonly key: string };

/** Statuses a consumer may take an event from (besides `handling` with an expired lease). */
const CLAIMABLE: readonly EventStatus[] = ['queued', 'in_progress', 'failed'];

/**
 * Takes the event for this attempt: one conditional UpdateItem that sets `handling` with a fresh
 * lease and counts the attempt. Allowed when the record is `queued`, `in_progress` (the receiver
 * sent the message but has not marked it queued yet), `failed` (a retry) or `handling` with an
 * expired lease (its consumer died). Moves `expiresAt` on, like every transition, so the record
 * outlives the message's copies.
 *
 * Never creates a record. Every message on a route queue was sent after its record was written
 * (accept, replay), and the record outlives every copy of the message, so a message without one
 * was not accepted by this receiver: anyone allowed to send to the queue could have written it.
 * Returns `handled` for a duplicate; throws {@link NoRecordError} when there is no record,
 * {@link LeaseHeldError} while another consumer holds a live lease and
 * {@link ConsumerDependencyError} when DynamoDB fails.
 */
export async function claimEvent(deps: LedgerDeps, event: Pick<NormalizedEvent, 'provider' | 'id'>): Promise<ClaimResult> {
  const key = eventKey(event);
  const nowMs = deps.clock();
  const nowSeconds = Math.floor(nowMs / 1000);
  const token = randomUUID();
  const expiry = extendExpiry(nowSeconds, deps.retentionSeconds);
  const names: Record<string, string> = {
    '#pk': EVENTS_TABLE.partitionKey,
    '#status': 'status',
    '#leaseToken': 'leaseToken',
    '#leaseExpiresAt': 'leaseExpiresAt',
    '#attempts': 'attempts',
    '#steps': 'steps',
    ...expiry.names,
  };
  const values: Record<string, unknown> = {
    ...expiry.values,
    ':handling': 'handling',
    ':token': token,
    ':leaseExpiresAt': nowSeconds + deps.leaseSeconds,
    ':now': nowSeconds,
    ':zero': 0,
    ':one': 1,
    ':noSteps': {},
  };
  const sets = [
    '#status = :handling',
    '#leaseToken = :token',
    '#leaseExpiresAt = :leaseExpiresAt',
    '#attempts = if_not_exists(#attempts, :zero) + :one',
    '#steps = if_not_exists(#steps, :noSteps)',
    expiry.set,
  ];
  CLAIMABLE.forEach((status, index) => (values[`:claimable${index}`] = status));

  try {
    const { Attributes } = await deps.documents.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { [EVENTS_TABLE.partitionKey]: key },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression:
          `attribute_exists(#pk) AND (#status IN (${CLAIMABLE.map((_, index) => `:claimable${index}`).join(', ')}) ` +
          'OR (#status = :handling AND #leaseExpiresAt < :now))',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    const record = Attributes as Partial<EventRecord> | undefined;
    return {
      status: 'claimed',
      lease: {
        key,
        token,
        // Stryker disable next-line OptionalChaining: a successful update with ReturnValues ALL_NEW always returns the item
        attempts: record?.attempts ?? 1,
        // Stryker disable next-line OptionalChaining: a successful update with ReturnValues ALL_NEW always returns the item
        completedSteps: new Set(Object.keys(record?.steps ?? {})),
      },
    };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) {
      throw new ConsumerDependencyError(`could not claim ${key}`, { cause: error });
    }
    // DynamoDB returns the blocking item; emulators that do not get a consistent read instead.
    const status = (error.Item?.status?.S as EventStatus | undefined) ?? (await readStatus(deps, key));
    if (status === 'handled') return { status: 'handled', key };
    if (status === undefined) throw new NoRecordError(key);
    throw new LeaseHeldError(`${key} is being handled by another consumer (status ${status}); retry later`);
  }
}

/**
 * Records that a step of the current attempt is done, so that a retry of the event (after a later
 * step failed) skips it. Conditioned on our lease. Throws {@link LeaseLostError} if the lease is
 * gone and {@link ConsumerDependencyError} when DynamoDB fails.
 */
export async function completeStep(deps: LedgerDeps, lease: Lease, step: string): Promise<void> {
  await updateOwn(deps, lease, 'SET #steps.#step = :at', { '#steps': 'steps', '#step': step }, {
    ':at': new Date(deps.clock()).toISOString(),
  });
}

/**
 * Marks the event `handled`, conditioned on our lease. Clears the steps, so that a replay (status
 * back to `queued`) runs every step again. Sets `note` to the attempt's notes (see
 * `RouteContext.note`), or removes an earlier attempt's when there are none. Throws like
 * {@link completeStep}: the effects are done, but without the mark a retry is the only way not to
 * lose the event's outcome.
 */
export async function markHandled(deps: LedgerDeps, lease: Lease, notes: readonly string[] = []): Promise<void> {
  const expiry = extendExpiry(Math.floor(deps.clock() / 1000), deps.retentionSeconds);
  const note = withinBytes(notes.join('; '), MAX_LAST_ERROR_LENGTH);
  await updateOwn(
    deps,
    lease,
    `SET #status = :handled, handledAt = :at, ${expiry.set}${note === '' ? '' : ', #note = :note'} ` +
      `REMOVE #leaseToken, #leaseExpiresAt, lastError, #steps${note === '' ? ', #note' : ''}`,
    { '#status': 'status', '#leaseExpiresAt': 'leaseExpiresAt', '#steps': 'steps', '#note': 'note', ...expiry.names },
    { ':handled': 'handled', ':at': new Date(deps.clock()).toISOString(), ...expiry.values, ...(note === '' ? {} : { ':note': note }) },
  );
}

/**
 * Longest `lastError` (and `note`) kept, in UTF-8 bytes as DynamoDB counts them: enough to read
 * the cause, never a payload dump, and within what the record's size budget leaves it
 * (`functions/core/stored-event.ts`).
 */
export const MAX_LAST_ERROR_LENGTH = 300;

const UTF8 = new TextEncoder();

/** The longest start of `text` within `maxBytes` UTF-8 bytes, never half a character. */
export function withinBytes(text: string, maxBytes: number): string {
  // encodeInto writes whole characters only: it stops before one that does not fit, a surrogate pair included.
  const { read } = UTF8.encodeInto(text, new Uint8Array(maxBytes));
  return text.slice(0, read);
}

/**
 * Marks the attempt `failed` with the error's message and its time, and releases the lease, so
 * the retry can claim at once. Best effort: if it fails, the lease simply expires.
 */
export async function markFailed(deps: LedgerDeps, lease: Lease, error: unknown): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  const expiry = extendExpiry(Math.floor(deps.clock() / 1000), deps.retentionSeconds);
  await updateOwn(
    deps,
    lease,
    `SET #status = :failed, lastError = :error, failedAt = :at, ${expiry.set} REMOVE #leaseToken, #leaseExpiresAt`,
    { '#status': 'status', '#leaseExpiresAt': 'leaseExpiresAt', ...expiry.names },
    { ':failed': 'failed', ':error': withinBytes(message, MAX_LAST_ERROR_LENGTH), ':at': new Date(deps.clock()).toISOString(), ...expiry.values },
  );
}

async function updateOwn(
  deps: LedgerDeps,
  lease: Lease,
  updateExpression: string,
  names: Record<string, string>,
  values: Record<string, unknown>,
): Promise<void> {
  try {
    await deps.documents.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { [EVENTS_TABLE.partitionKey]: lease.key },
        UpdateExpression: updateExpression,
        ConditionExpression: '#leaseToken = :leaseToken',
        ExpressionAttributeNames: { ...names, '#leaseToken': 'leaseToken' },
        ExpressionAttributeValues: { ...values, ':leaseToken': lease.token },
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      throw new LeaseLostError(`lost the lease on ${lease.key} (another consumer took it over or it was reset)`);
    }
    throw new ConsumerDependencyError(`could not update the record of ${lease.key}`, { cause: error });
  }
}

async function readStatus(deps: LedgerDeps, key: string): Promise<EventStatus | undefined> {
  try {
    return await readEventStatus(deps.documents, deps.tableName, key);
  } catch (error) {
    throw new ConsumerDependencyError(`could not read the record of ${key}`, { cause: error });
  }
}
