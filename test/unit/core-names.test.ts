import { describe, expect, it } from 'vitest';
import { checkListenerName, listenerPascal } from '../../functions/core/listeners';
import { MESSAGE_LIFETIME_SECONDS } from '../../functions/core/queues';
import { routePascal, routeSlug, ROUTES } from '../../functions/core/routes';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import { checkpointSortKey, MIN_RECORD_RETENTION_SECONDS, recordRetentionSeconds } from '../../functions/core/table';

/*
 * Names and keys that live outside the code once deployed: queue names, stack outputs a user's
 * scripts read, listener names, the sort keys of a job's history, and how long a record is kept.
 */

describe('names users and tools read', () => {
  it.each([
    ['fine_tune.completed', 'fine-tune-completed', 'FineTuneCompleted'],
    ['usage.threshold_reached', 'usage-threshold-reached', 'UsageThresholdReached'],
    ['batch.expired', 'batch-expired', 'BatchExpired'],
    ['other', 'other', 'Other'],
  ] as const)('[RULE] route %s has the queue name %s and the output suffix %s', (route, slug, pascal) => {
    expect(routeSlug(route)).toBe(slug);
    expect(routePascal(route)).toBe(pascal);
    expect(STACK_OUTPUTS.queueUrl(route)).toBe(`QueueUrl${pascal}`);
  });

  it('[RULE] a provider’s outputs are named after it with a capital: WebhookUrlTogether, SecretArnTogether', () => {
    expect(STACK_OUTPUTS.webhookUrl('together')).toBe('WebhookUrlTogether');
    expect(STACK_OUTPUTS.secretArn('openai')).toBe('SecretArnOpenai');
  });

  it('[RULE] every route’s queue name is a valid SQS name of letters, digits and hyphens', () => {
    for (const route of ROUTES) expect(routeSlug(route)).toMatch(/^[a-z][a-z-]*[a-z]$/);
  });

  it('[RULE] a listener’s outputs are named after it with a capital: ListenerQueueUrlAlice', () => {
    expect(listenerPascal('alice')).toBe('Alice');
    expect(STACK_OUTPUTS.listenerQueueUrl('bob2')).toBe('ListenerQueueUrlBob2');
  });

  it('[RULE] a valid listener name is accepted as given', () => {
    expect(checkListenerName('alice')).toBe('alice');
    expect(checkListenerName('a2345678901234567890')).toBe('a2345678901234567890');
  });

  it.each(['Alice', '2alice', '', 'a23456789012345678901', 'al-ice'])('[RULE] the listener name "%s" is refused, saying where and what a name may be', (name) => {
    expect(() => checkListenerName(name, 'webhooks listen --name')).toThrow(
      `webhooks listen --name: "${name}" is not a listener name: use 1 to 20 lowercase letters and digits, starting with a letter (e.g. alice)`,
    );
    expect(() => checkListenerName(name)).toThrow(`listeners: "${name}" is not a listener name`);
  });

  it('[RULE] a job’s checkpoint keys sort in step order, as DynamoDB sorts strings', () => {
    const steps = [100, 9, 10, 0, 2_000_000, Number.MAX_SAFE_INTEGER];

    const keys = steps.map(checkpointSortKey);

    expect(checkpointSortKey(42)).toBe('c#0000000000000042');
    expect([...keys].sort()).toEqual([0, 9, 10, 100, 2_000_000, Number.MAX_SAFE_INTEGER].map(checkpointSortKey));
  });

  it('[RULE] a record is kept at least as long as any copy of its event can still be delivered, and longer when configured', () => {
    expect(MIN_RECORD_RETENTION_SECONDS).toBeGreaterThan(MESSAGE_LIFETIME_SECONDS);
    expect(recordRetentionSeconds(86_400)).toBe(MIN_RECORD_RETENTION_SECONDS);
    expect(recordRetentionSeconds(MIN_RECORD_RETENTION_SECONDS + 1)).toBe(MIN_RECORD_RETENTION_SECONDS + 1);
  });
});
