import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import { listPublished, publishedFor, type PublishedEvent } from '../../ops/published';
import { buildDelivery, postDelivery } from '../../ops/deliveries';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { silentLogger } from '../support/consumers';
import { captureOutput } from '../unit/cli-support';

let runtime: LocalRuntime;
let cliEnv: Record<string, string>;
beforeAll(async () => {
  runtime = await startLocalRuntime({ env: {}, port: 0, dynamodbPort: 0, sqsPort: 0, logger: silentLogger(), visibilityTimeoutSeconds: 1 });
  cliEnv = { DYNAMODB_PORT: new URL(runtime.emulators.dynamodbEndpoint).port, SQS_PORT: new URL(runtime.emulators.sqsEndpoint).port };
});
afterAll(async () => {
  await runtime?.stop();
});

const bus = () => ({ documents: runtime.clients.documents, tableName: runtime.resources.busTable });

async function cli(...argv: string[]) {
  const captured = captureOutput();
  const code = await run(argv, { output: captured.output, env: cliEnv });
  return { code, stdout: captured.stdout, stderr: captured.stderr };
}

/** Sends a signed delivery and waits until the stand-in bus holds its entry. */
async function deliveredAndPublished(): Promise<{ key: string; published: PublishedEvent }> {
  const delivery = buildDelivery({ provider: 'together', type: 'fine_tune.completed', id: `evt_${randomUUID()}` });
  const response = await postDelivery(runtime.url, delivery);
  expect(response.status).toBe(200);
  const key = `together#${delivery.id}`;
  const deadline = Date.now() + 25_000;
  for (;;) {
    const published = await publishedFor(bus(), key);
    if (published !== undefined) return { key, published };
    if (Date.now() > deadline) throw new Error(`nothing published for ${key}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the stand-in event bus of npm start', () => {
  it('records the entry a handled event would put on EventBridge', async () => {
    const { key, published } = await deliveredAndPublished();

    expect(published).toMatchObject({ key, times: 1, entry: { Source: 'ai-webhooks.together', DetailType: 'fine_tune.completed' } });
    expect(JSON.parse(published.entry.Detail)).toMatchObject({ id: key.slice('together#'.length), provider: 'together', type: 'fine_tune.completed' });
    expect((await listPublished(bus())).map((event) => event.key)).toContain(key);
  });

  it('is shown by webhooks events show: the entry, and its detail with --payload', async () => {
    const { key } = await deliveredAndPublished();

    const plain = await cli('events', 'show', key);
    const withPayload = await cli('events', 'show', key, '--payload');
    const json = JSON.parse((await cli('events', 'show', key, '--json')).stdout) as { published: Record<string, unknown> };

    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/event bus:\s+ai-webhooks\.together \/ fine_tune\.completed at \S+, \d+ bytes \(local stand-in for EventBridge\)/);
    expect(plain.stdout).not.toContain('published detail');
    expect(withPayload.stdout).toContain('published detail:');
    expect(withPayload.stdout).toContain(`"id": "${key.slice('together#'.length)}"`);
    expect(json.published).toMatchObject({ source: 'ai-webhooks.together', detailType: 'fine_tune.completed', times: 1, truncated: false });
    expect(json.published).not.toHaveProperty('detail');
  });
});
