import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { closedPort } from '../support/net';
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
    const port = await closedPort();

    const { code, stderr } = await send(['together', 'fine_tune.completed', '--url', `http://127.0.0.1:${port}`]);

    expect(code).toBe(1);
    expect(stderr).toContain(`could not reach the receiver at http://127.0.0.1:${port}/webhooks/together (connection refused): is \`npm start\` running?`);
  });

  it('webhooks send with every answer 401 says the sender\'s secret probably differs from the receiver\'s, and how to set both', async () => {
    const text = await send(['together', 'batch.done', '--count', '2', '--secret', 'not-the-secret', '--url', runtime.url]);
    const json = await send(['together', 'batch.done', '--count', '2', '--secret', 'not-the-secret', '--url', runtime.url, '--json']);

    expect(text.code).toBe(1);
    expect(text.stdout).toContain("every delivery got 401: the sender's secret probably differs from the receiver's");
    expect(text.stdout).toContain('TOGETHER_WEBHOOK_SECRET');
    expect(text.stdout).toContain('`npm start`');
    expect((JSON.parse(json.stdout) as { hint?: string }).hint).toContain("the sender's secret probably differs");
  });

  it('gives no secret hint when only some answers are 401', async () => {
    const { stdout } = await send(['llmtune', 'training.completed', '--count', '2', '--url', runtime.url]);

    expect(stdout).not.toContain('secret probably differs');
  });
});

describe('webhooks send: one delivery', () => {
  it('[SEND] prints the answer as it came; the same --id again is a duplicate', async () => {
    const first = await send(['together', 'fine_tune.completed', '--id', 'evt_send_once', '--url', runtime.url]);
    const again = await send(['together', 'fine_tune.completed', '--id', 'evt_send_once', '--url', runtime.url]);

    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^200 \{"status":"accepted","key":"together#evt_send_once"/);
    expect(again.stdout).toMatch(/^200 \{"status":"duplicate","key":"together#evt_send_once"/);
  });

  it('[SEND] --tamper gets 401, --body-bytes over the cap 413, --body that is not JSON 400: each exits 1', async () => {
    const results = await Promise.all([
      send(['together', 'fine_tune.completed', '--tamper', '--url', runtime.url]),
      send(['together', 'fine_tune.completed', '--body-bytes', '307200', '--url', runtime.url]),
      send(['together', 'fine_tune.completed', '--body', 'not json', '--url', runtime.url]),
    ]);

    expect(results.map(({ code, stdout }) => [code, stdout.slice(0, 4)])).toEqual([
      [1, '401 '],
      [1, '413 '],
      [1, '400 '],
    ]);
  });

  it('[SEND] refuses the single-delivery options with a burst, and sends nothing', async () => {
    const before = await queued('fine_tune.completed');

    const { code, stderr } = await send(['together', 'fine_tune.completed', '--count', '3', '--id', 'evt_x', '--url', runtime.url]);

    expect(code).toBe(2);
    expect(stderr).toContain('--id is for a single delivery; leave out --count (or set it to 1)');
    expect(await queued('fine_tune.completed')).toBe(before);
  });
});

describe('npm run send', () => {
  const BIN = fileURLToPath(new URL('../../cli/webhooks.js', import.meta.url));
  /** Runs `npm run send -- …` as the script does: `webhooks send`. */
  async function npmRunSend(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, 'send', ...argv], { timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  it('against a receiver that is not running says connection refused, the URL tried and to run npm start', async () => {
    const port = await closedPort();

    const { code, stderr } = await npmRunSend('together', 'fine_tune.completed', '--url', `http://127.0.0.1:${port}`);

    expect(code).toBe(1);
    expect(stderr).toBe(`error: could not reach the receiver at http://127.0.0.1:${port}/webhooks/together (connection refused): is \`npm start\` running? (it listens on http://127.0.0.1:$PORT, default 3000; else pass --url)\n`);
  });

  it('takes the documented --timestamp-offset -400 and sends a stale delivery, which gets 401', async () => {
    const { code, stdout, stderr } = await npmRunSend('together', 'fine_tune.completed', '--timestamp-offset', '-400', '--url', runtime.url);

    expect({ code, stderr }).toEqual({ code: 1, stderr: '' });
    expect(stdout).toMatch(/^401 /);
  });

  it('npm run send -- openai fine_tune.completed sends the OpenAI sample that route names, accepted', async () => {
    const { code, stdout, stderr } = await npmRunSend('openai', 'fine_tune.completed', '--url', runtime.url);

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^200 .*"status":"accepted".*"key":"openai#/);
  });

  it('[P-REP] npm run send -- replicate training.processing sends a Replicate training logs webhook, accepted under its webhook-id', async () => {
    const { code, stdout, stderr } = await npmRunSend('replicate', 'training.processing', '--id', 'msg_send_replicate', '--url', runtime.url);

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^200 .*"status":"accepted".*"key":"replicate#msg_send_replicate"/);
  });

  it('exits 2 on usage errors: an unknown option, an unknown provider, a missing argument', async () => {
    const results = await Promise.all([
      npmRunSend('together', 'fine_tune.completed', '--nope'),
      npmRunSend('fireworks', 'fine_tune.completed'),
      npmRunSend('together'),
      npmRunSend('together', 'fine_tune.completed', '--timestamp-offset', 'soon'),
    ]);

    expect(results.map((result) => result.code)).toEqual([2, 2, 2, 2]);
  });
});
