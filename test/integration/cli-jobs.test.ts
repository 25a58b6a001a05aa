import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../cli/program';
import { localTarget } from '../../ops/target';
import { SCHEMA_VERSION, type NormalizedEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import { PROVIDERS } from '../../functions/core/providers';
import { cliEnvOf, startEmulated, type Emulated } from '../support/emulated';
import { consumerOn, sqsEvent, sqsRecord } from '../support/consumers';
import { captureOutput } from '../unit/cli-support';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** "Now" of the scenario: the consumers' clock when they handle each event, and the CLI's. */
const NOW = Date.parse('2026-11-25T10:30:00.000Z');

let env: Emulated;
let cliEnv: Record<string, string>;

beforeAll(async () => {
  env = await startEmulated();
  cliEnv = cliEnvOf(env);
});
afterAll(async () => {
  await env?.stop();
});

/** Runs the CLI in-process against the emulators, as the operator would, at the scenario's time. */
async function cli(...argv: string[]) {
  const captured = captureOutput();
  const code = await run(argv, { output: captured.output, env: cliEnv, clock: () => NOW });
  return { code, stdout: captured.stdout, stderr: captured.stderr };
}

function event(provider: NormalizedEvent['provider'], type: Route, providerType: string, subject: string, id: string, occurredAt: string, providerData: unknown): NormalizedEvent {
  // The provider's own data, mapped into the route's canonical data as the receiver maps it.
  const data = PROVIDERS[provider].canonicalData(type, providerData);
  return { id, provider, type, providerType, subject, occurredAt, receivedAt: occurredAt, schemaVersion: SCHEMA_VERSION, data, providerData } as NormalizedEvent;
}

/** Hands events to their route's consumer, as the queue would, with the consumer's clock at `atMs`. */
async function consume(events: readonly NormalizedEvent[], atMs = NOW) {
  for (const next of events) {
    const response = await consumerOn(env, next.type, { clock: () => atMs })(sqsEvent(sqsRecord(next)));
    expect(response.batchItemFailures).toEqual([]);
  }
}

/** A Together fine-tune seen by the poller: started, twelve checkpoints with their paths, completed. */
function fineTune(subject: string): NormalizedEvent[] {
  const at = (minutes: number) => new Date(Date.parse('2026-11-25T08:00:00.000Z') + minutes * 60_000).toISOString();
  const losses = [2.31, 1.72, 1.38, 1.14, 0.97, 0.85, 0.76, 0.69, 0.63, 0.58, 0.55, 0.53];
  return [
    event('together', 'fine_tune.started', 'fine_tune.started', subject, `poll:ft:${subject}:started`, at(0), { fine_tune_id: subject, status: 'running' }),
    ...losses.map((loss, index) => {
      const step = (index + 1) * 100;
      return event('together', 'fine_tune.checkpoint', 'fine_tune.checkpoint', subject, `poll:ft:${subject}:checkpoint:step-${step}`, at(5 + index * 5), {
        fine_tune_id: subject,
        step,
        loss,
        checkpoint_path: `s3://together-ft/${subject}/checkpoint-${step}`,
      });
    }),
    event('together', 'fine_tune.completed', 'fine_tune.completed', subject, `poll:ft:${subject}:completed`, at(70), {
      fine_tune_id: subject,
      status: 'completed',
      model_name: 'acme/llama-3-8b-support-v3',
    }),
  ];
}

describe('webhooks jobs show', () => {
  it('lists the events of a job in order, its checkpoint history and a chart of its loss, after the consumers ran', async () => {
    const events = fineTune('ft-show-1');
    // Out of order and with a repeat, as SQS may deliver them.
    await consume([...events].reverse());
    await consume(events.slice(3, 5));

    const { code, stdout } = await cli('jobs', 'show', 'together#ft-show-1');

    expect(code).toBe(0);
    expect(stdout).toMatch(/state:\s+completed since 2026-11-25T09:10:00.000Z/);
    expect(stdout).toMatch(/step:\s+1200 \(loss 0.53\)/);
    expect(stdout).toMatch(/model:\s+acme\/llama-3-8b-support-v3/);
    const eventLines = stdout.split('\n').filter((line) => line.includes('together#poll:ft:ft-show-1'));
    expect(eventLines).toHaveLength(14);
    expect(eventLines[0]).toContain('fine_tune.started');
    expect(eventLines.at(-1)).toContain('fine_tune.completed');
    expect(stdout).toMatch(/checkpoints \(12; the highest 500 steps are kept\)/);
    expect(stdout).toContain('s3://together-ft/ft-show-1/checkpoint-1200');
    expect(stdout).toMatch(/loss over steps 100 to 1200:\n2.31 ┤█/);
  });

  it('gives the same history as plain data with --json, ready for a deploy step', async () => {
    await consume(fineTune('ft-show-2'));

    const { code, stdout } = await cli('jobs', 'show', 'together#ft-show-2', '--json');

    const job = JSON.parse(stdout) as { model: string; checkpointPaths: string[]; checkpoints: { step: number; loss: number }[]; events: { type: string }[] };
    expect(code).toBe(0);
    expect(job.model).toBe('acme/llama-3-8b-support-v3');
    expect(job.checkpointPaths.at(-1)).toBe('s3://together-ft/ft-show-2/checkpoint-1200');
    expect(job.checkpoints.map((checkpoint) => checkpoint.step)).toEqual(Array.from({ length: 12 }, (_, index) => (index + 1) * 100));
    expect(job.events.map((entry) => entry.type)).toEqual(['fine_tune.started', ...Array<string>(12).fill('fine_tune.checkpoint'), 'fine_tune.completed']);
  });

  it('escapes control characters a sender put in a field', async () => {
    await consume([
      event('llmtune', 'fine_tune.failed', 'training.failed', 'job-esc', 'evt-esc', '2026-11-25T09:00:00.000Z', { jobId: 'job-esc', error: 'bad\u001b[2Jrow' }),
    ]);

    const { stdout } = await cli('jobs', 'show', 'llmtune#job-esc');

    expect(stdout).toContain('bad\\x1b[2Jrow');
    expect(stdout).not.toContain('\u001b');
  });

  it('exits 1 for a job the projection does not know, and 2 for a key that is not one', async () => {
    const missing = await cli('jobs', 'show', 'together#ft-nothing');
    const malformed = await cli('jobs', 'show', 'ft-no-provider');

    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no job together#ft-nothing');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('<provider>#<job or batch id>');
  });
});

describe('webhooks jobs list', () => {
  it('lists jobs updated in the window, most recent first, filtered by kind and state', async () => {
    await consume([event('together', 'batch.completed', 'batch.done', 'batch-list-1', 'evt-b1', '2026-11-25T07:00:00.000Z', { batch_id: 'batch-list-1', output_url: 'https://api/files/out-1' })], NOW - 2 * HOUR_MS);
    await consume([event('mythicdot', 'batch.failed', 'batch.failed', 'batch_list_2', 'evt-b2', '2026-11-25T08:00:00.000Z', { object: { id: 'batch_list_2', error: { message: 'input has 3 invalid lines' } } })], NOW - HOUR_MS);
    await consume([event('together', 'batch.completed', 'batch.done', 'batch-list-old', 'evt-b3', '2026-11-10T07:00:00.000Z', { batch_id: 'batch-list-old' })], NOW - 15 * DAY_MS);

    const batches = JSON.parse((await cli('jobs', 'list', '--kind', 'batch', '--json')).stdout) as { pk: string }[];
    const failed = JSON.parse((await cli('jobs', 'list', '--state', 'failed', '--json')).stdout) as { pk: string; error: string }[];
    const longer = JSON.parse((await cli('jobs', 'list', '--kind', 'batch', '--since', '30d', '--json')).stdout) as { pk: string }[];

    expect(batches.map((job) => job.pk)).toEqual(['mythicdot#batch_list_2', 'together#batch-list-1']);
    expect(failed.find((job) => job.pk === 'mythicdot#batch_list_2')?.error).toBe('input has 3 invalid lines');
    expect(failed.every((job) => !job.pk.startsWith('together#batch'))).toBe(true);
    expect(longer.map((job) => job.pk)).toContain('together#batch-list-old');
  });

  it('queries the day index and reads the current items by key, never scanning the table', async () => {
    await consume(fineTune('ft-list-scan').slice(0, 2));
    const captured = captureOutput();
    const target = localTarget(cliEnv);
    const send = vi.spyOn(target.documents, 'send');

    const code = await run(['jobs', 'list', '--since', '3d'], { output: captured.output, env: cliEnv, clock: () => NOW, connect: async () => target });

    const commands = send.mock.calls.map(([command]) => command as { constructor: { name: string }; input: { IndexName?: string } });
    expect(code).toBe(0);
    expect(commands.filter((command) => command.constructor.name === 'QueryCommand').map((command) => command.input.IndexName)).toEqual([
      'byActiveDay',
      'byActiveDay',
      'byActiveDay',
      'byActiveDay',
    ]);
    expect(new Set(commands.map((command) => command.constructor.name))).toEqual(new Set(['QueryCommand', 'BatchGetCommand']));
  });
});

describe('the README capture of jobs list and jobs show', () => {
  it('is what the CLI prints for the scenario it describes', async () => {
    // A fresh table: the capture lists only the scenario's jobs.
    const own = await startEmulated();
    try {
      const ownEnv = { DYNAMODB_PORT: new URL(own.emulators.dynamodbEndpoint).port, SQS_PORT: new URL(own.emulators.sqsEndpoint).port };
      const handle = async (events: readonly NormalizedEvent[], atMs: number) => {
        for (const next of events) await consumerOn(own, next.type, { clock: () => atMs })(sqsEvent(sqsRecord(next)));
      };
      const job = fineTune('ft-7c1e2a');
      await handle(job.slice(0, -1), Date.parse('2026-11-25T09:05:10.000Z'));
      await handle(job.slice(-1), Date.parse('2026-11-25T09:10:04.000Z'));
      await handle(
        [event('together', 'batch.completed', 'batch.done', 'batch-41f9', 'evt_b41f9', '2026-11-25T09:58:00.000Z', { batch_id: 'batch-41f9', output_url: 'https://api.together.xyz/v1/files/file-out-41f9' })],
        Date.parse('2026-11-25T09:58:02.000Z'),
      );
      await handle(
        [event('mythicdot', 'batch.failed', 'batch.failed', 'batch_9a2', 'evt_9a2', '2026-11-25T10:12:00.000Z', { object: { id: 'batch_9a2', status: 'failed', errors: [{ code: 'invalid_jsonl', line: 17 }] } })],
        Date.parse('2026-11-25T10:12:01.000Z'),
      );
      const capture = async (argv: string[]) => {
        const captured = captureOutput();
        await run(argv, { output: captured.output, env: ownEnv, clock: () => NOW });
        return `$ npx webhooks ${argv.map((arg) => (arg.includes('#') ? `'${arg}'` : arg)).join(' ')}\n${captured.stdout}`;
      };

      const printed = (await capture(['jobs', 'list'])) + (await capture(['jobs', 'show', 'together#ft-7c1e2a']));

      expect(printed).toBe(readmeCapture('jobs'));
    } finally {
      await own.stop();
    }
  });
});

/** The code block that follows `<!-- capture: NAME -->` in the README. */
function readmeCapture(name: string): string {
  const readme = readFileSync(fileURLToPath(new URL('../../docs/operations.md', import.meta.url)), 'utf8');
  const marker = `<!-- capture: ${name} (test/integration/cli-jobs.test.ts renders it) -->\n\`\`\`\n`;
  const start = readme.indexOf(marker);
  if (start < 0) throw new Error(`docs/operations.md has no capture block "${name}"`);
  const body = readme.slice(start + marker.length);
  return body.slice(0, body.indexOf('```\n'));
}
