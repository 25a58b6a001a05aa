import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SecretInvalidError, UnauthorizedError } from './errors';

/**
 * How a provider signs a delivery.
 * - `hmac-hex`: hex HMAC-SHA256 of the raw body, secret string as key bytes (Together body-only,
 *   LLMTune, MythicDot). The same bytes are resent on retries, so there is no signed timestamp.
 * - `hmac-hex-timestamped`: hex HMAC-SHA256 of `${timestamp}.${rawBody}` (Together, default).
 * - `standard`: Standard Webhooks: base64 HMAC-SHA256 of `${id}.${timestamp}.${rawBody}`,
 *   `v1,<sig>` entries separated by spaces, secret `whsec_` + base64 key.
 */
export type SignatureScheme = 'hmac-hex' | 'hmac-hex-timestamped' | 'standard';

/** The headers a scheme reads, by lower-case name. */
export interface SignatureHeaders {
  readonly signatureHeader: string;
  readonly timestampHeader?: string;
  readonly idHeader?: string;
}

export interface SignatureSpec extends SignatureHeaders {
  readonly scheme: SignatureScheme;
  /**
   * The same headers under another brand (Svix's `svix-*` for Standard Webhooks), read only when
   * none of the headers above is present. The two sets are never mixed.
   */
  readonly alternateHeaders?: SignatureHeaders;
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

/** Bytes of an HMAC-SHA256. */
const SHA256_BYTES = 32;
/** Most digits of a signed timestamp: Unix seconds until the year 33658. */
const MAX_TIMESTAMP_DIGITS = 12;

/** What a delivery's headers claim, read and checked before any secret is needed. */
export interface SignatureClaim extends Verified {
  readonly scheme: SignatureScheme;
  /** The received MACs, each 32 bytes; the delivery passes if any one matches. */
  readonly candidates: readonly Buffer[];
  /** What is signed before the body: `""`, `${timestamp}.` or `${id}.${timestamp}.`. */
  readonly prefix: string;
}

/**
 * Verifies a delivery's signature (and signed timestamp) against the raw body. Pure: no I/O, the
 * clock and the secrets are passed in. Throws {@link UnauthorizedError} with a reason for the log,
 * or {@link SecretInvalidError} when an active secret is refused.
 *
 * Written on node:crypto rather than the `standardwebhooks` package (which the tests use as an
 * independent signer): that package decodes the body as UTF-8 before signing (so non-UTF-8 bytes
 * would not be verified as sent), reads `Date.now()` itself (the contract measures the window from
 * the gateway's clock), accepts timestamps such as `"123abc"` through `parseInt`, and hashes in
 * pure JavaScript: `bench/verification.ts` times it and `svix` (which wraps it) at about a fifth of
 * this verifier's rate at 1 KiB and a twentieth at 256 KiB.
 */
export function verifySignature(input: VerifyInput): Verified {
  return matchSignature(readSignatureClaim(input), input.body, input.secrets);
}

/**
 * The first half of {@link verifySignature}: reads the signature, timestamp and id headers and
 * checks everything that needs no secret (presence, format, the timestamp window). A request that
 * fails here could never verify, whatever the secrets, so the receiver answers it 401 before it
 * reads them. Throws {@link UnauthorizedError}.
 */
export function readSignatureClaim(input: Omit<VerifyInput, 'body' | 'secrets'>): SignatureClaim {
  const { spec, headers } = input;
  let names: SignatureHeaders = spec;
  let values = readHeaders(headers, spec);
  const alternate = spec.alternateHeaders;
  // The alternate brand's headers, only when none of the spec's own is present.
  if (alternate !== undefined && values.signature === undefined && values.timestamp === undefined && values.id === undefined) {
    const other = readHeaders(headers, alternate);
    if (other.signature !== undefined || other.timestamp !== undefined || other.id !== undefined) {
      names = alternate;
      values = other;
    }
  }
  const signatureValue = values.signature;
  if (signatureValue === undefined || signatureValue.trim() === '') {
    throw new UnauthorizedError(`missing ${names.signatureHeader} header`, 'missing_signature');
  }

  let signedAtSeconds: number | undefined;
  if (names.timestampHeader !== undefined) {
    signedAtSeconds = readTimestamp(values.timestamp, names.timestampHeader, input.nowSeconds);
  }
  let headerId: string | undefined;
  if (names.idHeader !== undefined) {
    headerId = values.id === undefined ? undefined : collapseRepeats(values.id, names.idHeader);
    if (headerId === undefined || headerId === '') {
      throw new UnauthorizedError(`missing ${names.idHeader} header`, 'missing_id');
    }
  }

  const candidates =
    spec.scheme === 'standard'
      ? parseStandardSignatures(signatureValue, names.signatureHeader)
      : [parseHexSignature(signatureValue, names.signatureHeader)];
  if (candidates.length === 0) {
    throw new UnauthorizedError(`${names.signatureHeader} has no readable v1 signature`, 'malformed_signature');
  }

  const prefix =
    spec.scheme === 'hmac-hex'
      ? ''
      : spec.scheme === 'hmac-hex-timestamped'
        ? `${signedAtSeconds}.`
        : `${headerId}.${signedAtSeconds}.`;
  return { scheme: spec.scheme, candidates, prefix, signedAtSeconds, headerId };
}

/**
 * The second half of {@link verifySignature}: the claimed MACs against every active secret, in
 * constant time. Every secret is checked before any is used: a list holding one refused secret
 * is refused whole ({@link SecretInvalidError}), never half-used.
 */
export function matchSignature(claim: SignatureClaim, body: Uint8Array, secrets: readonly string[]): Verified {
  // Every key first (a refused secret throws here), then each against the candidates: the keys are
  // cached per secret, so the second look-up is a map hit, and no array is built per delivery.
  for (const secret of secrets) macKey(claim.scheme, secret);
  const { candidates } = claim;
  for (const secret of secrets) {
    const expected = hmac(macKey(claim.scheme, secret), claim.prefix, body);
    for (let index = 0; index < candidates.length; index++) {
      if (timingSafeEqual(candidates[index] as Buffer, expected)) return { signedAtSeconds: claim.signedAtSeconds, headerId: claim.headerId };
    }
  }
  throw new UnauthorizedError('signature does not match any active secret', 'signature_mismatch');
}

/** The values of a set of headers, each whatever the case of its name. */
interface HeaderValues {
  readonly signature: string | undefined;
  readonly timestamp: string | undefined;
  readonly id: string | undefined;
}

/**
 * A set's headers in one pass over the request's, whatever the case of their names. API Gateway
 * hands names in lower case, so the exact key is taken first; other spellings of the same name are
 * joined after it as API Gateway joins a repeated header, so that they count as a repeat. Runs on
 * every delivery: one loop for all three names, no arrays, no closures.
 */
function readHeaders(headers: VerifyInput['headers'], set: SignatureHeaders): HeaderValues {
  const { signatureHeader, timestampHeader, idHeader } = set;
  let signature = headers[signatureHeader];
// Stryker disable next-line ConditionalExpression: a value read under no name is never used (a scheme without the header never reads it)
  let timestamp = timestampHeader === undefined ? undefined : headers[timestampHeader];
// Stryker disable next-line ConditionalExpression: a value read under no name is never used (a scheme without the header never reads it)
  let id = idHeader === undefined ? undefined : headers[idHeader];
  for (const key in headers) {
// Stryker disable next-line ConditionalExpression: the exact id key read again joins the id with itself, which collapses to one value
    if (key === signatureHeader || key === timestampHeader || key === idHeader) continue;
    const length = key.length;
// Stryker disable next-line ConditionalExpression,EqualityOperator: a fast path only; every scheme's signature and timestamp names have the same length
    if (length !== signatureHeader.length && length !== timestampHeader?.length && length !== idHeader?.length) continue;
    const other = headers[key];
    if (other === undefined) continue;
    const lower = key.toLowerCase();
    if (lower === signatureHeader) signature = signature === undefined ? other : `${signature},${other}`;
    else if (lower === timestampHeader) timestamp = timestamp === undefined ? other : `${timestamp},${other}`;
    else if (lower === idHeader) id = id === undefined ? other : `${id},${other}`;
  }
  return { signature, timestamp, id };
}

/**
 * The HMAC key bytes of a secret: Standard Webhooks secrets are `whsec_` + base64; others are used
 * as-is. Throws {@link SecretInvalidError} for a secret {@link secretProblem} refuses, so that no
 * caller (verifier or signer) can ever compute a MAC under an empty or degenerate key.
 */
export function secretKey(scheme: SignatureScheme, secret: string): Buffer | string {
  const problem = secretProblem(scheme, secret);
  if (problem !== undefined) throw new SecretInvalidError(`a ${scheme} signing secret ${problem}; ${secretRule(scheme)}`);
  if (scheme !== 'standard') return secret; // node:crypto takes a string key as its UTF-8 bytes
  return standardKey(secret);
}

/**
 * {@link secretKey} as a KeyObject, checked and built once per secret: a raw key would cost a
 * validation (a regular expression over the secret) and a key import inside `createHmac` on every
 * delivery, which shows at small bodies.
 */
function macKey(scheme: SignatureScheme, secret: string): KeyObject {
  // One map per scheme, keyed by the secret itself: the configuration hands the same string on
  // every delivery, so its hash is computed once (a `${scheme}:${secret}` key would be a new string each time).
  const keys = macKeys[scheme];
  let key = keys.get(secret);
// Stryker disable next-line ConditionalExpression: a cache; building the key again gives the same key
  if (key === undefined) {
    const raw = secretKey(scheme, secret);
// Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: a string key is read as UTF-8 whichever way it is passed
    key = createSecretKey(typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw);
    // A handful of active secrets per provider; rotation adds a few more, never many.
// Stryker disable next-line ConditionalExpression,EqualityOperator: the cache's bound limits memory only; every key is the same rebuilt
    if (keys.size >= 64) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

const macKeys: Readonly<Record<SignatureScheme, Map<string, KeyObject>>> = {
  'hmac-hex': new Map(),
  'hmac-hex-timestamped': new Map(),
  standard: new Map(),
};

/** Bytes of a Standard Webhooks key, per the Standard Webhooks spec. */
export const STANDARD_KEY_BYTES = { min: 24, max: 64 } as const;

/**
 * Standard base64 (RFC 4648 §4) only: the `+` `/` alphabet, and `=` padding at the end or none
 * (the reference libraries accept unpadded keys). Node's decoder would otherwise skip whatever it
 * cannot read, so that `whsec_!!!!` decodes to an empty key anyone can sign with.
 */
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * Why a secret cannot be used in a scheme, as the end of a sentence that names it, or undefined
 * when it can. Never quotes the secret. An empty key is refused in every scheme; a `standard`
 * secret must be `whsec_` (optional) + strict base64 of 24 to 64 bytes.
 */
export function secretProblem(scheme: SignatureScheme, secret: string): string | undefined {
  if (scheme !== 'standard') return secret === '' ? 'is empty' : undefined;
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (encoded === '') return 'has an empty key';
  if (!STRICT_BASE64.test(encoded)) return 'is not valid base64 after whsec_ (only A-Z, a-z, 0-9, + and /, with = padding at the end)';
  const bytes = standardKey(secret).length;
  if (bytes < STANDARD_KEY_BYTES.min || bytes > STANDARD_KEY_BYTES.max) {
    return `decodes to ${bytes} bytes, outside the ${STANDARD_KEY_BYTES.min} to ${STANDARD_KEY_BYTES.max} bytes of a Standard Webhooks key`;
  }
  return undefined;
}

/** How to make a valid secret of a scheme: the fix a refusal names. */
export function secretRule(scheme: SignatureScheme): string {
  return scheme === 'standard'
    ? 'a standard secret is whsec_ followed by the base64 of 24 to 64 random bytes, as the sender shows it (to make one: echo "whsec_$(openssl rand -base64 32)")'
    : "use the non-empty secret the provider shows you";
}

function standardKey(secret: string): Buffer {
  let key = decodedKeys.get(secret);
// Stryker disable next-line ConditionalExpression: a cache; decoding again gives the same bytes
  if (key === undefined) {
    key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
    // A handful of active secrets per provider: a tiny cache saves a base64 decode per delivery.
// Stryker disable next-line ConditionalExpression,EqualityOperator: the cache's bound limits memory only
    if (decodedKeys.size >= 64) decodedKeys.clear();
    decodedKeys.set(secret, key);
  }
  return key;
}

const decodedKeys = new Map<string, Buffer>();

/** HMAC-SHA256 of `prefix` followed by the raw body bytes. */
export function hmac(key: Buffer | string | KeyObject, prefix: string, body: Uint8Array): Buffer {
  const mac = createHmac('sha256', key);
// Stryker disable next-line ConditionalExpression,StringLiteral: an empty prefix adds nothing to the MAC, and a string is hashed as UTF-8 by default
  if (prefix !== '') mac.update(prefix, 'utf8');
  return mac.update(body).digest();
}

/**
 * A comma-joined value whose copies are all the same, as that one value; differing copies are a
 * 401. API Gateway joins a repeated header's values with commas, and none of the single-valued
 * headers of the contract contains a comma, so a comma means a repeat: identical repeats are
 * harmless, and differing ones are rejected rather than guessing which one was signed.
 */
function collapseRepeats(value: string, name: string): string {
  if (!value.includes(',')) return value;
  const parts = value.split(',').map((part) => part.trim());
// Stryker disable next-line StringLiteral: split always yields a first part
  const first = parts[0] ?? '';
  if (parts.some((part) => part !== first)) {
    throw new UnauthorizedError(`${name} was sent more than once with different values`, 'repeated_header');
  }
  return first;
}

function readTimestamp(received: string | undefined, name: string, nowSeconds: number): number {
  const value = received === undefined ? undefined : collapseRepeats(received, name);
  if (value === undefined || value === '') {
    throw new UnauthorizedError(`missing ${name} header`, 'missing_timestamp');
  }
  if (!isUnixSeconds(value)) {
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

/** `/^\d{1,12}$/`, by character code: this runs on every delivery, where a regular expression costs more. */
function isUnixSeconds(value: string): boolean {
  const length = value.length;
// Stryker disable next-line ConditionalExpression: an empty value is refused as missing before it gets here
  if (length === 0 || length > MAX_TIMESTAMP_DIGITS) return false;
// Stryker disable next-line EqualityOperator: the code past the end is NaN, which neither bound refuses
  for (let index = 0; index < length; index++) {
    const code = value.charCodeAt(index);
    if (code < 48 /* 0 */ || code > 57 /* 9 */) return false;
  }
  return true;
}

function parseHexSignature(value: string, name: string): Buffer {
  const first = collapseRepeats(value, name);
  // Node's hex decoder stops at the first character that is not hex, so 64 characters that decode
  // to 32 bytes are exactly /^[0-9a-fA-F]{64}$/, without a regular expression on every delivery.
  const decoded = first.length === 2 * SHA256_BYTES ? Buffer.from(first, 'hex') : undefined;
  if (decoded === undefined || decoded.length !== SHA256_BYTES) {
    throw new UnauthorizedError(`${name} must be 64 hex characters`, 'malformed_signature');
  }
  return decoded;
}

/**
 * The 32 bytes of `value[start, end)` when it is exactly /^[A-Za-z0-9+/]{43}=$/, else undefined.
 * Node's base64 decoder skips what it cannot read and stops at `=`, so 43 characters and `=` that
 * decode to 32 bytes hold only base64 characters, or the URL-safe `-` and `_`, refused here.
 */
function standardSignature(value: string, start: number, end: number): Buffer | undefined {
  if (end - start !== 44 || value.charCodeAt(end - 1) !== 61 /* = */) return undefined;
  const text = value.slice(start, end);
  if (text.includes('-') || text.includes('_')) return undefined;
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === SHA256_BYTES ? decoded : undefined;
}

/**
 * `v1,<base64> v1,<base64>`: entries that cannot be read (other versions, a missing comma, bad
 * base64 or the wrong length) are skipped, as the Standard Webhooks spec and its reference
 * libraries do. An entry with more than one comma is a header that was sent more than once and
 * joined by API Gateway: rejected, like any header repeated with different values.
 */
function parseStandardSignatures(value: string, name: string): Buffer[] {
  // Walked by index rather than split: this runs on every delivery, and at 1 KiB bodies the
  // arrays of two splits cost as much as a tenth of the HMAC.
  const signatures: Buffer[] = [];
  let start = 0;
// Stryker disable next-line EqualityOperator: the empty segment after a trailing space holds nothing to read
  while (start <= value.length) {
    const space = value.indexOf(' ', start);
    const end = space < 0 ? value.length : space;
    const comma = value.indexOf(',', start);
// Stryker disable next-line ConditionalExpression,LogicalOperator: a comma outside the entry leaves no second comma and no `v1` label inside it either way
    if (comma >= 0 && comma < end) {
      const second = value.indexOf(',', comma + 1);
// Stryker disable next-line EqualityOperator: the second comma is after the first, and never at the entry's end (a space or the end of the value)
      if (second >= 0 && second < end) throw new UnauthorizedError(`${name} was sent more than once`, 'repeated_header');
      if (comma - start === 2 && value.startsWith('v1', start)) {
        const decoded = standardSignature(value, comma + 1, end);
        if (decoded !== undefined) signatures.push(decoded);
      }
    }
    start = end + 1;
  }
  return signatures;
}
