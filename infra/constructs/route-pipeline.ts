import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type AlarmProps, type IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { AnyPrincipal, Effect, PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption, RedrivePermission } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CONSUMER_METRICS_SERVICE, NO_RECORD_METRIC } from '../../functions/consumers/config';
import { QUEUE_SETTINGS } from '../../functions/core/queues';
import { routeSlug, type Route } from '../../functions/core/routes';
import { BundledFunction, type FunctionLogLevel } from './bundled-function';
import { grantItemAccess, CONSUMER_HISTORY_ACTIONS, CONSUMER_TABLE_ACTIONS } from './grants';
import { acknowledgeGuardRule } from './guard';

/** The name the consumers import their steps by (package.json `imports`; `functions/consumers/deployed.ts`). */
export const STEPS_IMPORT = '#steps';

/**
 * How long the consumer's trigger may wait to fill a batch. Events are few and someone may be
 * waiting on them (a pipeline reacting to a finished fine-tune), so the wait is kept short.
 */
export const CONSUMER_BATCHING_WINDOW = Duration.seconds(1);

/**
 * The IAM tag that lets a person or role of the account send to the route queues (replay, and a
 * dead-letter redrive, which sends as its caller): `webhooks-operator` = `true` on the IAM user or
 * role. Every other principal but the stack's own senders is refused `sqs:SendMessage`.
 */
export const OPERATOR_TAG = { key: 'webhooks-operator', value: 'true' } as const;

/** The queue settings the pipeline relies on; {@link checkQueueSettings} checks them at synth. */
export type QueueSettings = { readonly [name in keyof typeof QUEUE_SETTINGS]: number };

/**
 * Throws when queue settings break what the consumers rely on, so that `cdk synth` fails rather
 * than the deployed stack.
 */
export function checkQueueSettings(settings: QueueSettings = QUEUE_SETTINGS): void {
  // Lambda's SQS trigger can retry a message only after its visibility timeout, and AWS
  // recommends six times the function timeout so that throttled retries do not spill early.
  if (settings.visibilityTimeoutSeconds < 6 * settings.consumerTimeoutSeconds) {
    throw new Error(
      `QUEUE_SETTINGS.visibilityTimeoutSeconds (${settings.visibilityTimeoutSeconds}) must be at least six times consumerTimeoutSeconds (${settings.consumerTimeoutSeconds})`,
    );
  }
  // SQS counts a dead letter's age from its first enqueue: a shorter dead-letter retention would
  // delete a message the moment it moved there.
  if (settings.deadLetterRetentionSeconds < settings.retentionSeconds) {
    throw new Error(
      `QUEUE_SETTINGS.deadLetterRetentionSeconds (${settings.deadLetterRetentionSeconds}) must be at least retentionSeconds (${settings.retentionSeconds})`,
    );
  }
}

/** Properties of {@link RoutePipeline}. */
export interface RoutePipelineProps {
  readonly route: Route;
  /** The consumer's entry file (exports `handler`, an SQS batch handler). */
  readonly consumerEntry: string;
  readonly eventsTable: ITable;
  readonly jobsTable: ITable;
  /** Each job's checkpoints and states, one item each. */
  readonly jobHistoryTable: ITable;
  readonly alertsTopic: ITopic;
  /** The alias of the key the alerts topic is encrypted with, when it is known only by alias. */
  readonly alertsTopicKeyAlias?: string;
  /** `RETENTION_DAYS`: the consumer keeps a record it has to create as long as the receiver would. */
  readonly retentionDays: number;
  readonly metricsNamespace: string;
  readonly logRetention: RetentionDays;
  /** Applied to both queues and the consumer's log group. */
  readonly removalPolicy: RemovalPolicy;
  /** Where the dead-letter and message-age alarms go. */
  readonly alarmAction: IAlarmAction;
  /** The age of the oldest message on the queue above which its alarm fires. */
  readonly oldestMessageAgeThreshold: Duration;
  /** X-Ray tracing of the consumer (see `BundledFunctionProps.tracing`). @default true */
  readonly tracing?: boolean;
  /**
   * The consumer's own settings, for a route whose consumer does more than the others (batch
   * results copy files of several GB). The queue's visibility timeout follows the timeout.
   * @default - `QUEUE_SETTINGS` and 256 MB, as for every route
   */
  readonly consumerSettings?: ConsumerSettings;
  /** The consumer's log level (see `BundledFunctionProps.logLevel`). @default 'INFO' */
  readonly logLevel?: FunctionLogLevel;
  /** The user's steps module, bundled into the consumer as its `#steps` (see `WebhookReceiverProps.steps`). @default - none */
  readonly steps?: string;
}

