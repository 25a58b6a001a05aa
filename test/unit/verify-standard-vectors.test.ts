import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReceiverError } from '../../functions/core/errors';
import { PROVIDERS } from '../../functions/core/providers';
import { verifySignature, type SignatureSpec } from '../../functions/core/verify';

/**
 * The published test cases of the Standard Webhooks reference libraries
 * (github.com/standard-webhooks/standard-webhooks, `libraries/*`: the JavaScript, Python, Go,
 * Rust, Java, Ruby, PHP and C# test suites), written here as data and run against our verifier.
 * The libraries read the clock themselves; here it is fixed at `NOW`, and each case's timestamp
 * is given relative to it. Signatures are computed in this file with node:crypto, as the
 * libraries' tests compute theirs, or are the libraries' own published values.
 */

const SPEC = PROVIDERS.standard.signatureSchemes.standard as SignatureSpec;
const NOW = 1_614_265_330;
const TOLERANCE_SECONDS = 5 * 60;

// The libraries' shared fixture.
const MSG_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const PAYLOAD = '{"test": 2432232314}';
const SECRET = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** `v1,` + base64 HMAC-SHA256 of `${id}.${ts}.${payload}` under the base64 key `secret`. */
function sign(secret: string, id: string, ts: number, payload: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${ts}.${payload}`).digest('base64')}`;
}

interface Case {
  readonly name: string;
  /** Which libraries publish it. */
  readonly from: string;
  readonly secret?: string;
  readonly id?: string;
  readonly payload?: string;
  /** The signed timestamp, relative to NOW. */
  readonly offsetSeconds?: number;
  /** Changes to the valid unbranded headers; `undefined` removes a header. */
  readonly headers?: (valid: Record<string, string>) => Record<string, string | undefined>;
  /** `verified`, `401` (any reason) or the status and reason expected. */
  readonly expected: string;
}

const OTHER_MAC = 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=';

