import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { eventKey } from '../core/event';
import type { Route } from '../core/routes';
import { NO_RECORD_METRIC, type ConsumerConfig } from './config';
import { ConsumerError, NoRecordError, PoisonMessageError } from './errors';
import { claimEvent, markFailed, markHandled, type LedgerDeps } from './ledger';
import { parseMessage } from './message';
import { onceHelpers } from './once';
import { publishToBus, type BusPublisher } from './publish';
import type { Extensions } from './steps';
import { stepsFor, type Enricher, type OptionalSteps, type RouteContext, type RouteStep } from './routes';
import { transitionKeyFor } from './routes/jobs';
import { readJobAndHistory } from './routes/job-store';

/** A consumer's dependencies; `steps` are those of its `route`, and get that route's events only. */
export interface ConsumerDeps<R extends Route = Route> {
  readonly route: R;
  readonly steps: readonly RouteStep<R>[];
  /** Completes the event from its provider's API before the steps; they get what it returns. */
  readonly enrich?: Enricher;
  readonly documents: DynamoDBDocumentClient;
  readonly sns: SNSClient;
  readonly tableName: string;
  readonly jobsTableName: string;
  readonly jobHistoryTableName: string;
  readonly alertsTopicArn: string;
  readonly leaseSeconds: number;
  readonly retentionSeconds: number;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Epoch milliseconds; tests move it past a lease. */
  readonly clock?: () => number;
  /** Waits between retries of a step's record; tests pass one that does not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Runs the handling of one record, e.g. inside its own trace subsegment (see the handler). */
  readonly traceRecord?: (record: SQSRecord, handle: () => Promise<RecordOutcome>) => Promise<RecordOutcome>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A route's consumer: the Lambda handler's logic, also driven by the local queue pollers. */
export type Consumer = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/** What happened to one record. */
export type RecordOutcome = 'handled' | 'duplicate';

/**
 * The one SQS wrapper every route's consumer is: Powertools' BatchProcessor runs the records in
 * parallel and reports each failed one in `batchItemFailures`, so only it is retried (and after
 * `maxReceiveCount` receives it moves to the dead-letter queue) while the rest are deleted.
 * For each record: parse (a poison message fails at once), claim the event record, run the
 * route's steps, mark it handled; on an error, mark it failed and let the record be retried.
 * A message whose event has no record runs nothing and fails every receive (counted `NoRecord`),
 * so that SQS moves it to the dead-letter queue: only the receiver's accept, or a replay, puts
 * an event on a queue, and always after writing its record.
 */
export function createConsumer<R extends Route>(deps: ConsumerDeps<R>): Consumer {
  const ledger: LedgerDeps = {
    documents: deps.documents,
    tableName: deps.tableName,
    leaseSeconds: deps.leaseSeconds,
    retentionSeconds: deps.retentionSeconds,
    clock: deps.clock ?? Date.now,
  };

  const handleRecord = async (record: SQSRecord, counts: BatchCounts): Promise<RecordOutcome> => {
    let event;
    try {
      event = parseMessage(record, deps.route);
    } catch (error) {
      if (error instanceof PoisonMessageError) {
        // The message id and the invalid fields' paths only: the body may hold customer data.
        deps.logger.error('poison message', {
          messageId: record.messageId,
          receiveCount: record.attributes.ApproximateReceiveCount,
          issues: error.issuePaths,
          // Names fields and, for an unknown schemaVersion, the version: never a value from the body.
          error: error.message,
        });
        counts.add('Failed', 'unknown');
      }
      throw error;
    }

    const claim = await claimEvent(ledger, event).catch((error: unknown) => {
      logFailure(deps, eventKey(event), record, error);
      if (error instanceof NoRecordError) counts.add(NO_RECORD_METRIC);
      else counts.add('Failed', event.provider);
      throw error;
    });
    if (claim.status === 'handled') {
      deps.logger.info('duplicate delivery of a handled event; skipped', { key: claim.key, messageId: record.messageId });
      counts.add('Duplicate', event.provider);
      return 'duplicate';
    }

    const { lease } = claim;
    const transitionKey = transitionKeyFor(event);
    const notes: string[] = [];
    const context: RouteContext = {
      key: lease.key,
      transitionKey,
      attempt: lease.attempts,
      now: new Date(ledger.clock()),
      documents: deps.documents,
      sns: deps.sns,
      jobsTableName: deps.jobsTableName,
      jobHistoryTableName: deps.jobHistoryTableName,
      jobHistory: async (key) => {
        const pk = key ?? (event.subject === undefined ? undefined : `${event.provider}#${event.subject}`);
        return pk === undefined ? undefined : readJobAndHistory({ documents: deps.documents, tableName: deps.jobHistoryTableName }, deps.jobsTableName, pk);
      },
      alertsTopicArn: deps.alertsTopicArn,
      logger: deps.logger,
      note: (text) => void notes.push(text),
      ...onceHelpers({ ledger, lease, transitionKey, jobsTableName: deps.jobsTableName, logger: deps.logger, sleep: deps.sleep ?? realSleep }),
    };
    try {
      const enriched = deps.enrich === undefined ? event : await deps.enrich(event, context);
      for (const step of deps.steps) await step(enriched, context);
      await markHandled(ledger, lease, notes);
    } catch (error) {
      await markFailed(ledger, lease, error).catch((markError: unknown) =>
        // The lease expires on its own; the retry claims the event then.
        deps.logger.warn('could not mark the event failed', { key: lease.key, error: String(markError) }),
      );
      logFailure(deps, lease.key, record, error);
      counts.add('Failed', event.provider);
      throw error;
    }
    // DEBUG: the record (status `handled`, `handledAt`) is the event log, and the receiver's accept
    // line is the one INFO line of an event; a second one per event doubles the log bill.
    deps.logger.debug('event handled', { key: lease.key, route: event.type, attempts: lease.attempts });
    counts.add('Handled', event.provider);
    return 'handled';
  };

  return async (event, context) => {
    // One processor per batch rather than per module: it keeps the batch's state, and the local
    // runtime runs every route's consumer in one process at once. It costs nothing to build.
    const processor = new BatchProcessor(EventType.SQS);
    const counts = new BatchCounts();
    const { traceRecord } = deps;
    const handle =
      traceRecord === undefined ? (record: SQSRecord) => handleRecord(record, counts) : (record: SQSRecord) => traceRecord(record, () => handleRecord(record, counts));
    try {
      return await processPartialResponse(event, handle, processor, {
        // Stryker disable next-line ConditionalExpression,EqualityOperator,ObjectLiteral: Powertools hands the context only to the record handler, which does not read it
        ...(context === undefined ? {} : { context }),
        // A batch whose records all failed is reported like any other: Lambda retries exactly the
        // listed records either way, and the local poller reads the same response. Throwing instead
        // would only add an invocation error on top of the per-record `Failed` metric.
        throwOnFullBatchFailure: false,
      });
    } finally {
      publishCounts(deps, counts);
    }
  };
}

/**
 * The consumer as deployed: configuration plus clients. Used by the Lambda handler and `npm start`
 * alike. With a `bus`, every handled event is published to it, after the route's other steps.
 */
export function consumerFromConfig(
  config: ConsumerConfig,
  clients: Pick<ConsumerDeps, 'documents' | 'sns' | 'logger' | 'metrics' | 'clock' | 'traceRecord'> & {
    steps?: readonly RouteStep[];
    /** The user's steps (the construct's `steps` module), run after the built-in ones; ignored with `steps`. */
    extensions?: Extensions;
    bus?: BusPublisher;
  } & OptionalSteps,
): Consumer {
  const builtIn = clients.steps ?? stepsFor(config.route, clients.extensions, clients.batchResults === undefined ? {} : { batchResults: clients.batchResults });
  return createConsumer({
    route: config.route,
    steps: [...builtIn, ...(clients.bus === undefined ? [] : [publishToBus(clients.bus)])],
    ...(clients.enrich === undefined ? {} : { enrich: clients.enrich }),
    documents: clients.documents,
    sns: clients.sns,
    tableName: config.tableName,
    jobsTableName: config.jobsTableName,
    jobHistoryTableName: config.jobHistoryTableName,
    alertsTopicArn: config.alertsTopicArn,
    leaseSeconds: config.leaseSeconds,
    retentionSeconds: config.retentionSeconds,
    logger: clients.logger,
    ...(clients.metrics === undefined ? {} : { metrics: clients.metrics }),
    ...(clients.clock === undefined ? {} : { clock: clients.clock }),
    ...(clients.traceRecord === undefined ? {} : { traceRecord: clients.traceRecord }),
  });
}

function logFailure(deps: Pick<ConsumerDeps, 'logger'>, key: string, record: SQSRecord, error: unknown): void {
  const reason = error instanceof ConsumerError ? error.reason : 'step_failed';
  const log = reason === 'lease_held' ? deps.logger.warn : deps.logger.error;
  log.call(deps.logger, 'event not handled; the message will be retried', {
    key,
    messageId: record.messageId,
    receiveCount: record.attributes.ApproximateReceiveCount,
    reason,
    error: error instanceof Error ? error.message : String(error),
    ...(error instanceof Error && error.cause !== undefined ? { cause: String(error.cause) } : {}),
  });
}

/**
 * A batch's counts, by provider: `Handled`, `Failed` and `Duplicate` per record, and `NoRecord`
 * (under no provider: the provider in such a message is whatever its sender wrote, and a dimension
 * per made-up value would be a metric of its own).
 */
class BatchCounts {
  readonly #byProvider = new Map<string | undefined, Map<string, number>>();

  add(name: 'Handled' | 'Failed' | 'Duplicate', provider: string): void;
  add(name: typeof NO_RECORD_METRIC): void;
  add(name: string, provider?: string): void {
    const counts = this.#byProvider.get(provider) ?? new Map<string, number>();
    counts.set(name, (counts.get(name) ?? 0) + 1);
    this.#byProvider.set(provider, counts);
  }

  entries(): IterableIterator<[string | undefined, Map<string, number>]> {
    return this.#byProvider.entries();
  }
}

/**
 * One metric line per provider in the batch (a batch is mostly one provider's), each count the
 * batch's sum: a line a batch instead of a line a record. Each provider's dimensions are set and
 * published with no await between, so no other code's metric can slip into its line.
 */
function publishCounts(deps: Pick<ConsumerDeps, 'route' | 'metrics'>, counts: BatchCounts): void {
  if (deps.metrics === undefined) return;
  for (const [provider, named] of counts.entries()) {
    deps.metrics.addDimensions(provider === undefined ? { route: deps.route } : { route: deps.route, provider });
    for (const [name, value] of named) deps.metrics.addMetric(name, MetricUnit.Count, value);
    deps.metrics.publishStoredMetrics();
  }
}
