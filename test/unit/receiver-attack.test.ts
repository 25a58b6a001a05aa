import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { readEnabledProviders, signatureSchemeVariable } from '../../functions/core/config';
import type { NormalizedEvent, ProviderName } from '../../functions/core/event';
import { PROVIDERS } from '../../functions/core/providers';
import { PROVIDER_SAMPLES } from '../../functions/core/providers/samples';
import { TIMESTAMP_TOLERANCE_SECONDS } from '../../functions/core/verify';
import { createReceiver } from '../../functions/receiver/receive';
import { buildDelivery, type Delivery } from '../../ops/deliveries';
import { deliveryEvent, gatewayEvent } from '../support/gateway';

/**
 * Hostile deliveries, each as an attacker would send it through API Gateway: the receiver must
 * refuse it with the contract's status and never reach the accept (the conditional put and the
 * send), which is recorded here.
 */
const MAX_BODY_BYTES = 4_096;
const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);
const NOW_SECONDS = NOW_MS / 1000;

function receiverUnderAttack(env: Record<string, string> = {}) {
  const accepted: NormalizedEvent[] = [];
  const receiver = createReceiver({
    providers: readEnabledProviders(env),
    getSecrets: async (provider: ProviderName) => [PROVIDERS[provider].developmentSecret],
    accept: async (event) => {
      accepted.push(event);
      return { status: 'accepted', key: `${event.provider}#${event.id}` };
    },
    maxBodyBytes: MAX_BODY_BYTES,
    retentionSeconds: 7 * 86_400,
    clock: () => NOW_MS,
    logger: new Logger({ logLevel: 'SILENT' }),
  });
  return { receiver, accepted };
}

const signed = (provider: ProviderName, options: Partial<Parameters<typeof buildDelivery>[0]> = {}): Delivery =>
  buildDelivery({ provider, type: Object.keys(PROVIDER_SAMPLES[provider])[0] ?? '', nowSeconds: NOW_SECONDS, ...options });
const arriving = (delivery: Delivery, headers: Record<string, string | undefined> = {}, body?: Buffer | string): APIGatewayProxyEventV2 => {
  const merged: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...delivery.headers, ...headers })) if (value !== undefined) merged[name] = value;
  return deliveryEvent(delivery, { headers: merged, timeEpoch: NOW_MS, ...(body === undefined ? {} : { body }) });
};

/** The receiver's configuration that enables `scheme` for `provider`, as an operator sets it. */
const envFor = ({ provider, scheme }: { provider: ProviderName; scheme?: string }): Record<string, string> =>
  scheme === undefined ? {} : { [signatureSchemeVariable(provider)]: scheme };
const optionsFor = ({ scheme }: { scheme?: string }) => (scheme === undefined ? {} : { scheme });

const SCHEMES: readonly { label: string; provider: ProviderName; scheme?: string; signatureHeader: string }[] = [
  { label: 'Together (timestamped scheme)', provider: 'together', scheme: 'timestamped', signatureHeader: 'x-together-signature' },
  { label: 'Together (body scheme)', provider: 'together', scheme: 'body', signatureHeader: 'x-together-signature' },
  { label: 'LLMTune', provider: 'llmtune', signatureHeader: 'x-llmtune-signature' },
  { label: 'OpenAI', provider: 'openai', signatureHeader: 'webhook-signature' },
  { label: 'Replicate', provider: 'replicate', signatureHeader: 'webhook-signature' },
  { label: 'Standard Webhooks', provider: 'standard', signatureHeader: 'webhook-signature' },
];

