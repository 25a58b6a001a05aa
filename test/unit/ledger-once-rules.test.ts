import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ConsumerDependencyError } from '../../functions/consumers/errors';
import { claimEvent, markHandled, type Lease, type LedgerDeps } from '../../functions/consumers/ledger';

/**
 * What a consumer sees when DynamoDB refuses or fails a call: which
 * error, whether it is retried, what it tells the operator. DynamoDB is a script of answers, one a
 * call in order; a refusal carries the blocking item only when the call asked for it
 * (`ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`), as DynamoDB does.
 */

type Answer = (input: Record<string, unknown>) => unknown;

const throttled = () => Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException' });
const fail = (error: Error): Answer => () => {
  throw error;
};
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
const T0_MS = Date.parse('2026-11-01T16:45:13Z');

const ledger = (documents: DynamoDBDocumentClient): LedgerDeps => ({ documents, tableName: 'events', leaseSeconds: 60, retentionSeconds: 604_800, clock: () => T0_MS });
const lease = (completed: string[] = []): Lease => ({ key: KEY, token: 'token-1', attempts: 1, completedSteps: new Set(completed) });

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
