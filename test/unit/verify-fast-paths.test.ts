import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UnauthorizedError } from '../../functions/core/errors';
import { PROVIDERS } from '../../functions/core/providers';
import { readSignatureClaim, secretKey, verifySignature, type SignatureSpec } from '../../functions/core/verify';

// The formats the contract gives, as regular expressions: what the verifier's checks must agree with.
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

const NOW = 1_764_000_000;
const HEX_SPEC = PROVIDERS.together.signatureSchemes.timestamped as SignatureSpec;
const STANDARD_SPEC = PROVIDERS.standard.signatureSchemes.standard as SignatureSpec;

/** Every ASCII character at every position of `valid`, and a few lengths either side. */
function mutations(valid: string): string[] {
  const out: string[] = [valid.slice(1), `${valid}A`, `${valid}=`, valid.slice(0, -1), ''];
  for (let position = 0; position < valid.length; position++) {
    for (let code = 0; code < 128; code++) out.push(valid.slice(0, position) + String.fromCharCode(code) + valid.slice(position + 1));
  }
  return out;
}

function hexAccepted(signature: string): boolean {
  try {
    readSignatureClaim({ spec: HEX_SPEC, headers: { 'x-together-signature': signature, 'x-together-timestamp': String(NOW) }, nowSeconds: NOW });
    return true;
  } catch (error) {
    if (error instanceof UnauthorizedError) return false;
    throw error;
  }
}

function standardCandidates(signature: string): Buffer[] {
  try {
    const claim = readSignatureClaim({
      spec: STANDARD_SPEC,
      headers: { 'webhook-signature': `v1,${signature}`, 'webhook-timestamp': String(NOW), 'webhook-id': 'msg_1' },
      nowSeconds: NOW,
    });
    return [...claim.candidates];
  } catch (error) {
    if (error instanceof UnauthorizedError) return [];
    throw error;
  }
}

describe('signature formats read without regular expressions', () => {
  it('[LEAN] a hex signature is accepted exactly when it is 64 hex characters, whatever character is changed', () => {
    const valid = randomBytes(32).toString('hex').replace(/a/g, 'A');
    const cases = mutations(valid);

    const disagreements = cases.filter((candidate) => hexAccepted(candidate) !== HEX_SHA256.test(candidate));

    expect(cases.length).toBeGreaterThan(8_000);
    expect(disagreements).toEqual([]);
  });

  it('[LEAN] a v1 entry is read exactly when it is 43 base64 characters and =, with the bytes it encodes', () => {
    const valid = randomBytes(32).toString('base64');
    const cases = mutations(valid);

    const disagreements = cases.filter((candidate) => {
      const read = standardCandidates(candidate);
      const expected = BASE64_SHA256.test(candidate) ? [Buffer.from(candidate, 'base64')] : [];
      return read.length !== expected.length || read.some((mac, index) => !mac.equals(expected[index] as Buffer));
    });

    expect(valid).toMatch(BASE64_SHA256);
    expect(disagreements).toEqual([]);
  });

  it('[LEAN] the URL-safe alphabet is refused in a v1 entry, though Node would decode it', () => {
    const urlSafe = `${'-_'.repeat(21)}A=`;

    expect(Buffer.from(urlSafe, 'base64')).toHaveLength(32);
    expect(standardCandidates(urlSafe)).toEqual([]);
  });

  it('[LEAN] one header sent under two spellings of its name is a repeat: equal copies pass, differing ones are refused', () => {
    const read = (headers: Record<string, string>) => {
      try {
        return readSignatureClaim({ spec: HEX_SPEC, headers, nowSeconds: NOW }).signedAtSeconds;
      } catch (error) {
        return error instanceof UnauthorizedError ? error.reason : error;
      }
    };
    const signature = 'ab'.repeat(32);

    expect(read({ 'x-together-signature': signature, 'x-together-timestamp': String(NOW), 'X-Together-Timestamp': String(NOW) })).toBe(NOW);
    expect(read({ 'x-together-signature': signature, 'x-together-timestamp': String(NOW), 'X-Together-Timestamp': String(NOW - 1) })).toBe('repeated_header');
    expect(read({ 'X-TOGETHER-SIGNATURE': signature, 'x-together-signature': 'cd'.repeat(32), 'x-together-timestamp': String(NOW) })).toBe('repeated_header');
  });

  it('[LEAN] svix-branded headers are still read when none of the webhook-* headers is present', () => {
    const claim = readSignatureClaim({
      spec: STANDARD_SPEC,
      headers: { 'svix-signature': `v1,${randomBytes(32).toString('base64')}`, 'svix-timestamp': String(NOW), 'svix-id': 'msg_svix' },
      nowSeconds: NOW,
    });

    expect(claim.headerId).toBe('msg_svix');
    expect(claim.candidates).toHaveLength(1);
  });
});

