import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * The events table held in memory, answering a consumer's claim, marks and status read as DynamoDB
 * does (a record in state `down` makes DynamoDB fail for it); and a logger and metrics that keep
 * what they are given, for the unit tests of the consumer's batch loop.
 */

export type Stored = { status: string; lastError?: string; note?: string };
type Input = {
  input: Record<string, unknown> & { TableName?: string; Key?: { pk: string }; ConditionExpression?: string; ExpressionAttributeValues?: Record<string, unknown> };
};

/**
 * `jobs` answers the jobs table's reads (its history is empty); `flakyStepRecords` is how many
 * writes of a step's record DynamoDB fails before it takes one.
 */
export function eventsTable(records: Record<string, Stored | 'down'>, jobs: Record<string, Record<string, unknown>> = {}, flakyStepRecords = 0) {
  let stepRecordsToFail = flakyStepRecords;
  const refused = (status?: string) =>
    new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(status === undefined ? {} : { Item: { status: { S: status } } }) });
  const send = async ({ constructor, input }: Input & { constructor: { name: string } }) => {
    const key = input.Key?.pk ?? '';
    const record = records[key];
    if (record === 'down') throw Object.assign(new Error('DynamoDB is unavailable'), { name: 'InternalServerError' });
    if (constructor.name === 'GetCommand') return { Item: input.TableName === 'jobs' ? jobs[key] : record };
    if (constructor.name === 'QueryCommand') return { Items: [] };
    const values = input.ExpressionAttributeValues ?? {};
    if (input.ConditionExpression?.startsWith('attribute_exists')) {
      if (record === undefined) throw refused();
      if (!['queued', 'failed'].includes(record.status)) throw refused(record.status);
      record.status = 'handling';
      return { Attributes: { attempts: 1, steps: {} } };
    }
    // Every other update is conditioned on the consumer's lease: gone once the record left `handling`.
    if (record === undefined || record.status !== 'handling') throw refused(record?.status);
    if (String(input.UpdateExpression).includes('#steps.#step') && stepRecordsToFail-- > 0) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    if (values[':handled'] !== undefined) Object.assign(record, { status: 'handled' }, values[':note'] === undefined ? {} : { note: values[':note'] });
    if (values[':failed'] !== undefined) Object.assign(record, { status: 'failed', lastError: values[':error'] });
    return {};
  };
  return send as unknown as DynamoDBDocumentClient['send'];
}

/** A logger that keeps what it is given, as `[level, message, attributes]`. */
export function keptLogger() {
  const lines: [string, string, Record<string, unknown>][] = [];
  const at = (level: string) => (message: string, attributes: Record<string, unknown>) => void lines.push([level, message, attributes]);
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, lines };
}

/** Metrics that keep each published line: its dimensions and its counts. */
export function keptMetrics() {
  const published: { dimensions: Record<string, string>; counts: Record<string, number> }[] = [];
  let line = { dimensions: {}, counts: {} as Record<string, number> };
  const metrics = {
    addDimensions: (dimensions: Record<string, string>) => void (line.dimensions = dimensions),
    addMetric: (name: string, _unit: string, value: number) => void (line.counts[name] = value),
    publishStoredMetrics: () => {
      published.push(line);
      line = { dimensions: {}, counts: {} };
    },
  };
  return { metrics: metrics as unknown as Metrics, published };
}
