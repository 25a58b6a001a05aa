import { DeleteCommand, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import { acceptDepsFor, acceptEvent } from '../../functions/core/accept';
import { eventKey, type NormalizedEvent, type ProviderName } from '../../functions/core/event';
import { normalizeDelivery } from '../../functions/core/normalize';
import { isPayloadItemKey, payloadItemKey } from '../../functions/core/payload-item';
import { PROVIDERS } from '../../functions/core/providers';
import { verifySignature, type SignatureSpec } from '../../functions/core/verify';
import { buildDelivery } from '../../ops/deliveries';
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
