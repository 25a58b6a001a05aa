import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { ReceiverError, UnauthorizedError } from '../../functions/core/errors';
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

/** `verified`, or the status and reason of the error a verification throws. */
function outcomeOf(input: VerifyInput): string {
  try {
    verifySignature(input);
  } catch (error) {
    if (error instanceof ReceiverError) return `${error.statusCode} ${error.reason}`;
    throw error;
  }
  return 'verified';
}

/** `whsec_` + the base64 of `bytes` key bytes. */
const standardSecretOf = (bytes: number) => `whsec_${Buffer.alloc(bytes, 7).toString('base64')}`;
/** A Standard Webhooks signature computed here with node:crypto, independent of the signer. */
const standardMac = (key: Buffer, id: string, ts: number, payload: string) =>
  `v1,${createHmac('sha256', key).update(`${id}.${ts}.${payload}`).digest('base64')}`;

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

describe('forgery with a degenerate Standard Webhooks secret', () => {
  const id = 'msg_forged';
  const payload = '{"type":"batch.completed","data":{"id":"batch_forged"}}';
  // What anyone can compute without knowing a secret: the MAC under an empty key.
  const headers = {
    'webhook-id': id,
    'webhook-timestamp': String(VECTOR.timestamp),
    'webhook-signature': standardMac(Buffer.alloc(0), id, VECTOR.timestamp, payload),
  };
  const forged = (secrets: string[]): VerifyInput => ({ spec: STANDARD_SPEC, headers, body: body(payload), secrets, nowSeconds: VECTOR.timestamp });

  it.each(['whsec_', 'whsec_!!!!', 'whsec_====', '!!!!'])(
    'forgery with a degenerate Standard Webhooks secret: a delivery signed with an empty key is refused with 503 secret_invalid when the secret is %j',
    (secret) => {
      expect(outcomeOf(forged([secret]))).toBe('503 secret_invalid');
    },
  );

  it('forgery with a degenerate Standard Webhooks secret: a list with one degenerate entry is refused whole', () => {
    expect(outcomeOf(forged([VECTOR.secret, 'whsec_']))).toBe('503 secret_invalid');
  });

  it('forgery with a degenerate Standard Webhooks secret: a degenerate entry is refused even when a valid entry matches', () => {
    const input: VerifyInput = {
      spec: STANDARD_SPEC,
      headers: { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature },
      body: body(VECTOR.body),
      secrets: [VECTOR.secret, 'whsec_!!!!'],
      nowSeconds: VECTOR.timestamp,
    };
    expect(outcomeOf(input)).toBe('503 secret_invalid');
  });

  it('forgery with a degenerate secret: an empty key is refused for the hex schemes too', () => {
    const forgedHex = createHmac('sha256', Buffer.alloc(0)).update(BODY).digest('hex');
    const input: VerifyInput = { spec: HEX_BODY_SPEC, headers: { 'x-together-signature': forgedHex }, body: body(BODY), secrets: [''], nowSeconds: TS };
    expect(outcomeOf(input)).toBe('503 secret_invalid');
  });

  it.each([
    [23, '503 secret_invalid'],
    [24, 'verified'],
    [64, 'verified'],
    [65, '503 secret_invalid'],
  ])('forgery with a degenerate Standard Webhooks secret: a key of %i bytes is %s', (bytes, expected) => {
    const key = Buffer.alloc(bytes, 7);
    const signed = { ...headers, 'webhook-signature': standardMac(key, id, VECTOR.timestamp, payload) };
    expect(outcomeOf({ ...forged([standardSecretOf(bytes)]), headers: signed })).toBe(expected);
  });

  it.each([
    ['URL-safe characters', `whsec_${Buffer.alloc(32, 0xfb).toString('base64url')}`],
    ['a space inside', `whsec_${Buffer.alloc(32, 7).toString('base64').replace(/^(.{8})/, '$1 ')}`],
    ['padding in the middle', `whsec_${Buffer.alloc(31, 7).toString('base64')}${Buffer.alloc(31, 7).toString('base64')}`],
    ['a character outside the alphabet', `whsec_${Buffer.alloc(32, 7).toString('base64').replace(/^./, '*')}`],
    ['one character too many', `whsec_${Buffer.alloc(33, 7).toString('base64')}A`],
  ])('forgery with a degenerate Standard Webhooks secret: base64 with %s is refused', (_, secret) => {
    expect(outcomeOf(forged([secret]))).toBe('503 secret_invalid');
  });
});

