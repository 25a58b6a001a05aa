import { MAX_DATA_TEXT_LENGTH } from '../data';

/** A provider's data object as one bag of fields: `{}` for anything that is not an object. */
export type Fields = Readonly<Record<string, unknown>>;

/** `value` as a bag of fields; `{}` when it is not a JSON object. */
export function fieldsOf(value: unknown): Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : {};
}

/**
 * A canonical text field: a non-blank string as sent, or a finite number as its text. Absent for
 * anything else, and for a string over {@link MAX_DATA_TEXT_LENGTH} (a cut id would be a wrong id).
 */
export function text(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_DATA_TEXT_LENGTH) return undefined;
  return value;
}

/** A canonical number field: a finite number, or a string that spells one. */
export function number(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/**
 * Why something failed, as text: a string, or an object's `message` (else `code`) with its `line`
 * where given; of a list, its first entry. Cut to {@link MAX_DATA_TEXT_LENGTH}: prose keeps its sense.
 */
export function errorText(value: unknown): string | undefined {
  const first: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof first === 'string') return prose(first);
  if (typeof first !== 'object' || first === null || Array.isArray(first)) return undefined;
  const fields = first as Fields;
  const message = typeof fields.message === 'string' ? prose(fields.message) : undefined;
  const said = message ?? (typeof fields.code === 'string' ? prose(fields.code) : undefined);
  const line = number(fields.line);
  return said === undefined || line === undefined ? said : prose(`${said} (line ${line})`);
}

function prose(value: string): string | undefined {
  if (value.trim() === '') return undefined;
  return value.length <= MAX_DATA_TEXT_LENGTH ? value : `${value.slice(0, MAX_DATA_TEXT_LENGTH - 1)}…`;
}
