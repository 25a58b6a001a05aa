import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { BusEntry } from '../../functions/core/bus';
import { eventKey } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import { readConsumerConfig } from '../../functions/consumers/config';
import { consumerFromConfig, type RecordOutcome } from '../../functions/consumers/consume';
import { normalizedEvent, sqsEvent, sqsRecord } from '../support/consumers';
import { eventsTable, keptLogger, keptMetrics, type Stored } from '../support/memory-events';

/**
 * The consumer as deployed (configuration plus clients, as the Lambda handler and `npm start`
 * build it): what it publishes to the bus, and that the clients it is given are the ones it uses.
 */

const config = (route: Route) =>
  readConsumerConfig({ ROUTE: route, TABLE_NAME: 'events', JOBS_TABLE_NAME: 'jobs', JOB_HISTORY_TABLE_NAME: 'job-history', ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:1:alerts' });

const clientsOver = (records: Record<string, Stored>) => ({
  documents: { send: eventsTable(records) } as unknown as DynamoDBDocumentClient,
  sns: {} as SNSClient,
  logger: keptLogger().logger,
});

describe('[RULE] a deployed consumer', () => {
  it("[RULE] with a bus, publishes each handled event once, after the route's steps, under the event's key", async () => {
    const event = normalizedEvent();
    const key = eventKey(event);
    const order: string[] = [];
    const bus = { publish: async (entry: BusEntry, context: { key: string }) => void order.push(`bus ${entry.DetailType} ${context.key}`) };
    const consume = consumerFromConfig(config('fine_tune.completed'), { ...clientsOver({ [key]: { status: 'queued' } }), steps: [async () => void order.push('step')], bus });
    const message = sqsRecord(event);

    await consume(sqsEvent(message));
    await consume(sqsEvent(message));

    expect(order).toEqual(['step', `bus fine_tune.completed ${key}`]);
  });

  it('[RULE] without a bus, handles the event with its steps alone', async () => {
    const event = normalizedEvent();
    const records = { [eventKey(event)]: { status: 'queued' } };
    const consume = consumerFromConfig(config('fine_tune.completed'), { ...clientsOver(records), steps: [] });

    const response = await consume(sqsEvent(sqsRecord(event)));

    expect(response.batchItemFailures).toEqual([]);
    expect(records[eventKey(event)]).toEqual({ status: 'handled' });
  });

  it('[RULE] with batch results on, copies the results of a completed batch after its projection', async () => {
    const event = normalizedEvent({ type: 'batch.completed', subject: undefined });
    const copied: string[] = [];
    const consume = consumerFromConfig(config('batch.completed'), { ...clientsOver({ [eventKey(event)]: { status: 'queued' } }), batchResults: async (given) => void copied.push(given.id) });

    await consume(sqsEvent(sqsRecord(event)));

    expect(copied).toEqual([event.id]);
  });

  it('[RULE] uses the enricher, metrics, clock and trace it is given', async () => {
    const event = normalizedEvent();
    const seen: unknown[] = [];
    const traced: RecordOutcome[] = [];
    const { metrics, published } = keptMetrics();
    const consume = consumerFromConfig(config('fine_tune.completed'), {
      ...clientsOver({ [eventKey(event)]: { status: 'queued' } }),
      steps: [async (given, context) => void seen.push(context.now.toISOString(), given.data)],
      enrich: async (given) => ({ ...given, data: { jobId: 'enriched' } }),
      metrics,
      clock: () => Date.parse('2026-09-09T09:09:09Z'),
      traceRecord: async (_: SQSRecord, handle: () => Promise<RecordOutcome>) => {
        const outcome = await handle();
        traced.push(outcome);
        return outcome;
      },
    });

    await consume(sqsEvent(sqsRecord(event)));

    expect(seen).toEqual(['2026-09-09T09:09:09.000Z', { jobId: 'enriched' }]);
    expect(traced).toEqual(['handled']);
    expect(published).toEqual([{ dimensions: { route: 'fine_tune.completed', provider: 'together' }, counts: { Handled: 1 } }]);
  });
});
