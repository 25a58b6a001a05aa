import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { busDetailJson, busEntryBytes, busEntryFor, busSource, MAX_BUS_ENTRY_BYTES, publishedByReference } from '../../functions/core/bus';
import type { NormalizedEvent } from '../../functions/core/event';
import { ConsumerDependencyError } from '../../functions/consumers/errors';
import { eventBridgePublisher } from '../../functions/consumers/publish';
import { envelopeOf, paddedEvent } from '../support/bus';
import { normalizedEvent } from '../support/consumers';

/** An event whose whole entry is exactly `bytes` long (ASCII padding in the provider's data). */
function eventOfEntrySize(bytes: number): NormalizedEvent {
  const base = paddedEvent('', { id: 'evt_size' });
  const baseBytes = busEntryBytes({ Source: busSource(base.provider), DetailType: base.type, Detail: JSON.stringify(base) });
  return paddedEvent('x'.repeat(bytes - baseBytes), { id: 'evt_size', occurredAt: base.occurredAt, receivedAt: base.receivedAt });
}

describe('busEntryFor', () => {
  it('names the provider in source and the route in detail-type, with the event as detail', () => {
    const event = normalizedEvent({ provider: 'llmtune', type: 'batch.failed', providerType: 'batch.error' });

    const entry = busEntryFor(event);

    expect(entry).toEqual({ Source: 'ai-webhooks.llmtune', DetailType: 'batch.failed', Detail: JSON.stringify(event) });
  });

  it('keeps the whole event in an entry one byte under EventBridge’s limit', () => {
    const event = eventOfEntrySize(MAX_BUS_ENTRY_BYTES - 1);

    const entry = busEntryFor(event);

    expect(busEntryBytes(entry)).toBe(MAX_BUS_ENTRY_BYTES - 1);
    expect(JSON.parse(entry.Detail)).toEqual(event);
  });

  it('sends a reference for an entry at the limit: the envelope and the key, no data', () => {
    const event = eventOfEntrySize(MAX_BUS_ENTRY_BYTES);

    const detail = JSON.parse(busEntryFor(event).Detail);

    expect(detail).toEqual({ ...envelopeOf(event), truncated: true, key: `together#${event.id}` });
    expect(Object.keys(envelopeOf(event))).toEqual(expect.arrayContaining(['id', 'provider', 'type', 'subject', 'occurredAt', 'receivedAt']));
  });

  it('counts UTF-8 bytes, not characters', () => {
    // Two bytes a character: under the limit in characters, over it in bytes.
    const event = paddedEvent('é'.repeat(MAX_BUS_ENTRY_BYTES / 2 + 1));
    expect(JSON.stringify(event).length).toBeLessThan(MAX_BUS_ENTRY_BYTES);

    expect(JSON.parse(busEntryFor(event).Detail)).toMatchObject({ truncated: true });
  });
});

/** Every integer a JSON text writes (outside strings) below or above a signed 64-bit integer: what PutEvents refuses. */
function integersOutsideInt64(json: string): string[] {
  const tokens = json.match(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g) ?? [];
  return tokens.filter((token) => /^-?\d+$/.test(token) && (BigInt(token) > 2n ** 63n - 1n || BigInt(token) < -(2n ** 63n)));
}

