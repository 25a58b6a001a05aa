import * as z from 'zod';

const Fields = z.record(z.string(), z.unknown());

/**
 * The provider's data as one flat bag of fields. Providers wrap the object differently (MythicDot
 * and OpenAI put it under `data.object`, Together and LLMTune do not); the inner object's fields win.
 */
export function eventFields(data: unknown): Record<string, unknown> {
  const outer = Fields.safeParse(data);
  if (!outer.success) return {};
  const inner = Fields.safeParse(outer.data.object);
  return inner.success ? { ...outer.data, ...inner.data } : outer.data;
}

/** The first of `names` holding a non-empty string (or a finite number, as text). */
export function firstString(fields: Record<string, unknown>, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = fields[name];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  }
  return undefined;
}

/** The first of `names` holding a finite number (or a numeric string). */
export function firstNumber(fields: Record<string, unknown>, names: readonly string[]): number | undefined {
  for (const name of names) {
    const value = fields[name];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  }
  return undefined;
}

/** Longest error text kept in the projection or an alert. */
export const MAX_ERROR_TEXT_LENGTH = 300;

/**
 * Why a job or batch failed, in the provider's words: `error_message` (Together), `error` as text
 * (LLMTune) or as `{ message | code }` (MythicDot jobs), `errors[0]` (MythicDot batches).
 */
export function failureReason(fields: Record<string, unknown>): string | undefined {
  for (const name of ['error_message', 'error', 'errors', 'failure_reason', 'message']) {
    const text = describe(fields[name]);
    if (text !== undefined) return text.slice(0, MAX_ERROR_TEXT_LENGTH);
  }
  return undefined;
}

function describe(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
  if (Array.isArray(value)) return describe(value[0]);
  const object = Fields.safeParse(value);
  if (!object.success) return undefined;
  const text = firstString(object.data, ['message', 'code']);
  const line = firstNumber(object.data, ['line']);
  return text === undefined ? undefined : line === undefined ? text : `${text} (line ${line})`;
}
