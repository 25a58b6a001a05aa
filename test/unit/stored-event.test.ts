import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { recordStates, SAMPLE_DELIVERIES } from '../../bench/record-sizes';
import { envelopeFields } from '../../functions/core/accept';
import { PROVIDER_NAMES, SCHEMA_VERSION, type NormalizedEvent, type ProviderName } from '../../functions/core/event';
import { itemBytes } from '../../functions/core/item-size';
import { normalizeDelivery } from '../../functions/core/normalize';
import { CURRENT_DICTIONARY, PAYLOAD_DICTIONARIES } from '../../functions/core/payload-dictionaries';
import { isPayloadItemKey, payloadItemKey, payloadItemOf } from '../../functions/core/payload-item';
import { MIN_RECORD_RETENTION_SECONDS } from '../../functions/core/table';
import { PROVIDERS } from '../../functions/core/providers';
import { PROVIDER_SAMPLES } from '../../functions/core/providers/samples';
import { eventFromStored, packPayload, RECORD_BUDGET_BYTES, storedPayload, StoredEventError, unpackPayload } from '../../functions/core/stored-event';
import { withinBytes } from '../../functions/consumers/ledger';
import { verifySignature, type SignatureSpec } from '../../functions/core/verify';
import { buildDelivery } from '../../ops/deliveries';

const NOW_SECONDS = 1_764_590_400;
const RETENTION_SECONDS = 15 * 86_400;

/** A sample delivery of the provider, normalized as the receiver does. */
function sampleEvent(provider: ProviderName, type: string, id = 'evt_9b1c2d3e4f5a6b7c8d9e0f1a'): NormalizedEvent {
  const definition = PROVIDERS[provider];
  const spec = definition.signatureSchemes[definition.defaultSignatureScheme] as SignatureSpec;
  const delivery = buildDelivery({ provider, type, nowSeconds: NOW_SECONDS, id });
  const verified = verifySignature({ spec, headers: delivery.headers, body: delivery.body, secrets: [definition.developmentSecret], nowSeconds: NOW_SECONDS });
  return normalizeDelivery({ provider: definition, spec, body: delivery.body, verified, receivedAtMs: NOW_SECONDS * 1000, retentionSeconds: RETENTION_SECONDS });
}

const everySample = PROVIDER_NAMES.flatMap((provider) => Object.keys(PROVIDER_SAMPLES[provider]).map((type) => [provider, type] as const));

describe('[REC] the event record in one write unit', () => {
  it.each(SAMPLE_DELIVERIES.map((sample) => [sample.provider, sample.type] as const))(
    '[REC] %s %s: the record is at most 1,024 B after its put, queued mark, claim, handled mark and a failed attempt with its error',
    (provider, type) => {
      const states = recordStates(provider, type);

      const sizes = [states.inProgress, states.queued, states.handling, states.handled, states.failed, states.retrying];

      expect(Math.max(...sizes)).toBeLessThanOrEqual(RECORD_BUDGET_BYTES);
      expect(states.writeUnits).toEqual([1, 1, 1, 1]);
    },
  );

  it('[REC] a 1 KB Replicate prediction stays inline, packed to under a third of its size', () => {
    const states = recordStates('replicate', 'prediction.succeeded');

    expect(states.payloadBytes).toBeGreaterThan(1_000);
    expect(states.inline).toBe(true);
    expect(states.packedBytes).toBeLessThan(states.payloadBytes / 3);
    expect(states.duplicateWriteUnits).toBe(1);
  });

  it('[REC] a 4 KB Replicate training goes to a payload item of one write unit, and every state of its record stays within 1,024 B', () => {
    const states = recordStates('replicate', 'training.processing');

    expect(states.payloadBytes).toBeGreaterThan(4_000);
    expect(states.inline).toBe(false);
    expect(states.payloadItemWriteUnits).toBe(1);
    expect(Math.max(states.inProgress, states.queued, states.handling, states.handled, states.failed, states.retrying)).toBeLessThanOrEqual(RECORD_BUDGET_BYTES);
    // A refused duplicate puts the payload item again, then is refused on the stored record.
    expect(states.duplicateWriteUnits).toBe(2);
  });

  it('[REC] a payload that would take the record past 1,024 B in its largest state is kept apart', () => {
    const event = sampleEvent('replicate', 'prediction.succeeded');
    const fields = envelopeFields(event, NOW_SECONDS + RETENTION_SECONDS, RETENTION_SECONDS);
    const padded = { pk: 'replicate#x', ...fields, subject: 's'.repeat(150) };

    const stored = storedPayload(event, padded);

    expect(itemBytes({ ...padded, payload: stored.bytes })).toBeLessThan(RECORD_BUDGET_BYTES);
    expect(stored.inline).toBe(false);
  });
});

