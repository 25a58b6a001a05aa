import { Duration, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import { Match, Rule, type IEventBus } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption, RedrivePermission } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUS_SOURCE_PREFIX } from '../../functions/core/bus';
import { checkListenerName, LISTENER_QUEUE_SETTINGS, LISTENER_SECRET_CHARACTERS, listenerPascal } from '../../functions/core/listeners';
import { ROUTES } from '../../functions/core/routes';

/** Properties of {@link WebhookListeners}. */
export interface WebhookListenersProps {
  /** The bus the consumers publish handled events to. */
  readonly eventBus: IEventBus;
  /** One listener per name: 1 to 20 lowercase letters and digits, starting with a letter. */
  readonly names: readonly string[];
  /** Applied to the queues and the secrets. */
  readonly removalPolicy: RemovalPolicy;
}

/** One developer's listener: the queue `webhooks listen` reads, its dead-letter queue, its rule and its secret. */
export interface WebhookListener {
  readonly name: string;
  /** Every event of every route put on the bus, kept {@link LISTENER_QUEUE_SETTINGS.retentionSeconds}. */
  readonly queue: Queue;
  /** Where an event goes after {@link LISTENER_QUEUE_SETTINGS.maxReceiveCount} failed forwards. */
  readonly deadLetterQueue: Queue;
  /** The bus rule that copies every event to {@link queue}: the only sender its queue policy allows. */
  readonly rule: Rule;
  /** The Standard Webhooks key `webhooks listen` signs forwards with (generated; `whsec_` + the value). */
  readonly secret: Secret;
}

/**
 * Listener queues on the event bus: per name, a queue (SSE, TLS only, a dead-letter queue behind
 * it) subscribed to every route's events by its own rule, and a generated signing secret. A
 * developer's `webhooks listen` long-polls the queue, so that events put on the bus while the
 * laptop sleeps wait for it, up to the queue's retention.
 */
export class WebhookListeners extends Construct {
  /** The listeners, by name. */
  public readonly listeners: ReadonlyMap<string, WebhookListener>;

  constructor(scope: Construct, id: string, props: WebhookListenersProps) {
    super(scope, id);
    if (new Set(props.names).size !== props.names.length) throw new Error(`listeners lists a name twice: ${props.names.join(', ')}`);
    const listeners = new Map<string, WebhookListener>();
    for (const name of props.names) {
      checkListenerName(name);
      listeners.set(name, this.createListener(name, props));
    }
    this.listeners = listeners;
  }

  private createListener(name: string, props: WebhookListenersProps): WebhookListener {
    const pascal = listenerPascal(name);
    const deadLetterQueue = new Queue(this, `${pascal}DeadLetterQueue`, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(LISTENER_QUEUE_SETTINGS.deadLetterRetentionSeconds),
      redriveAllowPolicy: { redrivePermission: RedrivePermission.ALLOW_ALL },
      removalPolicy: props.removalPolicy,
    });
    const queue = new Queue(this, `${pascal}Queue`, {
      // SQS-managed keys: EventBridge can send to the queue with no key policy to write.
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(LISTENER_QUEUE_SETTINGS.retentionSeconds),
      visibilityTimeout: Duration.seconds(LISTENER_QUEUE_SETTINGS.visibilityTimeoutSeconds),
      receiveMessageWaitTime: Duration.seconds(LISTENER_QUEUE_SETTINGS.waitTimeSeconds),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: LISTENER_QUEUE_SETTINGS.maxReceiveCount },
      removalPolicy: props.removalPolicy,
    });
    // Every route and provider of ours: `webhooks listen --route/--provider` narrows on the laptop,
    // so that a developer changes what they take without a deploy.
    const rule = new Rule(this, `${pascal}Rule`, {
      eventBus: props.eventBus,
      description: `Every webhook event to listener ${name}`,
      eventPattern: { source: Match.prefix(BUS_SOURCE_PREFIX), detailType: [...ROUTES] },
    });
    // The target adds the queue policy: events.amazonaws.com may send, only for this rule's ARN.
    rule.addTarget(new SqsQueue(queue));
    const secret = new Secret(this, `${pascal}Secret`, {
      description: `Standard Webhooks signing key of listener ${name}: whsec_ followed by this value. webhooks listen --print-secret shows it.`,
      generateSecretString: { passwordLength: LISTENER_SECRET_CHARACTERS, excludePunctuation: true, includeSpace: false },
      removalPolicy: props.removalPolicy,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A development listener key, read only by its developer\'s webhooks listen: rotate it by hand with rotate-secret when needed; no rotation function runs.',
    });
    return { name, queue, deadLetterQueue, rule, secret };
  }
}
