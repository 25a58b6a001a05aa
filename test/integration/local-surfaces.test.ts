import { request } from 'node:http';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';

let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startLocalRuntime({ env: {}, port: 0, dynamodbPort: 0, sqsPort: 0, consumers: false, fakeProviders: { port: 0 }, logger: new Logger({ logLevel: 'SILENT' }) });
});

afterAll(async () => {
  await runtime?.stop();
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request to 127.0.0.1:`port` with exactly these headers (Host included), as a browser or a rebinding page would send it. */
function send(port: number, method: string, path: string, headers: Record<string, string>, body = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

// Any SigV4-looking header: the emulators check none, as with the SDK's dummy credentials.
const SIGNED = { authorization: 'AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00', 'x-amz-date': '20260101T000000Z' };

/** A request each local listener would act on, by what it serves. */
const probes = {
  health: () => ({ port: Number(new URL(runtime.url).port), method: 'GET', path: '/health', headers: {}, body: '' }),
  webhooks: () => ({ port: Number(new URL(runtime.url).port), method: 'POST', path: '/webhooks/together', headers: { 'content-type': 'application/json' }, body: '{}' }),
  dynamodb: () => ({
    port: runtime.listeners().dynamodb.port,
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables', ...SIGNED },
    body: '{}',
  }),
  sqs: () => ({
    port: runtime.listeners().sqs.port,
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues', ...SIGNED },
    body: '{}',
  }),
  // The fake provider APIs: one that would make a job, and one that hands out a signing secret.
  'fake-providers simulate': () => ({
    port: Number(new URL(runtime.fakeProviders?.url ?? 'http://x:1').port),
    method: 'POST',
    path: '/simulate/openai/fine-tunes',
    headers: { 'content-type': 'application/json' },
    body: '{"id":"ftjob-page","steps":3,"outcome":"completed"}',
  }),
  'fake-providers replicate': () => ({
    port: Number(new URL(runtime.fakeProviders?.url ?? 'http://x:1').port),
    method: 'GET',
    path: '/replicate/v1/webhooks/default/secret',
    headers: { authorization: 'Bearer r8_fake-replicate-token' },
    body: '',
  }),
} as const;

const accessControl = (answer: Answer) => Object.keys(answer.headers).filter((name) => name.startsWith('access-control-'));

describe('local listeners answer programs on this machine, never web pages', () => {
  it.each(Object.keys(probes) as (keyof typeof probes)[])('[H3-8] %s: a request from a page of another origin is refused with 403 and no CORS headers', async (name) => {
    const probe = probes[name]();

    const answer = await send(probe.port, probe.method, probe.path, { ...probe.headers, host: `127.0.0.1:${probe.port}`, origin: 'https://evil.example' }, probe.body);

    expect(answer.status).toBe(403);
    expect(accessControl(answer)).toEqual([]);
  });

  it.each(Object.keys(probes) as (keyof typeof probes)[])('[H3-8] %s: a DNS-rebinding Host is refused with 403', async (name) => {
    const probe = probes[name]();

    const answer = await send(probe.port, probe.method, probe.path, { ...probe.headers, host: `evil.example:${probe.port}` }, probe.body);

    expect(answer.status).toBe(403);
  });

  it.each(['dynamodb', 'sqs'] as const)('[H3-8] %s: a CORS preflight is refused, approving nothing', async (name) => {
    const probe = probes[name]();

    const answer = await send(probe.port, 'OPTIONS', '/', {
      host: `127.0.0.1:${probe.port}`,
      origin: 'null',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'x-amz-target,content-type,authorization',
    });

    expect(answer.status).toBe(403);
    expect(accessControl(answer)).toEqual([]);
  });

  it('[H3-8] a page cannot write a forged job into the jobs table', async () => {
    const port = runtime.listeners().dynamodb.port;
    const item = { pk: { S: 'together#ft-forged' }, subject: { S: 'ft-forged' }, state: { S: 'completed' } };

    await send(
      port,
      'POST',
      '/',
      { host: `127.0.0.1:${port}`, origin: 'null', 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem', ...SIGNED },
      JSON.stringify({ TableName: runtime.resources.jobsTable, Item: item }),
    );

    const { Item } = await runtime.clients.documents.send(new GetCommand({ TableName: runtime.resources.jobsTable, Key: { pk: 'together#ft-forged' }, ConsistentRead: true }));
    expect(Item).toBeUndefined();
  });

  it('[H3-8] a page cannot queue an unsigned message for a consumer', async () => {
    const port = runtime.listeners().sqs.port;
    const queueUrl = runtime.resources.queues['fine_tune.completed'].url;

    await send(
      port,
      'POST',
      '/',
      { host: `127.0.0.1:${port}`, origin: 'https://evil.example', 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage', ...SIGNED },
      JSON.stringify({ QueueUrl: queueUrl, MessageBody: '{"forged":true}' }),
    );

    const { Attributes } = await runtime.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(Attributes?.ApproximateNumberOfMessages).toBe('0');
  });

  it('[H3-8] a rebinding domain that names the results bucket (virtual-hosted S3) cannot list it', async () => {
    const port = runtime.listeners().sqs.port;

    const answer = await send(port, 'GET', '/', { host: `${runtime.resources.resultsBucket}.attacker.example:${port}`, ...SIGNED });

    expect(answer.status).toBe(403);
    expect(answer.body).not.toContain('ListBucketResult');
  });

  it.each(['127.0.0.1', 'localhost', '[::1]'])('a request naming %s, as local tools send it, is served', async (hostname) => {
    const port = Number(new URL(runtime.url).port);

    const answer = await send(port, 'GET', '/health', { host: `${hostname}:${port}` });

    expect(answer.status).toBe(200);
  });

  it("a request to a queue URL's own host, sqs.us-east-1.localhost, is served, as the SDK sends it with AWS_ENDPOINT_URL_SQS", async () => {
    const queueUrl = new URL(runtime.resources.queues['fine_tune.completed'].url);
    const port = Number(queueUrl.port);

    const answer = await send(
      port,
      'POST',
      '/',
      { ...probes.sqs().headers, 'x-amz-target': 'AmazonSQS.GetQueueAttributes', host: queueUrl.host },
      JSON.stringify({ QueueUrl: queueUrl.href, AttributeNames: ['QueueArn'] }),
    );

    expect(queueUrl.hostname).toBe('sqs.us-east-1.localhost');
    expect(answer.status).toBe(200);
  });
});
