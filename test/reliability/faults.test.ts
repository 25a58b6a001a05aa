import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../../functions/core/aws';
import { normalizeDelivery } from '../../functions/core/normalize';
import { PROVIDERS } from '../../functions/core/providers';
import type { Route } from '../../functions/core/routes';
import type { SignatureSpec } from '../../functions/core/verify';
import { queueUrlMap } from '../../local/resources';
import { startEmulated, type Emulated } from '../support/emulated';
import { closedPort, countStore, startFailingServer, startSilentServer } from './support/harness';
import { TARGETS, toEvent, wire, type Target, type Wire } from './support/wire';

/**
 * What the receiver does when its dependencies fail: every failure before the event is on its
 * queue is a retryable 503 that leaves nothing half-accepted, and the sender's retry then gets
 * the event through exactly once.
 */

let env: Emulated;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});

let sequence = 0;
const deliveryOf = (target: Target): Wire =>
  wire(target, { arrivalSeconds: Math.floor(Date.now() / 1000), id: `evt_fault_${Date.now()}_${(sequence += 1)}` });
const ROUTE_OF: Record<Target, Route> = {
  together: 'fine_tune.completed',
  'together-body': 'fine_tune.completed',
  llmtune: 'fine_tune.completed',
  mythicdot: 'batch.completed',
  standard: 'batch.completed',
};
const bodyOf = (result: APIGatewayProxyStructuredResultV2) => JSON.parse(result.body ?? 'null') as Record<string, unknown>;
const UNAVAILABLE = { error: 'unavailable', message: 'a dependency failed; nothing was accepted, retry later' };

/** The idempotency key of a delivery: `{provider}#{eventId}`, the id as the provider's envelope gives it. */
function keyOf(delivery: Wire): string {
  const provider = PROVIDERS[TARGETS[delivery.target].provider];
  const facts = provider.parse(JSON.parse(delivery.body.toString('utf8')), { headerId: delivery.headers['webhook-id'] });
  return `${provider.name}#${facts.id}`;
}

async function recordOf(key: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await env.clients.documents.send(new GetCommand({ TableName: env.resources.eventsTable, Key: { pk: key }, ConsistentRead: true }));
  return Item;
}

const routeDepth = async (route: Route) => (await countStore(env.clients, env.resources)).messages[route] ?? 0;

describe('DynamoDB failures', () => {
  it('answers 503 when DynamoDB refuses connections, and nothing is stored or queued', async () => {
    const delivery = deliveryOf('together');
    const deadDynamo = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: `http://127.0.0.1:${await closedPort()}` })));
    const before = await countStore(env.clients, env.resources);

    const result = await env.receiver({ documents: deadDynamo })(toEvent(delivery));

    expect(result.statusCode).toBe(503);
    expect(bodyOf(result)).toEqual(UNAVAILABLE);
    const after = await countStore(env.clients, env.resources);
    expect(after.records).toBe(before.records);
    expect(after.totalMessages).toBe(before.totalMessages);
  });

  it('answers 503 when DynamoDB answers with server errors, and the retry is accepted once', async () => {
    const delivery = deliveryOf('mythicdot');
    const failing = await startFailingServer();
    const failingDynamo = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: failing.endpoint })));
    const before = await routeDepth('batch.completed');

    const result = await env.receiver({ documents: failingDynamo })(toEvent(delivery)).finally(() => failing.stop());
    const retry = await env.receiver()(toEvent(delivery));

    expect(result.statusCode).toBe(503);
    expect(bodyOf(retry)).toMatchObject({ status: 'accepted' });
    expect((await routeDepth('batch.completed')) - before).toBe(1);
  });
});

describe('SQS failures', () => {
  it('answers 503 when SQS refuses connections, releases the record, and the retry puts exactly one message', async () => {
    const delivery = deliveryOf('llmtune');
    const key = keyOf(delivery);
    const deadSqs = new SQSClient(clientConfig({ endpoint: `http://127.0.0.1:${await closedPort()}` }));
    const before = await routeDepth('fine_tune.completed');

    const failed = await env.receiver({ sqs: deadSqs })(toEvent(delivery));
    const recordAfterFailure = await recordOf(key);
    const retry = await env.receiver()(toEvent(delivery));

    expect(failed.statusCode).toBe(503);
    expect(bodyOf(failed)).toEqual(UNAVAILABLE);
    expect(recordAfterFailure).toBeUndefined();
    expect(bodyOf(retry)).toEqual({ status: 'accepted', key });
    expect((await routeDepth('fine_tune.completed')) - before).toBe(1);
  });

  it('answers 503 when SQS accepts the connection but never answers, releases the record, and the retry puts exactly one message', async () => {
    const delivery = deliveryOf('standard');
    const key = keyOf(delivery);
    const silent = await startSilentServer();
    const slowSqs = new SQSClient(clientConfig({ endpoint: silent.endpoint }));
    const before = await routeDepth('batch.completed');

    const failed = await env.receiver({ sqs: slowSqs })(toEvent(delivery)).finally(() => silent.stop());
    const recordAfterFailure = await recordOf(key);
    const retry = await env.receiver()(toEvent(delivery));

    expect(silent.connections()).toBeGreaterThan(0);
    expect(failed.statusCode).toBe(503);
    expect(recordAfterFailure).toBeUndefined();
    expect(bodyOf(retry)).toEqual({ status: 'accepted', key });
    expect((await routeDepth('batch.completed')) - before).toBe(1);
  });

  it('when the send fails and the release fails too, answers 503, then 409 within the lease and one message after it', async () => {
    const delivery = deliveryOf('together');
    const key = keyOf(delivery);
    const deadSqs = new SQSClient(clientConfig({ endpoint: `http://127.0.0.1:${await closedPort()}` }));
    const real = env.clients.documents;
    // DynamoDB that fails only the release (the conditional delete), as if it went down mid-request.
    const noRelease = {
      send: (command: unknown) =>
        command instanceof DeleteCommand ? Promise.reject(new Error('injected: DynamoDB unavailable')) : real.send(command as never),
    } as unknown as DynamoDBDocumentClient;
    const leaseMs = env.config.leaseSeconds * 1000;
    const before = await routeDepth('fine_tune.completed');

    const failed = await env.receiver({ sqs: deadSqs, documents: noRelease })(toEvent(delivery));
    const stuck = await recordOf(key);
    const withinLease = await env.receiver()(toEvent(delivery));
    const afterLease = await env.receiver({ clock: () => Date.now() + leaseMs + 1_000 })(toEvent(delivery));

    expect(failed.statusCode).toBe(503);
    expect(stuck?.status).toBe('in_progress');
    expect(withinLease.statusCode).toBe(409);
    expect(bodyOf(withinLease)).toMatchObject({ error: 'in_progress' });
    expect(bodyOf(afterLease)).toEqual({ status: 'accepted', key });
    expect((await routeDepth('fine_tune.completed')) - before).toBe(1);
  });
});

