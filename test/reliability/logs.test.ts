import { randomBytes, randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientConfig } from '../../functions/core/aws';
import { readReceiverConfig } from '../../functions/core/config';
import type { ProviderName } from '../../functions/core/event';
import { ROUTES } from '../../functions/core/routes';
import { receiverFromConfig, type ReceiverClients } from '../../functions/receiver/receive';
import { queueUrlMap } from '../../local/resources';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { closedPort, countStore, startFailingServer, waitFor } from './support/harness';
import { TARGET_NAMES, TARGETS, toEvent, wire, type Target, type Wire } from './support/wire';

/**
 * Runs the receiver and the consumers over good, bad and failing deliveries with every logger at
 * DEBUG, captures every byte written to stdout/stderr and every console call, and checks that no
 * signing secret (in any encoding), no signature and no payload content reached the logs.
 */

const MARKER = `PAYLOAD-MARKER-${randomUUID()}`;
const STANDARD_KEY = randomBytes(32);
const SECRETS: Record<ProviderName, string> = {
  together: `together-secret-${randomUUID()}`,
  llmtune: `llmtune-secret-${randomUUID()}`,
  mythicdot: `whsec_mythicdot-${randomUUID()}`,
  openai: `whsec_${randomBytes(32).toString('base64')}`,
  replicate: `whsec_${randomBytes(32).toString('base64')}`,
  standard: `whsec_${STANDARD_KEY.toString('base64')}`,
};
const secretOf = (target: Target) => SECRETS[TARGETS[target].provider];

/** Every form a secret could be logged in. */
const SECRET_FORMS: [string, string][] = Object.entries(SECRETS).flatMap(([provider, secret]) => {
  const bytes = Buffer.from(secret, 'utf8');
  const forms: [string, string][] = [
    [`${provider} secret`, secret],
    [`${provider} secret, base64`, bytes.toString('base64')],
    [`${provider} secret, base64url`, bytes.toString('base64url')],
    [`${provider} secret, hex`, bytes.toString('hex')],
  ];
  if (provider === 'standard') {
    forms.push(
      ['standard key, base64', STANDARD_KEY.toString('base64')],
      ['standard key, base64url', STANDARD_KEY.toString('base64url')],
      ['standard key, hex', STANDARD_KEY.toString('hex')],
    );
  }
  return forms;
});

const captured: string[] = [];
const sentSignatures: string[] = [];
const sentBase64Bodies: string[] = [];
let runtime: LocalRuntime;

const now = () => Math.floor(Date.now() / 1000);
const delivery = (target: Target, options: { body?: Buffer | string; timestampSeconds?: number; secret?: string } = {}): Wire => {
  const built = wire(target, {
    arrivalSeconds: now(),
    id: `evt_${randomUUID().replaceAll('-', '')}`,
    secret: options.secret ?? secretOf(target),
    data: { note: MARKER },
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.timestampSeconds === undefined ? {} : { timestampSeconds: options.timestampSeconds }),
  });
  sentSignatures.push(built.headers[TARGETS[target].signatureHeader] as string);
  return built;
};

async function post(target: Wire, method = 'POST'): Promise<number> {
  const response = await fetch(new URL(target.path, runtime.url), {
    method,
    headers: target.headers,
    ...(method === 'GET' ? {} : { body: target.body }),
  });
  await response.text();
  return response.status;
}

