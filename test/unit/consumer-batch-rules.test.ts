import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { eventKey, type NormalizedEvent } from '../../functions/core/event';
import { createConsumer, type ConsumerDeps, type RecordOutcome } from '../../functions/consumers/consume';
import type { RouteStep } from '../../functions/consumers/routes';
import { normalizedEvent, sqsEvent, sqsRecord } from '../support/consumers';
import { eventsTable, keptLogger, keptMetrics, type Stored } from '../support/memory-events';

/**
 * What a batch of messages becomes: which messages are reported failed (only those are retried),
 * the state each event record ends in, the metric lines and what is logged for the operator, over
 * the events table held in memory (test/support/memory-events.ts).
 */

function consumerOver(
  records: Record<string, Stored | 'down'>,
  overrides: Partial<ConsumerDeps<'fine_tune.completed'>> = {},
  tables: { jobs?: Record<string, Record<string, unknown>>; flakyStepRecords?: number } = {},
) {
  const { logger, lines } = keptLogger();
  const consume = createConsumer({
    route: 'fine_tune.completed',
    steps: [],
    documents: { send: eventsTable(records, tables.jobs, tables.flakyStepRecords) } as unknown as DynamoDBDocumentClient,
    sns: {} as SNSClient,
    tableName: 'events',
    jobsTableName: 'jobs',
    jobHistoryTableName: 'job-history',
    alertsTopicArn: 'arn:aws:sns:us-east-1:1:alerts',
    leaseSeconds: 60,
    retentionSeconds: 604_800,
    logger,
    ...overrides,
  });
  return { consume, lines };
}

const failingFor = (failing: NormalizedEvent): RouteStep<'fine_tune.completed'> => async (event) => {
  if (event.id === failing.id) throw new Error('the step failed for this event');
};

describe('[RULE] a batch of messages', () => {
  it('[RULE] reports failed exactly the messages that were not handled, and each record ends in its state', async () => {
    const [good, duplicate, failing, held, unknown, down] = [normalizedEvent(), normalizedEvent(), normalizedEvent(), normalizedEvent(), normalizedEvent(), normalizedEvent()];
    const records: Record<string, Stored | 'down'> = {
      [eventKey(good)]: { status: 'queued' },
      [eventKey(duplicate)]: { status: 'handled' },
      [eventKey(failing)]: { status: 'queued' },
      [eventKey(held)]: { status: 'handling' },
      [eventKey(down)]: 'down',
    };
    const { consume } = consumerOver(records, { steps: [failingFor(failing)] });
    const messages = [good, duplicate, failing, held, unknown, down].map((event) => sqsRecord(event));
    const poison = sqsRecord('{"not": "an event"}');

    const response = await consume(sqsEvent(...messages, poison));

    const failedIds = response.batchItemFailures.map((failure) => failure.itemIdentifier).sort();
    expect(failedIds).toEqual([messages[2], messages[3], messages[4], messages[5], poison].map((message) => message?.messageId).sort());
    expect(records[eventKey(good)]).toEqual({ status: 'handled' });
    expect(records[eventKey(duplicate)]).toEqual({ status: 'handled' });
    expect(records[eventKey(failing)]).toEqual({ status: 'failed', lastError: 'the step failed for this event' });
    expect(records[eventKey(held)]).toEqual({ status: 'handling' });
  });

  it('[RULE] publishes one metric line per provider with the counts of the batch, no-record messages under no provider', async () => {
    const handled = [normalizedEvent(), normalizedEvent()];
    const [duplicate, failing] = [normalizedEvent(), normalizedEvent()];
    const openai = normalizedEvent({ provider: 'openai' });
    const records: Record<string, Stored> = Object.fromEntries([...handled, failing, openai].map((event) => [eventKey(event), { status: 'queued' }]));
    records[eventKey(duplicate)] = { status: 'handled' };
    const held = normalizedEvent();
    records[eventKey(held)] = { status: 'handling' };
    const { metrics, published } = keptMetrics();
    const { consume } = consumerOver(records, { steps: [failingFor(failing)], metrics });
    const batch = [...handled, duplicate, failing, held, openai, normalizedEvent()].map((event) => sqsRecord(event));

    await consume(sqsEvent(...batch, sqsRecord('not json')));

    const route = 'fine_tune.completed';
    expect(published).toHaveLength(4);
    expect(published).toEqual(
      expect.arrayContaining([
        { dimensions: { route, provider: 'together' }, counts: { Handled: 2, Duplicate: 1, Failed: 2 } },
        { dimensions: { route, provider: 'openai' }, counts: { Handled: 1 } },
        { dimensions: { route, provider: 'unknown' }, counts: { Failed: 1 } },
        { dimensions: { route }, counts: { NoRecord: 1 } },
      ]),
    );
    expect(published.find((line) => 'NoRecord' in line.counts)?.dimensions).toStrictEqual({ route });
  });

  it('[RULE] publishes its metrics even when every record failed', async () => {
    const { metrics, published } = keptMetrics();
    const { consume } = consumerOver({}, { metrics });

    const response = await consume(sqsEvent(sqsRecord('not json')));

    expect(response.batchItemFailures).toHaveLength(1);
    expect(published).toEqual([{ dimensions: { route: 'fine_tune.completed', provider: 'unknown' }, counts: { Failed: 1 } }]);
  });
});

