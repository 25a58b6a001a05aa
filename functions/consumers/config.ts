import { integerEnv, readRetentionSeconds, requireEnv } from '../core/config';
import { ConfigurationError } from '../core/errors';
import { QUEUE_SETTINGS } from '../core/queues';
import { isRoute, ROUTES, type Route } from '../core/routes';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * How long a consumer's claim on an event lasts. At least the function's timeout, so a live
 * invocation is never overtaken; well under the visibility timeout (180 s), so the redelivery of
 * a message whose consumer died finds the lease expired and takes the event over.
 */
export const CONSUMER_LEASE_SECONDS = 2 * QUEUE_SETTINGS.consumerTimeoutSeconds;

/** The `service` dimension of every consumer's metrics. */
export const CONSUMER_METRICS_SERVICE = 'consumer';

/**
 * The metric a message whose event has no record counts (dimensions `service`, `route`): such a
 * message was not sent by the receiver. The stack alarms on it.
 */
export const NO_RECORD_METRIC = 'NoRecord';

export interface ConsumerConfig {
  /** The route this function consumes: one function per route, all from one entry file. */
  readonly route: Route;
  /** The events table: the idempotency record and event log the receiver writes. */
  readonly tableName: string;
  /** The jobs projection table. */
  readonly jobsTableName: string;
  /** The job-history table: each job's checkpoints and states, one item each. */
  readonly jobHistoryTableName: string;
  /** The SNS topic alerts are published to. */
  readonly alertsTopicArn: string;
  /** Retention of an event record the consumer has to create (the receiver's one expired or never existed). */
  readonly retentionSeconds: number;
  readonly leaseSeconds: number;
  /** The EventBridge bus each handled event is published to; unset when the deployment has none. */
  readonly eventBusName?: string;
  /** The bucket batch results are copied to; set only where batch results are on. */
  readonly resultsBucket?: string;
}

/** The longest consumer timeout: Lambda's. */
const MAX_CONSUMER_TIMEOUT_SECONDS = 900;

/**
 * The consumer's whole configuration, read once at start-up: `ROUTE`, `TABLE_NAME`,
 * `JOBS_TABLE_NAME`, `JOB_HISTORY_TABLE_NAME`, `ALERTS_TOPIC_ARN` (all required, for every route, so that every consumer
 * is deployed the same way), `RETENTION_DAYS` (optional, as for the receiver), `EVENT_BUS_NAME`
 * (optional: the bus to publish handled events to), `CONSUMER_TIMEOUT_SECONDS` (optional, the
 * function's timeout when longer than the default; the lease is twice it) and
 * `RESULTS_BUCKET_NAME` (optional: batch results on).
 */
export function readConsumerConfig(env: Env = process.env): ConsumerConfig {
  const route = requireEnv(env, 'ROUTE');
  if (!isRoute(route)) {
    throw new ConfigurationError(`ROUTE must be one of ${ROUTES.join(', ')}, got "${route}"`);
  }
  const resultsBucket = env.RESULTS_BUCKET_NAME?.trim() || undefined;
  return {
    route,
    tableName: requireEnv(env, 'TABLE_NAME'),
    jobsTableName: requireEnv(env, 'JOBS_TABLE_NAME'),
    jobHistoryTableName: requireEnv(env, 'JOB_HISTORY_TABLE_NAME'),
    alertsTopicArn: requireEnv(env, 'ALERTS_TOPIC_ARN'),
    retentionSeconds: readRetentionSeconds(env),
    // A consumer given a longer timeout (batch results copy large files) holds its lease as long.
    leaseSeconds:
      2 * integerEnv(env, 'CONSUMER_TIMEOUT_SECONDS', QUEUE_SETTINGS.consumerTimeoutSeconds, QUEUE_SETTINGS.consumerTimeoutSeconds, MAX_CONSUMER_TIMEOUT_SECONDS),
    ...(env.EVENT_BUS_NAME === undefined || env.EVENT_BUS_NAME.trim() === '' ? {} : { eventBusName: env.EVENT_BUS_NAME.trim() }),
    ...(resultsBucket === undefined ? {} : { resultsBucket }),
  };
}
