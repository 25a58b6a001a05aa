import { createHmac, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from './errors';

/**
 * How a provider signs a delivery.
 * - `hmac-hex`: hex HMAC-SHA256 of the raw body, secret string as key bytes (Together body-only,
 *   LLMTune, MythicDot). The same bytes are resent on retries, so there is no signed timestamp.
 * - `hmac-hex-timestamped`: hex HMAC-SHA256 of `${timestamp}.${rawBody}` (Together, default).
 * - `standard`: Standard Webhooks: base64 HMAC-SHA256 of `${id}.${timestamp}.${rawBody}`,
 *   `v1,<sig>` entries separated by spaces, secret `whsec_` + base64 key.
 */
export type SignatureScheme = 'hmac-hex' | 'hmac-hex-timestamped' | 'standard';

export interface SignatureSpec {
  readonly scheme: SignatureScheme;
  /** Lower-case header names. */
  readonly signatureHeader: string;
  readonly timestampHeader?: string;
  readonly idHeader?: string;
}

/** Signed timestamp headers may differ from the receiver's clock by this much, in both directions. */
export const TIMESTAMP_TOLERANCE_SECONDS = 300;

export interface VerifyInput {
  readonly spec: SignatureSpec;
  /** Header names in any case; values as API Gateway hands them (repeats joined with commas). */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The raw body bytes, exactly as sent. */
  readonly body: Uint8Array;
  /** Every active secret; any one may match (rotation). */
  readonly secrets: readonly string[];
  /** When the request reached the gateway, in Unix seconds. */
  readonly nowSeconds: number;
}

export interface Verified {
  /** The signed timestamp header, Unix seconds, where the scheme has one. */
  readonly signedAtSeconds?: number;
  /** The signed id header (Standard Webhooks), where the scheme has one. */
  readonly headerId?: string;
}

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;
const UNIX_SECONDS = /^\d{1,12}$/;

/**
 * Verifies a delivery's signature (and signed timestamp) against the raw body. Pure: no I/O, the
 * clock and the secrets are passed in. Throws {@link UnauthorizedError} with a reason for the log.
 *
 * Written on node:crypto rather than the `standardwebhooks` package (which the tests use as an
 * independent signer): that package decodes the body as UTF-8 before signing (so non-UTF-8 bytes
 * would not be verified as sent), reads `Date.now()` itself (the contract measures the window from
 * the gateway's clock), accepts timestamps such as `"123abc"` through `parseInt`, and hashes in
 * pure JavaScript, several times slower than node:crypto on 256 KiB bodies.
 */
export function verifySignature(input: VerifyInput): Verified {
  const { spec } = input;
  const headers = lowerCaseHeaders(input.headers);
  const signatureValue = headers[spec.signatureHeader];
  if (signatureValue === undefined || signatureValue.trim() === '') {
    throw new UnauthorizedError(`missing ${spec.signatureHeader} header`, 'missing_signature');
  }

  let signedAtSeconds: number | undefined;
  if (spec.timestampHeader !== undefined) {
    signedAtSeconds = readTimestamp(headers, spec.timestampHeader, input.nowSeconds);
  }
  let headerId: string | undefined;
  if (spec.idHeader !== undefined) {
    headerId = singleValue(headers, spec.idHeader);
    if (headerId === undefined || headerId === '') {
      throw new UnauthorizedError(`missing ${spec.idHeader} header`, 'missing_id');
    }
  }

  const candidates =
    spec.scheme === 'standard'
      ? parseStandardSignatures(signatureValue, spec.signatureHeader)
      : [parseHexSignature(signatureValue, spec.signatureHeader)];
  if (candidates.length === 0) {
    throw new UnauthorizedError(`${spec.signatureHeader} has no v1 signature`, 'malformed_signature');
  }

  const prefix =
    spec.scheme === 'hmac-hex'
      ? ''
      : spec.scheme === 'hmac-hex-timestamped'
        ? `${signedAtSeconds}.`
        : `${headerId}.${signedAtSeconds}.`;

  for (const secret of input.secrets) {
    const expected = hmac(secretKey(spec.scheme, secret), prefix, input.body);
    if (candidates.some((candidate) => timingSafeEqual(candidate, expected))) {
      return { signedAtSeconds, headerId };
    }
  }
  throw new UnauthorizedError('signature does not match any active secret', 'signature_mismatch');
}

/** The HMAC key bytes of a secret: Standard Webhooks secrets are `whsec_` + base64; others are used as-is. */
export function secretKey(scheme: SignatureScheme, secret: string): Buffer {
  if (scheme === 'standard') {
    return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  }
  return Buffer.from(secret, 'utf8');
}

/** HMAC-SHA256 of `prefix` followed by the raw body bytes. */
export function hmac(key: Buffer, prefix: string, body: Uint8Array): Buffer {
  const mac = createHmac('sha256', key);
  if (prefix !== '') mac.update(prefix, 'utf8');
  return mac.update(body).digest();
}

function lowerCaseHeaders(headers: VerifyInput['headers']): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    // Two spellings of one name are a repeated header; join them as API Gateway would.
    result[key] = key in result ? `${result[key]},${value}` : value;
  }
  return result;
}

