import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { ConsumerDependencyError, LeaseHeldError } from '../../functions/consumers/errors';
import { claimEvent, markHandled, type Lease, type LedgerDeps } from '../../functions/consumers/ledger';
import { onceHelpers } from '../../functions/consumers/once';

/**
 * What a consumer sees when DynamoDB refuses or fails a call of the ledger or of `once`: which
 * error, whether it is retried, what it tells the operator. DynamoDB is a script of answers, one a
 * call in order; a refusal carries the blocking item only when the call asked for it
 * (`ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`), as DynamoDB does.
 */

type Answer = (input: Record<string, unknown>) => unknown;

const throttled = () => Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException' });
const fail = (error: Error): Answer => () => {
  throw error;
};
const ok: Answer = () => ({});
const found = (Item: Record<string, unknown> | undefined): Answer => () => ({ Item });
/** A conditional check that failed on `item` (in DynamoDB's attribute-value form). */
const refused = (item?: Record<string, AttributeValue>): Answer => (input) => {
  throw new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(item !== undefined && input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? { Item: item } : {}),
  });
};

function scriptedDocuments(...answers: Answer[]): DynamoDBDocumentClient {
  const left = [...answers];
  const send = async (command: { input: Record<string, unknown> }) => {
    const answer = left.shift();
    if (answer === undefined) throw new Error('no more calls expected');
    return answer(command.input);
  };
  return { send } as unknown as DynamoDBDocumentClient;
}

const KEY = 'together#evt_1';
const TRANSITION = 'together#ft-1#failed';
const T0_MS = Date.parse('2026-11-01T16:45:13Z');

const ledger = (documents: DynamoDBDocumentClient): LedgerDeps => ({ documents, tableName: 'events', leaseSeconds: 60, retentionSeconds: 604_800, clock: () => T0_MS });
const lease = (completed: string[] = []): Lease => ({ key: KEY, token: 'token-1', attempts: 1, completedSteps: new Set(completed) });

/** A logger that keeps what it is given, as `[level, message, attributes]`. */
function keptLogger() {
  const lines: [string, string, unknown][] = [];
  const at = (level: string) => (message: string, attributes?: unknown) => void lines.push([level, message, attributes]);
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger;
  return { logger, lines };
}

