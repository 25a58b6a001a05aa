import * as crypto from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReceiverError } from '../../functions/core/errors';
import { PROVIDERS } from '../../functions/core/providers';
import { signDelivery } from '../../functions/core/sign';
import { verifySignature, type SignatureSpec } from '../../functions/core/verify';

// Every MAC comparison must go through timingSafeEqual: the verifier's import is replaced by a
// spy, so that a test can see each call and decide what the comparison answers.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});
const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);
const actualCrypto = await vi.importActual<typeof import('node:crypto')>('node:crypto');
afterEach(() => {
  timingSafeEqual.mockReset();
  timingSafeEqual.mockImplementation(actualCrypto.timingSafeEqual);
});

const NOW = 1_764_000_000;
const BODY = Buffer.from('{"id":"evt_ct","type":"batch.completed","created":1764000000,"data":{"id":"b"}}');
const SCHEMES: readonly [string, SignatureSpec, string][] = [
  ['hmac-hex (body only)', PROVIDERS.llmtune.signatureSchemes.body as SignatureSpec, 'llmtune-secret'],
  ['hmac-hex-timestamped', PROVIDERS.together.signatureSchemes.timestamped as SignatureSpec, 'together-secret'],
  ['standard', PROVIDERS.standard.signatureSchemes.standard as SignatureSpec, PROVIDERS.standard.developmentSecret],
];

const signed = (spec: SignatureSpec, secret: string) => signDelivery({ spec, body: BODY, secret, timestampSeconds: NOW, id: 'msg_ct' });
/** The same headers under the Svix brand (`svix-*`). */
const svixBranded = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.replace(/^webhook-/, 'svix-'), value]));

function outcome(spec: SignatureSpec, headers: Record<string, string>, secret: string): string {
  try {
    verifySignature({ spec, headers, body: BODY, secrets: [secret], nowSeconds: NOW });
    return 'verified';
  } catch (error) {
    if (error instanceof ReceiverError) return `${error.statusCode} ${error.reason}`;
    throw error;
  }
}

/** A same-length signature that is wrong: the valid one with its MAC's first byte flipped. */
function tampered(spec: SignatureSpec, headers: Record<string, string>): Record<string, string> {
  const name = headers[spec.signatureHeader] === undefined ? 'svix-signature' : spec.signatureHeader;
  const value = headers[name] as string;
  if (spec.scheme !== 'standard') return { ...headers, [name]: `${value[0] === '0' ? '1' : '0'}${value.slice(1)}` };
  const mac = Buffer.from(value.slice(3), 'base64');
  mac[0] = (mac[0] ?? 0) ^ 0xff;
  return { ...headers, [name]: `v1,${mac.toString('base64')}` };
}

describe('constant-time comparison of MACs', () => {
  const paths = [
    ...SCHEMES.map(([name, spec, secret]) => [name, spec, secret, signed(spec, secret)] as const),
    ['standard, Svix-branded headers', SCHEMES[2]?.[1] as SignatureSpec, SCHEMES[2]?.[2] as string, svixBranded(signed(SCHEMES[2]?.[1] as SignatureSpec, SCHEMES[2]?.[2] as string))] as const,
  ];

  it.each(paths)('constant-time comparison: %s compares the received MAC with the expected one through timingSafeEqual', (_, spec, secret, headers) => {
    expect(outcome(spec, headers, secret)).toBe('verified');

    const compared = timingSafeEqual.mock.calls.map(([a, b]) => [Buffer.from(a as Uint8Array).byteLength, Buffer.from(b as Uint8Array).byteLength]);
    expect(compared).toEqual([[32, 32]]);
  });

  it.each(paths)('constant-time comparison: %s accepts nothing that timingSafeEqual does not call equal', (_, spec, secret, headers) => {
    timingSafeEqual.mockImplementation(() => false);

    expect(outcome(spec, headers, secret)).toBe('401 signature_mismatch');
  });

  it.each(paths)('constant-time comparison: %s refuses a wrong MAC only through timingSafeEqual, with no early exit before it', (_, spec, secret, headers) => {
    timingSafeEqual.mockImplementation(() => true);

    expect(outcome(spec, tampered(spec, headers), secret)).toBe('verified');
  });

  it('constant-time comparison: no source under functions/ compares MAC values with ===, .equals or Buffer.compare', () => {
    const root = fileURLToPath(new URL('../../functions', import.meta.url));
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));

    const hits = files.flatMap((file) =>
      readFileSync(join(root, file), 'utf8')
        .split('\n')
        .map((line, index) => ({ where: `${file}:${index + 1}`, line: line.trim() }))
        .filter(({ line }) => comparesMacs(line)),
    );

    expect(files.length).toBeGreaterThan(10);
    expect(hits).toEqual([]);
  });

  it.each([
    'if (candidate.equals(expected)) return verified;',
    'if (Buffer.compare(candidate, expected) === 0) return verified;',
    "if (hmac(key, prefix, body).toString('hex') === signatureValue) return verified;",
    "return createHmac('sha256', key).update(body).digest('hex') == given;",
    'if (signature !== expectedSignature) continue;',
    'if (candidate[0] !== expected[0]) continue;',
  ])('constant-time comparison: the source scan catches %s', (line) => {
    expect(comparesMacs(line)).toBe(true);
  });
});

const EQUALITY = /[!=]==?/;
const MAC_NAME = /(?:mac|signature|digest|expected|candidate)/i;
const OPERANDS = /([\w.$[\]'"()]+)\s*[!=]==?\s*([\w.$[\]'"()]+)/g;

/**
 * Whether a line of source compares MAC values other than in constant time: any Buffer
 * comparison, an equality test on a computed MAC's bytes or text, or an equality test with a
 * MAC-named value on both sides.
 */
function comparesMacs(line: string): boolean {
  if (/\.equals\(|\bcompare\(/.test(line)) return true;
  if (!EQUALITY.test(line)) return false;
  if (/digest\(|\bhmac\(|toString\(['"](?:hex|base64)/.test(line)) return true;
  return [...line.matchAll(OPERANDS)].some(([, left = '', right = '']) => MAC_NAME.test(left) && MAC_NAME.test(right));
}
