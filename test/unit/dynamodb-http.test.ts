import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GetCommand, QueryCommand, documentsOver } from '../../ops/documents';
import { DynamoDBRequestError, httpReads } from '../../ops/dynamodb-http';
import { getEvent } from '../../ops/events';

let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
  server = undefined;
});

interface Seen {
  readonly target: string | undefined;
  readonly authorization: string | undefined;
  readonly body: Record<string, unknown>;
}

/** A stand-in DynamoDB endpoint answering each request with the next of `answers` (status and JSON body). */
async function endpoint(answers: readonly { status: number; body: unknown }[]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const read = (request: IncomingMessage) => new Promise<string>((resolve) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8'))).on('end', () => resolve(text));
  });
  server = createServer(async (request, response) => {
    seen.push({ target: request.headers['x-amz-target'] as string | undefined, authorization: request.headers.authorization, body: JSON.parse(await read(request)) as Record<string, unknown> });
    const answer = answers[Math.min(seen.length - 1, answers.length - 1)] ?? { status: 500, body: {} };
    response.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server?.address() as AddressInfo).port}`, seen };
}

const reads = (url: string) => httpReads({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });

describe('httpReads', () => {
  it('[CLI-START] sends a signed Query in DynamoDB JSON and answers in plain values, binary as bytes', async () => {
    const { url, seen } = await endpoint([
      { status: 200, body: { Items: [{ pk: { S: 'together#evt_1' }, attempts: { N: '2' }, payload: { B: Buffer.from('hi').toString('base64') } }], LastEvaluatedKey: { pk: { S: 'together#evt_1' } } } },
    ]);

    const answer = await reads(url).read(
      new QueryCommand({ TableName: 'events', KeyConditionExpression: '#day = :day', ExpressionAttributeNames: { '#day': 'receivedDay' }, ExpressionAttributeValues: { ':day': '2026-12-07' } }),
    );

    expect(seen[0]?.target).toBe('DynamoDB_20120810.Query');
    expect(seen[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/us-east-1\/dynamodb\/aws4_request, /);
    expect(seen[0]?.body).toMatchObject({ TableName: 'events', ExpressionAttributeValues: { ':day': { S: '2026-12-07' } } });
    expect(answer.Items).toEqual([{ pk: 'together#evt_1', attempts: 2, payload: new Uint8Array(Buffer.from('hi')) }]);
    expect(answer.LastEvaluatedKey).toEqual({ pk: 'together#evt_1' });
  });

  it('[CLI-START] retries a throttled read once, within the call budget, and answers with the second try', async () => {
    const { url, seen } = await endpoint([
      { status: 400, body: { __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'slow down' } },
      { status: 200, body: { Item: { pk: { S: 'together#evt_1' } } } },
    ]);

    const answer = await reads(url).read(new GetCommand({ TableName: 'events', Key: { pk: 'together#evt_1' } }));

    expect(seen).toHaveLength(2);
    expect(answer.Item).toEqual({ pk: 'together#evt_1' });
  });

  it('[CLI-START] a failure that keeps failing is a retryable error named by its type, after the budget’s attempts', async () => {
    const { url, seen } = await endpoint([{ status: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'try again' } }]);

    const failure = await reads(url).read(new GetCommand({ TableName: 'events', Key: { pk: 'k' } })).catch((error: unknown) => error);

    expect(seen).toHaveLength(2);
    expect(failure).toBeInstanceOf(DynamoDBRequestError);
    expect(failure).toMatchObject({ name: 'InternalServerError', message: 'try again', statusCode: 500, retryable: true });
  });

  it('[CLI-START] a missing table is not retried, and the operations name the table in their error', async () => {
    const { url, seen } = await endpoint([{ status: 400, body: { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'Requested resource not found' } }]);
    const documents = documentsOver(reads(url), async () => {
      throw new Error('no SDK client for reads');
    });

    const failure = await getEvent({ documents, tableName: 'events', where: 'the test endpoint' }, 'together#evt_1').catch((error: unknown) => error);

    expect(seen).toHaveLength(1);
    expect((failure as Error).message).toBe('table events does not exist at the test endpoint: is the local runtime (`npm start`) running, or is --stack right?');
  });
});
