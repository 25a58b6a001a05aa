import { describe, expect, it } from 'vitest';
import { formatListenLine } from '../../cli/listen-command';
import { listenerSigningSecret } from '../../functions/core/listeners';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import { UsageError } from '../../ops/errors';
import { listen, type ListenLine } from '../../ops/listen';
import { stackListener } from '../../ops/target';

const outputsOf = (...names: string[]) =>
  Object.fromEntries(
    names.flatMap((name) => [
      [STACK_OUTPUTS.listenerQueueUrl(name), `https://sqs.eu-west-1.amazonaws.com/1/${name}`],
      [STACK_OUTPUTS.listenerDeadLetterQueueUrl(name), `https://sqs.eu-west-1.amazonaws.com/1/${name}-dlq`],
      [STACK_OUTPUTS.listenerSecretArn(name), `arn:aws:secretsmanager:eu-west-1:1:secret:${name}`],
    ]),
  );

describe("a stack's listener", () => {
  it('[LISTEN] is the only one when --listener is not given', () => {
    const listener = stackListener('S', outputsOf('alice'), undefined);

    expect(listener).toMatchObject({ name: 'alice', queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/alice', deadLetterUrl: 'https://sqs.eu-west-1.amazonaws.com/1/alice-dlq' });
  });

  it('[LISTEN] is named by --listener among several, and a name the stack lacks is refused with the names it has', () => {
    expect(stackListener('S', outputsOf('alice', 'bob'), 'bob').queueUrl).toBe('https://sqs.eu-west-1.amazonaws.com/1/bob');
    expect(() => stackListener('S', outputsOf('alice', 'bob'), undefined)).toThrow(/pass --listener <name>; its listeners: alice, bob/);
    expect(() => stackListener('S', outputsOf('alice'), 'carol')).toThrow(UsageError);
  });

  it('[LISTEN] says how to get one when the stack has none', () => {
    expect(() => stackListener('S', {}, undefined)).toThrow(/-c eventBus=true -c listeners=<your name>/);
  });

  it('[LISTEN] signs with whsec_ + the stored key, and keeps a stored whsec_ secret as it is', () => {
    expect(listenerSigningSecret('QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\n')).toBe('whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY');
    expect(listenerSigningSecret('whsec_QUJD')).toBe('whsec_QUJD');
  });
});

describe('the lines of webhooks listen', () => {
  it('[LISTEN] show each event and each answer', () => {
    expect(formatListenLine({ kind: 'forward', key: 'together#evt_1', type: 'fine_tune.completed', provider: 'together', attempt: 1 })).toBe(
      '--> fine_tune.completed together#evt_1',
    );
    expect(formatListenLine({ kind: 'answer', key: 'together#evt_1', status: 200, path: '/hooks', ms: 12 })).toBe('<-- 200 POST /hooks 12 ms');
    expect(formatListenLine({ kind: 'forward', key: 'together#evt_1', type: 'fine_tune.completed', provider: 'together', attempt: 3 })).toContain('(attempt 3)');
  });
});

describe('the listen loop', () => {
  // The emulator cannot refuse a receive for lack of permission: a fake queue client does.
  it('[LISTEN] ends with an error that names the fix when the queue refuses the receive for lack of permission', async () => {
    const denied = Object.assign(new Error('not authorized to perform sqs:ReceiveMessage'), { name: 'AccessDenied' });
    const lines: ListenLine[] = [];

    const running = listen({
      sqs: { send: async () => Promise.reject(denied) },
      listener: 'alice',
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/alice',
      secret: 'whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY',
      forwardTo: 'http://127.0.0.1:1/hooks',
      readEvent: async () => undefined,
      onLine: (line) => lines.push(line),
      sleep: async () => undefined,
    });

    await expect(running).rejects.toThrow(/refused the receive.*sqs:ReceiveMessage, DeleteMessage and ChangeMessageVisibility/);
    expect(lines.map((line) => line.kind)).toEqual(['listening']);
  });

  it('[LISTEN] keeps retrying a queue it cannot reach, saying so once', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const lines: ListenLine[] = [];
    const stop = new AbortController();
    const waits: number[] = [];

    await listen({
      sqs: { send: async () => Promise.reject(refused) },
      listener: 'alice',
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/alice',
      secret: 'whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY',
      forwardTo: 'http://127.0.0.1:1/hooks',
      readEvent: async () => undefined,
      onLine: (line) => lines.push(line),
      signal: stop.signal,
      sleep: async (ms) => {
        waits.push(ms);
        if (waits.length === 8) stop.abort();
      },
    });

    expect(lines).toEqual([expect.objectContaining({ kind: 'listening' }), { kind: 'queue_lost', reason: 'connection refused' }]);
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });
});
