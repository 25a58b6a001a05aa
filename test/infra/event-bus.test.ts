import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Code, Function as LambdaFn, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/core/routes';
import { WebhookReceiver } from '../../infra/constructs/webhook-receiver';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import { receiverPropsFromContext } from '../../infra/stack';
import { arnOf, logicalId, testApp, testStack } from './app';

/** A stack with only a receiver in it, and a target for rules. */
function receiverStack(props: ConstructorParameters<typeof WebhookReceiver>[2] = {}) {
  const stack = new Stack(testApp(), 'Own');
  const receiver = new WebhookReceiver(stack, 'Webhooks', props);
  const target = new LambdaFn(stack, 'Target', { runtime: Runtime.NODEJS_24_X, handler: 'index.handler', code: Code.fromInline('export const handler = async () => {};') });
  return { stack, receiver, target };
}

/** Every statement of every IAM policy that names `action`. */
function statementsWith(template: Template, action: string): { Action: unknown; Resource: unknown }[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
    (policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[]).filter((statement) =>
      ([] as unknown[]).concat(statement.Action).includes(action),
    ),
  );
}

describe('eventBus: true', () => {
  it('creates the bus and an archive of our events', () => {
    const { stack, receiver } = receiverStack({ eventBus: true });
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: arnOf(receiver.events?.eventBus as EventBus),
      EventPattern: { source: [{ prefix: 'ai-webhooks.' }] },
    });
    template.hasResource('AWS::Events::Archive', { DeletionPolicy: 'Retain' });
  });

  it('grants events:PutEvents to each consumer on that bus only, and names the bus to it', () => {
    const { stack, receiver } = receiverStack({ eventBus: true });
    const template = Template.fromStack(stack);
    const busArn = arnOf(receiver.events?.eventBus as EventBus);

    const statements = statementsWith(template, 'events:PutEvents');
    expect(statements).toHaveLength(ROUTES.length);
    for (const statement of statements) expect(statement.Resource).toEqual(busArn);
    for (const route of ROUTES) {
      const consumer = template.toJSON().Resources[logicalId(receiver.consumers[route].handler)];
      expect(consumer.Properties.Environment.Variables.EVENT_BUS_NAME).toEqual(busArn);
    }
    expect(template.toJSON().Resources[logicalId(receiver.receiver.handler)].Properties.Environment.Variables.EVENT_BUS_NAME).toBeUndefined();
  });

  it('adds one rule per onEvent call, matching its routes and our sources, with its target', () => {
    const { stack, receiver, target } = receiverStack({ eventBus: true });
    const queue = new Queue(stack, 'Batches', { enforceSSL: true });

    receiver.onEvent('fine_tune.completed', new LambdaFunction(target));
    receiver.onEvent(['batch.completed', 'batch.failed'], new SqsQueue(queue), {
      providers: ['together'],
      detail: { data: { outputFileId: [{ exists: true }] } },
    });
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::Events::Rule', 2);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalId(receiver.events?.eventBus as EventBus) },
      EventPattern: { source: [{ prefix: 'ai-webhooks.' }], 'detail-type': ['fine_tune.completed'] },
      Targets: [Match.objectLike({ Arn: arnOf(target) })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['ai-webhooks.together'],
        'detail-type': ['batch.completed', 'batch.failed'],
        detail: { data: { outputFileId: [{ exists: true }] } },
      },
      Targets: [Match.objectLike({ Arn: arnOf(queue) })],
    });
  });

  it('uses a bus that is passed in, creating none, and grants on it alone', () => {
    const stack = new Stack(testApp(), 'Own');
    const bus = EventBus.fromEventBusArn(stack, 'Existing', 'arn:aws:events:us-east-1:123456789012:event-bus/platform');
    new WebhookReceiver(stack, 'Webhooks', { eventBus: bus });
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::Events::EventBus', 0);
    template.hasResourceProperties('AWS::Events::Archive', { SourceArn: bus.eventBusArn });
    for (const statement of statementsWith(template, 'events:PutEvents')) expect(statement.Resource).toBe(bus.eventBusArn);
  });

  it('names a second rule for the same routes only when given an id', () => {
    const { receiver, target } = receiverStack({ eventBus: true });
    receiver.onEvent('fine_tune.completed', new LambdaFunction(target));

    expect(() => receiver.onEvent('fine_tune.completed', new LambdaFunction(target))).toThrow(/pass options\.id/);
    expect(receiver.onEvent('fine_tune.completed', new LambdaFunction(target), { id: 'Evaluations' }).node.id).toBe('Evaluations');
  });

  it('refuses a retention that is not whole days', () => {
    expect(() => receiverStack({ eventBus: true, eventArchiveRetention: Duration.hours(36) })).toThrow(/whole days/);
  });

  it('puts the bus and archive in the stack outputs', () => {
    const template = Template.fromStack(testStack({ receiver: { eventBus: true } }));

    template.hasOutput(STACK_OUTPUTS.eventBusArn, {});
    template.hasOutput(STACK_OUTPUTS.eventArchiveName, {});
  });
});

