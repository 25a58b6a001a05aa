import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { UnauthorizedError } from '../../functions/core/errors';
import { PROVIDERS } from '../../functions/core/providers';
import { verifySignature, type SignatureSpec, type VerifyInput } from '../../functions/core/verify';

// Fixtures computed outside the code under test, with `openssl dgst -sha256 -hmac <secret>`.
const BODY = '{"id":"evt_fixture_1","type":"fine_tune.completed","created":1764000000,"data":{"fine_tune_id":"ft-1"}}';
const SECRET = 'whsec_fixture-secret';
const BODY_HEX = '40a49e9857a491ce7361895567597e7d7bba7b4c3436ae32a0205132fe5eef2a';
const TS = 1764000000;
const TIMESTAMPED_HEX = 'd9ece4a2119519da03c53ceca1019a4eec99f840f159b14835e0d4b390a7481b';
const OTHER_SECRET_BODY_HEX = '0d14ad039c47fb80fec2cf6a1a85472bfcbdf04b60b3bb50456fb41c0b1719b5';

// The Standard Webhooks public test vector (providers.md).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const body = (text: string) => Buffer.from(text, 'utf8');
const spec = (provider: keyof typeof PROVIDERS, scheme?: string): SignatureSpec => {
  const definition = PROVIDERS[provider];
  return definition.signatureSchemes[scheme ?? definition.defaultSignatureScheme] as SignatureSpec;
};
const HEX_BODY_SPEC = spec('together', 'body');
const TIMESTAMPED_SPEC = spec('together', 'timestamped');
const STANDARD_SPEC = spec('standard');

function reasonOf(input: VerifyInput): string {
  try {
    verifySignature(input);
  } catch (error) {
    expect(error).toBeInstanceOf(UnauthorizedError);
    return (error as UnauthorizedError).reason;
  }
  return 'verified';
}

describe('hmac-hex (body-only: Together body scheme, LLMTune, MythicDot)', () => {
  const base: VerifyInput = {
    spec: HEX_BODY_SPEC,
    headers: { 'x-together-signature': BODY_HEX },
    body: body(BODY),
    secrets: [SECRET],
    nowSeconds: TS,
  };

  it('accepts the signature of the raw body', () => {
    expect(reasonOf(base)).toBe('verified');
  });

  it('finds the header whatever its case', () => {
    expect(reasonOf({ ...base, headers: { 'X-Together-Signature': BODY_HEX } })).toBe('verified');
  });

  it('accepts a delivery signed with any active secret (rotation)', () => {
    expect(reasonOf({ ...base, headers: { 'x-together-signature': OTHER_SECRET_BODY_HEX }, secrets: [SECRET, 'second-secret'] })).toBe(
      'verified',
    );
  });

  it('rejects a missing signature header', () => {
    expect(reasonOf({ ...base, headers: {} })).toBe('missing_signature');
  });

  it('rejects an empty signature header', () => {
    expect(reasonOf({ ...base, headers: { 'x-together-signature': '' } })).toBe('missing_signature');
  });

  it('rejects a signature one character short as malformed, not with a thrown comparison error', () => {
    expect(reasonOf({ ...base, headers: { 'x-together-signature': BODY_HEX.slice(1) } })).toBe('malformed_signature');
  });

  it('rejects a signature one character long', () => {
    expect(reasonOf({ ...base, headers: { 'x-together-signature': `${BODY_HEX}0` } })).toBe('malformed_signature');
  });

  it('rejects a signature that is not hex', () => {
    expect(reasonOf({ ...base, headers: { 'x-together-signature': 'z'.repeat(64) } })).toBe('malformed_signature');
  });

  it('rejects a signature made with another secret', () => {
    expect(reasonOf({ ...base, headers: { 'x-together-signature': OTHER_SECRET_BODY_HEX } })).toBe('signature_mismatch');
  });

  it('rejects a body changed after signing', () => {
    expect(reasonOf({ ...base, body: body(BODY.replace('ft-1', 'ft-2')) })).toBe('signature_mismatch');
  });

  it('rejects a signature header repeated with different values', () => {
    expect(reasonOf({ ...base, headers: { 'x-together-signature': `${BODY_HEX},${OTHER_SECRET_BODY_HEX}` } })).toBe('repeated_header');
  });

  it('accepts a signature header repeated with the same value', () => {
    expect(reasonOf({ ...base, headers: { 'x-together-signature': `${BODY_HEX},${BODY_HEX}` } })).toBe('verified');
  });

  it('rejects when no secret is configured', () => {
    expect(reasonOf({ ...base, secrets: [] })).toBe('signature_mismatch');
  });
});

