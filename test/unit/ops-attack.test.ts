import { describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import { ROUTES, type Route } from '../../functions/core/routes';
import type { EventRecord } from '../../functions/core/table';
import { redriveByCopy } from '../../ops/dlq';
import type { RouteQueueRefs, Target } from '../../ops/target';
import { captureOutput } from './cli-support';

/**
 * What the operations must never do, whatever DynamoDB or SQS answer: print the lease token that
 * lets its holder finish or fail an event, or delete a dead letter whose copy was not sent.
 */

const NOW_MS = Date.parse('2026-11-03T12:00:00.000Z');
const LEASE_TOKEN = '6f1e2d3c-lease-token-of-the-consumer';
const KEY = 'together#evt_leased';

const leased: EventRecord = {
  pk: KEY,
  status: 'handling',
  provider: 'together',
  eventId: 'evt_leased',
  route: 'fine_tune.failed',
  providerType: 'fine_tune.failed',
  subject: 'ft-1',
  receivedAt: '2026-11-03T11:00:00.000Z',
  receivedDay: '2026-11-03',
  event: JSON.stringify({ id: 'evt_leased', subject: 'ft-1' }),
  expiresAt: 1_800_000_000,
  leaseToken: LEASE_TOKEN,
  leaseExpiresAt: 1_800_000_000,
  attempts: 1,
};

/** Only the attributes a ProjectionExpression names, as DynamoDB answers; all of them without one. */
function projected(item: EventRecord, input: { ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> }): Record<string, unknown> {
  if (input.ProjectionExpression === undefined) return { ...item };
  const names = input.ProjectionExpression.split(',').map((name) => input.ExpressionAttributeNames?.[name.trim()] ?? name.trim());
  return Object.fromEntries(Object.entries(item).filter(([name]) => names.includes(name)));
}

/** A target whose events table holds the one leased record, for every read the CLI makes. */
function leasedTarget(): Target {
  const documents = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const input = command.input as { IndexName?: string; RequestItems?: Record<string, { ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> }> };
      switch (command.constructor.name) {
        case 'GetCommand':
          return { Item: projected(leased, command.input) };
        case 'QueryCommand':
          return { Items: input.IndexName === undefined ? [] : [projected(leased, command.input)] };
        case 'BatchGetCommand': {
          const [table, request] = Object.entries(input.RequestItems ?? {})[0] ?? ['', {}];
          return { Responses: { [table]: [projected(leased, request)] } };
        }
        default:
          return {};
      }
    },
  };
  return {
    kind: 'local',
    description: 'test target',
    documents: documents as unknown as Target['documents'],
    sqs: { send: async () => ({}) } as unknown as Target['sqs'],
    eventsTable: 'events',
    jobsTable: 'jobs',
    queues: async () => Object.fromEntries(ROUTES.map((route) => [route, { url: `q/${route}`, deadLetterUrl: `q/${route}-dlq` }])) as Record<Route, RouteQueueRefs>,
    webhookUrls: {},
    secretArns: {},
  };
}

describe('the lease token', () => {
  it.each([
    'events show together#evt_leased --json',
    'events show together#evt_leased --payload --json',
    'events list --since 1d --json',
    'replay --status handling --since 1d --dry-run --json',
  ])('[ATTACK] `webhooks %s` prints a leased event without its lease token', async (command) => {
    const captured = captureOutput();
    const argv = command.split(' ');

    const code = await run(argv, { output: captured.output, env: {}, clock: () => NOW_MS, connect: async () => leasedTarget() });

    expect(code).toBe(0);
    expect(captured.stdout).toContain('evt_leased');
    expect(captured.stdout).not.toContain(LEASE_TOKEN);
    expect(captured.stdout).not.toContain('leaseToken');
  });
});

