import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventMessage, MAX_STORED_EVENT_BYTES } from '../../functions/core/accept';
import { EVENT_ENVELOPE_BYTES, MAX_BODY_BYTES_LIMIT } from '../../functions/core/config';
import { decodeMessageBody, encodeMessageBody, MAX_JSON_DEPTH, nestsDeeperThan, stringifyWithin } from '../../functions/core/json';
import { QUEUE_SETTINGS } from '../../functions/core/queues';
import { normalizedEvent } from '../support/consumers';

// What SQS accepts in a message body and in attribute values (its SendMessage reference), and
// what its local emulator accepts: nothing above U+FFFF.
const SQS_CHARACTERS = /^[\t\n\r\u{20}-\u{D7FF}\u{E000}-\u{FFFD}\u{10000}-\u{10FFFF}]*$/u;
const EMULATOR_CHARACTERS = /^[\t\n\r\u0020-\ud7ff\ue000-\ufffd]*$/;

/** Any spelling JSON allows of a number: sign, digits, fraction, exponent in either case. */
const numberSpelling = fc
  .tuple(
    fc.boolean(),
    fc.stringMatching(/^(0|[1-9]\d{0,24})$/),
    fc.option(fc.stringMatching(/^\d{1,24}$/), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.stringMatching(/^\d{1,4}$/)), { nil: undefined }),
  )
  .map(([negative, whole, fraction, exponent]) =>
    `${negative ? '-' : ''}${whole}${fraction === undefined ? '' : `.${fraction}`}${exponent === undefined ? '' : exponent.join('')}`,
  );

/** A string spelled as a sender may: each character raw or as a `\uXXXX` escape. */
const stringSpelling = fc
  .array(fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.boolean()))
  .map((units) =>
    `"${units
      .map(([unit, escaped]) =>
        escaped || unit < ' ' || unit === '"' || unit === '\\'
          ? [...unit].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')
          : unit,
      )
      .join('')}"`,
  );

describe('JSON nesting', () => {
  it('finds nesting deeper than the limit in one pass over the bytes, however deep', () => {
    const deep = Buffer.from(`${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`);
    expect([nestsDeeperThan(deep, MAX_JSON_DEPTH), nestsDeeperThan(Buffer.from('{"a":[[]]}'), 3)]).toEqual([true, false]);
    expect(nestsDeeperThan(Buffer.from('{"a":[[[]]]}'), 3)).toBe(true);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan(Buffer.from(JSON.stringify({ text: '\\"[[[[{{{{' })), 1)).toBe(false);
  });
});

describe('stored events', () => {
  it('keeps JSON.stringify spellings while the text is within the limit', () => {
    expect(stringifyWithin({ tokens: 3_250_000, big: 1e20 }, 1_000)).toBe('{"tokens":3250000,"big":100000000000000000000}');
  });

  it('[RULE] keeps JSON.stringify spellings for a text exactly at the limit', () => {
    const familiar = '{"big":100000000000000000000}';

    expect(stringifyWithin({ big: 1e20 }, Buffer.byteLength(familiar))).toBe(familiar);
    expect(stringifyWithin({ big: 1e20 }, Buffer.byteLength(familiar) - 1)).toBe('{"big":1e20}');
  });

  it('[RULE] over the limit, a number whose shortest spelling is no shorter keeps its familiar one', () => {
    expect(stringifyWithin({ n: [0.05, -0.05, 123, 1.5] }, 0)).toBe('{"n":[0.05,-0.05,123,1.5]}');
  });

  it('over the limit, writes the same numbers in their shortest spellings', () => {
    const text = stringifyWithin({ n: [1e20, -1.5e300, 0.000001, 123.456, 0, 'e1e20'] }, 0);
    expect(text).toBe('{"n":[1e20,-15e299,1e-6,123.456,0,"e1e20"]}');
  });

  it('never stores a value longer than the JSON text it was parsed from', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(numberSpelling, stringSpelling), { maxLength: 20 }), (items) => {
        const text = `[${items.join(', ')}]`;
        const value: unknown = JSON.parse(text);
        const stored = stringifyWithin(value, 0);
        expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(Buffer.byteLength(text));
        expect(JSON.parse(stored)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('derives the body cap limit so that every body within it stores and queues', () => {
    expect(MAX_BODY_BYTES_LIMIT + EVENT_ENVELOPE_BYTES).toBeLessThanOrEqual(MAX_STORED_EVENT_BYTES);
    const widest = normalizedEvent({ id: '\u{1F600}'.repeat(128), providerData: { fill: '\u{1F600}'.repeat(MAX_STORED_EVENT_BYTES / 4 - 100) } });
    const message = eventMessage(widest, stringifyWithin(widest, MAX_STORED_EVENT_BYTES), 'https://queue');
    const attributeBytes = Object.entries(message.MessageAttributes ?? {}).reduce(
      (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? ''),
      0,
    );
    expect(Buffer.byteLength(message.MessageBody ?? '') + attributeBytes).toBeLessThanOrEqual(QUEUE_SETTINGS.maxMessageBytes);
  });
});

describe('message bodies', () => {
  it('escape every character SQS or its emulator refuses, and nothing else', () => {
    const stored = JSON.stringify({ text: 'é 中 \u{1F600} \uFFFE \uFFFF \ud800 \u2028 \t' });
    const body = encodeMessageBody(stored);
    expect(body).toBe('{"text":"é 中 \\ud83d\\ude00 \\ufffe \\uffff \\ud800 \u2028 \\t"}');
    expect([SQS_CHARACTERS.test(body), EMULATOR_CHARACTERS.test(body)]).toEqual([true, true]);
  });

  it('decode to the stored text exactly, and parse to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, text) => {
        const stored = JSON.stringify({ value, text, escaped: `\\ufffe ${text}`, lone: `\ud800${text}\udfff` });
        const body = encodeMessageBody(stored);
        expect(EMULATOR_CHARACTERS.test(body)).toBe(true);
        expect(decodeMessageBody(body)).toBe(stored);
        expect(JSON.parse(body)).toEqual(JSON.parse(stored));
      }),
      { numRuns: 1_000 },
    );
  });

  it('reach the consumer as the stored form the receiver wrote', () => {
    const event = normalizedEvent({ id: 'evt_\u{1F600}', providerData: { text: '\u{1F600}\uFFFE\\ud800' } });
    const stored = stringifyWithin(event, MAX_STORED_EVENT_BYTES);
    const message = eventMessage(event, stored, 'https://queue');
    expect(decodeMessageBody(message.MessageBody ?? '')).toBe(stored);
    expect(Object.values(message.MessageAttributes ?? {}).every((value) => SQS_CHARACTERS.test(value.StringValue ?? ''))).toBe(true);
  });
});
