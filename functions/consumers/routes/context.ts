import type { Logger } from '@aws-lambda-powertools/logger';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RouteEvent } from '../../core/event';
import type { Route } from '../../core/routes';

/** What a route step gets besides the event: clients, configuration, and the attempt's helpers. */
export interface RouteContext {
  /** `{provider}#{eventId}`: a stable idempotency key to hand to any API a step calls. */
  readonly key: string;
  /** 1 on the first attempt at this event. */
  readonly attempt: number;
  /** When this attempt started. */
  readonly now: Date;
  readonly documents: DynamoDBDocumentClient;
  readonly sns: SNSClient;
  readonly jobsTableName: string;
  readonly alertsTopicArn: string;
  readonly logger: Logger;
  /**
   * Runs `effect` unless an earlier attempt at this event already completed a step of this name,
   * then records it. Use it for an effect that must not be repeated when a later step fails and the
   * event is retried (a notification, a call that starts something). Not a transaction: if the
   * function dies between the effect and its record, the retry runs it again.
   */
  once(name: string, effect: () => Promise<void>): Promise<void>;
}

/**
 * One piece of a route's logic. Steps run in order for each event; a step that throws fails the
 * event, which is retried. A step may therefore run again for the same event: make it idempotent
 * (a conditional write, or the event key as the idempotency key of the API it calls) or wrap it
 * in `context.once`. A step of one route (`RouteStep<'fine_tune.completed'>`) gets that route's
 * event, its `data` typed; a step of every route (`RouteStep`) gets any event.
 */
export type RouteStep<in R extends Route = Route> = (event: RouteEvent<R>, context: RouteContext) => Promise<void>;