describe('redrive by copy', () => {
  type Call = { name: string; input: Record<string, unknown> };

  /** An SQS whose dead-letter queue holds `letters` once; SendMessageBatch answers with `sendAnswer`. */
  function scriptedSqs(letters: number, sendAnswer: (entries: { Id: string }[]) => unknown) {
    const calls: Call[] = [];
    let received = false;
    const sqs = {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        const name = command.constructor.name;
        calls.push({ name, input: command.input });
        if (name === 'GetQueueAttributesCommand') return { Attributes: { ApproximateNumberOfMessages: String(letters) } };
        if (name === 'ReceiveMessageCommand') {
          if (received) return { Messages: [] };
          received = true;
          return { Messages: Array.from({ length: letters }, (_, n) => ({ MessageId: `m${n}`, ReceiptHandle: `receipt-${n}`, Body: `{"n":${n}}` })) };
        }
        if (name === 'SendMessageBatchCommand') return sendAnswer(command.input.Entries as { Id: string }[]);
        return {};
      },
    };
    const queues = Object.fromEntries(ROUTES.map((route) => [route, { url: `q/${route}`, deadLetterUrl: `q/${route}-dlq` }])) as Record<Route, RouteQueueRefs>;
    return { calls, deps: { sqs: sqs as never, queues } };
  }

  const deleted = (calls: Call[]) =>
    calls.filter((call) => call.name === 'DeleteMessageBatchCommand').flatMap((call) => (call.input.Entries as { ReceiptHandle: string }[]).map((entry) => entry.ReceiptHandle));

  it('[ATTACK] a dead letter whose copy SQS refused in a partly failed batch is not deleted: it stays on the dead-letter queue', async () => {
    const { calls, deps } = scriptedSqs(3, (entries) => ({
      Successful: entries.filter((entry) => entry.Id !== '1').map((entry) => ({ Id: entry.Id, MessageId: `copy-${entry.Id}` })),
      Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false }],
    }));

    const result = await redriveByCopy(deps, 'fine_tune.failed');

    expect(deleted(calls)).toEqual(['receipt-0', 'receipt-2']);
    expect(result).toEqual({ route: 'fine_tune.failed', moved: 2, failed: 1 });
  });

  it('[ATTACK] when the copies cannot be sent at all, no dead letter is deleted and the redrive fails', async () => {
    const { calls, deps } = scriptedSqs(3, () => {
      throw new Error('SQS is unavailable');
    });

    await expect(redriveByCopy(deps, 'fine_tune.failed')).rejects.toThrow('SQS is unavailable');

    expect(deleted(calls)).toEqual([]);
  });

  it('[ATTACK] every dead letter is deleted only after the batch that copied it was sent', async () => {
    const { calls, deps } = scriptedSqs(3, (entries) => ({ Successful: entries.map((entry) => ({ Id: entry.Id, MessageId: `copy-${entry.Id}` })) }));

    await redriveByCopy(deps, 'fine_tune.failed');

    const order = calls.map((call) => call.name).filter((name) => name === 'SendMessageBatchCommand' || name === 'DeleteMessageBatchCommand');
    expect(order).toEqual(['SendMessageBatchCommand', 'DeleteMessageBatchCommand']);
    expect(deleted(calls)).toEqual(['receipt-0', 'receipt-1', 'receipt-2']);
  });
});

describe('jobs list window', () => {
  const HOUR_MS = 3_600_000;
  const at = (ms: number) => new Date(NOW_MS - ms).toISOString();
  const today = at(0).slice(0, 10);
  const yesterday = at(24 * HOUR_MS).slice(0, 10);
  /** Each job with the days its index lists it on (a job updated on two days is listed on both). */
  const jobs = [
    { pk: 'together#ft-both', updatedAt: at(HOUR_MS / 2), days: [today, yesterday] },
    { pk: 'together#ft-in', updatedAt: at(HOUR_MS), days: [today] },
    { pk: 'together#ft-early-today', updatedAt: at(3 * HOUR_MS), days: [today] },
    { pk: 'together#ft-yesterday', updatedAt: at(26 * HOUR_MS), days: [yesterday] },
  ].map((job) => ({ ...job, provider: 'together', kind: 'fine_tune', state: 'running', firstSeenAt: job.updatedAt, stateAt: job.updatedAt }));

  function jobsTarget(): Target {
    const documents = {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        if (command.constructor.name === 'QueryCommand') {
          const day = (command.input.ExpressionAttributeValues as Record<string, string>)[':day'];
          return { Items: jobs.filter((job) => job.days.includes(day ?? '')).map(({ pk }) => ({ pk })) };
        }
        if (command.constructor.name === 'BatchGetCommand') {
          const [table, request] = Object.entries(command.input.RequestItems as Record<string, { Keys: { pk: string }[] }>)[0] ?? ['', { Keys: [] }];
          return { Responses: { [table]: request.Keys.map(({ pk }) => jobs.find((job) => job.pk === pk)).map((job) => job && { ...job, days: undefined }) } };
        }
        return {};
      },
    };
    return { ...leasedTarget(), documents: documents as unknown as Target['documents'] };
  }

  const listed = async (since: string) => {
    const captured = captureOutput();
    const code = await run(['jobs', 'list', '--since', since, '--json'], { output: captured.output, env: {}, clock: () => NOW_MS, connect: async () => jobsTarget() });
    expect(code).toBe(0);
    return (JSON.parse(captured.stdout) as { pk: string }[]).map((job) => job.pk);
  };

  it('[ATTACK] `jobs list --since 2h` lists only jobs updated in the last two hours, not one updated earlier the same day', async () => {
    expect(await listed('2h')).toEqual(['together#ft-both', 'together#ft-in']);
  });

  it('[ATTACK] `jobs list --since 2d` lists a job its index holds on two days once, and every other job of the window once', async () => {
    expect(await listed('2d')).toEqual(['together#ft-both', 'together#ft-in', 'together#ft-early-today', 'together#ft-yesterday']);
  });
});
