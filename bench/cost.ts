import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { round } from './stats';

/**
 * AWS list prices, us-east-1, as published on 2026-11-25 (on-demand, no free tier, no savings
 * plans). Change them here; every figure of the cost tables is derived from these.
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
  /** Lease, queuedAt, handledAt, attempts and the consumer's lease: bytes the record gains over its life. */
  recordGrowthBytes: 120,
  /** The jobs projection item of a fine-tune job, written once per event (small: 1 write unit). */
  jobsWriteUnitsPerEvent: 1,
  /** The time index item: keys and two short attributes, 1 write unit, written by the put only. */
  indexWriteUnitsPerEvent: 1,
  /** The consumer's consistent read of the job's projection item before it updates it (under 4 KB: 1 read unit). */
  jobsReadUnitsPerEvent: 1,
  /** Consumer writes per event after its claim: the jobs projection, then the handled mark. */
  consumerSequentialWrites: 3,
  /**
   * X-Ray's default sampling rule, which active tracing in Lambda applies: the first request each
   * second, then 5 % of the rest. A sampled delivery is one trace, its consumer's segments included
   * (they join it through the message's trace header).
   */
  xrayReservoirPerSecond: 1,
  xrayRate: 0.05,
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
  /** Stored record and queue message bytes at each payload size. */
  readonly atPayload: ReadonlyMap<number, { readonly itemBytes: number; readonly messageBytes: number }>;
  /** Receiver log bytes per accepted delivery (its INFO line and its metric line, with the Lambda context). */
  readonly receiverLogBytes: number;
  /** Consumer log bytes per event, as written now. */
  readonly consumerLogBytesPerEvent: number;
  /** The consumer's `event handled` line, which was INFO before. */
  readonly consumerHandledLineBytes: number;
  /** One API Gateway access log line. */
  readonly accessLogBytes: number;
}

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
  readonly itemBytes: number;
  readonly writeUnitsPerWrite: number;
  readonly lines: CostLine[];
  readonly totalUsdPerMillion: number;
}

const M = 1_000_000;
const GB = 1024 ** 3;

/** Events per consumer batch: a batch opens with its first message and gathers for the window. */
export function batchFill(deliveriesPerMonth: number): number {
  const A = ASSUMPTIONS;
  const perRouteRate = deliveriesPerMonth / A.secondsPerMonth / A.routesSharingTheLoad;
  return Math.min(A.batchSize, 1 + perRouteRate * A.batchingWindowSeconds);
}

/** The share of deliveries X-Ray's default rule samples at an even arrival rate. */
export function tracedShare(deliveriesPerMonth: number): number {
  const A = ASSUMPTIONS;
  const perSecond = deliveriesPerMonth / A.secondsPerMonth;
  const sampled = Math.min(perSecond, A.xrayReservoirPerSecond) + A.xrayRate * Math.max(0, perSecond - A.xrayReservoirPerSecond);
  return sampled / perSecond;
}

