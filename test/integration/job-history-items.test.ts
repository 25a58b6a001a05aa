import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itemBytes } from '../../functions/core/item-size';
import { JOB_HISTORY_TABLE, type JobItem } from '../../functions/core/table';
import type { NormalizedEvent } from '../../functions/core/event';
import type { RouteContext } from '../../functions/consumers/routes/context';
import { mergeJob, type JobFact } from '../../functions/consumers/routes/job-history';
import { projectJob } from '../../functions/consumers/routes/jobs';
import { readJobAndHistory } from '../../functions/consumers/routes/job-store';
import { stepsFor } from '../../functions/consumers/routes';
import type { JobHistory } from '../../functions/consumers/routes/job-plan';
import { getJob, jobDetail } from '../../ops/jobs';
import { startEmulated, type Emulated } from '../support/emulated';
import { consumerOn, normalizedEvent, silentLogger, sqsEvent, sqsRecord } from '../support/consumers';

let env: Emulated;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});

const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** One write as DynamoDB bills it: 1 unit per KB of the larger of the item before and after. */
interface CountedWrite {
  readonly table: string;
  readonly units: number;
}

/**
 * The emulator's document client, counting every write (put or update, conditional or not) with
 * the units DynamoDB bills for it, from the item's size before and after ({@link itemBytes}).
 */
