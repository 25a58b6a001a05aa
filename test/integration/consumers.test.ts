import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clientConfig } from '../../functions/core/aws';
import type { NormalizedEvent, RouteEvent } from '../../functions/core/event';
import { eventKey } from '../../functions/core/event';
import { stepsFor, type RouteStep } from '../../functions/consumers/routes';
import { startEmulated, type Emulated } from '../support/emulated';
import { consumerOn, drainAlerts, eventRecord, jobItem, normalizedEvent, queuedRecord, sqsEvent, sqsRecord } from '../support/consumers';
import { closedPort } from '../support/net';

let env: Emulated;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});
beforeEach(async () => {
  await drainAlerts(env);
});

const failedFineTune = (overrides: Partial<RouteEvent<'fine_tune.failed'>> = {}) =>
  normalizedEvent({
    type: 'fine_tune.failed',
    providerType: 'fine_tune.failed',
    subject: `ft-${Math.random().toString(36).slice(2)}`,
    data: { errorMessage: 'CUDA out of memory' },
    ...overrides,
  });

/** A step that throws for the listed event ids, as long as `failing` holds them. */
function failFor(failing: Set<string>): RouteStep {
  return async (event) => {
    if (failing.has(event.id)) throw new Error(`downstream refused ${event.id}`);
  };
}

