import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FunctionTracer } from '../../functions/core/tracing';
import { replaceEnv } from '../support/env';

/**
 * The consumers as their Lambda entries build them (`deployed.ts`, `batch-results-handler.ts`),
 * from the environment the stack sets: what an operator sees at start-up, in the logs and in the
 * metrics, with no AWS service reached (a poison message fails before any call). The environment
 * and the mocked steps module are put back after each test.
 */

const SAVED_ENV = { ...process.env };
const lambdaContext = { functionName: 'consumer', awsRequestId: 'req-deployed-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;
const untraced: FunctionTracer = { isTracingEnabled: () => false, captureAWSv3Client: (client) => client };

/** The variables the stack gives every consumer, tracing off, logs and metrics on. */
function deployEnv(vars: Record<string, string | undefined>): void {
  replaceEnv({
    ...SAVED_ENV,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    POWERTOOLS_METRICS_DISABLED: 'false',
    POWERTOOLS_METRICS_NAMESPACE: undefined,
    TABLE_NAME: 'events',
    JOBS_TABLE_NAME: 'jobs',
    JOB_HISTORY_TABLE_NAME: 'history',
    ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:alerts',
    ...vars,
  });
  for (const [name, value] of Object.entries(process.env)) if (value === undefined) delete process.env[name];
}

/** Every JSON line written to stdout or stderr while `run` runs. */
async function output<T>(run: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  const written: string[] = [];
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    const result = await run();
    const lines = written
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    return { result, lines };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const poison = (messageId: string): SQSEvent => ({
  Records: [
    {
      messageId,
      receiptHandle: 'handle',
      body: 'not an event',
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
      awsRegion: 'us-east-1',
    },
  ],
});

type Handler = (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

/** The entry by a literal path too, so that `vitest related` (and so Stryker) sees these tests reach it. */
const batchResultsModule = () => import('../../functions/consumers/batch-results-handler');

/** `path` evaluated afresh (a query of its own makes it a module of its own); the modules it imports are shared. */
const fresh = async <T>(path: string): Promise<T> => (await import(/* @vite-ignore */ `${path}?load=${randomUUID()}`)) as T;

/** The batch results entry, loaded afresh under `vars`. */
async function batchResultsEntry(vars: Record<string, string | undefined>): Promise<Handler> {
  deployEnv(vars);
  return (await fresh<Awaited<ReturnType<typeof batchResultsModule>>>('../../functions/consumers/batch-results-handler.ts')).handler as Handler;
}

afterEach(() => {
  replaceEnv({ ...SAVED_ENV });
  vi.doUnmock('#steps');
});

describe('a consumer as deployed', () => {
  it('[RULE] a poison message fails only its record, logged by service webhook-consumer with the route and the request id, and counted Failed in POWERTOOLS_METRICS_NAMESPACE', async () => {
    deployEnv({ ROUTE: 'fine_tune.completed', POWERTOOLS_METRICS_NAMESPACE: 'AcmeHooks' });
    const { deployedConsumer } = await import('../../functions/consumers/deployed');
    const { readConsumerConfig } = await import('../../functions/consumers/config');
    const handler = await deployedConsumer(readConsumerConfig());

    const { result, lines } = await output(() => handler(poison('m-poison'), lambdaContext));

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm-poison' }]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'ERROR', message: 'poison message', service: 'webhook-consumer', route: 'fine_tune.completed', function_request_id: 'req-deployed-1', messageId: 'm-poison' }),
    );
    const metric = lines.find((line) => '_aws' in line);
    expect(metric).toMatchObject({ service: 'consumer', route: 'fine_tune.completed', Failed: 1, _aws: { CloudWatchMetrics: [{ Namespace: 'AcmeHooks' }] } });
  });

  it('[RULE] without POWERTOOLS_METRICS_NAMESPACE the counts go to the WebhookReceiver namespace', async () => {
    deployEnv({ ROUTE: 'batch.failed' });
    const { deployedConsumer } = await import('../../functions/consumers/deployed');
    const { readConsumerConfig } = await import('../../functions/consumers/config');
    const handler = await deployedConsumer(readConsumerConfig());

    const { lines } = await output(() => handler(poison('m-namespace'), lambdaContext));

    expect(lines.find((line) => '_aws' in line)).toMatchObject({ route: 'batch.failed', _aws: { CloudWatchMetrics: [{ Namespace: 'WebhookReceiver' }] } });
  });

  it('[RULE] a steps module that names no route refuses to start, saying it is the steps module', async () => {
    deployEnv({ ROUTE: 'fine_tune.completed' });
    vi.doMock('#steps', () => ({ steps: { 'fine_tune.finished': [] } }));
    const { deployedConsumer } = await fresh<typeof import('../../functions/consumers/deployed')>('../../functions/consumers/deployed.ts');
    const { readConsumerConfig } = await import('../../functions/consumers/config');

    await expect(deployedConsumer(readConsumerConfig())).rejects.toThrow('the steps module: `steps` has "fine_tune.finished", which is not a route');
  });
});

describe('the OpenAI enricher as deployed', () => {
  let stop: () => Promise<void>;
  let url: string;
  const seen: { path: string; authorization?: string; target?: string }[] = [];

  beforeAll(async () => {
    // Secrets Manager's GetSecretValue and OpenAI's GET /v1/batches/{id}, on one loopback port.
    const server = createServer((request, response) => {
      const target = request.headers['x-amz-target'];
      seen.push({ path: request.url ?? '', authorization: request.headers.authorization, ...(typeof target === 'string' ? { target } : {}) });
      if (typeof target === 'string') {
        request.resume();
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ ARN: 'arn', Name: 'openai', SecretString: 'sk-from-secret' }));
        return;
      }
      const id = decodeURIComponent((request.url ?? '').split('/').pop() ?? '');
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ id, object: 'batch', endpoint: '/v1/chat/completions', status: 'completed', input_file_id: 'file-in', output_file_id: 'file-out', error_file_id: null, created_at: 1_700_000_000, completion_window: '24h' }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    stop = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(async () => {
    await stop?.();
  });

  it('[RULE] with OPENAI_API_KEY_SECRET_ARN, an OpenAI batch event is completed from the API with the key the secret holds', async () => {
    deployEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: url });
    const { deployedEnricher } = await import('../../functions/consumers/deployed');
    const enrich = deployedEnricher({ OPENAI_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:openai', OPENAI_API_BASE_URL: `${url}/v1` }, untraced);
    const event = { id: 'evt-1', provider: 'openai', type: 'batch.completed', providerType: 'batch.completed', subject: 'batch_abc', data: { batchId: 'batch_abc' } };

    const enriched = await enrich!(event as never, { note: () => undefined } as never);

    expect(enriched.data).toMatchObject({ batchId: 'batch_abc', outputFileId: 'file-out' });
    expect(seen.filter((request) => request.path === '/v1/batches/batch_abc').map((request) => request.authorization)).toEqual(['Bearer sk-from-secret']);
  });

  it.each([undefined, '', '   '])('[RULE] with OPENAI_API_KEY_SECRET_ARN %j, no enricher is built and no OpenAI request can be made', async (arn) => {
    const { deployedEnricher } = await import('../../functions/consumers/deployed');

    expect(deployedEnricher({ OPENAI_API_KEY_SECRET_ARN: arn, OPENAI_API_KEY: 'sk-local' }, untraced)).toBeUndefined();
  });
});

describe('the batch results consumer as deployed', () => {
  it.each([
    ['fine_tune.completed', 'results'],
    ['batch.failed', 'results'],
    ['batch.completed', undefined],
    ['batch.expired', '  '],
  ])('[RULE] ROUTE=%s with RESULTS_BUCKET_NAME %j refuses to start, naming both variables and the route', async (route, bucket) => {
    const failure = batchResultsEntry({ ROUTE: route, RESULTS_BUCKET_NAME: bucket, TOGETHER_API_KEY: 'together-key' });

    // Its own class: the entry is loaded afresh, with the modules it imports.
    await expect(failure).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: `the batch results consumer needs ROUTE=batch.completed (or batch.expired) and RESULTS_BUCKET_NAME; got ROUTE=${route}`,
    });
  });

  it('[RULE] without a provider key it refuses to start, naming both providers’ key variables', async () => {
    await expect(batchResultsEntry({ ROUTE: 'batch.completed', RESULTS_BUCKET_NAME: 'results' })).rejects.toThrow(
      'batch results need TOGETHER_API_KEY_SECRET_ARN or OPENAI_API_KEY_SECRET_ARN',
    );
  });

  it.each([
    ['batch.completed', { TOGETHER_API_KEY: 'together-key' }],
    ['batch.expired', { OPENAI_API_KEY: 'sk-local', OPENAI_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:openai' }],
  ])('[RULE] ROUTE=%s with a bucket and a key starts, and fails a poison message’s record alone', async (route, keys) => {
    const handler = await batchResultsEntry({ ROUTE: route, RESULTS_BUCKET_NAME: 'results', ...keys });

    const { result, lines } = await output(() => handler(poison(`m-${route}`), lambdaContext));

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: `m-${route}` }]);
    expect(lines).toContainEqual(expect.objectContaining({ message: 'poison message', service: 'webhook-consumer', route }));
  });
});
