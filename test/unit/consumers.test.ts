import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/core/errors';
import type { NormalizedEvent } from '../../functions/core/event';
import { ROUTES } from '../../functions/core/routes';
import { readConsumerConfig } from '../../functions/consumers/config';
import { createConsumer } from '../../functions/consumers/consume';
import { PoisonMessageError } from '../../functions/consumers/errors';
import { parseMessage } from '../../functions/consumers/message';
import { BUILT_IN_STEPS, stepsFor, type RouteStep } from '../../functions/consumers/routes';
import { alertFor, publishAlert } from '../../functions/consumers/routes/alerts';
import { jobUpdateFor } from '../../functions/consumers/routes/jobs';
import { normalizedEvent, sqsEvent, sqsRecord } from '../support/consumers';

const CONSUMER_ENV = { ROUTE: 'fine_tune.failed', TABLE_NAME: 'events', JOBS_TABLE_NAME: 'jobs', JOB_HISTORY_TABLE_NAME: 'job-history', ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:1:alerts' };

describe('readConsumerConfig', () => {
  it('reads the route and the resources of a consumer', () => {
    const config = readConsumerConfig(CONSUMER_ENV);

    expect(config).toMatchObject({ route: 'fine_tune.failed', tableName: 'events', jobsTableName: 'jobs', alertsTopicArn: CONSUMER_ENV.ALERTS_TOPIC_ARN });
  });

  it.each(['ROUTE', 'TABLE_NAME', 'JOBS_TABLE_NAME', 'JOB_HISTORY_TABLE_NAME', 'ALERTS_TOPIC_ARN'])('fails at start naming %s when it is missing', (name) => {
    const env: Record<string, string | undefined> = { ...CONSUMER_ENV, [name]: undefined };

    expect(() => readConsumerConfig(env)).toThrow(new ConfigurationError(`environment variable ${name} is required but not set`));
  });

  it('rejects an unknown route and lists the known ones', () => {
    expect(() => readConsumerConfig({ ...CONSUMER_ENV, ROUTE: 'fine_tune.done' })).toThrow(/ROUTE must be one of fine_tune\.started, .*other, got "fine_tune\.done"/);
  });

  it('keeps the lease shorter than the visibility timeout and at least the function timeout', () => {
    const { leaseSeconds } = readConsumerConfig(CONSUMER_ENV);

    expect(leaseSeconds).toBeGreaterThanOrEqual(30);
    expect(leaseSeconds).toBeLessThan(180);
  });
});

describe('parseMessage', () => {
  it('returns the normalized event of a valid message on its own route queue', () => {
    const event = normalizedEvent();

    expect(parseMessage(sqsRecord(event), 'fine_tune.completed')).toEqual(event);
  });

  it('rejects a body that is not JSON as a poison message', () => {
    expect(() => parseMessage(sqsRecord('not json {'), 'fine_tune.completed')).toThrow(PoisonMessageError);
  });

  it('names the invalid fields and never their values', () => {
    const body = JSON.stringify({ ...normalizedEvent(), occurredAt: 'secret-customer-value', provider: 'acme' });

    let error: unknown;
    try {
      parseMessage(sqsRecord(body), 'fine_tune.completed');
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(PoisonMessageError);
    expect((error as PoisonMessageError).issuePaths).toEqual(expect.arrayContaining(['provider', 'occurredAt']));
    expect((error as Error).message).not.toContain('secret-customer-value');
  });

  it.each([3, 1, '2', null])('fails a message of schemaVersion %j, which it does not read, as poison that names the version', (schemaVersion) => {
    const body = JSON.stringify({ ...normalizedEvent(), schemaVersion });

    expect(() => parseMessage(sqsRecord(body), 'fine_tune.completed')).toThrow(PoisonMessageError);
    expect(() => parseMessage(sqsRecord(body), 'fine_tune.completed')).toThrow(
      typeof schemaVersion === 'number' ? `message has schemaVersion ${schemaVersion}; this consumer reads version 2` : 'not a version number',
    );
  });

  it('reads a message queued before schemaVersion 2, its provider data mapped into the canonical shape', () => {
    const { schemaVersion: _version, providerData: _original, ...current } = normalizedEvent({ provider: 'mythicdot', providerType: 'fine_tuning.job.succeeded' });
    const data = { object: { id: 'ftjob_1', status: 'succeeded', fine_tuned_model: 'ft:mythic-7b:acme:2026' } };
    const version1 = { ...current, data };

    const event = parseMessage(sqsRecord(JSON.stringify(version1)), 'fine_tune.completed');

    expect(event).toEqual({ ...current, schemaVersion: 2, data: { jobId: 'ftjob_1', modelName: 'ft:mythic-7b:acme:2026' }, providerData: data });
  });

  it('rejects an event that belongs to another route queue', () => {
    const event = normalizedEvent({ type: 'batch.failed' });

    expect(() => parseMessage(sqsRecord(event), 'fine_tune.completed')).toThrow(/route batch\.failed is on the fine_tune\.completed queue/);
  });
});

describe('route table', () => {
  it.each(ROUTES)('gives route %s at least one step', (route) => {
    expect(stepsFor(route).length).toBeGreaterThan(0);
  });

  it('runs extension steps after the built-in steps of their route', () => {
    const mine: RouteStep = async () => undefined;

    const steps = stepsFor('fine_tune.completed', { 'fine_tune.completed': [mine] });

    expect(steps).toEqual([...BUILT_IN_STEPS['fine_tune.completed'], mine]);
  });
});

describe('jobUpdateFor', () => {
  it('reads the step and loss of a Together checkpoint', () => {
    const event = normalizedEvent({ type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject: 'ft-1', data: { jobId: 'ft-1', step: 500, loss: 0.87 } });

    expect(jobUpdateFor(event)).toEqual({ pk: 'together#ft-1', provider: 'together', subject: 'ft-1', kind: 'fine_tune', state: 'running', step: 500, loss: 0.87, details: {} });
  });

  it('reads the failure reason from the canonical errorMessage', () => {
    const event = normalizedEvent({
      provider: 'mythicdot',
      type: 'fine_tune.failed',
      providerType: 'fine_tuning.job.failed',
      subject: 'ftjob_456',
      data: { jobId: 'ftjob_456', errorMessage: 'training data has 3 invalid rows' },
    });

    expect(jobUpdateFor(event)).toMatchObject({ kind: 'fine_tune', state: 'failed', details: { error: 'training data has 3 invalid rows' } });
  });

  it('reads the output of a completed batch', () => {
    const event = normalizedEvent({ type: 'batch.completed', providerType: 'batch.done', subject: 'batch-789', data: { batchId: 'batch-789', outputUrl: 'https://files/out' } });

    expect(jobUpdateFor(event)).toMatchObject({ kind: 'batch', state: 'completed', details: { output: 'https://files/out' } });
  });

  it('records the model name, evaluation loss and listed checkpoint paths of a completed fine-tune, for a deploy step', () => {
    const event = normalizedEvent({
      data: { jobId: 'ft-test', modelName: 'acme/model', evalLoss: 0.41 },
      providerData: { fine_tune_id: 'ft-test', model_name: 'acme/model', eval_loss: 0.41, checkpoint_paths: ['s3://ft/ft-test/step-900', 's3://ft/ft-test/final'] },
    });

    expect(jobUpdateFor(event)).toMatchObject({
      state: 'completed',
      details: { model: 'acme/model', evalLoss: 0.41, checkpointPaths: ['s3://ft/ft-test/step-900', 's3://ft/ft-test/final'] },
    });
  });

  it('reads the path of a checkpoint from its canonical checkpointPath', () => {
    const event = normalizedEvent({ type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', data: { jobId: 'ft-test', step: 500, loss: 0.87, checkpointPath: 's3://ft/ft-test/step-500' } });

    expect(jobUpdateFor(event)).toMatchObject({ state: 'running', step: 500, loss: 0.87, path: 's3://ft/ft-test/step-500' });
  });

  it('projects nothing for an event without a subject', () => {
    expect(jobUpdateFor(normalizedEvent({ subject: undefined }))).toBeUndefined();
  });

  it('projects nothing for a route that is not about a job or batch', () => {
    expect(jobUpdateFor(normalizedEvent({ type: 'model.deprecated', subject: 'model-1' }))).toBeUndefined();
  });
});

describe('alertFor', () => {
  it('says which fine-tune failed and why', () => {
    const event = normalizedEvent({ type: 'fine_tune.failed', subject: 'ft-def456', data: { jobId: 'ft-def456', errorMessage: 'CUDA out of memory at step 1200', step: 1200 } });

    expect(alertFor(event)?.message).toMatch(/^Fine-tune job ft-def456 on together failed: CUDA out of memory at step 1200\./);
  });

  it('names the replacement and the sunset date of a deprecated model', () => {
    const event = normalizedEvent({
      type: 'model.deprecated',
      subject: 'meta-llama/Llama-2-70b-chat-hf',
      data: { modelId: 'meta-llama/Llama-2-70b-chat-hf', replacementModel: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', sunsetDate: '2027-01-31' },
    });

    expect(alertFor(event)?.message).toMatch(
      /^Model meta-llama\/Llama-2-70b-chat-hf on together is deprecated and stops serving on 2027-01-31; move to meta-llama\/Llama-3.3-70B-Instruct-Turbo\./,
    );
  });

  it('writes a sunset date sent as Unix seconds as a date', () => {
    const event = normalizedEvent({ type: 'model.deprecated', subject: 'm-1', data: { modelId: 'm-1', sunsetDate: '1801353600' } });

    expect(alertFor(event)?.message).toMatch(/stops serving on 2027-01-31; no replacement was named\./);
  });

  it('states a usage threshold in the units of its metric, dollars for usd', () => {
    const llmtune = normalizedEvent({ provider: 'llmtune', type: 'usage.threshold_reached', data: { metric: 'tokens', threshold: 10000000, current: 10250000 } });
    const mythicdot = normalizedEvent({ provider: 'mythicdot', type: 'usage.threshold_reached', data: { metric: 'usd', threshold: 500, current: 512.4 } });

    expect(alertFor(llmtune)?.message).toMatch(/^llmtune tokens reached 10250000 of a 10000000 threshold\./);
    expect(alertFor(mythicdot)?.message).toMatch(/^mythicdot spend reached \$512\.4 of a \$500 threshold\./);
  });

  it("names the provider's own type when a failure comes without a reason", () => {
    const event = normalizedEvent({ provider: 'standard', type: 'batch.failed', providerType: 'batch.failed', subject: 'batch_1', data: { batchId: 'batch_1' } });

    expect(alertFor(event)?.message).toMatch(/^Batch batch_1 on standard failed: no reason given \(batch\.failed\)\./);
  });

  it.each(['fine_tune.cancelled', 'batch.cancelled', 'batch.expired'] as const)('raises no alert for %s, and its consumer runs no alert step', (route) => {
    const event = normalizedEvent({ provider: 'standard', type: route, providerType: route, subject: 'x_1', data: {} } as Partial<NormalizedEvent>);

    expect(alertFor(event)).toBeUndefined();
    expect(BUILT_IN_STEPS[route]).not.toContain(publishAlert);
  });

  it('keeps the SNS subject within 100 characters', () => {
    const event = normalizedEvent({ type: 'fine_tune.failed', subject: 'x'.repeat(300) });

    expect(alertFor(event)?.subject.length).toBeLessThanOrEqual(100);
  });

  it.each(['fine_tune.completed', 'fine_tune.checkpoint', 'batch.completed', 'model.deployed', 'other'] as const)('raises no alert for %s', (type) => {
    expect(alertFor(normalizedEvent({ type }))).toBeUndefined();
  });
});

describe('poison messages in the consumer', () => {
  /** A consumer whose clients fail any call, and the lines it logs. */
  function isolatedConsumer() {
    const lines: string[] = [];
    const logger = new Logger({ serviceName: 'test', logLevel: 'DEBUG' });
    logger.error = (...args: unknown[]) => void lines.push(JSON.stringify(args));
    logger.info = (...args: unknown[]) => void lines.push(JSON.stringify(args));
    const unreachable = { send: () => Promise.reject(new Error('no I/O expected')) };
    const consume = createConsumer({
      route: 'fine_tune.completed',
      steps: stepsFor('fine_tune.completed'),
      documents: unreachable as unknown as DynamoDBDocumentClient,
      sns: unreachable as unknown as SNSClient,
      tableName: 'events',
      jobsTableName: 'jobs',
      jobHistoryTableName: 'job-history',
      alertsTopicArn: 'arn',
      leaseSeconds: 60,
      retentionSeconds: 604_800,
      logger,
    });
    return { consume, lines };
  }

  it('fails a poison record before any I/O and logs its id and issue paths, never its body', async () => {
    const { consume, lines } = isolatedConsumer();
    const poison = sqsRecord(JSON.stringify({ id: 'evt_1', provider: 'together', card: '4111-1111-1111-1111' }));

    const response = await consume(sqsEvent(poison));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: poison.messageId }]);
    expect(lines.join('\n')).toContain(poison.messageId);
    expect(lines.join('\n')).toContain('occurredAt');
    expect(lines.join('\n')).not.toContain('4111');
  });

  it('fails a message of a newer schemaVersion before any I/O, for the dead-letter queue, and logs the version it could not read', async () => {
    const { consume, lines } = isolatedConsumer();
    const newer = sqsRecord(JSON.stringify({ ...normalizedEvent({ data: { jobId: 'ft-1', modelName: 'secret-model-name' } }), schemaVersion: 3 }));

    const response = await consume(sqsEvent(newer));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: newer.messageId }]);
    expect(lines.join('\n')).toContain('message has schemaVersion 3; this consumer reads version 2');
    expect(lines.join('\n')).not.toContain('secret-model-name');
  });
});