describe('busEntryFor: numbers EventBridge takes', () => {
  // Parsed as the receiver parses a body: a JS number, the nearest double to what was sent.
  const payload = JSON.parse('{"seed": 18446744073709551615, "offset": -18446744073709551615, "tokens": 100000000000000000000, "step": 42, "lr": 0.0001}');

  it('[H3-6] writes every integer outside the signed 64-bit range as a string, in an entry EventBridge takes', () => {
    const event = normalizedEvent({ providerData: payload });

    const detail = busEntryFor(event).Detail;

    expect(integersOutsideInt64(detail)).toEqual([]);
    expect(JSON.parse(detail).providerData).toEqual({ seed: '18446744073709552000', offset: '-18446744073709552000', tokens: '100000000000000000000', step: 42, lr: 0.0001 });
  });

  it('[H3-6] keeps integers inside the signed 64-bit range as numbers', () => {
    const event = normalizedEvent({ providerData: { largest: 9_223_372_036_854_774_784, safe: Number.MAX_SAFE_INTEGER, negative: -42 } });

    const detail = JSON.parse(busEntryFor(event).Detail);

    expect(detail.providerData).toEqual({ largest: 9_223_372_036_854_774_784, safe: Number.MAX_SAFE_INTEGER, negative: -42 });
  });

  it('[RULE] a number JSON writes with an exponent is left as it is: it is not an integer EventBridge refuses', () => {
    expect(busDetailJson({ huge: 1e21, tiny: -1e300, fraction: 1.5e-7 })).toBe('{"huge":1e+21,"tiny":-1e+300,"fraction":1.5e-7}');
  });
});

describe('publishedByReference', () => {
  it.each([
    ['at the limit', MAX_BUS_ENTRY_BYTES, true],
    ['a third over it', Math.round(MAX_BUS_ENTRY_BYTES * 1.3), true],
    ['one byte under it', MAX_BUS_ENTRY_BYTES - 1, false],
    ['far under it', 1_000, false],
  ])('[RULE] an event whose entry is %s is published by reference exactly when busEntryFor makes it one, its JSON given or not', (_case, bytes, expected) => {
    const event = eventOfEntrySize(bytes);
    const byReference = busEntryFor(event).Detail !== JSON.stringify(event);

    expect(byReference).toBe(expected);
    expect(publishedByReference(event, JSON.stringify(event))).toBe(expected);
    expect(publishedByReference(event)).toBe(expected);
  });
});

describe('eventBridgePublisher', () => {
  const eventBridge = mockClient(EventBridgeClient);
  afterEach(() => eventBridge.reset());
  // The stub is on the class: the files after this one in its worker get the real client back.
  afterAll(() => eventBridge.restore());
  const entry = busEntryFor(normalizedEvent());

  it('passes the invocation’s trace header on to EventBridge when there is one', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
    const header = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

    await eventBridgePublisher({ client: new EventBridgeClient({}), eventBusName: 'bus', traceHeader: () => header }).publish(entry, { key: 'k' });
    await eventBridgePublisher({ client: new EventBridgeClient({}), eventBusName: 'bus', traceHeader: () => undefined }).publish(entry, { key: 'k' });

    const [traced, untraced] = eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.[0]);
    expect(traced).toEqual({ ...entry, EventBusName: 'bus', TraceHeader: header });
    expect(untraced).toEqual({ ...entry, EventBusName: 'bus' });
  });

  it('throws a dependency error naming the code when the entry is refused', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }] });

    const publishing = eventBridgePublisher({ client: new EventBridgeClient({}), eventBusName: 'bus' }).publish(entry, { key: 'together#evt_1' });

    await expect(publishing).rejects.toThrow(ConsumerDependencyError);
    await expect(publishing).rejects.toThrow('event bus bus refused together#evt_1: ThrottlingException slow down');
  });

  it('[RULE] a put that fails is a dependency error naming the event and the bus, carrying what EventBridge answered', async () => {
    const answer = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    eventBridge.on(PutEventsCommand).rejects(answer);

    const error = await eventBridgePublisher({ client: new EventBridgeClient({}), eventBusName: 'bus' }).publish(entry, { key: 'together#evt_3' }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect(error).toMatchObject({ message: 'could not put together#evt_3 on event bus bus', cause: answer });
  });

  it('[RULE] a refusal that names no entry is still a dependency error, saying no error code was given', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1 });

    const publishing = eventBridgePublisher({ client: new EventBridgeClient({}), eventBusName: 'bus' }).publish(entry, { key: 'together#evt_2' });

    await expect(publishing).rejects.toThrow(ConsumerDependencyError);
    await expect(publishing).rejects.toThrow(/^event bus bus refused together#evt_2: no error code$/);
  });
});
