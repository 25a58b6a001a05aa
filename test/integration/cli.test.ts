import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../cli/program';
import { acceptEvent } from '../../functions/core/accept';
import { SCHEMA_VERSION, type NormalizedEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import type { EventRecord } from '../../functions/core/table';
import { withRecordEvent } from '../../ops/events';
import { claimEvent, markFailed } from '../../functions/consumers/ledger';
import { startEmulators, type Emulators } from '../../local/emulators';
import { createLocalResources, createPollerTable, queueUrlMap, type LocalResources } from '../../local/resources';
import { LOCAL_NAMES } from '../../ops/local-names';
import { createPollerStateStore, stateKey } from '../../functions/poller/state';
import { localClients, type LocalClients } from '../../local/runtime';
import { localTarget } from '../../ops/target';
import { captureOutput } from '../unit/cli-support';

const DAY_MS = 86_400_000;

let emulators: Emulators;
let clients: LocalClients;
let resources: LocalResources;
let env: Record<string, string>;

beforeAll(async () => {
  emulators = await startEmulators({ dynamodbPort: 0, sqsPort: 0 });
  clients = localClients(emulators);
  resources = await createLocalResources(clients);
  // The CLI's own local target, pointed at these emulators the way an operator would.
  env = { DYNAMODB_PORT: new URL(emulators.dynamodbEndpoint).port, SQS_PORT: new URL(emulators.sqsEndpoint).port };
});

afterAll(async () => {
  await emulators?.stop();
});

/** Runs the CLI in-process against the emulators. */
async function cli(...argv: string[]) {
  const captured = captureOutput();
  const code = await run(argv, { output: captured.output, env });
  return { code, stdout: captured.stdout, stderr: captured.stderr };
}

function makeEvent(overrides: Partial<NormalizedEvent> = {}): NormalizedEvent {
  const receivedAt = overrides.receivedAt ?? new Date().toISOString();
  // Tests give `data` only together with a `type` whose fields it holds.
  return {
    id: `evt_${randomUUID()}`,
    provider: 'together',
    type: 'fine_tune.failed',
    providerType: 'fine_tune.failed',
    subject: 'ft-cli',
    occurredAt: receivedAt,
    receivedAt,
    schemaVersion: SCHEMA_VERSION,
    data: overrides.type === undefined ? { jobId: 'ft-cli', errorMessage: 'out of memory' } : {},
    providerData: { fine_tune_id: 'ft-cli', error_message: 'out of memory' },
    ...overrides,
  } as NormalizedEvent;
}

/** Accepts an event through the one write path: the record is `queued` and the message is on its queue. */
async function accepted(overrides: Partial<NormalizedEvent> = {}): Promise<string> {
  const event = makeEvent(overrides);
  const result = await acceptEvent(
    {
      documents: clients.documents,
      sqs: clients.sqs,
      tableName: resources.eventsTable,
      queueUrls: queueUrlMap(resources),
      leaseSeconds: 30,
      retentionSeconds: 7 * 86_400,
    },
    event,
  );
  await drain(event.type);
  return result.key;
}

const ledger = (clock: () => number = Date.now, leaseSeconds = 60) => ({
  documents: clients.documents,
  tableName: resources.eventsTable,
  leaseSeconds,
  retentionSeconds: 7 * 86_400,
  clock,
});

/** An event its consumer failed on: `failed` with `lastError`, as the consumers leave it. */
async function failed(overrides: Partial<NormalizedEvent> = {}): Promise<string> {
  const event = makeEvent(overrides);
  await accepted({ ...event });
  const claim = await claimEvent(ledger(), event);
  if (claim.status !== 'claimed') throw new Error('expected a claim');
  await markFailed(ledger(), claim.lease, new Error('jobs table unavailable'));
  return claim.lease.key;
}

async function record(key: string): Promise<EventRecord> {
  const { Item } = await (clients.documents as DynamoDBDocumentClient).send(
    new GetCommand({ TableName: resources.eventsTable, Key: { pk: key }, ConsistentRead: true }),
  );
  return Item as EventRecord;
}

async function drain(route: Route, deadLetters = false) {
  const queueUrl = deadLetters ? resources.queues[route].deadLetterUrl : resources.queues[route].url;
  const all = [];
  for (;;) {
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }),
    );
    if (Messages.length === 0) return all;
    all.push(...Messages);
    await clients.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle as string })),
      }),
    );
  }
}

async function visibleCount(queueUrl: string): Promise<number> {
  const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(Attributes?.ApproximateNumberOfMessages);
}

