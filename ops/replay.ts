import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { eventMessage } from '../functions/core/accept';
import { keepPayloadItem } from '../functions/core/payload-item';
import type { Route } from '../functions/core/routes';
import { EVENTS_TABLE, MIN_RECORD_RETENTION_SECONDS, extendExpiry, type EventRecord, type EventStatus } from '../functions/core/table';
import { getEvent, type EventsDeps } from './events';
import { readRecordEvent, type StoredEventRead } from './stored-events';
import type { RouteQueueRefs } from './target';

export interface ReplayDeps extends EventsDeps {
  readonly documents: Pick<DynamoDBDocumentClient, 'send'>;
  readonly sqs: Pick<SQSClient, 'send'>;
  readonly queues: Readonly<Record<Route, Pick<RouteQueueRefs, 'url'>>>;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  /** Replay `in_progress` and `handling` records too, once their lease expired {@link FORCE_LEASE_MARGIN_SECONDS} ago. */
  readonly force?: boolean;
  /**
   * The status the events were selected by (`--status failed`): each is replayed only while its
   * record still has it, so an event that moved on since the listing (an SQS retry handled it) is
   * skipped, not reset and run again.
   */
  readonly selectedStatus?: EventStatus;
}

/**
 * How long ago by this machine's clock a lease must have expired before `--force` takes it over:
 * more than ordinary clock drift, so that a live consumer is not robbed by a clock running ahead.
 */
export const FORCE_LEASE_MARGIN_SECONDS = 300;

/** What replay did to one event. */
export type ReplayOutcome =
  | { readonly key: string; readonly result: 'replayed'; readonly route: Route; readonly replayCount: number; readonly previousStatus: EventStatus }
  | { readonly key: string; readonly result: 'not_found' }
  /**
   * `in_progress` or `handling`: the receiver may be sending it or a consumer handling it right now.
   * `forced` says whether `--force` was given (then its lease is still live, or only just expired).
   */
  | { readonly key: string; readonly result: 'busy'; readonly status: EventStatus; readonly leaseExpiresAt?: string; readonly forced: boolean }
  /** Selected by `selected`, it is `status` by the time of its replay: left alone, nothing to do. */
  | { readonly key: string; readonly result: 'moved_on'; readonly status: EventStatus; readonly selected: EventStatus }
  /** Marked `queued` but the send failed or the stored event is unusable: the message says what to do. */
  | { readonly key: string; readonly result: 'error'; readonly message: string };

/**
 * Replays one event, per the replay contract shared with the consumers:
 * 1. one conditional UpdateItem: status `queued`, `replayCount` + 1, `replayedAt`, any stale lease
 *    removed, `expiresAt` moved on so the record outlives the new copy. Refused while the record is
 *    `in_progress` or `handling`: someone may be working on it right now, and a second copy would
 *    race them. Only the holder's clock can tell its lease is dead, never this machine's, so
 *    `force` takes such a record only once its lease expired FORCE_LEASE_MARGIN_SECONDS ago;
 * 2. SendMessage of the stored normalized event to its route's queue, with the attributes the
 *    receiver sets (eventId, provider, type).
 * The consumer's claim accepts `queued`, so even a `handled` event runs again: that is the point of
 * a deliberate replay by key. A replay by status (`selectedStatus`) is conditional on that status
 * too: an event that left it since the listing is reported `moved_on` and left alone.
 * If step 2 fails the record says `queued` with no message: replay it again.
 */