/**
 * API Gateway joins a repeated header's values with commas. None of the single-valued headers of
 * the contract contains a comma, so a comma means a repeat: identical repeats are harmless, and
 * differing ones are rejected rather than guessing which one was signed.
 */
function singleValue(headers: Record<string, string>, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  const parts = value.split(',').map((part) => part.trim());
  const first = parts[0] ?? '';
  if (parts.some((part) => part !== first)) {
    throw new UnauthorizedError(`${name} was sent more than once with different values`, 'repeated_header');
  }
  return first;
}

function readTimestamp(headers: Record<string, string>, name: string, nowSeconds: number): number {
  const value = singleValue(headers, name);
  if (value === undefined || value === '') {
    throw new UnauthorizedError(`missing ${name} header`, 'missing_timestamp');
  }
  if (!UNIX_SECONDS.test(value)) {
    throw new UnauthorizedError(`${name} must be Unix seconds, got a non-numeric value`, 'malformed_timestamp');
  }
  const seconds = Number(value);
  if (nowSeconds - seconds > TIMESTAMP_TOLERANCE_SECONDS) {
    throw new UnauthorizedError(`${name} is more than ${TIMESTAMP_TOLERANCE_SECONDS}s old`, 'timestamp_too_old');
  }
  if (seconds - nowSeconds > TIMESTAMP_TOLERANCE_SECONDS) {
    throw new UnauthorizedError(
      `${name} is more than ${TIMESTAMP_TOLERANCE_SECONDS}s in the future`,
      'timestamp_in_future',
    );
  }
  return seconds;
}

function parseHexSignature(value: string, name: string): Buffer {
  const parts = value.split(',').map((part) => part.trim());
  const first = parts[0] ?? '';
  if (parts.some((part) => part !== first)) {
    throw new UnauthorizedError(`${name} was sent more than once with different values`, 'repeated_header');
  }
  if (!HEX_SHA256.test(first)) {
    throw new UnauthorizedError(`${name} must be 64 hex characters`, 'malformed_signature');
  }
  return Buffer.from(first, 'hex');
}

/** `v1,<base64> v1,<base64>`: other versions are skipped, as the Standard Webhooks spec says. */
function parseStandardSignatures(value: string, name: string): Buffer[] {
  const signatures: Buffer[] = [];
  for (const entry of value.split(' ')) {
    if (entry === '') continue;
    const fields = entry.split(',');
    if (fields.length !== 2) {
      // `v1,a,v1,b`: the header was repeated and API Gateway joined the copies.
      throw new UnauthorizedError(`${name} was sent more than once`, 'repeated_header');
    }
    const [version, signature] = fields as [string, string];
    if (version !== 'v1') continue;
    if (!BASE64_SHA256.test(signature)) {
      throw new UnauthorizedError(`${name} has a v1 entry that is not a base64 SHA-256 MAC`, 'malformed_signature');
    }
    signatures.push(Buffer.from(signature, 'base64'));
  }
  return signatures;
}
