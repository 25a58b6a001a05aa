import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ACCEPT_WORST_CASE_MS, type AcceptResult } from '../../functions/core/accept';
import { SecretInvalidError } from '../../functions/core/errors';
import { RECEIVER_MARGIN_MS, RECEIVER_TIMEOUT_SECONDS, readEnabledProviders, readReceiverConfig, readRetention } from '../../functions/core/config';
import type { NormalizedEvent, ProviderName } from '../../functions/core/event';
import { PROVIDERS } from '../../functions/core/providers';
import { ROUTES } from '../../functions/core/routes';
import { createReceiver, receiverFromConfig, type ReceiverClients, type ReceiverDeps } from '../../functions/receiver/receive';
import { buildDelivery, type Delivery } from '../../ops/deliveries';
import { deliveryEvent, gatewayEvent } from '../support/gateway';

/**
 * What a sender, an operator and the alarms see of one delivery: the status and body of the
 * answer, the line logged for it, the metric counted, and whether the event reached the accept.
 */
const MAX_BODY_BYTES = 4_096; // 4096 % 3 === 1: a body of exactly the cap is the edge of the base64 size check
const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);
const NOW_SECONDS = NOW_MS / 1000;
const DAY_SECONDS = 86_400;

interface Line {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}

function receiverFor(options: Partial<ReceiverDeps> & { result?: (event: NormalizedEvent) => AcceptResult } = {}) {
  const lines: Line[] = [];
  const logAt = (level: Line['level']) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  const logger = { info: logAt('info'), warn: logAt('warn'), error: logAt('error') } as unknown as Logger;
  const metrics: string[] = [];
  const recording = {
    addDimensions: (dimensions: Record<string, string>) => metrics.push(`${dimensions.provider} ${dimensions.reason}`),
    addMetric: (name: string) => metrics.push(name),
  } as unknown as Metrics;
  const rejected: Parameters<NonNullable<ReceiverDeps['onRejected']>>[0][] = [];
  const accepted: NormalizedEvent[] = [];
  const { result, ...overrides } = options;
  const receiver = createReceiver({
    providers: readEnabledProviders({}),
    getSecrets: async (provider: ProviderName) => [PROVIDERS[provider].developmentSecret],
    accept: async (event) => {
      accepted.push(event);
      return result?.(event) ?? { status: 'accepted', key: `${event.provider}#${event.id}` };
    },
    maxBodyBytes: MAX_BODY_BYTES,
    retentionSeconds: 7 * DAY_SECONDS,
    clock: () => NOW_MS,
    logger,
    metrics: recording,
    onRejected: (rejection) => rejected.push(rejection),
    ...overrides,
  });
  return { receiver, lines, metrics, rejected, accepted };
}

const signed = (provider: ProviderName, options: Partial<Parameters<typeof buildDelivery>[0]> = {}): Delivery =>
  buildDelivery({ provider, type: provider === 'llmtune' ? 'training.completed' : 'fine_tune.completed', nowSeconds: NOW_SECONDS, ...options });
const arriving = (delivery: Delivery, overrides: Parameters<typeof deliveryEvent>[1] = {}): APIGatewayProxyEventV2 =>
  deliveryEvent(delivery, { timeEpoch: NOW_MS, ...overrides });
const bodyOf = (answer: { body?: string }) => JSON.parse(answer.body ?? 'null') as unknown;
/** A Together delivery signed over a body of exactly `bytes` bytes. */
const ofSize = (bytes: number): Delivery => {
  const sample = signed('together').body.toString('utf8');
  return signed('together', { body: `${sample.slice(0, -1)}${' '.repeat(bytes - sample.length)}}` });
};

