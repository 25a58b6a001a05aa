import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readEnabledProviders } from '../../functions/core/config';
import type { NormalizedEvent, ProviderName } from '../../functions/core/event';
import { LambdaLineFormatter, lambdaLogger } from '../../functions/core/log-format';
import type { AcceptResult } from '../../functions/core/accept';
import { createReceiver } from '../../functions/receiver/receive';
import { ACCESS_LOG_FIELDS } from '../../infra/constructs/receiver-endpoint';
import { buildDelivery } from '../../ops/deliveries';
import { deliveryEvent } from '../support/gateway';
import { TEST_SECRETS } from '../support/emulated';

const REQUEST_ID = '6f1c5a0e-8f3b-4c4e-9d7a-2b1e0c9d8f7a';

function lambdaContext(): Context {
  const name = 'WebhookReceiver-WebhooksReceiverFunction-AbCdEf123456';
  return {
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: '512',
    awsRequestId: REQUEST_ID,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: '2026/12/01/[$LATEST]0123456789abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The JSON lines a deployed receiver's logger writes, as Lambda would ship them. */
function capturedLines(): { lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const record = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  vi.spyOn(process.stdout, 'write').mockImplementation(record);
  vi.spyOn(process.stderr, 'write').mockImplementation(record);
  return { lines: () => chunks.join('').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>) };
}

function receiverLogging(accept: (event: NormalizedEvent) => Promise<AcceptResult>) {
  const logger = lambdaLogger('webhook-receiver');
  // The suite runs with POWERTOOLS_LOG_LEVEL=SILENT; deployed, the receiver logs at INFO.
  logger.setLogLevel('INFO');
  const receiver = createReceiver({
    providers: readEnabledProviders({}),
    getSecrets: async (provider: ProviderName) => TEST_SECRETS[provider],
    accept,
    maxBodyBytes: 262_144,
    retentionSeconds: 7 * 86_400,
    logger,
  });
  return { logger, receiver };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('[LEAN-RECEIVER] what the receiver logs per delivery', () => {
  it('[LEAN-RECEIVER] an accepted delivery is one line: outcome, key (with its provider), route and request id, nothing CloudWatch keeps beside it', async () => {
    const { lines } = capturedLines();
    const { logger, receiver } = receiverLogging(async (event) => ({ status: 'accepted', key: `${event.provider}#${event.id}` }));
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed' });

    logger.addContext(lambdaContext());
    await receiver(deliveryEvent(delivery));

    const [line, ...more] = lines();
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 'INFO', message: 'event accepted', function_request_id: REQUEST_ID, key: expect.stringMatching(/^together#/), route: 'fine_tune.completed' });
    expect(typeof line?.timestamp).toBe('string');
    for (const left of ['service', 'function_arn', 'function_name', 'function_memory_size', 'sampling_rate', 'status']) expect(line).not.toHaveProperty(left);
  });

  it('[LEAN-RECEIVER] cold_start is written on the first line of an execution environment only', () => {
    const formatter = new LambdaLineFormatter();
    const attributes = (coldStart: boolean) => ({
      logLevel: 'INFO' as const,
      message: 'event accepted',
      timestamp: new Date('2026-12-01T12:00:00.000Z'),
      serviceName: 'webhook-receiver',
      environment: '',
      awsRegion: 'us-east-1',
      sampleRateValue: 0,
      lambdaContext: { coldStart, awsRequestId: REQUEST_ID, functionName: 'f', functionVersion: '$LATEST', invokedFunctionArn: 'arn', memoryLimitInMB: '512' },
    });

    const first = formatter.formatAttributes(attributes(true), {}).getAttributes();
    const later = formatter.formatAttributes(attributes(false), {}).getAttributes();

    expect(first).toMatchObject({ cold_start: true, function_request_id: REQUEST_ID });
    expect(later).not.toHaveProperty('cold_start');
  });

  it('[RULE] a line logged outside an invocation (at start-up, before any context) is still written, without request id or cold start', () => {
    const { lines } = capturedLines();
    const logger = lambdaLogger('webhook-receiver');
    logger.setLogLevel('INFO');

    logger.info('configuration read', { providers: 2 });

    const [line] = lines();
    expect(line).toMatchObject({ level: 'INFO', message: 'configuration read', providers: 2 });
    expect(line).not.toHaveProperty('function_request_id');
    expect(line).not.toHaveProperty('cold_start');
  });

  it('[LEAN-RECEIVER] a duplicate names the state it was refused on', async () => {
    const { lines } = capturedLines();
    const { logger, receiver } = receiverLogging(async (event) => ({ status: 'duplicate', key: `${event.provider}#${event.id}`, state: 'handled' }));

    logger.addContext(lambdaContext());
    await receiver(deliveryEvent(buildDelivery({ provider: 'mythicdot', type: 'batch.completed' })));

    expect(lines()[0]).toMatchObject({ message: 'duplicate delivery', key: expect.stringMatching(/^mythicdot#/), state: 'handled', function_request_id: REQUEST_ID });
  });

  it('[LEAN-RECEIVER] an unexpected error keeps its detail: name, message and stack', async () => {
    const { lines } = capturedLines();
    const { logger, receiver } = receiverLogging(async () => {
      throw new TypeError('the accept broke');
    });

    logger.addContext(lambdaContext());
    const response = await receiver(deliveryEvent(buildDelivery({ provider: 'together', type: 'fine_tune.completed' })));

    expect(response.statusCode).toBe(500);
    const line = lines()[0];
    expect(line).toMatchObject({ level: 'ERROR', message: 'unexpected error', provider: 'together', function_request_id: REQUEST_ID, error: { name: 'TypeError', message: 'the accept broke' } });
    expect((line?.error as { stack?: string }).stack).toContain('TypeError: the accept broke');
  });

  it('[LEAN-RECEIVER] the access log line joins the function’s by its request id and leaves out what the log event and the route already say', () => {
    const variables = Object.values(ACCESS_LOG_FIELDS);

    expect(ACCESS_LOG_FIELDS).toMatchObject({ requestId: '$context.requestId', status: '$context.status', integrationRequestId: '$context.awsEndpointRequestId', integrationError: '$context.integrationErrorMessage' });
    for (const dropped of ['$context.requestTime', '$context.routeKey', '$context.protocol', '$context.responseLength']) expect(variables).not.toContain(dropped);
  });
});
