import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { JOBS_TABLE } from '../core/table';
import { ConsumerDependencyError, LeaseHeldError } from './errors';
import { completeStep, type Lease, type LedgerDeps } from './ledger';
import type { OnceOptions, RouteContext } from './routes/context';

/*
 * Where `once` keeps its records.
 *
 * Scope `event`: in the event's own record (`steps`, see `completeStep`), under the event's lease,
 * which already makes the attempts at one event run one at a time.
 *
 * Scope `transition`: one item per transition and step in the jobs table,
 * `once#{provider}#{subject}#{state}#{name}`, moved on with conditional writes:
 * claimed (`owner`, `claimToken`, `claimExpiresAt`) → done (`doneAt`, `doneBy`).
 * - Why the jobs table: a transition is a fact about a job, and the table has no TTL, so no copy of
 *   either event, however late it comes back (retry, redrive, replay), outlives its record. The
 *   `once#` prefix cannot meet a job's `{provider}#{subject}`: `once` is no provider.
 * - Why a claim before the effect: the two events of a transition hold two different event leases
 *   and may run at the same moment; the conditional claim lets one of them run the effect, and the
 *   other fails its attempt (retried later) instead of running it too.
 * - Crash safety: the claim carries a lease as long as the event's, so a consumer that dies holding
 *   it blocks the transition only until it expires; a later attempt of the same event takes it over
 *   at once (its new event lease proves the old attempt is over). An effect that throws releases the
 *   claim, so whichever event of the transition is retried next runs it: when the event that owned
 *   a transition's alert ends in the dead-letter queue, the other event alerts.
 */

/** Writes of a done step's record per attempt: the effect already happened, so failing is costly. */
export const STEP_RECORD_ATTEMPTS = 4;
/** Backoff before the second write; doubles before each further one (100, 200, 400 ms). */
export const STEP_RECORD_BASE_DELAY_MS = 100;

const ONCE_PREFIX = 'once#';

/** What `once` needs of one attempt: its lease on the event, the event's transition, where records go. */
export interface OnceDeps {
  readonly ledger: LedgerDeps;
  readonly lease: Lease;
  readonly transitionKey: string | undefined;
  readonly jobsTableName: string;
  readonly logger: Logger;
  readonly sleep: (ms: number) => Promise<void>;
}

/** The `idempotencyKey` and `once` of a route context for one attempt at one event. */
export function onceHelpers(deps: OnceDeps): Pick<RouteContext, 'idempotencyKey' | 'once'> {
  const { ledger, lease, logger } = deps;
  const transitionOf = (options?: OnceOptions) => (options?.scope === 'event' ? undefined : deps.transitionKey);
  const idempotencyKey = (name: string, options?: OnceOptions) => `${transitionOf(options) ?? lease.key}#${name}`;

  return {
    idempotencyKey,
    async once(name, effect, options) {
      const key = idempotencyKey(name, options);
      const transition = transitionOf(options);
      if (transition === undefined) {
        if (lease.completedSteps.has(name)) {
          logger.info('step already done by an earlier attempt; skipped', { key: lease.key, step: name });
          return;
        }
        await effect(key);
        await recordWithRetries(deps, name, () => completeStep(ledger, lease, name));
        return;
      }

      const record = { pk: `${ONCE_PREFIX}${key}`, name, transition };
      if ((await claimTransitionStep(deps, record)) === 'done') {
        logger.info('step already done for this transition; skipped', { key: lease.key, transition, step: name });
        return;
      }
      try {
        await effect(key);
      } catch (error) {
        await releaseTransitionStep(deps, record.pk).catch((releaseError: unknown) =>
          // The claim expires on its own; the next attempt takes it over then.
          logger.warn('could not release a transition step', { key: lease.key, step: name, error: String(releaseError) }),
        );
        throw error;
      }
      await recordWithRetries(deps, name, () => markTransitionStepDone(deps, record.pk));
    },
  };
}

/**
 * Retries the record of a done step: the effect has run, and failing the attempt now would run it
 * again on the retry. Only dependency failures are retried; a lost lease is final.
 */
async function recordWithRetries(deps: OnceDeps, step: string, write: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof ConsumerDependencyError) || attempt >= STEP_RECORD_ATTEMPTS) throw error;
      deps.logger.warn('could not record a done step; retrying', { key: deps.lease.key, step, attempt });
      await deps.sleep(STEP_RECORD_BASE_DELAY_MS * 2 ** (attempt - 1));
    }
  }
}