describe('the receiver refuses hostile deliveries and accepts nothing', () => {
  it('[ATTACK] the genuine delivery each refusal below is cut from is accepted (so the refusals are not vacuous)', async () => {
    const answers = await Promise.all(
      SCHEMES.map(async (row) => {
        const { receiver, accepted } = receiverUnderAttack(envFor(row));
        const answer = await receiver(arriving(signed(row.provider, optionsFor(row))));
        return [answer.statusCode, accepted.length];
      }),
    );

    expect(answers).toEqual(SCHEMES.map(() => [200, 1]));
  });

  it.each(SCHEMES)('[ATTACK] an unsigned delivery to $label ($signatureHeader removed) is refused with 401 and nothing is accepted', async ({ provider, scheme, signatureHeader }) => {
    const { receiver, accepted } = receiverUnderAttack(envFor({ provider, scheme }));

    const answer = await receiver(arriving(signed(provider, scheme === undefined ? {} : { scheme }), { [signatureHeader]: undefined }));

    expect(answer.statusCode).toBe(401);
    expect(accepted).toEqual([]);
  });

  it.each(SCHEMES)('[ATTACK] a delivery to $label signed with a secret of the attacker is refused with 401 and nothing is accepted', async ({ provider, scheme }) => {
    const { receiver, accepted } = receiverUnderAttack(envFor({ provider, scheme }));
    const attackerSecret = provider === 'together' || provider === 'llmtune' ? 'attacker-secret' : `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

    const answer = await receiver(arriving(signed(provider, { secret: attackerSecret, ...(scheme === undefined ? {} : { scheme }) })));

    expect(answer.statusCode).toBe(401);
    expect(accepted).toEqual([]);
  });

  it.each(['together', 'openai'] as const)('[ATTACK] a %s delivery signed more than the tolerance ago (a captured one replayed late) is refused with 401 and nothing is accepted', async (provider) => {
    const { receiver, accepted } = receiverUnderAttack();

    const answer = await receiver(arriving(signed(provider, { nowSeconds: NOW_SECONDS - TIMESTAMP_TOLERANCE_SECONDS - 1 })));

    expect(answer.statusCode).toBe(401);
    expect(JSON.parse(answer.body ?? '{}')).toEqual({ error: 'unauthorized' });
    expect(accepted).toEqual([]);
  });

  it.each(['together', 'openai'] as const)('[ATTACK] a %s delivery signed more than the tolerance ahead (pre-signed for later use) is refused with 401 and nothing is accepted', async (provider) => {
    const { receiver, accepted } = receiverUnderAttack();

    const answer = await receiver(arriving(signed(provider, { nowSeconds: NOW_SECONDS + TIMESTAMP_TOLERANCE_SECONDS + 1 })));

    expect(answer.statusCode).toBe(401);
    expect(accepted).toEqual([]);
  });

  it.each(SCHEMES)('[ATTACK] the headers of a genuine $label delivery replayed with another body are refused with 401 and nothing is accepted', async ({ provider, scheme }) => {
    const { receiver, accepted } = receiverUnderAttack(envFor({ provider, scheme }));
    const genuine = signed(provider, scheme === undefined ? {} : { scheme });
    const forged = signed(provider, scheme === undefined ? {} : { scheme }).body;

    const answer = await receiver(arriving(genuine, {}, forged));

    expect(answer.statusCode).toBe(401);
    expect(accepted).toEqual([]);
  });

  it('[ATTACK] a delivery mixing webhook-id with svix-timestamp and svix-signature (one header set per delivery) is refused with 401 and nothing is accepted', async () => {
    const { receiver, accepted } = receiverUnderAttack();
    const genuine = signed('standard');
    const { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature } = genuine.headers;

    const answer = await receiver(
      arriving(genuine, {
        'webhook-timestamp': undefined,
        'webhook-signature': undefined,
        'webhook-id': id,
        'svix-timestamp': timestamp,
        'svix-signature': signature,
      }),
    );

    expect(answer.statusCode).toBe(401);
    expect(accepted).toEqual([]);
  });

  it('[ATTACK] a Standard Webhooks delivery to a provider that takes only webhook- headers (OpenAI) sent with svix- headers is refused with 401', async () => {
    const { receiver, accepted } = receiverUnderAttack();
    const genuine = signed('openai');
    const svix = Object.fromEntries(Object.entries(genuine.headers).map(([name, value]) => [name.replace(/^webhook-/, 'svix-'), value]));

    const answer = await receiver(deliveryEvent({ ...genuine, headers: svix }, { timeEpoch: NOW_MS }));

    expect(answer.statusCode).toBe(401);
    expect(accepted).toEqual([]);
  });

  it('[ATTACK] a delivery to a provider the receiver does not know is refused with 404 and nothing is accepted', async () => {
    const { receiver, accepted } = receiverUnderAttack();
    const genuine = signed('together');

    const answer = await receiver(deliveryEvent({ ...genuine, path: '/webhooks/stripe' }, { timeEpoch: NOW_MS }));

    expect(answer.statusCode).toBe(404);
    expect(accepted).toEqual([]);
  });

  it('[ATTACK] a correctly signed body over the size limit is refused with 413 and nothing is accepted', async () => {
    const { receiver, accepted } = receiverUnderAttack();
    const sample = signed('together').body.toString('utf8');
    const padded = signed('together', { body: `${sample.slice(0, -1)}${' '.repeat(MAX_BODY_BYTES + 1 - sample.length)}}` });

    const answer = await receiver(arriving(padded));

    expect(padded.body.length).toBe(MAX_BODY_BYTES + 1);
    expect(answer.statusCode).toBe(413);
    expect(accepted).toEqual([]);
  });

  it('[ATTACK] a correctly signed body that is not JSON is refused with 400 and nothing is accepted', async () => {
    const { receiver, accepted } = receiverUnderAttack();

    const answer = await receiver(arriving(signed('openai', { body: '{"id": "evt_1", "type": ' })));

    expect(answer.statusCode).toBe(400);
    expect(accepted).toEqual([]);
  });

  it('[ATTACK] a GET to a webhook endpoint (a link clicked, a crawler) is refused with 405 and nothing is accepted', async () => {
    const { receiver, accepted } = receiverUnderAttack();

    const answer = await receiver(gatewayEvent({ path: '/webhooks/together', method: 'GET', timeEpoch: NOW_MS }));

    expect(answer.statusCode).toBe(405);
    expect(answer.headers?.allow).toBe('POST');
    expect(accepted).toEqual([]);
  });
});