describe('the archive and the records its entries point at', () => {
  it('[H3-7] by default keeps entries 29 days, no longer than an event record is kept', () => {
    const { stack } = receiverStack({ eventBus: true });

    Template.fromStack(stack).hasResourceProperties('AWS::Events::Archive', { RetentionDays: 29 });
  });

  it('[H3-7] refuses an archive retention longer than event records are kept', () => {
    const build = () => receiverStack({ eventBus: true, eventArchiveRetention: Duration.days(30) });

    expect(build).toThrow('eventArchiveRetention (30 days) is longer than event records are kept (29 days)');
  });

  it('[H3-7] refuses an archive that keeps entries indefinitely', () => {
    const build = () => receiverStack({ eventBus: true, eventArchiveRetention: Duration.days(0) });

    expect(build).toThrow('eventArchiveRetention (indefinitely) is longer than event records are kept (29 days)');
  });

  it('[H3-7] counts the shortest retention of any provider', () => {
    const build = () =>
      receiverStack({ eventBus: true, retentionDays: 90, retentionDaysByProvider: { llmtune: 60 }, eventArchiveRetention: Duration.days(90) });

    expect(build).toThrow('eventArchiveRetention (90 days) is longer than event records are kept (60 days)');
  });

  it('takes a longer archive retention once retentionDays keeps records as long', () => {
    const { stack } = receiverStack({ eventBus: true, retentionDays: 90, eventArchiveRetention: Duration.days(90) });

    Template.fromStack(stack).hasResourceProperties('AWS::Events::Archive', { RetentionDays: 90 });
  });
});

describe('without eventBus', () => {
  it('creates no bus, no archive, no rule and no PutEvents grant', () => {
    const { stack } = receiverStack();
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::Events::EventBus', 0);
    template.resourceCountIs('AWS::Events::Archive', 0);
    template.resourceCountIs('AWS::Events::Rule', 0);
    expect(statementsWith(template, 'events:PutEvents')).toEqual([]);
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Environment?.Variables?.EVENT_BUS_NAME).toBeUndefined();
    }
  });

  it('makes onEvent throw an error that says to set eventBus', () => {
    const { receiver, target } = receiverStack();

    expect(() => receiver.onEvent('fine_tune.completed', new LambdaFunction(target))).toThrow(/eventBus: true/);
  });

  it('refuses eventArchiveRetention, which needs a bus', () => {
    expect(() => receiverStack({ eventArchiveRetention: Duration.days(7) })).toThrow(/needs eventBus/);
  });
});

describe('context', () => {
  it('reads eventBus, eventArchiveRetentionDays and tracing', () => {
    const context: Record<string, string> = { eventBus: 'true', eventArchiveRetentionDays: '7', tracing: 'false' };

    const props = receiverPropsFromContext((key) => context[key]);

    expect(props).toMatchObject({ eventBus: true, tracing: false });
    expect(props.eventArchiveRetention?.toDays()).toBe(7);
    expect(() => receiverPropsFromContext((key) => (key === 'eventBus' ? 'yes' : undefined))).toThrow(/eventBus must be true or false/);
  });
});