describe('[RULE] what a failed message logs for the operator', () => {
  it('[RULE] a poison message is an error line naming the message, its receive count and the invalid fields', async () => {
    const { consume, lines } = consumerOver({});
    const poison = sqsRecord('not json {', 3);

    await consume(sqsEvent(poison));

    expect(lines).toEqual([['error', 'poison message', { messageId: poison.messageId, receiveCount: '3', issues: ['(body)'], error: 'message body is not JSON' }]]);
  });

  it.each([
    ['held by another consumer', { status: 'handling' }, 'warn', 'lease_held'],
    ['unreachable (DynamoDB fails)', 'down', 'error', 'dependency_failed'],
    ['not in the table (never accepted)', undefined, 'error', 'no_record'],
  ] as const)('[RULE] an event whose record is %s is logged at %s with reason %s', async (_, stored, level, reason) => {
    const event = normalizedEvent();
    const { consume, lines } = consumerOver(stored === undefined ? {} : { [eventKey(event)]: stored === 'down' ? 'down' : { ...stored } });
    const message = sqsRecord(event);

    const response = await consume(sqsEvent(message));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    expect(lines).toEqual([[level, 'event not handled; the message will be retried', expect.objectContaining({ key: eventKey(event), messageId: message.messageId, reason })]]);
    if (reason === 'dependency_failed') expect(lines[0]?.[2]).toMatchObject({ cause: 'InternalServerError: DynamoDB is unavailable' });
  });

  it('[RULE] an event whose record was reset while its steps ran is left as reset, the lost lease logged with its reason', async () => {
    const event = normalizedEvent();
    const key = eventKey(event);
    const records: Record<string, Stored> = { [key]: { status: 'queued' } };
    const { consume, lines } = consumerOver(records, { steps: [async () => void (records[key] = { status: 'queued' })] });
    const message = sqsRecord(event);

    const response = await consume(sqsEvent(message));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    expect(records[key]).toEqual({ status: 'queued' });
    expect(lines).toEqual([
      ['warn', 'could not mark the event failed', { key, error: expect.stringContaining(`lost the lease on ${key}`) }],
      ['error', 'event not handled; the message will be retried', expect.objectContaining({ key, reason: 'lease_lost' })],
    ]);
  });

  it('[RULE] a message whose event has no record says the receiver never accepted it', async () => {
    const event = normalizedEvent();
    const { consume, lines } = consumerOver({});

    await consume(sqsEvent(sqsRecord(event)));

    expect(lines[0]?.[2]).toMatchObject({
      reason: 'no_record',
      error: `${eventKey(event)} has no event record: the receiver never accepted this message (it was sent to the queue directly); it is not handled`,
    });
  });

  it('[RULE] a failed step is logged with the reason step_failed and its message', async () => {
    const event = normalizedEvent();
    const { consume, lines } = consumerOver({ [eventKey(event)]: { status: 'queued' } }, { steps: [failingFor(event)] });

    const message = sqsRecord(event);

    await consume(sqsEvent(message));

    expect(lines).toEqual([
      [
        'error',
        'event not handled; the message will be retried',
        { key: eventKey(event), messageId: message.messageId, receiveCount: '1', reason: 'step_failed', error: 'the step failed for this event' },
      ],
    ]);
  });

  it('[RULE] a redelivery of a handled event is acknowledged and logged at info as a skipped duplicate', async () => {
    const event = normalizedEvent();
    const { consume, lines } = consumerOver({ [eventKey(event)]: { status: 'handled' } });
    const message = sqsRecord(event);

    const response = await consume(sqsEvent(message));

    expect(response.batchItemFailures).toEqual([]);
    expect(lines).toEqual([['info', 'duplicate delivery of a handled event; skipped', { key: eventKey(event), messageId: message.messageId }]]);
  });

  it('[RULE] a handled event logs a single debug line with its key, route and attempt', async () => {
    const event = normalizedEvent();
    const { consume, lines } = consumerOver({ [eventKey(event)]: { status: 'queued' } });

    await consume(sqsEvent(sqsRecord(event)));

    expect(lines).toEqual([['debug', 'event handled', { key: eventKey(event), route: 'fine_tune.completed', attempts: 1 }]]);
  });
});

