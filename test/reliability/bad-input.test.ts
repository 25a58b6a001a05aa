import { request as httpRequest } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BODY_BYTES, MAX_BODY_BYTES_LIMIT, MIN_RETENTION_DAYS } from '../../functions/core/config';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import type { NormalizedEvent } from '../../functions/core/event';
import { consumerOn, eventRecord, sqsEvent, sqsRecord } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';
import { countStore, hexHmac, queueDelta, standardSignatureOfBytes, type StoreCounts } from './support/harness';
import {
  BODY_TIMESTAMP_TARGETS,
  SIGNED_TIMESTAMP_TARGETS,
  TARGETS,
  TARGET_NAMES,
  envelopeOf,
  secretOf,
  toEvent,
  wire,
  type Target,
  type Wire,
  type WireOptions,
} from './support/wire';

/**
 * Every kind of bad delivery the contract names (docs/contract.md), across all four providers
 * and both Together schemes. Each row checks the status, the exact body shape, and that nothing
 * was stored or queued; the few good rows at each boundary show the bad rows fail for the reason
 * they name and not for some other one.
 */

// Arrival time of every delivery in the matrix: the gateway's clock, which the receiver measures from.
const NOW = Math.floor(Date.now() / 1000);
const RETENTION_SECONDS = MIN_RETENTION_DAYS * 86_400;
const CAP = DEFAULT_MAX_BODY_BYTES;
const UNAUTHORIZED = '{"error":"unauthorized"}';

const freshId = () => `evt_${randomUUID().replaceAll('-', '')}`;
const signed = (target: Target, options: Partial<WireOptions> = {}): Wire => wire(target, { arrivalSeconds: NOW, id: freshId(), ...options });
const withHeaders = (delivery: Wire, headers: Record<string, string | undefined>): Wire => {
  const merged: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...delivery.headers, ...headers })) if (value !== undefined) merged[name] = value;
  return { ...delivery, headers: merged };
};
const signatureOf = (delivery: Wire) => delivery.headers[TARGETS[delivery.target].signatureHeader] as string;
const withSignature = (delivery: Wire, value: string | undefined) => withHeaders(delivery, { [TARGETS[delivery.target].signatureHeader]: value });

/** A delivery's body padded with spaces inside the JSON to exactly `size` bytes, then signed. */
function paddedTo(target: Target, size: number): Wire {
  const base = signed(target);
  const text = base.body.toString('utf8');
  const body = `${text.slice(0, -1)}${' '.repeat(size - base.body.length)}}`;
  return signed(target, { body });
}

/** Rebuilds the signature over a changed body, with the same id and timestamp. */
const resigned = (target: Target, body: unknown, options: Partial<WireOptions> = {}) =>
  signed(target, { body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), ...options });

/** A standard secret other than the one configured: `whsec_` + base64 of 32 other bytes. */
const OTHER_STANDARD_SECRET = `whsec_${Buffer.from('another-32-byte-key-for-tests!!!').toString('base64')}`;
/** The other provider whose correctly formed signature is presented to each target. */
const OTHER_PROVIDER: Record<Target, Target> = {
  together: 'mythicdot',
  'together-body': 'llmtune',
  llmtune: 'mythicdot',
  mythicdot: 'llmtune',
  standard: 'together',
};

/** The signature the other provider's secret gives these same bytes, in this scheme's format. */
function otherProviderSignature(delivery: Wire): string {
  const secret = secretOf(OTHER_PROVIDER[delivery.target]);
  if (delivery.target === 'standard') {
    // Together's timestamped MAC of the same delivery, presented as a Standard Webhooks entry.
    const mac = hexHmac(secret, Buffer.concat([Buffer.from(`${NOW}.`), delivery.body]));
    return `v1,${Buffer.from(mac, 'hex').toString('base64')}`;
  }
  return hexHmac(secret, delivery.body);
}

function malformedSignatures(target: Target): Record<'short' | 'long' | 'not encoded', (valid: string) => string> {
  if (target === 'standard') {
    return {
      short: (valid) => `${valid.slice(0, -2)}=`,
      long: (valid) => `${valid.slice(0, -1)}A=`,
      'not encoded': () => `v1,${'!'.repeat(43)}=`,
    };
  }
  return {
    short: (valid) => valid.slice(0, -1),
    long: (valid) => `${valid}0`,
    'not encoded': () => 'g'.repeat(64),
  };
}

interface Row {
  readonly name: string;
  readonly status: 200 | 400 | 401 | 404 | 405 | 413;
  readonly event: () => APIGatewayProxyEventV2;
  /** Receiver configuration; the target's own when omitted. */
  readonly env?: Record<string, string>;
}