beforeAll(async () => {
  const record = (...args: unknown[]) => {
    captured.push(format(...args));
  };
  const recordWrite = (chunk: unknown) => {
    captured.push(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(recordWrite as typeof process.stdout.write);
  vi.spyOn(process.stderr, 'write').mockImplementation(recordWrite as typeof process.stderr.write);
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) vi.spyOn(console, method).mockImplementation(record);

  // The most talkative level: anything the code logs at any level is captured.
  const logger = new Logger({ serviceName: 'logs-under-test', logLevel: 'DEBUG' });
  runtime = await startLocalRuntime({
    env: {
      TOGETHER_WEBHOOK_SECRET: SECRETS.together,
      LLMTUNE_WEBHOOK_SECRET: SECRETS.llmtune,
      MYTHICDOT_WEBHOOK_SECRET: SECRETS.mythicdot,
      STANDARD_WEBHOOK_SECRET: SECRETS.standard,
      // Failed records come back within a second, so a poison message reaches its DLQ quickly.
      LOCAL_VISIBILITY_TIMEOUT_SECONDS: '1',
    },
    port: 0,
    dynamodbPort: 0,
    sqsPort: 0,
    logger,
  });

  // Good deliveries, each scheme, each carrying the marker; then the same again (duplicates).
  const good = TARGET_NAMES.filter((target) => target !== 'together-body').map((target) => delivery(target));
  for (const item of good) await post(item);
  for (const item of good) await post(item);

  // Bad deliveries, each carrying the marker somewhere in the request.
  await post(delivery('together', { secret: 'wrong-secret' }));
  await post(delivery('standard', { timestampSeconds: now() - 3_600 }));
  await post(delivery('mythicdot', { body: `not json ${MARKER}` }));
  await post(delivery('llmtune', { body: JSON.stringify([MARKER]) }));
  await post(delivery('together', { body: JSON.stringify({ type: 'fine_tune.completed', data: { note: MARKER } }) }));
  await post(delivery('mythicdot', { body: JSON.stringify({ id: 'evt_\u0000', type: 'x', data: { object: { note: MARKER } } }) }));
  await post(delivery('standard', { body: `{"type":"batch.completed","note":"${MARKER}"${' '.repeat(300 * 1024)}}` }));
  const binary = delivery('mythicdot', { body: Buffer.concat([Buffer.from(MARKER), Buffer.from([0xff, 0xfe])]) });
  sentBase64Bodies.push(binary.body.toString('base64'));
  await post(binary);
  await post(delivery('together'), 'GET');
  // Ids, types and the path are routing metadata, logged by design (the key); the marker stays out of them.
  await post({ ...delivery('together'), path: '/webhooks/not-a-provider' });

  // The same receiver code in-process, with failing dependencies and the body-only Together scheme.
  const config = readReceiverConfig({
    TABLE_NAME: runtime.resources.eventsTable,
    QUEUE_URLS: JSON.stringify(queueUrlMap(runtime.resources)),
    TOGETHER_SIGNATURE_SCHEME: 'body',
  });
  const failing = await startFailingServer();
  const clients: ReceiverClients = {
    documents: runtime.clients.documents,
    sqs: runtime.clients.sqs,
    getSecrets: async (provider) => [SECRETS[provider]],
    logger,
  };
  const inProcess = (overrides: Partial<ReceiverClients> = {}) => receiverFromConfig(config, { ...clients, ...overrides });
  await inProcess()(toEvent(delivery('together-body')));
  await inProcess({ sqs: new SQSClient(clientConfig({ endpoint: `http://127.0.0.1:${await closedPort()}` })) })(toEvent(delivery('llmtune')));
  await inProcess({ documents: DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: failing.endpoint }))) })(
    toEvent(delivery('mythicdot')),
  );
  await inProcess({ getSecrets: () => Promise.reject(new Error('injected: secret store unavailable')) })(toEvent(delivery('standard')));
  await failing.stop();

  // A poison message for a consumer: not a normalized event, carrying the marker.
  await runtime.clients.sqs.send(
    new SendMessageCommand({ QueueUrl: runtime.resources.queues.other.url, MessageBody: JSON.stringify({ note: MARKER, id: 42 }) }),
  );

  // Let the consumers finish: every route queue empty, the poison message in its DLQ.
  await waitFor(async () => {
    const counts = await countStore(runtime.clients, runtime.resources);
    return ROUTES.every((route) => counts.messages[route] === 0) && counts.messages['other DLQ'] === 1;
  }, 25_000);
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  vi.restoreAllMocks();
});

describe('log output of the receiver and the consumers', () => {
  it('was captured at every level the scenario reaches (the checks below can fail)', () => {
    const all = captured.join('\n');

    expect(all).toContain('event accepted');
    expect(all).toContain('duplicate delivery');
    expect(all).toContain('delivery rejected');
    expect(all).toContain('poison message');
    expect(all).toMatch(/"level":"DEBUG"|"level":"INFO"/);
  });

  it.each(SECRET_FORMS)('never contains the %s', (_label, form) => {
    expect(captured.join('\n')).not.toContain(form);
  });

  it('never contains a signature that was sent', () => {
    const all = captured.join('\n');

    expect(sentSignatures.filter((signature) => signature.length >= 32 && all.includes(signature))).toEqual([]);
  });

  it('never contains payload content (the marker placed in every body, raw or base64)', () => {
    const all = captured.join('\n');

    expect(all).not.toContain(MARKER);
    expect(sentBase64Bodies.filter((body) => all.includes(body))).toEqual([]);
  });
});
