import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { readEnabledProviders } from '../../functions/core/config';
import type { NormalizedEvent, ProviderName } from '../../functions/core/event';
import { createReceiver } from '../../functions/receiver/receive';
import { buildDelivery } from '../../ops/deliveries';
import { deliveryEvent, gatewayEvent } from '../support/gateway';
import { TEST_SECRETS } from '../support/emulated';

/** Records what the receiver puts on its Metrics instance. */
function recordingMetrics() {
  const calls: string[] = [];
  const metrics = {
    addDimensions: (dimensions: Record<string, string>) => calls.push(`dimensions ${JSON.stringify(dimensions)}`),
    addMetric: (name: string, _unit: string, value: number) => calls.push(`metric ${name} ${value}`),
  };
  return { calls, metrics: metrics as unknown as Metrics };
}

function receiverWith(metrics: Metrics, getSecrets = async (provider: ProviderName): Promise<readonly string[]> => TEST_SECRETS[provider]) {
  return createReceiver({
    providers: readEnabledProviders({}),
    getSecrets,
    accept: async (event: NormalizedEvent) => ({ status: 'accepted', key: `${event.provider}#${event.id}` }),
    maxBodyBytes: 262_144,
    retentionSeconds: 7 * 86_400,
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics,
  });
}

describe('receiver metrics', () => {
  it('counts an accepted delivery once, by provider', async () => {
    const { calls, metrics } = recordingMetrics();

    await receiverWith(metrics)(deliveryEvent(buildDelivery({ provider: 'mythicdot', type: 'batch.completed' })));

    expect(calls).toEqual(['dimensions {"provider":"mythicdot","reason":"accepted"}', 'metric Accepted 1']);
  });

  it('counts a rejection by provider and reason', async () => {
    const { calls, metrics } = recordingMetrics();
    const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed', secret: 'not-the-secret' });

    await receiverWith(metrics)(deliveryEvent(delivery));

    expect(calls).toEqual(['dimensions {"provider":"together","reason":"signature_mismatch"}', 'metric Rejected 1']);
  });

  it('a signed-looking delivery while the secret is unset is counted as Rejected secret_not_set, the metric its own alarm watches', async () => {
    const { calls, metrics } = recordingMetrics();

    await receiverWith(metrics, async () => [])(deliveryEvent(buildDelivery({ provider: 'llmtune', type: 'training.started' })));

    expect(calls).toEqual(['dimensions {"provider":"llmtune","reason":"secret_not_set"}', 'metric Rejected 1']);
  });

  it('unsigned junk no longer triggers the 5xx alarm: it is counted as missing_signature, not secret_not_set', async () => {
    const { calls, metrics } = recordingMetrics();

    await receiverWith(metrics, async () => [])(gatewayEvent({ path: '/webhooks/llmtune', body: '{}' }));

    expect(calls).toEqual(['dimensions {"provider":"llmtune","reason":"missing_signature"}', 'metric Rejected 1']);
  });

  it('forgery with a degenerate Standard Webhooks secret: a refused secret is counted as Rejected secret_invalid, the metric its alarm watches', async () => {
    const { calls, metrics } = recordingMetrics();

    await receiverWith(metrics, async () => ['whsec_'])(deliveryEvent(buildDelivery({ provider: 'standard', type: 'batch.completed' })));

    expect(calls).toEqual(['dimensions {"provider":"standard","reason":"secret_invalid"}', 'metric Rejected 1']);
  });
});
