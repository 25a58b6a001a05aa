/**
 * Item sizes as DynamoDB counts them against its 400 KB item limit (developer guide, "Item
 * sizes"). The local emulator counts strings in UTF-16 units, so it lets through items DynamoDB
 * refuses: code that bounds an item measures it here, never by what the emulator accepts.
 */

/** DynamoDB's largest item: 400 KB. */
export const DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024;

/**
 * Bytes of an item: each attribute's name in UTF-8 plus its value ({@link attributeValueBytes}).
 * Undefined attributes are not written, so they count nothing.
 */
export function itemBytes(item: Readonly<Record<string, unknown>>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    // Stryker disable next-line StringLiteral: Buffer.byteLength counts a string in UTF-8 when no encoding is named
    if (value !== undefined) bytes += Buffer.byteLength(name, 'utf8') + attributeValueBytes(value);
  }
  return bytes;
}

/**
 * Bytes of one attribute value, as the document client writes it: a string in UTF-8 bytes; a
 * number one byte per two significant digits plus one; binary its length; a list or map 3 bytes,
 * plus 1 byte per element, plus the elements (a map's element names in UTF-8); a boolean or null 1.
 */
export function attributeValueBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') return Math.ceil(significantDigits(value) / 2) + 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) {
    let bytes = 3;
    for (const element of value) bytes += 1 + attributeValueBytes(element);
    return bytes;
  }
  if (typeof value === 'object' && value !== null) {
    let bytes = 3;
    for (const [name, element] of Object.entries(value)) {
      // Stryker disable next-line StringLiteral: Buffer.byteLength counts a string in UTF-8 when no encoding is named
      if (element !== undefined) bytes += 1 + Buffer.byteLength(name, 'utf8') + attributeValueBytes(element);
    }
    return bytes;
  }
  return 1;
}

/** Digits of a number as DynamoDB stores it: leading and trailing zeros trimmed, no exponent. */
function significantDigits(value: number): number {
  const [mantissa = ''] = String(Math.abs(value)).split('e');
  return mantissa.replace(/\D/g, '').replace(/^0+/, '').replace(/0+$/, '').length;
}
