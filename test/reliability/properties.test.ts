import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadRequestError, UnauthorizedError } from '../../functions/core/errors';
import { normalizedEventSchema, PROVIDER_NAMES } from '../../functions/core/event';
import { normalizeDelivery } from '../../functions/core/normalize';
import { PROVIDERS } from '../../functions/core/providers';
import { signDelivery } from '../../functions/core/sign';
import { verifySignature, type SignatureSpec, type Verified } from '../../functions/core/verify';

/**
 * Properties of the pure core over arbitrary input: what the signer signs the verifier accepts,
 * any one-byte change is refused with an UnauthorizedError and nothing else, and normalization
 * of any authenticated JSON either yields a valid event or a 400/401.
 */

const NOW = 1_764_000_000;
const RETENTION_SECONDS = 7 * 86_400;
const RUNS = 300;

const SPECS: Record<string, SignatureSpec> = {
  'hmac-hex': PROVIDERS.llmtune.signatureSchemes.body as SignatureSpec,
  'hmac-hex-timestamped': PROVIDERS.together.signatureSchemes.timestamped as SignatureSpec,
  standard: PROVIDERS.standard.signatureSchemes.standard as SignatureSpec,
};
const SCHEMES = Object.keys(SPECS);

/** A secret as the scheme expects it: any non-blank string, or `whsec_` + base64 of 24–64 key bytes. */
const secretFor = (scheme: string) =>
  scheme === 'standard'
    ? fc.uint8Array({ minLength: 24, maxLength: 64 }).map((key) => `whsec_${Buffer.from(key).toString('base64')}`)
    : fc.string({ minLength: 1, maxLength: 64, unit: 'binary' }).filter((secret) => secret.trim() !== '');

/** Standard Webhooks message ids are tokens; headers never carry commas or edge whitespace. */
const messageId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);

const deliveryArbitrary = (scheme: string) =>
  fc.record({
    body: fc.uint8Array({ maxLength: 2048 }),
    secret: secretFor(scheme),
    // Anywhere inside the tolerance window, both directions.
    timestampSeconds: fc.integer({ min: NOW - 300, max: NOW + 300 }),
    id: messageId,
  });

function signedHeaders(scheme: string, input: { body: Uint8Array; secret: string; timestampSeconds: number; id: string }) {
  return signDelivery({ spec: SPECS[scheme] as SignatureSpec, body: input.body, secret: input.secret, timestampSeconds: input.timestampSeconds, id: input.id });
}

/** The error a verification throws, or undefined when it passes. */
function verifyError(spec: SignatureSpec, headers: Record<string, string>, body: Uint8Array, secret: string): unknown {
  try {
    verifySignature({ spec, headers, body, secrets: [secret], nowSeconds: NOW });
    return undefined;
  } catch (error) {
    return error;
  }
}

/** `value` with the character at `index` replaced by a different one (any code unit 0–255). */
const changedString = (value: string) =>
  fc
    .record({ index: fc.nat({ max: value.length - 1 }), replacement: fc.integer({ min: 0, max: 255 }) })
    .filter(({ index, replacement }) => value.charCodeAt(index) !== replacement)
    .map(({ index, replacement }) => `${value.slice(0, index)}${String.fromCharCode(replacement)}${value.slice(index + 1)}`);

/**
 * Whether two signature header values carry the same MAC. Hex is case-insensitive, and the last
 * base64 character of a 32-byte MAC has two unused bits: those changes re-encode the same bytes,
 * so they are not a change to the signature and are excluded from the tamper property.
 */
function sameMac(scheme: string, a: string, b: string): boolean {
  if (scheme === 'standard') {
    const decode = (value: string) => (/^v1,[A-Za-z0-9+/]{43}=$/.test(value) ? Buffer.from(value.slice(3), 'base64').toString('hex') : value);
    return decode(a) === decode(b);
  }
  return a.toLowerCase() === b.toLowerCase();
}

