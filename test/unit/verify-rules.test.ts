import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReceiverError } from '../../functions/core/errors';
import { PROVIDERS } from '../../functions/core/providers';
import { secretKey, verifySignature, type SignatureSpec, type VerifyInput } from '../../functions/core/verify';

/**
 * The rules of signature verification an operator reads in the log or a sender meets at the door,
 * one test each: which header a refusal names, which headers count, which entries of a Standard
 * signature are read. Signatures are computed here with node:crypto, independent of the verifier.
 */

const STANDARD = PROVIDERS.standard.signatureSchemes.standard as SignatureSpec;
const TOGETHER_HEX = PROVIDERS.together.signatureSchemes.body as SignatureSpec;
const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const KEY = Buffer.alloc(32, 9);
const NOW = 1_765_000_000;
const ID = 'msg_2vQh8v1vXr7e';
const PAYLOAD = '{"type":"fine_tune.completed","timestamp":"2026-12-06T05:46:40Z","data":{"id":"ft-1"}}';
const mac = (id: string, ts: number) => createHmac('sha256', KEY).update(`${id}.${ts}.${PAYLOAD}`).digest('base64');

function input(headers: Record<string, string | undefined>, overrides: Partial<VerifyInput> = {}): VerifyInput {
  return { spec: STANDARD, headers, body: Buffer.from(PAYLOAD), secrets: [SECRET], nowSeconds: NOW, ...overrides };
}

/** `verified`, or `<status> <reason>: <message>` as the receiver logs a refusal. */
function outcome(value: VerifyInput): string {
  try {
    verifySignature(value);
    return 'verified';
  } catch (error) {
    if (error instanceof ReceiverError) return `${error.statusCode} ${error.reason}: ${error.message}`;
    throw error;
  }
}

const signed = { 'webhook-id': ID, 'webhook-timestamp': String(NOW), 'webhook-signature': `v1,${mac(ID, NOW)}` };

describe('[RULE] a refusal names what was wrong, with the header as the sender spelled the scheme', () => {
  it('[RULE] control: the same delivery signed correctly verifies', () => {
    expect(outcome(input(signed))).toBe('verified');
  });

  it('[RULE] a missing or blank signature header is named as missing', () => {
    expect(outcome(input({ ...signed, 'webhook-signature': undefined }))).toBe('401 missing_signature: missing webhook-signature header');
    expect(outcome(input({ ...signed, 'webhook-signature': '   ' }))).toBe('401 missing_signature: missing webhook-signature header');
  });

  it('[RULE] a missing id and an empty or missing timestamp are named as missing, not as malformed', () => {
    expect(outcome(input({ ...signed, 'webhook-id': undefined }))).toBe('401 missing_id: missing webhook-id header');
    expect(outcome(input({ ...signed, 'webhook-timestamp': '' }))).toBe('401 missing_timestamp: missing webhook-timestamp header');
    expect(outcome(input({ ...signed, 'webhook-timestamp': undefined }))).toBe('401 missing_timestamp: missing webhook-timestamp header');
  });

  it('[RULE] a timestamp outside the window or not in seconds says which, and the window', () => {
    expect(outcome(input({ ...signed, 'webhook-timestamp': String(NOW - 301) }))).toBe('401 timestamp_too_old: webhook-timestamp is more than 300s old');
    expect(outcome(input({ ...signed, 'webhook-timestamp': String(NOW + 301) }))).toBe(
      '401 timestamp_in_future: webhook-timestamp is more than 300s in the future',
    );
    expect(outcome(input({ ...signed, 'webhook-timestamp': '17650000OO' }))).toBe(
      '401 malformed_timestamp: webhook-timestamp must be Unix seconds, got a non-numeric value',
    );
  });

  it('[RULE] an unreadable signature, a mismatch and a repeat each say so', () => {
    expect(outcome(input({ ...signed, 'webhook-signature': 'v1,not-base64' }))).toBe('401 malformed_signature: webhook-signature has no readable v1 signature');
    expect(outcome(input({ ...signed, 'webhook-signature': `v1,${mac(ID, NOW - 1)}` }))).toBe(
      '401 signature_mismatch: signature does not match any active secret',
    );
    expect(outcome(input({ ...signed, 'webhook-signature': `v1,${mac(ID, NOW)},v1,${mac(ID, NOW)}` }))).toBe(
      '401 repeated_header: webhook-signature was sent more than once',
    );
    expect(outcome(input({ ...signed, 'webhook-id': `${ID},msg_other` }))).toBe(
      '401 repeated_header: webhook-id was sent more than once with different values',
    );
  });

  it('[RULE] a hex signature of the wrong length is named with the header and the length it must have', () => {
    const hex = createHmac('sha256', 'together-secret').update(PAYLOAD).digest('hex');
    const hexInput = (value: string) => input({ 'x-together-signature': value }, { spec: TOGETHER_HEX, secrets: ['together-secret'] });
    expect(outcome(hexInput(hex))).toBe('verified');
    expect(outcome(hexInput(hex.slice(2)))).toBe('401 malformed_signature: x-together-signature must be 64 hex characters');
  });

  it('[RULE] a refused secret says how to make a valid one for its scheme', () => {
    expect(() => secretKey('hmac-hex', '')).toThrow('a hmac-hex signing secret is empty; use the non-empty secret the provider shows you');
    expect(() => secretKey('standard', 'whsec_')).toThrow(/^a standard signing secret has an empty key; a standard secret is whsec_ followed by the base64/);
  });
});

