import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import { acceptDepsFor, acceptEvent, eventMessage } from '../../functions/core/accept';
import type { NormalizedEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import { CONSUMER_LEASE_SECONDS } from '../../functions/consumers/config';
import { claimEvent, markFailed, markHandled } from '../../functions/consumers/ledger';
import { localTarget, type Target } from '../../ops/target';
import { eventRecord, normalizedEvent } from '../support/consumers';
import { cliEnvOf, startEmulated, type Emulated } from '../support/emulated';
import { captureOutput } from '../unit/cli-support';

/** What the operator's commands do to an event record's lifetime and leases. */

let env: Emulated;
let cliEnv: Record<string, string>;
beforeAll(async () => {
  env = await startEmulated();
  cliEnv = cliEnvOf(env);
});
afterAll(async () => {
  await env?.stop();
});

const DAY_MS = 86_400_000;
/** A route queue keeps a message 14 days and its dead-letter queue 14 more. */
const DELIVERABLE_SECONDS = 28 * 86_400;

/** Runs the CLI in-process against the emulators, with the operator's clock at `nowMs`. */
async function cli(nowMs: number, ...argv: string[]) {
  const captured = captureOutput();
  const code = await run(argv, { output: captured.output, env: cliEnv, clock: () => nowMs });
  return { code, stdout: captured.stdout, stderr: captured.stderr };
}

/** An event through the write path at `nowMs`: its record is `queued`, its message on its queue. */
async function accepted(route: Route, nowMs = Date.now()): Promise<NormalizedEvent> {
  const event = normalizedEvent({ type: route, providerType: route, receivedAt: new Date(nowMs).toISOString() });
  await acceptEvent(acceptDepsFor(env.config, { documents: env.clients.documents, sqs: env.clients.sqs, clock: () => nowMs }), event);
  return event;
}

const ledger = (clock: () => number) => ({
  documents: env.clients.documents,
  tableName: env.resources.eventsTable,
  leaseSeconds: CONSUMER_LEASE_SECONDS,
  retentionSeconds: 7 * 86_400,
  clock,
});

describe('webhooks replay and live leases', () => {
  it('replay never takes a live consumer lease, whatever the operator\'s clock says', async () => {
    const route: Route = 'model.deployed';
    const event = await accepted(route);
    await env.drain(route);
    const claimedAt = Date.now();
    const claim = await claimEvent(ledger(() => claimedAt), event);
    if (claim.status !== 'claimed') throw new Error('expected a claim');
    const key = claim.lease.key;

    // An operator clock 60 s, 61 s or an hour ahead sees the 60 s lease as expired.
    const answers = [];
    for (const ahead of [60_000, 61_000, 3_600_000]) answers.push(await cli(claimedAt + ahead, 'replay', key));

    for (const { code, stdout } of answers) {
      expect(code).toBe(1);
      expect(stdout).toContain(`skipped ${key}: it is handling`);
    }
    expect(answers[0]?.stdout).toContain('--force');
    expect(await eventRecord(env, key)).toMatchObject({ status: 'handling', leaseToken: claim.lease.token });
    expect(await env.drain(route)).toHaveLength(0);
  });

  it('replay --force still refuses a lease that is live or only just expired by the operator\'s clock', async () => {
    const route: Route = 'model.deployed';
    const event = await accepted(route);
    await env.drain(route);
    const claimedAt = Date.now();
    const claim = await claimEvent(ledger(() => claimedAt), event);
    if (claim.status !== 'claimed') throw new Error('expected a claim');

    const { code, stdout } = await cli(claimedAt + (CONSUMER_LEASE_SECONDS + 60) * 1000, 'replay', '--force', claim.lease.key);

    expect(code).toBe(1);
    expect(stdout).toContain(`skipped ${claim.lease.key}`);
    expect((await eventRecord(env, claim.lease.key))?.leaseToken).toBe(claim.lease.token);
    expect(await env.drain(route)).toHaveLength(0);
  });

  it('replay --force takes over a handling record whose lease expired long ago (its consumer died)', async () => {
    const route: Route = 'model.deployed';
    const event = await accepted(route);
    await env.drain(route);
    const claim = await claimEvent(ledger(() => Date.now() - 3_600_000), event);
    if (claim.status !== 'claimed') throw new Error('expected a claim');

    const refused = await cli(Date.now(), 'replay', claim.lease.key);
    const forced = await cli(Date.now(), 'replay', '--force', claim.lease.key);

    expect(refused.code).toBe(1);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`replayed ${claim.lease.key} (was handling)`);
    expect(await eventRecord(env, claim.lease.key)).toMatchObject({ status: 'queued' });
    expect((await eventRecord(env, claim.lease.key))?.leaseToken).toBeUndefined();
    expect(await env.drain(route)).toHaveLength(1);
  });
});

/**
 * The local target, with `beforeReplayOf(key)` run just before the replay's write to that key's
 * record reaches DynamoDB: the moment between the listing and the replay.
 */
