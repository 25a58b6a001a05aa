import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderName } from '../../functions/core/event';
import { PROVIDERS } from '../../functions/core/providers';
import { CONSUMER_LEASE_SECONDS } from '../../functions/consumers/config';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { formatReport, runSoak, type SoakReport } from '../../bench/soak';

/**
 * A short soak in one process: the local runtime (receiver over HTTP, consumers on the queue
 * pollers) takes 500 events with 20% resends and the hostile extras of --faults from 16
 * concurrent senders, and every event must end handled exactly once with no dead letters.
 * 500 keep all 16 senders busy through the run for about 20 s of CPU, most of it the emulators';
 * volume is the long soak's (`npm run soak`).
 */

const EVENTS = 500;
/**
 * Longer than the consumer's lease, as in the stack (180 s): a record whose attempt failed under
 * load comes back once its lease is over, so the retry is taken rather than refused, and no
 * event reaches the dead-letter queue just because the machine was slow.
 */
const VISIBILITY_SECONDS = CONSUMER_LEASE_SECONDS + 15;
let runtime: LocalRuntime;
let report: SoakReport;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    env: { LOCAL_VISIBILITY_TIMEOUT_SECONDS: String(VISIBILITY_SECONDS) },
    port: 0,
    dynamodbPort: 0,
    sqsPort: 0,
    logger: new Logger({ serviceName: 'soak', logLevel: 'SILENT' }),
  });
  report = await runSoak({
    url: runtime.url,
    events: EVENTS,
    duplicateRate: 0.2,
    concurrency: 16,
    faults: true,
    // Given up only after a redelivery's wait and a minute more without progress: load makes the
    // drain slower, never a failure.
    drainTimeoutMs: (VISIBILITY_SECONDS + 60) * 1000,
    secrets: Object.fromEntries(Object.values(PROVIDERS).map((provider) => [provider.name, provider.developmentSecret])) as Record<ProviderName, string>,
    store: {
      documents: runtime.clients.documents,
      sqs: runtime.clients.sqs,
      eventsTable: runtime.resources.eventsTable,
      queues: runtime.resources.queues,
      alertsQueueUrl: runtime.resources.alertsQueueUrl,
    },
  });
  // Only a stalled run reaches this; a loaded machine's slower run stays far inside it.
}, 900_000);

afterAll(async () => {
  await runtime?.stop();
});

describe(`soak of ${EVENTS} events through the local runtime`, () => {
  it('acknowledges every event, accepts none twice, and answers resends as duplicates', () => {
    expect({ acknowledged: report.acknowledged, acceptedTwice: report.acceptedTwice }, formatReport(report)).toEqual({ acknowledged: EVENTS, acceptedTwice: 0 });
    // A sender that abandoned an accepted request sees its retry answered as a duplicate instead.
    expect(report.accepted + report.duplicates).toBeGreaterThanOrEqual(EVENTS + Math.round(EVENTS * 0.2));
  });

  it('loses no event and handles none twice', () => {
    expect({ lost: report.lost, handledTwice: report.handledTwice, alertsMissing: report.alertsMissing, drained: report.drained }, formatReport(report)).toEqual({
      lost: 0,
      handledTwice: 0,
      alertsMissing: 0,
      drained: true,
    });
  });

  it('leaves every dead-letter queue empty', () => {
    expect(report.dlqDepth, formatReport(report)).toBe(0);
  });

  it('answers forged and malformed deliveries as the contract says and stores none of them', () => {
    expect(report.rejectedAsExpected).toBeGreaterThan(0);
    expect({ unexpected: report.unexpected, badStored: report.badStored }, formatReport(report)).toEqual({ unexpected: 0, badStored: 0 });
  });
});