/** Puts a message on a dead-letter queue as SQS's redrive policy would leave it there. */
async function deadLetter(route: Route, key: string, event: NormalizedEvent) {
  await clients.sqs.send(
    new SendMessageCommand({
      QueueUrl: resources.queues[route].deadLetterUrl,
      MessageBody: JSON.stringify(event),
      MessageAttributes: {
        eventId: { DataType: 'String', StringValue: event.id },
        provider: { DataType: 'String', StringValue: event.provider },
        type: { DataType: 'String', StringValue: event.type },
      },
    }),
  );
  return key;
}

describe('webhooks events list', () => {
  it('lists events of the window newest first, across days, and leaves out older ones', async () => {
    const now = Date.now();
    const subject = `ft-window-${randomUUID()}`;
    const today = await accepted({ subject, receivedAt: new Date(now - 60_000).toISOString() });
    const yesterday = await accepted({ subject, receivedAt: new Date(now - DAY_MS - 60_000).toISOString() });
    const lastWeek = await accepted({ subject, receivedAt: new Date(now - 7 * DAY_MS).toISOString() });

    const { code, stdout } = await cli('events', 'list', '--since', '3d', '--json', '--limit', '1000');

    const keys = (JSON.parse(stdout) as { pk: string; subject: string }[]).filter((event) => event.subject === subject).map((event) => event.pk);
    expect(code).toBe(0);
    expect(keys).toEqual([today, yesterday]);
    expect(keys).not.toContain(lastWeek);
  });

  it('queries the time index day by day, reads the current state by key, and never scans the table', async () => {
    await accepted();
    const captured = captureOutput();
    const target = localTarget(env);
    const send = vi.spyOn(target.documents, 'send');

    const code = await run(['events', 'list', '--since', '2d'], { output: captured.output, env, connect: async () => target });

    const commands = send.mock.calls.map(([command]) => command as { constructor: { name: string }; input: { IndexName?: string } });
    const queries = commands.filter((command) => command.constructor.name === 'QueryCommand');
    expect(code).toBe(0);
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.every((command) => command.input.IndexName === 'byReceivedDay')).toBe(true);
    const others = commands.map((command) => command.constructor.name).filter((name) => name !== 'QueryCommand');
    expect(others.length).toBeGreaterThan(0);
    expect(others.every((name) => name === 'BatchGetCommand')).toBe(true);
  });

  it('filters by status and provider and never prints payloads', async () => {
    const failedKey = await failed({
      data: { jobId: 'ft-cli', errorMessage: 'SECRET-PAYLOAD-MARKER' },
      providerData: { fine_tune_id: 'ft-cli', error_message: 'SECRET-PAYLOAD-MARKER' },
    });
    const queuedKey = await accepted();

    const { code, stdout } = await cli('events', 'list', '--status', 'failed', '--provider', 'together', '--limit', '1000');

    expect(code).toBe(0);
    expect(stdout).toContain(failedKey);
    expect(stdout).toContain('jobs table unavailable');
    expect(stdout).not.toContain(queuedKey);
    expect(stdout).not.toContain('SECRET-PAYLOAD-MARKER');
  });

  it('stops at --limit', async () => {
    await accepted();
    await accepted();

    const { stdout } = await cli('events', 'list', '--limit', '1', '--json');

    expect(JSON.parse(stdout)).toHaveLength(1);
  });

  it('exits 2 on a status that is not in the data model', async () => {
    const { code, stderr } = await cli('events', 'list', '--status', 'done');

    expect(code).toBe(2);
    expect(stderr).toContain('--status must be one of in_progress, queued, handling, handled, failed');
  });
});

describe('webhooks events show', () => {
  it('shows status, attempts, last error and replay count of one event', async () => {
    const key = await failed();

    const { code, stdout } = await cli('events', 'show', key);

    expect(code).toBe(0);
    expect(stdout).toMatch(/status:\s+failed/);
    expect(stdout).toMatch(/attempts:\s+1/);
    expect(stdout).toMatch(/last error:\s+jobs table unavailable/);
    expect(stdout).toMatch(/replays:\s+0/);
  });

  it('prints the record as JSON without the payload unless --payload is given', async () => {
    const key = await failed();

    const plain = JSON.parse((await cli('events', 'show', key, '--json')).stdout) as Record<string, unknown>;
    const withPayload = JSON.parse((await cli('events', 'show', key, '--json', '--payload')).stdout) as { event: { id: string } };

    expect(plain.pk).toBe(key);
    expect(plain).not.toHaveProperty('event');
    expect(withPayload.event.id).toBe(key.slice('together#'.length));
  });

  it('exits 1 for a key with no record', async () => {
    const { code, stderr } = await cli('events', 'show', 'together#evt_missing');

    expect(code).toBe(1);
    expect(stderr).toContain('no event together#evt_missing');
  });
});