interface TransitionStep {
  readonly pk: string;
  readonly name: string;
  readonly transition: string;
}

async function claimTransitionStep(deps: OnceDeps, step: TransitionStep): Promise<'claimed' | 'done'> {
  const nowSeconds = Math.floor(deps.ledger.clock() / 1000);
  try {
    await deps.ledger.documents.send(
      new UpdateCommand({
        TableName: deps.jobsTableName,
        Key: { [JOBS_TABLE.partitionKey]: step.pk },
        UpdateExpression: 'SET #owner = :me, claimToken = :token, claimExpiresAt = :expiresAt, transitionKey = :transition, stepName = :name',
        ConditionExpression:
          'attribute_not_exists(#pk) OR (attribute_not_exists(doneAt) AND ' +
          '(#owner = :me OR attribute_not_exists(claimToken) OR claimExpiresAt < :now))',
        ExpressionAttributeNames: { '#pk': JOBS_TABLE.partitionKey, '#owner': 'owner' },
        ExpressionAttributeValues: {
          ':me': deps.lease.key,
          ':token': deps.lease.token,
          ':expiresAt': nowSeconds + deps.ledger.leaseSeconds,
          ':now': nowSeconds,
          ':transition': step.transition,
          ':name': step.name,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    // Stryker disable next-line StringLiteral: the caller asks only whether the answer is 'done'
    return 'claimed';
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) {
      throw new ConsumerDependencyError(`could not claim step ${step.name} of ${step.transition}`, { cause: error });
    }
    // DynamoDB returns the blocking item; emulators that do not get a consistent read instead.
    const item =
      error.Item === undefined
        ? await readTransitionStep(deps, step.pk)
        : {
            doneAt: error.Item.doneAt?.S,
            // Stryker disable next-line OptionalChaining: every item a claim is refused on was written by a claim, which sets its owner
            owner: error.Item.owner?.S,
          };
    if (item?.doneAt !== undefined) return 'done';
    throw new LeaseHeldError(`step ${step.name} of ${step.transition} is being run by ${item?.owner ?? 'another event'}; retry later`);
  }
}

async function readTransitionStep(deps: OnceDeps, pk: string): Promise<{ doneAt?: string; owner?: string } | undefined> {
  try {
    const { Item } = await deps.ledger.documents.send(
      new GetCommand({ TableName: deps.jobsTableName, Key: { [JOBS_TABLE.partitionKey]: pk }, ConsistentRead: true }),
    );
    return Item as { doneAt?: string; owner?: string } | undefined;
  } catch (error) {
    throw new ConsumerDependencyError(`could not read ${pk}`, { cause: error });
  }
}

/**
 * Unconditional: the effect ran, so the step is done, even if a slow attempt of ours lost its claim
 * to another event meanwhile. The first `doneAt` stays.
 */
async function markTransitionStepDone(deps: OnceDeps, pk: string): Promise<void> {
  try {
    await deps.ledger.documents.send(
      new UpdateCommand({
        TableName: deps.jobsTableName,
        Key: { [JOBS_TABLE.partitionKey]: pk },
        UpdateExpression: 'SET doneAt = if_not_exists(doneAt, :at), doneBy = if_not_exists(doneBy, :me) REMOVE claimToken, claimExpiresAt',
        ExpressionAttributeValues: { ':at': new Date(deps.ledger.clock()).toISOString(), ':me': deps.lease.key },
      }),
    );
  } catch (error) {
    throw new ConsumerDependencyError(`could not record ${pk} as done`, { cause: error });
  }
}

async function releaseTransitionStep(deps: OnceDeps, pk: string): Promise<void> {
  try {
    await deps.ledger.documents.send(
      new UpdateCommand({
        TableName: deps.jobsTableName,
        Key: { [JOBS_TABLE.partitionKey]: pk },
        UpdateExpression: 'REMOVE claimToken, claimExpiresAt',
        ConditionExpression: 'claimToken = :token',
        ExpressionAttributeValues: { ':token': deps.lease.token },
      }),
    );
  } catch (error) {
    // Someone else holds it now (we ran past our claim): theirs to finish.
    if (error instanceof ConditionalCheckFailedException) return;
    throw error;
  }
}
