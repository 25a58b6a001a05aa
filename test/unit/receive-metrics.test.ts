import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { readEnabledProviders } from '../../functions/core/config';
import type { NormalizedEvent } from '../../functions/core/event';
import { createReceiver } from '../../functions/receiver/receive';
import { buildDelivery } from '../../local/deliveries';
import { deliveryEvent } from '../support/gateway';
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

function receiverWith(metrics: Metrics) {
  return createReceiver({
    providers: readEnabledProviders({}),
    getSecrets: async (provider) => TEST_SECRETS[provider],
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
});