describe('webhooks replay', () => {
  it('sets a failed event back to queued, counts the replay, and sends the stored event with its attributes', async () => {
    const key = await failed();

    const { code, stdout } = await cli('replay', key);

    const after = await record(key);
    const messages = await drain('fine_tune.failed');
    expect(code).toBe(0);
    expect(stdout).toContain(`replayed ${key} (was failed)`);
    expect(after.status).toBe('queued');
    expect(after.replayCount).toBe(1);
    expect(after.replayedAt).toBeDefined();
    expect(messages).toHaveLength(1);
    expect(messages[0]?.Body).toBe((await withRecordEvent({ documents: clients.documents, tableName: resources.eventsTable }, after)).event);
    expect(messages[0]?.MessageAttributes?.eventId?.StringValue).toBe(after.eventId);
    expect(messages[0]?.MessageAttributes?.provider?.StringValue).toBe('together');
    expect(messages[0]?.MessageAttributes?.type?.StringValue).toBe('fine_tune.failed');
  });

  it('counts every replay of the same event', async () => {
    const key = await failed();

    await cli('replay', key);
    await cli('replay', key);

    expect((await record(key)).replayCount).toBe(2);
    expect(await drain('fine_tune.failed')).toHaveLength(2);
  });

  it('refuses an event a consumer is handling under a live lease, and sends nothing', async () => {
    const event = makeEvent();
    await accepted(event);
    await claimEvent(ledger(Date.now, 300), event);
    const key = `together#${event.id}`;

    const { code, stdout } = await cli('replay', key);

    expect(code).toBe(1);
    expect(stdout).toContain(`skipped ${key}: it is handling`);
    expect((await record(key)).status).toBe('handling');
    expect(await drain('fine_tune.failed')).toHaveLength(0);
  });

  it('replays with --force an event whose consumer died (lease expired) and removes the stale lease', async () => {
    const event = makeEvent();
    await accepted(event);
    await claimEvent(ledger(() => Date.now() - 3_600_000, 60), event);
    const key = `together#${event.id}`;

    const { code } = await cli('replay', '--force', key);

    const after = await record(key);
    expect(code).toBe(0);
    expect(after.status).toBe('queued');
    expect(after.leaseToken).toBeUndefined();
    expect(await drain('fine_tune.failed')).toHaveLength(1);
  });

  it('exits 1 and says so for a key with no record', async () => {
    const { code, stdout } = await cli('replay', 'together#evt_nothing_here');

    expect(code).toBe(1);
    expect(stdout).toContain('not found together#evt_nothing_here');
  });

  it('replays every failed event of the window with --status failed and leaves the others alone', async () => {
    const route: Route = 'batch.failed';
    const first = await failed({ type: route, providerType: 'batch.failed' });
    const second = await failed({ type: route, providerType: 'batch.failed' });
    const handledElsewhere = await accepted({ type: route, providerType: 'batch.failed' });

    const { code, stdout } = await cli('replay', '--status', 'failed', '--type', route, '--since', '1h');

    expect(code).toBe(0);
    expect(stdout).toMatch(/replayed 2 of 2/);
    expect((await record(first)).status).toBe('queued');
    expect((await record(second)).status).toBe('queued');
    expect((await record(handledElsewhere)).replayCount).toBeUndefined();
    expect(await drain(route)).toHaveLength(2);
  });

  it('changes nothing with --dry-run', async () => {
    const route: Route = 'model.deprecated';
    const key = await failed({ type: route, providerType: 'model.deprecated' });

    const { code, stdout } = await cli('replay', '--status', 'failed', '--type', route, '--dry-run');

    expect(code).toBe(0);
    expect(stdout).toContain(`would replay 1:\n  ${key}`);
    expect((await record(key)).status).toBe('failed');
  });

  it('exits 2 when given both keys and --status', async () => {
    const { code } = await cli('replay', 'together#evt_x', '--status', 'failed');

    expect(code).toBe(2);
  });
});