describe.each(SCHEMES)('%s signatures', (scheme) => {
  const spec = SPECS[scheme] as SignatureSpec;

  it('verify accepts what sign produces, for any body bytes and any secret', () => {
    fc.assert(
      fc.property(deliveryArbitrary(scheme), (input) => {
        const headers = signedHeaders(scheme, input);

        const verified = verifySignature({ spec, headers, body: input.body, secrets: [input.secret], nowSeconds: NOW });

        expect(verified.signedAtSeconds).toBe(spec.timestampHeader === undefined ? undefined : input.timestampSeconds);
        expect(verified.headerId).toBe(spec.idHeader === undefined ? undefined : input.id);
      }),
      { numRuns: RUNS },
    );
  });

  it('any single-byte change to the body is refused with UnauthorizedError', () => {
    fc.assert(
      fc.property(
        deliveryArbitrary(scheme).filter((input) => input.body.length > 0),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (input, position, xor) => {
          const headers = signedHeaders(scheme, input);
          const body = Uint8Array.from(input.body);
          const index = position % body.length;
          body[index] = (body[index] as number) ^ xor;

          const error = verifyError(spec, headers, body, input.secret);

          expect(error).toBeInstanceOf(UnauthorizedError);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('any single-byte change to the signature header that changes the MAC is refused with UnauthorizedError', () => {
    fc.assert(
      fc.property(
        deliveryArbitrary(scheme).chain((input) => {
          const headers = signedHeaders(scheme, input);
          const original = headers[spec.signatureHeader] as string;
          return fc.tuple(fc.constant(input), fc.constant(headers), changedString(original).filter((changed) => !sameMac(scheme, original, changed)));
        }),
        ([input, headers, changed]) => {
          const error = verifyError(spec, { ...headers, [spec.signatureHeader]: changed }, input.body, input.secret);

          expect(error).toBeInstanceOf(UnauthorizedError);
        },
      ),
      { numRuns: RUNS },
    );
  });

  if (spec.timestampHeader !== undefined) {
    const timestampHeader = spec.timestampHeader;
    it('any single-byte change to the timestamp header is refused with UnauthorizedError', () => {
      fc.assert(
        fc.property(
          deliveryArbitrary(scheme).chain((input) => {
            const headers = signedHeaders(scheme, input);
            return fc.tuple(fc.constant(input), fc.constant(headers), changedString(headers[timestampHeader] as string));
          }),
          ([input, headers, changed]) => {
            const error = verifyError(spec, { ...headers, [timestampHeader]: changed }, input.body, input.secret);

            expect(error).toBeInstanceOf(UnauthorizedError);
          },
        ),
        { numRuns: RUNS },
      );
    });
  }

  if (spec.idHeader !== undefined) {
    const idHeader = spec.idHeader;
    it('any single-byte change to the webhook-id header is refused with UnauthorizedError', () => {
      fc.assert(
        fc.property(
          deliveryArbitrary(scheme).chain((input) => {
            const headers = signedHeaders(scheme, input);
            // Leading and trailing spaces are not part of a header value on the wire (RFC 9110).
            return fc.tuple(
              fc.constant(input),
              fc.constant(headers),
              changedString(headers[idHeader] as string).filter((changed) => changed.trim() !== input.id),
            );
          }),
          ([input, headers, changed]) => {
            const error = verifyError(spec, { ...headers, [idHeader]: changed }, input.body, input.secret);

            expect(error).toBeInstanceOf(UnauthorizedError);
          },
        ),
        { numRuns: RUNS },
      );
    });
  }

  it('arbitrary signature, timestamp and id header values never throw anything but UnauthorizedError', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(spec.signatureHeader, spec.timestampHeader ?? 'x-other', spec.idHeader ?? 'x-other-id', 'X-Mixed-Case'),
          fc.string({ maxLength: 200, unit: 'binary' }),
        ),
        fc.uint8Array({ maxLength: 256 }),
        (headers, body) => {
          const error = verifyError(spec, headers, body, `whsec_${Buffer.from('secret-key-bytes-of-32-for-tests').toString('base64')}`);

          expect(error === undefined || error instanceof UnauthorizedError).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('standard secrets', () => {
  const spec = SPECS.standard as SignatureSpec;

  it('forgery with a degenerate Standard Webhooks secret: no secret string ever gives a key outside 24–64 bytes; the rest are refused with 503 secret_invalid', () => {
    const base64ish = fc.stringMatching(/^(?:whsec_)?[A-Za-z0-9+/=!_ -]{0,100}$/);
    fc.assert(
      fc.property(fc.oneof(base64ish, fc.string({ maxLength: 100, unit: 'binary' })), (secret) => {
        const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
        const headers = { 'webhook-id': 'msg_p', 'webhook-timestamp': String(NOW), 'webhook-signature': `v1,${createHmac('sha256', key).update(`msg_p.${NOW}.`).digest('base64')}` };

        const error = verifyError(spec, headers, new Uint8Array(), secret);

        if (error === undefined) expect(key.length).toBeGreaterThanOrEqual(24);
        if (error === undefined) expect(key.length).toBeLessThanOrEqual(64);
        if (key.length < 24 || key.length > 64) expect(error).toMatchObject({ statusCode: 503, reason: 'secret_invalid' });
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- normalization -----------------------------------------------------------------------------

/** Every provider with every scheme it can be deployed with. */
const DEPLOYMENTS = PROVIDER_NAMES.flatMap((name) =>
  Object.entries(PROVIDERS[name].signatureSchemes).map(([schemeName, spec]) => ({ label: `${name} (${schemeName})`, provider: PROVIDERS[name], spec })),
);

/** Values a timestamp field might hold, including the absurd. */
const timestampValue = fc.oneof(
  fc.integer({ min: NOW - 2 * RETENTION_SECONDS, max: NOW + 600 }),
  fc.double(),
  fc.integer(),
  fc.constantFrom(1e20, -1, 8.64e12, 8.64e12 + 1, Number.MAX_SAFE_INTEGER, 0),
  fc.string(),
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom('275760-09-13T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '999999999999', '2026-02-30T00:00:00Z', ''),
  fc.jsonValue(),
);

const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('fine_tune.completed', 'batch.completed', 'training.completed', 'batch.done'));

/** Objects shaped like some provider's envelope, with every field possibly wrong. */
const envelopeLike = fc.record(
  {
    id: fc.oneof(text, fc.jsonValue()),
    type: fc.oneof(text, fc.jsonValue()),
    event: fc.oneof(text, fc.jsonValue()),
    object: fc.constant('event'),
    created: timestampValue,
    created_at: timestampValue,
    deliveredAt: timestampValue,
    data: fc.oneof(
      fc.jsonValue(),
      fc.record({ object: fc.oneof(fc.record({ id: fc.oneof(text, fc.jsonValue()) }), fc.jsonValue()), id: fc.oneof(text, fc.jsonValue()), jobId: text }, { requiredKeys: [] }),
    ),
  },
  { requiredKeys: [] },
);

const anyJsonBody = fc.oneof(
  envelopeLike.map((value) => JSON.stringify(value)),
  fc.object().map((value) => JSON.stringify(value)),
  fc.jsonValue().map((value) => JSON.stringify(value) ?? ''),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

const verifiedArbitrary: fc.Arbitrary<Verified> = fc.record(
  { signedAtSeconds: fc.integer({ min: NOW - 300, max: NOW + 300 }), headerId: fc.oneof(messageId, fc.string({ unit: 'binary', maxLength: 300 })) },
  { requiredKeys: [] },
);

describe.each(DEPLOYMENTS)('normalization for $label', ({ provider, spec }) => {
  it('of any authenticated body yields a valid NormalizedEvent or throws BadRequestError/UnauthorizedError, nothing else', () => {
    fc.assert(
      fc.property(anyJsonBody, verifiedArbitrary, (json, verified) => {
        let outcome: unknown;
        try {
          outcome = normalizeDelivery({
            provider,
            spec,
            body: Buffer.from(json, 'utf8'),
            verified,
            receivedAtMs: NOW * 1000,
            retentionSeconds: RETENTION_SECONDS,
          });
        } catch (error) {
          outcome = error;
        }

        if (outcome instanceof Error) {
          expect(outcome instanceof BadRequestError || outcome instanceof UnauthorizedError, String(outcome)).toBe(true);
        } else {
          expect(normalizedEventSchema().safeParse(outcome).success).toBe(true);
          expect((outcome as { provider: string }).provider).toBe(provider.name);
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