/** `once` of one attempt at KEY, whose event reports TRANSITION, on the scripted DynamoDB. */
function onceOn(documents: DynamoDBDocumentClient, completed: string[] = []) {
  const { logger, lines } = keptLogger();
  const sleeps: number[] = [];
  const { once } = onceHelpers({
    ledger: ledger(documents),
    lease: lease(completed),
    transitionKey: TRANSITION,
    jobsTableName: 'jobs',
    logger,
    sleep: async (ms) => void sleeps.push(ms),
  });
  let effects = 0;
  const effect = async () => void (effects += 1);
  return { once, lines, sleeps, effect, effects: () => effects };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('the ledger when DynamoDB refuses or fails', () => {
  it('[RULE] a claim DynamoDB fails is a retryable ConsumerDependencyError that names the record and keeps the cause for the log', async () => {
    const cause = throttled();

    const error = await rejection(claimEvent(ledger(scriptedDocuments(fail(cause))), { provider: 'together', id: 'evt_1' }));

    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect(error.message).toBe(`could not claim ${KEY}`);
    expect(error.cause).toBe(cause);
  });

  it('[RULE] a refused claim whose record cannot then be read is a retryable ConsumerDependencyError that names the record', async () => {
    const cause = throttled();

    const error = await rejection(claimEvent(ledger(scriptedDocuments(refused(), fail(cause))), { provider: 'together', id: 'evt_1' }));

    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect(error.message).toBe(`could not read the record of ${KEY}`);
    expect(error.cause).toBe(cause);
  });

  it('[RULE] a duplicate of a handled event is acknowledged from the item DynamoDB refuses on, even while reads are throttled', async () => {
    const documents = scriptedDocuments(refused({ pk: { S: KEY }, status: { S: 'handled' } }), fail(throttled()));

    const claim = await claimEvent(ledger(documents), { provider: 'together', id: 'evt_1' });

    expect(claim).toEqual({ status: 'handled', key: KEY });
  });

  it('[RULE] a mark DynamoDB fails is a retryable ConsumerDependencyError that names the record and keeps the cause', async () => {
    const cause = throttled();

    const error = await rejection(markHandled(ledger(scriptedDocuments(fail(cause))), lease()));

    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect(error.message).toBe(`could not update the record of ${KEY}`);
    expect(error.cause).toBe(cause);
  });
});

describe('once when a step was already done or DynamoDB refuses or fails', () => {
  it('[RULE] an event-scope step an earlier attempt did is skipped, and the log names the event and the step', async () => {
    const { once, lines, effect, effects } = onceOn(scriptedDocuments(), ['audit']);

    await once('audit', effect, { scope: 'event' });

    expect(effects()).toBe(0);
    expect(lines).toEqual([['info', 'step already done by an earlier attempt; skipped', { key: KEY, step: 'audit' }]]);
  });

  it('[RULE] a step its transition already did is skipped on the item DynamoDB refuses on, even while reads are throttled, and the log names event, transition and step', async () => {
    const done = refused({ pk: { S: `once#${TRANSITION}#alert` }, owner: { S: 'together#evt_0' }, doneAt: { S: '2026-11-01T16:40:00.000Z' } });
    const { once, lines, effect, effects } = onceOn(scriptedDocuments(done, fail(throttled())));

    await once('alert', effect);

    expect(effects()).toBe(0);
    expect(lines).toEqual([['info', 'step already done for this transition; skipped', { key: KEY, transition: TRANSITION, step: 'alert' }]]);
  });

  it('[RULE] a transition step another event holds is refused with a LeaseHeldError that names its owner, to retry later, and its effect does not run', async () => {
    const held = refused({ pk: { S: `once#${TRANSITION}#alert` }, owner: { S: 'together#evt_0' }, claimToken: { S: 'theirs' }, claimExpiresAt: { N: '1793551573' } });
    const { once, effect, effects } = onceOn(scriptedDocuments(held));

    const error = await rejection(once('alert', effect));

    expect(error).toBeInstanceOf(LeaseHeldError);
    expect(error.message).toBe(`step alert of ${TRANSITION} is being run by together#evt_0; retry later`);
    expect(effects()).toBe(0);
  });

  it('[RULE] a refused transition step whose record is gone when read is refused as run by another event, to retry later', async () => {
    const { once, effect, effects } = onceOn(scriptedDocuments(refused(), found(undefined)));

    const error = await rejection(once('alert', effect));

    expect(error).toBeInstanceOf(LeaseHeldError);
    expect(error.message).toBe(`step alert of ${TRANSITION} is being run by another event; retry later`);
    expect(effects()).toBe(0);
  });

  it('[RULE] a transition claim DynamoDB fails is a retryable ConsumerDependencyError naming the step and transition, and its effect does not run', async () => {
    const cause = throttled();
    const { once, effect, effects } = onceOn(scriptedDocuments(fail(cause), found(undefined)));

    const error = await rejection(once('alert', effect));

    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect(error.message).toBe(`could not claim step alert of ${TRANSITION}`);
    expect(error.cause).toBe(cause);
    expect(effects()).toBe(0);
  });

  it('[RULE] a refused transition claim whose record cannot be read is a retryable ConsumerDependencyError naming the record', async () => {
    const cause = throttled();
    const { once, effect, effects } = onceOn(scriptedDocuments(refused(), fail(cause)));

    const error = await rejection(once('alert', effect));

    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect(error.message).toBe(`could not read once#${TRANSITION}#alert`);
    expect(error.cause).toBe(cause);
    expect(effects()).toBe(0);
  });

  it('[RULE] recording a done transition step is tried 4 times, 100, 200 and 400 ms apart, each retry logged, then fails the attempt naming the record', async () => {
    const cause = throttled();
    const { once, lines, sleeps, effect, effects } = onceOn(scriptedDocuments(ok, fail(cause), fail(cause), fail(cause), fail(cause)));

    const error = await rejection(once('alert', effect));

    expect(effects()).toBe(1);
    expect(sleeps).toEqual([100, 200, 400]);
    expect(lines).toEqual([1, 2, 3].map((attempt) => ['warn', 'could not record a done step; retrying', { key: KEY, step: 'alert', attempt }]));
    expect(error).toBeInstanceOf(ConsumerDependencyError);
    expect(error.message).toBe(`could not record once#${TRANSITION}#alert as done`);
    expect(error.cause).toBe(cause);
  });

  it('[RULE] when the claim of a failed step cannot be released, the effect’s error is still thrown and a warning names the step and the release error', async () => {
    const { once, lines } = onceOn(scriptedDocuments(ok, fail(throttled())));

    const error = await rejection(once('alert', async () => Promise.reject(new Error('SNS answered 503'))));

    expect(error.message).toBe('SNS answered 503');
    expect(lines).toEqual([
      ['warn', 'could not release a transition step', { key: KEY, step: 'alert', error: 'ProvisionedThroughputExceededException: Rate of requests exceeds the allowed throughput' }],
    ]);
  });

  it('[RULE] a failed step whose claim another event took over meanwhile is left to it: the effect’s error is thrown, with no warning', async () => {
    const { once, lines } = onceOn(scriptedDocuments(ok, refused()));

    const error = await rejection(once('alert', async () => Promise.reject(new Error('SNS answered 503'))));

    expect(error.message).toBe('SNS answered 503');
    expect(lines).toEqual([]);
  });
});