describe('[RULE] inline or apart: the record’s largest state in one write unit', () => {
  /** The record's largest ordinary state (docs/reliability.md): a retry's claim after a failed attempt, a 120-byte error, two steps done. */
  const ISO = '2026-12-01T12:00:00.000Z';
  const LARGEST = {
    status: 'handling',
    leaseToken: '5f0c6c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f',
    leaseExpiresAt: 9_999_999_999,
    queuedAt: ISO,
    attempts: 99,
    steps: { alert: ISO, eventbridge: ISO },
    lastError: 'e'.repeat(120),
    failedAt: ISO,
  };

  it('[RULE] the payload stays inline exactly while the record in its largest state is at most 1,024 B, whatever state fields the record already holds', () => {
    const event = sampleEvent('replicate', 'prediction.succeeded');
    // Fields a record may hold already: a lease of its own, an earlier payload, a field left undefined.
    const held = { pk: 'replicate#evt_1', ...envelopeFields(event, NOW_SECONDS + RETENTION_SECONDS, RETENTION_SECONDS), leaseToken: 'x'.repeat(36), leaseExpiresAt: NOW_SECONDS, payload: new Uint8Array(40), note: undefined };
    const withSubject = (length: number) => ({ ...held, subject: 's'.repeat(length) });
    const largestBytes = (length: number) => itemBytes({ ...withSubject(length), ...LARGEST, payload: storedPayload(event, withSubject(length)).bytes });
    const edge = RECORD_BUDGET_BYTES - largestBytes(0);

    const inline = [edge - 1, edge, edge + 1].map((length) => [largestBytes(length), storedPayload(event, withSubject(length)).inline]);

    expect(inline).toEqual([
      [RECORD_BUDGET_BYTES - 1, true],
      [RECORD_BUDGET_BYTES, true],
      [RECORD_BUDGET_BYTES + 1, false],
    ]);
  });
});

describe('[REC] the packed payload', () => {
  it.each(everySample)('[REC] %s %s: the record’s attributes and its packed payload give back the very event', (provider, type) => {
    const event = sampleEvent(provider, type);
    const fields = envelopeFields(event, NOW_SECONDS + RETENTION_SECONDS, RETENTION_SECONDS);

    const back = eventFromStored(fields, packPayload(event));

    expect(JSON.stringify(back)).toBe(JSON.stringify(event));
  });

  it('[REC] keeps the canonical data of an event whose data does not come from its payload (the poller’s, read from the API)', () => {
    const pushed = sampleEvent('together', 'fine_tune.completed');
    const event = { ...pushed, data: { ...pushed.data, modelName: 'acme/from-the-api' } } as NormalizedEvent;
    const fields = envelopeFields(event, NOW_SECONDS + RETENTION_SECONDS, RETENTION_SECONDS);

    const bytes = packPayload(event);

    expect(unpackPayload(bytes).d).toEqual(event.data);
    expect(eventFromStored(fields, bytes)).toEqual(event);
  });

  it('[REC] an event without provider data comes back without it', () => {
    const { providerData: _dropped, ...event } = sampleEvent('openai', 'batch.completed');
    const fields = envelopeFields(event as NormalizedEvent, NOW_SECONDS + RETENTION_SECONDS, RETENTION_SECONDS);

    const back = eventFromStored(fields, packPayload(event as NormalizedEvent));

    expect(back).not.toHaveProperty('providerData');
    expect(back.schemaVersion).toBe(SCHEMA_VERSION);
  });

  it('[REC] bytes name their dictionary: a record packed with one this release lacks is refused with its id', () => {
    const bytes = packPayload(sampleEvent('together', 'fine_tune.completed'));
    const unknown = Uint8Array.from([250, ...bytes.subarray(1)]);

    expect(() => unpackPayload(unknown)).toThrow(/dictionary 250, which this release does not have/);
  });

  it('[REC] bytes packed without a dictionary (id 0) are read', () => {
    const content = Buffer.from(JSON.stringify({ o: '2026-12-01T12:00:00.000Z', p: { id: 'batch_1' } }));

    const read = unpackPayload(Uint8Array.from([0, ...deflateRawSync(content)]));

    expect(read).toEqual({ o: '2026-12-01T12:00:00.000Z', p: { id: 'batch_1' } });
  });

  it('[REC] corrupt bytes are a StoredEventError that names the dictionary, never the content', () => {
    const bytes = packPayload(sampleEvent('replicate', 'prediction.succeeded'));
    const corrupt = Uint8Array.from([bytes[0] ?? 0, 0xff, 0xff, 0xff]);

    expect(() => unpackPayload(corrupt)).toThrow(StoredEventError);
    expect(() => unpackPayload(corrupt)).toThrow(/dictionary 5\) does not inflate/);
  });

  it('[REC] dictionaries are never edited: each one stored bytes may name keeps its hash', () => {
    const hashes = Object.fromEntries(Object.entries(PAYLOAD_DICTIONARIES).map(([id, text]) => [id, createHash('sha256').update(text).digest('hex').slice(0, 16)]));

    expect(hashes).toEqual(PINNED_DICTIONARY_HASHES);
    for (const id of Object.values(CURRENT_DICTIONARY)) expect(PAYLOAD_DICTIONARIES[id]).toBeDefined();
  });

  it('[REC] dictionaries stay small: at most 1,200 bytes each, 3,000 in all', () => {
    const sizes = Object.values(PAYLOAD_DICTIONARIES).map((text) => Buffer.byteLength(text));

    expect(Math.max(...sizes)).toBeLessThanOrEqual(1_200);
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBeLessThanOrEqual(3_000);
  });

  it('[REC] a payload item’s key can never be a record’s, whatever the event id holds', () => {
    const key = payloadItemKey('together#evt_1', 'AbC-12_xyz09');

    expect(isPayloadItemKey(key)).toBe(true);
    for (const provider of PROVIDER_NAMES) expect(isPayloadItemKey(`${provider}#payload#AbC#together#evt_1`)).toBe(false);
  });
});