/** A consumer's timeout, memory and batch size; see {@link RoutePipelineProps.consumerSettings}. */
export interface ConsumerSettings {
  /** At most 900 (Lambda's limit); the lease on an event is twice it, the visibility timeout six times. */
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** Records per invocation; they share the timeout. */
  readonly batchSize: number;
}

/**
 * One canonical route end to end: its queue, the dead-letter queue behind it, the consumer
 * function that drains it, and the two alarms that say it is stuck (a dead letter, or a message
 * waiting too long).
 */
export class RoutePipeline extends Construct {
  /** The canonical route this pipeline carries. */
  public readonly route: Route;
  /** The route's queue: the receiver sends, the consumer receives. */
  public readonly queue: Queue;
  /** Where a message goes after `QUEUE_SETTINGS.maxReceiveCount` failed receives. */
  public readonly deadLetterQueue: Queue;
  /** The route's consumer function (`functions/consumers/handler.ts` with `ROUTE` set). */
  public readonly consumer: BundledFunction;
  /** Fires when any message is on the dead-letter queue. */
  public readonly deadLetterAlarm: Alarm;
  /** Fires when the oldest message on the queue is older than the threshold. */
  public readonly oldestMessageAlarm: Alarm;
  /** Fires when the consumer receives a message whose event has no record: someone else sent it. */
  public readonly noRecordAlarm: Alarm;