describe('webhooks dlq', () => {
  it('lists dead letters with ids and types, without consuming them or printing bodies', async () => {
    const route: Route = 'deployment.changed';
    const event = makeEvent({ type: route, providerType: 'deployment.created', providerData: { note: 'BODY-MARKER' } });
    await deadLetter(route, `together#${event.id}`, event);

    const { code, stdout } = await cli('dlq', 'list', route);
    const again = await cli('dlq', 'list', route, '--json');

    const report = JSON.parse(again.stdout) as { depth: { visible: number }; peek: { key: string; type: string }[] }[];
    expect(code).toBe(0);
    expect(stdout).toContain(`together#${event.id}`);
    expect(stdout).not.toContain('BODY-MARKER');
    expect(report[0]?.depth.visible).toBe(1);
    expect(report[0]?.peek[0]).toMatchObject({ key: `together#${event.id}`, type: route });
    expect(await visibleCount(resources.queues[route].deadLetterUrl)).toBe(1);
    await drain(route, true);
  });

  it('moves a route\'s dead letters back to its queue, attributes included, and prints the count', async () => {
    const route: Route = 'usage.threshold_reached';
    const events = [makeEvent({ type: route, providerType: 'usage.threshold_reached' }), makeEvent({ type: route, providerType: 'usage.threshold_reached' })];
    for (const event of events) await deadLetter(route, `together#${event.id}`, event);

    const { code, stdout } = await cli('dlq', 'redrive', route);

    const moved = await drain(route);
    expect(code).toBe(0);
    expect(stdout).toContain('moved 2 dead letters back to their queues');
    expect(await visibleCount(resources.queues[route].deadLetterUrl)).toBe(0);
    expect(moved.map((message) => message.MessageAttributes?.eventId?.StringValue).sort()).toEqual(events.map((event) => event.id).sort());
    expect(moved.map((message) => message.Body).sort()).toEqual(events.map((event) => JSON.stringify(event)).sort());
  });

  it('local redrive of large dead letters works: batches stay within the SendMessageBatch size limit', async () => {
    const route: Route = 'model.deprecated';
    // Five dead letters of ~300 KB: ten of them in one SendMessageBatch would be over 1 MiB.
    const events = Array.from({ length: 5 }, (_, index) =>
      makeEvent({ type: route, providerType: 'model.deprecated', data: { modelId: `m-${index}` }, providerData: { model_id: `m-${index}`, note: String(index).repeat(300_000) } }),
    );
    for (const event of events) await deadLetter(route, `together#${event.id}`, event);

    const { code, stdout, stderr } = await cli('dlq', 'redrive', route);

    const moved = await drain(route);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('moved 5 dead letters back to their queues');
    expect(await visibleCount(resources.queues[route].deadLetterUrl)).toBe(0);
    expect(moved.map((message) => message.Body).sort()).toEqual(events.map((event) => JSON.stringify(event)).sort());
  });

  it('exits 2 for redrive with neither a route nor --all', async () => {
    const { code, stderr } = await cli('dlq', 'redrive');

    expect(code).toBe(2);
    expect(stderr).toContain('or pass --all');
  });
});

describe('webhooks status', () => {
  it('exits 1 and names the route while a dead-letter queue holds a message, and 0 once it is empty', async () => {
    const route: Route = 'model.deployed';
    const event = makeEvent({ type: route, providerType: 'model.deployed' });
    await deadLetter(route, `together#${event.id}`, event);

    const unhealthy = await cli('status');
    await drain(route, true);
    const healthy = await cli('status', '--json');

    expect(unhealthy.code).toBe(1);
    expect(unhealthy.stdout).toContain(`UNHEALTHY: dead letters waiting on ${route}`);
    expect(healthy.code).toBe(0);
    expect((JSON.parse(healthy.stdout) as { healthy: boolean }).healthy).toBe(true);
  });

  it('[H3-9] counts the dead letters whose event has no record, and says nobody accepted them', async () => {
    const route: Route = 'deployment.changed';
    const injected = makeEvent({ type: route, providerType: 'deployment.changed' });
    await deadLetter(route, `together#${injected.id}`, injected);

    const text = await cli('status');
    const json = JSON.parse((await cli('status', '--json')).stdout) as { routes: { route: string; noRecord: number }[] };
    await drain(route, true);

    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`UNHEALTHY: 1 dead letter on ${route} has no event record (no_record)`);
    expect(json.routes.find((health) => health.route === route)?.noRecord).toBe(1);
  });

  it('counts the window\'s events by status', async () => {
    const before = JSON.parse((await cli('status', '--json')).stdout) as { events: Record<string, number> };
    await failed();
    await accepted();

    const after = JSON.parse((await cli('status', '--json')).stdout) as { events: Record<string, number> };

    expect(after.events.failed).toBe((before.events.failed ?? 0) + 1);
    expect(after.events.queued).toBe((before.events.queued ?? 0) + 1);
  });

  it('[P-OAI] says why the window\'s failed events failed, most frequent reason first, with one key to look at', async () => {
    const before = JSON.parse((await cli('status', '--json')).stdout) as { failureReasons: { reason: string; count: number }[] };
    const had = before.failureReasons.find((entry) => entry.reason === 'jobs table unavailable')?.count ?? 0;
    const key = await failed();
    await failed();

    const text = await cli('status');
    const json = JSON.parse((await cli('status', '--json')).stdout) as { failureReasons: { reason: string; count: number; example: string }[] };

    expect(json.failureReasons[0]).toMatchObject({ reason: 'jobs table unavailable', count: had + 2 });
    expect(text.stdout).toContain(`failed, by reason (retried by their queue; \`webhooks events show '<key>'\` for one):\n  ${had + 2} × jobs table unavailable    # e.g. `);
    expect(json.failureReasons.some((entry) => entry.example === key) || had > 0).toBe(true);
  });
});

