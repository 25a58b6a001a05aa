import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { envelopeFields } from '../../functions/core/accept';
import { PROVIDER_NAMES, type NormalizedEvent, type ProviderName } from '../../functions/core/event';
import { readDelivery } from '../../functions/core/normalize';
import { CURRENT_DICTIONARY, PAYLOAD_DICTIONARIES } from '../../functions/core/payload-dictionaries';
import { PROVIDERS } from '../../functions/core/providers';
import { PROVIDER_SAMPLES } from '../../functions/core/providers/samples';
import { eventFromStored, PACK_LEVEL, packPayload, unpackPayload } from '../../functions/core/stored-event';
import { verifySignature, type SignatureSpec } from '../../functions/core/verify';
import { buildDelivery } from '../../ops/deliveries';

const NOW_SECONDS = 1_764_590_400;
const RETENTION_SECONDS = 15 * 86_400;

/** A sample delivery of the provider, read as the receiver reads it. */
function sampleDelivery(provider: ProviderName, type: string) {
  const definition = PROVIDERS[provider];
  const spec = definition.signatureSchemes[definition.defaultSignatureScheme] as SignatureSpec;
  const delivery = buildDelivery({ provider, type, nowSeconds: NOW_SECONDS, id: 'evt_5c4d3e2f1a0b9c8d7e6f5a4b' });
  const verified = verifySignature({ spec, headers: delivery.headers, body: delivery.body, secrets: [definition.developmentSecret], nowSeconds: NOW_SECONDS });
  return readDelivery({ provider: definition, spec, body: delivery.body, verified, receivedAtMs: NOW_SECONDS * 1000, retentionSeconds: RETENTION_SECONDS });
}

const everySample = PROVIDER_NAMES.flatMap((provider) => Object.keys(PROVIDER_SAMPLES[provider]).map((type) => [provider, type] as const));

describe('[LEAN-RECEIVER] packing a delivery the receiver read', () => {
  it.each(everySample)('[LEAN-RECEIVER] %s %s: packed on the receiver’s word that data is derived, the record reads back as the very event', (provider, type) => {
    const { event, dataDerived } = sampleDelivery(provider, type);
    const fields = envelopeFields(event, NOW_SECONDS + RETENTION_SECONDS, RETENTION_SECONDS);

    const bytes = packPayload(event, { dataDerived });

    expect(dataDerived).toBe(true);
    expect(unpackPayload(bytes).d).toBeUndefined();
    expect(Buffer.from(bytes).equals(Buffer.from(packPayload(event)))).toBe(true);
    expect(JSON.stringify(eventFromStored(fields, bytes))).toBe(JSON.stringify(event));
  });

  it('[LEAN-RECEIVER] without the receiver’s word, an event whose data is not its payload’s keeps its data', () => {
    const { event: pushed } = sampleDelivery('together', 'fine_tune.completed');
    const event = { ...pushed, data: { ...pushed.data, modelName: 'acme/from-the-api' } } as NormalizedEvent;

    expect(unpackPayload(packPayload(event)).d).toEqual(event.data);
  });

  it('[LEAN-RECEIVER] a record packed at level 9, as earlier releases packed it, still reads back', () => {
    const { event } = sampleDelivery('replicate', 'prediction.succeeded');
    const fields = envelopeFields(event, NOW_SECONDS + RETENTION_SECONDS, RETENTION_SECONDS);
    const id = CURRENT_DICTIONARY.replicate;
    const content = Buffer.from(JSON.stringify({ o: event.occurredAt, p: event.providerData }));
    const level9 = deflateRawSync(content, { level: 9, dictionary: Buffer.from(PAYLOAD_DICTIONARIES[id] as string) });

    const back = eventFromStored(fields, Uint8Array.from([id, ...level9]));

    expect(PACK_LEVEL).not.toBe(9);
    expect(JSON.stringify(back)).toBe(JSON.stringify(event));
  });
});