describe('[RULE] what the steps of an event see', () => {
  it("[RULE] the time of the consumer's clock, and an enricher's event in place of the message's", async () => {
    const event = normalizedEvent();
    const seen: { now: string; data: unknown }[] = [];
    const clockMs = Date.parse('2026-10-01T08:00:00Z');
    const { consume } = consumerOver(
      { [eventKey(event)]: { status: 'queued' } },
      {
        clock: () => clockMs,
        enrich: async (given) => ({ ...given, data: { jobId: 'from-the-enricher' } }),
        steps: [async (given, context) => void seen.push({ now: context.now.toISOString(), data: given.data })],
      },
    );

    await consume(sqsEvent(sqsRecord(event)));

    expect(seen).toEqual([{ now: '2026-10-01T08:00:00.000Z', data: { jobId: 'from-the-enricher' } }]);
  });

  it('[RULE] the notes a step leaves are kept on the handled record', async () => {
    const event = normalizedEvent();
    const records = { [eventKey(event)]: { status: 'queued' } };
    const { consume } = consumerOver(records, { steps: [async (_, context) => context.note('first'), async (_, context) => context.note('second')] });

    await consume(sqsEvent(sqsRecord(event)));

    expect(records[eventKey(event)]).toEqual({ status: 'handled', note: 'first; second' });
  });

  it('[RULE] a traced consumer handles each record inside its trace, which sees whether it was handled or a duplicate', async () => {
    const [fresh, seen] = [normalizedEvent(), normalizedEvent()];
    const outcomes: RecordOutcome[] = [];
    const traceRecord = async (_: SQSRecord, handle: () => Promise<RecordOutcome>) => {
      const outcome = await handle();
      outcomes.push(outcome);
      return outcome;
    };
    const { consume } = consumerOver({ [eventKey(fresh)]: { status: 'queued' }, [eventKey(seen)]: { status: 'handled' } }, { traceRecord });

    const response = await consume(sqsEvent(sqsRecord(fresh), sqsRecord(seen)));

    expect(response.batchItemFailures).toEqual([]);
    expect(outcomes.sort()).toEqual(['duplicate', 'handled']);
  });

  it("[RULE] a step reads the job of its event's subject, or of the key it names, and nothing for an event without a subject", async () => {
    const [withSubject, withoutSubject] = [normalizedEvent({ subject: 'ft-7' }), normalizedEvent({ subject: undefined })];
    const jobs = { 'together#ft-7': { pk: 'together#ft-7', status: 'running' }, 'openai#ftjob-2': { pk: 'openai#ftjob-2', status: 'succeeded' } };
    const read: unknown[] = [];
    const records = { [eventKey(withSubject)]: { status: 'queued' }, [eventKey(withoutSubject)]: { status: 'queued' } };
    const { consume } = consumerOver(records, { steps: [async (_, context) => void read.push(await context.jobHistory(), await context.jobHistory('openai#ftjob-2'))] }, { jobs });

    await consume(sqsEvent(sqsRecord(withSubject)));
    await consume(sqsEvent(sqsRecord(withoutSubject)));

    const history = { checkpoints: [], transitions: [] };
    expect(read).toEqual([history, history, undefined, history]);
  });

  it("[RULE] a step's record DynamoDB fails to write is written again after the consumer's wait, and the event is handled", async () => {
    const event = normalizedEvent();
    const records = { [eventKey(event)]: { status: 'queued' } };
    const waits: number[] = [];
    const { consume } = consumerOver(
      records,
      { sleep: async (ms) => void waits.push(ms), steps: [async (_, context) => context.once('evaluation', async () => undefined, { scope: 'event' })] },
      { flakyStepRecords: 1 },
    );

    const response = await consume(sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect(waits).toEqual([100]);
    expect(records[eventKey(event)]).toEqual({ status: 'handled' });
  });
});
