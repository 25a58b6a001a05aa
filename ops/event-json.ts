import type { EventRecord } from '../functions/core/table';
import type { PublishedEvent } from './published';

/**
 * The `--json` form of one event: the record with its event parsed (`event`) only when asked, from
 * a record whose event was read (`withRecordEvent`); the packed payload is never shown as bytes.
 */
export function eventForJson(record: EventRecord & { eventProblem?: string }, withPayload: boolean): Record<string, unknown> {
  const { event, leaseToken: _leaseToken, payload: _payload, payloadItem: _payloadItem, eventProblem, ...rest } = record;
  if (!withPayload) return rest;
  if (event === undefined) return { ...rest, ...(eventProblem === undefined ? {} : { eventProblem }) };
  let parsed: unknown = event;
  try {
    parsed = JSON.parse(event);
  } catch {
    // Shown as stored.
  }
  return { ...rest, event: parsed };
}

/**
 * What the stand-in bus of `npm start` published for an event, as `events show` prints it: source,
 * detail-type, when, whether it went by reference; the detail itself only with `--payload`.
 */
export function publishedForJson(published: PublishedEvent, withPayload: boolean): Record<string, unknown> {
  const { Source, DetailType, Detail, publishedAt } = published.entry;
  let detail: unknown = Detail;
  try {
    detail = JSON.parse(Detail);
  } catch {
    // Shown as recorded.
  }
  const truncated = typeof detail === 'object' && detail !== null && (detail as { truncated?: unknown }).truncated === true;
  return {
    source: Source,
    detailType: DetailType,
    publishedAt,
    times: published.times,
    truncated,
    detailBytes: Buffer.byteLength(Detail),
    ...(withPayload ? { detail } : {}),
  };
}
