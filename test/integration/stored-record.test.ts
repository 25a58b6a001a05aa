import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import { acceptDepsFor, acceptEvent, MAX_STORED_EVENT_BYTES, readEventStatus, type AcceptDeps } from '../../functions/core/accept';
import { ReceiverError } from '../../functions/core/errors';
import { eventKey, type NormalizedEvent, type ProviderName } from '../../functions/core/event';
import { normalizeDelivery } from '../../functions/core/normalize';
import { isPayloadItemKey, payloadItemKey } from '../../functions/core/payload-item';
import { PROVIDERS } from '../../functions/core/providers';
import { verifySignature, type SignatureSpec } from '../../functions/core/verify';
import { buildDelivery } from '../../ops/deliveries';
import { listEvents } from '../../ops/events';
import { replayEvent } from '../../ops/replay';
import { normalizedEvent, queuedRecord, storedRecord } from '../support/consumers';
import { cliEnvOf, startEmulated, type Emulated } from '../support/emulated';
import { captureOutput } from '../unit/cli-support';

/** The three forms of an event record, read back by replay and `events show` alike. */

let env: Emulated;
let cliEnv: Record<string, string>;
beforeAll(async () => {
  env = await startEmulated();
  cliEnv = cliEnvOf(env);
});
afterAll(async () => {
  await env?.stop();
});

/** A sample delivery of the provider, normalized as the receiver does, received now. */
function sampleEvent(provider: ProviderName, type: string, id: string): NormalizedEvent {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const definition = PROVIDERS[provider];
  const spec = definition.signatureSchemes[definition.defaultSignatureScheme] as SignatureSpec;
  const delivery = buildDelivery({ provider, type, nowSeconds, id });
  const verified = verifySignature({ spec, headers: delivery.headers, body: delivery.body, secrets: [definition.developmentSecret], nowSeconds });
  return normalizeDelivery({ provider: definition, spec, body: delivery.body, verified, receivedAtMs: nowSeconds * 1000, retentionSeconds: 7 * 86_400 });
}

const accept = (event: NormalizedEvent) => acceptEvent(acceptDepsFor(env.config, { documents: env.clients.documents, sqs: env.clients.sqs }), event);

async function show(key: string): Promise<Record<string, unknown>> {
  const captured = captureOutput();
  const code = await run(['events', 'show', key, '--payload', '--json'], { output: captured.output, env: cliEnv, clock: () => Date.now() });
  expect(code, captured.stderr).toBe(0);
  return JSON.parse(captured.stdout) as Record<string, unknown>;
}

async function replayed(event: NormalizedEvent): Promise<unknown> {
  const outcome = await replayEvent({ documents: env.clients.documents, tableName: env.resources.eventsTable, sqs: env.clients.sqs, queues: env.resources.queues, clock: () => Date.now() }, eventKey(event));
  expect(outcome.result).toBe('replayed');
  const [message] = await env.drain(event.type);
  return JSON.parse(message?.Body ?? 'null');
}

async function payloadItems(): Promise<Record<string, unknown>[]> {
  const { Items = [] } = await env.clients.documents.send(new ScanCommand({ TableName: env.resources.eventsTable, ConsistentRead: true }));
  return Items.filter((item) => isPayloadItemKey(String(item.pk)));
}

