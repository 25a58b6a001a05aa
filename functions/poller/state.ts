import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DependencyError } from '../core/errors';

/**
 * The poller's own table: what it last saw of each Together fine-tune job and batch, one item per
 * `together#{kind}#{id}`. No TTL: a terminal item is what keeps a finished job from being polled
 * (and re-announced) again. The local runtime and the CDK stack both build the table from this.
 */
export const POLLER_TABLE = {
  partitionKey: 'pk',
} as const;

export type PolledKind = 'fine_tune' | 'batch';

/** What the poller remembers of one job or batch. */
export interface PollerState {
  readonly pk: string;
  readonly kind: PolledKind;
  /** The job or batch id: the `subject` of its events. */
  readonly subject: string;
  /** The status the API reported when this was written. */
  readonly status: string;
  /** The API's `updated_at` as it sent it, to tell a changed terminal job from an unchanged one. */
  readonly updatedAt?: string;
  /** Finished: never polled again. */
  readonly terminal: boolean;
  /**
   * The event cursor: keys of the observations already accepted (`started`, `checkpoint:{key}`,
   * `completed`, …), so that a poll hands only new ones to the accept path.
   */
  readonly emitted: ReadonlySet<string>;
  /** `created_at` of the newest API event seen, for operators. */
  readonly lastEventAt?: string;
  /** When the poller last looked at it, ISO 8601: the least recently polled go first. */
  readonly polledAt: string;
  /**
   * Set while its events cannot be accepted for good (an event over the size limit, one that is
   * not valid): how many runs in a row failed, why the last did, and when the next may try again.
   * Such a job is never terminal, so it is retried (with backoff) until every event went through.
   */
  readonly failures?: number;
  readonly lastError?: string;
  readonly retryAt?: string;
}

/** The poller's view of its table; the DynamoDB one is {@link createPollerStateStore}. */
export interface PollerStateStore {
  load(pks: readonly string[]): Promise<Map<string, PollerState>>;
  /**
   * Records what was seen. Sets of emitted keys merge with what another poller wrote, and an item
   * that is already terminal is never written back to non-terminal by a slower poller.
   */
  save(state: PollerState): Promise<void>;
  /**
   * When this poller first ran (epoch ms), recording `nowMs` if it never ran before. Jobs that
   * finished well before it are history; anything finished since is announced, however long the
   * poller was down in between.
   */
  firstPolledAt(nowMs: number): Promise<number>;
  /**
   * Keys of the jobs and batches not known to be finished. The poller adds a key before it first
   * writes a non-terminal state and removes it once the state is terminal, so every unfinished job
   * is in it (a crash in between leaves a finished one in it, which the next run removes): a job
   * that leaves the API's list is still looked up by id.
   */
  openKeys(): Promise<Set<string>>;
  setOpen(pk: string, open: boolean): Promise<void>;
}

/** The item that remembers the poller's first run. */
const FIRST_POLL_KEY = 'together#poller#first-poll';

/** The item that lists the keys of the unfinished jobs and batches (`openKeys`). */
const OPEN_KEY = 'together#poller#open';

/** `together#fine_tune#ft-123` */
export function stateKey(kind: PolledKind, id: string): string {
  return `together#${kind}#${id}`;
}

/** The kind and id of a {@link stateKey}; undefined for any other key. */
export function parseStateKey(pk: string): { kind: PolledKind; id: string } | undefined {
  const match = /^together#(fine_tune|batch)#(.+)$/s.exec(pk);
  return match === null ? undefined : { kind: match[1] as PolledKind, id: match[2] as string };
}

/** The unfinished jobs and batches whose events could not be accepted, for `webhooks status`. */
export async function failingJobs(store: Pick<PollerStateStore, 'openKeys' | 'load'>): Promise<PollerState[]> {
  const states = await store.load([...(await store.openKeys())]);
  return [...states.values()].filter((state) => !state.terminal && (state.failures ?? 0) > 0);
}

const BATCH_GET_LIMIT = 100;
const BATCH_GET_ROUNDS = 5;