function countingClient(documents: DynamoDBDocumentClient): { client: DynamoDBDocumentClient; writes: CountedWrite[] } {
  const writes: CountedWrite[] = [];
  const read = async (table: string, key: Record<string, unknown>) =>
    (await documents.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item ?? {};
  const send = async (command: { input: Record<string, unknown> }) => {
    if (!(command instanceof PutCommand || command instanceof UpdateCommand)) return documents.send(command as never);
    const table = String(command.input.TableName);
    const key =
      command instanceof PutCommand
        ? Object.fromEntries(Object.entries(command.input.Item ?? {}).filter(([name]) => name === JOB_HISTORY_TABLE.partitionKey || name === JOB_HISTORY_TABLE.sortKey))
        : (command.input.Key as Record<string, unknown>);
    const before = await read(table, key);
    try {
      return await documents.send(command as never);
    } finally {
      const after = await read(table, key);
      writes.push({ table, units: Math.max(1, Math.ceil(Math.max(itemBytes(before), itemBytes(after)) / 1024)) });
    }
  };
  return { client: { send } as unknown as DynamoDBDocumentClient, writes };
}

function contextWith(documents: DynamoDBDocumentClient): RouteContext {
  return {
    key: 'together#evt',
    transitionKey: undefined,
    attempt: 1,
    now: new Date(T0 + 86_400_000),
    documents,
    sns: env.clients.sns,
    jobsTableName: env.resources.jobsTable,
    jobHistoryTableName: env.resources.jobHistoryTable,
    alertsTopicArn: env.resources.alertsTopicArn,
    logger: silentLogger(),
    jobHistory: async (key) => readJobAndHistory({ documents, tableName: env.resources.jobHistoryTable }, env.resources.jobsTable, key ?? ''),
    note: () => undefined,
    idempotencyKey: (name) => name,
    once: async (name, effect) => effect(name),
  };
}

const checkpointEvent = (subject: string, step: number, minutes: number, loss = 1 / step): NormalizedEvent =>
  normalizedEvent({ id: `evt_${subject}_${step}`, type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject, occurredAt: at(minutes), data: { jobId: subject, step, loss } });

/** A job reported started with 500 checkpoints (steps 11 to 510), then running at step 510, and optionally completed. */
async function jobWith500Checkpoints(subject: string, completed: boolean): Promise<void> {
  const context = contextWith(env.clients.documents);
  const curve = Array.from({ length: 500 }, (_, index) => ({ step: index + 11, loss: 1 / (index + 11), at: at(index + 11) }));
  await projectJob(normalizedEvent({ id: `evt_${subject}_started`, type: 'fine_tune.started', providerType: 'fine_tune.started', subject, occurredAt: at(10), data: { jobId: subject, checkpoints: curve } }), context);
  await projectJob(checkpointEvent(subject, 510, 510), context);
  if (completed) {
    await projectJob(normalizedEvent({ id: `evt_${subject}_done`, subject, occurredAt: at(600), data: { jobId: subject, modelName: 'acct/m' } }), context);
  }
}

async function historyItems(pk: string): Promise<Record<string, unknown>[]> {
  const { Items = [] } = await env.clients.documents.send(
    new QueryCommand({ TableName: env.resources.jobHistoryTable, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: true }),
  );
  return Items;
}

describe('job history items on the emulators', () => {
  it.each([
    ['running', false],
    ['completed', true],
  ] as const)('[HIST] a late checkpoint on a %s job with 500 checkpoints costs at most 2 write units in all', async (_state, completed) => {
    const subject = `ft-late-${_state}`;
    await jobWith500Checkpoints(subject, completed);
    const { client, writes } = countingClient(env.clients.documents);

    // Step 3 comes last, and is the earliest report of the job running.
    await projectJob(checkpointEvent(subject, 3, 3), contextWith(client));

    const job = await getJob({ documents: env.clients.documents, tableName: env.resources.jobsTable, historyTableName: env.resources.jobHistoryTable }, `together#${subject}`);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.reduce((sum, write) => sum + write.units, 0)).toBeLessThanOrEqual(2);
    expect(job?.checkpoints).toHaveLength(500);
    // Step 3 is below the highest 500: kept as an item, not shown, as the inline history dropped it.
    expect(job?.checkpoints[0]?.step).toBe(11);
    expect(job?.transitions.find((transition) => transition.state === 'running')).toEqual({ state: 'running', at: at(3), eventId: `evt_${subject}_3` });
  });

  it('[HIST] a redelivered event writes no second history item, and nothing at all', async () => {
    const subject = 'ft-redelivered';
    const context = contextWith(env.clients.documents);
    await projectJob(checkpointEvent(subject, 100, 100), context);
    const itemsBefore = await historyItems(`together#${subject}`);
    const { client, writes } = countingClient(env.clients.documents);

    await projectJob(checkpointEvent(subject, 100, 100), contextWith(client));

    expect(writes).toEqual([]);
    expect(await historyItems(`together#${subject}`)).toEqual(itemsBefore);
    expect(itemsBefore.map((item) => item.sk)).toEqual(['c#0000000000000100']);
  });

  it('[HIST] concurrent reports of one step end in one history item, merged: the earliest report\'s time and id, the other\'s path', async () => {
    const subject = 'ft-concurrent';
    const early = normalizedEvent({ id: 'evt_push', type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject, occurredAt: at(50), data: { jobId: subject, step: 50, loss: 0.5 } });
    const late = normalizedEvent({ id: 'evt_poll', type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject, occurredAt: at(51), data: { jobId: subject, step: 50, checkpointPath: 's3://ft/50' } });

    await Promise.all([early, late, early, late].map((event) => projectJob(event, contextWith(env.clients.documents))));

    const checkpoints = (await historyItems(`together#${subject}`)).filter((item) => String(item.sk).startsWith('c#'));
    expect(checkpoints).toEqual([{ pk: `together#${subject}`, sk: 'c#0000000000000050', step: 50, loss: 0.5, at: at(50), eventId: 'evt_push', path: 's3://ft/50' }]);
  });

  it('[HIST] a job item written before the history table keeps its inline history: `jobs show` reads it merged with the new items, and the next write leaves the inline lists as they were', async () => {
    const subject = 'ft-old-format';
    const pk = `together#${subject}`;
    const facts: JobFact[] = [10, 20].map((step) => ({ provider: 'together', subject, kind: 'fine_tune', state: 'running', step, loss: 1 / step, details: {}, eventId: `evt_${subject}_${step}`, occurredAt: at(step) }));
    const old = facts.reduce<Partial<JobItem> | undefined>((item, fact) => {
      const write = mergeJob(item, fact, new Date(T0));
      return { pk, ...item, ...write?.set } as Partial<JobItem>;
    }, undefined) as JobItem;
    await env.clients.documents.send(new PutCommand({ TableName: env.resources.jobsTable, Item: old }));
    const deps = { documents: env.clients.documents, tableName: env.resources.jobsTable, historyTableName: env.resources.jobHistoryTable };

    const before = await getJob(deps, pk);
    await projectJob(checkpointEvent(subject, 30, 30), contextWith(env.clients.documents));
    const after = await getJob(deps, pk);
    const { Item } = await env.clients.documents.send(new GetCommand({ TableName: env.resources.jobsTable, Key: { pk }, ConsistentRead: true }));

    expect(before).toEqual(jobDetail(old));
    expect(after?.checkpoints.map((checkpoint) => checkpoint.step)).toEqual([10, 20, 30]);
    expect(after?.transitions).toEqual(old.transitions);
    expect(Item?.checkpoints).toEqual(old.checkpoints);
    expect(Item).toMatchObject({ step: 30 });
  });

  it('[HIST] a step reads its job\'s history from its context, the same as `jobs show`', async () => {
    const subject = 'ft-step-sees';
    const seen: (JobHistory | undefined)[] = [];
    const consume = consumerOn(env, 'fine_tune.checkpoint', {
      steps: [...stepsFor('fine_tune.checkpoint'), async (_event, context) => void seen.push(await context.jobHistory())],
    });

    const first = await consume(sqsEvent(sqsRecord(checkpointEvent(subject, 10, 10))));
    const response = await consume(sqsEvent(sqsRecord(checkpointEvent(subject, 20, 20))));
    const shown = await getJob({ documents: env.clients.documents, tableName: env.resources.jobsTable, historyTableName: env.resources.jobHistoryTable }, `together#${subject}`);

    expect([...first.batchItemFailures, ...response.batchItemFailures]).toEqual([]);
    expect(seen).toHaveLength(2);
    expect(seen.at(-1)).toEqual({ checkpoints: shown?.checkpoints, transitions: shown?.transitions });
    expect(shown?.checkpoints.map((checkpoint) => checkpoint.step)).toEqual([10, 20]);
  });
});
