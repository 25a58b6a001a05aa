import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { NormalizedEvent } from '../../core/event';
import type { Route } from '../../core/routes';
import { JOB_STATES, JOBS_TABLE, type JobItem, type JobState } from '../../core/table';
import { ConsumerDependencyError } from '../errors';
import type { RouteContext, RouteStep } from './context';
import { eventFields, failureReason, firstNumber, firstString } from './fields';

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
  const fields = eventFields(event.data);
  const details: JobUpdate['details'] =
    target.state === 'failed'
      ? { error: failureReason(fields) }
      : target.state === 'completed'
        ? target.kind === 'fine_tune'
          ? { model: firstString(fields, ['model_name', 'fine_tuned_model', 'model_output_name', 'artifact']) }
          : { output: firstString(fields, ['output_url', 'output_file_id']) }
        : {};
  const step = target.state === 'running' ? firstNumber(fields, ['step']) : undefined;
  const loss = step === undefined ? undefined : firstNumber(fields, ['loss']);
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
 * The transition an event reports: `{provider}#{subject}#{state}` (`…#completed`, `…#failed`,
 * `…#started`), and `…#running@{step}` for a checkpoint, since each checkpoint is its own
 * transition. A Together push and a poll of the same transition carry different event ids and the
 * same transition key. Undefined for an event that reports no job transition (another route, no
 * subject, or a checkpoint without a step).
 */
export function transitionKeyFor(event: NormalizedEvent): string | undefined {
  const update = jobUpdateFor(event);
  if (update === undefined) return undefined;
  if (update.state !== 'running') return `${update.pk}#${update.state}`;
  return update.step === undefined ? undefined : `${update.pk}#running@${update.step}`;
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