describe('[REC] replay and events show read every form of a record', () => {
  it('[REC] a 1 KB payload kept inline: the record holds it packed, and replay and events show give the event the receiver queued', async () => {
    const event = sampleEvent('replicate', 'prediction.succeeded', 'evt_rec_inline');
    await accept(event);
    const [queued] = await env.drain(event.type);

    const record = await storedRecord(env, eventKey(event));

    expect(record?.payload).toBeInstanceOf(Uint8Array);
    expect(record).not.toHaveProperty('event');
    expect(JSON.parse(queued?.Body ?? 'null')).toEqual(event);
    expect((await show(eventKey(event))).event).toEqual(event);
    expect(await replayed(event)).toEqual(event);
  });

  it('[REC] a 4 KB payload in its own item, written once: replay and events show give the same event, and a duplicate rewrites the same item', async () => {
    const event = sampleEvent('replicate', 'training.processing', 'evt_rec_apart');
    const before = (await payloadItems()).length;
    await accept(event);
    await env.drain(event.type);

    const record = await storedRecord(env, eventKey(event));
    const duplicate = await accept(event);

    expect(record).not.toHaveProperty('payload');
    expect(typeof record?.payloadItem).toBe('string');
    expect(duplicate.status).toBe('duplicate');
    expect((await payloadItems()).length).toBe(before + 1);
    const { Item } = await env.clients.documents.send(
      new GetCommand({ TableName: env.resources.eventsTable, Key: { pk: payloadItemKey(eventKey(event), String(record?.payloadItem)) }, ConsistentRead: true }),
    );
    expect(Object.keys(Item ?? {}).sort()).toEqual(['expiresAt', 'payload', 'pk']);
    expect((await show(eventKey(event))).event).toEqual(event);
    expect(await replayed(event)).toEqual(event);
  });

  it('[REC] a record written before the packed form, its event as JSON: replay and events show give that event', async () => {
    const event = sampleEvent('together', 'fine_tune.completed', 'evt_rec_old');
    await queuedRecord(env, event);

    expect(typeof (await storedRecord(env, eventKey(event)))?.event).toBe('string');
    expect((await show(eventKey(event))).event).toEqual(event);
    expect(await replayed(event)).toEqual(event);
  });

  it('[REC] an event over EventBridge\'s 256 KB, published by its key, keeps its whole event as JSON in the record, where targets read it', async () => {
    const event = normalizedEvent({ id: 'evt_rec_by_reference', providerData: { logs: 'step 1 of 1000\n'.repeat(20_000) } });
    await accept(event);
    const [queued] = await env.drain(event.type);

    const record = await storedRecord(env, eventKey(event));

    expect(record).not.toHaveProperty('payload');
    expect(record).not.toHaveProperty('payloadItem');
    expect(JSON.parse(String(record?.event))).toEqual(event);
    expect(JSON.parse(queued?.Body ?? 'null')).toEqual(event);
  });

  it('[REC] a record whose payload item is gone: replay sends nothing and says so, events show says why there is no event', async () => {
    const event = sampleEvent('replicate', 'training.processing', 'evt_rec_gone');
    await accept(event);
    await env.drain(event.type);
    const record = await storedRecord(env, eventKey(event));
    await env.clients.documents.send(
      new DeleteCommand({ TableName: env.resources.eventsTable, Key: { pk: payloadItemKey(eventKey(event), String(record?.payloadItem)) } }),
    );

    const outcome = await replayEvent({ documents: env.clients.documents, tableName: env.resources.eventsTable, sqs: env.clients.sqs, queues: env.resources.queues, clock: () => Date.now() }, eventKey(event));
    const shown = await show(eventKey(event));

    expect(outcome).toMatchObject({ result: 'error', message: expect.stringMatching(/payload item of replicate#evt_rec_gone is gone.*not sent/) });
    expect(await env.drain(event.type)).toHaveLength(0);
    expect(shown.event).toBeUndefined();
    expect(shown.eventProblem).toMatch(/payload item .* is gone/);
  });
});

type DocumentsCommand = Parameters<DynamoDBDocumentClient['send']>[0];
/** The emulator's DynamoDB, with `fault` answering the commands it picks (undefined: DynamoDB answers). */
function documentsWith(fault: (command: DocumentsCommand) => Promise<unknown> | undefined): DynamoDBDocumentClient {
  return { send: (command: DocumentsCommand) => fault(command) ?? env.clients.documents.send(command) } as unknown as DynamoDBDocumentClient;
}
const throttled = () => Promise.reject(Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException' }));
const deadSqs = { send: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9324')) } as unknown as SQSClient;
/** The operator's warnings, as the logger receives them. */
function warnings() {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const logger = { warn: (message: string, fields: Record<string, unknown>) => void lines.push({ message, fields }) } as unknown as Pick<Logger, 'warn'>;
  return { lines, logger };
}
/** The accept on the emulators, with some of its clients replaced. */
function acceptWith(event: NormalizedEvent, clients: Partial<Pick<AcceptDeps, 'documents' | 'sqs' | 'logger'>>) {
  return acceptEvent(acceptDepsFor(env.config, { documents: env.clients.documents, sqs: env.clients.sqs, ...clients }), event);
}
/** What the accept threw, to assert what the receiver answers and logs with it. */
async function failure(accepting: Promise<unknown>): Promise<ReceiverError> {
  const error = await accepting.then(() => undefined, (thrown: unknown) => thrown);
  expect(error).toBeInstanceOf(ReceiverError);
  return error as ReceiverError;
}

describe('[RULE] the write path of an event', () => {
  it('[RULE] the message carries the attributes a subscriber filters on: eventId, provider and type, each a String', async () => {
    const event = normalizedEvent({ id: 'evt_rule_attributes' });
    await accept(event);

    const [message] = await env.drain(event.type);

    expect(message?.MessageAttributes).toMatchObject({
      eventId: { DataType: 'String', StringValue: 'evt_rule_attributes' },
      provider: { DataType: 'String', StringValue: 'together' },
      type: { DataType: 'String', StringValue: 'fine_tune.completed' },
    });
  });

  it('[RULE] an accepted event without a subject is listed by events list under the UTC day it was received', async () => {
    const { subject: _subject, ...event } = normalizedEvent({ id: 'evt_rule_listed' });
    const nowMs = Date.now();
    await accept(event);
    await env.drain(event.type);

    const listed = await listEvents({ documents: env.clients.documents, tableName: env.resources.eventsTable }, { sinceMs: nowMs - 60_000, nowMs: nowMs + 60_000 }, { provider: 'together' }, 100);

    expect(listed.map((summary) => summary.eventId)).toContain('evt_rule_listed');
    expect(await storedRecord(env, eventKey(event))).toMatchObject({ receivedDay: event.receivedAt.slice(0, 10) });
    expect(await storedRecord(env, eventKey(event))).not.toHaveProperty('subject');
  });

  it('[RULE] a normalized event over the stored limit is refused with 413 event_too_large, and nothing is written or sent', async () => {
    const event = normalizedEvent({ id: 'evt_rule_too_large', providerData: { logs: 'x'.repeat(MAX_STORED_EVENT_BYTES) } });

    const error = await failure(accept(event));

    expect(error).toMatchObject({ statusCode: 413, reason: 'event_too_large', message: `normalized event is over ${MAX_STORED_EVENT_BYTES} bytes` });
    expect(await storedRecord(env, eventKey(event))).toBeUndefined();
    expect(await env.drain(event.type)).toHaveLength(0);
  });

  it('[RULE] a normalized event of exactly the stored limit is accepted and sent whole', async () => {
    const base = normalizedEvent({ id: 'evt_rule_at_limit', providerData: { logs: '' } });
    const event = { ...base, providerData: { logs: 'x'.repeat(MAX_STORED_EVENT_BYTES - Buffer.byteLength(JSON.stringify(base))) } };
    expect(Buffer.byteLength(JSON.stringify(event))).toBe(MAX_STORED_EVENT_BYTES);

    const result = await accept(event);
    const [message] = await env.drain(event.type);

    expect(result.status).toBe('accepted');
    expect(JSON.parse(message?.Body ?? 'null')).toEqual(event);
  });

  it('[RULE] a payload kept in its own item outlives its record\'s expiry, so the record is never left without its payload', async () => {
    const event = sampleEvent('replicate', 'training.processing', 'evt_rule_item_expiry');
    const nowSeconds = Math.floor(Date.now() / 1000);
    await accept(event);
    await env.drain(event.type);

    const record = await storedRecord(env, eventKey(event));
    const { Item } = await env.clients.documents.send(
      new GetCommand({ TableName: env.resources.eventsTable, Key: { pk: payloadItemKey(eventKey(event), String(record?.payloadItem)) }, ConsistentRead: true }),
    );

    expect(record?.expiresAt).toBeGreaterThanOrEqual(nowSeconds + env.config.retentionSeconds);
    expect(Item?.expiresAt).toBeGreaterThanOrEqual(Number(record?.expiresAt));
  });

  it('[RULE] a small payload beside a long envelope (a 512-character subject) is kept in its own item, so the record stays within one write unit', async () => {
    const event = normalizedEvent({ id: 'evt_rule_long_envelope', subject: `ft-${'x'.repeat(509)}` });

    await accept(event);
    await env.drain(event.type);

    const record = await storedRecord(env, eventKey(event));
    expect(record).not.toHaveProperty('payload');
    expect(typeof record?.payloadItem).toBe('string');
  });

  it('[RULE] when its payload item cannot be written, the accept is a retryable 503 naming the payload write, the record is released, nothing is sent, and the retry gets through', async () => {
    const event = sampleEvent('replicate', 'training.processing', 'evt_rule_item_fails');
    const documents = documentsWith((command) => (command instanceof PutCommand && isPayloadItemKey(String(command.input.Item?.pk)) ? throttled() : undefined));

    const error = await failure(acceptWith(event, { documents }));
    const left = await storedRecord(env, eventKey(event));
    const sent = await env.drain(event.type);
    const retry = await accept(event);

    expect(error).toMatchObject({ statusCode: 503, reason: 'dynamodb_unavailable', message: 'could not write the event payload' });
    expect(String(error.cause)).toMatch(/allowed throughput/);
    expect(left).toBeUndefined();
    expect(sent).toHaveLength(0);
    expect(retry.status).toBe('accepted');
    expect(await env.drain(event.type)).toHaveLength(1);
  });

  it('[RULE] when the send fails, the accept is a retryable 503 saying the queue was unavailable, the record is released, and the retry gets through', async () => {
    const event = normalizedEvent({ id: 'evt_rule_send_fails' });

    const error = await failure(acceptWith(event, { sqs: deadSqs }));
    const left = await storedRecord(env, eventKey(event));
    const retry = await accept(event);

    expect(error).toMatchObject({ statusCode: 503, reason: 'sqs_unavailable', message: 'could not send the event to its queue' });
    expect(String(error.cause)).toMatch(/ECONNREFUSED/);
    expect(left).toBeUndefined();
    expect(retry.status).toBe('accepted');
    expect(await env.drain(event.type)).toHaveLength(1);
  });

  it('[RULE] when the send fails and the release fails too, the answer is still the 503 of the queue, the operator is warned with the key, and the record waits for its lease', async () => {
    const event = normalizedEvent({ id: 'evt_rule_release_fails' });
    const { lines, logger } = warnings();
    const documents = documentsWith((command) => (command instanceof DeleteCommand ? throttled() : undefined));

    const error = await failure(acceptWith(event, { sqs: deadSqs, documents, logger }));
    const unlogged = await failure(acceptWith(normalizedEvent({ id: 'evt_rule_release_fails_unlogged' }), { sqs: deadSqs, documents }));

    expect([error.reason, unlogged.reason]).toEqual(['sqs_unavailable', 'sqs_unavailable']);
    expect(lines).toEqual([
      { message: 'could not release the event record; its lease will expire', fields: { key: eventKey(event), error: expect.stringMatching(/allowed throughput/) } },
    ]);
    expect(await storedRecord(env, eventKey(event))).toMatchObject({ status: 'in_progress' });
  });

  it('[RULE] a DynamoDB failure on the put is a retryable 503 naming the record write, and nothing is sent', async () => {
    const event = normalizedEvent({ id: 'evt_rule_put_fails' });
    const documents = documentsWith((command) => (command instanceof PutCommand ? throttled() : undefined));

    const error = await failure(acceptWith(event, { documents }));

    expect(error).toMatchObject({ statusCode: 503, reason: 'dynamodb_unavailable', message: 'could not write the event record' });
    expect(String(error.cause)).toMatch(/allowed throughput/);
    expect(await env.drain(event.type)).toHaveLength(0);
  });

  it('[RULE] a put refused by another request\'s live lease is a 409 that names the event and says retry, also when that request releases the record before it is read', async () => {
    const [held, released] = [normalizedEvent({ id: 'evt_rule_held' }), normalizedEvent({ id: 'evt_rule_released' })];
    const lease = { status: 'in_progress', leaseToken: 'another-request', leaseExpiresAt: Math.floor(Date.now() / 1000) + 30 };
    await Promise.all([queuedRecord(env, held, lease), queuedRecord(env, released, lease)]);
    // The other request releases its record between the refused put and the read of its holder.
    const release = () => env.clients.documents.send(new DeleteCommand({ TableName: env.resources.eventsTable, Key: { pk: eventKey(released) } }));
    const releasing = documentsWith((command) => (command instanceof GetCommand ? release().then(() => env.clients.documents.send(command)) : undefined));

    const errors = [await failure(accept(held)), await failure(acceptWith(released, { documents: releasing }))];

    expect(errors.map((error) => [error.statusCode, error.reason, error.message])).toEqual(
      [held, released].map((event) => [409, 'in_progress', `${eventKey(event)} is being accepted by another request; retry`]),
    );
    expect(await env.drain(held.type)).toHaveLength(0);
    expect(await storedRecord(env, eventKey(released))).toBeUndefined();
  });

  it('[RULE] when the record that refused the put cannot be read, the accept is a retryable 503 naming the read', async () => {
    const event = normalizedEvent({ id: 'evt_rule_read_fails' });
    await queuedRecord(env, event);
    const documents = documentsWith((command) => (command instanceof GetCommand ? throttled() : undefined));

    const error = await failure(acceptWith(event, { documents }));

    expect(error).toMatchObject({ statusCode: 503, reason: 'dynamodb_unavailable', message: 'could not read the event record' });
    expect(String(error.cause)).toMatch(/allowed throughput/);
  });

  it('[RULE] as on DynamoDB, which returns the refusing record with the failed condition, a duplicate is answered from it, even while reads fail', async () => {
    const queued = normalizedEvent({ id: 'evt_rule_aws_duplicate' });
    const held = normalizedEvent({ id: 'evt_rule_aws_held' });
    await queuedRecord(env, queued);
    await queuedRecord(env, held, { status: 'in_progress', leaseToken: 'another-request', leaseExpiresAt: Math.floor(Date.now() / 1000) + 30 });
    // DynamoDB's ReturnValuesOnConditionCheckFailure: ALL_OLD, which the emulator does not give.
    const documents = documentsWith((command) => {
      if (command instanceof GetCommand) return throttled();
      if (!(command instanceof PutCommand)) return undefined;
      return env.clients.documents.send(command).catch(async (error: unknown) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const old = await storedRecord(env, String(command.input.Item?.pk));
        throw new ConditionalCheckFailedException({ message: error.message, $metadata: {}, Item: marshall(old ?? {}) });
      });
    });

    const duplicate = await acceptWith(queued, { documents });
    const conflict = await failure(acceptWith(held, { documents }));

    expect(duplicate).toEqual({ status: 'duplicate', key: eventKey(queued), state: 'queued' });
    expect(conflict).toMatchObject({ statusCode: 409, reason: 'in_progress' });
    expect(await env.drain(queued.type)).toHaveLength(0);
  });

  it('[RULE] where plain reads lag behind writes, as DynamoDB allows, a record written a moment ago is still seen: its duplicate is answered duplicate, and its status is read', async () => {
    const event = normalizedEvent({ id: 'evt_rule_lagging_read' });
    await queuedRecord(env, event);
    // An eventually consistent read may miss a write completed a moment ago: here it always does.
    const lagging = documentsWith((command) => (command instanceof GetCommand && command.input.ConsistentRead !== true ? Promise.resolve({}) : undefined));

    const duplicate = await acceptWith(event, { documents: lagging });
    const status = await readEventStatus(lagging, env.resources.eventsTable, eventKey(event));

    expect(duplicate).toEqual({ status: 'duplicate', key: eventKey(event), state: 'queued' });
    expect(status).toBe('queued');
  });

  it('[RULE] when the record cannot be marked queued after the send, the event is still accepted, once (with or without a logger), and the operator is warned with its key', async () => {
    const event = normalizedEvent({ id: 'evt_rule_mark_fails' });
    const { lines, logger } = warnings();
    const documents = documentsWith((command) => (command instanceof UpdateCommand ? throttled() : undefined));

    const result = await acceptWith(event, { documents, logger });

    expect(result).toEqual({ status: 'accepted', key: eventKey(event) });
    expect(await env.drain(event.type)).toHaveLength(1);
    expect(await acceptWith(normalizedEvent({ id: 'evt_rule_mark_fails_unlogged' }), { documents })).toMatchObject({ status: 'accepted' });
    expect(await env.drain(event.type)).toHaveLength(1);
    expect(lines).toEqual([
      { message: 'event sent but its record could not be marked queued', fields: { key: eventKey(event), error: expect.stringMatching(/allowed throughput/) } },
    ]);
  });

  it('[RULE] a consumer that moved the record on before the receiver marked it queued keeps its state, and nothing is logged', async () => {
    const event = normalizedEvent({ id: 'evt_rule_consumer_first' });
    const { lines, logger } = warnings();
    // A consumer that takes the message and finishes it before the receiver's mark.
    const fastConsumer = {
      send: async (command: SendMessageCommand) => {
        const sent = await env.clients.sqs.send(command);
        await env.clients.documents.send(
          new UpdateCommand({ TableName: env.resources.eventsTable, Key: { pk: eventKey(event) }, UpdateExpression: 'SET #status = :handled REMOVE leaseToken', ExpressionAttributeNames: { '#status': 'status' }, ExpressionAttributeValues: { ':handled': 'handled' } }),
        );
        return sent;
      },
    } as unknown as SQSClient;

    const result = await acceptWith(event, { sqs: fastConsumer, logger });

    expect(result.status).toBe('accepted');
    expect(await storedRecord(env, eventKey(event))).toMatchObject({ status: 'handled' });
    expect(lines).toEqual([]);
    await env.drain(event.type);
  });
});