describe('timestamps read without a regular expression', () => {
  const UNIX_SECONDS = /^\d{1,12}$/;
  const readable = (timestamp: string) => {
    try {
      readSignatureClaim({ spec: HEX_SPEC, headers: { 'x-together-signature': 'a'.repeat(64), 'x-together-timestamp': timestamp }, nowSeconds: NOW });
      return true;
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) throw error;
      // Read, then refused by the window (too old, in the future) or for another header: still read.
      return error.reason !== 'malformed_timestamp';
    }
  };

  it('[LOAD] a timestamp is read exactly when it is 1 to 12 ASCII digits, whatever character is changed', () => {
    const candidates = [...mutations(String(NOW)), '0', '9'.repeat(12), '1'.repeat(13), ' 1764000000', '1764000000 ', '+1764000000', '1.764e9', '\uff11\uff17', '١٧٦٤'];
    for (const timestamp of candidates.filter((candidate) => candidate !== '' && !candidate.includes(','))) {
      expect(readable(timestamp), JSON.stringify(timestamp)).toBe(UNIX_SECONDS.test(timestamp));
    }
  });
});

describe('keys decoded once per secret', () => {
  const standardSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
  const signed = (secret: string, id: string) => {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update(`${id}.${NOW}.{}`).digest('base64');
    return { 'webhook-signature': `v1,${mac}`, 'webhook-timestamp': String(NOW), 'webhook-id': id };
  };
  const verifies = (secret: string, headers: Record<string, string>) => {
    try {
      verifySignature({ spec: STANDARD_SPEC, headers, body: Buffer.from('{}'), secrets: [secret], nowSeconds: NOW });
      return true;
    } catch (error) {
      if (error instanceof UnauthorizedError) return false;
      throw error;
    }
  };

  it('[LEAN] the same secret gives the same key bytes every time, and they are its base64 after whsec_', () => {
    const secret = standardSecret();

    const first = secretKey('standard', secret);
    const second = secretKey('standard', secret);

    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(true);
    expect(Buffer.from(first).equals(Buffer.from(secret.slice('whsec_'.length), 'base64'))).toBe(true);
  });

  it('[LEAN] a changed secret is never served from the entry of the one before, nor lost when the cache is full', () => {
    const before = standardSecret();
    const after = standardSecret();
    const deliveryBefore = signed(before, 'msg_before');
    const deliveryAfter = signed(after, 'msg_after');

    expect(verifies(before, deliveryBefore)).toBe(true);
    expect(verifies(after, deliveryBefore)).toBe(false);
    expect(verifies(after, deliveryAfter)).toBe(true);
    // More secrets than the cache holds: it is cleared, and the keys are decoded again.
    for (let i = 0; i < 70; i++) verifies(standardSecret(), deliveryAfter);
    expect(verifies(after, deliveryAfter)).toBe(true);
    expect(verifies(before, deliveryAfter)).toBe(false);
  });
});
