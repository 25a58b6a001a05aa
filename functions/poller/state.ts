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
}

/** The item that remembers the poller's first run. */
const FIRST_POLL_KEY = 'together#poller#first-poll';

/** `together#fine_tune#ft-123` */
export function stateKey(kind: PolledKind, id: string): string {
  return `together#${kind}#${id}`;
}

const BATCH_GET_LIMIT = 100;
const BATCH_GET_ROUNDS = 5;

/** A {@link PollerStateStore} on DynamoDB. */
export function createPollerStateStore(documents: DynamoDBDocumentClient, tableName: string): PollerStateStore {
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
      // ADD merges string sets, so two pollers writing at once both keep their keys; empty sets are not allowed.
      const add = state.emitted.size > 0 ? ' ADD emitted :emitted' : '';
      if (state.emitted.size > 0) values[':emitted'] = new Set(state.emitted);
      try {
        await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [POLLER_TABLE.partitionKey]: state.pk },
            UpdateExpression: `SET ${sets.join(', ')}${add}`,
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
  };
}
