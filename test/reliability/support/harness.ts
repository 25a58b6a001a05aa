import { createHmac } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Webhook } from 'standardwebhooks';
import { PAYLOAD_ITEM_PREFIX } from '../../../functions/core/payload-item';
import { ROUTES } from '../../../functions/core/routes';
import type { LocalResources } from '../../../local/resources';
export { closedPort, waitFor } from '../../support/net';

/** What exists after a request: items in the events table and messages on every queue (routes and DLQs). */
export interface StoreCounts {
  readonly records: number;
  /** Messages per queue name (`fine_tune.completed`, `fine_tune.completed DLQ`, …), visible or not. */
  readonly messages: Readonly<Record<string, number>>;
  readonly totalMessages: number;
}

/**
 * Counts without consuming: a Scan with `Select: COUNT` and, per queue, visible + in-flight +
 * delayed messages. Reading a queue would hide messages from a later count; this does not.
 */
export async function countStore(
  clients: { documents: DynamoDBDocumentClient; sqs: SQSClient },
  resources: LocalResources,
): Promise<StoreCounts> {
  const queues = ROUTES.flatMap((route) => [
    [route, resources.queues[route].url] as const,
    [`${route} DLQ`, resources.queues[route].deadLetterUrl] as const,
  ]);
  const [records, depths] = await Promise.all([
    countRecords(clients.documents, resources.eventsTable),
    Promise.all(
      queues.map(async ([name, url]) => {
        const { Attributes = {} } = await clients.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
          }),
        );
        const depth =
          Number(Attributes.ApproximateNumberOfMessages ?? 0) +
          Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
          Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0);
        return [name, depth] as const;
      }),
    ),
  ]);
  const messages = Object.fromEntries(depths);
  return { records, messages, totalMessages: depths.reduce((sum, [, depth]) => sum + depth, 0) };
}

/** Items in a table, every page: a Scan counts at most 1 MB of items per call. */
async function countRecords(documents: DynamoDBDocumentClient, tableName: string): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      // Event records only: a payload item belongs to the record beside it.
      new ScanCommand({
        TableName: tableName,
        Select: 'COUNT',
        ConsistentRead: true,
        ExclusiveStartKey: start,
        FilterExpression: 'NOT begins_with(#pk, :payloadItem)',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':payloadItem': PAYLOAD_ITEM_PREFIX },
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return count;
}

/** The queues whose depth changed between two counts, with the change. */
export function queueDelta(before: StoreCounts, after: StoreCounts): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, depth] of Object.entries(after.messages)) {
    const change = depth - (before.messages[name] ?? 0);
    if (change !== 0) delta[name] = change;
  }
  return delta;
}


/** A TCP server that accepts connections and reads requests but never answers. */
export interface SilentServer {
  readonly endpoint: string;
  /** Resolves when the first byte of a request arrives. */
  readonly firstRequest: Promise<void>;
  /** How many connections it accepted. */
  connections(): number;
  stop(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let sawRequest!: () => void;
  const firstRequest = new Promise<void>((resolve) => {
    sawRequest = resolve;
  });
  const server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('data', () => sawRequest());
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    firstRequest,
    connections: () => accepted,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A plain HTTP server that answers every request with 500: a dependency that is up but failing. */
export async function startFailingServer(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const server = createHttpServer((_request, response) => {
    response.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
    response.end(JSON.stringify({ __type: 'InternalFailure', message: 'injected failure' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// Independent signers: node:crypto for the hex schemes, the standardwebhooks package for the
// standard scheme. Neither goes through functions/core/sign.ts.

/** Lower-case hex HMAC-SHA256 of `content`, the secret string's UTF-8 bytes as key. */
export function hexHmac(secret: string, content: Buffer | string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(content).digest('hex');
}

/** `v1,<base64>` as the Standard Webhooks reference library signs it. */
export function standardSignature(secret: string, id: string, timestampSeconds: number, body: Buffer | string): string {
  return new Webhook(secret).sign(id, new Date(timestampSeconds * 1000), body);
}

/**
 * The standard scheme's `v1,<base64>` over raw bytes, with node:crypto. The reference library
 * decodes the body as UTF-8 before signing, so it cannot sign bytes that are not UTF-8.
 */
export function standardSignatureOfBytes(secret: string, id: string, timestampSeconds: number, body: Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