const CASES: readonly Case[] = [
  { name: 'valid signature is valid', from: 'all', expected: 'verified' },
  { name: 'valid unbranded signature is valid', from: 'js, python, php, c#, ruby', expected: 'verified' },
  {
    name: 'valid branded (svix-*) signature is valid',
    from: 'svix, the library these descend from; providers.md',
    headers: (valid) => ({
      'svix-id': valid['webhook-id'],
      'svix-timestamp': valid['webhook-timestamp'],
      'svix-signature': valid['webhook-signature'],
    }),
    expected: 'verified',
  },
  { name: 'header names in mixed case', from: 'java', headers: (valid) => ({ 'Webhook-Id': valid['webhook-id'], 'WEBHOOK-TIMESTAMP': valid['webhook-timestamp'], 'webhook-SIGNATURE': valid['webhook-signature'] }), expected: 'verified' },
  { name: 'missing id', from: 'all', headers: (valid) => ({ ...valid, 'webhook-id': undefined }), expected: '401 missing_id' },
  { name: 'missing timestamp', from: 'all', headers: (valid) => ({ ...valid, 'webhook-timestamp': undefined }), expected: '401 missing_timestamp' },
  { name: 'missing signature', from: 'all', headers: (valid) => ({ ...valid, 'webhook-signature': undefined }), expected: '401 missing_signature' },
  { name: 'invalid timestamp "hello"', from: 'js, python, ruby', headers: (valid) => ({ ...valid, 'webhook-timestamp': 'hello' }), expected: '401 malformed_timestamp' },
  { name: 'float timestamp', from: 'php', headers: (valid) => ({ ...valid, 'webhook-timestamp': '161426533.0' }), expected: '401 malformed_timestamp' },
  { name: 'negative timestamp', from: 'php', headers: (valid) => ({ ...valid, 'webhook-timestamp': '-161426533' }), expected: '401 malformed_timestamp' },
  { name: 'invalid signature (not base64 of a MAC)', from: 'js, php', headers: (valid) => ({ ...valid, 'webhook-signature': 'v1,dawfeoifkpqwoekfpqoekf' }), expected: '401 malformed_signature' },
  { name: 'invalid signature (another MAC)', from: 'go, rust', headers: (valid) => ({ ...valid, 'webhook-signature': OTHER_MAC }), expected: '401 signature_mismatch' },
  {
    name: 'invalid signature (the published one with its last byte changed)',
    from: 'python',
    headers: (valid) => ({ ...valid, 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=' }),
    expected: '401 signature_mismatch',
  },
  {
    name: 'invalid signature (truncated, unpadded)',
    from: 'ruby, c#',
    headers: (valid) => ({ ...valid, 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd' }),
    expected: '401 malformed_signature',
  },
  { name: 'invalid signature value "v1,invalid_signature"', from: 'java', headers: (valid) => ({ ...valid, 'webhook-signature': 'v1,invalid_signature' }), expected: '401 malformed_signature' },
  { name: 'invalid signature format (no version)', from: 'java', headers: (valid) => ({ ...valid, 'webhook-signature': 'invalid_signature' }), expected: '401 malformed_signature' },
  { name: 'other version only (v2)', from: 'java', headers: (valid) => ({ ...valid, 'webhook-signature': `v2,${valid['webhook-signature']?.slice(3)}` }), expected: '401 malformed_signature' },
  { name: 'partial signature: its first 8 characters', from: 'js, rust', headers: (valid) => ({ ...valid, 'webhook-signature': valid['webhook-signature']?.slice(0, 8) }), expected: '401 malformed_signature' },
  { name: 'partial signature: "v1,"', from: 'js, go, rust', headers: (valid) => ({ ...valid, 'webhook-signature': 'v1,' }), expected: '401 malformed_signature' },
  { name: 'old timestamp: tolerance + 1 s', from: 'js, python, java, php, ruby, c#, rust', offsetSeconds: -(TOLERANCE_SECONDS + 1), expected: '401 timestamp_too_old' },
  { name: 'new timestamp: tolerance + 1 s', from: 'all', offsetSeconds: TOLERANCE_SECONDS + 1, expected: '401 timestamp_in_future' },
  {
    // Go's "old timestamp fails" signs at now − tolerance and expects a failure because its clock
    // has moved on by the time it verifies. Our contract accepts exactly 300 s in both directions.
    name: 'timestamp exactly the tolerance old (go: fails a moment later; contract: accepted)',
    from: 'go',
    offsetSeconds: -TOLERANCE_SECONDS,
    expected: 'verified',
  },
  {
    name: 'multiple signatures, one valid among other versions and other MACs',
    from: 'js, python, go, java, php, ruby, c#',
    headers: (valid) => ({ ...valid, 'webhook-signature': [OTHER_MAC, `v2,${OTHER_MAC.slice(3)}`, valid['webhook-signature'], OTHER_MAC].join(' ') }),
    expected: 'verified',
  },
  {
    name: 'multiple signatures, none valid',
    from: 'rust',
    headers: (valid) => ({
      ...valid,
      'webhook-signature': [
        'v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=',
        'v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=',
        'v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=',
      ].join(' '),
    }),
    expected: '401 signature_mismatch',
  },
  { name: 'secret without the whsec_ prefix', from: 'all', secret: SECRET, expected: 'verified' },
  { name: 'secret with the whsec_ prefix', from: 'all', secret: `whsec_${SECRET}`, expected: 'verified' },
  { name: 'unpadded secret that needs no padding', from: 'python', secret: SECRET, expected: 'verified' },
  { name: 'unpadded secret that needs two = (25 bytes)', from: 'python', secret: `${SECRET}Br`, expected: 'verified' },
  { name: 'the same secret padded', from: 'python', secret: `${SECRET}Br==`, expected: 'verified' },
  { name: 'the same secret unpadded, with the whsec_ prefix', from: 'python', secret: `whsec_${SECRET}Br`, expected: 'verified' },
  {
    // Python accepts this 23-byte key; the contract (and the Standard Webhooks spec: "between 24
    // bytes and 64 bytes") refuses any key shorter than 24 bytes, so it is a configuration error.
    name: 'unpadded secret that needs one = (23 bytes: below the contract minimum)',
    from: 'python',
    secret: SECRET.slice(0, -1),
    expected: '503 secret_invalid',
  },
  { name: 'empty secret', from: 'all', secret: '', expected: '503 secret_invalid' },
  { name: 'empty prefixed secret "whsec_"', from: 'js, python, go, php, ruby', secret: 'whsec_', expected: '503 secret_invalid' },
  { name: 'empty payload is verified (the receiver then answers 400: not JSON)', from: 'js', payload: '', expected: 'verified' },
];

/** The verifier's verdict: `verified`, or the status and reason of its error. */
function verdict(headers: Record<string, string | undefined>, payload: string, secret: string, nowSeconds: number): string {
  const present = Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined));
  try {
    verifySignature({ spec: SPEC, headers: present, body: Buffer.from(payload, 'utf8'), secrets: [secret], nowSeconds });
    return 'verified';
  } catch (error) {
    if (error instanceof ReceiverError) return `${error.statusCode} ${error.reason}`;
    throw error;
  }
}

describe('Standard Webhooks reference test cases', () => {
  it.each(CASES.map((testCase) => [`${testCase.name} (${testCase.from}) → ${testCase.expected}`, testCase] as const))('%s', (_, testCase) => {
    const id = testCase.id ?? MSG_ID;
    const payload = testCase.payload ?? PAYLOAD;
    const ts = NOW + (testCase.offsetSeconds ?? 0);
    const secret = testCase.secret ?? SECRET;
    // The delivery is signed with the case's key where that key is usable, as the libraries do.
    const signingKey = testCase.expected === '503 secret_invalid' ? SECRET : secret;
    const valid = { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(signingKey, id, ts, payload) };
    const headers = testCase.headers?.(valid) ?? valid;

    expect(verdict(headers, payload, secret, NOW)).toBe(testCase.expected);
  });

  it.each([
    {
      from: 'all (the spec, js, python, go, java, php, ruby, c#)',
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      ts: 1614265330,
      payload: '{"test": 2432232314}',
      signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    },
    {
      from: 'rust',
      secret: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD',
      id: 'msg_27UH4WbU6Z5A5EzD8u03UvzRbpk',
      ts: 1649367553,
      payload: '{"email":"test@example.com","username":"test_user"}',
      signature: 'v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=',
    },
  ])('the published signing vector of $from verifies', (vector) => {
    const headers = { 'webhook-id': vector.id, 'webhook-timestamp': String(vector.ts), 'webhook-signature': vector.signature };

    expect(sign(vector.secret, vector.id, vector.ts, vector.payload)).toBe(vector.signature);
    expect(verdict(headers, vector.payload, vector.secret, vector.ts)).toBe('verified');
  });
});
