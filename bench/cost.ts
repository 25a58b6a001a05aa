import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/**
 * AWS list prices, us-east-1, as published on 2026-11-25 (on-demand, no free tier, no savings
 * plans), from each service's pricing page (aws.amazon.com/<service>/pricing: api-gateway, lambda,
 * dynamodb, sqs, secrets-manager, cloudwatch, xray). Change them here; every figure of the cost
 * tables is derived from these.
 */
export const PRICES_USD = {
  asOf: '2026-11-25, us-east-1 list prices',
  /** API Gateway HTTP API, first 300 M requests a month (each 512 KB of a request counts as one). */
  httpApiPerMillionRequests: 1.0,
  /** A Lambda function URL has no charge of its own: only the function's requests and duration. */
  functionUrlPerMillionRequests: 0,
  /** Lambda on Arm (Graviton), first 7.5 B GB-s a month. Since 2025-08-01 the INIT phase is billed too. */
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  /** DynamoDB on-demand. A write unit covers 1 KB of item (the larger of before and after for an update). */
  dynamodbPerMillionWriteUnits: 0.625,
  /** A read unit covers a strongly consistent read of up to 4 KB. */
  dynamodbPerMillionReadUnits: 0.125,
  /** Standard queue; every 64 KB chunk of a request's payload is billed as one request. */
  sqsPerMillionRequests: 0.4,
  secretsManagerPer10kCalls: 0.05,
  /** CloudWatch Logs standard class ingestion (vended access logs are billed the same). */
  logsPerGbIngested: 0.5,
  /** X-Ray traces recorded (retrieving and scanning them, billed when someone looks, is left out). */
  xrayPerMillionTracesRecorded: 5.0,
  /** DynamoDB Standard table class storage, after the first 25 GB (aws.amazon.com/dynamodb/pricing/on-demand). */
  dynamodbStoragePerGbMonth: 0.25,
  /** Point-in-time recovery (continuous backups), on each table's size (same page). */
  dynamodbPitrPerGbMonth: 0.2,
  /** Provisioned capacity, per unit-hour (aws.amazon.com/dynamodb/pricing/provisioned). */
  dynamodbProvisionedPerWcuHour: 0.00065,
  dynamodbProvisionedPerRcuHour: 0.00013,
  /** Reserved capacity, 1 year, per 100 units: upfront plus hourly (same page, "Reserved capacity"). */
  dynamodbReserved100WcuUpfront: 150,
  dynamodbReserved100WcuHourly: 0.0128,
  dynamodbReserved100RcuUpfront: 30,
  dynamodbReserved100RcuHourly: 0.0025,
} as const;

/**
 * In-region round trips the Lambda duration is billed on: stated, not measured (the emulators'
 * loopback latency says nothing about AWS). Typical single-item DynamoDB writes take a few
 * milliseconds, an SQS SendMessage about ten.
 */
export const AWS_ROUND_TRIPS_MS = {
  dynamodbWrite: 5,
  sqsSend: 10,
} as const;

/** What the model assumes beyond the measurements; each is a stated guess, not a measurement. */
export const ASSUMPTIONS = {
  /** A month of 30 days. */
  secondsPerMonth: 30 * 86_400,
  /** The consumers' event source: at most 10 records a batch, gathered for at most 1 s (CONSUMER_BATCHING_WINDOW). */
  batchSize: 10,
  batchingWindowSeconds: 1,
  /** Every delivery on one route (the fullest batches; spread over routes, batches fill less). */
  routesSharingTheLoad: 1,
  /** Lambda replaces a busy execution environment every few hours; each replacement is a cold start. */
  environmentLifetimeHours: 2,
  /** Providers whose secret the receiver reads at init (all four enabled). */
  providersReadAtInit: 4,
  /** Providers actually sending, each refreshed once per cache period in each warm environment. */
  providersSending: 1,
  secretCacheSeconds: 300,
  /** START, END and REPORT lines Lambda writes per invocation at its INFO system level, bytes. */
  platformLogBytesPerInvocation: 320,
  /** Consumer writes per event after its claim: the jobs projection (its history item, its job item), then the handled mark. */
  consumerSequentialWrites: 3,
  /**
   * X-Ray's default sampling rule, which active tracing in Lambda applies to each function on its
   * own: the first request each second, then 5 % of the rest. The receiver's sampled deliveries are
   * one trace each; the consumer's batches (started by the event source) are traces of their own.
   */
  xrayReservoirPerSecond: 1,
  xrayRate: 0.05,
  /**
   * Days a record is stored: kept 29 days after its last transition (the handled mark, moments
   * after receipt; `RETENTION_DAYS` 7 is raised to the 29-day floor), plus TTL's own delay, which
   * AWS gives as "typically within a few days": 2 days stated.
   */
  recordRetentionDays: 29,
  ttlDeletionLagDays: 2,
  /** DynamoDB adds 100 bytes of overhead to each item and index item it stores. */
  storageOverheadBytesPerItem: 100,
  /** Events of one fine-tune job: started, 10 checkpoints, completed (every event assumed to be one). */
  checkpointsPerJob: 10,
  /** Provisioned capacity is paid whether used or not: the share of it the traffic uses (auto scaling's target). */
  provisionedUtilisation: 0.7,
} as const;

