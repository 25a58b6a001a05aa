import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import { acceptEvent } from '../../functions/core/accept';
import { SCHEMA_VERSION, type NormalizedEvent } from '../../functions/core/event';
import { startEmulators, type Emulators } from '../../local/emulators';
import { createLocalResources, queueUrlMap, type LocalResources } from '../../local/resources';
import { localClients, type LocalClients } from '../../local/runtime';
import { getEvent, listEvents } from '../../ops/events';
import { localTarget, type Target } from '../../ops/target';
import { captureOutput } from '../unit/cli-support';

const root = fileURLToPath(new URL('../..', import.meta.url));
const execFileAsync = promisify(execFile);

let emulators: Emulators;
let clients: LocalClients;
let resources: LocalResources;
let env: Record<string, string>;
let scratch: string;
const seeded: string[] = [];

function makeEvent(subject: string, receivedAt: string, type: 'fine_tune.completed' | 'fine_tune.failed'): NormalizedEvent {
  return {
    id: `evt_${randomUUID()}`,
    provider: 'together',
    type,
    providerType: type,
    subject,
    occurredAt: receivedAt,
    receivedAt,
    schemaVersion: SCHEMA_VERSION,
    data: {},
    providerData: { fine_tune_id: subject },
  } as NormalizedEvent;
}

beforeAll(async () => {
  emulators = await startEmulators({ dynamodbPort: 0, sqsPort: 0 });
  clients = localClients(emulators);
  resources = await createLocalResources(clients);
  env = { DYNAMODB_PORT: new URL(emulators.dynamodbEndpoint).port, SQS_PORT: new URL(emulators.sqsEndpoint).port };
  scratch = mkdtempSync(join(tmpdir(), 'cli-start-'));
  const now = Date.now();
  // Three records over two days, each through the one write path (a conditional put, then its queue).
  for (const [ageMs, type] of [
    [60_000, 'fine_tune.completed'],
    [120_000, 'fine_tune.failed'],
    [86_400_000 + 60_000, 'fine_tune.completed'],
  ] as const) {
    const event = makeEvent(`ft-start-${randomUUID()}`, new Date(now - ageMs).toISOString(), type);
    const deps = { documents: clients.documents, sqs: clients.sqs, tableName: resources.eventsTable, queueUrls: queueUrlMap(resources), leaseSeconds: 30, retentionSeconds: 86_400 };
    seeded.push((await acceptEvent(deps, event)).key);
  }
});