const row = (name: string, status: Row['status'], delivery: () => Wire | APIGatewayProxyEventV2, env?: Record<string, string>): Row => ({
  name,
  status,
  event: () => {
    const built = delivery();
    return 'target' in built ? toEvent(built) : built;
  },
  ...(env === undefined ? {} : { env }),
});

// ---- signatures: every scheme ----------------------------------------------------------------
const signatureRows: Row[] = TARGET_NAMES.flatMap((target) => {
  const env = TARGETS[target].env;
  const malformed = malformedSignatures(target);
  return [
    row(`${target}: a correctly signed delivery is accepted`, 200, () => signed(target), env),
    row(`${target}: missing signature header → 401`, 401, () => withSignature(signed(target), undefined), env),
    row(`${target}: empty signature header → 401`, 401, () => withSignature(signed(target), ''), env),
    row(`${target}: signature one character short → 401`, 401, () => {
      const delivery = signed(target);
      return withSignature(delivery, malformed.short(signatureOf(delivery)));
    }, env),
    row(`${target}: signature one character long → 401`, 401, () => {
      const delivery = signed(target);
      return withSignature(delivery, malformed.long(signatureOf(delivery)));
    }, env),
    row(`${target}: signature of the right length that is not ${target === 'standard' ? 'base64' : 'hex'} → 401`, 401, () => {
      const delivery = signed(target);
      return withSignature(delivery, malformed['not encoded'](signatureOf(delivery)));
    }, env),
    row(`${target}: signed with a wrong secret → 401`, 401, () =>
      signed(target, { secret: target === 'standard' ? OTHER_STANDARD_SECRET : 'not-the-configured-secret' }), env),
    row(`${target}: signed with another provider's secret (${OTHER_PROVIDER[target]}) → 401`, 401, () => {
      const delivery = signed(target);
      return withSignature(delivery, otherProviderSignature(delivery));
    }, env),
    row(`${target}: body changed after signing → 401`, 401, () => {
      const delivery = signed(target);
      const body = Buffer.from(delivery.body);
      body[body.length - 2] = (body[body.length - 2] ?? 0) ^ 0x01;
      return { ...delivery, body };
    }, env),
  ];
});

// ---- signed timestamp header: together (timestamped), standard ---------------------------------
const signedTimestampRows: Row[] = SIGNED_TIMESTAMP_TARGETS.flatMap((target) => {
  const tsHeader = target === 'together' ? 'x-together-timestamp' : 'webhook-timestamp';
  return [
    ...([-301, 301] as const).map((offset) =>
      row(`${target}: timestamp ${Math.abs(offset)} s ${offset < 0 ? 'old' : 'in the future'} → 401`, 401, () =>
        signed(target, { timestampSeconds: NOW + offset })),
    ),
    ...([-300, -299, 299, 300] as const).map((offset) =>
      row(`${target}: timestamp ${Math.abs(offset)} s ${offset < 0 ? 'old' : 'in the future'} is accepted`, 200, () =>
        signed(target, { timestampSeconds: NOW + offset })),
    ),
    row(`${target}: missing timestamp header → 401`, 401, () => withHeaders(signed(target), { [tsHeader]: undefined })),
    row(`${target}: non-numeric timestamp → 401`, 401, () => withHeaders(signed(target), { [tsHeader]: `${NOW}abc` })),
    row(`${target}: timestamp in milliseconds → 401`, 401, () => signed(target, { timestampSeconds: NOW * 1000 })),
    row(`${target}: timestamp header repeated with different values → 401`, 401, () => {
      const delivery = signed(target);
      return withHeaders(delivery, { [tsHeader]: `${NOW},${NOW + 1}` });
    }),
    row(`${target}: timestamp header repeated with identical values is accepted`, 200, () =>
      withHeaders(signed(target), { [tsHeader]: `${NOW},${NOW}` })),
  ];
});

// ---- body timestamp held to retention: together (body), llmtune, mythicdot ------------------------
const bodyTimestampRows: Row[] = BODY_TIMESTAMP_TARGETS.flatMap((target) => {
  const env = TARGETS[target].env;
  return [
    row(`${target}: body timestamp older than retention by 1 s → 401`, 401, () =>
      signed(target, { createdSeconds: NOW - RETENTION_SECONDS - 1 }), env),
    row(`${target}: body timestamp exactly at retention is accepted`, 200, () => signed(target, { createdSeconds: NOW - RETENTION_SECONDS }), env),
    row(`${target}: body timestamp 10.5 h old (a late retry) is accepted`, 200, () => signed(target, { createdSeconds: NOW - 37_800 }), env),
    row(`${target}: body timestamp 301 s in the future → 401`, 401, () => signed(target, { createdSeconds: NOW + 301 }), env),
    row(`${target}: body timestamp 300 s in the future is accepted`, 200, () => signed(target, { createdSeconds: NOW + 300 }), env),
  ];
});