/** A {@link PollerStateStore} on DynamoDB. */
export function createPollerStateStore(documents: Pick<DynamoDBDocumentClient, 'send'>, tableName: string): PollerStateStore {
  return {
    async load(pks) {
      const found = new Map<string, PollerState>();
      const unique = [...new Set(pks)];
      for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
        let keys: Record<string, unknown>[] = unique.slice(start, start + BATCH_GET_LIMIT).map((pk) => ({ [POLLER_TABLE.partitionKey]: pk }));
        for (let round = 0; keys.length > 0; round += 1) {
          if (round === BATCH_GET_ROUNDS) {
            throw new DependencyError(`could not read poller state from ${tableName}: DynamoDB left keys unprocessed`, 'poller_state_unavailable');
          }
          let output;
          try {
            output = await documents.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }));
          } catch (error) {
            throw new DependencyError(`could not read poller state from ${tableName}`, 'poller_state_unavailable', { cause: error });
          }
          for (const item of output.Responses?.[tableName] ?? []) {
            const state = fromItem(item);
            found.set(state.pk, state);
          }
          keys = (output.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[];
        }
      }
      return found;
    },

    async firstPolledAt(nowMs) {
      try {
        const { Attributes } = await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [POLLER_TABLE.partitionKey]: FIRST_POLL_KEY },
            UpdateExpression: 'SET firstPolledAt = if_not_exists(firstPolledAt, :now)',
            ExpressionAttributeValues: { ':now': nowMs },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return Number(Attributes?.firstPolledAt ?? nowMs);
      } catch (error) {
        throw new DependencyError(`could not read the first poll time from ${tableName}`, 'poller_state_unavailable', { cause: error });
      }
    },

    async openKeys() {
      let output;
      try {
        // BatchGetItem rather than GetItem: the one read the poller's role already has.
        output = await documents.send(
          new BatchGetCommand({ RequestItems: { [tableName]: { Keys: [{ [POLLER_TABLE.partitionKey]: OPEN_KEY }], ConsistentRead: true } } }),
        );
      } catch (error) {
        throw new DependencyError(`could not read the unfinished jobs from ${tableName}`, 'poller_state_unavailable', { cause: error });
      }
      if ((output.UnprocessedKeys?.[tableName]?.Keys?.length ?? 0) > 0) {
        throw new DependencyError(`could not read the unfinished jobs from ${tableName}: DynamoDB left the key unprocessed`, 'poller_state_unavailable');
      }
      const open = output.Responses?.[tableName]?.[0]?.open;
      return open instanceof Set ? new Set([...open].map(String)) : new Set<string>();
    },

    async setOpen(pk, open) {
      try {
        await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [POLLER_TABLE.partitionKey]: OPEN_KEY },
            // ADD and DELETE of set members commute, so pollers running at once do not lose keys.
            UpdateExpression: `${open ? 'ADD' : 'DELETE'} #open :keys`,
            ExpressionAttributeNames: { '#open': 'open' },
            ExpressionAttributeValues: { ':keys': new Set([pk]) },
          }),
        );
      } catch (error) {
        throw new DependencyError(`could not write the unfinished jobs to ${tableName}`, 'poller_state_unavailable', { cause: error });
      }
    },

    async save(state) {
      const names: Record<string, string> = { '#pk': POLLER_TABLE.partitionKey, '#status': 'status' };
      const values: Record<string, unknown> = {
        ':kind': state.kind,
        ':subject': state.subject,
        ':status': state.status,
        ':terminal': state.terminal,
        ':false': false,
        ':polledAt': state.polledAt,
      };
      const sets = ['kind = :kind', 'subject = :subject', '#status = :status', 'terminal = :terminal', 'polledAt = :polledAt'];
      if (state.updatedAt !== undefined) {
        sets.push('updatedAt = :updatedAt');
        values[':updatedAt'] = state.updatedAt;
      }
      if (state.lastEventAt !== undefined) {
        sets.push('lastEventAt = :lastEventAt');
        values[':lastEventAt'] = state.lastEventAt;
      }
      if (state.failures !== undefined) {
        sets.push('failures = :failures', 'lastError = :lastError', 'retryAt = :retryAt');
        Object.assign(values, { ':failures': state.failures, ':lastError': state.lastError ?? '', ':retryAt': state.retryAt ?? state.polledAt });
      }
      // ADD merges string sets, so two pollers writing at once both keep their keys; empty sets are not allowed.
      const add = state.emitted.size > 0 ? ' ADD emitted :emitted' : '';
      if (state.emitted.size > 0) values[':emitted'] = new Set(state.emitted);
      const remove = state.failures === undefined ? ' REMOVE failures, lastError, retryAt' : '';
      try {
        await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [POLLER_TABLE.partitionKey]: state.pk },
            UpdateExpression: `SET ${sets.join(', ')}${add}${remove}`,
            ConditionExpression: 'attribute_not_exists(#pk) OR terminal = :false',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        );
      } catch (error) {
        // Already terminal: another poller finished this one; nothing left to record.
        if (error instanceof ConditionalCheckFailedException) return;
        throw new DependencyError(`could not write poller state to ${tableName}`, 'poller_state_unavailable', { cause: error });
      }
    },
  };
}

function fromItem(item: Record<string, unknown>): PollerState {
  const emitted = item.emitted;
  return {
    pk: String(item.pk),
    kind: item.kind === 'batch' ? 'batch' : 'fine_tune',
    subject: String(item.subject ?? ''),
    status: String(item.status ?? ''),
    ...(typeof item.updatedAt === 'string' ? { updatedAt: item.updatedAt } : {}),
    terminal: item.terminal === true,
    emitted: emitted instanceof Set ? new Set([...emitted].map(String)) : new Set<string>(),
    ...(typeof item.lastEventAt === 'string' ? { lastEventAt: item.lastEventAt } : {}),
    polledAt: String(item.polledAt ?? ''),
    ...(typeof item.failures === 'number' ? { failures: item.failures } : {}),
    ...(typeof item.lastError === 'string' ? { lastError: item.lastError } : {}),
    ...(typeof item.retryAt === 'string' ? { retryAt: item.retryAt } : {}),
  };
}
