import { describe, expect, it } from 'vitest';
import { attributeValueBytes, itemBytes } from '../../functions/core/item-size';

/**
 * Each expected size is worked out by hand from DynamoDB's rules (developer guide, "Item sizes"):
 * names and strings in UTF-8 bytes; a number one byte per two significant digits, plus one; a list
 * or map 3 bytes, plus 1 per element, plus the elements; a boolean or null 1 byte.
 */
describe('DynamoDB item size', () => {
  it('[H3-5] counts a string in UTF-8 bytes, not UTF-16 units', () => {
    expect(attributeValueBytes('abc')).toBe(3);
    expect(attributeValueBytes('€')).toBe(3);
    expect(attributeValueBytes('𝄞')).toBe(4);
    expect(attributeValueBytes('')).toBe(0);
  });

  it('[H3-5] counts a number by its significant digits, leading and trailing zeros trimmed', () => {
    expect(attributeValueBytes(7)).toBe(2);
    expect(attributeValueBytes(1200)).toBe(2);
    expect(attributeValueBytes(0.00012)).toBe(2);
    expect(attributeValueBytes(123.45)).toBe(4);
    expect(attributeValueBytes(-123.45)).toBe(4);
    expect(attributeValueBytes(0.1 + 0.2)).toBe(10);
    expect(attributeValueBytes(1e21)).toBe(2);
  });

  it('[H3-5] counts a boolean and null as 1 byte', () => {
    expect(attributeValueBytes(true)).toBe(1);
    expect(attributeValueBytes(null)).toBe(1);
  });

  it('[H3-5] counts a list as 3 bytes, plus 1 per element, plus the elements', () => {
    expect(attributeValueBytes([])).toBe(3);
    expect(attributeValueBytes(['ab', 5])).toBe(3 + (1 + 2) + (1 + 2));
  });

  it('[H3-5] counts a map as 3 bytes, plus per element 1 byte, its name in UTF-8 and its value', () => {
    expect(attributeValueBytes({})).toBe(3);
    expect(attributeValueBytes({ é: 'x', step: 500 })).toBe(3 + (1 + 2 + 1) + (1 + 4 + 2));
  });

  it('[H3-5] counts an item as its attribute names in UTF-8 plus their values, leaving out undefined ones', () => {
    const item = { pk: 'together#ft-1', step: 500, loss: 0.87, checkpoints: [{ step: 1, path: 's3://€' }], gone: undefined };

    const bytes = itemBytes(item);

    expect(bytes).toBe(2 + 13 + (4 + 2) + (4 + 2) + (11 + 3 + 1 + (3 + (1 + 4 + 2) + (1 + 4 + 8))));
  });

  it('[RULE] counts nothing for a map element that is undefined: the document client does not write it', () => {
    expect(attributeValueBytes({ step: 500, gone: undefined })).toBe(3 + (1 + 4 + 2));
    expect(itemBytes({ data: { gone: undefined } })).toBe(4 + 3);
  });
});