describe('consumer on the emulators', () => {
  it('one INFO line per event at most: handling an event writes none, the receiver\'s accept line is the only one', async () => {
    const event = normalizedEvent({ subject: `ft-${Math.random().toString(36).slice(2)}` });
    await queuedRecord(env, event);
    const infoLines: string[] = [];
    const logger = { info: (message: string) => void infoLines.push(message), debug: () => undefined, warn: () => undefined, error: () => undefined };

    const response = await consumerOn(env, 'fine_tune.completed', { logger: logger as never })(sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect((await eventRecord(env, eventKey(event)))?.status).toBe('handled');
    expect(infoLines).toEqual([]);
  });

  it('marks a queued event handled and releases its lease', async () => {
    const event = failedFineTune();
    await queuedRecord(env, event);

    const response = await consumerOn(env, 'fine_tune.failed')(sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    const record = await eventRecord(env, eventKey(event));
    expect(record).toMatchObject({ status: 'handled', attempts: 1 });
    expect(record?.handledAt).toEqual(expect.any(String));
    expect(record?.leaseToken).toBeUndefined();
    expect(record?.steps).toBeUndefined();
  });

  it('has one effect for a message delivered twice', async () => {
    const event = failedFineTune();
    await queuedRecord(env, event);
    const consume = consumerOn(env, 'fine_tune.failed');

    await consume(sqsEvent(sqsRecord(event)));
    const again = await consume(sqsEvent(sqsRecord(event, 2)));

    expect(again.batchItemFailures).toEqual([]);
    expect(await drainAlerts(env)).toHaveLength(1);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled', attempts: 1 });
  });

  it('retries the second of two copies in one batch and then skips it as handled', async () => {
    const event = failedFineTune();
    await queuedRecord(env, event);
    const consume = consumerOn(env, 'fine_tune.failed');
    const first = sqsRecord(event);
    const second = sqsRecord(event);

    const response = await consume(sqsEvent(first, second));
    const retry = await consume(sqsEvent(sqsRecord(event, 2)));

    expect(response.batchItemFailures).toHaveLength(1);
    expect(retry.batchItemFailures).toEqual([]);
    expect(await drainAlerts(env)).toHaveLength(1);
  });

  it('reports only the failing record of a batch of ten, and handles it on its retry', async () => {
    const events = Array.from({ length: 10 }, () => failedFineTune());
    await Promise.all(events.map((event) => queuedRecord(env, event)));
    const bad = events[3] as NormalizedEvent;
    const failing = new Set([bad.id]);
    const consume = consumerOn(env, 'fine_tune.failed', { steps: [failFor(failing), ...stepsFor('fine_tune.failed')] });
    const records = events.map((event) => sqsRecord(event));

    const response = await consume(sqsEvent(...records));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: records[3]?.messageId }]);
    const states = await Promise.all(events.map((event) => eventRecord(env, eventKey(event))));
    expect(states.map((record) => record?.status)).toEqual(events.map((event) => (event === bad ? 'failed' : 'handled')));
    expect(states[3]?.lastError).toBe(`downstream refused ${bad.id}`);

    failing.clear();
    const retry = await consume(sqsEvent(sqsRecord(bad, 2)));

    expect(retry.batchItemFailures).toEqual([]);
    expect(await eventRecord(env, eventKey(bad))).toMatchObject({ status: 'handled', attempts: 2 });
    expect(await drainAlerts(env)).toHaveLength(10);
  });

  it('does not alert again when a step after the alert failed and the event is retried', async () => {
    const event = failedFineTune();
    await queuedRecord(env, event);
    const failing = new Set([event.id]);
    const consume = consumerOn(env, 'fine_tune.failed', { steps: [...stepsFor('fine_tune.failed'), failFor(failing)] });

    const first = await consume(sqsEvent(sqsRecord(event)));
    failing.clear();
    await consume(sqsEvent(sqsRecord(event, 2)));

    expect(first.batchItemFailures).toHaveLength(1);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled', attempts: 2 });
    expect(await drainAlerts(env)).toHaveLength(1);
  });

  it('alerts once for a job failure reported both by a push and by the poller', async () => {
    const subject = `ft-${Math.random().toString(36).slice(2)}`;
    const push = failedFineTune({ id: `evt_push_${subject}`, subject });
    const poll = failedFineTune({ id: `poll:ft:${subject}:failed`, subject });
    await queuedRecord(env, push);
    await queuedRecord(env, poll);

    const consume = consumerOn(env, 'fine_tune.failed');

    // In one batch the second to reach the alert fails (the first is publishing) and is retried.
    const response = await consume(sqsEvent(sqsRecord(push), sqsRecord(poll)));
    const retry = await consume(sqsEvent(...[push, poll].map((event) => sqsRecord(event, 2))));

    expect(response.batchItemFailures.length).toBeLessThanOrEqual(1);
    expect(retry.batchItemFailures).toEqual([]);
    expect(await eventRecord(env, eventKey(push))).toMatchObject({ status: 'handled' });
    expect(await eventRecord(env, eventKey(poll))).toMatchObject({ status: 'handled' });
    expect(await drainAlerts(env)).toHaveLength(1);
  });

  it('still alerts for a failure whose first alert could not be published, on its retry', async () => {
    const event = failedFineTune();
    await queuedRecord(env, event);
    const deadSns = new SNSClient(clientConfig({ endpoint: `http://127.0.0.1:${await closedPort()}` }));

    const first = await consumerOn(env, 'fine_tune.failed', { sns: deadSns })(sqsEvent(sqsRecord(event)));
    const retry = await consumerOn(env, 'fine_tune.failed')(sqsEvent(sqsRecord(event, 2)));

    expect(first.batchItemFailures).toHaveLength(1);
    expect(retry.batchItemFailures).toEqual([]);
    expect(await drainAlerts(env)).toHaveLength(1);
  });

  it('[H3-9] a message whose event has no record runs no step, writes nothing and fails, to end in the dead-letter queue', async () => {
    const event = failedFineTune();
    const ran: string[] = [];
    const record = sqsRecord(event);

    const response = await consumerOn(env, 'fine_tune.failed', { accepted: false, steps: [async (seen) => void ran.push(seen.id), ...stepsFor('fine_tune.failed')] })(sqsEvent(record));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(ran).toEqual([]);
    expect(await eventRecord(env, eventKey(event))).toBeUndefined();
    expect(await drainAlerts(env)).toHaveLength(0);
  });

  it('[H3-9] counts a message whose event has no record as NoRecord of its route, with reason no_record in the log', async () => {
    const counted: { dimensions: Record<string, string>; name: string }[] = [];
    let dimensions: Record<string, string> = {};
    const metrics = {
      addDimensions: (added: Record<string, string>) => void (dimensions = added),
      addMetric: (name: string) => void counted.push({ dimensions, name }),
      publishStoredMetrics: () => void (dimensions = {}),
    };
    const reasons: unknown[] = [];
    const logger = { info: () => undefined, debug: () => undefined, warn: () => undefined, error: (_: string, fields: { reason?: unknown }) => void reasons.push(fields.reason) };

    await consumerOn(env, 'fine_tune.failed', { accepted: false, metrics: metrics as never, logger: logger as never })(sqsEvent(sqsRecord(failedFineTune())));

    expect(counted).toEqual([{ dimensions: { route: 'fine_tune.failed' }, name: 'NoRecord' }]);
    expect(reasons).toEqual(['no_record']);
  });

  it('[LEAN-RECEIVER] counts a batch in one metric line per provider, each count the batch’s sum', async () => {
    const events = [failedFineTune(), failedFineTune(), failedFineTune()];
    const failing = new Set([events[2]?.id as string]);
    const lines: { dimensions: Record<string, string>; metrics: Record<string, number> }[] = [];
    let pending: { dimensions: Record<string, string>; metrics: Record<string, number> } = { dimensions: {}, metrics: {} };
    const metrics = {
      addDimensions: (added: Record<string, string>) => void (pending.dimensions = { ...pending.dimensions, ...added }),
      addMetric: (name: string, _unit: string, value: number) => void (pending.metrics[name] = (pending.metrics[name] ?? 0) + value),
      publishStoredMetrics: () => {
        lines.push(pending);
        pending = { dimensions: {}, metrics: {} };
      },
    };

    const response = await consumerOn(env, 'fine_tune.failed', { metrics: metrics as never, steps: [failFor(failing)] })(sqsEvent(...events.map((event) => sqsRecord(event))));

    expect(response.batchItemFailures).toHaveLength(1);
    expect(lines).toEqual([{ dimensions: { route: 'fine_tune.failed', provider: events[0]?.provider }, metrics: { Handled: 2, Failed: 1 } }]);
  });

  it('takes over an event the receiver has sent but not yet marked queued', async () => {
    const event = failedFineTune();
    await queuedRecord(env, event, { status: 'in_progress', leaseToken: 'receiver', leaseExpiresAt: Math.floor(Date.now() / 1000) + 30 });

    const response = await consumerOn(env, 'fine_tune.failed')(sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled' });
  });

  it('fails a record whose event another consumer holds under a live lease', async () => {
    const event = failedFineTune();
    await queuedRecord(env, event, { status: 'handling', leaseToken: 'other', leaseExpiresAt: Math.floor(Date.now() / 1000) + 60 });
    const record = sqsRecord(event);

    const response = await consumerOn(env, 'fine_tune.failed')(sqsEvent(record));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handling', leaseToken: 'other' });
    expect(await drainAlerts(env)).toHaveLength(0);
  });

  it('takes over an event whose consumer died once its lease has expired', async () => {
    const event = failedFineTune();
    await queuedRecord(env, event, { status: 'handling', leaseToken: 'dead', leaseExpiresAt: Math.floor(Date.now() / 1000) + 60, attempts: 1 });
    const later = () => Date.now() + 61_000;

    const response = await consumerOn(env, 'fine_tune.failed', { clock: later })(sqsEvent(sqsRecord(event, 2)));

    expect(response.batchItemFailures).toEqual([]);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled', attempts: 2 });
  });

  it('runs a replayed event again: replay sets a handled record back to queued', async () => {
    // A route whose alert is once per event: a job transition's alert is once per transition.
    const event = normalizedEvent({ type: 'model.deprecated', providerType: 'model.deprecated', subject: 'm-1', data: { modelId: 'm-1' } });
    await queuedRecord(env, event);
    const consume = consumerOn(env, 'model.deprecated');
    await consume(sqsEvent(sqsRecord(event)));
    await env.clients.documents.send(
      new UpdateCommand({
        TableName: env.resources.eventsTable,
        Key: { pk: eventKey(event) },
        UpdateExpression: 'SET #status = :queued, replayCount = if_not_exists(replayCount, :zero) + :one',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':queued': 'queued', ':zero': 0, ':one': 1 },
      }),
    );

    await consume(sqsEvent(sqsRecord(event)));

    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled', attempts: 2, replayCount: 1 });
    expect(await drainAlerts(env)).toHaveLength(2);
  });

  it('fails a poison message alone and writes nothing for it', async () => {
    const good = failedFineTune();
    const poison = sqsRecord(JSON.stringify({ ...failedFineTune({ id: 'evt_poison' }), occurredAt: 'yesterday' }));

    const response = await consumerOn(env, 'fine_tune.failed')(sqsEvent(sqsRecord(good), poison));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: poison.messageId }]);
    expect(await eventRecord(env, 'together#evt_poison')).toBeUndefined();
    expect(await eventRecord(env, eventKey(good))).toMatchObject({ status: 'handled' });
  });

  it('fails every record without losing any when DynamoDB is unreachable', async () => {
    const port = await closedPort();
    const documents = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: `http://127.0.0.1:${port}` })));
    const events = [failedFineTune(), failedFineTune()];

    const response = await consumerOn(env, 'fine_tune.failed', { documents })(sqsEvent(...events.map((event) => sqsRecord(event))));

    expect(response.batchItemFailures).toHaveLength(2);
    expect(await drainAlerts(env)).toHaveLength(0);
  });

  it.each([
    ['fine_tune.failed', { errorMessage: 'CUDA out of memory' }, /Fine-tune job .* failed: CUDA out of memory/],
    ['batch.failed', { batchId: 'b-1', errorMessage: 'expired' }, /Batch .* failed: expired/],
    ['model.deprecated', { modelId: 'm-1', replacementModel: 'm-2', sunsetDate: '2027-01-31' }, /stops serving on 2027-01-31; move to m-2/],
    ['usage.threshold_reached', { metric: 'tokens', threshold: 10, current: 12 }, /tokens reached 12 of a 10 threshold/],
  ] as const)('publishes one alert for %s', async (route, data, text) => {
    // Its own subject: jobs are keyed by provider and subject, and a shared one is one job.
    // A route and its data come from one row, which TypeScript cannot follow through the union.
    const event = normalizedEvent({ type: route, providerType: route, data, subject: `${route}-${Math.random().toString(36).slice(2)}` } as Partial<NormalizedEvent>);

    await consumerOn(env, route)(sqsEvent(sqsRecord(event), sqsRecord(event)));
    await consumerOn(env, route)(sqsEvent(sqsRecord(event, 2)));

    const alerts = await drainAlerts(env);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatch(text);
  });

  it('records an event of the other route as handled and alerts nobody', async () => {
    const event = normalizedEvent({ type: 'other', providerType: 'resource.created', subject: undefined, providerData: { resource_id: 'res-42' } });

    const response = await consumerOn(env, 'other')(sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled', route: 'other', providerType: 'resource.created' });
    expect(await drainAlerts(env)).toHaveLength(0);
  });
});

