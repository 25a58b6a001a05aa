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
  const { spec, headers } = input;
  const signatureValue = headerValue(headers, spec.signatureHeader);
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
    for (const candidate of candidates) {
      if (timingSafeEqual(candidate, expected)) return { signedAtSeconds, headerId };
    }
  }
  throw new UnauthorizedError('signature does not match any active secret', 'signature_mismatch');
}

/** The HMAC key bytes of a secret: Standard Webhooks secrets are `whsec_` + base64; others are used as-is. */
export function secretKey(scheme: SignatureScheme, secret: string): Buffer | string {
  if (scheme !== 'standard') return secret; // node:crypto takes a string key as its UTF-8 bytes
  let key = decodedKeys.get(secret);
  if (key === undefined) {
    key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
    // A handful of active secrets per provider: a tiny cache saves a base64 decode per delivery.
    if (decodedKeys.size >= 64) decodedKeys.clear();
    decodedKeys.set(secret, key);
  }
  return key;
}

const decodedKeys = new Map<string, Buffer>();

/** HMAC-SHA256 of `prefix` followed by the raw body bytes. */
export function hmac(key: Buffer | string, prefix: string, body: Uint8Array): Buffer {
  const mac = createHmac('sha256', key);
  if (prefix !== '') mac.update(prefix, 'utf8');
  return mac.update(body).digest();
}

/**
 * A header's value whatever the case of its name. API Gateway hands names in lower case, so the
 * exact key is tried first; other spellings of the same name are joined as API Gateway joins a
 * repeated header, so that they count as a repeat.
 */
function headerValue(headers: VerifyInput['headers'], name: string): string | undefined {
  let value = headers[name];
  for (const key in headers) {
    if (key === name || key.length !== name.length || key.toLowerCase() !== name) continue;
    const other = headers[key];
    if (other !== undefined) value = value === undefined ? other : `${value},${other}`;
  }
  return value;
}

/**
 * API Gateway joins a repeated header's values with commas. None of the single-valued headers of
 * the contract contains a comma, so a comma means a repeat: identical repeats are harmless, and
 * differing ones are rejected rather than guessing which one was signed.
 */
function singleValue(headers: VerifyInput['headers'], name: string): string | undefined {
  const value = headerValue(headers, name);
  return value === undefined ? undefined : collapseRepeats(value, name);
}

/** A comma-joined value whose copies are all the same, as that one value; differing copies are a 401. */
function collapseRepeats(value: string, name: string): string {
  if (!value.includes(',')) return value;
  const parts = value.split(',').map((part) => part.trim());
  const first = parts[0] ?? '';
  if (parts.some((part) => part !== first)) {
    throw new UnauthorizedError(`${name} was sent more than once with different values`, 'repeated_header');
  }
  return first;
}

function readTimestamp(headers: VerifyInput['headers'], name: string, nowSeconds: number): number {
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
  const first = collapseRepeats(value, name);
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