describe('[RULE] reading a stored record back', () => {
  const packed = (content: string) => Uint8Array.from([0, ...deflateRawSync(Buffer.from(content))]);
  const thrown = (read: () => unknown): unknown => {
    try {
      read();
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it.each([
    ['empty bytes', new Uint8Array(0), 'stored payload is empty'],
    ['JSON null', packed('null'), 'stored payload has no occurredAt'],
    ['a JSON string', packed('"2026-12-01T12:00:00.000Z"'), 'stored payload has no occurredAt'],
    ['an object without o', packed('{"p":{"id":"ft_1"}}'), 'stored payload has no occurredAt'],
    ['an object whose o is not a string', packed('{"o":1764590400}'), 'stored payload has no occurredAt'],
  ])('[RULE] %s is refused with a StoredEventError that says what is missing', (_, bytes, message) => {
    const error = thrown(() => unpackPayload(bytes));

    expect(error).toBeInstanceOf(StoredEventError);
    expect(error).toMatchObject({ name: 'StoredEventError', message });
  });

  it('[RULE] corrupt bytes are refused with zlib’s error kept as the cause', () => {
    const error = thrown(() => unpackPayload(Uint8Array.from([0, 0xff, 0xff, 0xff])));

    expect(error).toMatchObject({ name: 'StoredEventError', message: 'stored payload (dictionary 0) does not inflate to JSON' });
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it.each([
    ['an unknown provider', { provider: 'stripe' }, 'record of stripe#evt_1 names an unknown provider or route'],
    ['an unknown route', { route: 'charge.succeeded' }, 'record of together#evt_1 names an unknown provider or route'],
  ])('[RULE] a record naming %s is refused with a StoredEventError naming the record', (_, attributes, message) => {
    const event = sampleEvent('together', 'fine_tune.completed', 'evt_1');
    const fields = { ...envelopeFields(event, NOW_SECONDS + RETENTION_SECONDS, RETENTION_SECONDS), ...attributes } as Parameters<typeof eventFromStored>[0];

    expect(thrown(() => eventFromStored(fields, packPayload(event)))).toMatchObject({ name: 'StoredEventError', message });
  });

  it('[RULE] stored content that makes no valid event is refused, naming the record and the invalid fields', () => {
    const event = sampleEvent('together', 'fine_tune.completed', 'evt_1');
    const fields = envelopeFields(event, NOW_SECONDS + RETENTION_SECONDS, RETENTION_SECONDS);
    const bytes = packed(JSON.stringify({ o: 'yesterday', p: event.providerData, d: { ...event.data, modelName: 5 } }));

    expect(thrown(() => eventFromStored(fields, bytes))).toMatchObject({
      name: 'StoredEventError',
      message: 'stored event of together#evt_1 is not a normalized event: invalid occurredAt, data.modelName',
    });
  });

  it('[RULE] the first payload a process packs (a cold start) is packed with its provider’s dictionary and reads back', async () => {
    vi.resetModules();
    const fresh = await import('../../functions/core/stored-event');
    const event = sampleEvent('replicate', 'prediction.succeeded');
    const fields = envelopeFields(event, NOW_SECONDS + RETENTION_SECONDS, RETENTION_SECONDS);

    const bytes = fresh.packPayload(event);

    expect(bytes[0]).toBe(CURRENT_DICTIONARY.replicate);
    expect(JSON.stringify(fresh.eventFromStored(fields, bytes))).toBe(JSON.stringify(event));
  });
});

describe('[RULE] the payload item of a large payload', () => {
  it('[RULE] is named by its content (a 12-character hash): the same bytes give the same item, other bytes another beside it', () => {
    const bytes = packPayload(sampleEvent('replicate', 'training.processing'));
    const other = packPayload(sampleEvent('replicate', 'training.processing', 'evt_other'));

    const [first, again, changed] = [payloadItemOf('replicate#evt_1', bytes, 1_000), payloadItemOf('replicate#evt_1', bytes, 2_000), payloadItemOf('replicate#evt_1', other, 1_000)];

    expect(first.hash).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(first.item.pk).toBe(`payload#${first.hash}#replicate#evt_1`);
    expect(again.item.pk).toBe(first.item.pk);
    expect(changed.item.pk).not.toBe(first.item.pk);
  });

  it('[RULE] holds the packed bytes and outlives its record’s first expiry by a record lifetime', () => {
    const bytes = packPayload(sampleEvent('replicate', 'training.processing'));
    const expiresAt = NOW_SECONDS + RETENTION_SECONDS;

    const { hash, item } = payloadItemOf('replicate#evt_1', bytes, expiresAt);

    expect(item).toEqual({ pk: payloadItemKey('replicate#evt_1', hash), payload: bytes, expiresAt: expiresAt + MIN_RECORD_RETENTION_SECONDS });
  });
});

describe('[REC] lastError and note in UTF-8 bytes', () => {
  it('[REC] cuts a text at 300 UTF-8 bytes, never inside a character', () => {
    // 147 × 2 + 4 = 298 bytes; the next emoji would end at 302, and half of it is no character.
    const text = `${'é'.repeat(147)}😀😀`;

    const cut = withinBytes(text, 300);

    expect(cut).toBe(`${'é'.repeat(147)}😀`);
  });

  it('[RULE] a text of exactly 300 bytes is kept whole, and one of 301 is cut to 300', () => {
    expect(withinBytes('x'.repeat(300), 300)).toBe('x'.repeat(300));
    expect(withinBytes('x'.repeat(301), 300)).toBe('x'.repeat(300));
  });

  it('[RULE] an emoji across the bound is dropped whole, never kept as half a character', () => {
    // 297 + 4 = 301 bytes: the first half of the emoji would fit in 300 as a byte count, but is no character.
    expect(withinBytes(`${'x'.repeat(297)}😀`, 300)).toBe('x'.repeat(297));
    expect(withinBytes('a😀', 4)).toBe('a');
  });

  it('[RULE] a character at either end of the range written as two UTF-16 halves is dropped whole across the bound', () => {
    // U+10000 (halves D800 DC00) and U+10FFFD (halves DBFF DFFD), the first and the last such half.
    expect(withinBytes(`${'x'.repeat(297)}\u{10000}`, 300)).toBe('x'.repeat(297));
    expect(withinBytes(`${'x'.repeat(297)}\u{10FFFD}`, 300)).toBe('x'.repeat(297));
  });

  it('[REC] leaves a text within the bound as it is', () => {
    expect(withinBytes('openai: GET /batches/batch_1 answered 503', 300)).toBe('openai: GET /batches/batch_1 answered 503');
  });
});

/** The hash of each dictionary as first shipped: a changed dictionary must take a new id. */
const PINNED_DICTIONARY_HASHES: Record<string, string> = {
  '1': 'fd04b78491ee814e',
  '2': '0200fc34784eb60a',
  '3': 'f1bc89876adfb87e',
  '4': 'c10897baba0db8b3',
  '5': '53f5261f67a917df',
  '6': '27ec328a2d543019',
};
