/**
 * Runs in its own process (see fork.ts): `startLocalRuntime` as `npm start` runs it, and beside it
 * on the same emulators a bare node:http server that does the same work with nothing around it.
 * The parent drives both with autocannon from its own process.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ConditionalCheckFailedException, GetItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { SCHEMA_VERSION, type NormalizedEvent } from '../functions/core/event';
import { PROVIDERS } from '../functions/core/providers';
import { FALLBACK_ROUTE, ROUTES, type Route } from '../functions/core/routes';
import { localClients, startLocalRuntime, type LocalClients, type LocalRuntime } from '../local/runtime';
import { PAYLOAD_ITEM_PREFIX } from '../functions/core/payload-item';
import { EVENTS_TABLE } from '../functions/core/table';
import { floorCommands } from './floor';

export type E2eRequest = { readonly command: 'drain'; readonly timeoutMs: number } | { readonly command: 'stop' };

export type E2eMessage =
  | { readonly kind: 'ready'; readonly runtimeUrl: string; readonly bareUrl: string }
  | { readonly kind: 'drained'; readonly drained: boolean; readonly drainMs: number; readonly statuses: Record<string, number> };

const TOGETHER = PROVIDERS.together;
const TOLERANCE_SECONDS = 300;

/**
 * The floor for the HTTP path: what a hand-written receiver does for a Together delivery. The
 * HMAC check with node:crypto inline, JSON.parse, the same record and message, the same
 * conditional put → send → update, and for a duplicate the same consistent read dynalite forces
 * on the receiver (it returns no item with a failed condition). No logging, no framework.
 */
function bareServer(clients: LocalClients, tableName: string, queueUrls: Readonly<Record<Route, string>>): Server {
  const key = Buffer.from(TOGETHER.developmentSecret, 'utf8');
  const reply = (response: import('node:http').ServerResponse, status: number, body: string) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(body);
  };
  return createServer(async (request, response) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const timestamp = request.headers['x-together-timestamp'];
      const signature = request.headers['x-together-signature'];
      const nowMs = Date.now();
      const nowSeconds = Math.floor(nowMs / 1000);
      if (typeof timestamp !== 'string' || typeof signature !== 'string' || Math.abs(nowSeconds - Number(timestamp)) > TOLERANCE_SECONDS) {
        return reply(response, 401, '{"error":"unauthorized"}');
      }
      const given = Buffer.from(signature, 'hex');
      const expected = createHmac('sha256', key).update(`${timestamp}.`).update(body).digest();
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return reply(response, 401, '{"error":"unauthorized"}');

      const envelope = JSON.parse(body.toString('utf8')) as { id: string; type: string; created?: number | string; data?: Record<string, unknown> };
      const route = TOGETHER.routes[envelope.type] ?? FALLBACK_ROUTE;
      const receivedAt = new Date(nowMs).toISOString();
      const data = envelope.data ?? {};
      const subject = [data.fine_tune_id, data.batch_id, data.model_id].find((value) => typeof value === 'string') as string | undefined;
      const occurredAt =
        typeof envelope.created === 'number' ? new Date(envelope.created * 1000).toISOString() : (envelope.created ?? receivedAt);
      // The route and its data come from one value, which TypeScript cannot follow through a union.
      const event = {
        id: envelope.id,
        provider: 'together',
        type: route,
        providerType: envelope.type,
        subject,
        occurredAt,
        receivedAt,
        schemaVersion: SCHEMA_VERSION,
        data: TOGETHER.canonicalData(route, envelope.data),
        providerData: envelope.data,
      } as NormalizedEvent;
      const pk = `together#${envelope.id}`;
      const commands = floorCommands(tableName, queueUrls[route], event, nowMs);
      try {
        await clients.dynamodb.send(commands.put);
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const { Item } = await clients.dynamodb.send(
          new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk } }, ConsistentRead: true, ProjectionExpression: '#s', ExpressionAttributeNames: { '#s': 'status' } }),
        );
        const state = Item?.status?.S;
        if (state === undefined || state === 'in_progress') return reply(response, 409, '{"error":"in_progress"}');
        return reply(response, 200, JSON.stringify({ status: 'duplicate', key: pk, state }));
      }
      await clients.sqs.send(commands.send);
      await clients.dynamodb.send(commands.update);
      return reply(response, 200, JSON.stringify({ status: 'accepted', key: pk }));
    } catch {
      if (!response.headersSent) reply(response, 500, '{"error":"internal_error"}');
    }
  });
}

/** Waits until every route queue is empty (consumers delete a message once its event is handled). */
async function drain(runtime: LocalRuntime, timeoutMs: number): Promise<Extract<E2eMessage, { kind: 'drained' }>> {
  const started = performance.now();
  let drained = false;
  while (performance.now() - started < timeoutMs) {
    const depths = await Promise.all(
      ROUTES.map(async (route) => {
        const { Attributes = {} } = await runtime.clients.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: runtime.resources.queues[route].url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
      }),
    );
    if (depths.every((depth) => depth === 0)) {
      drained = true;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const drainMs = performance.now() - started;
  // One full read at the end: every record's status, to show that empty queues mean handled events.
  const statuses: Record<string, number> = {};
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await runtime.clients.dynamodb.send(
      new ScanCommand({
        TableName: runtime.resources.eventsTable,
        ProjectionExpression: '#s',
        // Records only: a payload item (kept apart from its record) has no status.
        FilterExpression: 'NOT begins_with(#pk, :payloadItem)',
        ExpressionAttributeNames: { '#s': 'status', '#pk': EVENTS_TABLE.partitionKey },
        ExpressionAttributeValues: { ':payloadItem': { S: PAYLOAD_ITEM_PREFIX } },
        ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
      }),
    );
    for (const item of page.Items ?? []) {
      const status = item.status?.S ?? 'unknown';
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return { kind: 'drained', drained, drainMs: Math.round(drainMs), statuses };
}

async function main(): Promise<void> {
  // As deployed by default: without an event bus.
  const runtime = await startLocalRuntime({ env: {}, port: 0, dynamodbPort: 0, sqsPort: 0, eventBus: false });
  const bare = bareServer(localClients(runtime.emulators), runtime.config.tableName, runtime.config.queueUrls);
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
  process.send?.({ kind: 'ready', runtimeUrl: runtime.url, bareUrl } satisfies E2eMessage);
  process.on('message', (request: E2eRequest) => {
    if (request.command === 'drain') {
      drain(runtime, request.timeoutMs).then(
        (result) => process.send?.(result satisfies E2eMessage),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
      return;
    }
    bare.closeAllConnections();
    bare.close();
    runtime.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
