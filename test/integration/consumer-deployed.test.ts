import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../functions/core/event';
import { acceptedRecord, jobItem, normalizedEvent, sqsEvent, sqsRecord } from '../support/consumers';
import { fakeFilesApi, type FakeApi } from '../support/batch-files';
import { startEmulated, type Emulated } from '../support/emulated';
import { replaceEnv } from '../support/env';

/**
 * The batch results consumer as its Lambda entry builds it (`batch-results-handler.ts` over
 * `deployed.ts`), from the environment the stack sets, on the emulators: its own SDK clients reach
 * DynamoDB and S3 there, EventBridge and Secrets Manager a stand-in on loopback, the providers' files
 * API a fake. What a deployment relies on: the files land and the job item says so, an OpenAI event
 * is completed from the API first, and handled events reach the bus only when one is configured.
 */

let env: Emulated;
let api: FakeApi;
let aws: Server;
let awsUrl: string;
/** PutEvents entries the stand-in received, and the targets of every call. */
const busEntries: Record<string, unknown>[] = [];
const targets: string[] = [];
const SAVED_ENV = { ...process.env };
const lambdaContext = { functionName: 'batch-results', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

beforeAll(async () => {
  [env, api] = await Promise.all([startEmulated(), fakeFilesApi()]);
  // EventBridge's PutEvents and Secrets Manager's GetSecretValue, both JSON over one port.
  aws = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      targets.push(target);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { Entries?: Record<string, unknown>[] };
      const answer = target.endsWith('.PutEvents')
        ? { FailedEntryCount: 0, Entries: (body.Entries ?? []).map((entry, index) => (busEntries.push(entry), { EventId: `eb-${index}` })) }
        : { ARN: 'arn', Name: 'openai', SecretString: 'sk-from-secret' };
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => aws.listen(0, '127.0.0.1', resolve));
  awsUrl = `http://127.0.0.1:${(aws.address() as AddressInfo).port}`;
});
afterAll(async () => {
  replaceEnv({ ...SAVED_ENV });
  await Promise.all([env?.stop(), api?.close(), new Promise((resolve) => aws?.close(resolve))]);
});
afterEach(() => {
  replaceEnv({ ...SAVED_ENV });
});

type Handler = (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

/** The entry by a literal path too, so that `vitest related` (and so Stryker) sees these tests reach it. */
const batchResultsModule = () => import('../../functions/consumers/batch-results-handler');
/** The entry, loaded afresh (a query of its own makes it a module of its own) under the stack's variables and `vars`. */
async function deployedEntry(vars: Record<string, string>): Promise<Handler> {
  replaceEnv({
    ...SAVED_ENV,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: env.emulators.dynamodbEndpoint,
    AWS_ENDPOINT_URL_S3: env.emulators.sqsEndpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: awsUrl,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: awsUrl,
    POWERTOOLS_TRACE_ENABLED: 'false',
    ROUTE: 'batch.completed',
    TABLE_NAME: env.resources.eventsTable,
    JOBS_TABLE_NAME: env.resources.jobsTable,
    JOB_HISTORY_TABLE_NAME: env.resources.jobHistoryTable,
    ALERTS_TOPIC_ARN: env.resources.alertsTopicArn,
    RESULTS_BUCKET_NAME: env.resources.resultsBucket,
    ...vars,
  });
  const path = `../../functions/consumers/batch-results-handler.ts?load=${randomUUID()}`;
  return ((await import(/* @vite-ignore */ path)) as Awaited<ReturnType<typeof batchResultsModule>>).handler as Handler;
}

async function stored(key: string): Promise<string> {
  const { Body } = await env.clients.s3.send(new GetObjectCommand({ Bucket: env.resources.resultsBucket, Key: key }));
  const chunks: Buffer[] = [];
  for await (const chunk of Body as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function consume(handler: Handler, event: NormalizedEvent) {
  await acceptedRecord(env, event);
  return handler(sqsEvent(sqsRecord(event)), lambdaContext);
}

let serial = 0;
const nextBatchId = (prefix: string) => `${prefix}${process.pid}-${(serial += 1)}`;

describe('the batch results consumer as deployed', () => {
  it('[RULE] a Together batch.completed ends with its files in the results bucket, their record on the job item, and the event on the configured bus', async () => {
    const batchId = nextBatchId('batch-');
    api.file(`out-${batchId}`, '{"custom_id":"a"}\n');
    api.file(`err-${batchId}`, '{"custom_id":"b","error":{}}\n');
    const handler = await deployedEntry({ TOGETHER_API_KEY: 'together-key', TOGETHER_API_BASE_URL: api.url, EVENT_BUS_NAME: 'hooks-bus' });
    const event = normalizedEvent({ type: 'batch.completed', providerType: 'batch.completed', subject: batchId, data: { batchId, outputFileId: `out-${batchId}`, errorFileId: `err-${batchId}` } });

    const result = await consume(handler, event);

    expect(result.batchItemFailures).toEqual([]);
    expect(await stored(`together/batches/${batchId}/output.jsonl`)).toBe('{"custom_id":"a"}\n');
    expect(await stored(`together/batches/${batchId}/errors.jsonl`)).toBe('{"custom_id":"b","error":{}}\n');
    expect((await jobItem(env, `together#${batchId}`))?.results).toMatchObject({
      output: { uri: `s3://${env.resources.resultsBucket}/together/batches/${batchId}/output.jsonl`, fileId: `out-${batchId}`, lines: 1 },
      errors: { fileId: `err-${batchId}`, lines: 1 },
    });
    expect(busEntries.filter((entry) => String(entry.Detail).includes(event.id))).toEqual([
      expect.objectContaining({ EventBusName: 'hooks-bus', DetailType: 'batch.completed' }),
    ]);
  });

  it('[RULE] with OPENAI_API_KEY_SECRET_ARN, an OpenAI batch.completed that names no file is completed from the API, then its output copied; without EVENT_BUS_NAME nothing is put on a bus', async () => {
    const batchId = nextBatchId('batch_');
    api.file(`file-out-${batchId}`, '{"custom_id":"o"}\n');
    api.batch(batchId, { object: 'batch', endpoint: '/v1/chat/completions', status: 'completed', input_file_id: 'file-in', output_file_id: `file-out-${batchId}`, completion_window: '24h' });
    const handler = await deployedEntry({ OPENAI_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:openai', OPENAI_API_BASE_URL: api.url });
    const event = normalizedEvent({ provider: 'openai', type: 'batch.completed', providerType: 'batch.completed', subject: batchId, data: { batchId } });
    const putsBefore = targets.filter((target) => target.endsWith('.PutEvents')).length;

    const result = await consume(handler, event);

    expect(result.batchItemFailures).toEqual([]);
    expect(await stored(`openai/batches/${batchId}/output.jsonl`)).toBe('{"custom_id":"o"}\n');
    expect(api.requests.filter((request) => request.path === `/batches/${batchId}`).map((request) => request.authorization)).toEqual(['Bearer sk-from-secret']);
    expect(targets.filter((target) => target.endsWith('.PutEvents'))).toHaveLength(putsBefore);
  });
});
