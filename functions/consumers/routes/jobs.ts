import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { NormalizedEvent } from '../../core/event';
import type { Route } from '../../core/routes';
import { JOBS_TABLE, type JobCheckpoint, type JobItem, type JobState, type JobTransition } from '../../core/table';
import { ConsumerDependencyError } from '../errors';
import type { RouteContext, RouteStep } from './context';
import { checkpointsOf, type JobFact, type JobWrite } from './job-history';
import { planJob, type HistoryWrite, type JobPlan } from './job-plan';
import { putHistoryItem, readHeldHistory, type JobHistoryStore } from './job-store';
import { errorSummary } from './fields';

/** What one event says about its job or batch. */
export interface JobUpdate extends Omit<JobFact, 'eventId' | 'occurredAt'> {
  readonly pk: string;
}

const JOB_ROUTES: Partial<Record<Route, { kind: JobItem['kind']; state: JobState }>> = {
  'fine_tune.started': { kind: 'fine_tune', state: 'started' },
  'fine_tune.checkpoint': { kind: 'fine_tune', state: 'running' },
  'fine_tune.completed': { kind: 'fine_tune', state: 'completed' },
  'fine_tune.failed': { kind: 'fine_tune', state: 'failed' },
  'fine_tune.cancelled': { kind: 'fine_tune', state: 'cancelled' },
  'batch.completed': { kind: 'batch', state: 'completed' },
  'batch.failed': { kind: 'batch', state: 'failed' },
  'batch.cancelled': { kind: 'batch', state: 'cancelled' },
  'batch.expired': { kind: 'batch', state: 'expired' },
};

/** The projection update an event implies; undefined for routes not projected and events without a subject. */
export function jobUpdateFor(event: NormalizedEvent): JobUpdate | undefined {
  const target = JOB_ROUTES[event.type];
  if (target === undefined || event.subject === undefined) return undefined;
  const { details, step, loss, path, checkpoints } = jobFacts(event);
  return {
    pk: `${event.provider}#${event.subject}`,
    provider: event.provider,
    subject: event.subject,
    kind: target.kind,
    state: target.state,
    ...(step === undefined ? {} : { step }),
    ...(loss === undefined ? {} : { loss }),
    ...(path === undefined ? {} : { path }),
    ...(checkpoints === undefined || checkpoints.length === 0 ? {} : { checkpoints }),
    // Stryker disable next-line MethodExpression: the merge reads the details through `defined`, which drops an undefined value itself
    details: Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined)),
  };
}

/** Most checkpoint paths kept from a completion, and the longest path: anything longer is not a path. */
const MAX_COMPLETION_PATHS = 50;
const MAX_PATH_LENGTH = 2048;

const isPath = (value: unknown): value is string => typeof value === 'string' && value.trim() !== '' && value.length <= MAX_PATH_LENGTH;

/**
 * The checkpoint paths a completion lists for a deploy step. No route's canonical data names them
 * (no provider of the contract sends them on a completion), so they are read from the provider's
 * own data where a sender includes them: a list, or a single path.
 */
function completionPaths(providerData: unknown): string[] {
  if (typeof providerData !== 'object' || providerData === null) return [];
  const fields = providerData as Record<string, unknown>;
  const listed = [fields.checkpointPaths, fields.checkpoint_paths].find(Array.isArray) as unknown[] | undefined;
  const single = [fields.checkpointPath, fields.checkpoint_path, fields.model_path].find(isPath);
  return (listed ?? (single === undefined ? [] : [single])).filter(isPath).slice(0, MAX_COMPLETION_PATHS);
}

/** What an event's canonical data says about its job or batch, beyond its state. */
function jobFacts(event: NormalizedEvent): Pick<JobUpdate, 'details' | 'step' | 'loss' | 'path' | 'checkpoints'> {
  switch (event.type) {
    case 'fine_tune.started':
    case 'fine_tune.cancelled':
      return { details: {}, checkpoints: event.data.checkpoints };
    case 'fine_tune.checkpoint': {
      const { step, loss, checkpointPath } = event.data;
      // A loss and a path are kept only with the step they belong to.
      if (step === undefined) return { details: {} };
      return { details: {}, step, loss, path: isPath(checkpointPath) ? checkpointPath : undefined };
    }
    case 'fine_tune.completed': {
      const paths = completionPaths(event.providerData);
      return {
        details: { model: event.data.modelName, evalLoss: event.data.evalLoss, ...(paths.length === 0 ? {} : { checkpointPaths: paths }) },
        checkpoints: event.data.checkpoints,
      };
    }
    case 'batch.completed':
      return { details: { output: event.data.outputUrl ?? event.data.outputFileId } };
    case 'fine_tune.failed':
      return { details: { error: errorSummary(event.data.errorMessage) }, checkpoints: event.data.checkpoints };
    case 'batch.failed':
      return { details: { error: errorSummary(event.data.errorMessage) } };
    default:
      return { details: {} };
  }
}

/** Merges in a row before giving up to SQS's retry: each lost race means another write of this job went through. */
const MAX_MERGE_ATTEMPTS = 16;

