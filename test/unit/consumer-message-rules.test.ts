import { describe, expect, it } from 'vitest';
import { readConsumerConfig } from '../../functions/consumers/config';
import { PoisonMessageError } from '../../functions/consumers/errors';
import { parseMessage } from '../../functions/consumers/message';
import { normalizedEvent, sqsRecord } from '../support/consumers';

/**
 * A message a consumer cannot read is a clear failure naming where it is wrong (never a crash of
 * the batch, never a value from its body); and what a consumer reads from its environment.
 */

/** The error `body` fails with on the fine_tune.completed queue: its class, message and paths. */
function refusal(body: string): { type: string; message: string; issuePaths?: readonly string[] } {
  try {
    parseMessage(sqsRecord(body), 'fine_tune.completed');
  } catch (error) {
    return { type: (error as Error).constructor.name, message: (error as Error).message, ...(error instanceof PoisonMessageError ? { issuePaths: error.issuePaths } : {}) };
  }
  throw new Error('the message was read');
}

const poison = (message: string, issuePaths: readonly string[]) => ({ type: 'PoisonMessageError', message, issuePaths });
const { schemaVersion: _version, providerData: _data, ...version1 } = normalizedEvent();

describe('[RULE] a message a consumer cannot read', () => {
  it.each([
    ['text that is not JSON', 'not json {', poison('message body is not JSON', ['(body)'])],
    ['JSON null', 'null', poison('message body is not a normalized event: invalid (body)', ['(body)'])],
    ['a JSON number', '42', poison('message body is not a normalized event: invalid (body)', ['(body)'])],
    ['a JSON list', '[]', poison('message body is not a normalized event: invalid (body)', ['(body)'])],
    [
      'an event whose data does not fit its route',
      JSON.stringify(normalizedEvent({ data: { jobId: 42 } as never })),
      poison('message body is not a normalized event: invalid data.jobId', ['data.jobId']),
    ],
    [
      'an event of another route',
      JSON.stringify(normalizedEvent({ type: 'batch.failed' })),
      poison('message of route batch.failed is on the fine_tune.completed queue', ['type']),
    ],
    [
      'a schemaVersion that is not a whole number',
      JSON.stringify({ ...normalizedEvent(), schemaVersion: 2.5 }),
      poison(
        'message has a schemaVersion that is not a version number; this consumer reads version 2: deploy the release that wrote it, then replay it from the dead-letter queue',
        ['schemaVersion'],
      ),
    ],
    [
      'a version 1 event of an unknown provider',
      JSON.stringify({ ...version1, provider: 'acme' }),
      poison('message body is not a normalized event: invalid provider, schemaVersion', ['provider', 'schemaVersion']),
    ],
    [
      'a version 1 event of an unknown route',
      JSON.stringify({ ...version1, type: 'fine_tune.done' }),
      poison('message body is not a normalized event: invalid type, schemaVersion', ['type', 'schemaVersion']),
    ],
  ])('[RULE] %s is a poison message naming where it is wrong', (_, body, expected) => {
    expect(refusal(body)).toEqual(expected);
  });
});

const ENV = { ROUTE: 'batch.completed', TABLE_NAME: 'events', JOBS_TABLE_NAME: 'jobs', JOB_HISTORY_TABLE_NAME: 'job-history', ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:1:alerts' };

describe("[RULE] a consumer's optional settings", () => {
  it('[RULE] without a bus, a results bucket or a timeout, the consumer publishes nothing, copies nothing and holds its lease 60 s', () => {
    expect(readConsumerConfig(ENV)).toStrictEqual({
      route: 'batch.completed',
      tableName: 'events',
      jobsTableName: 'jobs',
      jobHistoryTableName: 'job-history',
      alertsTopicArn: ENV.ALERTS_TOPIC_ARN,
      retentionSeconds: 7 * 86_400,
      leaseSeconds: 60,
    });
  });

  it.each(['', '   '])('[RULE] a blank EVENT_BUS_NAME or RESULTS_BUCKET_NAME (%j) is no bus and no bucket', (blank) => {
    const config = readConsumerConfig({ ...ENV, EVENT_BUS_NAME: blank, RESULTS_BUCKET_NAME: blank });

    expect(config).not.toHaveProperty('eventBusName');
    expect(config).not.toHaveProperty('resultsBucket');
  });

  it('[RULE] the bus and the bucket are read without the spaces around them', () => {
    const config = readConsumerConfig({ ...ENV, EVENT_BUS_NAME: ' hooks-bus ', RESULTS_BUCKET_NAME: ' results-bucket ' });

    expect(config).toMatchObject({ eventBusName: 'hooks-bus', resultsBucket: 'results-bucket' });
  });

  it('[RULE] a consumer given a longer timeout holds its lease twice as long', () => {
    expect(readConsumerConfig({ ...ENV, CONSUMER_TIMEOUT_SECONDS: '300' }).leaseSeconds).toBe(600);
  });
});
