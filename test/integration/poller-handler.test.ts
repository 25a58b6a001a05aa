import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PollSummary } from '../../functions/poller/poll';
import { failedFineTuneScript, startFakeTogether, type FakeTogether } from '../../local/fake-together';
import { createPollerTable, queueUrlMap } from '../../local/resources';
import { startEmulated, type Emulated } from '../support/emulated';

const POLLER_TABLE_NAME = 'together-poller-handler';
const context = { functionName: 'together-poller', awsRequestId: 'req-1' } as Context;

let env: Emulated;
let fake: FakeTogether;
beforeAll(async () => {
  env = await startEmulated();
  await createPollerTable(env.clients.dynamodb, POLLER_TABLE_NAME);
  fake = await startFakeTogether();
});
afterAll(async () => {
  await fake?.stop();
  await env?.stop();
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  vi.resetModules();
});

/** The Lambda's environment, with the SDK pointed at the emulators through its standard variables. */
function stubLambdaEnv(): void {
  const variables: Record<string, string> = {
    TABLE_NAME: env.resources.eventsTable,
    QUEUE_URLS: JSON.stringify(queueUrlMap(env.resources)),
    POLLER_TABLE_NAME,
    TOGETHER_API_BASE_URL: fake.url,
    TOGETHER_API_KEY: fake.apiKey,
    AWS_ENDPOINT_URL_DYNAMODB: env.emulators.dynamodbEndpoint,
    AWS_ENDPOINT_URL_SQS: env.emulators.sqsEndpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    POWERTOOLS_METRICS_DISABLED: 'false',
    // Metrics go to the global console, where the test reads them.
    POWERTOOLS_DEV: 'true',
  };
  for (const [name, value] of Object.entries(variables)) vi.stubEnv(name, value);
  // Without an endpoint set in code the SDK sends to each queue URL's own host, and fauxqs's
  // `sqs.{region}.localhost` does not resolve here: route the handler's SQS calls through the
  // test's client, which has the emulator's endpoint.
  const send = SQSClient.prototype.send;
  vi.spyOn(SQSClient.prototype, 'send').mockImplementation(function (this: SQSClient, ...args: Parameters<SQSClient['send']>) {
    return send.apply(env.clients.sqs, args);
  } as SQSClient['send']);
}

describe('poller Lambda handler', () => {
  it('polls on a scheduled invocation and publishes Observed, Accepted, Duplicate and ApiErrors for together', async () => {
    fake.addJob('ft-handler', failedFineTuneScript('disk full'));
    fake.finish();
    stubLambdaEnv();
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void printed.push(String(line)));
    const { handler } = await import('../../functions/poller/handler');

    const summary: PollSummary = await handler({ source: 'aws.scheduler' }, context);

    expect(summary).toMatchObject({ observed: 2, accepted: 2, duplicate: 0, apiErrors: 0 });
    const emf = printed.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => '_aws' in line);
    expect(emf).toMatchObject({ provider: 'together', Observed: 2, Accepted: 2, Duplicate: 0, ApiErrors: 0 });
    const drained = await env.drainAll();
    expect(drained.get('fine_tune.failed')?.map((message) => JSON.parse(message.Body ?? '{}').subject)).toEqual(['ft-handler']);
  });

  it('publishes FailingJobs: the jobs whose events cannot be accepted, for the poller failures alarm', async () => {
    fake.addJob('ft-handler-huge', failedFineTuneScript('x'.repeat(400_000)));
    fake.finish();
    stubLambdaEnv();
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void printed.push(String(line)));
    const { handler } = await import('../../functions/poller/handler');

    const summary: PollSummary = await handler({ source: 'aws.scheduler' }, context);

    expect(summary).toMatchObject({ failed: 1, failing: 1 });
    const emf = printed.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => '_aws' in line);
    expect(emf).toMatchObject({ provider: 'together', FailingJobs: 1 });
    await env.drainAll();
  });

  it('fails at start naming POLLER_TABLE_NAME when it is not set', async () => {
    stubLambdaEnv();
    vi.stubEnv('POLLER_TABLE_NAME', '');

    await expect(import('../../functions/poller/handler')).rejects.toThrow(/POLLER_TABLE_NAME is required/);
  });
});
