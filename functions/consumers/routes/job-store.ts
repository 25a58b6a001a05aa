import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  checkpointSortKey,
  JOB_HISTORY_TABLE,
  JOBS_TABLE,
  transitionSortKey,
  type JobCheckpoint,
  type JobItem,
  type JobTransition,
} from '../../core/table';
import { jobHistory, type HeldHistory, type HistoryWrite, type JobHistory } from './job-plan';

/** Where a job's history items are: the client and the job-history table. */
export interface JobHistoryStore {
  readonly documents: Pick<DynamoDBDocumentClient, 'send'>;
  readonly tableName: string;
}

const CHECKPOINT_FIELDS = ['step', 'loss', 'at', 'eventId', 'path'] as const satisfies readonly (keyof JobCheckpoint)[];
const TRANSITION_FIELDS = ['state', 'at', 'eventId'] as const satisfies readonly (keyof JobTransition)[];

/**
 * The history items a merge of a job's report reads: the checkpoints of `steps` (one query over
 * their range of sort keys) and, with `states`, every state's item (a job has at most six): a
 * report of the state the job is in needs none, its report is on the job item.
 */
export async function readHeldHistory(store: JobHistoryStore, pk: string, steps: readonly number[], states: boolean): Promise<HeldHistory> {
  const wanted = new Set(steps);
  const checkpoints =
    steps.length === 0
      ? []
      : (await queryAll(store, pk, { between: [checkpointSortKey(Math.min(...steps)), checkpointSortKey(Math.max(...steps))] }))
          .map(checkpointOf)
          .filter((checkpoint) => wanted.has(checkpoint.step));
  const transitions = states ? (await queryAll(store, pk, { prefix: JOB_HISTORY_TABLE.transitionPrefix })).map(transitionOf) : [];
  return { checkpoints, transitions };
}

/**
 * Writes one history item, on condition that it still holds `held` (or does not exist yet when
 * `held` is undefined): false when another writer changed it since it was read (merge again).
 */
export async function putHistoryItem(store: JobHistoryStore, pk: string, write: HistoryWrite<JobCheckpoint> | HistoryWrite<JobTransition>): Promise<boolean> {
  const fields: readonly string[] = 'step' in write.entry ? CHECKPOINT_FIELDS : TRANSITION_FIELDS;
  const sk = 'step' in write.entry ? checkpointSortKey(write.entry.step) : transitionSortKey(write.entry.state);
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  let condition = 'attribute_not_exists(#pk)';
  if (write.held === undefined) names['#pk'] = JOB_HISTORY_TABLE.partitionKey;
  else {
    const held = write.held as unknown as Record<string, unknown>;
    condition = fields
      .map((field, index) => {
        names[`#f${index}`] = field;
        if (held[field] === undefined) return `attribute_not_exists(#f${index})`;
        values[`:f${index}`] = held[field];
        return `#f${index} = :f${index}`;
      })
      .join(' AND ');
  }
  try {
    await store.documents.send(
      new PutCommand({
        TableName: store.tableName,
        Item: { [JOB_HISTORY_TABLE.partitionKey]: pk, [JOB_HISTORY_TABLE.sortKey]: sk, ...write.entry },
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ...(Object.keys(values).length === 0 ? {} : { ExpressionAttributeValues: values }),
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * A job's whole history as readers show it ({@link jobHistory}): its highest
 * `JOBS_TABLE.maxCheckpoints` checkpoint items (a query, highest step first), its state items, the
 * inline history of an item written before the history table, and the current state's report.
 */
export async function readJobHistory(store: JobHistoryStore, item: Partial<JobItem> & Pick<JobItem, 'pk'>): Promise<JobHistory> {
  const checkpoints = (await queryAll(store, item.pk, { prefix: JOB_HISTORY_TABLE.checkpointPrefix, highestFirst: true, limit: JOBS_TABLE.maxCheckpoints })).map(checkpointOf);
  const transitions = (await queryAll(store, item.pk, { prefix: JOB_HISTORY_TABLE.transitionPrefix })).map(transitionOf);
  return jobHistory(item, { checkpoints, transitions });
}

/** A job's item by key (consistent) and its whole history ({@link readJobHistory}); undefined when there is no such job. */
export async function readJobAndHistory(store: JobHistoryStore, jobsTableName: string, pk: string): Promise<JobHistory | undefined> {
  const { Item } = await store.documents.send(new GetCommand({ TableName: jobsTableName, Key: { [JOBS_TABLE.partitionKey]: pk }, ConsistentRead: true }));
  return Item === undefined ? undefined : readJobHistory(store, Item as JobItem);
}

interface HistoryQuery {
  readonly prefix?: string;
  readonly between?: readonly [string, string];
  readonly highestFirst?: boolean;
  /** Most items read, across pages. */
  readonly limit?: number;
}

/** Every item of one job's history in a range of sort keys, across pages, strongly consistent. */
async function queryAll(store: JobHistoryStore, pk: string, query: HistoryQuery): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const input: QueryCommandInput = {
      TableName: store.tableName,
      KeyConditionExpression: query.between === undefined ? '#pk = :pk AND begins_with(#sk, :from)' : '#pk = :pk AND #sk BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#pk': JOB_HISTORY_TABLE.partitionKey, '#sk': JOB_HISTORY_TABLE.sortKey },
      ExpressionAttributeValues: { ':pk': pk, ...(query.between === undefined ? { ':from': query.prefix } : { ':from': query.between[0], ':to': query.between[1] }) },
      ConsistentRead: true,
      ...(query.highestFirst === true ? { ScanIndexForward: false } : {}),
      ...(query.limit === undefined ? {} : { Limit: query.limit - items.length }),
      ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
    };
    const page = await store.documents.send(new QueryCommand(input));
    items.push(...(page.Items ?? []));
    exclusiveStartKey = page.LastEvaluatedKey;
  } while (exclusiveStartKey !== undefined && (query.limit === undefined || items.length < query.limit));
  return items;
}

function checkpointOf(item: Record<string, unknown>): JobCheckpoint {
  return pick(item, CHECKPOINT_FIELDS) as unknown as JobCheckpoint;
}

function transitionOf(item: Record<string, unknown>): JobTransition {
  return pick(item, TRANSITION_FIELDS) as unknown as JobTransition;
}

function pick(item: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.flatMap((field) => (item[field] === undefined ? [] : [[field, item[field]]])));
}
