import { MESSAGE_ESCAPE_GROWTH } from './json';
import { QUEUE_SETTINGS } from './queues';

/** Bytes the three attributes of a message can take: names, types, and an id of at most 256 characters. */
const MAX_ATTRIBUTE_BYTES = 2_048;

/**
 * The largest stored event: escaped for SQS (at most MESSAGE_ESCAPE_GROWTH times longer) and with
 * its attributes, its message still fits the route queues (QUEUE_SETTINGS.maxMessageBytes); well
 * under DynamoDB's 400 KB item limit too. The body cap's limit is derived from this
 * (MAX_BODY_BYTES_LIMIT), so that every body within the cap fits.
 */
export const MAX_STORED_EVENT_BYTES = Math.floor((QUEUE_SETTINGS.maxMessageBytes - MAX_ATTRIBUTE_BYTES) / MESSAGE_ESCAPE_GROWTH);
