import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_SETTINGS } from '../../functions/core/queues';
import { ROUTES } from '../../functions/core/routes';
import { checkQueueSettings } from '../../infra/constructs/route-pipeline';
import { RECEIVER_BUDGET, checkReceiverBudget } from '../../infra/constructs/receiver-budget';
import { receiverPropsFromContext, type WebhookReceiverStack } from '../../infra/stack';
import { logicalId, testStack } from './app';

/** The synth-time guards on queue retention, visibility and the receiver's time budget. */

let stack: WebhookReceiverStack;
let template: Template;
beforeAll(() => {
  stack = testStack();
  template = Template.fromStack(stack);
});

const resources = () => template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>;

describe('queue retention', () => {
  it('route queues keep messages 14 days, as long as their dead-letter queues, not the 4-day default', () => {
    for (const route of ROUTES) {
      expect(resources()[logicalId(stack.webhooks.queues[route])]?.Properties.MessageRetentionPeriod).toBe(1_209_600);
      expect(resources()[logicalId(stack.webhooks.deadLetterQueues[route])]?.Properties.MessageRetentionPeriod).toBe(1_209_600);
    }
  });

  it('refuses at synth a route queue that keeps messages longer than its dead-letter queue', () => {
    expect(() => checkQueueSettings({ ...QUEUE_SETTINGS, deadLetterRetentionSeconds: QUEUE_SETTINGS.retentionSeconds - 1 })).toThrow(
      /deadLetterRetentionSeconds .* must be at least retentionSeconds/,
    );
  });
});

describe('visibility guard', () => {
  it('visibility guard: synth fails when the visibility timeout is under six times the consumer timeout, and passes at six times', () => {
    expect(() => checkQueueSettings({ ...QUEUE_SETTINGS, consumerTimeoutSeconds: 30, visibilityTimeoutSeconds: 179 })).toThrow(
      'QUEUE_SETTINGS.visibilityTimeoutSeconds (179) must be at least six times consumerTimeoutSeconds (30)',
    );
    expect(() => checkQueueSettings({ ...QUEUE_SETTINGS, consumerTimeoutSeconds: 30, visibilityTimeoutSeconds: 180 })).not.toThrow();
  });

  it('the deployed settings are a visibility of 180 s over a 30 s consumer, five receives, 14 days on each queue', () => {
    expect(QUEUE_SETTINGS).toMatchObject({
      visibilityTimeoutSeconds: 180,
      consumerTimeoutSeconds: 30,
      maxReceiveCount: 5,
      retentionSeconds: 14 * 86_400,
      deadLetterRetentionSeconds: 14 * 86_400,
    });
  });
});

describe('receiver time budget', () => {
  it('receiver time budget: a secrets refresh and the accept at their worst end before the timeout, which ends before the lease', () => {
    // Each AWS call: 2 attempts of 1 s connect + 2.5 s request, and up to 1 s of back-off between them.
    expect(RECEIVER_BUDGET).toEqual({ timeoutSeconds: 29, leaseSeconds: 30, acceptWorstCaseMs: 24_000, secretsFirstAttemptMs: 3_500, marginMs: 1_000 });
    expect(() => checkReceiverBudget()).not.toThrow();
    const fn = resources()[logicalId(stack.webhooks.receiver.handler)];
    expect(fn?.Properties.Timeout).toBe(29);
  });

  it('refuses at synth a timeout that leaves no time for a secrets read before the accept at its worst', () => {
    expect(() => checkReceiverBudget({ ...RECEIVER_BUDGET, timeoutSeconds: 25 })).toThrow(/leaves 0 ms before the accept/);
  });

  it('refuses at synth a timeout or an accept that a lease does not outlast', () => {
    expect(() => checkReceiverBudget({ ...RECEIVER_BUDGET, leaseSeconds: 29 })).toThrow(/must stay below LEASE_SECONDS \(29 s\)/);
    expect(() => checkReceiverBudget({ ...RECEIVER_BUDGET, timeoutSeconds: 40, acceptWorstCaseMs: 31_000 })).toThrow(/accept's worst case \(31000 ms\)/);
  });
});

describe('retention per provider', () => {
  it('passes a provider\'s own retention to the receiver as RETENTION_DAYS_<PROVIDER>', () => {
    const own = testStack({ receiver: { retentionDaysByProvider: { llmtune: 60 } } });
    const variables = (Template.fromStack(own).toJSON().Resources[logicalId(own.webhooks.receiver.handler)].Properties.Environment.Variables) as Record<string, string>;

    expect(variables.RETENTION_DAYS_LLMTUNE).toBe('60');
    expect(variables.RETENTION_DAYS_TOGETHER).toBeUndefined();
  });

  it('refuses a provider retention out of range, naming the provider', () => {
    expect(() => testStack({ receiver: { retentionDaysByProvider: { mythicdot: 3 } } })).toThrow(/retentionDaysByProvider\.mythicdot must be a whole number from 7 to 365, got 3/);
  });

  it('reads a provider retention from CDK context as retentionDays<Provider>', () => {
    expect(receiverPropsFromContext((key) => ({ retentionDaysLlmtune: '45' })[key])).toMatchObject({ retentionDaysByProvider: { llmtune: 45 } });
  });
});
