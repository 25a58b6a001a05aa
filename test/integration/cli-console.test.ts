import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWebhooks } from '../../local/webhooks';
import { targetFromOutputs, type Target } from '../../ops/target';
import { ROUTES } from '../../functions/core/routes';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import { failedEvent, makeEvent, recordOf, sessionHeaders } from '../support/browser';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { Logger } from '@aws-lambda-powertools/logger';
import { captureOutput } from '../unit/cli-support';

const STACK = 'WebhookReceiver';
let runtime: LocalRuntime;
let stack: Target;

beforeAll(async () => {
  runtime = await startLocalRuntime({ env: {}, port: 0, dynamodbPort: 0, sqsPort: 0, consumers: false, logger: new Logger({ logLevel: 'SILENT' }) });
  // The stack's outputs, naming the emulators' tables and queues: what `--stack` reads from CloudFormation.
  const outputs: Record<string, string> = {
    [STACK_OUTPUTS.eventsTableName]: runtime.resources.eventsTable,
    [STACK_OUTPUTS.jobsTableName]: runtime.resources.jobsTable,
    [STACK_OUTPUTS.webhookUrl('together')]: `${runtime.url}/webhooks/together`,
  };
  for (const route of ROUTES) {
    const queues = runtime.resources.queues[route];
    outputs[STACK_OUTPUTS.queueUrl(route)] = queues.url;
    outputs[STACK_OUTPUTS.queueArn(route)] = `arn:aws:sqs:eu-west-1:123456789012:${route}`;
    outputs[STACK_OUTPUTS.deadLetterQueueUrl(route)] = queues.deadLetterUrl;
    outputs[STACK_OUTPUTS.deadLetterQueueArn(route)] = `arn:aws:sqs:eu-west-1:123456789012:${route}-dlq`;
  }
  const parsed = targetFromOutputs(STACK, outputs);
  stack = { ...parsed, documents: runtime.clients.documents, sqs: runtime.clients.sqs, queues: async () => parsed.queueRefs };
});

afterAll(async () => {
  await runtime?.stop();
});

describe('webhooks console', () => {
  it('--stack serves the console on 127.0.0.1 against the stack: lists its events and replays one from the page', async () => {
    const key = await failedEvent(runtime, makeEvent());
    const connected: (string | undefined)[] = [];
    const captured = captureOutput();
    let seen: { host?: string; listed?: string[]; replay?: string; outcome?: string; info?: { target: string; providers: { name: string }[] } } = {};

    const code = await runWebhooks(['console', '--stack', STACK, '--port', '0'], {
      output: captured.output,
      env: {},
      connect: async (name) => (connected.push(name), stack),
      serveConsole: async (loginUrl, close) => {
        const url = new URL('/', loginUrl).href;
        const headers = await sessionHeaders(loginUrl);
        const events = (await (await fetch(`${url}api/events?status=failed&limit=100`, { headers })).json()) as { events: { pk: string }[] };
        const detail = (await (await fetch(`${url}api/event?key=${encodeURIComponent(key)}`, { headers })).json()) as { commands: { replay: string } };
        const replay = await fetch(`${url}api/replay`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', origin: url.slice(0, -1) },
          body: JSON.stringify({ keys: [key] }),
        });
        const info = (await (await fetch(`${url}api/info`, { headers })).json()) as typeof seen.info;
        seen = {
          host: new URL(url).hostname,
          listed: events.events.map((event) => event.pk),
          replay: detail.commands.replay,
          outcome: ((await replay.json()) as { outcomes: { result: string }[] }).outcomes[0]?.result,
          ...(info === undefined ? {} : { info }),
        };
        await close();
      },
    });

    expect(code).toBe(0);
    expect(connected).toEqual([STACK]);
    expect(captured.stdout).toMatch(new RegExp(`^web console for stack ${STACK}: http://127\\.0\\.0\\.1:\\d+/login\\?secret=[0-9a-f]{64} `));
    expect(seen.host).toBe('127.0.0.1');
    expect(seen.listed).toContain(key);
    expect(seen.replay).toBe(`npx webhooks replay '${key}' --stack '${STACK}'`);
    expect(seen.outcome).toBe('replayed');
    expect(seen.info?.target).toBe(`stack ${STACK}`);
    expect(seen.info?.providers.map((provider) => provider.name)).toEqual(['together']);
    expect((await recordOf(runtime, key))?.status).toBe('queued');
  });

  it('[H3-10] --stack: another local user, without the printed login URL, can neither load the page nor replay', async () => {
    const key = await failedEvent(runtime, makeEvent());
    let answers: number[] = [];

    const code = await runWebhooks(['console', '--stack', STACK, '--port', '0'], {
      output: captureOutput().output,
      env: {},
      connect: async () => stack,
      serveConsole: async (loginUrl, close) => {
        // All another user can do: reach the port.
        const page = await fetch(new URL('/', loginUrl));
        const replay = await fetch(new URL('/api/replay', loginUrl), {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: new URL(loginUrl).origin },
          body: JSON.stringify({ keys: [key] }),
        });
        answers = [page.status, replay.status];
        await close();
      },
    });

    expect(code).toBe(0);
    expect(answers).toEqual([401, 401]);
    expect((await recordOf(runtime, key))?.status).toBe('failed');
  });

  it('without --stack works against the local runtime, found by DYNAMODB_PORT and SQS_PORT like the other commands', async () => {
    const key = await failedEvent(runtime, makeEvent());
    const env = { DYNAMODB_PORT: new URL(runtime.emulators.dynamodbEndpoint).port, SQS_PORT: new URL(runtime.emulators.sqsEndpoint).port };
    let listed: string[] = [];

    const code = await runWebhooks(['console', '--port', '0'], {
      output: captureOutput().output,
      env,
      serveConsole: async (loginUrl, close) => {
        const events = (await (await fetch(new URL('/api/events?limit=100', loginUrl), { headers: await sessionHeaders(loginUrl) })).json()) as { events: { pk: string }[] };
        listed = events.events.map((event) => event.pk);
        await close();
      },
    });

    expect(code).toBe(0);
    expect(listed).toContain(key);
  });

  it('a --port that is not a port number is a usage error', async () => {
    const captured = captureOutput();

    const code = await runWebhooks(['console', '--port', 'http'], { output: captured.output, env: {}, connect: async () => stack });

    expect(code).toBe(2);
    expect(captured.stderr).toContain('--port');
  });
});