describe('Standard Webhooks: one malformed entry does not reject the delivery', () => {
  const headers = { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp) };
  const withSignature = (signature: string): VerifyInput => ({
    spec: STANDARD_SPEC,
    headers: { ...headers, 'webhook-signature': signature },
    body: body(VECTOR.body),
    secrets: [VECTOR.secret],
    nowSeconds: VECTOR.timestamp,
  });

  it.each([
    ['a v1 entry that is not base64 of 32 bytes', 'v1,abc'],
    ['an entry without a comma', 'garbage'],
    ['a v1 entry with nothing after the comma', 'v1,'],
    ['a v1 entry with a MAC one character short', `v1,${VECTOR.signature.slice(3, -2)}=`],
  ])('Standard Webhooks: %s is skipped and a later valid entry passes', (_, unreadable) => {
    expect(outcomeOf(withSignature(`${unreadable} ${VECTOR.signature}`))).toBe('verified');
  });

  it('Standard Webhooks: a header of unreadable entries only is a 401', () => {
    expect(outcomeOf(withSignature('v1,abc garbage v1,'))).toBe('401 malformed_signature');
  });

  it('Standard Webhooks: a header repeated with different values is still rejected', () => {
    expect(outcomeOf(withSignature(`v1,abc ${VECTOR.signature},v1,${'A'.repeat(43)}=`))).toBe('401 repeated_header');
  });
});

describe('Standard Webhooks: Svix-branded headers', () => {
  const svix = { 'svix-id': VECTOR.id, 'svix-timestamp': String(VECTOR.timestamp), 'svix-signature': VECTOR.signature };
  const input = (headers: Record<string, string>): VerifyInput => ({
    spec: STANDARD_SPEC,
    headers,
    body: body(VECTOR.body),
    secrets: [VECTOR.secret],
    nowSeconds: VECTOR.timestamp,
  });

  it('Standard Webhooks: svix-id, svix-timestamp and svix-signature are read when the webhook-* headers are absent', () => {
    expect(verifySignature(input(svix))).toEqual({ headerId: VECTOR.id, signedAtSeconds: VECTOR.timestamp });
  });

  it('Standard Webhooks: Svix-branded header names are read whatever their case', () => {
    expect(outcomeOf(input({ 'Svix-Id': VECTOR.id, 'SVIX-TIMESTAMP': String(VECTOR.timestamp), 'svix-Signature': VECTOR.signature }))).toBe('verified');
  });

  it('Standard Webhooks: when both brands are present the webhook-* headers are the ones verified', () => {
    const wrong = `v1,${'A'.repeat(43)}=`;
    const webhook = { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp) };
    expect(outcomeOf(input({ ...svix, ...webhook, 'webhook-signature': wrong }))).toBe('401 signature_mismatch');
    expect(outcomeOf(input({ ...svix, 'svix-signature': wrong, ...webhook, 'webhook-signature': VECTOR.signature }))).toBe('verified');
  });

  it('Standard Webhooks: brands are not mixed: a webhook-signature with only svix-id and svix-timestamp is a 401', () => {
    const { 'svix-signature': _, ...rest } = svix;
    expect(outcomeOf(input({ ...rest, 'webhook-signature': VECTOR.signature }))).toBe('401 missing_timestamp');
  });

  it('Standard Webhooks: a svix-signature repeated with different values is rejected', () => {
    expect(outcomeOf(input({ ...svix, 'svix-signature': `${VECTOR.signature},v1,${'A'.repeat(43)}=` }))).toBe('401 repeated_header');
  });

  it('Standard Webhooks: a changed svix-id is a 401', () => {
    expect(outcomeOf(input({ ...svix, 'svix-id': 'msg_other' }))).toBe('401 signature_mismatch');
  });
});
