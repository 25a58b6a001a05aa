import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { LISTENER_QUEUE_SETTINGS } from '../../functions/core/listeners';
import { ROUTES } from '../../functions/core/routes';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import type { WebhookListener } from '../../infra/constructs/listeners';
import { receiverPropsFromContext } from '../../infra/stack';
import { arnOf, logicalId, ref, testStack } from './app';

/** The stack with these listeners, synthesized once per set for the tests that only read it. */
const synthesized = new Map<string, ReturnType<typeof synthesize>>();
function listenerStack(listeners: readonly string[] = ['alice', 'bob']) {
  const key = listeners.join(',');
  const found = synthesized.get(key) ?? synthesize(listeners);
  synthesized.set(key, found);
  return found;
}
function synthesize(listeners: readonly string[]) {
  const stack = testStack({ receiver: { eventBus: true, listeners } });
  const template = Template.fromStack(stack);
  const listener = (name: string) => stack.webhooks.listeners?.listeners.get(name) as WebhookListener;
  return { stack, template, listener };
}

describe('listeners', () => {
  it('[LISTEN] gives each listener an encrypted, TLS-only queue kept 4 days, redriven to its dead-letter queue after a few receives', () => {
    const { template, listener } = listenerStack();

    for (const name of ['alice', 'bob']) {
      const { queue, deadLetterQueue } = listener(name);
      const resources = template.toJSON().Resources;
      expect(resources[logicalId(queue)].Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 4 * 24 * 3600,
        RedrivePolicy: { deadLetterTargetArn: arnOf(deadLetterQueue), maxReceiveCount: LISTENER_QUEUE_SETTINGS.maxReceiveCount },
      });
      expect(resources[logicalId(deadLetterQueue)].Properties).toMatchObject({ SqsManagedSseEnabled: true });
    }
  });

  it('[LISTEN] subscribes each queue with its own rule on the bus, for every route of every provider', () => {
    const { stack, template, listener } = listenerStack();

    const rule = template.toJSON().Resources[logicalId(listener('alice').rule)];
    expect(rule.Properties).toMatchObject({
      EventBusName: ref(stack.webhooks.events?.eventBus as never),
      EventPattern: { source: [{ prefix: 'ai-webhooks.' }], 'detail-type': [...ROUTES] },
    });
    expect(rule.Properties.Targets).toEqual([expect.objectContaining({ Arn: arnOf(listener('alice').queue) })]);
  });

  it('[LISTEN] lets only its own rule send to a listener queue, and only over TLS', () => {
    const { template, listener } = listenerStack();

    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter((policy) =>
      (policy.Properties.Queues as unknown[]).some((queue) => JSON.stringify(queue) === JSON.stringify(ref(listener('alice').queue))),
    );
    const statements = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
    const allows = statements.filter((statement) => statement.Effect === 'Allow');
    expect(allows).toEqual([
      expect.objectContaining({
        Action: expect.arrayContaining(['sqs:SendMessage']),
        Principal: { Service: 'events.amazonaws.com' },
        Condition: { ArnEquals: { 'aws:SourceArn': arnOf(listener('alice').rule) } },
      }),
    ]);
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });

  it('[LISTEN] generates a signing secret per listener, usable as a Standard Webhooks key', () => {
    const { template, listener } = listenerStack();

    const secret = template.toJSON().Resources[logicalId(listener('bob').secret)];
    expect(secret.Properties.GenerateSecretString).toMatchObject({ PasswordLength: 32, ExcludePunctuation: true, IncludeSpace: false });
    expect(secret.Properties.SecretString).toBeUndefined();
  });

  it('[LISTEN] names each listener queue, dead-letter queue and secret in the outputs', () => {
    const { template, listener } = listenerStack(['alice']);

    const outputs = template.toJSON().Outputs;
    expect(outputs[STACK_OUTPUTS.listenerQueueUrl('alice')].Value).toEqual(ref(listener('alice').queue));
    expect(outputs[STACK_OUTPUTS.listenerDeadLetterQueueUrl('alice')].Value).toEqual(ref(listener('alice').deadLetterQueue));
    expect(outputs[STACK_OUTPUTS.listenerSecretArn('alice')].Value).toEqual(ref(listener('alice').secret));
    expect(Object.keys(outputs)).toContain('ListenerQueueUrlAlice');
  });

  it('[LISTEN] reads -c listeners=alice,bob', () => {
    const props = receiverPropsFromContext((key) => ({ listeners: 'alice, bob', eventBus: 'true' })[key]);

    expect(props.listeners).toEqual(['alice', 'bob']);
  });

  it('[LISTEN] fails synth clearly when listeners are asked for without a bus', () => {
    const props = receiverPropsFromContext((key) => ({ listeners: 'alice' })[key as 'listeners']);

    expect(() => testStack({ receiver: props })).toThrow(/listeners needs eventBus.*-c eventBus=true/);
  });

  it('[LISTEN] refuses an unsafe or repeated listener name', () => {
    expect(() => testStack({ receiver: { eventBus: true, listeners: ['Alice!'] } })).toThrow(/"Alice!" is not a listener name/);
    expect(() => testStack({ receiver: { eventBus: true, listeners: ['bob', 'bob'] } })).toThrow(/lists a name twice/);
  });
});
