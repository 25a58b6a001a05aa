import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../functions/core/event';
import { ConsumerDependencyError } from '../../functions/consumers/errors';
import type { RouteContext } from '../../functions/consumers/routes';
import { publishAlert } from '../../functions/consumers/routes/alerts';
import { projectJob } from '../../functions/consumers/routes/jobs';
import { logEvent } from '../../functions/consumers/routes/log';
import { normalizedEvent } from '../support/consumers';

/** An AWS client whose every call is answered by `answer`, by the command's name; the inputs it was sent, in order. */
function client(answer: (command: string) => unknown) {
  const sent: { command: string; input: Record<string, unknown> }[] = [];
  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    sent.push({ command: command.constructor.name, input: command.input });
    const result = answer(command.constructor.name);
    if (result instanceof Error) throw result;
    return result;
  };
  return { send, sent };
}

/** A step's context over `documents` and `sns`, `once` running its effect; what it logs at INFO and DEBUG. */
function context(documents: ReturnType<typeof client>, sns: ReturnType<typeof client> = client(() => ({}))) {
  const logged: { level: string; message: string; fields: unknown }[] = [];
  const log = (level: string) => (message: string, fields: unknown) => void logged.push({ level, message, fields });
  const onces: string[] = [];
  const routeContext: RouteContext = {
    key: 'together#evt_1',
    transitionKey: 'together#ft-1#failed',
    attempt: 1,
    now: new Date('2026-12-01T10:00:00.000Z'),
    documents: documents as unknown as DynamoDBDocumentClient,
    sns: sns as unknown as SNSClient,
    jobsTableName: 'jobs',
    jobHistoryTableName: 'job-history',
    jobHistory: async () => undefined,
    alertsTopicArn: 'arn:aws:sns:us-east-1:000000000000:alerts',
    logger: { info: log('INFO'), debug: log('DEBUG') } as unknown as Logger,
    note: () => undefined,
    idempotencyKey: (name) => `together#ft-1#failed#${name}`,
    once: async (name, effect) => {
      onces.push(name);
      await effect(`together#ft-1#failed#${name}`);
    },
  };
  return { routeContext, logged, onces };
}

const failure = (fields: Partial<NormalizedEvent> = {}) =>
  normalizedEvent({ id: 'evt_1', type: 'fine_tune.failed', providerType: 'fine_tune.failed', subject: 'ft-1', data: { jobId: 'ft-1', errorMessage: 'out of memory' }, ...fields } as Partial<NormalizedEvent>);

