import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import type { JobDetail } from '../../ops/jobs';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { curve, modelNameOf } from '../../ops/simulate-bodies';
import { fakeLoss } from '../../local/fake-openai';
import { captureOutput } from '../unit/cli-support';

/**
 * `webhooks simulate fine-tune` against the local runtime, consumers on: each provider's job, as
 * it reports it, ends in the jobs table with its model name and the loss curve from its own metrics.
 */

let runtime: LocalRuntime;
let cliEnv: Record<string, string>;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    env: {},
    port: 0,
    dynamodbPort: 0,
    sqsPort: 0,
    fakeProviders: { port: 0 },
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
  const listeners = runtime.listeners();
  cliEnv = {
    PORT: String(listeners.http.port),
    DYNAMODB_PORT: String(listeners.dynamodb.port),
    SQS_PORT: String(listeners.sqs.port),
    FAKE_PROVIDERS_PORT: new URL(runtime.fakeProviders?.url ?? 'http://x:1').port,
  };
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
});

async function depth(queueUrl: string): Promise<number> {
  const { Attributes } = await runtime.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible);
}

async function simulate(...argv: string[]) {
  const captured = captureOutput();
  const code = await run(['simulate', 'fine-tune', ...argv, '--json'], { output: captured.output, env: cliEnv });
  return { code, result: JSON.parse(captured.stdout || '{}') as { key: string; reached: boolean; job?: JobDetail }, stderr: captured.stderr };
}

describe('[SIM] webhooks simulate fine-tune', () => {
  it('openai: its thin webhook is completed from the fake API: the model name and the loss curve of its metrics', async () => {
    const { code, result, stderr } = await simulate('--provider', 'openai', '--steps', '8');

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const jobId = result.key.slice('openai#'.length);
    expect(result.job).toMatchObject({ state: 'completed', model: `ft:gpt-4o-mini-2024-07-18:acme::${jobId.replace(/^ftjob-/, '')}` });
    expect(result.job?.checkpoints.map(({ step, loss }) => [step, loss])).toEqual(Array.from({ length: 8 }, (_, index) => [index + 1, fakeLoss(index + 1)]));
  });

  it.each(['failed', 'cancelled'] as const)('openai: a %s job ends so, with its curve; only a failure alerts', async (outcome) => {
    const before = await depth(runtime.resources.alertsQueueUrl);

    const { code, result } = await simulate('--provider', 'openai', '--steps', '4', '--outcome', outcome);

    expect(code).toBe(0);
    expect(result.job?.state).toBe(outcome);
    expect(result.job?.checkpoints.length).toBeGreaterThanOrEqual(3);
    expect(await depth(runtime.resources.alertsQueueUrl)).toBe(before + (outcome === 'failed' ? 1 : 0));
  });

  it.each(['together', 'replicate', 'llmtune', 'mythicdot'] as const)('%s: completes with its model name and a loss curve of every point it reported', async (provider) => {
    const { code, result, stderr } = await simulate('--provider', provider, '--steps', '6');

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const jobId = result.key.slice(provider.length + 1);
    const expected = curve({ jobId, steps: 6, outcome: 'completed', startSeconds: 0 }).map(({ step, loss }) => [step, loss]);
    expect(result.job).toMatchObject({ state: 'completed', model: modelNameOf(provider, jobId) });
    expect(result.job?.checkpoints.map(({ step, loss }) => [step, loss])).toEqual(expected);
  });

  it.each(['together', 'replicate', 'llmtune', 'mythicdot'] as const)('%s: a failed job ends failed, its curve kept', async (provider) => {
    const { code, result } = await simulate('--provider', provider, '--steps', '3', '--outcome', 'failed');

    expect(code).toBe(0);
    expect(result.job?.state).toBe('failed');
    expect(result.job?.checkpoints).toHaveLength(3);
  });

  it('llmtune: a cancel is sent as training.failed, which the contract routes to a failure, alerted', async () => {
    const alerts = runtime.resources.alertsQueueUrl;
    const before = await depth(alerts);

    const { code, result } = await simulate('--provider', 'llmtune', '--steps', '3', '--outcome', 'cancelled');

    expect(code).toBe(0);
    expect(result.job?.state).toBe('failed');
    expect(await depth(alerts)).toBe(before + 1);
  });

  it('replicate: a canceled training ends cancelled, its curve kept, with no failure alert', async () => {
    const before = await depth(runtime.resources.alertsQueueUrl);

    const { code, result } = await simulate('--provider', 'replicate', '--steps', '4', '--outcome', 'cancelled');

    expect(code).toBe(0);
    expect(result.job).toMatchObject({ state: 'cancelled' });
    expect(result.job?.checkpoints).toHaveLength(4);
    expect(await depth(runtime.resources.alertsQueueUrl)).toBe(before);
  });

  it('refuses a curve of fewer than 3 points, and an unknown provider, sending nothing', async () => {
    const few = await simulate('--provider', 'together', '--steps', '2');
    const unknown = await simulate('--provider', 'acme');

    expect([few.code, unknown.code]).toEqual([2, 2]);
  });
});