/** DynamoDB's item size: attribute names plus values (numbers: 1 byte per 2 significant digits + 1). */
export function dynamoItemBytes(item: Readonly<Record<string, AttributeValue>>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) {
    const digits = value.N.replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
    return Math.ceil(Math.max(1, digits.length) / 2) + 1;
  }
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, entry) => sum + Buffer.byteLength(entry), 0);
  if (value.L !== undefined) return 3 + value.L.reduce((sum, entry) => sum + 1 + valueBytes(entry), 0);
  if (value.M !== undefined) return 3 + Object.entries(value.M).reduce((sum, [name, entry]) => sum + 1 + Buffer.byteLength(name) + valueBytes(entry), 0);
  return 0;
}

/** One access log line as API Gateway writes it for a delivery, with typical values for each field. */
export function accessLogLineBytes(fields: Readonly<Record<string, string>>): number {
  const typical: Record<string, string> = {
    '$context.requestId': 'cZ3Nq0FmoAMEb0w=',
    '$context.requestTime': '01/Dec/2026:23:59:59 +0000',
    '$context.identity.sourceIp': '203.0.113.10',
    '$context.identity.userAgent': 'Svix-Webhooks/1.62.0 (sender-ABcd1234; +https://www.svix.com/http-sender/)',
    '$context.httpMethod': 'POST',
    '$context.path': '/webhooks/together',
    '$context.routeKey': 'ANY /webhooks/{provider}',
    '$context.status': '200',
    '$context.protocol': 'HTTP/1.1',
    '$context.responseLength': '64',
    '$context.responseLatency': '27',
    '$context.integrationStatus': '200',
    '$context.integrationLatency': '25',
    '$context.integrationErrorMessage': '-',
    '$context.awsEndpointRequestId': '0f6d2c9e-3b1a-4c5e-9d7f-2a8b6c4e1f3a',
  };
  const line = Object.fromEntries(Object.entries(fields).map(([name, variable]) => [name, typical[variable] ?? '-']));
  return Buffer.byteLength(JSON.stringify(line)) + 1;
}

/** The event record's size after each of its writes, and its time index item, bytes (bench/record-sizes.ts). */
export interface RecordBytes {
  readonly inProgress: number;
  readonly queued: number;
  readonly handling: number;
  readonly handled: number;
  readonly index: number;
  /**
   * The payload item, bytes, when the payload does not stay inline: written once beside the put,
   * and again by each refused duplicate (absent or 0: inline).
   */
  readonly payloadItem?: number;
}

/** One job's life on the jobs and job-history tables (bench/record-sizes.ts `jobGrowth`). */
export interface JobMeasure {
  readonly events: number;
  /** Write units of all its events' projection writes: its history items and its job item, each on the larger of the item before and after. */
  readonly writeUnits: number;
  /** Read units of the consistent reads before each merge (the job item, its history items by query). */
  readonly readUnits: number;
  /** What its last event leaves stored (job item and history items), the job item alone, and its index item, bytes. */
  readonly finalBytes: number;
  readonly itemBytes: number;
  readonly indexBytes: number;
  /** History items stored: one per checkpoint and per state the job left. */
  readonly historyItems: number;
}

/** What the benchmark measured that the model needs. */
export interface CostMeasurements {
  readonly receiverMemoryMb: number;
  readonly consumerMemoryMb: number;
  /** Receiver CPU per accepted delivery: its time minus the same calls alone (section 2), ms. */
  readonly receiverCpuMs: number;
  /** Consumer CPU per event: batch time minus its emulator calls, per event, ms. */
  readonly consumerCpuMsPerEvent: number;
  /** Module load of the deployed receiver bundle (section 4), ms. */
  readonly receiverInitMs: number;
  /** The record of a realistic delivery of each payload size, and its queue message bytes. */
  readonly atPayload: ReadonlyMap<number, { readonly record: RecordBytes; readonly messageBytes: number; readonly sample: string }>;
  /** A fine-tune job's reads and writes of the jobs table over its life. */
  readonly job: JobMeasure;
  /** Receiver log bytes per accepted delivery (its INFO line and its metric line, with the Lambda context). */
  readonly receiverLogBytes: number;
  /** Consumer log bytes per event, as written now. */
  readonly consumerLogBytesPerEvent: number;
  /** The deployed consumer's metric line per batch (`Handled`, the batch's sum, embedded metric format). */
  readonly consumerMetricLineBytes: number;
  /** The consumer's `event handled` line, which was INFO before. */
  readonly consumerHandledLineBytes: number;
  /** One API Gateway access log line. */
  readonly accessLogBytes: number;
}

