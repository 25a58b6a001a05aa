import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { NormalizedEvent } from '../../core/event';
import type { Route } from '../../core/routes';
import { JOB_STATES, JOBS_TABLE, type JobItem, type JobState } from '../../core/table';
import { ConsumerDependencyError } from '../errors';
import type { RouteContext, RouteStep } from './context';
import { errorSummary } from './fields';

/** What one event says about its job or batch. */
export interface JobUpdate {
  readonly pk: string;
  readonly provider: string;
  readonly subject: string;
  readonly kind: JobItem['kind'];
  readonly state: JobState;
  readonly step?: number;
  readonly loss?: number;
  /** Set together with a terminal state. */
  readonly details: Partial<Pick<JobItem, 'model' | 'output' | 'error'>>;
}

const JOB_ROUTES: Partial<Record<Route, { kind: JobItem['kind']; state: JobState }>> = {
  'fine_tune.started': { kind: 'fine_tune', state: 'started' },
  'fine_tune.checkpoint': { kind: 'fine_tune', state: 'running' },
  'fine_tune.completed': { kind: 'fine_tune', state: 'completed' },
  'fine_tune.failed': { kind: 'fine_tune', state: 'failed' },
  'batch.completed': { kind: 'batch', state: 'completed' },
  'batch.failed': { kind: 'batch', state: 'failed' },
};

/** The projection update an event implies; undefined for routes not projected and events without a subject. */
export function jobUpdateFor(event: NormalizedEvent): JobUpdate | undefined {
  const target = JOB_ROUTES[event.type];
  if (target === undefined || event.subject === undefined) return undefined;
  const { details, step, loss } = jobFacts(event);
  return {
    pk: `${event.provider}#${event.subject}`,
    provider: event.provider,
    subject: event.subject,
    kind: target.kind,
    state: target.state,
    ...(step === undefined ? {} : { step }),
    ...(loss === undefined ? {} : { loss }),
    details: Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined)),
  };
}

/** What an event's canonical data says about its job or batch, beyond its state. */
function jobFacts(event: NormalizedEvent): Pick<JobUpdate, 'details' | 'step' | 'loss'> {
  switch (event.type) {
    case 'fine_tune.checkpoint':
      // A loss is kept only with the step it belongs to.
      return { details: {}, step: event.data.step, loss: event.data.step === undefined ? undefined : event.data.loss };
    case 'fine_tune.completed':
      return { details: { model: event.data.modelName } };
    case 'batch.completed':
      return { details: { output: event.data.outputUrl ?? event.data.outputFileId } };
    case 'fine_tune.failed':
    case 'batch.failed':
      return { details: { error: errorSummary(event.data.errorMessage) } };
    default:
      return { details: {} };
  }
}

/**
 * Applies an event to the jobs projection with two monotonic conditional writes, so that the result
 * does not depend on delivery order or duplicates:
 * - the state moves only to a higher rank (started < running < completed | failed): a checkpoint
 *   after `completed` does not reopen the job, and the first terminal state is final;
 * - `step` only rises: a lower step never overwrites a higher one (it may still rise after a
 *   terminal state, which it does not change).
 * A write whose condition fails is an older or repeated fact: nothing to do.
 */
export const projectJob: RouteStep = async (event, context) => {
  const update = jobUpdateFor(event);
  if (update === undefined) {
    if (event.subject === undefined) context.logger.debug('event names no job; not projected', { key: context.key });
    return;
  }
  await writeState(context, event, update);
  if (update.step !== undefined) await writeStep(context, update, update.step);
};

/**
 * The event that already reported this event's job transition, when it is another one. A push and
 * a poll of the same Together job carry different event ids, so idempotency alone keeps both; the
 * projection's conditional state write lets exactly one of them move the job into the state, and
 * records it as `stateEventId`. Read after `projectJob`, consistently.
 */
export async function transitionReportedByOther(event: NormalizedEvent, context: RouteContext): Promise<string | undefined> {
  const update = jobUpdateFor(event);
  if (update === undefined) return undefined;
  let item: Partial<JobItem> | undefined;
  try {
    const result = await context.documents.send(
      new GetCommand({ TableName: context.jobsTableName, Key: { [JOBS_TABLE.partitionKey]: update.pk }, ConsistentRead: true }),
    );
    item = result.Item as Partial<JobItem> | undefined;
  } catch (error) {
    throw new ConsumerDependencyError(`could not read the jobs projection for ${update.pk}`, { cause: error });
  }
  const reporter = item?.stateEventId;
  return item?.state === update.state && reporter !== undefined && reporter !== event.id ? reporter : undefined;
}

async function writeState(context: RouteContext, event: NormalizedEvent, update: JobUpdate): Promise<void> {
  const attributes: Record<string, unknown> = {
    provider: update.provider,
    subject: update.subject,
    kind: update.kind,
    state: update.state,
    rank: JOB_STATES[update.state],
    stateEventId: event.id,
    stateAt: event.occurredAt,
    updatedAt: context.now.toISOString(),
    ...update.details,
  };
  await conditionalUpdate(context, update.pk, attributes, 'attribute_not_exists(#rank) OR #rank < :rank', {
    '#rank': 'rank',
  }, { ':rank': JOB_STATES[update.state] });
}

async function writeStep(context: RouteContext, update: JobUpdate, step: number): Promise<void> {
  const attributes: Record<string, unknown> = {
    step,
    updatedAt: context.now.toISOString(),
    ...(update.loss === undefined ? {} : { loss: update.loss }),
  };
  await conditionalUpdate(context, update.pk, attributes, 'attribute_not_exists(#step) OR #step < :step', {
    '#step': 'step',
  }, { ':step': step });
}

async function conditionalUpdate(
  context: RouteContext,
  pk: string,
  attributes: Record<string, unknown>,
  condition: string,
  conditionNames: Record<string, string>,
  conditionValues: Record<string, unknown>,
): Promise<void> {
  const entries = Object.entries(attributes);
  try {
    await context.documents.send(
      new UpdateCommand({
        TableName: context.jobsTableName,
        Key: { [JOBS_TABLE.partitionKey]: pk },
        UpdateExpression: `SET ${entries.map((_, index) => `#a${index} = :a${index}`).join(', ')}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: {
          ...Object.fromEntries(entries.map(([name], index) => [`#a${index}`, name])),
          ...conditionNames,
        },
        ExpressionAttributeValues: {
          ...Object.fromEntries(entries.map(([, value], index) => [`:a${index}`, value])),
          ...conditionValues,
        },
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return;
    throw new ConsumerDependencyError(`could not update the jobs projection for ${pk}`, { cause: error });
  }
}
