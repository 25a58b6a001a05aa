import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../functions/core/event';
import type { RouteContext } from '../../functions/consumers/routes/context';
import { projectJob } from '../../functions/consumers/routes/jobs';
import { readJobAndHistory } from '../../functions/consumers/routes/job-store';
import { startEmulated, type Emulated } from '../support/emulated';
import { normalizedEvent, silentLogger } from '../support/consumers';

/**
 * The projection's writes on the emulated tables, each rule with a few small reports: the job
 * item created, updated on its version (or on having none, for an item written before versions),
 * an attribute removed, a write that lost a race merged again, and history items written on
 * condition of what was read.
 */
let env: Emulated;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});

const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function context(): RouteContext {
  return {
    key: 'together#evt',
    transitionKey: undefined,
    attempt: 1,
    now: new Date(T0 + 86_400_000),
    documents: env.clients.documents,
    sns: env.clients.sns,
    jobsTableName: env.resources.jobsTable,
    jobHistoryTableName: env.resources.jobHistoryTable,
    alertsTopicArn: env.resources.alertsTopicArn,
    logger: silentLogger(),
    jobHistory: async () => undefined,
    note: () => undefined,
    idempotencyKey: (name) => name,
    once: async (name, effect) => effect(name),
  };
}

const started = (subject: string, minutes: number): NormalizedEvent =>
  normalizedEvent({ id: `evt_${subject}_started`, type: 'fine_tune.started', providerType: 'fine_tune.started', subject, occurredAt: at(minutes), data: { jobId: subject } });
const step = (subject: string, n: number, minutes: number, data: { loss?: number; checkpointPath?: string } = {}, id = `evt_${subject}_${n}_${minutes}`): NormalizedEvent =>
  normalizedEvent({ id, type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject, occurredAt: at(minutes), data: { jobId: subject, step: n, ...data } });
const completed = (subject: string, minutes: number, checkpoints: { step: number; loss?: number }[]): NormalizedEvent =>
  normalizedEvent({ id: `evt_${subject}_done`, subject, occurredAt: at(minutes), data: { jobId: subject, modelName: 'acct/m', checkpoints } });

const item = async (subject: string) =>
  (await env.clients.documents.send(new GetCommand({ TableName: env.resources.jobsTable, Key: { pk: `together#${subject}` }, ConsistentRead: true }))).Item;
const history = (subject: string) => readJobAndHistory({ documents: env.clients.documents, tableName: env.resources.jobHistoryTable }, env.resources.jobsTable, `together#${subject}`);

describe('the projection\'s writes on the emulators', () => {
  it('[RULE] a job\'s first report creates its item, and the next ones update it: state, step, loss, history', async () => {
    await projectJob(started('ft-w1', 0), context());
    await projectJob(step('ft-w1', 10, 10, { loss: 0.5, checkpointPath: 's3://ft/10' }), context());

    expect(await item('ft-w1')).toMatchObject({ state: 'running', step: 10, loss: 0.5, version: 2 });
    expect(await history('ft-w1')).toEqual({
      checkpoints: [{ step: 10, loss: 0.5, path: 's3://ft/10', at: at(10), eventId: 'evt_ft-w1_10_10' }],
      transitions: [
        { state: 'started', at: at(0), eventId: 'evt_ft-w1_started' },
        { state: 'running', at: at(10), eventId: 'evt_ft-w1_10_10' },
      ],
    });
  });

  it('[RULE] a new highest step without a loss removes the loss of the step before it from the job item', async () => {
    await projectJob(step('ft-w2', 1, 1, { loss: 2 }), context());
    await projectJob(step('ft-w2', 2, 2), context());

    const job = await item('ft-w2');
    expect(job).toMatchObject({ step: 2, version: 2 });
    expect(job).not.toHaveProperty('loss');
  });

  it('[RULE] a job item written before versions is updated, and gets a version', async () => {
    await env.clients.documents.send(
      new PutCommand({ TableName: env.resources.jobsTable, Item: { pk: 'together#ft-w3', provider: 'together', subject: 'ft-w3', kind: 'fine_tune', state: 'started', rank: 1, stateAt: at(0), stateEventId: 'evt_s' } }),
    );

    await projectJob(step('ft-w3', 5, 5, { loss: 1 }), context());

    expect(await item('ft-w3')).toMatchObject({ state: 'running', step: 5, loss: 1, version: 1 });
  });

  it('[RULE] reports of one new job handled at once all land: a write that lost the race merges again', async () => {
    await Promise.all([started('ft-w4', 0), step('ft-w4', 10, 10, { loss: 1 }), step('ft-w4', 20, 20, { loss: 0.5 })].map((event) => projectJob(event, context())));

    expect(await item('ft-w4')).toMatchObject({ state: 'running', step: 20, loss: 0.5 });
    expect((await history('ft-w4'))?.checkpoints.map((entry) => entry.step)).toEqual([10, 20]);
  });

  it('[RULE] a push and a poll of one step handled at once end in one history item with the loss of one and the path of the other', async () => {
    const push = step('ft-w5', 50, 50, { loss: 0.5 }, 'evt_push');
    const poll = step('ft-w5', 50, 51, { checkpointPath: 's3://ft/50' }, 'evt_poll');
    await projectJob(started('ft-w5', 0), context());

    await Promise.all([push, poll, push, poll].map((event) => projectJob(event, context())));

    expect((await history('ft-w5'))?.checkpoints).toEqual([{ step: 50, loss: 0.5, path: 's3://ft/50', at: at(50), eventId: 'evt_push' }]);
  });

  it('[RULE] a completion listing known steps without their losses keeps every loss it did not report', async () => {
    await projectJob(step('ft-w6', 10, 10, { loss: 1 }), context());
    await projectJob(step('ft-w6', 20, 20, { loss: 0.5 }), context());
    await projectJob(step('ft-w6', 30, 30, { loss: 0.25 }), context());

    await projectJob(completed('ft-w6', 60, [{ step: 10 }, { step: 30 }]), context());

    expect(await item('ft-w6')).toMatchObject({ state: 'completed', step: 30, loss: 0.25 });
    expect((await history('ft-w6'))?.checkpoints.map((entry) => [entry.step, entry.loss])).toEqual([
      [10, 1],
      [20, 0.5],
      [30, 0.25],
    ]);
  });

  it('[RULE] a job that moves from state to state keeps each state once, at its earliest report', async () => {
    await projectJob(started('ft-w7', 0), context());
    await projectJob(step('ft-w7', 10, 10, { loss: 1 }), context());
    await projectJob(completed('ft-w7', 60, []), context());
    await projectJob(started('ft-w7', 0), context());

    expect((await history('ft-w7'))?.transitions.map((entry) => [entry.state, entry.at])).toEqual([
      ['started', at(0)],
      ['running', at(10)],
      ['completed', at(60)],
    ]);
    expect(await item('ft-w7')).toMatchObject({ state: 'completed', model: 'acct/m' });
  });
});
