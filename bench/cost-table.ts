/**
 * The cost model's tables: every line a quantity × a unit price from `bench/cost.ts`, with the
 * arithmetic written out, so that the docs show how each figure is reached.
 */
import { round } from './stats';
import {
  ASSUMPTIONS,
  AWS_ROUND_TRIPS_MS,
  batchFill,
  PRICES_USD,
  sampledShare,
  unitPrices,
  type CostLine,
  type CostMeasurements,
  type CostScenario,
  type CostTable,
} from './cost';

const M = 1_000_000;
const GB = 1024 ** 3;

/** Write units of a write billed on the larger of the item before and after (a put on a new item: its own size). */
const wru = (...bytes: number[]) => Math.max(1, Math.ceil(Math.max(...bytes) / 1024));

function lineList() {
  const lines: CostLine[] = [];
  const add = (item: string, arithmetic: string, usdPerMillion: number) => lines.push({ item, arithmetic, usdPerMillion: round(usdPerMillion, 4) });
  const total = () => round(lines.reduce((sum, line) => sum + line.usdPerMillion, 0), 3);
  return { lines, add, total };
}

function measuredAt(measured: CostMeasurements, payloadBytes: number) {
  const payload = measured.atPayload.get(payloadBytes);
  if (payload === undefined) throw new Error(`no stored record measured at ${payloadBytes} B`);
  return payload;
}