describe('webhooks status and the Together poller', () => {
  it('names a job whose events the poller cannot accept and exits 1, and is healthy once it went through', async () => {
    await createPollerTable(clients.dynamodb, LOCAL_NAMES.pollerTable);
    const store = createPollerStateStore(clients.documents, LOCAL_NAMES.pollerTable);
    const pk = stateKey('fine_tune', 'ft-stuck');
    const stuck = { pk, kind: 'fine_tune' as const, subject: 'ft-stuck', status: 'error', terminal: false, emitted: new Set(['started']), polledAt: '2026-11-01T12:00:00.000Z' };
    await store.setOpen(pk, true);
    await store.save({ ...stuck, failures: 3, lastError: 'failed: normalized event is over 380000 bytes', retryAt: '2026-11-01T12:04:00.000Z' });

    const unhealthy = await cli('status');
    const json = JSON.parse((await cli('status', '--json')).stdout) as { healthy: boolean; pollerFailures: unknown[] };
    await store.save({ ...stuck, status: 'error', terminal: true });
    await store.setOpen(pk, false);
    const healthy = await cli('status');

    expect(unhealthy.code).toBe(1);
    expect(unhealthy.stdout).toContain('ft-stuck');
    expect(unhealthy.stdout).toContain('3 failed runs, next try 2026-11-01T12:04:00.000Z: failed: normalized event is over 380000 bytes');
    expect(unhealthy.stdout).toContain('UNHEALTHY: the Together poller cannot accept the events of 1 job');
    expect(json).toMatchObject({ healthy: false, pollerFailures: [{ kind: 'fine_tune', subject: 'ft-stuck', failures: 3 }] });
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).not.toContain('ft-stuck');
  });
});

describe('webhooks against a runtime that is not running', () => {
  it('exits 1 and says to start the local runtime', async () => {
    const captured = captureOutput();

    const code = await run(['events', 'list'], { output: captured.output, env: { DYNAMODB_PORT: '1', SQS_PORT: '1' } });

    expect(code).toBe(1);
    expect(captured.stderr).toContain('npm start');
  });
});


describe('terminal escape injection through the real emulators', () => {
  // SQS refuses C0 controls in attributes but carries C1 (U+009B is the 8-bit CSI) and bidi overrides.
  const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

  it('events list escapes an ESC sequence in a stored subject and --json keeps it exact', async () => {
    const subject = `ft\x1b]0;owned\x07\x1b[2J${randomUUID()}`;
    await accepted({ subject });

    const text = await cli('events', 'list', '--limit', '1000');
    const json = await cli('events', 'list', '--limit', '1000', '--json');

    expect(text.stdout).not.toMatch(RAW_CONTROL);
    expect(text.stdout).toContain('ft\\u001b]0;owned\\u0007');
    expect((JSON.parse(json.stdout) as { subject?: string }[]).map((event) => event.subject)).toContain(subject);
  });

  it('dlq list --peek escapes C1 and bidi characters of a dead letter\'s id', async () => {
    const route: Route = 'model.deployed';
    const event = makeEvent({ id: `evt\u009b2J\u202egnp.exe`, type: route, providerType: 'model.deployed' });
    await deadLetter(route, `together#${event.id}`, event);

    const { stdout } = await cli('dlq', 'list', route);

    expect(stdout).not.toMatch(RAW_CONTROL);
    expect(stdout).toContain('together#evt\\u009b2J\\u202egnp.exe');
    await drain(route, true);
  });
});