describe('[RULE] the answer a sender gets', () => {
  it('[RULE] an accepted delivery answers 200 JSON with its status and key, and is counted Accepted', async () => {
    const { receiver, metrics } = receiverFor();
    const delivery = signed('together');

    const answer = await receiver(arriving(delivery));

    expect(answer).toEqual({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'accepted', key: `together#${delivery.id}` }) });
    expect(metrics).toEqual(['together accepted', 'Accepted']);
  });

  it('[RULE] the answer to an accepted delivery names its status and key only, whatever else the accept reports', async () => {
    const { receiver } = receiverFor({ result: (event) => ({ status: 'accepted', key: `${event.provider}#${event.id}`, leaseToken: 'internal' }) as AcceptResult });
    const delivery = signed('openai');

    const answer = await receiver(arriving(delivery));

    expect(bodyOf(answer)).toEqual({ status: 'accepted', key: `openai#${delivery.id}` });
  });

  it('[RULE] a duplicate answers 200 with the state its record is in, is logged as a duplicate and counted Duplicate', async () => {
    const { receiver, metrics, lines } = receiverFor({ result: (event) => ({ status: 'duplicate', key: `${event.provider}#${event.id}`, state: 'handled' }) });
    const delivery = signed('together');

    const answer = await receiver(arriving(delivery));

    expect(answer.statusCode).toBe(200);
    expect(bodyOf(answer)).toEqual({ status: 'duplicate', key: `together#${delivery.id}`, state: 'handled' });
    expect(metrics).toEqual(['together duplicate', 'Duplicate']);
    expect(lines).toEqual([{ level: 'info', message: 'duplicate delivery', fields: { key: `together#${delivery.id}`, route: 'fine_tune.completed', state: 'handled' } }]);
  });

  it('[RULE] an unexpected failure answers 500 internal_error and is counted as an error, not a rejection', async () => {
    const { receiver, metrics } = receiverFor({
      accept: async () => {
        throw new TypeError('a bug');
      },
    });

    const answer = await receiver(arriving(signed('together')));

    expect(answer.statusCode).toBe(500);
    expect(bodyOf(answer)).toEqual({ error: 'internal_error' });
    expect(metrics).toEqual(['together unexpected', 'Errors']);
  });

  it('[RULE] a refusal answers JSON with no Allow header unless the method is the fault', async () => {
    const { receiver } = receiverFor();

    const answer = await receiver(arriving(signed('together', { secret: 'not-the-secret' })));

    expect(answer.statusCode).toBe(401);
    expect(answer.headers).toEqual({ 'content-type': 'application/json' });
  });

  it('[RULE] a GET answers 405 naming the method and what to use, with Allow: POST', async () => {
    const { receiver, rejected } = receiverFor();

    const answer = await receiver(gatewayEvent({ path: '/webhooks/together', method: 'get', timeEpoch: NOW_MS }));

    expect(answer.headers).toEqual({ 'content-type': 'application/json', allow: 'POST' });
    expect(bodyOf(answer)).toEqual({ error: 'method_not_allowed', message: 'method GET is not allowed; use POST' });
    expect(rejected).toEqual([{ at: new Date(NOW_MS).toISOString(), provider: 'together', path: '/webhooks/together', status: 405, reason: 'method_not_allowed', detail: 'method GET is not allowed; use POST' }]);
  });

  it('[RULE] a delivery to an unknown provider answers 404 unknown_provider; the operator is told what was asked for (cut to 64 characters) and what is enabled', async () => {
    const { receiver, lines, rejected, accepted } = receiverFor({ providers: readEnabledProviders({ PROVIDERS: 'together,openai' }) });
    const asked = `x${'y'.repeat(80)}`;

    const answer = await receiver(gatewayEvent({ path: `/webhooks/${asked}`, body: '{}', timeEpoch: NOW_MS }));

    expect(answer.statusCode).toBe(404);
    expect(bodyOf(answer)).toEqual({ error: 'unknown_provider', message: 'unknown provider' });
    expect(lines[0]).toEqual({ level: 'warn', message: 'unknown or disabled provider', fields: { requested: asked.slice(0, 64), enabled: ['together', 'openai'] } });
    expect(rejected[0]).toMatchObject({ provider: 'unknown', status: 404, reason: 'unknown_provider' });
    expect(accepted).toEqual([]);
  });

  it('[RULE] a delivery that reaches the receiver without path parameters (a function URL) is read by the last segment of its path', async () => {
    const { receiver, accepted } = receiverFor();
    const request = arriving(signed('together'));
    delete request.pathParameters;

    const answer = await receiver(request);

    expect(answer.statusCode).toBe(200);
    expect(accepted).toHaveLength(1);
  });
});