/** List-price cost of one million accepted deliveries in one configuration, every line with its arithmetic. */
export function costTable(name: string, scenario: CostScenario, measured: CostMeasurements): CostTable {
  const P = PRICES_USD;
  const A = ASSUMPTIONS;
  const R = AWS_ROUND_TRIPS_MS;
  const { lines, add, total } = lineList();
  const payload = measuredAt(measured, scenario.payloadBytes);
  const record = payload.record;
  const fill = batchFill(scenario.deliveriesPerMonth);
  const fillText = fill.toFixed(2);
  const millions = scenario.deliveriesPerMonth / M;
  const units = unitPrices(scenario.capacity ?? 'onDemand');

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
  const coldStartsPerMillion = (environments * (A.secondsPerMonth / 3600 / A.environmentLifetimeHours)) / millions;
  const initMs = Math.ceil(measured.receiverInitMs);
  add(
    'Receiver init',
    `${coldStartsPerMillion.toFixed(1)} cold starts/M (${environments} environments × one every ${A.environmentLifetimeHours} h ÷ ${millions} M) × ${initMs} ms × ${receiverGb} GB × $${P.lambdaArmPerGbSecond}/GB-s`,
    ((coldStartsPerMillion * initMs) / 1000) * receiverGb * P.lambdaArmPerGbSecond,
  );
  add('Lambda requests', `(1 receiver + 1/${fillText} consumer batch) × $${P.lambdaPerMillionRequests}/M`, (1 + 1 / fill) * P.lambdaPerMillionRequests);
  const consumerGb = measured.consumerMemoryMb / 1024;
  // Records of a batch run in parallel, so the writes of a batch overlap; the CPU adds up.
  const batchMs = Math.ceil(A.consumerSequentialWrites * R.dynamodbWrite + fill * measured.consumerCpuMsPerEvent);
  add(
    'Consumer duration',
    `1M/${fillText} batches × ${batchMs} ms (${A.consumerSequentialWrites} writes × ${R.dynamodbWrite} ms stated, records in parallel, + ${fillText} × ${measured.consumerCpuMsPerEvent.toFixed(2)} ms CPU measured) × ${consumerGb} GB × $${P.lambdaArmPerGbSecond}/GB-s`,
    (((M / fill) * batchMs) / 1000) * consumerGb * P.lambdaArmPerGbSecond,
  );

  const writes = [wru(record.inProgress), wru(record.inProgress, record.queued), wru(record.queued, record.handling), wru(record.handling, record.handled)];
  const indexUnits = wru(record.index);
  const payloadItem = record.payloadItem ?? 0;
  const payloadUnits = payloadItem > 0 ? wru(payloadItem) : 0;
  const eventUnits = writes.reduce((sum, value) => sum + value, 0) + indexUnits + payloadUnits;
  add(
    'DynamoDB events table',
    `(${payloadUnits > 0 ? `payload item ${payloadUnits} (${payloadItem} B) + ` : ''}put ${writes[0]} (${record.inProgress} B) + queued ${writes[1]} (${record.queued} B) + claim ${writes[2]} (${record.handling} B) + handled ${writes[3]} (${record.handled} B) + time index ${indexUnits} (${record.index} B)) = ${eventUnits} WRU × $${units.write.toFixed(4)}/M`,
    eventUnits * units.write,
  );
  const job = measured.job;
  const jobWrites = (job.writeUnits + wru(job.indexBytes)) / job.events;
  const jobReads = job.readUnits / job.events;
  add(
    'DynamoDB jobs table',
    `(${job.writeUnits} WRU: one history item per checkpoint and state left, the ${job.itemBytes} B job item when its latest state changes + ${wru(job.indexBytes)} index WRU for the new job) ÷ ${job.events} events = ${jobWrites.toFixed(2)} WRU × $${units.write.toFixed(4)}/M + ${jobReads.toFixed(2)} consistent RRU × $${units.read.toFixed(4)}/M`,
    jobWrites * units.write + jobReads * units.read,
  );
  const overhead = A.storageOverheadBytesPerItem;
  const lifetimeDays = A.recordRetentionDays + A.ttlDeletionLagDays;
  const storedBytes = record.handled + overhead + record.index + overhead + (payloadItem > 0 ? payloadItem + overhead : 0);
  const gbMonths = ((M * storedBytes) / GB) * (lifetimeDays / 30);
  const perGbMonth = P.dynamodbStoragePerGbMonth + P.dynamodbPitrPerGbMonth;
  add(
    'DynamoDB storage + PITR, events',
    `1M × ${storedBytes} B (record ${record.handled} + index ${record.index}${payloadItem > 0 ? ` + payload item ${payloadItem}` : ''} + ${payloadItem > 0 ? 3 : 2} × ${overhead} overhead) × ${lifetimeDays}/30 month (${A.recordRetentionDays} days after the handled mark + ${A.ttlDeletionLagDays} of TTL delay) = ${gbMonths.toFixed(3)} GB-month × ($${P.dynamodbStoragePerGbMonth} + $${P.dynamodbPitrPerGbMonth} PITR)/GB-month`,
    gbMonths * perGbMonth,
  );
  const jobItems = 2 + job.historyItems;
  const jobBytes = (job.finalBytes + job.indexBytes + jobItems * overhead) / job.events;
  const jobGbMonths = (M * jobBytes) / GB;
  add(
    'DynamoDB storage + PITR, jobs',
    `1M × ${jobBytes.toFixed(0)} B ((${job.itemBytes} item + ${job.finalBytes - job.itemBytes} in ${job.historyItems} history items + ${job.indexBytes} index + ${jobItems} × ${overhead}) ÷ ${job.events} events) × 1 month = ${jobGbMonths.toFixed(3)} GB-month × $${perGbMonth.toFixed(2)}/GB-month (no TTL: again every month the items are kept)`,
    jobGbMonths * perGbMonth,
  );

  const chunks = Math.max(1, Math.ceil(payload.messageBytes / 65_536));
  add('SQS', `(${chunks} send (${payload.messageBytes} B) + 2/${fillText} (receive and delete per batch)) × $${P.sqsPerMillionRequests}/M`, (chunks + 2 / fill) * P.sqsPerMillionRequests);

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
  const consumerBytes = measured.consumerLogBytesPerEvent + handled;
  // One metric line a batch (of one provider's events, as a route's batches mostly are).
  const metricLine = measured.consumerMetricLineBytes / fill;
  const logBytes = measured.receiverLogBytes + consumerBytes + metricLine + platform + access;
  add(
    'CloudWatch Logs',
    `1M × ${Math.round(logBytes)} B (receiver ${measured.receiverLogBytes} + consumer ${consumerBytes} + consumer metric line ${measured.consumerMetricLineBytes} measured ÷ ${fillText} + platform ${Math.round(platform)} + access log ${access}) × $${P.logsPerGbIngested}/GB`,
    ((M * logBytes) / GB) * P.logsPerGbIngested,
  );

  if (scenario.tracing) {
    const perSecond = scenario.deliveriesPerMonth / A.secondsPerMonth;
    const receiverShare = sampledShare(perSecond);
    const consumerShare = sampledShare(perSecond / fill);
    const traces = receiverShare + consumerShare / fill;
    add(
      'X-Ray',
      `(receiver ${(receiverShare * 100).toFixed(1)} % of ${perSecond.toFixed(2)} deliveries/s + consumer ${(consumerShare * 100).toFixed(1)} % of ${(perSecond / fill).toFixed(2)} batches/s ÷ ${fillText}) = ${traces.toFixed(4)} traces × $${P.xrayPerMillionTracesRecorded}/M recorded (${A.xrayReservoirPerSecond}/s + ${A.xrayRate * 100} % of the rest, per function)`,
      traces * P.xrayPerMillionTracesRecorded,
    );
  } else {
    add('X-Ray', 'tracing: false, no traces', 0);
  }

  return { scenario, name, batchFill: round(fill, 2), itemBytes: record.handled, writeUnits: payloadUnits > 0 ? [payloadUnits, ...writes] : writes, lines, totalUsdPerMillion: total() };
}

