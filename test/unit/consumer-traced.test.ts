import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { replaceEnv } from '../support/env';

/**
 * A deployed consumer's X-Ray trace, as Lambda runs it traced: every record in a `## record`
 * subsegment an operator finds by its event key, and the enricher's Secrets Manager call recorded.
 * The X-Ray SDK reads Lambda's variables once, when it loads: this file sets them first, in a worker
 * of its own (ISOLATED in vitest.config.ts), and the subsegments go to a daemon on loopback.
 */

const ROOT = '1-5759e988-bd862e3fe1be46a994272793';
const SAVED_ENV = { ...process.env };
const lambdaContext = { functionName: 'consumer', awsRequestId: 'req-traced-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

let daemon: Socket;
let secrets: Server;
let secretsUrl: string;
const documents: Record<string, unknown>[] = [];

beforeAll(async () => {
  daemon = createSocket('udp4');
  daemon.on('message', (message) => documents.push(JSON.parse(message.toString('utf8').split('\n')[1] ?? '{}') as Record<string, unknown>));
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  // Secrets Manager's GetSecretValue; any GET (OpenAI's API) is a 404.
  secrets = createServer((request, response) => {
    request.resume();
    if (request.method === 'GET') return void response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"No batch found"}}');
    response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ ARN: 'arn', Name: 'openai', SecretString: 'sk-from-secret' }));
  });
  await new Promise<void>((resolve) => secrets.listen(0, '127.0.0.1', resolve));
  secretsUrl = `http://127.0.0.1:${(secrets.address() as AddressInfo).port}`;
  replaceEnv({
    ...SAVED_ENV,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    LAMBDA_TASK_ROOT: '/var/task',
    AWS_LAMBDA_FUNCTION_NAME: 'consumer',
    _X_AMZN_TRACE_ID: `Root=${ROOT};Parent=53995c3f42cd8ad8;Sampled=1`,
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
    POWERTOOLS_TRACE_ENABLED: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsUrl,
    ROUTE: 'fine_tune.completed',
    TABLE_NAME: 'events',
    JOBS_TABLE_NAME: 'jobs',
    JOB_HISTORY_TABLE_NAME: 'history',
    ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:alerts',
  });
});
afterAll(async () => {
  replaceEnv({ ...SAVED_ENV });
  daemon?.close();
  await new Promise((resolve) => secrets?.close(resolve));
});

/** A message that is no event (it fails before any AWS call), with the attributes the receiver sets, or none. */
function poison(messageId: string, attributes: Record<string, string>): SQSRecord {
  return {
    messageId,
    receiptHandle: 'handle',
    body: 'not an event',
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, { dataType: 'String', stringValue: value }])),
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
    awsRegion: 'us-east-1',
  };
}

const named = (name: string) => documents.filter((document) => document.name === name);

describe('a deployed consumer, traced', () => {
  it('[RULE] each record is a “## record” subsegment annotated with the route, the message id and the event key (unknown where the message has none)', async () => {
    const { deployedConsumer } = await import('../../functions/consumers/deployed');
    const { readConsumerConfig } = await import('../../functions/consumers/config');
    const handler = await deployedConsumer(readConsumerConfig());
    const event: SQSEvent = { Records: [poison('m-keyed', { provider: 'together', eventId: 'evt_traced' }), poison('m-bare', {})] };

    const result = await handler(event, lambdaContext);

    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(['m-bare', 'm-keyed']);
    await vi.waitFor(() => expect(named('## record')).toHaveLength(2), { timeout: 5_000 });
    expect(named('## record').map((document) => document.annotations)).toEqual(
      expect.arrayContaining([
        { route: 'fine_tune.completed', messageId: 'm-keyed', eventKey: 'together#evt_traced' },
        { route: 'fine_tune.completed', messageId: 'm-bare', eventKey: 'unknown#unknown' },
      ]),
    );
    expect(named('## record').every((document) => document.trace_id === ROOT)).toBe(true);
  });

  it('[RULE] the enricher’s read of the OpenAI key from Secrets Manager is recorded in the trace', async () => {
    const { deployedEnricher } = await import('../../functions/consumers/deployed');
    const { createTracer } = await import('../../functions/core/tracing');
    const enrich = deployedEnricher({ OPENAI_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:openai', OPENAI_API_BASE_URL: `${secretsUrl}/v1` }, await createTracer());
    const event = { id: 'evt-1', provider: 'openai', type: 'batch.completed', providerType: 'batch.completed', subject: 'batch_abc', data: { batchId: 'batch_abc' } };

    const notes: string[] = [];

    await enrich!(event as never, { note: (text: string) => void notes.push(text) } as never);

    expect(notes).toEqual(["openai: GET /batches/batch_abc answered 404; handled with the payload's data"]);
    await vi.waitFor(() => expect(named('SecretsManager')).not.toHaveLength(0), { timeout: 5_000 });
    expect(named('SecretsManager')[0]).toMatchObject({ namespace: 'aws', aws: { operation: 'GetSecretValue' } });
  });
});
