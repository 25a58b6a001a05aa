import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { Archive, EventBus, Match, Rule, type EventPattern, type IEventBus, type IRuleTarget } from 'aws-cdk-lib/aws-events';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { BUS_SOURCE_PREFIX, busSource } from '../../functions/core/bus';
import { PROVIDER_NAMES, type ProviderName } from '../../functions/core/event';
import { routePascal, type Route } from '../../functions/core/routes';
import { MIN_RECORD_RETENTION_SECONDS, recordRetentionSeconds } from '../../functions/core/table';
import { routeList } from './consumer-settings';

/**
 * The least time the events table keeps an event's record after the event is put on the bus,
 * whatever the retention settings: 29 days (the consumer marks the record handled after the put,
 * and every transition keeps it at least that long).
 */
export const MIN_RECORD_LIFETIME = Duration.days(Math.floor(MIN_RECORD_RETENTION_SECONDS / 86_400));

/**
 * The least time the events table keeps any record after its event is put on the bus, given every
 * configured retention in days (`retentionDays` and each `retentionDaysByProvider`): the shortest,
 * as a record keeps it (never under {@link MIN_RECORD_LIFETIME}).
 */
export function recordLifetime(retentionDays: readonly number[]): Duration {
  return Duration.days(recordRetentionSeconds(Math.min(...retentionDays) * 86_400) / 86_400);
}

/**
 * How long the archive keeps events unless `eventArchiveRetention` says otherwise: as long as every
 * record is kept at least, so that an archived entry of an event over 256 KB, which carries only
 * its record's key, still finds the record when it is replayed.
 */
export const DEFAULT_EVENT_ARCHIVE_RETENTION = MIN_RECORD_LIFETIME;

/** Properties of {@link WebhookEventBus}. */
export interface WebhookEventBusProps {
  /** `true` creates a bus; an existing bus (of this account) is used as it is. */
  readonly eventBus: true | IEventBus;
  /** How long the archive keeps events, in whole days; never longer than `recordLifetime`. */
  readonly archiveRetention: Duration;
  /**
   * The least time the events table keeps an event's record after the event is put on the bus:
   * the shortest retention any record gets, and never under {@link MIN_RECORD_LIFETIME}.
   * @default MIN_RECORD_LIFETIME (29 days)
   */
  readonly recordLifetime?: Duration;
  /** Applied to the bus this creates and to the archive. */
  readonly removalPolicy: RemovalPolicy;
}

/** Options of {@link WebhookEventBus.addRule} (and of `WebhookReceiver.onEvent`). */
export interface OnEventOptions {
  /**
   * Only events of these providers (a `source` of `ai-webhooks.{provider}` each).
   * @default - every provider
   */
  readonly providers?: readonly ProviderName[];
  /**
   * More of the pattern, on the event's fields: e.g. `{ data: { baseModel: [{ prefix: 'meta-llama/' }] } }`
   * or `{ subject: ['ft-abc'] }`. Matched against the `detail` of each entry (the normalized event).
   * @default - any detail
   */
  readonly detail?: EventPattern['detail'];
  /**
   * The rule's construct id (it names the rule's CloudFormation resource). Give one to keep a rule
   * stable when you change its routes, or to add a second rule for the same routes.
   * @default `On` + the routes in PascalCase, e.g. `OnFineTuneCompleted`
   */
  readonly id?: string;
  /** @default - none */
  readonly description?: string;
}

/**
 * The EventBridge side of the receiver: the bus every consumer publishes its handled events to
 * (created, or one you pass), an archive of those events (replayable with EventBridge's own
 * StartReplay), the one permission each consumer gets (events:PutEvents on that bus only), and a
 * rule per `addRule` call.
 */
export class WebhookEventBus extends Construct {
  /** The bus the consumers put events on. */
  public readonly eventBus: IEventBus;
  /** Every event the consumers put on the bus (`source` prefix `ai-webhooks.`), for replays. */
  public readonly archive: Archive;
  /** The rules added with {@link addRule}. */
  public readonly rules: Rule[] = [];

