import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROVIDERS } from '../../functions/core/providers';
import { ROUTES } from '../../functions/core/routes';
import { buildDelivery } from '../../ops/deliveries';
import { deliveryEvent, gatewayEvent } from '../support/gateway';

/**
 * The receiver's Lambda handler as deployed: configured from the environment, its secrets in
 * Secrets Manager, its table and queues behind the SDK clients (stubbed here), its lines and
 * metrics on stdout. Imported once, as Lambda loads it in a new execution environment.
 */
const LLMTUNE_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:llmtune-signing-AbCdEf';
const STANDARD_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:standard-signing-AbCdEf';

const secretsManager = mockClient(SecretsManagerClient);
const documents = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const written: string[] = [];
type Handler = (request: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const context = { awsRequestId: 'req-1', functionName: 'receiver', functionVersion: '$LATEST', invokedFunctionArn: 'arn', memoryLimitInMB: '512' } as Context;
const lines = () => written.join('').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  const record = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  vi.spyOn(process.stdout, 'write').mockImplementation(record);
  vi.spyOn(process.stderr, 'write').mockImplementation(record);
  vi.stubEnv('TABLE_NAME', 'events');
  vi.stubEnv('QUEUE_URLS', JSON.stringify(Object.fromEntries(ROUTES.map((route) => [route, `https://sqs.example/${route}`]))));
  vi.stubEnv('PROVIDERS', 'llmtune,standard');
  vi.stubEnv('SECRET_ARNS', JSON.stringify({ llmtune: LLMTUNE_ARN, standard: STANDARD_ARN }));
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', undefined);
  secretsManager.on(GetSecretValueCommand).callsFake((input: { SecretId?: string }) => ({
    // The llmtune secret is the development one; standard's is refused (an empty key).
    SecretString: input.SecretId === LLMTUNE_ARN ? JSON.stringify([PROVIDERS.llmtune.developmentSecret]) : '["whsec_"]',
  }));
  documents.onAnyCommand().resolves({});
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
});

/** A new execution environment: the handler module loaded afresh, and what it read and wrote while starting. */
async function coldStart(): Promise<{ handler: Handler; readAtInit: string[] }> {
  vi.resetModules();
  written.length = 0;
  for (const mock of [secretsManager, documents, sqs]) mock.resetHistory();
  const { handler } = await import('../../functions/receiver/handler');
  return { handler, readAtInit: secretsManager.commandCalls(GetSecretValueCommand).map((call) => String(call.args[0].input.SecretId)) };
}

afterAll(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  for (const mock of [secretsManager, documents, sqs]) mock.restore();
});

describe('[RULE] the deployed receiver handler', () => {
  it('[RULE] reads every enabled provider’s secret while it starts, and logs a refused one naming its ARN', async () => {
    const { readAtInit } = await coldStart();

    expect([...readAtInit].sort()).toEqual([LLMTUNE_ARN, STANDARD_ARN]);
    expect(lines()).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'signing secret refused', provider: 'standard', secret: STANDARD_ARN, reason: 'secret_invalid' }));
  });

  it('[RULE] accepts a signed delivery (200), sends its event to its route’s queue and publishes the Accepted metric in the WebhookReceiver namespace', async () => {
    const { handler } = await coldStart();
    written.length = 0;
    const delivery = buildDelivery({ provider: 'llmtune', type: 'training.completed' });

    const answer = await handler(deliveryEvent(delivery), context);

    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body ?? '{}')).toEqual({ status: 'accepted', key: expect.stringMatching(/^llmtune#/) });
    expect(sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input.QueueUrl)).toEqual(['https://sqs.example/fine_tune.completed']);
    const metric = lines().find((line) => line._aws !== undefined) as { _aws: { CloudWatchMetrics: { Namespace: string }[] }; service?: string; Accepted?: number } | undefined;
    expect(metric?._aws.CloudWatchMetrics[0]?.Namespace).toBe('WebhookReceiver');
    expect(metric).toMatchObject({ service: 'receiver', provider: 'llmtune', Accepted: 1 });
  });

  it('[RULE] a delivery to a provider whose secret is refused answers 503 secret_invalid, and nothing is written', async () => {
    const { handler } = await coldStart();

    const answer = await handler(deliveryEvent(buildDelivery({ provider: 'standard', type: 'batch.completed' })), context);

    expect(answer.statusCode).toBe(503);
    expect(documents.calls()).toEqual([]);
  });

  it('[RULE] a GET answers 405', async () => {
    const { handler } = await coldStart();

    expect((await handler(gatewayEvent({ path: '/webhooks/llmtune', method: 'GET' }), context)).statusCode).toBe(405);
  });
});