describe('the alert step', () => {
  it('[RULE] publishes the alert once per transition to the alerts topic, with the route, provider and event key a subscriber filters on, and logs it', async () => {
    const sns = client(() => ({ MessageId: 'm-1' }));
    const { routeContext, logged, onces } = context(client(() => ({})), sns);

    await publishAlert(failure(), routeContext);

    expect(onces).toEqual(['alert']);
    expect(sns.sent).toHaveLength(1);
    expect(sns.sent[0]?.input).toMatchObject({
      TopicArn: 'arn:aws:sns:us-east-1:000000000000:alerts',
      Subject: 'Fine-tune ft-1 failed (together)',
      MessageAttributes: {
        route: { DataType: 'String', StringValue: 'fine_tune.failed' },
        provider: { DataType: 'String', StringValue: 'together' },
        key: { DataType: 'String', StringValue: 'together#evt_1' },
      },
    });
    expect(String(sns.sent[0]?.input.Message)).toMatch(/^Fine-tune job ft-1 on together failed: out of memory\.\n\nEvent together#evt_1 /);
    expect(logged).toEqual([{ level: 'INFO', message: 'alert published', fields: { key: 'together#evt_1', route: 'fine_tune.failed' } }]);
  });

  it('[RULE] publishes nothing for a route that does not alert', async () => {
    const sns = client(() => ({}));
    const { routeContext, onces } = context(client(() => ({})), sns);

    await publishAlert(normalizedEvent({ type: 'fine_tune.completed' }), routeContext);

    expect(sns.sent).toEqual([]);
    expect(onces).toEqual([]);
  });

  it('[RULE] an alert SNS refuses fails the attempt as a dependency failure naming the event, to be retried', async () => {
    const refused = new Error('AuthorizationError');
    const { routeContext, logged } = context(client(() => ({})), client(() => refused));

    const error = await publishAlert(failure(), routeContext).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect((error as Error).message).toBe('could not publish the alert for together#evt_1');
    expect((error as Error).cause).toBe(refused);
    expect(logged).toEqual([]);
  });
});

describe('the log step', () => {
  it.each([
    ['other', 'unrouted event recorded'],
    ['model.deployed', 'event recorded'],
  ] as const)('[RULE] an event of %s is logged as "%s", with its key, route, provider type and subject, never its data', async (type, message) => {
    const { routeContext, logged } = context(client(() => ({})));

    await logEvent(normalizedEvent({ type, providerType: 'acme.thing', subject: 'thing-1', data: { secret: 'customer data' } } as Partial<NormalizedEvent>), routeContext);

    expect(logged).toEqual([{ level: 'INFO', message, fields: { key: 'together#evt_1', route: type, providerType: 'acme.thing', subject: 'thing-1' } }]);
  });

  it('[RULE] an event without a subject is logged without one', async () => {
    const { routeContext, logged } = context(client(() => ({})));

    await logEvent(normalizedEvent({ type: 'other', providerType: 'acme.ping', subject: undefined }), routeContext);

    expect(logged[0]?.fields).toEqual({ key: 'together#evt_1', route: 'other', providerType: 'acme.ping' });
  });
});

describe('the projection step when DynamoDB fails', () => {
  const unavailable = new Error('ProvisionedThroughputExceededException');
  const answers = (failing: string) => (command: string) => (command === failing ? unavailable : command === 'QueryCommand' ? { Items: [] } : {});

  it.each([
    ['GetCommand', 'could not read the jobs projection for together#ft-1'],
    ['PutCommand', 'could not write the job history of together#ft-1'],
    ['UpdateCommand', 'could not update the jobs projection for together#ft-1'],
  ])('[RULE] a %s that fails is a dependency failure whose message names the job: "%s"', async (failing, message) => {
    // A running job's new step: its item is updated, then the step's history item written.
    const job = { pk: 'together#ft-1', state: 'running', rank: 2, stateAt: '2026-12-01T09:00:00.000Z', stateEventId: 'evt_0', version: 1 };
    const { routeContext } = context(client((command) => (command === 'GetCommand' && failing !== 'GetCommand' ? { Item: job } : answers(failing)(command))));
    const event = normalizedEvent({ type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject: 'ft-1', data: { jobId: 'ft-1', step: 5, loss: 1 } });

    const error = await projectJob(event, routeContext).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect((error as Error).message).toBe(message);
    expect((error as Error).cause).toBe(unavailable);
  });

  it('[RULE] a history read that fails is a dependency failure naming the job', async () => {
    const documents = client((command) => (command === 'QueryCommand' ? unavailable : { Item: { pk: 'together#ft-1', state: 'started', rank: 1, version: 1 } }));
    const { routeContext } = context(documents);
    const event = normalizedEvent({ type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject: 'ft-1', data: { jobId: 'ft-1', step: 5 } });

    const error = await projectJob(event, routeContext).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect((error as Error).message).toBe('could not read the job history of together#ft-1');
    expect((error as Error).cause).toBe(unavailable);
  });

  it('[RULE] a job item that changes under every one of 16 merges fails the attempt, to be retried later, after reading it 16 times', async () => {
    const documents = client((command) => (command === 'UpdateCommand' ? new ConditionalCheckFailedException({ message: 'changed', $metadata: {} }) : command === 'QueryCommand' ? { Items: [] } : { Item: { pk: 'together#ft-1', state: 'started', rank: 1, version: 1 } }));
    const { routeContext } = context(documents);

    const error = await projectJob(failure(), routeContext).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect((error as Error).message).toBe('the jobs projection for together#ft-1 changed under 16 merges in a row; retry later');
    expect(documents.sent.filter((call) => call.command === 'GetCommand')).toHaveLength(16);
  });

  it('[RULE] an event that names no job is not projected: nothing is read or written, and the log says why at DEBUG', async () => {
    const documents = client(() => unavailable);
    const { routeContext, logged } = context(documents);

    await projectJob(failure({ subject: undefined }), routeContext);

    expect(documents.sent).toEqual([]);
    expect(logged).toEqual([{ level: 'DEBUG', message: 'event names no job; not projected', fields: { key: 'together#evt_1' } }]);
  });
});