  constructor(scope: Construct, id: string, props: WebhookEventBusProps) {
    super(scope, id);
    const retention = props.archiveRetention;
    if (!Token.isUnresolved(retention.toSeconds()) && !Number.isInteger(retention.toDays({ integral: false }))) {
      throw new Error(`eventArchiveRetention must be whole days, got ${retention.toHumanString()}`);
    }
    checkArchiveRetention(retention, props.recordLifetime ?? MIN_RECORD_LIFETIME);
    if (props.eventBus === true) {
      const bus = new EventBus(this, 'Bus', { description: 'Handled webhook events of the AI platforms, one entry per event' });
      bus.applyRemovalPolicy(props.removalPolicy);
      this.eventBus = bus;
    } else {
      this.eventBus = props.eventBus;
    }
    this.archive = new Archive(this, 'Archive', {
      sourceEventBus: this.eventBus,
      description: 'Every webhook event put on the bus, for replays',
      // Only ours: a bus passed in may carry other applications' events too.
      eventPattern: { source: Match.prefix(BUS_SOURCE_PREFIX) },
      retention,
    });
    this.archive.applyRemovalPolicy(props.removalPolicy);
  }

  /** Lets each consumer put events on the bus (events:PutEvents on this bus alone) and names the bus to it. */
  connectConsumers(consumers: readonly LambdaFunction[]): void {
    for (const consumer of consumers) {
      this.eventBus.grantPutEventsTo(consumer);
      // PutEvents takes the bus's ARN as its name, which also works for a bus of another stack.
      consumer.addEnvironment('EVENT_BUS_NAME', this.eventBus.eventBusArn);
    }
  }

  /**
   * A rule that sends the events of `routes` to `target`: `detail-type` one of the routes,
   * `source` one of ours (`ai-webhooks.{provider}`, all providers unless `options.providers`),
   * and `options.detail` when given.
   */
  addRule(routes: Route | readonly Route[], target: IRuleTarget, options: OnEventOptions = {}): Rule {
    const list = routeList(routes, 'onEvent');
    for (const provider of options.providers ?? []) {
      if (!(PROVIDER_NAMES as readonly string[]).includes(provider)) {
        throw new Error(`onEvent: providers names unknown provider "${String(provider)}"; known: ${PROVIDER_NAMES.join(', ')}`);
      }
    }
    const id = options.id ?? `On${list.map(routePascal).join('')}`;
    if (this.node.tryFindChild(id) !== undefined) {
      throw new Error(`onEvent: a rule with id "${id}" exists already; pass options.id to name this one`);
    }
    const rule = new Rule(this, id, {
      eventBus: this.eventBus,
      description: options.description ?? `Webhook events ${list.join(', ')} to their target`,
      eventPattern: {
        source: options.providers === undefined ? Match.prefix(BUS_SOURCE_PREFIX) : options.providers.map(busSource),
        detailType: [...list],
        ...(options.detail === undefined ? {} : { detail: options.detail }),
      },
      targets: [target],
    });
    this.rules.push(rule);
    return rule;
  }
}

/**
 * Throws when the archive would keep an entry longer than the record it may point at: an event
 * over 256 KB is put on the bus as a reference to its record, and a replay from the archive after
 * the record is gone could not read the event. An archive kept indefinitely (0 days) outlives
 * every record.
 */
function checkArchiveRetention(retention: Duration, recordLifetime: Duration): void {
  if (Token.isUnresolved(retention.toSeconds()) || Token.isUnresolved(recordLifetime.toSeconds())) return;
  const archiveDays = retention.toDays();
  const recordDays = recordLifetime.toDays({ integral: false });
  if (archiveDays !== 0 && archiveDays <= recordDays) return;
  throw new Error(
    `eventArchiveRetention (${archiveDays === 0 ? 'indefinitely' : `${archiveDays} days`}) is longer than event records are kept ` +
      `(${recordDays} days): an archived entry of an event over 256 KB holds only its record's key, and could not be replayed once ` +
      `the record is gone. Give at most ${recordDays} days` +
      (archiveDays === 0 ? '' : `, or raise retentionDays (and every retentionDaysByProvider) to at least ${archiveDays}`),
  );
}
