import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { eventKey, PROVIDER_NAMES, type NormalizedEvent, type ProviderName } from '../../functions/core/event';
import { PROVIDERS } from '../../functions/core/providers';
import { PROVIDER_SAMPLES } from '../../functions/core/providers/samples';
import { stepsFor } from '../../functions/consumers/routes';
import { toSqsRecord } from '../../local/consumers';
import { buildDelivery } from '../../ops/deliveries';
import { consumerOn, eventRecord, sqsEvent } from '../support/consumers';
import { startEmulated, type Emulated } from '../support/emulated';
import { deliveryEvent } from '../support/gateway';
import { startEvaluation } from '../support/my-evaluations';
import { steps } from '../support/readme-extension';

vi.mock('../support/my-evaluations', () => ({ startEvaluation: vi.fn(async () => undefined) }));

let env: Emulated;
beforeAll(async () => {
  env = await startEmulated();
});
afterAll(async () => {
  await env?.stop();
});
beforeEach(async () => {
  vi.mocked(startEvaluation).mockClear();
  await env.drainAll();
});

/** The model name each provider's `fine_tune.completed` sample carries, in that provider's own field; none for a Standard sender. */
const MODEL_NAMES: Record<ProviderName, string | undefined> = {
  together: 'acme/llama-3-8b-support-v2', // data.model_name
  llmtune: 'ionet-finetune-model-id', // data.artifact
  mythicdot: 'ft:mythic-7b:acme:2026', // data.object.fine_tuned_model
  openai: undefined, // data.id only
  replicate: 'acme/flux-support-style:b9a0c4e2f3d1a8c7e6b5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3', // output.version
  standard: undefined, // data.id only
};

const completedSampleOf = (provider: ProviderName): string => {
  const type = Object.keys(PROVIDER_SAMPLES[provider]).find((name) => PROVIDERS[provider].routes[name] === 'fine_tune.completed');
  if (type === undefined) throw new Error(`${provider} has no fine_tune.completed sample`);
  return type;
};

describe("the extension example of docs/extending.md", () => {
  it('is the code the test runs, verbatim', () => {
    const readme = readFileSync(new URL('../../docs/extending.md', import.meta.url), 'utf8');
    const example = readFileSync(new URL('../support/readme-extension.ts', import.meta.url), 'utf8');
    const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? '').find((code) => code.includes('startEvaluation'));

    expect(block).toBeDefined();
    expect(example).toContain(block);
  });

  it.each(PROVIDER_NAMES)(
    'sees the model name of a %s fine_tune.completed sample, received, queued and consumed, or none where the provider sends none',
    async (provider) => {
      const delivery = buildDelivery({ provider, type: completedSampleOf(provider) });
      expect((await env.receiver()(deliveryEvent(delivery))).statusCode).toBe(200);
      const [message, ...others] = await env.drain('fine_tune.completed');
      expect(others).toEqual([]);

      const consume = consumerOn(env, 'fine_tune.completed', { steps: stepsFor('fine_tune.completed', steps) });
      const response = await consume(sqsEvent(toSqsRecord(message ?? {}, 'arn:aws:sqs:us-east-1:000000000000:fine-tune-completed')));

      expect(response.batchItemFailures).toEqual([]);
      const model = MODEL_NAMES[provider];
      const key = eventKey(JSON.parse(message?.Body ?? '{}') as NormalizedEvent);
      // The key once hands the effect: the job transition's, shared by a push and a poll of it.
      const sent = JSON.parse(message?.Body ?? '{}') as NormalizedEvent;
      const idempotencyKey = `${sent.provider}#${sent.subject}#completed#evaluation`;
      expect(vi.mocked(startEvaluation).mock.calls).toEqual(model === undefined ? [] : [[{ model, idempotencyKey }]]);
      expect(await eventRecord(env, key)).toMatchObject({ status: 'handled' });
    },
  );
});
