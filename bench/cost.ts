import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { round } from './stats';

/**
 * AWS list prices, us-east-1, as published on 2026-11-25 (on-demand, no free tier, no savings
 * plans). Change them here; every figure of the cost table is derived from these.
 */
export const PRICES_USD = {
  asOf: '2026-11-25, us-east-1 list prices',
  /** API Gateway HTTP API, first 300 M requests a month (each 512 KB of a request counts as one). */
  httpApiPerMillionRequests: 1.0,
  /** Lambda on Arm (Graviton), first 7.5 B GB-s a month. Since 2025-08-01 the INIT phase is billed too. */
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  /** DynamoDB on-demand. A write unit covers 1 KB of item (the larger of before and after for an update). */
  dynamodbPerMillionWriteUnits: 0.625,
  dynamodbPerMillionReadUnits: 0.125,
  /** Standard queue; every 64 KB chunk of a request's payload is billed as one request. */
  sqsPerMillionRequests: 0.4,
  secretsManagerPer10kCalls: 0.05,
  /** CloudWatch Logs standard class ingestion. */
  logsPerGbIngested: 0.5,
} as const;

/**
 * What the cost model assumes beyond the measurements. Each is a stated guess, not a measurement.
 */
export const ASSUMPTIONS = {
  /** One million deliveries spread over a 30-day month (0.39 per second on average). */
  deliveriesPerMonth: 1_000_000,
  /**
   * New execution environments per million deliveries. At this rate one warm receiver serves
   * nearly everything and Lambda replaces it every hour or so; bursts add more.
   */
  coldStartsPerMillion: 1_000,
  /** Providers whose secret the receiver reads at init (all four enabled). */
  providersReadAtInit: 4,
  /** Providers actually sending, each refreshed once per cache period in each warm environment. */
  providersSending: 1,
  secretCacheSeconds: 300,
  /** START, END and REPORT lines Lambda writes per invocation, bytes. */
  platformLogBytesPerInvocation: 320,
  /**
   * Bytes the lease (receiver: leaseToken, leaseExpiresAt) and the consumer's bookkeeping
   * (handledAt, attempts, a consumer lease) add to the stored record over its life; write units
   * are charged on the larger of the before and after images.
   */
  recordGrowthBytes: 120,
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

export interface CostInputs {
  readonly receiverMemoryMb: number;
  readonly receiverMemorySource: string;
  /** Mean measured handler time per accepted delivery, ms. */
  readonly receiverDurationMs: number;
  /** Measured module load (init) of the receiver bundle, ms. */
  readonly receiverInitMs: number;
  readonly consumerMemoryMb: number;
  /** Mean measured time of one consumer batch, ms. */
  readonly consumerBatchMs: number;
  readonly batchSize: number;
  /** The stored event record, as read back after the receiver marked it queued. */
  readonly storedRecord: Readonly<Record<string, AttributeValue>>;
  /** Bytes of the queue message (body and attributes). */
  readonly messageBytes: number;
  /** Events-table and jobs-table writes per event: receiver and consumer, as counted. */
  readonly eventsTableWritesPerEvent: number;
  readonly otherTableWritesPerEvent: number;
  /**
   * Writes to the events table's time index per event. It projects only attributes that never
   * change (EVENTS_TABLE.byTimeIndex), so the receiver's put writes it and the status updates do
   * not: DynamoDB writes an index only when its keys or projected attributes change.
   */
  readonly indexWritesPerEvent: number;
  readonly receiverLogBytesPerDelivery: number;
  readonly consumerLogBytesPerEvent: number;
}

export interface CostLine {
  readonly item: string;
  readonly arithmetic: string;
  readonly usdPerMillion: number;
}

export interface CostResult {
  readonly prices: typeof PRICES_USD;
  readonly assumptions: typeof ASSUMPTIONS;
  readonly itemBytes: number;
  readonly writeUnitsPerWrite: number;
  readonly lines: CostLine[];
  readonly totalUsdPerMillion: number;
  /** What one more duplicate delivery costs, per million duplicates. */
  readonly duplicateUsdPerMillion: number;
  /** Monthly costs that do not scale with deliveries, for the record. */
  readonly fixedMonthly: string[];
}

const M = 1_000_000;
const usd = (value: number) => `$${value.toFixed(4)}`;

/** Section 6: list-price cost of one million accepted deliveries, every line with its arithmetic. */
export function costPerMillion(inputs: CostInputs): CostResult {
  const P = PRICES_USD;
  const A = ASSUMPTIONS;
  const lines: CostLine[] = [];
  const add = (item: string, arithmetic: string, usdPerMillion: number) => lines.push({ item, arithmetic, usdPerMillion: round(usdPerMillion, 4) });

  add('API Gateway HTTP API', `1 request × $${P.httpApiPerMillionRequests}/M`, P.httpApiPerMillionRequests);

  const receiverGb = inputs.receiverMemoryMb / 1024;
  const billedMs = Math.ceil(inputs.receiverDurationMs);
  const receiverCompute = (M * billedMs) / 1000 * receiverGb * P.lambdaArmPerGbSecond;
  add(
    'Receiver Lambda duration',
    `1M × ${billedMs} ms (measured ${inputs.receiverDurationMs.toFixed(2)}, billed per ms) × ${receiverGb} GB (${inputs.receiverMemorySource}) × $${P.lambdaArmPerGbSecond}/GB-s`,
    receiverCompute,
  );
  const initCompute = (A.coldStartsPerMillion * Math.ceil(inputs.receiverInitMs)) / 1000 * receiverGb * P.lambdaArmPerGbSecond;
  add('Receiver Lambda init', `${A.coldStartsPerMillion} cold starts × ${Math.ceil(inputs.receiverInitMs)} ms × ${receiverGb} GB × $${P.lambdaArmPerGbSecond}/GB-s`, initCompute);
  const consumerInvocations = M / inputs.batchSize;
  add('Lambda requests', `(1M receiver + ${consumerInvocations / 1000}k consumer batches of ${inputs.batchSize}) × $${P.lambdaPerMillionRequests}/M`, ((M + consumerInvocations) / M) * P.lambdaPerMillionRequests);
  const consumerGb = inputs.consumerMemoryMb / 1024;
  const consumerBilledMs = Math.ceil(inputs.consumerBatchMs);
  add(
    'Consumer Lambda duration',
    `${consumerInvocations / 1000}k batches × ${consumerBilledMs} ms (measured) × ${consumerGb} GB × $${P.lambdaArmPerGbSecond}/GB-s`,
    ((consumerInvocations * consumerBilledMs) / 1000) * consumerGb * P.lambdaArmPerGbSecond,
  );

  const itemBytes = dynamoItemBytes(inputs.storedRecord) + A.recordGrowthBytes;
  const writeUnitsPerWrite = Math.ceil(itemBytes / 1024);
  // The index item holds the keys and five short attributes: well under 1 KB, so 1 WRU a write.
  const eventsUnits = inputs.eventsTableWritesPerEvent * writeUnitsPerWrite + inputs.indexWritesPerEvent;
  add(
    'DynamoDB events table writes',
    `(${inputs.eventsTableWritesPerEvent} writes (receiver put + mark queued, consumer claim + mark handled) × ${writeUnitsPerWrite} WRU (${itemBytes} B item) + ${inputs.indexWritesPerEvent} time-index write × 1 WRU) × $${P.dynamodbPerMillionWriteUnits}/M`,
    eventsUnits * P.dynamodbPerMillionWriteUnits,
  );
  add('DynamoDB jobs table writes', `${inputs.otherTableWritesPerEvent} write × 1 WRU × $${P.dynamodbPerMillionWriteUnits}/M`, inputs.otherTableWritesPerEvent * P.dynamodbPerMillionWriteUnits);

  const chunks = Math.max(1, Math.ceil(inputs.messageBytes / 65_536));
  const sqsRequests = chunks + 2 / inputs.batchSize;
  add('SQS', `(${chunks} send + 1/${inputs.batchSize} receive + 1/${inputs.batchSize} delete batch) × $${P.sqsPerMillionRequests}/M`, sqsRequests * P.sqsPerMillionRequests);

  const refreshes = (30 * 86_400) / A.secretCacheSeconds;
  const secretCalls = refreshes * A.providersSending + A.coldStartsPerMillion * A.providersReadAtInit;
  add(
    'Secrets Manager',
    `(${refreshes} cache refreshes × ${A.providersSending} sending provider + ${A.coldStartsPerMillion} cold starts × ${A.providersReadAtInit} providers) = ${secretCalls} calls × $${P.secretsManagerPer10kCalls}/10k`,
    (secretCalls / 10_000) * P.secretsManagerPer10kCalls,
  );

  const logBytes =
    inputs.receiverLogBytesPerDelivery + A.platformLogBytesPerInvocation + inputs.consumerLogBytesPerEvent + A.platformLogBytesPerInvocation / inputs.batchSize;
  add(
    'CloudWatch Logs ingestion',
    `1M × ${Math.round(logBytes)} B (receiver ${inputs.receiverLogBytesPerDelivery} + consumer ${inputs.consumerLogBytesPerEvent} measured, + Lambda platform lines) × $${P.logsPerGbIngested}/GB`,
    ((M * logBytes) / 1024 ** 3) * P.logsPerGbIngested,
  );

  const total = lines.reduce((sum, line) => sum + line.usdPerMillion, 0);
  // A duplicate: gateway, a receiver invocation, one failed conditional put (write units of the item), its log line.
  const duplicate =
    P.httpApiPerMillionRequests +
    P.lambdaPerMillionRequests +
    (M * billedMs) / 1000 * receiverGb * P.lambdaArmPerGbSecond +
    writeUnitsPerWrite * P.dynamodbPerMillionWriteUnits +
    ((M * (inputs.receiverLogBytesPerDelivery + A.platformLogBytesPerInvocation)) / 1024 ** 3) * P.logsPerGbIngested;
  return {
    prices: P,
    assumptions: A,
    itemBytes,
    writeUnitsPerWrite,
    lines,
    totalUsdPerMillion: round(total, 3),
    duplicateUsdPerMillion: round(duplicate, 3),
    fixedMonthly: [
      `Secrets Manager storage: $0.40 per secret per month (one per provider: ${A.providersReadAtInit} × $0.40)`,
      'SQS: Lambda event source mappings long-poll each route queue while idle (about 5 pollers × 3 empty receives a minute ≈ 0.65 M requests ≈ $0.26 per queue per month)',
      'DynamoDB storage ($0.25/GB-month) and point-in-time recovery ($0.20/GB-month) for the retained records and the time index',
    ],
  };
}

export function describeCost(result: CostResult): string[] {
  return [
    ...result.lines.map((line) => `  ${line.item.padEnd(30)} ${usd(line.usdPerMillion).padStart(9)}  ${line.arithmetic}`),
    `  ${'total per million accepted'.padEnd(30)} ${usd(result.totalUsdPerMillion).padStart(9)}`,
  ];
}
