import type { Logger } from '@aws-lambda-powertools/logger';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RouteEvent } from '../../core/event';
import type { Route } from '../../core/routes';
import type { JobHistory } from './job-plan';

/**
 * Whose once-record a step's `once` keeps: `transition` (the default) once for the job transition
 * the event reports, whichever of its events gets there first (a Together push and a poll of the
 * same completion are two events); `event` once for this event. For an event that reports no job
 * transition (see {@link RouteContext.transitionKey}) both are the event.
 */
export type OnceScope = 'transition' | 'event';

export interface OnceOptions {
  /** Default `transition`. */
  readonly scope?: OnceScope;
}

/** What a route step gets besides the event: clients, configuration, and the attempt's helpers. */
export interface RouteContext {
  /** `{provider}#{eventId}`: this event. */
  readonly key: string;
  /**
   * `{provider}#{subject}#{state}` (a checkpoint: `…#running@{step}`) when the event reports a job
   * or batch transition, shared by every event of that transition; undefined otherwise.
   */
  readonly transitionKey: string | undefined;
  /** 1 on the first attempt at this event. */
  readonly attempt: number;
  /** When this attempt started. */
  readonly now: Date;
  readonly documents: DynamoDBDocumentClient;
  readonly sns: SNSClient;
  readonly jobsTableName: string;
  /** The job-history table: a job's checkpoints and states, one item each under the job's key (see `JOB_HISTORY_TABLE`). */
  readonly jobHistoryTableName: string;
  /**
   * A job's history as `webhooks jobs show` shows it: its checkpoints (step order, the highest
   * 500) and its states (time order), from its history items and what an item written before them
   * holds itself. `key` is `{provider}#{job or batch id}`, by default the event's job; undefined
   * when the projection has no such job. Reads, consistent: the built-in projection runs first.
   */
  jobHistory(key?: string): Promise<JobHistory | undefined>;
  readonly alertsTopicArn: string;
  readonly logger: Logger;
  /**
   * Keeps a remark on the event's record (`note`) when this attempt ends handled, e.g. what the
   * provider's API could not fill: `webhooks events show` and the console's event view show it.
   */
  note(text: string): void;
  /**
   * The idempotency key of step `name` in `scope`: `{transitionKey}#{name}` (or `{key}#{name}` for
   * scope `event` and for events without a transition). Stable across retries, redrives and
   * replays, and the same for a push and a poll of one transition: pass it to the API the step
   * calls, so that the target itself drops a repeat. `once` hands the same key to its effect.
   */
  idempotencyKey(name: string, options?: OnceOptions): string;
  /**
   * Runs `effect` unless step `name` already completed in its scope, then records it; by default
   * once per job transition, so that a push and a poll of the same transition, retries, redrives
   * and replays run it once between them (`{ scope: 'event' }`: once per event, run again on a
   * replay). While one event runs it, another event of the transition fails and is retried; an
   * effect that throws leaves the step to the next attempt of either event.
   *
   * The record is written after the effect (retried a few times with backoff if the write fails),
   * so it is not a transaction: if the function dies between the effect and its record, or the
   * record cannot be written at all, the next attempt runs the effect again. For an external
   * effect, pass the `idempotencyKey` the effect receives to the target to close that window.
   */
  once(name: string, effect: (idempotencyKey: string) => Promise<void>, options?: OnceOptions): Promise<void>;
}

/**
 * One piece of a route's logic. Steps run in order for each event; a step that throws fails the
 * event, which is retried. A step may therefore run again for the same event: make it idempotent
 * (a conditional write, or `context.idempotencyKey(name)` as the idempotency key of the API it
 * calls) or wrap it in `context.once`. A step of one route (`RouteStep<'fine_tune.completed'>`)
 * gets that route's event, its `data` typed; a step of every route (`RouteStep`) gets any event.
 */
export type RouteStep<in R extends Route = Route> = (event: RouteEvent<R>, context: RouteContext) => Promise<void>;

/**
 * Completes an event from its provider's API before the route's steps run, for providers whose
 * events carry only an object's id (OpenAI): the steps, the projection and the bus get the event it
 * returns, `data` filled, never another route or key. Reads only: a retried attempt reads again.
 * It throws to fail the attempt (retried, then the dead-letter queue), and returns the event as it
 * came when the provider has nothing more to say.
 */
export type Enricher = <R extends Route>(event: RouteEvent<R>, context: RouteContext) => Promise<RouteEvent<R>>;
