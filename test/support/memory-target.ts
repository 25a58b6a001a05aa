import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { ROUTES, type Route } from '../../functions/core/routes';
import { extendExpiry, type EventRecord, type JobItem } from '../../functions/core/table';
import type { Target } from '../../ops/target';

/**
 * A target held in memory, for the console's API tests: tables of records answered as DynamoDB
 * answers the reads the operations make (the time index newest first, a page of `Limit` keys at a
 * time; BatchGetItem with its projection; GetItem by key), and dead-letter queues of a given depth.
 * A redrive by copy moves every dead letter and moves the expiry of the records it names on. Any
 * other conditional update is refused, as DynamoDB refuses one of a record that is not there
 * (the write paths are the integration tests' business).
 */
export interface MemoryTables {
  events?: EventRecord[];
  jobs?: JobItem[];
  /** Job history items (`pk`, `sk`, and the fields of a transition or checkpoint). */
  history?: Record<string, unknown>[];
  /** The stand-in bus's items, by event key. */
  bus?: Record<string, unknown>[];
  /** Dead letters per route: each one's SentTimestamp in epoch ms (0: none given), and the event id its attributes name, if any (provider together). */
  deadLetters?: Partial<Record<Route, (number | { sentMs: number; eventId: string })[]>>;
}

type Item = Record<string, unknown>;
interface Command {
  readonly constructor: { readonly name: string };
  readonly operation?: string;
  readonly input: Record<string, unknown>;
}

const EXPIRY_SET = extendExpiry(0, 0).set;
const values = (input: Item) => (input.ExpressionAttributeValues ?? {}) as Item;

function project(item: Item, input: Item): Item {
  const names = Object.values((input.ExpressionAttributeNames ?? {}) as Record<string, string>);
  return input.ProjectionExpression === undefined ? item : Object.fromEntries(Object.entries(item).filter(([name]) => names.includes(name)));
}

/** One page of `matching`, `Limit` at a time, the page's position standing for DynamoDB's last key. */
function paged(matching: Item[], input: Item) {
  const start = Number((input.ExclusiveStartKey as { at?: number } | undefined)?.at ?? 0);
  const limit = Number(input.Limit ?? matching.length);
  const end = start + limit;
  return { Items: matching.slice(start, end), ...(end < matching.length ? { LastEvaluatedKey: { at: end } } : {}) };
}