/**
 * Applies an event to the jobs projection: read the job item (its latest state) and the history
 * items of the event's steps and of the job's states, merge the event into them ({@link planJob}:
 * state by rank, one entry per step and per state), then write what changed, each write
 * conditional on what was read: the state the job leaves (its history item), the job item (on
 * `version`), then the history items of the event's steps and state. If another consumer wrote
 * in between, read and merge again. A report that changes nothing (a duplicate, an older fact)
 * writes nothing; a late checkpoint writes its own small item, and the job item only when it
 * changes the latest state, instead of rewriting the job's whole history. Read-merge-write rather
 * than self-contained update expressions, because DynamoDB can neither take the larger of two
 * numbers (`step`) nor compare two reports' times within one expression; the conditions make it
 * as safe, and the merge, being pure, is tested for order and repeats without DynamoDB.
 */
export const projectJob: RouteStep = async (event, context) => {
  const update = jobUpdateFor(event);
  if (update === undefined) {
    if (event.subject === undefined) context.logger.debug('event names no job; not projected', { key: context.key });
    return;
  }
  const fact = { ...update, eventId: event.id, occurredAt: event.occurredAt };
  const store = { documents: context.documents, tableName: context.jobHistoryTableName };
  const steps = checkpointsOf(fact).map((checkpoint) => checkpoint.step);
  for (let attempt = 1; attempt <= MAX_MERGE_ATTEMPTS; attempt += 1) {
    const current = await readJob(context, update.pk);
    // A report of the state the job is in (most reports) merges into the job item: no state item to read.
    const states = current !== undefined && current.state !== fact.state;
    const held = await dependency(`could not read the job history of ${update.pk}`, () => readHeldHistory(store, update.pk, steps, states));
    const plan = planJob(current, fact, held, context.now);
    if (await applyPlan(context, store, update.pk, plan)) return;
  }
  throw new ConsumerDependencyError(`the jobs projection for ${update.pk} changed under ${MAX_MERGE_ATTEMPTS} merges in a row; retry later`);
};

/** Writes a plan in its order; false as soon as one write finds its item changed since it was read (merge again). */
async function applyPlan(context: RouteContext, store: JobHistoryStore, pk: string, plan: JobPlan): Promise<boolean> {
  const writeHistory = async (writes: readonly (HistoryWrite<JobCheckpoint> | HistoryWrite<JobTransition>)[]) => {
    for (const write of writes) {
      if (!(await dependency(`could not write the job history of ${pk}`, () => putHistoryItem(store, pk, write)))) return false;
    }
    return true;
  };
  if (!(await writeHistory(plan.before))) return false;
  if (plan.job !== undefined && !(await writeJob(context, pk, plan.job))) return false;
  return writeHistory([...plan.checkpoints, ...plan.transitions]);
}

/** A read or write of the job history; a failure is the dependency's, retried with the event. */
async function dependency<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new ConsumerDependencyError(what, { cause: error });
  }
}

/**
 * The transition an event reports: `{provider}#{subject}#{state}` (`…#completed`, `…#failed`,
 * `…#started`, `…#cancelled`, `…#expired`), and `…#running@{step}` for a checkpoint, since each checkpoint is its own
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

async function readJob(context: RouteContext, pk: string): Promise<Partial<JobItem> | undefined> {
  try {
    const result = await context.documents.send(
      new GetCommand({ TableName: context.jobsTableName, Key: { [JOBS_TABLE.partitionKey]: pk }, ConsistentRead: true }),
    );
    return result.Item as Partial<JobItem> | undefined;
  } catch (error) {
    throw new ConsumerDependencyError(`could not read the jobs projection for ${pk}`, { cause: error });
  }
}

/** Writes a merge; false when the item changed since it was read (merge again). */
async function writeJob(context: RouteContext, pk: string, write: JobWrite): Promise<boolean> {
  const entries = Object.entries(write.set);
  const names: Record<string, string> = { '#pk': JOBS_TABLE.partitionKey };
  const values: Record<string, unknown> = {};
  entries.forEach(([name, value], index) => {
    names[`#s${index}`] = name;
    values[`:s${index}`] = value;
  });
  write.remove.forEach((name, index) => (names[`#r${index}`] = name));
  let condition = 'attribute_not_exists(#pk)';
  if (write.expectedVersion !== undefined) {
    names['#version'] = 'version';
    condition = 'attribute_exists(#pk) AND attribute_not_exists(#version)';
  }
  if (typeof write.expectedVersion === 'number') {
    condition = 'attribute_exists(#pk) AND #version = :expected';
    values[':expected'] = write.expectedVersion;
  }
  const remove = write.remove.map((_, index) => `#r${index}`);
  try {
    await context.documents.send(
      new UpdateCommand({
        TableName: context.jobsTableName,
        Key: { [JOBS_TABLE.partitionKey]: pk },
        UpdateExpression: `SET ${entries.map((_, index) => `#s${index} = :s${index}`).join(', ')}${remove.length === 0 ? '' : ` REMOVE ${remove.join(', ')}`}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw new ConsumerDependencyError(`could not update the jobs projection for ${pk}`, { cause: error });
  }
}