describe('[RULE] deliveries without a body or a timestamp', () => {
  it('[RULE] a signed delivery with no body at all is refused with 400 as not JSON, not as a forgery', async () => {
    const { receiver, accepted } = receiverFor();
    const request = arriving(signed('together', { body: '' }));
    delete request.body;

    const answer = await receiver(request);

    expect(answer.statusCode).toBe(400);
    expect(accepted).toEqual([]);
  });

  it('[RULE] a delivery that carries no timestamp at all is accepted when no per-provider retention is configured', async () => {
    const { receiver, accepted } = receiverFor({ providers: readEnabledProviders({ TOGETHER_SIGNATURE_SCHEME: 'body' }) });
    const sample = JSON.parse(signed('together').body.toString('utf8')) as Record<string, unknown>;
    delete sample.created;

    const answer = await receiver(arriving(signed('together', { scheme: 'body', body: JSON.stringify(sample) })));

    expect(answer.statusCode).toBe(200);
    expect(accepted).toHaveLength(1);
  });
});

describe('[RULE] the receiver as deployed (configuration plus clients)', () => {
  it('[RULE] tells its onRejected of a refusal, timed on its clock, without touching the table or the queues', async () => {
    const rejected: unknown[] = [];
    const untouched = { send: async () => expect.fail('no AWS call for a refused method') };
    const config = readReceiverConfig({ TABLE_NAME: 'events', QUEUE_URLS: JSON.stringify(Object.fromEntries(ROUTES.map((route) => [route, `https://sqs.example/${route}`]))) });
    const receiver = receiverFromConfig(config, {
      documents: untouched,
      sqs: untouched,
      getSecrets: async () => [],
      logger: new Logger({ logLevel: 'SILENT' }),
      clock: () => NOW_MS + 5_000,
      onRejected: (rejection: unknown) => rejected.push(rejection),
    } as unknown as ReceiverClients);

    const answer = await receiver(gatewayEvent({ path: '/webhooks/openai', method: 'PUT', timeEpoch: NOW_MS }));

    expect(answer.statusCode).toBe(405);
    expect(rejected).toEqual([{ at: new Date(NOW_MS + 5_000).toISOString(), provider: 'openai', path: '/webhooks/openai', status: 405, reason: 'method_not_allowed', detail: 'method PUT is not allowed; use POST' }]);
  });
});

describe('[RULE] what the operator sees of a refusal', () => {
  it('[RULE] a sender at fault (4xx) is logged as a warning with the reason and detail, and no cause', async () => {
    const { receiver, lines } = receiverFor();

    await receiver(arriving(signed('together', { secret: 'not-the-secret' })));

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', message: 'delivery rejected', fields: { provider: 'together', status: 401, reason: 'signature_mismatch' } });
    expect(lines[0]?.fields).not.toHaveProperty('cause');
  });

  it('[RULE] an unreachable secret store answers 503 and is logged as an error with its cause', async () => {
    const { receiver, lines, accepted } = receiverFor({
      getSecrets: async () => {
        throw new Error('connect ETIMEDOUT');
      },
    });

    const answer = await receiver(arriving(signed('together')));

    expect(answer.statusCode).toBe(503);
    expect(bodyOf(answer)).toEqual({ error: 'unavailable', message: 'a dependency failed; nothing was accepted, retry later' });
    expect(lines).toEqual([
      { level: 'error', message: 'delivery rejected', fields: { provider: 'together', status: 503, reason: 'secrets_unavailable', detail: 'could not read the signing secrets', cause: 'Error: connect ETIMEDOUT' } },
    ]);
    expect(accepted).toEqual([]);
  });

  it('[RULE] a secret refused by its check keeps its own reason, secret_invalid', async () => {
    const { receiver, rejected } = receiverFor({
      getSecrets: async () => {
        throw new SecretInvalidError('the signing secret of standard is refused');
      },
    });

    const answer = await receiver(arriving(signed('standard')));

    expect(answer.statusCode).toBe(503);
    expect(rejected[0]).toMatchObject({ status: 503, reason: 'secret_invalid' });
  });

  it('[RULE] a signed delivery while no secret is set answers 503, and the detail names the provider', async () => {
    const { receiver, rejected } = receiverFor({ getSecrets: async () => [] });

    await receiver(arriving(signed('llmtune')));

    expect(rejected[0]).toMatchObject({ provider: 'llmtune', status: 503, reason: 'secret_not_set', detail: 'no signing secret is set for llmtune' });
  });
});

