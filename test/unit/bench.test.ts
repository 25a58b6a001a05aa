import { describe, expect, it } from 'vitest';
import { ASSUMPTIONS, costPerMillion, dynamoItemBytes, PRICES_USD, type CostInputs } from '../../bench/cost';
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

  it('prices a million deliveries line by line from the inputs and the list prices', () => {
    const inputs: CostInputs = {
      receiverMemoryMb: 512,
      receiverMemorySource: 'test',
      receiverDurationMs: 9.2,
      receiverInitMs: 100,
      consumerMemoryMb: 256,
      consumerBatchMs: 40,
      batchSize: 10,
      storedRecord: { pk: { S: 'x'.repeat(500) } },
      messageBytes: 400,
      eventsTableWritesPerEvent: 4,
      otherTableWritesPerEvent: 1,
      indexWritesPerEvent: 1,
      receiverLogBytesPerDelivery: 500,
      consumerLogBytesPerEvent: 200,
    };

    const result = costPerMillion(inputs);

    const line = (item: string) => result.lines.find((entry) => entry.item === item)?.usdPerMillion;
    // 10 ms billed × 0.5 GB × 1 M invocations.
    expect(line('Receiver Lambda duration')).toBeCloseTo(1e6 * 0.01 * 0.5 * PRICES_USD.lambdaArmPerGbSecond, 4);
    // 502 B + growth fits one write unit; 4 writes, and only the first also writes the index.
    expect(result.writeUnitsPerWrite).toBe(1);
    expect(line('DynamoDB events table writes')).toBeCloseTo(5 * PRICES_USD.dynamodbPerMillionWriteUnits, 4);
    expect(line('SQS')).toBeCloseTo(1.2 * PRICES_USD.sqsPerMillionRequests, 4);
    expect(result.itemBytes).toBe(502 + ASSUMPTIONS.recordGrowthBytes);
    expect(result.totalUsdPerMillion).toBeCloseTo(
      result.lines.reduce((sum, entry) => sum + entry.usdPerMillion, 0),
      2,
    );
  });
});