describe('hmac-hex-timestamped (Together default)', () => {
  const base: VerifyInput = {
    spec: TIMESTAMPED_SPEC,
    headers: { 'x-together-signature': TIMESTAMPED_HEX, 'x-together-timestamp': String(TS) },
    body: body(BODY),
    secrets: [SECRET],
    nowSeconds: TS,
  };

  it('accepts the signature of `${timestamp}.${body}`', () => {
    expect(reasonOf(base)).toBe('verified');
  });

  it.each([
    [299, 'verified'],
    [300, 'verified'],
    [301, 'timestamp_too_old'],
  ])('a timestamp %i s old is %s', (age, expected) => {
    expect(reasonOf({ ...base, nowSeconds: TS + age })).toBe(expected);
  });

  it.each([
    [299, 'verified'],
    [300, 'verified'],
    [301, 'timestamp_in_future'],
  ])('a timestamp %i s in the future is %s', (ahead, expected) => {
    expect(reasonOf({ ...base, nowSeconds: TS - ahead })).toBe(expected);
  });

  it('rejects a missing timestamp header', () => {
    expect(reasonOf({ ...base, headers: { 'x-together-signature': TIMESTAMPED_HEX } })).toBe('missing_timestamp');
  });

  it('rejects a timestamp that is not Unix seconds', () => {
    expect(reasonOf({ ...base, headers: { ...base.headers, 'x-together-timestamp': `${TS}abc` } })).toBe('malformed_timestamp');
  });

  it('rejects a timestamp header changed after signing', () => {
    expect(reasonOf({ ...base, headers: { ...base.headers, 'x-together-timestamp': String(TS + 1) }, nowSeconds: TS })).toBe(
      'signature_mismatch',
    );
  });

  it('rejects a timestamp header repeated with different values', () => {
    expect(reasonOf({ ...base, headers: { ...base.headers, 'x-together-timestamp': `${TS},${TS + 1}` } })).toBe('repeated_header');
  });

  it('rejects a body-only signature when the deployment uses timestamped signatures', () => {
    expect(reasonOf({ ...base, headers: { ...base.headers, 'x-together-signature': BODY_HEX } })).toBe('signature_mismatch');
  });
});

describe('standard (Standard Webhooks)', () => {
  const base: VerifyInput = {
    spec: STANDARD_SPEC,
    headers: { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature },
    body: body(VECTOR.body),
    secrets: [VECTOR.secret],
    nowSeconds: VECTOR.timestamp,
  };

  it('accepts the public test vector', () => {
    expect(reasonOf(base)).toBe('verified');
  });

  it('returns the signed id and timestamp', () => {
    expect(verifySignature(base)).toEqual({ headerId: VECTOR.id, signedAtSeconds: VECTOR.timestamp });
  });

  it('accepts a delivery signed by the reference library', () => {
    const payload = '{"type":"batch.completed","data":{"id":"batch_1"}}';
    const signature = new Webhook(VECTOR.secret).sign('msg_ref', new Date(VECTOR.timestamp * 1000), payload);
    const headers = { 'webhook-id': 'msg_ref', 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': signature };
    expect(reasonOf({ ...base, headers, body: body(payload) })).toBe('verified');
  });

  it('accepts when any of several listed signatures matches', () => {
    const headers = { ...base.headers, 'webhook-signature': `v1,${'A'.repeat(43)}= ${VECTOR.signature}` };
    expect(reasonOf({ ...base, headers })).toBe('verified');
  });

  it('skips signatures of other versions', () => {
    const headers = { ...base.headers, 'webhook-signature': `v2,whatever ${VECTOR.signature}` };
    expect(reasonOf({ ...base, headers })).toBe('verified');
  });

  it('accepts a secret given without its whsec_ prefix', () => {
    expect(reasonOf({ ...base, secrets: [VECTOR.secret.slice('whsec_'.length)] })).toBe('verified');
  });

  it('rejects a missing webhook-id', () => {
    const { 'webhook-id': _, ...headers } = base.headers;
    expect(reasonOf({ ...base, headers })).toBe('missing_id');
  });

  it('rejects a header with no v1 signature', () => {
    expect(reasonOf({ ...base, headers: { ...base.headers, 'webhook-signature': 'v2,abc' } })).toBe('malformed_signature');
  });

  it('rejects a v1 signature that is not base64 of 32 bytes', () => {
    expect(reasonOf({ ...base, headers: { ...base.headers, 'webhook-signature': 'v1,not-base64!' } })).toBe('malformed_signature');
  });

  it('rejects a signature header that was sent twice and joined', () => {
    const headers = { ...base.headers, 'webhook-signature': `${VECTOR.signature},v1,${'A'.repeat(43)}=` };
    expect(reasonOf({ ...base, headers })).toBe('repeated_header');
  });

  it('rejects a changed webhook-id', () => {
    expect(reasonOf({ ...base, headers: { ...base.headers, 'webhook-id': 'msg_other' } })).toBe('signature_mismatch');
  });

  it('rejects a timestamp 301 s old', () => {
    expect(reasonOf({ ...base, nowSeconds: VECTOR.timestamp + 301 })).toBe('timestamp_too_old');
  });

  it('rejects a timestamp 301 s in the future', () => {
    expect(reasonOf({ ...base, nowSeconds: VECTOR.timestamp - 301 })).toBe('timestamp_in_future');
  });
});
