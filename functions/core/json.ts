/**
 * JSON as the receiver reads, stores and queues it. Three rules keep any valid body within the cap
 * from failing later: nesting is bounded before anything recursive runs, a stored event is never
 * longer than the body it came from (plus its envelope), and a message body holds only characters
 * every SQS queue takes.
 */

/** Deepest nesting of arrays and objects accepted, the body itself being level 1. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]);
const CLOSERS = new Set([0x5d, 0x7d]);

/**
 * Whether UTF-8 JSON nests arrays and objects deeper than `maxDepth`. One pass over the bytes,
 * brackets inside strings skipped, no recursion: safe for any input, valid JSON or not (for
 * invalid JSON the answer does not matter, JSON.parse refuses it next).
 */
export function nestsDeeperThan(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < bytes.length; index += 1) {
    const byte = bytes[index] as number;
    if (inString) {
      if (byte === BACKSLASH) index += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (OPENERS.has(byte)) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (CLOSERS.has(byte)) {
      depth -= 1;
    }
  }
  return false;
}

// A string token (skipped) or a number token of JSON.stringify's output.
const TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"|-?\d[\d.e+-]*/g;
const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/;

/**
 * JSON.stringify, unless its text is over `maxBytes`: then the same JSON with every number in its
 * shortest spelling (`100000000000000000000` → `1e20`). JSON.stringify writes numbers up to five
 * times longer than a sender can (`1e20`), while strings never come out longer than they were
 * sent and whitespace goes; so the shortest spellings keep any value no longer than the JSON text
 * it was parsed from. Ordinary events keep JSON.stringify's familiar spellings.
 */
export function stringifyWithin(value: unknown, maxBytes: number): string {
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) <= maxBytes) return text;
  return text.replace(TOKEN, (token) => (token.charCodeAt(0) === QUOTE ? token : shortestNumber(token)));
}

/** `1.5e+300` → `15e299`, `0.000001` → `1e-6`; the same number, never a longer spelling. */
function shortestNumber(token: string): string {
  const match = NUMBER.exec(token);
  if (match === null) return token;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return token;
  const significant = digits.replace(/0+$/, '');
  const power = Number(exponent) - fraction.length + (digits.length - significant.length);
  const shortest = power === 0 ? `${sign}${significant}` : `${sign}${significant}e${power}`;
  return shortest.length < token.length ? shortest : token;
}

/**
 * How much longer {@link encodeMessageBody} can make a text, at most: a 4-byte character becomes
 * a 12-byte pair of escapes.
 */
export const MESSAGE_ESCAPE_GROWTH = 3;

// Every UTF-16 unit outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD. SQS refuses U+FFFE,
// U+FFFF and lone surrogates; the local emulator also refuses the pairs of U+10000 and above,
// which SQS takes. Escaping both keeps one body format on every queue.
const REFUSED_BY_QUEUES = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd]/g;

/**
 * A JSON text as a message body every queue takes: each character SQS or its emulator refuses is
 * written as a JSON `\uXXXX` escape. Lossless, because outside strings JSON holds only ASCII and
 * inside them the escape means the character: `JSON.parse` gives back the same value.
 */
export function encodeMessageBody(json: string): string {
  return json.replace(REFUSED_BY_QUEUES, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// An escape sequence: a surrogate pair or a U+FFFE/U+FFFF escape (captured), or any other (kept).
const ESCAPE = /\\(?:u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|u(ff(?:fe|ff))|[^])/gi;

/**
 * The JSON text {@link encodeMessageBody} was given: its escapes written back as characters.
 * Escapes of lone surrogates stay, as JSON.stringify writes them.
 */
export function decodeMessageBody(body: string): string {
  return body.replace(ESCAPE, (sequence, high?: string, low?: string, nonCharacter?: string) => {
    // Stryker disable next-line LogicalOperator: the two halves of a pair are captured together, so both are defined or neither is
    if (high !== undefined && low !== undefined) return String.fromCharCode(parseInt(high, 16), parseInt(low, 16));
    if (nonCharacter !== undefined) return String.fromCharCode(parseInt(nonCharacter, 16));
    return sequence;
  });
}