afterAll(async () => {
  await emulators?.stop();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

/** `events list` run in-process against `target`. */
async function listed(target: Target, ...argv: string[]) {
  const captured = captureOutput();
  const code = await run(['events', 'list', '--since', '3d', ...argv], { output: captured.output, env, connect: async () => target });
  return { code, stdout: captured.stdout, stderr: captured.stderr };
}

describe('webhooks events list on the light reads of the local target', () => {
  it('[CLI-START] prints the same table and JSON as through the SDK’s document client, for seeded records', async () => {
    const light = localTarget(env);
    const sdk: Target = { ...light, documents: clients.documents };

    const [lightText, sdkText] = [await listed(light), await listed(sdk)];
    const [lightJson, sdkJson] = [await listed(light, '--json'), await listed(sdk, '--json')];

    expect(lightText.code).toBe(0);
    expect(lightText.stdout).toBe(sdkText.stdout);
    expect(lightJson.stdout).toBe(sdkJson.stdout);
    const rows = JSON.parse(lightJson.stdout) as { pk: string; providerType: string }[];
    expect(rows.map((row) => row.pk)).toEqual(seeded);
    expect(rows.map((row) => row.providerType)).toEqual(['fine_tune.completed', 'fine_tune.failed', 'fine_tune.completed']);
  });

  it('[CLI-START] reads a whole record, its binary payload as bytes, as the SDK’s document client reads it', async () => {
    const light = { documents: localTarget(env).documents, tableName: resources.eventsTable };
    const sdk = { documents: clients.documents, tableName: resources.eventsTable };

    const [viaLight, viaSdk] = [await getEvent(light, seeded[0] ?? ''), await getEvent(sdk, seeded[0] ?? '')];

    expect(viaSdk).toBeDefined();
    expect(viaLight).toEqual(viaSdk);
    expect(Object.values(viaLight ?? {}).some((value) => value instanceof Uint8Array)).toBe(true);
  });

  it('[CLI-START] pages through a day with more records than one page, newest first', async () => {
    const target = localTarget(env);
    const subject = `ft-page-${randomUUID()}`;
    const base = Date.now() - 10 * 60_000;
    const keys: string[] = [];
    for (let index = 0; index < 105; index += 1) {
      const deps = { documents: clients.documents, sqs: clients.sqs, tableName: resources.eventsTable, queueUrls: queueUrlMap(resources), leaseSeconds: 30, retentionSeconds: 86_400 };
      keys.push((await acceptEvent(deps, makeEvent(subject, new Date(base + index).toISOString(), 'fine_tune.completed'))).key);
    }

    const events = await listEvents({ documents: target.documents, tableName: resources.eventsTable }, { sinceMs: base - 1, nowMs: Date.now() }, { subject }, 1_000);

    expect(events.map((event) => event.pk)).toEqual(keys.reverse());
  });

  it('[CLI-START] a table that is not there is named in the error, as the SDK’s ResourceNotFoundException was', async () => {
    const target = localTarget(env);

    const failure = await listEvents({ documents: target.documents, tableName: 'NoSuchTable', where: target.description }, { sinceMs: Date.now() - 60_000, nowMs: Date.now() }, {}, 10).catch(
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/^table NoSuchTable does not exist at local runtime \(DynamoDB http:\/\/127\.0\.0\.1:\d+/);
  });

  /** Runs the `webhooks` command from its sources in a process of its own; returns its output and the SDK packages it loaded. */
  async function ownProcess(...argv: string[]) {
    const loadedFile = join(scratch, `loaded-${randomUUID()}.json`);
    const preload = join(scratch, 'loaded.cjs');
    // Written at exit: every CommonJS module the process loaded (the AWS SDK's packages are CommonJS in Node).
    writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(process.env.LOADED_FILE, JSON.stringify(Object.keys(require('node:module')._cache))));\n`);
    const { stdout } = await execFileAsync(process.execPath, ['--require', preload, join(root, 'cli', 'webhooks.js'), ...argv], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env, LOADED_FILE: loadedFile, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    const loaded = JSON.parse(readFileSync(loadedFile, 'utf8')) as string[];
    return { stdout, loaded, sdkClients: loaded.filter((path) => /\/@aws-sdk\/(client-dynamodb|lib-dynamodb)\//.test(path)) };
  }

  it('[CLI-START] `webhooks events list` against the local runtime loads no SDK DynamoDB client, and prints the seeded records', async () => {
    const { stdout, loaded, sdkClients } = await ownProcess('events', 'list', '--since', '3d', '--limit', '1000');

    for (const key of seeded) expect(stdout).toContain(key);
    // The light reads' own SDK package is seen: what is not there was not loaded.
    expect(loaded.some((path) => path.includes('/@aws-sdk/util-dynamodb/'))).toBe(true);
    expect(sdkClients).toEqual([]);
  });

  it('[CLI-START] `webhooks --help` loads no progress bar, and `events list` piped loads none either', async () => {
    const help = await ownProcess('--help');
    const list = await ownProcess('events', 'list', '--since', '3d', '--limit', '1000');

    expect(help.stdout).toContain('Usage: webhooks [options] [command]');
    for (const key of seeded) expect(list.stdout).toContain(key);
    // commander, a CommonJS package, is seen: what is not there was not loaded.
    expect(help.loaded.some((path) => path.includes('/commander/'))).toBe(true);
    expect([...help.loaded, ...list.loaded].filter((path) => path.includes('/cli-progress/'))).toEqual([]);
  });

  it('[CLI-START] `webhooks events show` without --payload and `webhooks jobs list` load no SDK DynamoDB client either', async () => {
    const shown = await ownProcess('events', 'show', seeded[0] ?? '');
    const jobs = await ownProcess('jobs', 'list');

    expect(shown.stdout).toContain(`key:           ${seeded[0]}`);
    expect(shown.sdkClients).toEqual([]);
    expect(jobs.sdkClients).toEqual([]);
  });
});