export function memoryTarget(tables: MemoryTables, options: { kind?: 'local' | 'aws'; jobHistory?: boolean; bus?: boolean } = {}): Target {
  const byTable: Record<string, Item[]> = {
    events: (tables.events ?? []) as unknown as Item[],
    jobs: (tables.jobs ?? []) as unknown as Item[],
    history: tables.history ?? [],
    bus: tables.bus ?? [],
  };
  const query = (input: Item) => {
    const v = values(input);
    if (input.TableName === 'events') {
      const matching = byTable.events!
        .filter((item) => item.receivedDay === v[':day'] && String(item.receivedAt) >= String(v[':since']))
        .filter((item) => v[':before'] === undefined || String(item.receivedAt) <= String(v[':before']))
        .filter((item) => (v[':f_provider'] === undefined || item.provider === v[':f_provider']) && (v[':f_route'] === undefined || item.route === v[':f_route']))
        .sort((a, b) => String(b.receivedAt).localeCompare(String(a.receivedAt)) || String(a.pk).localeCompare(String(b.pk)));
      return paged(matching.map((item) => ({ pk: item.pk })), input);
    }
    if (input.TableName === 'jobs') {
      const matching = byTable.jobs!.filter((item) => item.activeDay === v[':day'] && (v[':kind'] === undefined || item.kind === v[':kind']));
      return paged(matching.map((item) => ({ pk: item.pk })), input);
    }
    const history = byTable.history!.filter((item) => item.pk === v[':pk'] && String(item.sk).startsWith(String(v[':from'])));
    return paged(history, input);
  };
  const documents = {
    send: async (command: Command) => {
      const input = command.input;
      const tableNames = input.RequestItems === undefined ? [input.TableName] : Object.keys(input.RequestItems as Item);
      for (const table of tableNames) {
        // As DynamoDB refuses a request without a table name, and answers one naming a table it does not have.
        if (typeof table !== 'string') throw Object.assign(new Error('1 validation error detected: TableName must not be null'), { name: 'ValidationException' });
        if (byTable[table] === undefined || (table === 'history' && options.jobHistory !== true) || (table === 'bus' && options.bus !== true)) {
          throw Object.assign(new Error(`Requested resource not found: ${table}`), { name: 'ResourceNotFoundException' });
        }
      }
      const name = command.operation ?? command.constructor.name;
      if (name === 'Query' || name === 'QueryCommand') return query(input);
      if (name === 'GetItem' || name === 'GetCommand') {
        const key = (input.Key as { pk: string }).pk;
        return { Item: byTable[String(input.TableName)]?.find((item) => item.pk === key) };
      }
      if (name === 'BatchGetItem' || name === 'BatchGetCommand') {
        const requests = input.RequestItems as Record<string, Item>;
        const Responses = Object.fromEntries(
          Object.entries(requests).map(([table, request]) => {
            const keys = (request.Keys as { pk: string }[]).map((key) => key.pk);
            return [table, byTable[table]!.filter((item) => keys.includes(String(item.pk))).map((item) => project(item, request))];
          }),
        );
        return { Responses };
      }
      if (name === 'UpdateCommand') {
        const item = byTable[String(input.TableName)]!.find((candidate) => candidate.pk === (input.Key as { pk: string }).pk);
        // A redrive's update that keeps a record as long as its new copy: the expiry moved on from now.
        if (item !== undefined && input.ConditionExpression === 'attribute_exists(#pk)' && String(input.UpdateExpression).startsWith(`SET ${EXPIRY_SET}`)) {
          const v = values(input);
          item.expiresAt = Number(v[':expiryNow']) + Number(item.retentionSeconds ?? v[':expiryFallback']);
          return { Attributes: item };
        }
        throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      }
      throw new Error(`the memory target does not answer ${name}`);
    },
  };
  type Letter = { sentMs: number; eventId?: string };
  const letters = Object.fromEntries(
    ROUTES.map((route) => [`dlq/${route}`, (tables.deadLetters?.[route] ?? []).map((letter): Letter => (typeof letter === 'number' ? { sentMs: letter } : letter))]),
  ) as Record<string, Letter[]>;
  const depthOf = (url: string) => letters[url] ?? [];
  const sqs = {
    send: async (command: Command) => {
      const input = command.input;
      const url = String(input.QueueUrl ?? '');
      switch (command.constructor.name) {
        case 'GetQueueAttributesCommand':
          return { Attributes: { ApproximateNumberOfMessages: String(depthOf(url).length), ApproximateNumberOfMessagesNotVisible: '0' } };
        case 'ReceiveMessageCommand':
          return {
            Messages: depthOf(url)
              .slice(0, Number(input.MaxNumberOfMessages))
              .map(({ sentMs, eventId }, position) => ({
                MessageId: `m${position}`,
                ReceiptHandle: `r${position}`,
                Body: '{}',
                Attributes: { SentTimestamp: String(sentMs) },
                ...(eventId === undefined ? {} : { MessageAttributes: { provider: { DataType: 'String', StringValue: 'together' }, eventId: { DataType: 'String', StringValue: eventId } } }),
              })),
          };
        case 'ChangeMessageVisibilityBatchCommand':
          return {};
        case 'SendMessageBatchCommand':
          return { Successful: (input.Entries as { Id: string }[]).map(({ Id }) => ({ Id })) };
        case 'DeleteMessageBatchCommand':
          depthOf(url).splice(0, (input.Entries as unknown[]).length);
          return {};
        case 'StartMessageMoveTaskCommand':
          return { TaskHandle: `task-of-${String(input.SourceArn)}` };
        case 'ListMessageMoveTasksCommand':
          return { Results: [{ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 3 }] };
        default:
          throw new Error(`the memory target does not answer ${command.constructor.name}`);
      }
    },
  };
  return {
    kind: options.kind ?? 'local',
    description: 'memory target',
    documents: documents as unknown as Target['documents'],
    sqs: sqs as unknown as Target['sqs'],
    eventsTable: 'events',
    jobsTable: 'jobs',
    ...(options.jobHistory === true ? { jobHistoryTable: 'history' } : {}),
    ...(options.bus === true ? { busTable: 'bus' } : {}),
    queues: async () =>
      Object.fromEntries(ROUTES.map((route) => [route, { url: `queue/${route}`, deadLetterUrl: `dlq/${route}`, arn: `arn:${route}`, deadLetterArn: `arn:dlq:${route}` }])) as Awaited<
        ReturnType<Target['queues']>
      >,
    webhookUrls: {},
    secretArns: {},
  };
}
