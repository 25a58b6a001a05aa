import { describe, expect, it } from 'vitest';
import { ASSUMPTIONS, batchFill, costTable, dynamoItemBytes, PRICES_USD, type CostMeasurements, type CostScenario, type CostTable } from '../../bench/cost';
import { check, median, quantile } from '../../bench/stats';

describe('bench statistics', () => {
  it('takes quantiles by nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);

    expect(quantile(samples, 0.5)).toBe(50);
    expect(quantile(samples, 0.99)).toBe(99);
    expect(quantile(samples, 1)).toBe(100);
  });

  it('takes the median of an even count as the mean of the middle two', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('checks a ratio against a minimum or a maximum target', () => {
    expect(check(0.79, 0.8, 'min').met).toBe(false);
    expect(check(1.15, 1.15, 'max').met).toBe(true);
  });
});

describe('bench cost model', () => {
  it('sizes a DynamoDB item as names plus values, numbers at one byte per two digits plus one', () => {
    // "pk" 2 + "abc" 3, "n" 1 + 12345 → 3 digits of bytes + 1 = 4.
    expect(dynamoItemBytes({ pk: { S: 'abc' }, n: { N: '12345' } })).toBe(2 + 3 + 1 + 4);
  });

  const measured: CostMeasurements = {
    receiverMemoryMb: 512,
    consumerMemoryMb: 256,
    receiverCpuMs: 0.4,
    consumerCpuMsPerEvent: 0.5,
    receiverInitMs: 100,
    atPayload: new Map([
      [1024, { itemBytes: 1_500, messageBytes: 1_300 }],
      [4096, { itemBytes: 4_600, messageBytes: 4_400 }],
    ]),
    receiverLogBytes: 900,
    consumerLogBytesPerEvent: 30,
    consumerHandledLineBytes: 400,
    accessLogBytes: 450,
  };
  const scenario: CostScenario = { deliveriesPerMonth: 100_000_000, payloadBytes: 1024, endpoint: 'httpApi', platformLines: 'WARN', handledLine: 'DEBUG', tracing: true };
  const line = (table: CostTable, item: string) => table.lines.find((entry) => entry.item === item)?.usdPerMillion;

  it('prices a million deliveries line by line from stated round trips, measured bytes and list prices', () => {
    const table = costTable('default', scenario, measured);

    // 0.4 ms CPU + put 5 + send 10 + mark 5 → 21 ms billed × 0.5 GB × 1 M invocations.
    expect(line(table, 'Receiver duration')).toBeCloseTo(1e6 * 0.021 * 0.5 * PRICES_USD.lambdaArmPerGbSecond, 4);
    // 1,500 B + growth is two write units; 4 writes of the item, and the put writes the index too.
    expect(table.writeUnitsPerWrite).toBe(2);
    expect(line(table, 'DynamoDB events table')).toBeCloseTo(9 * PRICES_USD.dynamodbPerMillionWriteUnits, 4);
    // The job's projection: one write, and the consistent read before it.
    expect(line(table, 'DynamoDB jobs table')).toBeCloseTo(PRICES_USD.dynamodbPerMillionWriteUnits + PRICES_USD.dynamodbPerMillionReadUnits, 4);
    // 38.6 deliveries a second fill every batch of 10.
    expect(table.batchFill).toBe(10);
    expect(line(table, 'SQS')).toBeCloseTo(1.2 * PRICES_USD.sqsPerMillionRequests, 4);
    expect(line(table, 'API Gateway HTTP API')).toBe(PRICES_USD.httpApiPerMillionRequests);
    // Receiver 900 + consumer 30 + access log 450 B, no platform lines.
    expect(line(table, 'CloudWatch Logs')).toBeCloseTo((1e6 * 1380 * PRICES_USD.logsPerGbIngested) / 1024 ** 3, 4);
    expect(table.totalUsdPerMillion).toBeCloseTo(table.lines.reduce((sum, entry) => sum + entry.usdPerMillion, 0), 2);
  });

  it('fills batches from the arrival rate and the batching window: a quiet month pays a batch per event', () => {
    expect(batchFill(1_000_000)).toBeCloseTo(1 + 1_000_000 / (30 * 86_400) * ASSUMPTIONS.batchingWindowSeconds, 6);
    expect(batchFill(100_000_000)).toBe(ASSUMPTIONS.batchSize);
  });

  it('prices the function URL without the gateway and its access log, and the old log levels with their lines', () => {
    const lean = costTable('lean', { ...scenario, endpoint: 'functionUrl' }, measured);
    const before = costTable('before', { ...scenario, platformLines: 'INFO', handledLine: 'INFO' }, measured);

    expect(line(lean, 'Lambda function URL')).toBe(0);
    expect(line(lean, 'CloudWatch Logs')).toBeCloseTo((1e6 * 930 * PRICES_USD.logsPerGbIngested) / 1024 ** 3, 4);
    expect(line(before, 'CloudWatch Logs')).toBeCloseTo((1e6 * (1380 + 400 + ASSUMPTIONS.platformLogBytesPerInvocation * 1.1) * PRICES_USD.logsPerGbIngested) / 1024 ** 3, 4);
  });

  it('prices X-Ray at its default sampling: every delivery in a quiet month, 1/s plus 5 % of the rest when busy, nothing untraced', () => {
    // 1 M a month is 0.39 a second: the reservoir of 1 a second traces all of them.
    expect(line(costTable('quiet', { ...scenario, deliveriesPerMonth: 1_000_000 }, measured), 'X-Ray')).toBeCloseTo(PRICES_USD.xrayPerMillionTracesRecorded, 4);
    // 100 M a month is 38.58 a second: 1 + 5 % of 37.58 = 2.879 traced a second.
    const perSecond = 100_000_000 / (30 * 86_400);
    expect(line(costTable('busy', scenario, measured), 'X-Ray')).toBeCloseTo(((1 + 0.05 * (perSecond - 1)) / perSecond) * PRICES_USD.xrayPerMillionTracesRecorded, 4);
    expect(line(costTable('untraced', { ...scenario, tracing: false }, measured), 'X-Ray')).toBe(0);
  });
});