  constructor(scope: Construct, id: string, props: RoutePipelineProps) {
    super(scope, id);
    this.route = props.route;
    const slug = routeSlug(props.route);
    const settings = props.consumerSettings;
    const timeoutSeconds = settings?.timeoutSeconds ?? QUEUE_SETTINGS.consumerTimeoutSeconds;
    const visibilityTimeoutSeconds = Math.max(QUEUE_SETTINGS.visibilityTimeoutSeconds, 6 * timeoutSeconds);

    checkQueueSettings();

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      // Declared a dead-letter queue (the queues that may use it: any, SQS's own default), with none
      // of its own: no function receives from it, and every peek at a dead letter is a receive, so a
      // redrive policy here would move dead letters on as they are read. Not `byQueue` naming the
      // route queue: that queue names this one, a cycle CloudFormation refuses.
      redriveAllowPolicy: { redrivePermission: RedrivePermission.ALLOW_ALL },
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(QUEUE_SETTINGS.deadLetterRetentionSeconds),
      maxMessageSizeBytes: QUEUE_SETTINGS.maxMessageBytes,
      removalPolicy: props.removalPolicy,
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(QUEUE_SETTINGS.retentionSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: QUEUE_SETTINGS.maxReceiveCount },
      maxMessageSizeBytes: QUEUE_SETTINGS.maxMessageBytes,
      removalPolicy: props.removalPolicy,
    });

    this.consumer = new BundledFunction(this, 'Consumer', {
      entry: props.consumerEntry,
      description: `Handles ${props.route} events from its queue`,
      timeout: Duration.seconds(timeoutSeconds),
      ...(settings === undefined ? {} : { memorySize: settings.memorySize }),
      environment: {
        ROUTE: props.route,
        TABLE_NAME: props.eventsTable.tableName,
        JOBS_TABLE_NAME: props.jobsTable.tableName,
        JOB_HISTORY_TABLE_NAME: props.jobHistoryTable.tableName,
        ALERTS_TOPIC_ARN: props.alertsTopic.topicArn,
        RETENTION_DAYS: String(props.retentionDays),
        ...(settings === undefined ? {} : { CONSUMER_TIMEOUT_SECONDS: String(timeoutSeconds) }),
      },
      serviceName: `consumer-${slug}`,
      metricsNamespace: props.metricsNamespace,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      ...(props.tracing === undefined ? {} : { tracing: props.tracing }),
      ...(props.logLevel === undefined ? {} : { logLevel: props.logLevel }),
      ...(props.steps === undefined ? {} : { aliases: { [STEPS_IMPORT]: props.steps } }),
    });

    // No filter criteria: Lambda deletes messages that do not match a filter, so routing is done
    // by the receiver choosing the queue, never by filtering here.
    this.consumer.handler.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: settings?.batchSize ?? QUEUE_SETTINGS.batchSize,
        maxBatchingWindow: CONSUMER_BATCHING_WINDOW,
        // A failed record is retried alone; the rest of the batch is not received again.
        reportBatchItemFailures: true,
      }),
    );
    grantItemAccess(props.eventsTable, this.consumer.handler, CONSUMER_TABLE_ACTIONS);
    grantItemAccess(props.jobsTable, this.consumer.handler, CONSUMER_TABLE_ACTIONS);
    grantItemAccess(props.jobHistoryTable, this.consumer.handler, CONSUMER_HISTORY_ACTIONS);
    props.alertsTopic.grantPublish(this.consumer.handler);
    if (props.alertsTopicKeyAlias !== undefined) {
      // Publishing to an encrypted topic uses its key; CDK grants that on key/* narrowed by a
      // kms:ResourceAliases condition, because an AWS managed key is known only by its alias.
      for (const finding of ['Action::kms:GenerateDataKey*', 'Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*']) {
        Validations.of(this.consumer).acknowledge({
          id: `AwsSolutions-IAM5[${finding}]`,
          reason: `Needed to publish to the alerts topic encrypted with ${props.alertsTopicKeyAlias}; the statement is limited by a kms:ResourceAliases condition to that alias, and no key ARN exists to name instead.`,
        });
      }
    }

    this.deadLetterAlarm = this.alarm('DeadLetterAlarm', props.alarmAction, {
      alarmDescription: `Events of route ${props.route} failed ${QUEUE_SETTINGS.maxReceiveCount} times and are on its dead-letter queue. Inspect them, fix the cause, then redrive.`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      evaluationPeriods: 1,
    });

    this.oldestMessageAlarm = this.alarm('OldestMessageAlarm', props.alarmAction, {
      alarmDescription: `Events of route ${props.route} have waited over ${props.oldestMessageAgeThreshold.toSeconds()} s on its queue: the consumer is failing, throttled or disabled.`,
      metric: this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: props.oldestMessageAgeThreshold.toSeconds(),
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    });

    this.noRecordAlarm = this.alarm('NoRecordAlarm', props.alarmAction, {
      alarmDescription:
        `A message on the ${props.route} queue carried an event with no record: the receiver never accepted it, so a principal allowed to send to the queue sent it. ` +
        'It was not handled and goes to the dead-letter queue. Find the sender (CloudTrail SendMessage), then delete the dead letter.',
      metric: new Metric({
        namespace: props.metricsNamespace,
        metricName: NO_RECORD_METRIC,
        dimensionsMap: { service: CONSUMER_METRICS_SERVICE, route: props.route },
        statistic: 'Sum',
        period: Duration.minutes(1),
      }),
      threshold: 0,
      evaluationPeriods: 1,
    });
  }

  /** An alarm on `threshold` being passed, with no data counted as fine, that notifies `action` when it fires and when it clears. */
  private alarm(id: string, action: IAlarmAction, props: Omit<AlarmProps, 'comparisonOperator' | 'treatMissingData'>): Alarm {
    const alarm = new Alarm(this, id, { ...props, comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: TreatMissingData.NOT_BREACHING });
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    return alarm;
  }

  /**
   * Refuses `sqs:SendMessage` on the route's queue to every principal except `senders` (the
   * stack's functions that accept events) and IAM principals tagged {@link OPERATOR_TAG}. The
   * senders still need their own grant; this only takes the right away from everyone else in the
   * account, whatever their identity policies say.
   */
  public allowSendersOnly(senders: readonly IRole[]): void {
    this.queue.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: {
          ArnNotEquals: { 'aws:PrincipalArn': senders.map((role) => role.roleArn) },
          StringNotEquals: { [`aws:PrincipalTag/${OPERATOR_TAG.key}`]: OPERATOR_TAG.value },
        },
      }),
    );
  }
}