describe('[RULE] the svix-branded headers are read only when none of the standard ones is sent', () => {
  const svix = { 'svix-id': ID, 'svix-timestamp': String(NOW), 'svix-signature': `v1,${mac(ID, NOW)}` };

  it('[RULE] a delivery with only svix-* headers verifies', () => {
    expect(outcome(input(svix))).toBe('verified');
  });

  it('[RULE] any single svix-* header selects that brand, and the refusal names its missing headers', () => {
    expect(outcome(input({ 'svix-id': ID }))).toBe('401 missing_signature: missing svix-signature header');
    expect(outcome(input({ 'svix-timestamp': String(NOW) }))).toBe('401 missing_signature: missing svix-signature header');
    expect(outcome(input({ 'svix-signature': svix['svix-signature'] }))).toBe('401 missing_timestamp: missing svix-timestamp header');
  });

  it('[RULE] a request with no signature headers at all is refused naming the standard header', () => {
    expect(outcome(input({ 'content-type': 'application/json' }))).toBe('401 missing_signature: missing webhook-signature header');
  });

  it('[RULE] with any standard header present, the svix-* ones are ignored, not mixed in', () => {
    expect(outcome(input({ ...svix, 'webhook-timestamp': String(NOW) }))).toBe('401 missing_signature: missing webhook-signature header');
    expect(outcome(input({ ...svix, 'webhook-id': ID }))).toBe('401 missing_signature: missing webhook-signature header');
  });
});

describe('[RULE] which request headers count', () => {
  it('[RULE] an unrelated header whose name has the length of webhook-id (user-agent) does not count as an id', () => {
    expect(outcome(input({ ...signed, 'user-agent': 'Svix-Webhooks/1.62', 'User-Agent': 'Svix-Webhooks/1.62' }))).toBe('verified');
  });

  it('[RULE] the id sent twice under two spellings with different values is refused as a repeat', () => {
    expect(outcome(input({ ...signed, 'Webhook-Id': 'msg_other' }))).toMatch(/^401 repeated_header: webhook-id was sent more than once/);
  });

  it('[RULE] a header listed with no value counts as absent', () => {
    expect(outcome(input({ ...signed, 'Webhook-Signature': undefined }))).toBe('verified');
  });

  it('[RULE] a header repeated with the same value, joined with or without a space, counts once', () => {
    expect(outcome(input({ ...signed, 'webhook-id': `${ID},${ID}` }))).toBe('verified');
    expect(outcome(input({ ...signed, 'webhook-id': `${ID}, ${ID}` }))).toBe('verified');
  });
});

describe('[RULE] which entries of a Standard signature header are read', () => {
  it('[RULE] entries are space-separated, and extra spaces around them are skipped', () => {
    expect(outcome(input({ ...signed, 'webhook-signature': ` v1,${mac(ID, NOW)}` }))).toBe('verified');
    expect(outcome(input({ ...signed, 'webhook-signature': `v1,${mac(ID, 1)}  v1,${mac(ID, NOW)} ` }))).toBe('verified');
  });

  it('[RULE] only v1 entries are read: a valid MAC labelled with another version does not pass', () => {
    expect(outcome(input({ ...signed, 'webhook-signature': `v1a,${mac(ID, NOW)}` }))).toBe('401 malformed_signature: webhook-signature has no readable v1 signature');
    expect(outcome(input({ ...signed, 'webhook-signature': `v1a,${mac(ID, NOW)} v1,${mac(ID, NOW)}` }))).toBe('verified');
  });

  it('[RULE] an entry that starts with a comma is a joined repeat and refused', () => {
    expect(outcome(input({ ...signed, 'webhook-signature': `,v1,${mac(ID, NOW)}` }))).toMatch(/^401 repeated_header/);
  });
});

describe('[RULE] which Standard secrets are read', () => {
  it('[RULE] a 32-byte secret copied without its one = of padding verifies as the padded one does, as the reference libraries accept it', () => {
    const unpadded = SECRET.replace(/=+$/, '');
    expect(unpadded).not.toBe(SECRET);
    expect(outcome(input(signed, { secrets: [unpadded] }))).toBe('verified');
  });
});