describe('[RULE] the body cap', () => {
  it('[RULE] a body of exactly MAX_BODY_BYTES is accepted, as sent or base64-encoded by the gateway', async () => {
    const { receiver, accepted } = receiverFor();
    const delivery = ofSize(MAX_BODY_BYTES);

    const answers = [await receiver(arriving(delivery)), await receiver(arriving(delivery, { base64: true }))];

    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
    expect(accepted).toHaveLength(2);
  });

  it('[RULE] a body one byte over the cap is refused with 413 naming the limit, as sent or base64-encoded', async () => {
    const { receiver, accepted } = receiverFor();
    const delivery = ofSize(MAX_BODY_BYTES + 1);

    const answers = [await receiver(arriving(delivery)), await receiver(arriving(delivery, { base64: true }))];

    expect(answers.map((answer) => [answer.statusCode, bodyOf(answer)])).toEqual([
      [413, { error: 'body_too_large', message: `body is over the ${MAX_BODY_BYTES}-byte limit` }],
      [413, { error: 'body_too_large', message: `body is over the ${MAX_BODY_BYTES}-byte limit` }],
    ]);
    expect(accepted).toEqual([]);
  });

  it('[RULE] a base64 body far over the cap is refused with 413 before it is decoded, even when it is not valid base64', async () => {
    const { receiver } = receiverFor();
    const request = { ...arriving(signed('together')), isBase64Encoded: true, body: '!'.repeat(MAX_BODY_BYTES * 2) };

    const answer = await receiver(request);

    expect(answer.statusCode).toBe(413);
  });

  it.each([
    ['unpadded', (encoded: string) => encoded.replace(/=+$/, '')],
    ['holding a character outside base64', (encoded: string) => `*${encoded.slice(1)}`],
  ])('[RULE] a body flagged base64 that is %s is refused with 400 and nothing is accepted', async (_, spoil) => {
    const { receiver, accepted } = receiverFor();
    const request = arriving(ofSize(301), { base64: true });
    request.body = spoil(request.body ?? '');

    const answer = await receiver(request);

    expect(answer.statusCode).toBe(400);
    expect(bodyOf(answer)).toEqual({ error: 'bad_request', message: 'body is flagged base64 but is not valid base64' });
    expect(accepted).toEqual([]);
  });
});

describe('[RULE] the time budget of a request', () => {
  const budgetMs = RECEIVER_TIMEOUT_SECONDS * 1000 - RECEIVER_MARGIN_MS - ACCEPT_WORST_CASE_MS;

  /** A receiver whose secrets read takes `readMs` on its clock. */
  const slowSecrets = (readMs: number) => {
    let nowMs = NOW_MS;
    return receiverFor({
      clock: () => nowMs,
      getSecrets: async (provider) => {
        nowMs += readMs;
        return [PROVIDERS[provider].developmentSecret];
      },
    });
  };

  it('[RULE] a secrets read that leaves just the accept’s worst case before the timeout margin still accepts', async () => {
    const { receiver, accepted } = slowSecrets(budgetMs);

    expect((await receiver(arriving(signed('together')))).statusCode).toBe(200);
    expect(accepted).toHaveLength(1);
  });

  it('[RULE] a secrets read one millisecond slower answers 503 time_budget and writes nothing', async () => {
    const { receiver, accepted, rejected } = slowSecrets(budgetMs + 1);

    const answer = await receiver(arriving(signed('together')));

    expect(answer.statusCode).toBe(503);
    expect(rejected[0]).toMatchObject({ reason: 'time_budget', detail: 'too little of the time budget is left for the accept (slow secrets read?)' });
    expect(accepted).toEqual([]);
  });
});

describe('[RULE] retention per provider', () => {
  it('[RULE] a body timestamp older than RETENTION_DAYS but within the provider’s own retention is accepted', async () => {
    const { receiver, accepted } = receiverFor({ retention: readRetention({ RETENTION_DAYS_LLMTUNE: '10' }) });

    const answer = await receiver(arriving(signed('llmtune', { nowSeconds: NOW_SECONDS - 8 * DAY_SECONDS })));

    expect(answer.statusCode).toBe(200);
    expect(accepted).toHaveLength(1);
  });

  it('[RULE] a body timestamp older than the retention is refused with 401 (a replay could outlive its record)', async () => {
    const { receiver, accepted } = receiverFor({ retention: readRetention({}) });

    const answer = await receiver(arriving(signed('llmtune', { nowSeconds: NOW_SECONDS - 8 * DAY_SECONDS })));

    expect(answer.statusCode).toBe(401);
    expect(accepted).toEqual([]);
  });
});
