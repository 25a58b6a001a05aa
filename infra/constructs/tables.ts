import type { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { EVENTS_TABLE, JOB_HISTORY_TABLE, JOBS_TABLE } from '../../functions/core/table';

/** The receiver's tables. */
export interface ReceiverTables {
  /** One item per `{provider}#{eventId}`: the idempotency record and the event log. */
  readonly events: Table;
  /** The latest state of each job and batch, written by the consumers. */
  readonly jobs: Table;
  /** Each job's checkpoints and states, one item each under the job's key. */
  readonly jobHistory: Table;
}

/**
 * The events, jobs and job-history tables with their indexes, as `functions/core/table.ts` defines them: on
 * demand, encrypted, with point-in-time recovery. Created in `scope` itself, so that their
 * construct ids (and logical ids) are those of the construct.
 */
export function createTables(scope: Construct, removalPolicy: RemovalPolicy): ReceiverTables {
  const index = EVENTS_TABLE.byTimeIndex;
  const events = new Table(scope, 'EventsTable', {
    partitionKey: { name: EVENTS_TABLE.partitionKey, type: AttributeType.STRING },
    timeToLiveAttribute: EVENTS_TABLE.ttlAttribute,
    billingMode: BillingMode.PAY_PER_REQUEST,
    encryption: TableEncryption.AWS_MANAGED,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy,
  });
  events.addGlobalSecondaryIndex({
    indexName: index.name,
    partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
    sortKey: { name: index.sortKey, type: AttributeType.STRING },
    projectionType: ProjectionType.INCLUDE,
    nonKeyAttributes: [...index.projectedAttributes],
  });
  const jobs = new Table(scope, 'JobsTable', {
    partitionKey: { name: JOBS_TABLE.partitionKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    encryption: TableEncryption.AWS_MANAGED,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy,
  });
  jobs.addGlobalSecondaryIndex({
    indexName: JOBS_TABLE.byActiveDayIndex.name,
    partitionKey: { name: JOBS_TABLE.byActiveDayIndex.partitionKey, type: AttributeType.STRING },
    projectionType: ProjectionType.INCLUDE,
    nonKeyAttributes: [...JOBS_TABLE.byActiveDayIndex.projectedAttributes],
  });
  // Beside the jobs table, not in it: adding a sort key to a table replaces it (and its data).
  const jobHistory = new Table(scope, 'JobHistoryTable', {
    partitionKey: { name: JOB_HISTORY_TABLE.partitionKey, type: AttributeType.STRING },
    sortKey: { name: JOB_HISTORY_TABLE.sortKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    encryption: TableEncryption.AWS_MANAGED,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy,
  });
  return { events, jobs, jobHistory };
}