/** List-price cost of one million accepted deliveries in one configuration, every line with its arithmetic. */
export function costTable(name: string, scenario: CostScenario, measured: CostMeasurements): CostTable {
  const P = PRICES_USD;
  const A = ASSUMPTIONS;
  const R = AWS_ROUND_TRIPS_MS;
  const lines: CostLine[] = [];
  const add = (item: string, arithmetic: string, usdPerMillion: number) => lines.push({ item, arithmetic, usdPerMillion: round(usdPerMillion, 4) });
  const payload = measured.atPayload.get(scenario.payloadBytes);
  if (payload === undefined) throw new Error(`no stored record measured at ${scenario.payloadBytes} B`);
  const fill = batchFill(scenario.deliveriesPerMonth);
  const fillText = fill.toFixed(2);
  const millions = scenario.deliveriesPerMonth / M;

  if (scenario.endpoint === 'httpApi') {
    add('API Gateway HTTP API', `1 request (≤ 512 KB) × $${P.httpApiPerMillionRequests}/M`, P.httpApiPerMillionRequests);
  } else {
    add('Lambda function URL', 'no charge of its own', P.functionUrlPerMillionRequests);
  }

  const receiverGb = measured.receiverMemoryMb / 1024;
  const receiverMs = Math.ceil(measured.receiverCpuMs + 2 * R.dynamodbWrite + R.sqsSend);
  add(
    'Receiver duration',
    `1M × ${receiverMs} ms (${measured.receiverCpuMs.toFixed(2)} ms CPU measured + put ${R.dynamodbWrite} + send ${R.sqsSend} + mark ${R.dynamodbWrite} ms stated, billed per ms) × ${receiverGb} GB × $${P.lambdaArmPerGbSecond}/GB-s`,
    ((M * receiverMs) / 1000) * receiverGb * P.lambdaArmPerGbSecond,
  );
  const concurrency = (scenario.deliveriesPerMonth / A.secondsPerMonth) * (receiverMs / 1000);
  const environments = Math.ceil(concurrency) + 1;
  const coldStartsPerMillion = (environments * ((A.secondsPerMonth / 3600) / A.environmentLifetimeHours)) / millions;
  const initMs = Math.ceil(measured.receiverInitMs);
  add(
    'Receiver init',
    `${coldStartsPerMillion.toFixed(1)} cold starts/M (${environments} environments × one every ${A.environmentLifetimeHours} h ÷ ${millions} M) × ${initMs} ms × ${receiverGb} GB × $${P.lambdaArmPerGbSecond}/GB-s`,
    ((coldStartsPerMillion * initMs) / 1000) * receiverGb * P.lambdaArmPerGbSecond,
  );
  add(
    'Lambda requests',
    `(1 receiver + 1/${fillText} consumer batch) × $${P.lambdaPerMillionRequests}/M`,
    (1 + 1 / fill) * P.lambdaPerMillionRequests,
  );
  const consumerGb = measured.consumerMemoryMb / 1024;
  // Records of a batch run in parallel, so the writes of a batch overlap; the CPU adds up.
  const batchMs = Math.ceil(A.consumerSequentialWrites * R.dynamodbWrite + fill * measured.consumerCpuMsPerEvent);
  add(
    'Consumer duration',
    `1M/${fillText} batches × ${batchMs} ms (${A.consumerSequentialWrites} writes × ${R.dynamodbWrite} ms stated, records in parallel, + ${fillText} × ${measured.consumerCpuMsPerEvent.toFixed(2)} ms CPU measured) × ${consumerGb} GB × $${P.lambdaArmPerGbSecond}/GB-s`,
    (((M / fill) * batchMs) / 1000) * consumerGb * P.lambdaArmPerGbSecond,
  );

  const itemBytes = payload.itemBytes + A.recordGrowthBytes;
  const wru = Math.ceil(itemBytes / 1024);
  const eventWrites = 4;
  add(
    'DynamoDB events table',
    `(${eventWrites} writes (put, mark queued, claim, mark handled) × ${wru} WRU (${itemBytes} B item at ${scenario.payloadBytes} B payload) + ${A.indexWriteUnitsPerEvent} time-index WRU) × $${P.dynamodbPerMillionWriteUnits}/M`,
    (eventWrites * wru + A.indexWriteUnitsPerEvent) * P.dynamodbPerMillionWriteUnits,
  );
  add(
    'DynamoDB jobs table',
    `${A.jobsWriteUnitsPerEvent} WRU × $${P.dynamodbPerMillionWriteUnits}/M + ${A.jobsReadUnitsPerEvent} consistent read × $${P.dynamodbPerMillionReadUnits}/M`,
    A.jobsWriteUnitsPerEvent * P.dynamodbPerMillionWriteUnits + A.jobsReadUnitsPerEvent * P.dynamodbPerMillionReadUnits,
  );

  const chunks = Math.max(1, Math.ceil(payload.messageBytes / 65_536));
  add(
    'SQS',
    `(${chunks} send (${payload.messageBytes} B) + 2/${fillText} (receive and delete per batch)) × $${P.sqsPerMillionRequests}/M`,
    (chunks + 2 / fill) * P.sqsPerMillionRequests,
  );

  const refreshesPerEnvironment = A.secondsPerMonth / A.secretCacheSeconds;
  const secretCalls = (environments * refreshesPerEnvironment * A.providersSending) / millions + coldStartsPerMillion * A.providersReadAtInit;
  add(
    'Secrets Manager',
    `(${environments} environments × ${refreshesPerEnvironment} refreshes × ${A.providersSending} provider ÷ ${millions} M + ${coldStartsPerMillion.toFixed(1)} cold starts × ${A.providersReadAtInit}) = ${Math.round(secretCalls)} calls/M × $${P.secretsManagerPer10kCalls}/10k`,
    (secretCalls / 10_000) * P.secretsManagerPer10kCalls,
  );

  const platform = scenario.platformLines === 'INFO' ? A.platformLogBytesPerInvocation * (1 + 1 / fill) : 0;
  const handled = scenario.handledLine === 'INFO' ? measured.consumerHandledLineBytes : 0;
  const access = scenario.endpoint === 'httpApi' ? measured.accessLogBytes : 0;
  const logBytes = measured.receiverLogBytes + measured.consumerLogBytesPerEvent + handled + platform + access;
  add(
    'CloudWatch Logs',
    `1M × ${Math.round(logBytes)} B (receiver ${measured.receiverLogBytes} + consumer ${measured.consumerLogBytesPerEvent + handled} measured + platform ${Math.round(platform)} + access log ${access}) × $${P.logsPerGbIngested}/GB`,
    ((M * logBytes) / GB) * P.logsPerGbIngested,
  );

  if (scenario.tracing) {
    const share = tracedShare(scenario.deliveriesPerMonth);
    const perSecond = scenario.deliveriesPerMonth / A.secondsPerMonth;
    add(
      'X-Ray',
      `${(share * 100).toFixed(1)} % of deliveries traced (${A.xrayReservoirPerSecond}/s + ${A.xrayRate * 100} % of the rest at ${perSecond.toFixed(2)}/s) × 1 trace × $${P.xrayPerMillionTracesRecorded}/M recorded`,
      share * P.xrayPerMillionTracesRecorded,
    );
  } else {
    add('X-Ray', 'tracing: false, no traces', 0);
  }

  const total = lines.reduce((sum, line) => sum + line.usdPerMillion, 0);
  return { scenario, name, batchFill: round(fill, 2), itemBytes, writeUnitsPerWrite: wru, lines, totalUsdPerMillion: round(total, 3) };
}

/** Monthly costs that do not scale with deliveries, for the record. */
export const FIXED_MONTHLY = [
  'Secrets Manager storage: $0.40 per secret per month (one per provider: 4 × $0.40)',
  'SQS: Lambda event source mappings long-poll each route queue while idle (about 5 pollers × 3 empty receives a minute ≈ 0.65 M requests ≈ $0.26 per queue per month)',
  'DynamoDB storage ($0.25/GB-month) and point-in-time recovery ($0.20/GB-month) for the retained records and the time index',
] as const;

export function describeCost(table: CostTable): string[] {
  return [
    ...table.lines.map((line) => `  ${line.item.padEnd(24)} ${`$${line.usdPerMillion.toFixed(4)}`.padStart(9)}  ${line.arithmetic}`),
    `  ${'total per million'.padEnd(24)} ${`$${table.totalUsdPerMillion.toFixed(3)}`.padStart(9)}`,
  ];
}
