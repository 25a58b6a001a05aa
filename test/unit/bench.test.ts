import { describe, expect, it } from 'vitest';
import { ASSUMPTIONS, batchFill, dynamoItemBytes, PRICES_USD, unitPrices, type CostMeasurements, type CostScenario, type CostTable } from '../../bench/cost';
import { costTable, duplicateTable } from '../../bench/cost-table';
import { jobGrowth, lateCheckpoint, readUnits, recordStates, writeUnits } from '../../bench/record-sizes';
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
      // put 1,500 B → 2 WRU; queued 1,000 B: the larger, 1,500 → 2; claim 1,100 → 2 (queued 1,000 before);
      // handled 900 B after 1,100 → 2. The index item, 120 B → 1.
      [1024, { record: { inProgress: 1_500, queued: 1_000, handling: 1_100, handled: 900, index: 120 }, messageBytes: 1_300, sample: 'hand-made' }],
      [4096, { record: { inProgress: 4_600, queued: 4_500, handling: 4_700, handled: 4_600, index: 120 }, messageBytes: 4_400, sample: 'hand-made' }],
    ]),
    // 4 events, 10 write units and 4 read units over the job's life, an 80 B index item (1 WRU).
    job: { events: 4, writeUnits: 10, readUnits: 4, finalBytes: 2_000, itemBytes: 2_000, historyItems: 0, indexBytes: 80 },
    receiverLogBytes: 900,
    consumerLogBytesPerEvent: 30,
    consumerMetricLineBytes: 270,
    consumerHandledLineBytes: 400,
    accessLogBytes: 450,
  };
  const scenario: CostScenario = { deliveriesPerMonth: 100_000_000, payloadBytes: 1024, endpoint: 'httpApi', platformLines: 'WARN', handledLine: 'DEBUG', tracing: true };
  const line = (table: CostTable, item: string) => table.lines.find((entry) => entry.item === item)?.usdPerMillion;
  const WRU = PRICES_USD.dynamodbPerMillionWriteUnits;
  const RRU = PRICES_USD.dynamodbPerMillionReadUnits;
  const GB = 1024 ** 3;

  it('[LEAN] bills each write of the record on the larger of its size before and after, and the index item on the put', () => {
    const table = costTable('default', scenario, measured);

    expect(table.writeUnits).toEqual([2, 2, 2, 2]);
    // 2 + 2 + 2 + 2 + 1 = 9 WRU × $0.625/M = $5.625.
    expect(line(table, 'DynamoDB events table')).toBeCloseTo(5.625, 4);
    expect(line(costTable('4 KB', { ...scenario, payloadBytes: 4096 }, measured), 'DynamoDB events table')).toBeCloseTo((5 + 5 + 5 + 5 + 1) * WRU, 4);
  });

  it('[LEAN] spreads the jobs item growth, its index write for a new job and its reads over the job’s events', () => {
    const table = costTable('default', scenario, measured);

    // (10 + 1 index) WRU ÷ 4 events = 2.75 WRU × 0.625 = 1.71875; 4 RRU ÷ 4 = 1 × 0.125.
    expect(line(table, 'DynamoDB jobs table')).toBeCloseTo(1.71875 + 0.125, 3);
  });

  it('[HIST] stores a job\'s history items with their own per-item overhead', () => {
    const split = costTable('default', scenario, { ...measured, job: { ...measured.job, itemBytes: 400, historyItems: 4 } });

    // (2,000 + 80 + (2 + 4) × 100) B ÷ 4 events = 670 B × 1 M, one month.
    expect(line(split, 'DynamoDB storage + PITR, jobs')).toBeCloseTo(((670 * 1e6) / GB) * 0.45, 4);
  });

  it('[LEAN] stores each record and its index item for 29 days after its last write plus TTL delay, with point-in-time recovery', () => {
    const table = costTable('default', scenario, measured);

    // (900 + 120 + 2 × 100) B × 1 M = 1.2200e9 B = 1.13621 GB × 31/30 month × ($0.25 + $0.20).
    expect(line(table, 'DynamoDB storage + PITR, events')).toBeCloseTo(((1_220 * 1e6) / GB) * (31 / 30) * 0.45, 4);
    // (2,000 + 80 + 200) B ÷ 4 events = 570 B × 1 M, one month.
    expect(line(table, 'DynamoDB storage + PITR, jobs')).toBeCloseTo(((570 * 1e6) / GB) * 0.45, 4);
  });

  it('[LEAN] counts the consumer metric line (one a batch) in the logs and traces each function by its own sampling', () => {
    const table = costTable('default', scenario, measured);

    // Receiver 900 + consumer 30 + metric line 270 a batch of 10 (27) + access log 450 = 1,407 B.
    expect(line(table, 'CloudWatch Logs')).toBeCloseTo((1e6 * 1_407 * PRICES_USD.logsPerGbIngested) / GB, 4);
    // 38.58 deliveries/s: 1 + 5 % of the rest traced; 3.858 batches/s of 10: 1 + 5 % of 2.858, per batch of 10 events.
    const perSecond = 100_000_000 / (30 * 86_400);
    const receiver = (1 + 0.05 * (perSecond - 1)) / perSecond;
    const consumer = (1 + 0.05 * (perSecond / 10 - 1)) / (perSecond / 10) / 10;
    expect(line(table, 'X-Ray')).toBeCloseTo((receiver + consumer) * PRICES_USD.xrayPerMillionTracesRecorded, 4);
    expect(line(costTable('untraced', { ...scenario, tracing: false }, measured), 'X-Ray')).toBe(0);
  });

  it('[LEAN] prices a duplicate delivery on its refused put, billed on the stored item, without a send or a consumer', () => {
    const duplicate = duplicateTable('duplicate', scenario, measured);

    // max(900 stored, 1,500 offered) = 2 WRU; 0.4 CPU + 5 ms put → 6 ms.
    expect(line(duplicate, 'DynamoDB refused put')).toBeCloseTo(2 * WRU, 4);
    expect(line(duplicate, 'Receiver duration')).toBeCloseTo(1e6 * 0.006 * 0.5 * PRICES_USD.lambdaArmPerGbSecond, 4);
    expect(duplicate.lines.map((entry) => entry.item)).not.toContain('SQS');
    expect(duplicate.totalUsdPerMillion).toBeCloseTo(duplicate.lines.reduce((sum, entry) => sum + entry.usdPerMillion, 0), 3);
  });

  it('[LEAN] prices provisioned capacity per unit-hour at 70 % use, and reserved capacity with its upfront spread over the year', () => {
    // $0.00065 a WCU-hour serves 3,600 × 0.7 = 2,520 writes: $0.2579 per million.
    expect(unitPrices('provisioned').write).toBeCloseTo((1e6 / 2_520) * 0.00065, 6);
    // ($150 ÷ 8,760 + $0.0128) ÷ 100 = $0.00029923 a WCU-hour.
    expect(unitPrices('reserved').write).toBeCloseTo((1e6 / 2_520) * ((150 / 8_760 + 0.0128) / 100), 6);
    const provisioned = costTable('provisioned', { ...scenario, capacity: 'provisioned' }, measured);
    expect(line(provisioned, 'DynamoDB events table')).toBeCloseTo(9 * (1e6 / 2_520) * 0.00065, 4);
    expect(line(provisioned, 'API Gateway HTTP API')).toBe(line(costTable('on demand', scenario, measured), 'API Gateway HTTP API'));
  });

  it('prices a million deliveries line by line from stated round trips, measured bytes and list prices', () => {
    const table = costTable('default', scenario, measured);

    // 0.4 ms CPU + put 5 + send 10 + mark 5 → 21 ms billed × 0.5 GB × 1 M invocations.
    expect(line(table, 'Receiver duration')).toBeCloseTo(1e6 * 0.021 * 0.5 * PRICES_USD.lambdaArmPerGbSecond, 4);
    // 38.6 deliveries a second fill every batch of 10.
    expect(table.batchFill).toBe(10);
    expect(line(table, 'SQS')).toBeCloseTo(1.2 * PRICES_USD.sqsPerMillionRequests, 4);
    expect(line(table, 'API Gateway HTTP API')).toBe(PRICES_USD.httpApiPerMillionRequests);
    expect(table.totalUsdPerMillion).toBeCloseTo(table.lines.reduce((sum, entry) => sum + entry.usdPerMillion, 0), 2);
    expect(RRU).toBe(0.125);
  });

  it('fills batches from the arrival rate and the batching window: a quiet month pays a batch per event', () => {
    expect(batchFill(1_000_000)).toBeCloseTo(1 + 1_000_000 / (30 * 86_400) * ASSUMPTIONS.batchingWindowSeconds, 6);
    expect(batchFill(100_000_000)).toBe(ASSUMPTIONS.batchSize);
  });

  it('prices the function URL without the gateway and its access log, and the old log levels with their lines', () => {
    const lean = costTable('lean', { ...scenario, endpoint: 'functionUrl' }, measured);
    const before = costTable('before', { ...scenario, platformLines: 'INFO', handledLine: 'INFO' }, measured);

    expect(line(lean, 'Lambda function URL')).toBe(0);
    expect(line(lean, 'CloudWatch Logs')).toBeCloseTo((1e6 * 957 * PRICES_USD.logsPerGbIngested) / GB, 4);
    expect(line(before, 'CloudWatch Logs')).toBeCloseTo((1e6 * (1_407 + 400 + ASSUMPTIONS.platformLogBytesPerInvocation * 1.1) * PRICES_USD.logsPerGbIngested) / GB, 4);
  });
});