export async function replayEvent(deps: ReplayDeps, key: string): Promise<ReplayOutcome> {
  const nowMs = deps.clock();
  const nowSeconds = Math.floor(nowMs / 1000);
  const expiry = extendExpiry(nowSeconds, MIN_RECORD_RETENTION_SECONDS);
  const idle = 'NOT (#status IN (:inProgress, :handling))';
  const free = deps.force === true ? `${idle} OR #leaseExpiresAt < :forceBefore` : idle;
  const selected = deps.selectedStatus === undefined ? '' : ' AND #status = :selected';
  // The record before the update: its event, route and status (for "was failed") in one call.
  let before: EventRecord;
  try {
    const { Attributes } = await deps.documents.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { [EVENTS_TABLE.partitionKey]: key },
        UpdateExpression:
          `SET #status = :queued, #replayCount = if_not_exists(#replayCount, :zero) + :one, #replayedAt = :at, ${expiry.set} REMOVE #leaseToken, #leaseExpiresAt`,
        ConditionExpression: `attribute_exists(#pk)${selected} AND (${free})`,
        ExpressionAttributeNames: {
          ...expiry.names,
          '#pk': EVENTS_TABLE.partitionKey,
          '#status': 'status',
          '#replayCount': 'replayCount',
          '#replayedAt': 'replayedAt',
          '#leaseToken': 'leaseToken',
          '#leaseExpiresAt': 'leaseExpiresAt',
        },
        ExpressionAttributeValues: {
          ...expiry.values,
          ':queued': 'queued',
          ':zero': 0,
          ':one': 1,
          ':at': new Date(nowMs).toISOString(),
          ':inProgress': 'in_progress',
          ':handling': 'handling',
          ...(deps.force === true ? { ':forceBefore': nowSeconds - FORCE_LEASE_MARGIN_SECONDS } : {}),
          ...(deps.selectedStatus === undefined ? {} : { ':selected': deps.selectedStatus }),
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    before = Attributes as EventRecord;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // DynamoDB could return the blocking item, but emulators do not: one read tells why.
    const current = await getEvent(deps, key);
    if (current === undefined) return { key, result: 'not_found' };
    if (deps.selectedStatus !== undefined && current.status !== deps.selectedStatus) {
      return { key, result: 'moved_on', status: current.status, selected: deps.selectedStatus };
    }
    return {
      key,
      result: 'busy',
      status: current.status,
      forced: deps.force === true,
      ...(current.leaseExpiresAt === undefined ? {} : { leaseExpiresAt: new Date(current.leaseExpiresAt * 1000).toISOString() }),
    };
  }

  let read: StoredEventRead;
  try {
    read = await readRecordEvent(deps, before);
    // The payload item lives as long as the record it belongs to, which the update just kept longer.
    if (read.ok) await keepPayloadItem(deps.documents, deps.tableName, before, nowSeconds + (before.retentionSeconds ?? MIN_RECORD_RETENTION_SECONDS) + MIN_RECORD_RETENTION_SECONDS);
  } catch (error) {
    return { key, result: 'error', message: `${key} is marked queued but its payload could not be read (${error instanceof Error ? error.message : String(error)}); run the replay again` };
  }
  if (!read.ok) {
    return { key, result: 'error', message: `${read.problem}; it was not sent` };
  }
  const { event, body } = read;
  try {
    await deps.sqs.send(new SendMessageCommand(eventMessage(event, body, deps.queues[event.type].url)));
  } catch (error) {
    return {
      key,
      result: 'error',
      message: `${key} is marked queued but could not be sent to the ${event.type} queue (${error instanceof Error ? error.message : String(error)}); run the replay again`,
    };
  }
  return { key, result: 'replayed', route: event.type, replayCount: (before.replayCount ?? 0) + 1, previousStatus: before.status };
}

/** One line per outcome, for the terminal. */
export function describeReplay(outcome: ReplayOutcome): string {
  switch (outcome.result) {
    case 'replayed':
      return `replayed ${outcome.key} (was ${outcome.previousStatus}) → ${outcome.route} queue, replay #${outcome.replayCount}`;
    case 'not_found':
      return `not found ${outcome.key}: no such event record (expired, or a wrong key?)`;
    case 'busy': {
      const until = outcome.leaseExpiresAt === undefined ? '' : ` (lease until ${outcome.leaseExpiresAt})`;
      return outcome.forced
        ? `skipped ${outcome.key}: it is ${outcome.status} under a lease that is live or expired less than ${FORCE_LEASE_MARGIN_SECONDS / 60} minutes ago${until}; retry after that`
        : `skipped ${outcome.key}: it is ${outcome.status}${until}: someone may be working on it right now. If its ${outcome.status === 'handling' ? 'consumer' : 'receiver'} is gone, replay it with --force`;
    }
    case 'moved_on':
      return `skipped ${outcome.key}: now ${outcome.status}, no longer ${outcome.selected}; nothing to replay`;
    case 'error':
      return `failed ${outcome.key}: ${outcome.message}`;
  }
}

/** Replays each key in turn (a few at a time), reporting every outcome as it comes. */
export async function replayMany(
  deps: ReplayDeps,
  keys: readonly string[],
  onOutcome: (outcome: ReplayOutcome) => void,
  concurrency = 4,
): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = new Array(keys.length);
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const position = next++;
      const outcome = await replayEvent(deps, keys[position] as string);
      outcomes[position] = outcome;
      onOutcome(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  return outcomes;
}