function targetWithRaceBefore(key: string, beforeReplayOf: () => Promise<void>): () => Promise<Target> {
  return async () => {
    const target = localTarget(cliEnv);
    const send = target.documents.send.bind(target.documents) as (command: unknown) => Promise<unknown>;
    const racing = new Proxy(target.documents, {
      get: (client, property) =>
        property === 'send'
          ? async (command: unknown) => {
              if (command instanceof UpdateCommand && command.input.Key?.pk === key) await beforeReplayOf();
              return send(command);
            }
          : Reflect.get(client, property),
    });
    return { ...target, documents: racing };
  };
}

describe('webhooks replay --status and records that moved on', () => {
  it('[H3-2] replay --status failed skips an event that an SQS retry handled between the listing and its replay', async () => {
    const route: Route = 'batch.failed';
    const nowMs = Date.now();
    const event = await accepted(route, nowMs);
    await env.drain(route);
    const first = await claimEvent(ledger(() => nowMs), event);
    if (first.status !== 'claimed') throw new Error('expected a claim');
    await markFailed(ledger(() => nowMs), first.lease, new Error('upstream 503'));
    const key = first.lease.key;
    // The queue's retry of the same message succeeds after the listing, before the replay reaches the record.
    const retrySucceeds = async () => {
      const retry = await claimEvent(ledger(() => nowMs), event);
      if (retry.status === 'claimed') await markHandled(ledger(() => nowMs), retry.lease);
    };
    const captured = captureOutput();

    const code = await run(['replay', '--status', 'failed', '--type', route, '--since', '1h'], {
      output: captured.output,
      env: cliEnv,
      clock: () => nowMs,
      connect: targetWithRaceBefore(key, retrySucceeds),
    });

    expect(captured.stdout).toContain(`skipped ${key}: now handled`);
    expect(code).toBe(0);
    const record = await eventRecord(env, key);
    expect(record).toMatchObject({ status: 'handled' });
    expect(record?.replayCount).toBeUndefined();
    expect(await env.drain(route)).toHaveLength(0);
  });
});

describe('webhooks dlq redrive and record lifetime', () => {
  it('redrive by copy keeps each record as long as its copy can still be delivered', async () => {
    const route: Route = 'usage.threshold_reached';
    const t0 = Date.now();
    const event = await accepted(route, t0);
    const [message] = await env.drain(route);
    // The message failed its receives and waits on the dead-letter queue, as SQS leaves it there.
    await env.clients.sqs.send(
      new SendMessageCommand({ ...eventMessage(event, message?.Body as string, env.resources.queues[route].deadLetterUrl) }),
    );
    const redriveAt = t0 + 13 * DAY_MS;

    const { code } = await cli(redriveAt, 'dlq', 'redrive', route);

    expect(code).toBe(0);
    expect(await env.drain(route)).toHaveLength(1);
    expect((await eventRecord(env, `together#${event.id}`))?.expiresAt).toBeGreaterThanOrEqual(Math.floor(redriveAt / 1000) + DELIVERABLE_SECONDS);
  });
});

describe('webhooks status and records that can no longer be delivered', () => {
  it('status flags records queued far longer than the queue\'s oldest message, and says what to do', async () => {
    const route: Route = 'deployment.changed';
    const nowMs = Date.now();
    const event = await accepted(route, nowMs);
    const key = `together#${event.id}`;
    // Its message is gone (the queue kept it less long than the consumer was stopped).
    await env.drain(route);

    const fresh = JSON.parse((await cli(nowMs, 'status', '--json')).stdout) as { undeliverable: { key: string }[] };
    const later = await cli(nowMs + 3_600_000, 'status');
    const laterJson = JSON.parse((await cli(nowMs + 3_600_000, 'status', '--json')).stdout) as {
      healthy: boolean;
      undeliverable: { key: string; route: string }[];
    };

    expect(fresh.undeliverable.map((stuck) => stuck.key)).not.toContain(key);
    expect(later.code).toBe(1);
    expect(later.stdout).toContain(key);
    expect(later.stdout).toContain(`webhooks replay '${key}'`);
    expect(laterJson.healthy).toBe(false);
    expect(laterJson.undeliverable).toContainEqual(expect.objectContaining({ key, route }));
    await cli(nowMs + 3_600_000, 'replay', key);
    await env.drain(route);
  });

  it('status does not flag a queued record while its queue still holds messages', async () => {
    const route: Route = 'batch.completed';
    const nowMs = Date.now();
    const event = await accepted(route, nowMs);

    const report = JSON.parse((await cli(nowMs + 3_600_000, 'status', '--json')).stdout) as { undeliverable: { key: string }[] };

    expect(report.undeliverable.map((stuck) => stuck.key)).not.toContain(`together#${event.id}`);
    await env.drain(route);
  });

  it('status flags a record queued longer than the queue keeps any message, even while the queue is busy', async () => {
    const route: Route = 'batch.failed';
    const nowMs = Date.now();
    const event = await accepted(route, nowMs);

    const report = JSON.parse((await cli(nowMs + 15 * DAY_MS, 'status', '--since', '20d', '--json')).stdout) as { undeliverable: { key: string }[] };

    expect(report.undeliverable.map((stuck) => stuck.key)).toContain(`together#${event.id}`);
    await env.drain(route);
  });
});
