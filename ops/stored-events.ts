import type { NormalizedEvent } from '../functions/core/event';
import { readPayloadItem } from '../functions/core/payload-item';
import { isRoute } from '../functions/core/routes';
import { eventFromStored, StoredEventError } from '../functions/core/stored-event';
import type { EventRecord } from '../functions/core/table';
import { parseMessage } from '../functions/consumers/message';
import type { EventsDeps } from './events';

/** A record's event as its consumer reads it, with the message body that carries it; or why not. */
export type StoredEventRead =
  | { readonly ok: true; readonly event: NormalizedEvent; readonly body: string }
  | { readonly ok: false; readonly problem: string };

/**
 * The normalized event a record keeps, whichever form it is stored in: the packed payload inline
 * (`payload`) or in its payload item (`payloadItem`, one consistent read), or, for a record written
 * before the packed form, the event's JSON (`event`, sent again as it was stored). DynamoDB errors
 * of the payload item's read are thrown; anything unreadable is a `problem` that says what is wrong.
 */
export async function readRecordEvent(deps: EventsDeps, record: EventRecord): Promise<StoredEventRead> {
  if (!isRoute(record.route)) return { ok: false, problem: `the record of ${record.pk} names an unknown route ${JSON.stringify(record.route)}` };
  if (record.event !== undefined) {
    try {
      return { ok: true, event: parseMessage({ body: record.event }, record.route), body: record.event };
    } catch {
      return { ok: false, problem: `the stored event of ${record.pk} is not a valid normalized event` };
    }
  }
  const bytes = record.payload ?? (await readPayloadItem(deps.documents, deps.tableName, record));
  if (bytes === undefined) {
    return {
      ok: false,
      problem:
        record.payloadItem === undefined
          ? `the record of ${record.pk} holds no event`
          : `the payload item of ${record.pk} is gone (expired before its record?)`,
    };
  }
  try {
    const event = eventFromStored(record, bytes);
    return { ok: true, event, body: JSON.stringify(event) };
  } catch (error) {
    if (error instanceof StoredEventError) return { ok: false, problem: error.message };
    throw error;
  }
}

/**
 * The record as `events show` and the console print it: its event as JSON in `event` (as records
 * before the packed form kept it), the packed forms left out. An event that cannot be read is left
 * out, and `eventProblem` says why.
 */
export async function withRecordEvent(deps: EventsDeps, record: EventRecord): Promise<EventRecord & { eventProblem?: string }> {
  const { payload: _payload, payloadItem: _payloadItem, ...rest } = record;
  // A record of the earlier form is shown as stored, even where it does not parse.
  if (record.event !== undefined) return rest;
  const read = await readRecordEvent(deps, record);
  return read.ok ? { ...rest, event: read.body } : { ...rest, eventProblem: read.problem };
}
