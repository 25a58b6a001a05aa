import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderName } from '../../functions/core/event';
import { buildDelivery } from '../../ops/deliveries';
import { eventRecord } from '../support/consumers';
import { TEST_SECRETS, startEmulated, type Emulated } from '../support/emulated';
import { deliveryEvent } from '../support/gateway';

/**
 * The receiver answers within its function timeout whatever its dependencies do: a secrets
 * refresh at its worst (2 attempts of 3.5 s and a back-off) followed by an accept at its worst
 * would not fit, so the accept starts only when it still can.
 */

let env: Emulated;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});

const bodyOf = (result: APIGatewayProxyStructuredResultV2) => JSON.parse(result.body ?? 'null') as Record<string, unknown>;

/** A receiver whose secrets read takes `secretsMs` on its clock. */
function receiverWithSlowSecrets(secretsMs: number) {
  let nowMs = Date.now();
  return env.receiver({
    clock: () => nowMs,
    getSecrets: async (provider: ProviderName) => {
      nowMs += secretsMs;
      return TEST_SECRETS[provider];
    },
  });
}

describe('receiver time budget', () => {
  it('receiver time budget: after a secrets refresh at its worst the answer is a 503 with nothing written, not a timeout', async () => {
    const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed' });

    const result = await receiverWithSlowSecrets(8_000)(deliveryEvent(delivery));

    expect(result.statusCode).toBe(503);
    expect(bodyOf(result)).toEqual({ error: 'unavailable', message: 'a dependency failed; nothing was accepted, retry later' });
    expect(await eventRecord(env, `mythicdot#${delivery.id}`)).toBeUndefined();
    expect(await env.drain('batch.completed')).toHaveLength(0);
  });

  it('a secrets read answered on its first attempt is followed by the accept', async () => {
    const delivery = buildDelivery({ provider: 'mythicdot', type: 'batch.completed' });

    const result = await receiverWithSlowSecrets(3_500)(deliveryEvent(delivery));

    expect(bodyOf(result)).toMatchObject({ status: 'accepted' });
    expect(await env.drain('batch.completed')).toHaveLength(1);
  });
});
