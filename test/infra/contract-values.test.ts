import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/core/routes';
import type { WebhookReceiverStack } from '../../infra/stack';
import { logicalId, testStack } from './app';

/*
 * The queue and consumer settings the README promises, as literals: the other template tests
 * compare against QUEUE_SETTINGS, which a wrong value there would satisfy.
 */

let stack: WebhookReceiverStack;
let resources: Record<string, { Properties: Record<string, unknown> }>;

beforeAll(() => {
  stack = testStack();
  resources = Template.fromStack(stack).toJSON().Resources;
});

const propertiesOf = (construct: Parameters<typeof logicalId>[0]) => resources[logicalId(construct)]?.Properties ?? {};

describe('the settings the README promises, per route', () => {
  it.each(ROUTES)('%s: moves a message to its dead-letter queue after 5 receives', (route) => {
    const redrive = propertiesOf(stack.webhooks.queues[route]).RedrivePolicy as { maxReceiveCount?: unknown } | undefined;
    expect(redrive?.maxReceiveCount).toBe(5);
  });

  it.each(ROUTES)('%s: gives the consumer 30 s and the queue a 180 s visibility timeout, six times that', (route) => {
    expect(propertiesOf(stack.webhooks.consumers[route].handler).Timeout).toBe(30);
    expect(propertiesOf(stack.webhooks.queues[route]).VisibilityTimeout).toBe(180);
  });

  it.each(ROUTES)('%s: hands its consumer batches of up to 10 records', (route) => {
    const consumer = logicalId(stack.webhooks.consumers[route].handler);
    const mappings = Object.values(resources).filter(
      (resource) => (resource.Properties.FunctionName as { Ref?: string } | undefined)?.Ref === consumer && 'BatchSize' in resource.Properties,
    );
    expect(mappings.map((mapping) => mapping.Properties.BatchSize)).toEqual([10]);
  });

  it.each(ROUTES)('%s: keeps dead letters 14 days (1,209,600 s)', (route) => {
    expect(propertiesOf(stack.webhooks.deadLetterQueues[route]).MessageRetentionPeriod).toBe(1_209_600);
  });
});
