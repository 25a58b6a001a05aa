import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { busEntryFor, type BusEntry } from '../core/bus';
import { ConsumerDependencyError } from './errors';
import type { RouteStep } from './routes/context';

/**
 * Where a consumer publishes its handled events: an EventBridge bus in AWS, a recorder under
 * `npm start` (`local/bus.ts`). `publish` resolves once the entry is on the bus and throws
 * otherwise, so that a failed put fails the attempt.
 */
export interface BusPublisher {
  publish(entry: BusEntry, context: { readonly key: string }): Promise<void>;
}

/** The name of the step (and of its once-record in the event's record). */
export const PUBLISH_STEP = 'eventbridge';

export interface EventBridgePublisherOptions {
  readonly client: Pick<EventBridgeClient, 'send'>;
  /** The bus's name or ARN (`EVENT_BUS_NAME`). */
  readonly eventBusName: string;
  /**
   * The X-Ray trace header of the current invocation, when it is traced: EventBridge passes it on
   * to the rules' targets, so that a target's trace continues the consumer's.
   */
  readonly traceHeader?: () => string | undefined;
}

/**
 * Puts each entry on the bus with one PutEvents call. PutEvents answers 200 even when it refused
 * the entry (`FailedEntryCount`, the entry's `ErrorCode`); that is a failure here too, as is a
 * thrown error: the attempt fails and the event is retried, and after the queue's
 * `maxReceiveCount` it waits in the route's dead-letter queue. Never dropped.
 */
export function eventBridgePublisher(options: EventBridgePublisherOptions): BusPublisher {
  return {
    async publish(entry, { key }) {
      const traceHeader = options.traceHeader?.();
      let result;
      try {
        result = await options.client.send(
          new PutEventsCommand({
            Entries: [{ ...entry, EventBusName: options.eventBusName, ...(traceHeader === undefined ? {} : { TraceHeader: traceHeader }) }],
          }),
        );
      } catch (error) {
        throw new ConsumerDependencyError(`could not put ${key} on event bus ${options.eventBusName}`, { cause: error });
      }
      if ((result.FailedEntryCount ?? 0) > 0) {
        const failed = result.Entries?.[0];
        throw new ConsumerDependencyError(
          `event bus ${options.eventBusName} refused ${key}: ${failed?.ErrorCode ?? 'no error code'} ${failed?.ErrorMessage ?? ''}`.trim(),
        );
      }
    },
  };
}

/**
 * The step that publishes a handled event to the bus: last of the route's steps, so that an
 * event is published only once everything before it succeeded, and once per event (its
 * once-record is in the event's own record): a retry after a failure, or a redelivery of a handled
 * event, does not publish it again; a replay (`webhooks replay`) does, as it runs every step again.
 * A push and a poll of the same job transition are two events, and both are published: each
 * carries its own id.
 */
export function publishToBus(publisher: BusPublisher): RouteStep {
  return async (event, context) => {
    await context.once(PUBLISH_STEP, () => publisher.publish(busEntryFor(event), { key: context.key }), { scope: 'event' });
  };
}
