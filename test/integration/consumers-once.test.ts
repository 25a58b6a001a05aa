import { SNSClient } from '@aws-sdk/client-sns';
import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clientConfig } from '../../functions/core/aws';
import { eventKey, type NormalizedEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import { stepsFor, type RouteStep } from '../../functions/consumers/routes';
import { startEmulated, type Emulated } from '../support/emulated';
import { consumerOn, drainAlerts, eventRecord, normalizedEvent, sqsEvent, sqsRecord } from '../support/consumers';
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

const newSubject = () => `ft-${Math.random().toString(36).slice(2)}`;

/** A Together push and a poll of the same completion: two event ids, one transition. */
function completionPair(subject = newSubject()) {
  const data = { jobId: subject, modelName: `acme/model-${subject}` };
  const at = (id: string) => normalizedEvent({ id, type: 'fine_tune.completed', providerType: 'fine_tune.completed', subject, data });
  return { subject, push: at(`evt_push_${subject}`), poll: at(`poll:ft:${subject}:completed`) };
}

function failurePair(subject = newSubject()) {
  const data = { jobId: subject, errorMessage: 'CUDA out of memory' };
  const at = (id: string) => normalizedEvent({ id, type: 'fine_tune.failed', providerType: 'fine_tune.failed', subject, data });
  return { subject, push: at(`evt_push_${subject}`), poll: at(`poll:ft:${subject}:failed`) };
}

/**
 * The extension example of docs/extending.md ("Add your own logic to a route"), word for word, with a
 * `startEvaluation` that records its calls.
 */
function readmeExtension() {
  const calls: { model: string; idempotencyKey: string }[] = [];
  const startEvaluation = async (input: { model: string; idempotencyKey: string }) => {
    calls.push(input);
  };
  const step: RouteStep<'fine_tune.completed'> = async (event, context) => {
    // Typed for this route: string | undefined. Absent when the provider does not name the
    // model (a Standard Webhooks sender sends only the job id), never guessed.
    const { modelName, jobId } = event.data;
    if (modelName === undefined) {
      context.logger.warn('fine-tune completed without a model name; no evaluation started', { key: context.key, jobId });
      return;
    }
    await context.once('evaluation', (key) => startEvaluation({ model: modelName, idempotencyKey: key }));
  };
  return { calls, step };
}

const withExtension = <R extends Route>(route: R, step: RouteStep<R>) => ({ steps: [...stepsFor(route), step as RouteStep] });

describe('once per job transition', () => {
  it('push and poll of the same job transition run the README extension example once', async () => {
    const { subject, push, poll } = completionPair();
    const { calls, step } = readmeExtension();
    const consume = consumerOn(env, 'fine_tune.completed', withExtension('fine_tune.completed', step));

    const first = await consume(sqsEvent(sqsRecord(push)));
    const second = await consume(sqsEvent(sqsRecord(poll)));

    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(calls).toEqual([{ model: `acme/model-${subject}`, idempotencyKey: `together#${subject}#completed#evaluation` }]);
    expect(await eventRecord(env, eventKey(poll))).toMatchObject({ status: 'handled' });
  });

  it('push and poll of the same job transition in one batch run the extension once, the second after its retry', async () => {
    const { push, poll } = completionPair();
    const { calls, step } = readmeExtension();
    const consume = consumerOn(env, 'fine_tune.completed', withExtension('fine_tune.completed', step));

    const batch = await consume(sqsEvent(sqsRecord(push), sqsRecord(poll)));
    const retries = await consume(sqsEvent(...[push, poll].map((event) => sqsRecord(event, 2))));

    expect(batch.batchItemFailures.length).toBeLessThanOrEqual(1);
    expect(retries.batchItemFailures).toEqual([]);
    expect(calls).toHaveLength(1);
  });

  it('runs a step once per event with scope event, for each event of the same transition', async () => {
    const { push, poll } = completionPair();
    const keys: string[] = [];
    const perEvent: RouteStep = async (_event, context) => context.once('audit', async (key) => void keys.push(key), { scope: 'event' });
    const consume = consumerOn(env, 'fine_tune.completed', withExtension('fine_tune.completed', perEvent));

    await consume(sqsEvent(sqsRecord(push)));
    await consume(sqsEvent(sqsRecord(poll)));
    await consume(sqsEvent(sqsRecord(poll, 2)));

    expect(keys).toEqual([`${eventKey(push)}#audit`, `${eventKey(poll)}#audit`]);
  });

  it('a retry after a later step failed skips an event-scope step the first attempt did', async () => {
    const { push } = completionPair();
    let effects = 0;
    let laterRuns = 0;
    const perEvent: RouteStep = async (_event, context) => context.once('audit', async () => void (effects += 1), { scope: 'event' });
    const failsOnce: RouteStep = async () => {
      laterRuns += 1;
      if (laterRuns === 1) throw new Error('downstream unavailable');
    };
    const consume = consumerOn(env, 'fine_tune.completed', { steps: [...stepsFor('fine_tune.completed'), perEvent, failsOnce] });

    const first = await consume(sqsEvent(sqsRecord(push)));
    const retry = await consume(sqsEvent(sqsRecord(push, 2)));

    expect(first.batchItemFailures).toHaveLength(1);
    expect(retry.batchItemFailures).toEqual([]);
    expect(laterRuns).toBe(2);
    expect(effects).toBe(1);
    expect(await eventRecord(env, eventKey(push))).toMatchObject({ status: 'handled', attempts: 2 });
  });

  it('gives each checkpoint step its own transition, shared by a push and a poll of it', async () => {
    const subject = newSubject();
    const checkpoint = (id: string, step: number) =>
      normalizedEvent({ id, type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject, data: { jobId: subject, step } });
    const keys: string[] = [];
    const mine: RouteStep = async (_event, context) => context.once('notify', async (key) => void keys.push(key));
    const consume = consumerOn(env, 'fine_tune.checkpoint', withExtension('fine_tune.checkpoint', mine));

    for (const event of [checkpoint('evt_a', 100), checkpoint(`poll:ft:${subject}:checkpoint:h100`, 100), checkpoint('evt_b', 200)]) {
      expect((await consume(sqsEvent(sqsRecord(event)))).batchItemFailures).toEqual([]);
    }

    expect(keys).toEqual([`together#${subject}#running@100#notify`, `together#${subject}#running@200#notify`]);
  });

  it('alerts from the other event of a transition when the event that owned its alert fails for good', async () => {
    const { push, poll } = failurePair();
    const deadSns = new SNSClient(clientConfig({ endpoint: `http://127.0.0.1:${await closedPort()}` }));
    const failing = consumerOn(env, 'fine_tune.failed', { sns: deadSns });
    for (let receive = 1; receive <= 5; receive += 1) {
      expect((await failing(sqsEvent(sqsRecord(push, receive)))).batchItemFailures).toHaveLength(1);
    }

    const other = await consumerOn(env, 'fine_tune.failed')(sqsEvent(sqsRecord(poll)));
    const alerts = await drainAlerts(env);
    // Redriven later, the dead letter finds its transition alerted.
    const redriven = await consumerOn(env, 'fine_tune.failed')(sqsEvent(sqsRecord(push, 6)));

    expect(other.batchItemFailures).toEqual([]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toContain(eventKey(poll));
    expect(redriven.batchItemFailures).toEqual([]);
    expect(await drainAlerts(env)).toHaveLength(0);
  });

  it('takes over a transition step whose event died holding it, once its claim has expired', async () => {
    const { subject, push, poll } = failurePair();
    // What a consumer that died between claiming the alert and publishing it leaves behind.
    await env.clients.documents.send(
      new PutCommand({
        TableName: env.resources.jobsTable,
        Item: { pk: `once#together#${subject}#failed#alert`, owner: eventKey(push), claimToken: 'dead', claimExpiresAt: Math.floor(Date.now() / 1000) + 60 },
      }),
    );

    const whileHeld = await consumerOn(env, 'fine_tune.failed')(sqsEvent(sqsRecord(poll)));
    const afterExpiry = await consumerOn(env, 'fine_tune.failed', { clock: () => Date.now() + 61_000 })(sqsEvent(sqsRecord(poll, 2)));

    expect(whileHeld.batchItemFailures).toHaveLength(1);
    expect(afterExpiry.batchItemFailures).toEqual([]);
    expect(await drainAlerts(env)).toHaveLength(1);
  });

  it('runs a replayed event again without repeating a step its transition already did', async () => {
    const { push } = failurePair();
    let runs = 0;
    const count: RouteStep = async () => void (runs += 1);
    const consume = consumerOn(env, 'fine_tune.failed', withExtension('fine_tune.failed', count));
    await consume(sqsEvent(sqsRecord(push)));
    await env.clients.documents.send(
      new UpdateCommand({
        TableName: env.resources.eventsTable,
        Key: { pk: eventKey(push) },
        UpdateExpression: 'SET #status = :queued',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':queued': 'queued' },
      }),
    );

    await consume(sqsEvent(sqsRecord(push)));

    expect(runs).toBe(2);
    expect(await eventRecord(env, eventKey(push))).toMatchObject({ status: 'handled', attempts: 2 });
    expect(await drainAlerts(env)).toHaveLength(1);
  });
});

/** The documents client, except that the first `failures` writes recording a done once-step fail. */
function failingStepRecords(documents: DynamoDBDocumentClient, failures: number): DynamoDBDocumentClient {
  let left = failures;
  const send = async (command: unknown) => {
    const expression = command instanceof UpdateCommand ? (command.input.UpdateExpression ?? '') : '';
    if (left > 0 && (expression.includes('#steps.#step') || expression.includes('doneAt'))) {
      left -= 1;
      throw Object.assign(new Error('ProvisionedThroughputExceededException'), { name: 'ProvisionedThroughputExceededException' });
    }
    return documents.send(command as never);
  };
  return new Proxy(documents, { get: (target, name) => (name === 'send' ? send : Reflect.get(target, name)) });
}

describe('recording a once step', () => {
  it.each([
    ['transition', undefined],
    ['event', { scope: 'event' as const }],
  ])('once does not repeat its effect when only recording the step fails (%s scope)', async (_scope, options) => {
    const { push } = completionPair();
    let effects = 0;
    const mine: RouteStep = async (_event, context) => context.once('evaluation', async () => void (effects += 1), options);
    const sleeps: number[] = [];
    const consume = consumerOn(env, 'fine_tune.completed', {
      ...withExtension('fine_tune.completed', mine),
      documents: failingStepRecords(env.clients.documents, 2),
      sleep: async (ms: number) => void sleeps.push(ms),
    });

    const first = await consume(sqsEvent(sqsRecord(push)));
    const retry = await consume(sqsEvent(sqsRecord(push, 2)));

    expect(first.batchItemFailures).toEqual([]);
    expect(retry.batchItemFailures).toEqual([]);
    expect(effects).toBe(1);
    expect(sleeps).toHaveLength(2);
    expect(await eventRecord(env, eventKey(push))).toMatchObject({ status: 'handled', attempts: 1 });
  });

  it('fails the attempt, and leaves the step to its retry, when recording keeps failing', async () => {
    const { push } = completionPair();
    let effects = 0;
    const mine: RouteStep = async (_event, context) => context.once('evaluation', async () => void (effects += 1), { scope: 'event' });
    const consume = consumerOn(env, 'fine_tune.completed', {
      ...withExtension('fine_tune.completed', mine),
      documents: failingStepRecords(env.clients.documents, 100),
      sleep: async () => undefined,
    });

    const first = await consume(sqsEvent(sqsRecord(push)));

    expect(first.batchItemFailures).toHaveLength(1);
    expect(effects).toBe(1);
    expect(await eventRecord(env, eventKey(push))).toMatchObject({ status: 'failed' });
  });
});
