import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { captureOutput } from '../unit/cli-support';

let runtime: LocalRuntime;

beforeAll(async () => {
  // Consumers off: the accepted events stay on their queue for the test to count.
  runtime = await startLocalRuntime({
    env: {},
    port: 0,
    dynamodbPort: 0,
    sqsPort: 0,
    consumers: false,
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
});

afterAll(async () => {
  await runtime?.stop();
});

async function send(argv: string[], options: { isTTY?: boolean } = {}) {
  const captured = captureOutput(options);
  const code = await run(['send', ...argv], { output: captured.output, env: {} });
  return { code, stdout: captured.stdout, stderr: captured.stderr };
}

async function queued(route: 'fine_tune.completed' | 'batch.completed'): Promise<number> {
  const { Attributes } = await runtime.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: runtime.resources.queues[route].url, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages);
}

describe('webhooks send', () => {
  it('sends a burst with duplicates and counts accepted and duplicate answers', async () => {
    const { code, stdout } = await send([
      'together',
      'fine_tune.completed',
      '--count',
      '20',
      '--duplicate-rate',
      '0.25',
      '--concurrency',
      '4',
      '--url',
      runtime.url,
      '--json',
    ]);

    const summary = JSON.parse(stdout) as { sent: number; accepted: number; duplicate: number; other: Record<string, number> };
    expect(code).toBe(0);
    expect(summary).toMatchObject({ sent: 20, accepted: 15, duplicate: 5, other: {} });
    expect(await queued('fine_tune.completed')).toBe(15);
  });

  it('counts rejected deliveries by status and exits 1', async () => {
    const { code, stdout } = await send(['together', 'batch.done', '--count', '3', '--secret', 'not-the-secret', '--url', runtime.url]);

    expect(code).toBe(1);
    expect(stdout).toContain('accepted   0');
    expect(stdout).toContain('HTTP 401: 3');
    expect(await queued('batch.completed')).toBe(0);
  });

  it('draws a progress bar on stderr when it is a terminal, and nothing when it is not', async () => {
    const terminal = await send(['llmtune', 'training.completed', '--count', '2', '--url', runtime.url], { isTTY: true });
    const piped = await send(['llmtune', 'training.completed', '--count', '2', '--url', runtime.url], { isTTY: false });

    expect(terminal.stderr).toContain('send [');
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toContain('accepted   2');
  });

  it('exits 1 and says to start the receiver when nothing answers', async () => {
    const { code, stderr } = await send(['together', 'fine_tune.completed', '--url', 'http://127.0.0.1:1']);

    expect(code).toBe(1);
    expect(stderr).toContain('is the receiver running (`npm start`)?');
  });
});