describe('secret store failures', () => {
  it('answers 503 when the signing secrets cannot be read, and nothing is stored or queued', async () => {
    const delivery = deliveryOf('mythicdot');
    const before = await countStore(env.clients, env.resources);

    const result = await env.receiver({ getSecrets: () => Promise.reject(new Error('injected: Secrets Manager unavailable')) })(toEvent(delivery));

    expect(result.statusCode).toBe(503);
    expect(bodyOf(result)).toEqual(UNAVAILABLE);
    const after = await countStore(env.clients, env.resources);
    expect([after.records, after.totalMessages]).toEqual([before.records, before.totalMessages]);
  });

  it('answers 503 (retryable) while no signing secret is set, so the sender keeps the event', async () => {
    const delivery = deliveryOf('llmtune');
    const before = await countStore(env.clients, env.resources);

    const result = await env.receiver({ getSecrets: async () => [] })(toEvent(delivery));

    expect(result.statusCode).toBe(503);
    const after = await countStore(env.clients, env.resources);
    expect([after.records, after.totalMessages]).toEqual([before.records, before.totalMessages]);
  });
});

const CHILD_SCRIPT = fileURLToPath(new URL('./support/accept-child.ts', import.meta.url));
const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('a process killed between the conditional put and the send', () => {
  it('leaves the record in_progress; a retry within the lease gets 409, a retry after it is accepted, one message in all', async () => {
    const delivery = deliveryOf('together');
    const key = keyOf(delivery);
    const event = normalizeDelivery({
      provider: PROVIDERS.together,
      spec: PROVIDERS.together.signatureSchemes.timestamped as SignatureSpec,
      body: delivery.body,
      verified: { signedAtSeconds: delivery.arrivalSeconds },
      receivedAtMs: delivery.arrivalSeconds * 1000,
      retentionSeconds: env.config.retentionSeconds,
    });
    // The child's SQS is a server that takes the request and never answers: the send is in flight when it dies.
    const silent = await startSilentServer();
    const before = await routeDepth('fine_tune.completed');
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT], {
      cwd: REPOSITORY_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DYNAMODB_ENDPOINT: env.emulators.dynamodbEndpoint,
        SQS_ENDPOINT: silent.endpoint,
        TABLE_NAME: env.resources.eventsTable,
        QUEUE_URLS: JSON.stringify(queueUrlMap(env.resources)),
        LEASE_SECONDS: String(env.config.leaseSeconds),
        RETENTION_SECONDS: String(env.config.retentionSeconds),
        EVENT: JSON.stringify(event),
      },
    });
    let childOutput = '';
    child.stdout.on('data', (chunk: Buffer) => (childOutput += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (childOutput += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );

    // Kill the moment the send request reaches "SQS": the put is done, the send never completes.
    const outcome = await Promise.race([silent.firstRequest.then(() => 'sending' as const), exited.then(() => 'exited' as const)]);
    child.kill('SIGKILL');
    const exit = await exited;
    await silent.stop();
    const leftBehind = await recordOf(key);
    const leaseMs = env.config.leaseSeconds * 1000;
    const withinLease = await env.receiver()(toEvent(delivery));
    const afterLease = await env.receiver({ clock: () => Date.now() + leaseMs + 1_000 })(toEvent(delivery));
    const later = await env.receiver({ clock: () => Date.now() + leaseMs + 2_000 })(toEvent(delivery));

    expect(outcome, `child exited before sending: ${childOutput}`).toBe('sending');
    expect(exit.signal).toBe('SIGKILL');
    expect(childOutput).not.toContain('"status"');
    expect(leftBehind).toMatchObject({ status: 'in_progress', leaseToken: expect.any(String) });
    expect(withinLease.statusCode).toBe(409);
    expect(bodyOf(withinLease)).toMatchObject({ error: 'in_progress' });
    expect(bodyOf(afterLease)).toEqual({ status: 'accepted', key });
    expect(bodyOf(later)).toMatchObject({ status: 'duplicate', state: 'queued' });
    expect((await routeDepth('fine_tune.completed')) - before).toBe(1);
  });
});
