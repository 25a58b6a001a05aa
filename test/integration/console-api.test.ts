import { BatchWriteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { consoleApi } from '../../console/api';
import { localTarget } from '../../ops/target';
import type { EventRecord } from '../../functions/core/table';
import { startEmulated, type Emulated } from '../support/emulated';

const HOUR_MS = 3_600_000;
let emulated: Emulated;
let env: Record<string, string>;

beforeAll(async () => {
  emulated = await startEmulated();
  env = { DYNAMODB_PORT: new URL(emulated.emulators.dynamodbEndpoint).port, SQS_PORT: new URL(emulated.emulators.sqsEndpoint).port };
});

afterAll(async () => {
  await emulated?.stop();
});

/** `count` records straight into the events table, `perMs` of them at each millisecond, newest at `newestMs`. */
async function seed(prefix: string, count: number, newestMs: number, perMs: number): Promise<string[]> {
  const records: EventRecord[] = Array.from({ length: count }, (_, index) => {
    const receivedAt = new Date(newestMs - Math.floor(index / perMs)).toISOString();
    const eventId = `${prefix}_${String(index).padStart(5, '0')}`;
    return {
      pk: `llmtune#${eventId}`,
      status: 'handled',
      provider: 'llmtune',
      eventId,
      route: 'other',
      providerType: 'demo',
      subject: prefix,
      receivedAt,
      receivedDay: receivedAt.slice(0, 10),
      event: '{}',
      expiresAt: Math.floor(newestMs / 1000) + 86_400,
    };
  });
  for (let start = 0; start < records.length; start += 25) {
    const batch = records.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
    await emulated.clients.documents.send(new BatchWriteCommand({ RequestItems: { [emulated.resources.eventsTable]: batch } }));
  }
  return records.map((record) => record.pk);
}

function api(nowMs: number) {
  return consoleApi({ target: localTarget(env), clock: () => nowMs, env: {}, providers: ['llmtune'] });
}

/** Every page of the list for `query`, following the cursors. */
async function allPages(console: ReturnType<typeof api>, query: Record<string, string>): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await console.events(new URLSearchParams({ ...query, ...(cursor === undefined ? {} : { cursor }) }));
    pages.push(page.events.map((event) => event.pk));
    cursor = page.next;
  } while (cursor !== undefined);
  return pages;
}

describe('console API: the events list', () => {
  it('pages through every event newest first, none twice and none left out, when many share a millisecond', async () => {
    const nowMs = Date.parse('2026-06-01T12:00:00.000Z');
    const keys = await seed('ties', 230, nowMs - HOUR_MS, 7);

    const pages = await allPages(api(nowMs), { provider: 'llmtune', route: 'other', since: '2h', limit: '20' });

    expect(pages.slice(0, -1).every((page) => page.length === 20)).toBe(true);
    // Within one millisecond the index keeps no order: the page boundaries must still lose none.
    const listed = pages.flat();
    expect(listed).toHaveLength(keys.length);
    expect([...listed].sort()).toEqual([...keys].sort());
    const times = listed.map((key) => Number(key.slice(-5)));
    expect(times.every((index, position) => position === 0 || Math.floor(index / 7) >= Math.floor((times[position - 1] as number) / 7))).toBe(true);
  });

  it('with 10,000 events stored, a page reads only its share through the time index and never scans', async () => {
    const nowMs = Date.parse('2026-07-01T12:00:00.000Z');
    await seed('many', 10_000, nowMs - HOUR_MS, 3);
    const target = localTarget(env);
    const console = consoleApi({ target, clock: () => nowMs, env: {}, providers: ['llmtune'] });
    const first = await console.events(new URLSearchParams({ since: '3h' }));
    const send = vi.spyOn(target.documents, 'send');

    const second = await console.events(new URLSearchParams({ since: '3h', cursor: first.next ?? '' }));

    const names = send.mock.calls.map(([command]) => command.constructor.name);
    expect(first.events).toHaveLength(50);
    expect(second.events).toHaveLength(50);
    expect((second.events[0]?.receivedAt ?? '') <= (first.events.at(-1)?.receivedAt ?? '')).toBe(true);
    expect(new Set([...first.events, ...second.events].map((event) => event.pk)).size).toBe(100);
    expect(names).not.toContain('ScanCommand');
    expect(names.filter((name) => name === 'QueryCommand').length).toBeLessThanOrEqual(2);
  });

  it('finds an event by its id whatever the provider, and by its subject', async () => {
    const nowMs = Date.parse('2026-08-01T12:00:00.000Z');
    const [key] = await seed('findme', 3, nowMs - HOUR_MS, 1);
    const console = api(nowMs);

    const byId = await console.events(new URLSearchParams({ q: 'findme_00000', since: '3h' }));
    const bySubject = await console.events(new URLSearchParams({ q: 'findme', since: '3h' }));

    expect(byId.events.map((event) => event.pk)).toEqual([key]);
    expect(bySubject.events).toHaveLength(3);
  });

  it('refuses a cursor it did not make, with what to do', async () => {
    await expect(api(Date.now()).events(new URLSearchParams({ cursor: 'not-a-cursor' }))).rejects.toThrow('go back to the first page');
  });
});

/** Sets the status of a seeded record, as a consumer's attempt would. */
async function setStatus(key: string, status: EventRecord['status']): Promise<void> {
  await emulated.clients.documents.send(
    new UpdateCommand({
      TableName: emulated.resources.eventsTable,
      Key: { pk: key },
      UpdateExpression: 'SET #status = :status',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':status': status },
    }),
  );
}

describe('console API: replay', () => {
  it('[H3-2] a replay of events selected as failed skips one handled since the listing, and leaves its record alone', async () => {
    const nowMs = Date.parse('2026-09-01T12:00:00.000Z');
    const [key] = (await seed('moved', 1, nowMs - HOUR_MS, 1)) as [string];
    await setStatus(key, 'failed');
    const console = api(nowMs);
    const listed = (await console.events(new URLSearchParams({ q: 'moved', status: 'failed', since: '3h' }))).events.map((event) => event.pk);
    // The queue's retry handles it between the listing and the replay.
    await setStatus(key, 'handled');

    const { outcomes } = await console.replay({ keys: listed, status: 'failed' });

    expect(listed).toEqual([key]);
    expect(outcomes).toEqual([expect.objectContaining({ key, text: expect.stringContaining(`skipped ${key}: now handled`) })]);
    const { Item } = await emulated.clients.documents.send(new GetCommand({ TableName: emulated.resources.eventsTable, Key: { pk: key } }));
    expect(Item).toMatchObject({ status: 'handled' });
    expect(Item?.replayCount).toBeUndefined();
  });
});
