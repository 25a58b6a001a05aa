import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../functions/core/routes';
import { readConsumerConfig } from '../../functions/consumers/config';
import { deployedConsumer } from '../../functions/consumers/deployed';
import { acceptedRecord, normalizedEvent, sqsEvent, sqsRecord } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';
import { replaceEnv } from '../support/env';

/**
 * The consumer as deployed (its own SDK clients, as the Lambda handler builds them) against a
 * stand-in for EventBridge and SNS whose first answer is slow. An effect (a bus entry, an alert)
 * that the service performed must not be sent again by the SDK's own retry within one attempt:
 * no idempotency key makes the repeat harmless.
 */

const FIRST_ANSWER_DELAY_MS = 3_000;

/** A stand-in for EventBridge and SNS on 127.0.0.1: counts requests, answers the first one late. */
interface SlowEndpoint {
  readonly url: string;
  readonly requests: string[];
  close(): Promise<void>;
}

async function slowEndpoint(): Promise<SlowEndpoint> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      // Counted on arrival: the service performs the effect whether or not its answer is awaited.
      const target = request.headers['x-amz-target'];
      requests.push(typeof target === 'string' ? target : (new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('Action') ?? 'unknown'));
      const delayMs = requests.length === 1 ? FIRST_ANSWER_DELAY_MS : 0;
      setTimeout(() => answer(request, response, requests.length), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** PutEvents' JSON answer, or SNS Publish's XML one. */
function answer(request: IncomingMessage, response: ServerResponse, count: number): void {
  if (response.destroyed) return;
  if (typeof request.headers['x-amz-target'] === 'string') {
    response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    response.end(JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: `eb-${count}` }] }));
    return;
  }
  response.writeHead(200, { 'content-type': 'text/xml' });
  response.end(
    '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>' +
      `<MessageId>m-${count}</MessageId></PublishResult><ResponseMetadata><RequestId>r-${count}</RequestId></ResponseMetadata></PublishResponse>`,
  );
}

let env: Emulated;
let endpoint: SlowEndpoint;
const savedEnv = { ...process.env };

beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});
afterEach(async () => {
  await endpoint?.close();
  replaceEnv({ ...savedEnv });
});

/** The deployed consumer of `route`, its DynamoDB client on the emulator, EventBridge and SNS on the stand-in. */
async function deployedOn(route: Route, vars: Record<string, string> = {}) {
  endpoint = await slowEndpoint();
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: env.emulators.dynamodbEndpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint.url,
    AWS_ENDPOINT_URL_SNS: endpoint.url,
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const config = readConsumerConfig({
    ROUTE: route,
    TABLE_NAME: env.resources.eventsTable,
    JOBS_TABLE_NAME: env.resources.jobsTable,
    JOB_HISTORY_TABLE_NAME: env.resources.jobHistoryTable,
    ALERTS_TOPIC_ARN: env.resources.alertsTopicArn,
    ...vars,
  });
  return deployedConsumer(config);
}

const lambdaContext = { functionName: 'consumer', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

describe('effects are sent at most once per consumer attempt', () => {
  it('[H3-3] a PutEvents answered after 3 s puts the event on the bus once', { timeout: 20_000 }, async () => {
    const consume = await deployedOn('fine_tune.completed', { EVENT_BUS_NAME: 'arn:aws:events:us-east-1:000000000000:event-bus/webhooks' });
    const event = normalizedEvent();
    await acceptedRecord(env, event);

    const result = await consume(sqsEvent(sqsRecord(event)), lambdaContext);

    expect(result.batchItemFailures).toEqual([]);
    expect(endpoint.requests).toEqual(['AWSEvents.PutEvents']);
  });

  it('[H3-3] an alert whose Publish is answered after 3 s is sent once', { timeout: 20_000 }, async () => {
    const consume = await deployedOn('fine_tune.failed');
    const event = normalizedEvent({ type: 'fine_tune.failed', providerType: 'fine_tune.failed', data: { jobId: 'ft-test', errorMessage: 'out of memory' } });
    await acceptedRecord(env, event);

    const result = await consume(sqsEvent(sqsRecord(event)), lambdaContext);

    expect(result.batchItemFailures).toEqual([]);
    expect(endpoint.requests).toEqual(['Publish']);
  });
});