const nonNumericBodyTimestampRows: Row[] = [
  row('together-body: created that is not a time → 400', 400, () =>
    resigned('together-body', { id: freshId(), type: 'fine_tune.completed', created: 'yesterday', data: {} }), TARGETS['together-body'].env),
  row('mythicdot: created that is not a time → 400', 400, () =>
    resigned('mythicdot', { id: freshId(), type: 'batch.completed', created: 'soon', data: { object: { id: 'b' } } })),
  row('llmtune: deliveredAt that is not a time → 400', 400, () =>
    resigned('llmtune', { event: 'training.completed', data: { jobId: freshId() }, deliveredAt: 'not-a-date' })),
];

// ---- repeated headers and header-name case -------------------------------------------------------
const headerRows: Row[] = [
  row('together: signature header repeated with different values → 401', 401, () => {
    const delivery = signed('together');
    return withSignature(delivery, `${signatureOf(delivery)},${'0'.repeat(64)}`);
  }),
  row('together: signature header repeated with identical values is accepted', 200, () => {
    const delivery = signed('together');
    return withSignature(delivery, `${signatureOf(delivery)},${signatureOf(delivery)}`);
  }),
  row('llmtune: signature header repeated with different values (valid one first) → 401', 401, () => {
    const delivery = signed('llmtune');
    return withSignature(delivery, `${signatureOf(delivery)},${hexHmac('other', delivery.body)}`);
  }),
  row('mythicdot: signature header repeated with identical values is accepted', 200, () => {
    const delivery = signed('mythicdot');
    return withSignature(delivery, `${signatureOf(delivery)},${signatureOf(delivery)}`);
  }),
  row('standard: webhook-signature repeated with different values → 401', 401, () => {
    const delivery = signed('standard');
    return withSignature(delivery, `${signatureOf(delivery)},v1,${'A'.repeat(43)}=`);
  }),
  // A joined `v1,X,v1,X` cannot be told from a malformed list, so it is refused (see the report).
  row('standard: webhook-signature repeated with identical values → 401', 401, () => {
    const delivery = signed('standard');
    return withSignature(delivery, `${signatureOf(delivery)},${signatureOf(delivery)}`);
  }),
  row('standard: an unreadable entry before a valid one (v1,abc v1,<valid>) is accepted', 200, () => {
    const delivery = signed('standard');
    return withSignature(delivery, `v1,abc ${signatureOf(delivery)}`);
  }),
  row('standard: Svix-branded svix-id, svix-timestamp and svix-signature are accepted', 200, () => {
    const delivery = signed('standard');
    const branded = Object.fromEntries(Object.entries(delivery.headers).map(([name, value]) => [name.replace(/^webhook-/, 'svix-'), value]));
    return { ...delivery, headers: branded };
  }),
  row('standard: svix-signature repeated with different values → 401', 401, () => {
    const delivery = signed('standard');
    const branded = Object.fromEntries(Object.entries(delivery.headers).map(([name, value]) => [name.replace(/^webhook-/, 'svix-'), value]));
    return { ...delivery, headers: { ...branded, 'svix-signature': `${signatureOf(delivery)},v1,${'A'.repeat(43)}=` } };
  }),
  row('standard: webhook-id repeated with different values → 401', 401, () => {
    const delivery = signed('standard');
    return withHeaders(delivery, { 'webhook-id': `${delivery.headers['webhook-id']},msg_other` });
  }),
  row('standard: webhook-id repeated with identical values is accepted', 200, () => {
    const delivery = signed('standard');
    const id = delivery.headers['webhook-id'] as string;
    return withHeaders(delivery, { 'webhook-id': `${id},${id}` });
  }),
  row('standard: missing webhook-id → 401', 401, () => withHeaders(signed('standard'), { 'webhook-id': undefined })),
  row('together: header names in mixed case are accepted', 200, () => {
    const delivery = signed('together');
    return withHeaders(delivery, {
      'x-together-signature': undefined,
      'x-together-timestamp': undefined,
      'X-Together-Signature': delivery.headers['x-together-signature'],
      'X-TOGETHER-TIMESTAMP': delivery.headers['x-together-timestamp'],
    });
  }),
  row('standard: header names in mixed case are accepted', 200, () => {
    const delivery = signed('standard');
    const { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': signature, ...rest } = delivery.headers;
    return { ...delivery, headers: { ...rest, 'Webhook-Id': id as string, 'WEBHOOK-TIMESTAMP': ts as string, 'Webhook-Signature': signature as string } };
  }),
  row('llmtune: one header under two spellings with different values → 401', 401, () => {
    const delivery = signed('llmtune');
    return withHeaders(delivery, { 'X-LLMTune-Signature': hexHmac('other', delivery.body) });
  }),
];

// ---- body size, encoding and shape --------------------------------------------------------------
const bodyRows: Row[] = [
  row(`together: body of exactly the cap (${CAP} bytes) is accepted`, 200, () => paddedTo('together', CAP)),
  row('together: body one byte over the cap → 413', 413, () => paddedTo('together', CAP + 1)),
  row('mythicdot: base64-flagged body of exactly the cap is accepted', 200, () => ({ ...paddedTo('mythicdot', CAP), base64: true })),
  row('mythicdot: base64-flagged body one byte over the cap → 413', 413, () => ({ ...paddedTo('mythicdot', CAP + 1), base64: true })),
  row('standard: body one byte over the cap → 413', 413, () => paddedTo('standard', CAP + 1)),
  row('llmtune: body flagged base64 that is not base64 → 400', 400, () => {
    const event = toEvent({ ...signed('llmtune'), base64: true });
    return { ...event, body: 'this is {not} base64!' };
  }),
  // Signed-timestamp schemes do not hold the body timestamp to a window, so it must still be a time.
  row('together: created beyond any date (1e20 s), signed → 400', 400, () =>
    resigned('together', { id: freshId(), type: 'fine_tune.completed', created: 1e20, data: {} })),
  row('standard: created_at beyond any date (1e20 s), signed → 400', 400, () =>
    resigned('standard', { id: 'evt_1', object: 'event', created_at: 1e20, type: 'batch.completed', data: { id: 'b' } })),
  row('together: empty body, signed → 400', 400, () => resigned('together', '')),
  row('mythicdot: body that is not JSON, signed → 400', 400, () => resigned('mythicdot', 'id=evt_1&type=batch.completed')),
  row('standard: body that is not UTF-8, signed (base64 from the gateway) → 400', 400, () => {
    const delivery = resigned('standard', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    const id = String(delivery.headers['webhook-id']);
    const signature = standardSignatureOfBytes(secretOf('standard'), id, NOW, delivery.body);
    return { ...withSignature(delivery, signature), base64: true };
  }),
  row('together: JSON array, signed → 400', 400, () => resigned('together', [{ id: 'evt_1', type: 'fine_tune.completed' }])),
  row('llmtune: JSON string, signed → 400', 400, () => resigned('llmtune', JSON.stringify('training.completed'))),
  row('mythicdot: JSON null, signed → 400', 400, () => resigned('mythicdot', 'null')),
  row('standard: JSON number, signed → 400', 400, () => resigned('standard', '42')),
  row('together: missing id → 400', 400, () => resigned('together', { type: 'fine_tune.completed', created: NOW, data: {} })),
  row('mythicdot: missing id → 400', 400, () => resigned('mythicdot', { type: 'batch.completed', created: NOW, data: { object: {} } })),
  row('together: numeric id → 400', 400, () => resigned('together', { id: 12345, type: 'fine_tune.completed', created: NOW, data: {} })),
  row('mythicdot: numeric id → 400', 400, () => resigned('mythicdot', { id: 12345, type: 'batch.completed', created: NOW, data: { object: {} } })),
  row('together: missing type → 400', 400, () => resigned('together', { id: freshId(), created: NOW, data: {} })),
  row('mythicdot: type that is not a string → 400', 400, () => resigned('mythicdot', { id: freshId(), type: ['batch.completed'], created: NOW, data: { object: {} } })),
  row('llmtune: missing event → 400', 400, () => resigned('llmtune', { data: { jobId: 'job-1' }, deliveredAt: new Date().toISOString() })),
  row('standard: missing type → 400', 400, () => resigned('standard', { id: 'evt_1', object: 'event', created_at: NOW, data: { id: 'b' } })),
  row('standard: empty type → 400', 400, () => resigned('standard', { id: 'evt_1', object: 'event', created_at: NOW, type: '', data: { id: 'b' } })),
  row('together: id with a NUL character → 400', 400, () => resigned('together', { id: 'evt_\u0000x', type: 'fine_tune.completed', created: NOW, data: {} })),
  row('mythicdot: id with a newline → 400', 400, () => resigned('mythicdot', { id: 'evt_1\nforged log line', type: 'batch.completed', created: NOW, data: { object: {} } })),
  row('standard: webhook-id with a control character → 400', 400, () => signed('standard', { id: 'msg_\u0001x' })),
  row('together: type with a DEL character → 400', 400, () => resigned('together', { id: freshId(), type: 'fine_tune.completed\u007f', created: NOW, data: {} })),
  row('together: id of 257 characters → 400', 400, () => resigned('together', { id: 'e'.repeat(257), type: 'fine_tune.completed', created: NOW, data: {} })),
  row('mythicdot: id of exactly 256 characters is accepted', 200, () =>
    resigned('mythicdot', { id: `${randomUUID()}${'e'.repeat(220)}`, type: 'batch.completed', created: NOW, data: { object: {} } })),
  row('standard: webhook-id of 257 characters → 400', 400, () => signed('standard', { id: 'm'.repeat(257) })),
];

// ---- hostile JSON: nesting, number spellings, characters SQS refuses ----------------------------
/** Arrays and objects nested inside each other, counting the body itself as level 1. */
const depthOf = (value: unknown): number =>
  typeof value === 'object' && value !== null ? 1 + Math.max(0, ...Object.values(value).map(depthOf)) : 0;

/** The target's envelope with `fill` (raw JSON text) as a data field, signed. */
function withFill(target: Target, fill: string, options: Partial<WireOptions> = {}): Wire {
  const id = options.id ?? freshId();
  const envelope = envelopeOf(target, { id, createdSeconds: NOW, data: { fill: '__FILL__' } });
  return signed(target, { id, body: JSON.stringify(envelope).replace('"__FILL__"', fill), ...options });
}

/** A body nested exactly `depth` levels deep: arrays inside the target's envelope. */
function nestedTo(target: Target, depth: number): Wire {
  const envelope = envelopeOf(target, { id: 'x', createdSeconds: NOW, data: { fill: [] } });
  const levels = depth - depthOf(envelope) + 1;
  return withFill(target, `${'['.repeat(levels)}${']'.repeat(levels)}`);
}

/** A body of exactly `size` bytes whose fill is `unit` repeated in an array (and spaces). */
function filledTo(target: Target, size: number, unit: string): Wire {
  const id = freshId();
  const base = withFill(target, '[]', { id }).body.length;
  const count = Math.floor((size - base + 1) / (unit.length + 1));
  const items = Array.from({ length: count }, () => unit).join(',');
  return withFill(target, `[${items}${' '.repeat(size - base - items.length)}]`, { id });
}

/** A body of exactly `size` bytes whose fill is one string of raw 4-byte emoji (and spaces). */
function emojiTo(target: Target, size: number): Wire {
  const id = freshId();
  const base = withFill(target, '""', { id }).body.length;
  const count = Math.floor((size - base) / 4);
  return withFill(target, `"${'\u{1F600}'.repeat(count)}"${' '.repeat(size - base - count * 4)}`, { id });
}

const LARGEST_CAP = { MAX_BODY_BYTES: String(MAX_BODY_BYTES_LIMIT) };

const hostileRows: Row[] = [
  ...TARGET_NAMES.map((target) =>
    row(`${target}: a 10 KB body nested 5,000 deep → 400, not a stack overflow`, 400, () => nestedTo(target, 5_000), TARGETS[target].env),
  ),
  row('together: a body nested exactly 64 levels is accepted', 200, () => nestedTo('together', 64)),
  row('llmtune: a body nested exactly 64 levels is accepted (canonical JSON of the data)', 200, () => nestedTo('llmtune', 64)),
  row('mythicdot: a body nested 65 levels → 400', 400, () => nestedTo('mythicdot', 65)),
  row('standard: brackets inside strings do not count as nesting', 200, () => withFill('standard', JSON.stringify('[{'.repeat(1_000)))),
  row(`together: a body of the cap (${CAP} bytes) of 1e20s, which re-serialize 4.4 times longer, is accepted`, 200, () =>
    filledTo('together', CAP, '1e20')),
  row('llmtune: a body of the largest configurable cap of 1e20s is accepted', 200, () => filledTo('llmtune', MAX_BODY_BYTES_LIMIT, '1e20'), LARGEST_CAP),
  row('mythicdot: a body of the largest configurable cap of 1e300s is accepted', 200, () =>
    filledTo('mythicdot', MAX_BODY_BYTES_LIMIT, '1e300'), LARGEST_CAP),
  row('standard: a body of the largest configurable cap of -1e-7s is accepted', 200, () =>
    filledTo('standard', MAX_BODY_BYTES_LIMIT, '-1e-7'), LARGEST_CAP),
  row('together: a body of the largest configurable cap of raw emoji is accepted', 200, () => emojiTo('together', MAX_BODY_BYTES_LIMIT), LARGEST_CAP),
  row('together: an emoji and U+FFFE in the payload are accepted', 200, () => withFill('together', JSON.stringify('smile \u{1F600} and \uFFFE'))),
  row('mythicdot: U+FFFF and a lone surrogate (escaped) in the payload are accepted', 200, () => withFill('mythicdot', '"\uFFFF \\ud800 \\udfff"')),
  row('llmtune: a lone surrogate and 1e400 in the data are accepted', 200, () => withFill('llmtune', '["\\udc00", 1e400, -1e400]')),
  row('standard: a type holding U+FFFE is accepted (route other)', 200, () =>
    resigned('standard', { id: 'evt_1', object: 'event', created_at: NOW, type: 'batch.\uFFFE', data: { id: 'b' } })),
  row('together: an id with an emoji is accepted', 200, () =>
    resigned('together', { id: `evt_\u{1F600}_${randomUUID()}`, type: 'fine_tune.completed', created: NOW, data: {} })),
  row('together: an id with U+FFFE → 400', 400, () => resigned('together', { id: 'evt_\uFFFE', type: 'fine_tune.completed', created: NOW, data: {} })),
  row('mythicdot: an id with U+FFFF → 400', 400, () => resigned('mythicdot', { id: 'evt_\uFFFF', type: 'batch.completed', created: NOW, data: { object: {} } })),
  row('mythicdot: an id with a lone surrogate (escaped) → 400', 400, () =>
    resigned('mythicdot', `{"id":"evt_\\ud800","type":"batch.completed","created":${NOW},"data":{"object":{}}}`)),
  row('together: an id with the non-character U+FDD0 → 400', 400, () => resigned('together', { id: 'evt_\uFDD0', type: 'fine_tune.completed', created: NOW, data: {} })),
  row('mythicdot: an id with the non-character U+1FFFF → 400', 400, () =>
    resigned('mythicdot', { id: 'evt_\u{1FFFF}', type: 'batch.completed', created: NOW, data: { object: {} } })),
  row('standard: a webhook-id with U+FFFE → 400', 400, () => signed('standard', { id: 'msg_\uFFFE' })),
];

// ---- routing and method --------------------------------------------------------------------------
const routingRows: Row[] = [
  row('unknown provider → 404', 404, () => ({ ...signed('together'), path: '/webhooks/fireworks' })),
  row('provider known but not enabled in this deployment → 404', 404, () => signed('llmtune'), { PROVIDERS: 'together,standard' }),
  row('GET → 405', 405, () => ({ ...signed('together'), method: 'GET' })),
  row('PUT → 405', 405, () => ({ ...signed('mythicdot'), method: 'PUT' })),
  row('DELETE on an unknown provider → 405 (method first)', 405, () => ({ ...signed('standard'), method: 'DELETE', path: '/webhooks/nobody' })),
  row('unsigned garbage → 401 (verification before parsing)', 401, () => withSignature(resigned('together', '\u0000\u0001garbage'), undefined)),
];

const ROWS: Row[] = [
  ...signatureRows,
  ...signedTimestampRows,
  ...bodyTimestampRows,
  ...nonNumericBodyTimestampRows,
  ...headerRows,
  ...bodyRows,
  ...hostileRows,
  ...routingRows,
];

/** Every bidi control: the Arabic letter mark, LRM and RLM, the embeddings and overrides, the isolates. */
const BIDI_CONTROLS = ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'];

function expectBodyShape(status: number, result: APIGatewayProxyStructuredResultV2): void {
  const body = JSON.parse(result.body ?? 'null') as Record<string, unknown>;
  switch (status) {
    case 200:
      expect(body).toEqual({ status: 'accepted', key: expect.stringMatching(/^(together|llmtune|mythicdot|standard)#/) });
      break;
    case 401:
      expect(result.body).toBe(UNAUTHORIZED);
      break;
    case 400:
      expect(body).toEqual({ error: 'bad_request', message: expect.any(String) });
      break;
    case 404:
      expect(body).toEqual({ error: 'unknown_provider', message: 'unknown provider' });
      break;
    case 405:
      expect(body).toEqual({ error: 'method_not_allowed', message: expect.stringContaining('use POST') });
      expect(result.headers?.allow).toBe('POST');
      break;
    case 413:
      expect(body).toEqual({ error: 'body_too_large', message: `body is over the ${CAP}-byte limit` });
      break;
  }
}

/** What an accepted row adds (one record, one message) and a rejected one (nothing). */
function expectStoreChange(status: number, before: StoreCounts, after: StoreCounts): void {
  const delta = queueDelta(before, after);
  if (status === 200) {
    expect(after.records - before.records).toBe(1);
    expect(Object.values(delta)).toEqual([1]);
    expect(Object.keys(delta)[0]).not.toMatch(/DLQ/);
  } else {
    expect(after.records).toBe(before.records);
    expect(delta).toEqual({});
  }
}

describe('bad input through the receiver handler (in-process, real emulators)', () => {
  let env: Emulated;
  beforeAll(async () => {
    env = await startEmulated();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('covers at least 40 rejected deliveries across every provider and scheme', () => {
    const rejected = ROWS.filter((r) => r.status !== 200);
    expect(rejected.length).toBeGreaterThanOrEqual(40);
    for (const target of TARGET_NAMES) expect(rejected.some((r) => r.name.startsWith(`${target}:`))).toBe(true);
  });

  it.each(ROWS)('$name', async ({ status, event, env: rowEnv }) => {
    const receiver = env.receiver({}, rowEnv ?? {});
    const request = event();
    const before = await countStore(env.clients, env.resources);

    const result = await receiver(request);

    expect(result.statusCode).toBe(status);
    expectBodyShape(status, result);
    expectStoreChange(status, before, await countStore(env.clients, env.resources));
  });

  it.each(BIDI_CONTROLS.map((char) => `U+${char.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')}`))(
    '[H3-12] an event id holding the bidi control %s is refused with 400 naming the rule, and nothing is stored',
    async (codePoint) => {
      const char = String.fromCodePoint(Number.parseInt(codePoint.slice(2), 16));
      const receiver = env.receiver({});
      const before = await countStore(env.clients, env.resources);

      const result = await receiver(toEvent(resigned('together', { id: `${char}321_evil_tve`, type: 'fine_tune.completed', created: NOW, data: {} })));

      expect(result.statusCode).toBe(400);
      expect(JSON.parse(result.body ?? '{}')).toEqual({ error: 'bad_request', message: expect.stringContaining('event id must not contain bidi controls') });
      expectStoreChange(400, before, await countStore(env.clients, env.resources));
    },
  );

  it('[H3-12] a Standard Webhooks webhook-id holding a bidi override is refused with 400, and nothing is stored', async () => {
    const receiver = env.receiver({}, TARGETS.standard.env);
    const before = await countStore(env.clients, env.resources);

    const result = await receiver(toEvent(signed('standard', { id: 'msg_\u202e1' })));

    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body ?? '{}')).toEqual({ error: 'bad_request', message: expect.stringContaining('bidi controls') });
    expectStoreChange(400, before, await countStore(env.clients, env.resources));
  });

  it.each(BODY_TIMESTAMP_TARGETS)('%s: the same bytes resent 10.5 h later are a duplicate, one record and one message', async (target) => {
    const first = signed(target, { arrivalSeconds: NOW - 37_800, createdSeconds: NOW - 37_800 });
    const retry: Wire = { ...first, arrivalSeconds: NOW };
    const receiver = env.receiver({}, TARGETS[target].env);
    const before = await countStore(env.clients, env.resources);

    const accepted = await receiver(toEvent(first));
    const resent = await receiver(toEvent(retry));

    expect(JSON.parse(accepted.body ?? '{}')).toMatchObject({ status: 'accepted' });
    expect(resent.statusCode).toBe(200);
    expect(JSON.parse(resent.body ?? '{}')).toMatchObject({ status: 'duplicate', state: 'queued' });
    const after = await countStore(env.clients, env.resources);
    expect(after.records - before.records).toBe(1);
    expect(after.totalMessages - before.totalMessages).toBe(1);
  });
});

describe('characters SQS refuses, end to end on the emulators', () => {
  let env: Emulated;
  beforeAll(async () => {
    env = await startEmulated();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('an emoji and U+FFFE in the payload are accepted, arrive on the queue, and the consumer sees the exact original strings', async () => {
    const marker = 'smile \u{1F600}, U+FFFE \uFFFE, U+FFFF \uFFFF, lone \ud800, quote " backslash \\u0041';
    const id = `evt_\u{1F600}_${randomUUID()}`;
    const delivery = withFill('together', JSON.stringify(marker), { id });
    const seen: NormalizedEvent[] = [];
    const consumer = consumerOn(env, 'fine_tune.completed', { steps: [async (event) => void seen.push(event)] });

    const result = await env.receiver()(toEvent(delivery));
    const messages = await env.drain('fine_tune.completed');
    const outcome = await consumer(sqsEvent(...messages.map((message) => sqsRecord(message.Body ?? ''))));

    expect(result.statusCode).toBe(200);
    expect(messages.map((message) => message.MessageAttributes?.eventId?.StringValue)).toEqual([id]);
    expect(outcome.batchItemFailures).toEqual([]);
    expect(seen.map((event) => [event.id, (event.providerData as { fill: unknown }).fill])).toEqual([[id, marker]]);
    const record = await eventRecord(env, `together#${id}`);
    expect([record?.status, (JSON.parse(record?.event ?? '{}') as { providerData: { fill: unknown } }).providerData.fill]).toEqual(['handled', marker]);
  });
});

// ---- through the real HTTP server: Node joins repeated header lines as API Gateway does ----------
interface HttpResult {
  readonly status: number;
  readonly body: string;
}

/** POSTs with raw header lines: an array value sends the header once per element. */
function postRaw(baseUrl: string, delivery: Wire, headers: Record<string, string | string[]>, method = 'POST'): Promise<HttpResult> {
  const url = new URL(delivery.path, baseUrl);
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers: { ...headers, 'content-length': String(delivery.body.length) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    request.end(delivery.body);
  });
}

describe('bad input through the local HTTP server (real header joining)', () => {
  let runtime: LocalRuntime;
  // Deliveries over HTTP arrive now, not at NOW: sign them at the moment they are built.
  const live = (target: Target, options: Partial<WireOptions> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return wire(target, { arrivalSeconds: now, id: freshId(), ...options });
  };

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      env: {},
      port: 0,
      dynamodbPort: 0,
      sqsPort: 0,
      // The receiver alone: consumers would take messages off the queues this suite counts.
      consumers: false,
      logger: new Logger({ serviceName: 'bad-input-http', logLevel: 'SILENT' }),
    });
  });
  afterAll(async () => {
    await runtime?.stop();
  });

  const httpCases: { name: string; status: number; send: (url: string) => Promise<HttpResult> }[] = [
    {
      name: 'x-together-signature sent twice with different values → 401',
      status: 401,
      send: (url) => {
        const delivery = live('together');
        return postRaw(url, delivery, { ...delivery.headers, 'x-together-signature': [signatureOf(delivery), 'f'.repeat(64)] });
      },
    },
    {
      name: 'x-together-signature sent twice with identical values is accepted',
      status: 200,
      send: (url) => {
        const delivery = live('together');
        return postRaw(url, delivery, { ...delivery.headers, 'x-together-signature': [signatureOf(delivery), signatureOf(delivery)] });
      },
    },
    {
      name: 'x-together-timestamp sent twice with different values → 401',
      status: 401,
      send: (url) => {
        const delivery = live('together');
        const ts = delivery.headers['x-together-timestamp'] as string;
        return postRaw(url, delivery, { ...delivery.headers, 'x-together-timestamp': [ts, String(Number(ts) - 1)] });
      },
    },
    {
      name: 'webhook-id sent twice with different values → 401',
      status: 401,
      send: (url) => {
        const delivery = live('standard');
        return postRaw(url, delivery, { ...delivery.headers, 'webhook-id': [delivery.headers['webhook-id'] as string, 'msg_other'] });
      },
    },
    {
      name: 'x-mythicdot-signature sent twice, valid one last → 401',
      status: 401,
      send: (url) => {
        const delivery = live('mythicdot');
        return postRaw(url, delivery, { ...delivery.headers, 'x-mythicdot-signature': ['0'.repeat(64), signatureOf(delivery)] });
      },
    },
    {
      name: 'header names in mixed case on the wire are accepted',
      status: 200,
      send: (url) => {
        const delivery = live('llmtune');
        return postRaw(url, delivery, { 'Content-Type': 'application/json', 'X-LLMTune-Signature': signatureOf(delivery) });
      },
    },
    {
      name: 'a binary (non-UTF-8) body, correctly signed, reaches the receiver as base64 → 400',
      status: 400,
      send: (url) => {
        const delivery = live('mythicdot', { body: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) });
        return postRaw(url, delivery, delivery.headers);
      },
    },
    {
      name: 'a body that starts with a UTF-8 BOM, signed over those bytes, is accepted',
      status: 200,
      send: (url) => {
        const plain = live('mythicdot');
        const delivery = live('mythicdot', { body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), plain.body]) });
        return postRaw(url, delivery, delivery.headers);
      },
    },
    {
      name: 'body one byte over the cap → 413',
      status: 413,
      send: (url) => {
        const base = live('together');
        const body = `${base.body.toString().slice(0, -1)}${' '.repeat(CAP + 1 - base.body.length)}}`;
        const delivery = live('together', { body });
        return postRaw(url, delivery, delivery.headers);
      },
    },
    {
      name: 'GET → 405',
      status: 405,
      send: (url) => {
        const delivery = { ...live('together'), body: Buffer.alloc(0) };
        return postRaw(url, delivery, {}, 'GET');
      },
    },
  ];

  it.each(httpCases)('$name', async ({ status, send }) => {
    const before = await countStore(runtime.clients, runtime.resources);

    const result = await send(runtime.url);

    expect(result.status).toBe(status);
    if (status === 401) expect(result.body).toBe(UNAUTHORIZED);
    const after = await countStore(runtime.clients, runtime.resources);
    expect(after.records - before.records).toBe(status === 200 ? 1 : 0);
    expect(after.totalMessages - before.totalMessages).toBe(status === 200 ? 1 : 0);
  });
});