/** How DynamoDB's requests are paid for. */
export type Capacity = 'onDemand' | 'provisioned' | 'reserved';

/** One configuration the model prices. */
export interface CostScenario {
  readonly deliveriesPerMonth: number;
  readonly payloadBytes: number;
  readonly endpoint: 'httpApi' | 'functionUrl';
  /** Lambda's START/END/REPORT lines: WARN (dropped) as deployed, INFO as before. */
  readonly platformLines: 'WARN' | 'INFO';
  /** The consumer's `event handled` line: DEBUG as deployed, INFO as before. */
  readonly handledLine: 'DEBUG' | 'INFO';
  /** X-Ray active tracing (the `tracing` prop, on by default). */
  readonly tracing: boolean;
  /** On-demand (as deployed) unless said. */
  readonly capacity?: Capacity;
}

export interface CostLine {
  readonly item: string;
  readonly arithmetic: string;
  readonly usdPerMillion: number;
}

export interface CostTable {
  readonly scenario: CostScenario;
  readonly name: string;
  readonly batchFill: number;
  /** The record as stored (handled), bytes. */
  readonly itemBytes: number;
  /** Write units of the put, the queued mark, the claim and the handled mark. */
  readonly writeUnits: readonly number[];
  readonly lines: CostLine[];
  readonly totalUsdPerMillion: number;
}

const M = 1_000_000;
const HOURS_PER_YEAR = 8_760;

/** Events per consumer batch: a batch opens with its first message and gathers for the window. */
export function batchFill(deliveriesPerMonth: number): number {
  const A = ASSUMPTIONS;
  const perRouteRate = deliveriesPerMonth / A.secondsPerMonth / A.routesSharingTheLoad;
  return Math.min(A.batchSize, 1 + perRouteRate * A.batchingWindowSeconds);
}

/** The share of a function's invocations X-Ray's default rule samples at an even rate of `perSecond`. */
export function sampledShare(perSecond: number): number {
  const A = ASSUMPTIONS;
  const sampled = Math.min(perSecond, A.xrayReservoirPerSecond) + A.xrayRate * Math.max(0, perSecond - A.xrayReservoirPerSecond);
  return sampled / perSecond;
}

/** The share of deliveries X-Ray's default rule samples at the receiver. */
export function tracedShare(deliveriesPerMonth: number): number {
  return sampledShare(deliveriesPerMonth / ASSUMPTIONS.secondsPerMonth);
}

/** USD per million write and read units, with how each was reached. */
export function unitPrices(capacity: Capacity): { write: number; read: number; text: string } {
  const P = PRICES_USD;
  const u = ASSUMPTIONS.provisionedUtilisation;
  // A unit-hour serves 3,600 units at full use; at utilisation u, 3,600 × u.
  const perMillion = (hourly: number) => (M / (3_600 * u)) * hourly;
  if (capacity === 'onDemand') {
    return { write: P.dynamodbPerMillionWriteUnits, read: P.dynamodbPerMillionReadUnits, text: `on-demand $${P.dynamodbPerMillionWriteUnits}/M WRU, $${P.dynamodbPerMillionReadUnits}/M RRU` };
  }
  if (capacity === 'provisioned') {
    const write = perMillion(P.dynamodbProvisionedPerWcuHour);
    const read = perMillion(P.dynamodbProvisionedPerRcuHour);
    return { write, read, text: `provisioned at ${u * 100} % use: $${P.dynamodbProvisionedPerWcuHour}/WCU-h ÷ (3600 × ${u}) = $${write.toFixed(4)}/M WRU, $${read.toFixed(4)}/M RRU` };
  }
  const wcuHour = (P.dynamodbReserved100WcuUpfront / HOURS_PER_YEAR + P.dynamodbReserved100WcuHourly) / 100;
  const rcuHour = (P.dynamodbReserved100RcuUpfront / HOURS_PER_YEAR + P.dynamodbReserved100RcuHourly) / 100;
  const write = perMillion(wcuHour);
  const read = perMillion(rcuHour);
  return { write, read, text: `reserved 1 year at ${u * 100} % use: ($${P.dynamodbReserved100WcuUpfront} ÷ ${HOURS_PER_YEAR} h + $${P.dynamodbReserved100WcuHourly}) ÷ 100 = $${wcuHour.toFixed(6)}/WCU-h → $${write.toFixed(4)}/M WRU, $${read.toFixed(4)}/M RRU` };
}
