import { describe, expect, it } from 'vitest';
import { BadRequestError, UnauthorizedError } from '../../functions/core/errors';
import { PROVIDERS } from '../../functions/core/providers';
import { PROVIDER_SAMPLES } from '../../functions/core/providers/samples';
import { llmtuneEventId } from '../../functions/core/providers/llmtune';
import { normalizeDelivery, type NormalizeInput } from '../../functions/core/normalize';
import { defineProvider } from '../../functions/core/providers/types';
import * as z from '../../functions/core/zod';
import type { SignatureSpec } from '../../functions/core/verify';

const NOW_MS = Date.parse('2026-11-01T16:45:13Z');
const NOW_S = NOW_MS / 1000;
const WEEK_S = 7 * 86_400;

function input(provider: keyof typeof PROVIDERS, body: unknown, overrides: Partial<NormalizeInput> = {}): NormalizeInput {
  const definition = PROVIDERS[provider];
  return {
    provider: definition,
    spec: definition.signatureSchemes[definition.defaultSignatureScheme] as SignatureSpec,
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    verified: {},
    receivedAtMs: NOW_MS,
    retentionSeconds: WEEK_S,
    ...overrides,
  };
}

describe('normalizeDelivery', () => {
  it('turns a Together delivery into the normalized event of the contract, schemaVersion 2', () => {
    const providerData = { fine_tune_id: 'ft-abc', model_name: 'acct/llama-ft-abc', eval_loss: 0.41 };
    const event = normalizeDelivery(input('together', { id: 'evt_123', type: 'fine_tune.completed', created: NOW_S - 1, data: providerData }));
    expect(event).toStrictEqual({
      id: 'evt_123',
      provider: 'together',
      type: 'fine_tune.completed',
      providerType: 'fine_tune.completed',
      subject: 'ft-abc',
      occurredAt: '2026-11-01T16:45:12.000Z',
      receivedAt: '2026-11-01T16:45:13.000Z',
      schemaVersion: 2,
      data: { jobId: 'ft-abc', modelName: 'acct/llama-ft-abc', evalLoss: 0.41 },
      providerData,
    });
  });

  it('routes Together batch.done to batch.completed', () => {
    expect(normalizeDelivery(input('together', { id: 'e', type: 'batch.done', data: { batch_id: 'b1' } })).type).toBe('batch.completed');
  });

  it('routes an unknown type to other and keeps the provider type', () => {
    const event = normalizeDelivery(input('together', { id: 'e', type: 'resource.created', data: {} }));
    expect([event.type, event.providerType]).toEqual(['other', 'resource.created']);
  });

  it('routes every sample of every provider to the route its map names', () => {
    for (const provider of Object.values(PROVIDERS)) {
      for (const [type, sample] of Object.entries(PROVIDER_SAMPLES[provider.name])) {
        const event = normalizeDelivery(
          input(provider.name, sample({ id: 'x1', nowSeconds: NOW_S }), { verified: { headerId: 'msg_x1', signedAtSeconds: NOW_S } }),
        );
        expect(event.type, `${provider.name} ${type}`).toBe(provider.routes[type] ?? 'other');
      }
    }
  });

  it('derives the same LLMTune id whatever the key order and delivery time', () => {
    const first = normalizeDelivery(input('llmtune', { event: 'training.completed', data: { jobId: 'j1', metrics: { loss: 1, tokens: 2 } }, deliveredAt: '2026-11-01T16:45:00Z' }));
    const retry = normalizeDelivery(input('llmtune', { deliveredAt: '2026-11-01T16:45:10Z', data: { metrics: { tokens: 2, loss: 1 }, jobId: 'j1' }, event: 'training.completed' }));
    expect(retry.id).toBe(first.id);
  });

  it('derives the LLMTune id as sha256 of type, newline and RFC 8785 canonical data', () => {
    // printf "training.started\n{\"a\":1,\"b\":[true,null]}" | sha256sum, computed outside the code.
    expect(llmtuneEventId('training.started', { b: [true, null], a: 1 })).toBe(
      'd46c8961bd320eb42e08fcd923d94874020a0fdc8dbbf3c7719971a79c59c67f',
    );
  });

  it('takes the Standard Webhooks id from the signed header', () => {
    const event = normalizeDelivery(input('standard', { type: 'batch.expired', data: { id: 'batch_1' } }, { verified: { headerId: 'msg_1', signedAtSeconds: NOW_S } }));
    expect([event.id, event.type, event.subject]).toEqual(['msg_1', 'batch.expired', 'batch_1']);
  });

  it('takes the MythicDot subject from data.object.id', () => {
    const event = normalizeDelivery(input('mythicdot', { id: 'evt_1', type: 'batch.completed', created: NOW_S, data: { object: { id: 'batch_abc' } } }));
    expect(event.subject).toBe('batch_abc');
  });

  it.each(['mythicdot', 'standard'] as const)('accepts a %s event whose object id is too long to be a subject, without a subject', (provider) => {
    const longId = 'x'.repeat(600);
    const body =
      provider === 'mythicdot'
        ? { id: 'evt_long', type: 'batch.completed', created: NOW_S, data: { object: { id: longId } } }
        : { type: 'batch.completed', data: { id: longId } };

    const event = normalizeDelivery(input(provider, body, { verified: { headerId: 'msg_long', signedAtSeconds: NOW_S } }));

    expect([event.type, event.subject]).toEqual(['batch.completed', undefined]);
  });

  it('rejects a body-only delivery whose body timestamp is older than the retention (401)', () => {
    const stale = input('mythicdot', { id: 'evt_1', type: 'batch.completed', created: NOW_S - WEEK_S - 1, data: {} });
    expect(() => normalizeDelivery(stale)).toThrow(UnauthorizedError);
  });

  it('accepts a body-only retry hours after its body timestamp', () => {
    const retry = input('mythicdot', { id: 'evt_1', type: 'batch.completed', created: NOW_S - 10.5 * 3600, data: {} });
    expect(normalizeDelivery(retry).id).toBe('evt_1');
  });

  it('rejects a body timestamp more than 300 s in the future (401)', () => {
    const future = input('llmtune', { event: 'training.started', data: { jobId: 'j' }, deliveredAt: new Date(NOW_MS + 301_000).toISOString() });
    expect(() => normalizeDelivery(future)).toThrow(UnauthorizedError);
  });

  it('leaves the body timestamp alone when the scheme signs a timestamp header', () => {
    const old = input('together', { id: 'e', type: 'fine_tune.failed', created: NOW_S - WEEK_S - 10, data: {} });
    expect(normalizeDelivery(old).id).toBe('e');
  });

  it.each([
    ['an empty body', ''],
    ['a body that is not JSON', 'not json'],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"evt"'],
    ['JSON null', 'null'],
    ['an envelope without id', { type: 'fine_tune.completed', data: {} }],
    ['a numeric id', { id: 42, type: 'fine_tune.completed', data: {} }],
    ['an envelope without type', { id: 'e', data: {} }],
    ['an id with a control character', { id: 'evt\u0000x', type: 'fine_tune.completed', data: {} }],
    ['an id over 256 characters', { id: 'e'.repeat(257), type: 'fine_tune.completed', data: {} }],
    ['an empty type', { id: 'e', type: '', data: {} }],
    ['an unreadable created time', { id: 'e', type: 'fine_tune.completed', created: 'yesterday', data: {} }],
  ])('rejects %s with a 400', (_name, body) => {
    expect(() => normalizeDelivery(input('together', body))).toThrow(BadRequestError);
  });

  it('rejects nesting deeper than 64 levels with a 400 that names the limit, before parsing', () => {
    const nested = (levels: number) => `{"id":"e","type":"t","data":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
    expect(() => normalizeDelivery(input('together', nested(65)))).toThrow(/more than 64 levels deep/);
    expect(normalizeDelivery(input('together', nested(64))).id).toBe('e');
  });

  it.each([
    ['a lone surrogate', '"evt_\\udc00"'],
    ['U+FFFE', '"evt_\uFFFE"'],
    ['the non-character U+FDEF', '"evt_\uFDEF"'],
    ['the non-character U+10FFFF', '"evt_\u{10FFFF}"'],
  ])('rejects an id holding %s with a 400 that names the rule', (_name, id) => {
    const body = `{"id":${id},"type":"fine_tune.completed","data":{}}`;
    expect(() => normalizeDelivery(input('together', body))).toThrow(/event id must not contain lone surrogates or non-characters/);
  });

  it('derives an LLMTune id from data that RFC 8785 cannot write (1e400, lone surrogates), distinct per value', () => {
    const id = (data: string) => normalizeDelivery(input('llmtune', `{"event":"training.started","data":${data}}`)).id;
    expect(id('{"a":"\\ud800","n":1e400}')).toBe(id('{"a":"\\ud800","n":1e400}'));
    expect(id('{"a":"\\ud800"}')).not.toBe(id('{"a":"\\ud801"}'));
    expect(id('{"b":1e400,"a":1}')).toBe(id('{"a":1,"b":null}'));
  });

  it('rejects a body that is not valid UTF-8 with a 400', () => {
    expect(() => normalizeDelivery({ ...input('together', ''), body: Buffer.from([0x7b, 0xff, 0x7d]) })).toThrow(BadRequestError);
  });

  it.each([
    ['an empty body', '', /^body is empty; expected a JSON object$/],
    ['a body that is not JSON', 'not json', /^body is not JSON$/],
    ['a JSON array', '[1,2]', /^body is JSON but not an object$/],
    ['JSON null', 'null', /^body is JSON but not an object$/],
    ['an envelope without id', { type: 'fine_tune.completed', data: {} }, /^not a together envelope: id: .*expected string/],
    ['an empty type', { id: 'e', type: '', data: {} }, /^event type must not be empty$/],
    ['an unreadable created time', { id: 'e', type: 'fine_tune.completed', created: 'yesterday', data: {} }, /^created must be Unix seconds or an ISO 8601 time$/],
  ])('[RULE] the 400 for %s tells the sender what is wrong', (_name, body, message) => {
    expect(() => normalizeDelivery(input('together', body))).toThrow(message);
  });

  it('[RULE] the 400 for a body that is not UTF-8 says so, not that it is not JSON', () => {
    const notUtf8 = { ...input('together', ''), body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]) };

    expect(() => normalizeDelivery(notUtf8)).toThrow(/^body is not valid UTF-8$/);
  });

  it('[RULE] the 400 for a wrong field deep in an envelope names its path', () => {
    const body = { id: 'evt_1', type: 'batch.completed', created: NOW_S, data: { object: { id: 5 } } };

    expect(() => normalizeDelivery(input('mythicdot', body))).toThrow(/^not a mythicdot envelope: data\.object\.id: .*expected string/);
  });

  it('[RULE] the 400 for an envelope its provider refuses as a whole names the body', () => {
    const provider = defineProvider<{ type: string }>({
      ...PROVIDERS.standard,
      envelope: () => z.looseObject({ type: z.string() }).check(z.refine((body) => body.type !== 'test', 'must not be a test event')),
      toFacts: (envelope) => ({ id: 'msg_1', providerType: envelope.type, providerData: undefined }),
      data: {},
    });

    expect(() => normalizeDelivery(input('standard', { type: 'test' }, { provider }))).toThrow(/^not a standard envelope: body: must not be a test event$/);
  });

  it.each([
    ['older than the retention', NOW_S - WEEK_S - 1, 'body_timestamp_too_old', /older than the idempotency retention/],
    ['more than 300 s in the future', NOW_S + 301, 'body_timestamp_in_future', /in the future/],
  ])('[RULE] a body timestamp %s is a 401 whose reason and logged message say which', (_name, created, reason, message) => {
    const delivery = input('mythicdot', { id: 'evt_1', type: 'batch.completed', created, data: {} });

    expect(() => normalizeDelivery(delivery)).toThrow(expect.objectContaining({ statusCode: 401, reason, message: expect.stringMatching(message) }));
  });

  it.each([
    ['a numeric string', '1764000000', '2025-11-24T16:00:00.000Z'],
    ['the last second with a four-digit year, as a numeric string', '253402300799', '9999-12-31T23:59:59.000Z'],
  ])('[RULE] a created time given as %s is when the event occurred', (_name, created, occurredAt) => {
    expect(normalizeDelivery(input('together', { id: 'e', type: 'fine_tune.completed', created, data: {} })).occurredAt).toBe(occurredAt);
  });

  it('[RULE] a created time past year 9999, as a numeric string, is a 400 that names the field', () => {
    const body = { id: 'e', type: 'fine_tune.completed', created: '253402300800', data: {} };

    expect(() => normalizeDelivery(input('together', body))).toThrow(/^created must be Unix seconds or an ISO 8601 time$/);
  });
});