describe('record and job sizes the cost model bills', () => {
  it('[LEAN] bills a write on the larger item, at least one unit; a consistent read per 4 KB, at least one', () => {
    expect(writeUnits(1_024)).toBe(1);
    expect(writeUnits(1_025, 10)).toBe(2);
    expect(writeUnits(0)).toBe(1);
    expect(readUnits(0)).toBe(1);
    expect(readUnits(4_097)).toBe(2);
  });

  it('[LEAN] measures a record in each state: the lease on the put and the claim, queuedAt and handledAt after them', () => {
    const states = recordStates('openai', 'fine_tuning.job.succeeded');

    // The lease (leaseToken 10 + 36, leaseExpiresAt 14 + 6) is on the put and the claim only;
    // queued adds queuedAt (8 + 24), and its status is 5 bytes shorter than in_progress.
    expect(states.inProgress - states.queued).toBe(10 + 36 + 14 + 6 - (8 + 24) + ('in_progress'.length - 'queued'.length));
    expect(states.handling).toBeGreaterThan(states.queued);
    expect(states.handled).toBeLessThan(states.handling);
    expect(states.writeUnits).toEqual([1, 1, 1, 1]);
    expect(states.eventBytes).toBeGreaterThan(states.payloadBytes);
  });

  it('[HIST] a late checkpoint on a job holding 500 costs at most 2 write units, and the job item holds only its latest state', () => {
    const late = lateCheckpoint();
    const full = jobGrowth(500);

    expect(late.writeUnits).toBeLessThanOrEqual(2);
    expect(late.itemBytes).toBeLessThan(1024);
    // 500 checkpoints, and the two states the job left (started, running).
    expect(full.historyItems).toBe(502);
    expect(full.finalBytes - full.itemBytes).toBeGreaterThan(500 * 100);
  });

  it('[LEAN] grows what a job stores with every checkpoint the projection keeps, never what each event writes', () => {
    const short = jobGrowth(2);
    const long = jobGrowth(20);

    expect(short.events).toBe(4);
    expect(long.finalBytes).toBeGreaterThan(short.finalBytes + 18 * 100);
    // [HIST] Each checkpoint writes its own item and the job item's latest state: 2 units however long the job.
    expect(long.writeUnits / long.events).toBeLessThanOrEqual(2);
    expect(long.sizes.every(({ before, after }) => after >= before)).toBe(true);
  });
});