/**
 * A million duplicate deliveries (the provider's retries of an event already accepted): the
 * gateway, the receiver's refused conditional put, its log line, its traces; no send, no consumer.
 * DynamoDB bills a refused put on the larger of the stored item and the one offered.
 */
export function duplicateTable(name: string, scenario: CostScenario, measured: CostMeasurements): CostTable {
  const P = PRICES_USD;
  const A = ASSUMPTIONS;
  const { lines, add, total } = lineList();
  const record = measuredAt(measured, scenario.payloadBytes).record;
  const units = unitPrices(scenario.capacity ?? 'onDemand');
  if (scenario.endpoint === 'httpApi') add('API Gateway HTTP API', `1 request × $${P.httpApiPerMillionRequests}/M`, P.httpApiPerMillionRequests);
  else add('Lambda function URL', 'no charge of its own', 0);
  const receiverGb = measured.receiverMemoryMb / 1024;
  const ms = Math.ceil(measured.receiverCpuMs + AWS_ROUND_TRIPS_MS.dynamodbWrite);
  add('Receiver duration', `1M × ${ms} ms (${measured.receiverCpuMs.toFixed(2)} ms CPU + the refused put ${AWS_ROUND_TRIPS_MS.dynamodbWrite} ms) × ${receiverGb} GB × $${P.lambdaArmPerGbSecond}/GB-s`, ((M * ms) / 1000) * receiverGb * P.lambdaArmPerGbSecond);
  add('Lambda requests', `1 receiver × $${P.lambdaPerMillionRequests}/M`, P.lambdaPerMillionRequests);
  const refused = wru(record.handled, record.inProgress);
  add('DynamoDB refused put', `${refused} WRU (stored ${record.handled} B, offered ${record.inProgress} B) × $${units.write.toFixed(4)}/M`, refused * units.write);
  // A payload kept apart is put beside the record's put, before the refusal is known.
  const payloadItem = record.payloadItem ?? 0;
  const payloadUnits = payloadItem > 0 ? wru(payloadItem) : 0;
  if (payloadUnits > 0) add('DynamoDB payload item put', `${payloadUnits} WRU (${payloadItem} B, the same bytes again) × $${units.write.toFixed(4)}/M`, payloadUnits * units.write);
  const access = scenario.endpoint === 'httpApi' ? measured.accessLogBytes : 0;
  const logBytes = measured.receiverLogBytes + access;
  add('CloudWatch Logs', `1M × ${logBytes} B (receiver ${measured.receiverLogBytes} + access log ${access}) × $${P.logsPerGbIngested}/GB`, ((M * logBytes) / GB) * P.logsPerGbIngested);
  const share = scenario.tracing ? sampledShare(scenario.deliveriesPerMonth / A.secondsPerMonth) : 0;
  add('X-Ray', scenario.tracing ? `${(share * 100).toFixed(1)} % traced × $${P.xrayPerMillionTracesRecorded}/M` : 'tracing: false, no traces', share * P.xrayPerMillionTracesRecorded);
  return { scenario, name, batchFill: 0, itemBytes: record.handled, writeUnits: payloadUnits > 0 ? [payloadUnits, refused] : [refused], lines, totalUsdPerMillion: total() };
}

/** Monthly costs that do not scale with deliveries, for the record. */
export const FIXED_MONTHLY = [
  'Secrets Manager storage: $0.40 per secret per month (one per provider: 4 × $0.40)',
  'SQS: Lambda event source mappings long-poll each route queue while idle (about 5 pollers × 3 empty receives a minute ≈ 0.65 M requests ≈ $0.26 per queue per month)',
  "DynamoDB: the first 25 GB of storage a month are free (the tables above price every byte); the jobs items have no TTL, so each month's jobs are stored again every month they are kept",
  'Not priced: the poller (its schedule, not the deliveries, sets its cost), the results bucket, alerts (SNS) and the optional event bus',
] as const;

export function describeCost(table: CostTable): string[] {
  return [
    ...table.lines.map((line) => `  ${line.item.padEnd(32)} ${`$${line.usdPerMillion.toFixed(4)}`.padStart(9)}  ${line.arithmetic}`),
    `  ${'total per million'.padEnd(32)} ${`$${table.totalUsdPerMillion.toFixed(3)}`.padStart(9)}`,
  ];
}
