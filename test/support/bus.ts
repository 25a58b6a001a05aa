import type { NormalizedEvent } from '../../functions/core/event';
import { normalizedEvent } from './consumers';

/**
 * A normalized event carrying `padding` characters in the provider's data: in `providerData`
 * where the event keeps the provider's data beside its canonical `data` (it has `schemaVersion`),
 * else in `data`. The consumer's schema drops unknown fields, so the padding must be where the
 * event's own shape keeps it.
 */
export function paddedEvent(padding: string, overrides: Partial<NormalizedEvent> = {}): NormalizedEvent {
  const base: Record<string, unknown> = { ...normalizedEvent(overrides) };
  const providerData = { notes: padding };
  // The parsed shape of either version; built untyped because only one of them is this code's.
  return ('schemaVersion' in base ? { ...base, providerData } : { ...base, data: providerData }) as unknown as NormalizedEvent;
}

/** The fields of an event a bus reference keeps: all but `data` and `providerData`. */
export function envelopeOf(event: NormalizedEvent): Record<string, unknown> {
  const { data: _data, providerData: _providerData, ...envelope } = event as NormalizedEvent & { providerData?: unknown };
  return envelope;
}