describe('jobs projection', () => {
  const checkpoint = (subject: string, step: number) =>
    normalizedEvent({ type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject, data: { jobId: subject, step, loss: 1 / step } });
  const completed = (subject: string) =>
    normalizedEvent({ type: 'fine_tune.completed', providerType: 'fine_tune.completed', subject, data: { jobId: subject, modelName: 'acme/model-v2' } });

  it('does not reopen a completed job for a checkpoint that arrives after it', async () => {
    const subject = `ft-${Math.random().toString(36).slice(2)}`;

    await consumerOn(env, 'fine_tune.completed')(sqsEvent(sqsRecord(completed(subject))));
    await consumerOn(env, 'fine_tune.checkpoint')(sqsEvent(sqsRecord(checkpoint(subject, 100))));

    expect(await jobItem(env, `together#${subject}`)).toMatchObject({ state: 'completed', model: 'acme/model-v2', step: 100 });
  });

  it('never lets a lower step overwrite a higher one', async () => {
    const subject = `ft-${Math.random().toString(36).slice(2)}`;
    const consume = consumerOn(env, 'fine_tune.checkpoint');

    await consume(sqsEvent(sqsRecord(checkpoint(subject, 900))));
    await consume(sqsEvent(sqsRecord(checkpoint(subject, 300))));

    expect(await jobItem(env, `together#${subject}`)).toMatchObject({ state: 'running', step: 900, loss: 1 / 900 });
  });

  it('keeps the first terminal state of a job', async () => {
    const subject = `ft-${Math.random().toString(36).slice(2)}`;

    await consumerOn(env, 'fine_tune.failed')(sqsEvent(sqsRecord(failedFineTune({ subject }))));
    await consumerOn(env, 'fine_tune.completed')(sqsEvent(sqsRecord(completed(subject))));

    expect(await jobItem(env, `together#${subject}`)).toMatchObject({ state: 'failed', error: 'CUDA out of memory' });
  });

  it.each([
    ['fine_tune.cancelled', 'cancelled'],
    ['batch.cancelled', 'cancelled'],
    ['batch.expired', 'expired'],
  ] as const)('ends a %s job or batch %s in the jobs table and publishes no alert', async (route, state) => {
    const subject = `${route}-${Math.random().toString(36).slice(2)}`;
    const event = normalizedEvent({ provider: 'openai', type: route, providerType: route, subject, data: {} } as Partial<NormalizedEvent>);

    const response = await consumerOn(env, route)(sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect(await jobItem(env, `openai#${subject}`)).toMatchObject({ state, transitions: [expect.objectContaining({ state })] });
    expect(await drainAlerts(env)).toHaveLength(0);
  });

  it('does not reopen a cancelled job for a completed report that arrives after it', async () => {
    const subject = `ft-${Math.random().toString(36).slice(2)}`;
    const cancelled = normalizedEvent({ type: 'fine_tune.cancelled', providerType: 'fine_tuning.job.cancelled', subject, data: { jobId: subject } });

    await consumerOn(env, 'fine_tune.cancelled')(sqsEvent(sqsRecord(cancelled)));
    await consumerOn(env, 'fine_tune.completed')(sqsEvent(sqsRecord(completed(subject))));

    const job = await jobItem(env, `together#${subject}`);
    expect(job).toMatchObject({ state: 'cancelled' });
    expect(job?.model).toBeUndefined();
  });

  it('projects nothing for an event without a subject', async () => {
    const event = normalizedEvent({ subject: undefined, data: {} });

    const response = await consumerOn(env, 'fine_tune.completed')(sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect(await eventRecord(env, eventKey(event))).toMatchObject({ status: 'handled' });
  });
});

