import { describe, expect, it, vi } from 'vitest';
import { incomingEventSchema, incomingRouteEventSchema, SCHEMA_VERSION } from '../../functions/core/event';
import { ROUTES, type Route } from '../../functions/core/routes';
import { defineProvider } from '../../functions/core/providers/types';
import * as z from '../../functions/core/zod';

// The functions' zod schemas are built on first use, not when their modules load: a cold start
// pays only for the schemas its first delivery needs. These tests hold the lazy paths to the
// answers of the eager ones, and show that loading builds nothing.

const RECEIVED_AT = '2026-11-01T16:45:13.000Z';

function candidate(route: Route, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'evt_1',
    provider: 'together',
    type: route,
    providerType: route,
    occurredAt: RECEIVED_AT,
    receivedAt: RECEIVED_AT,
    schemaVersion: SCHEMA_VERSION,
    data: {},
    ...overrides,
  };
}

/** Valid and broken events of a route: each field's failure modes, and the bidi rule of intake. */
function candidates(route: Route): Array<Record<string, unknown>> {
  return [
    candidate(route),
    candidate(route, { id: '\u202eevt' }),
    candidate(route, { id: '' }),
    candidate(route, { id: 'a\u0000b' }),
    candidate(route, { id: '\ud800' }),
    candidate(route, { providerType: '' }),
    candidate(route, { occurredAt: 'yesterday' }),
    candidate(route, { schemaVersion: 1 }),
    candidate(route, { provider: 'acme' }),
    candidate(route, { subject: '' }),
    candidate(route, { data: { jobId: '', batchId: 7, step: 'x', checkpoints: [{ step: -1 }], requestCounts: { total: 1.5 } } }),
    candidate(route, { data: 'not an object' }),
  ];
}

/** A signed-over Together `fine_tune.completed` delivery, as `readDelivery` takes it; `together` from the test's own fresh module graph. */
const togetherCompleted = <Provider>(together: Provider) => ({
  provider: together,
  spec: { scheme: 'hmac-hex' as const, signatureHeader: 'x-together-signature' },
  body: Buffer.from(JSON.stringify({ id: 'evt_1', type: 'fine_tune.completed', data: { fine_tune_id: 'ft-1' } })),
  verified: {},
  receivedAtMs: Date.parse(RECEIVED_AT),
  retentionSeconds: 86_400,
});

const outcome = (result: { success: boolean; error?: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } }) =>
  result.success ? 'valid' : result.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);

describe('schemas built on first use', () => {
  it('[LOAD] one route’s incoming schema answers every event of that route as the union of all routes does', () => {
    for (const route of ROUTES) {
      for (const event of candidates(route)) {
        expect(outcome(incomingRouteEventSchema(route).safeParse(event)), `${route} ${JSON.stringify(event)}`).toEqual(
          outcome(incomingEventSchema().safeParse(event)),
        );
      }
    }
  });

  it('[LOAD] a type that is no route gets the union’s answer from the per-route schema, never a TypeError', () => {
    for (const type of ['nope', 'constructor', '__proto__', 'toString', Object, 7]) {
      const event = candidate('other', { type });
      const result = incomingRouteEventSchema(type).safeParse(event);
      expect(result.success).toBe(false);
      expect(outcome(result)).toEqual(outcome(incomingEventSchema().safeParse(event)));
    }
  });

  it('[LOAD] loading the receiver’s modules and normalizing a delivery build no union of every route’s events', async () => {
    vi.resetModules();
    const event = await import('../../functions/core/event');
    const { PROVIDERS } = await import('../../functions/core/providers');
    const { readDelivery } = await import('../../functions/core/normalize');
    await import('../../functions/core/config');
    expect([event.eventEnvelopeSchema.built, event.normalizedEventSchema.built, event.incomingEventSchema.built]).toEqual([false, false, false]);

    const { event: normalized } = readDelivery(togetherCompleted(PROVIDERS.together));

    expect(normalized.data).toEqual({ jobId: 'ft-1' });
    expect([event.eventEnvelopeSchema.built, event.normalizedEventSchema.built, event.incomingEventSchema.built]).toEqual([true, false, false]);
  });

  it('[LOAD] packing a delivery’s record, as the receiver’s accept does, builds no union of every route’s events', async () => {
    vi.resetModules();
    const event = await import('../../functions/core/event');
    const { PROVIDERS } = await import('../../functions/core/providers');
    const { readDelivery } = await import('../../functions/core/normalize');
    const { packPayload, eventFromStored } = await import('../../functions/core/stored-event');
    const { event: normalized } = readDelivery(togetherCompleted(PROVIDERS.together));

    const bytes = packPayload(normalized);

    expect([event.normalizedEventSchema.built, event.incomingEventSchema.built]).toEqual([false, false]);
    const record = { provider: normalized.provider, eventId: normalized.id, route: normalized.type, providerType: normalized.providerType, subject: normalized.subject, receivedAt: normalized.receivedAt };
    expect(eventFromStored(record, bytes)).toEqual(normalized);
  });

  it('[LOAD] a provider builds its envelope schema on the first body it parses, once', () => {
    const build = vi.fn(() => z.looseObject({ id: z.string() }));
    const provider = defineProvider({
      name: 'together',
      signatureSchemes: {},
      defaultSignatureScheme: 'none',
      secretEnv: 'X',
      developmentSecret: 'x',
      routes: {},
      envelope: build,
      toFacts: (envelope) => ({ id: envelope.id, providerType: 't', providerData: undefined }),
      data: {},
    });
    expect(build).not.toHaveBeenCalled();

    const first = provider.parse({ id: 'a' }, {});
    const second = provider.parse({ id: 'b' }, {});

    expect([first.id, second.id]).toEqual(['a', 'b']);
    expect(build).toHaveBeenCalledTimes(1);
  });

  it('[LOAD] builtOnce builds on its first call and hands the same schema after', () => {
    const build = vi.fn(() => z.string());
    const schema = z.builtOnce(build);
    expect([schema.built, build.mock.calls.length]).toEqual([false, 0]);

    const first = schema();
    const second = schema();

    expect(first).toBe(second);
    expect([schema.built, build.mock.calls.length]).toEqual([true, 1]);
  });
});
