import { PublishCommand } from '@aws-sdk/client-sns';
import type { NormalizedEvent } from '../../core/event';
import type { Route } from '../../core/routes';
import { ConsumerDependencyError } from '../errors';
import type { RouteStep } from './context';
import { eventFields, failureReason, firstNumber, firstString } from './fields';

/** One human-readable alert. */
export interface Alert {
  /** SNS subject (e-mail subject line): at most 100 printable characters. */
  readonly subject: string;
  readonly message: string;
}

type AlertFormatter = (event: NormalizedEvent, fields: Record<string, unknown>) => Alert;

const about = (event: NormalizedEvent, fields: Record<string, unknown>, names: readonly string[]) =>
  event.subject ?? firstString(fields, names) ?? '(unnamed)';

/** Some senders (Standard Webhooks) send only an id: their own type name still tells expired from cancelled. */
const noReason = (event: NormalizedEvent) => `no reason given (${event.providerType})`;

/** The routes that alert, and what they say. */
const ALERTS: Partial<Record<Route, AlertFormatter>> = {
  'fine_tune.failed': (event, fields) => {
    const job = about(event, fields, ['fine_tune_id', 'jobId', 'id']);
    return {
      subject: `Fine-tune ${job} failed (${event.provider})`,
      message: `Fine-tune job ${job} on ${event.provider} failed: ${failureReason(fields) ?? noReason(event)}.`,
    };
  },
  'batch.failed': (event, fields) => {
    const batch = about(event, fields, ['batch_id', 'id']);
    return {
      subject: `Batch ${batch} failed (${event.provider})`,
      message: `Batch ${batch} on ${event.provider} failed: ${failureReason(fields) ?? noReason(event)}.`,
    };
  },
  'model.deprecated': (event, fields) => {
    const model = about(event, fields, ['modelId', 'model_id', 'model', 'id']);
    const replacement = firstString(fields, ['replacementModel', 'replacement_model', 'replacement']);
    const sunset = sunsetDate(fields);
    return {
      subject: `Model ${model} deprecated (${event.provider})`,
      message:
        `Model ${model} on ${event.provider} is deprecated` +
        `${sunset === undefined ? '' : ` and stops serving on ${sunset}`}; ` +
        `${replacement === undefined ? 'no replacement was named' : `move to ${replacement}`}.`,
    };
  },
  'usage.threshold_reached': (event, fields) => {
    const usd = firstNumber(fields, ['current_usd']) !== undefined;
    const unit = usd ? (value: number) => `$${value}` : (value: number) => String(value);
    const current = firstNumber(fields, ['current', 'current_usd', 'usage', 'value']);
    const threshold = firstNumber(fields, ['threshold', 'threshold_usd', 'limit']);
    const metric = firstString(fields, ['metric']) ?? (usd ? 'spend' : 'usage');
    const period = firstString(fields, ['period']);
    return {
      subject: `Usage threshold reached (${event.provider})`,
      message:
        `${event.provider} ${metric} reached ${current === undefined ? 'its threshold' : unit(current)}` +
        `${threshold === undefined ? '' : ` of a ${unit(threshold)} threshold`}${period === undefined ? '' : ` for ${period}`}.`,
    };
  },
};

/** Unix seconds from 2001 on: a sunset sent as a number is a time, not a date string. */
const EPOCH_SECONDS_FROM = 1_000_000_000;

/** When a deprecated model stops serving, as the provider wrote it, or as a date when it sent Unix seconds. */
function sunsetDate(fields: Record<string, unknown>): string | undefined {
  const names = ['sunsetDate', 'sunset_date', 'sunset', 'shutdown_date'];
  const seconds = firstNumber(fields, names);
  if (seconds !== undefined && seconds >= EPOCH_SECONDS_FROM && seconds < 100 * EPOCH_SECONDS_FROM) {
    return new Date(seconds * 1000).toISOString().slice(0, 10);
  }
  return firstString(fields, names);
}

/** The alert an event raises, or undefined for routes that do not alert. */
export function alertFor(event: NormalizedEvent): Alert | undefined {
  const format = ALERTS[event.type];
  if (format === undefined) return undefined;
  const alert = format(event, eventFields(event.data));
  return {
    // SNS rejects subjects with control characters or over 100 characters.
    subject: truncate(alert.subject.replace(/[\u0000-\u001f\u007f]/g, ' '), 100),
    message: `${alert.message}\n\nEvent ${event.provider}#${event.id} (${event.providerType}) at ${event.occurredAt}.`,
  };
}

/**
 * Publishes the event's alert to the alerts topic, wrapped in `once`: for a job or batch once per
 * transition (a Together job seen both by a push and by the poller arrives as two events with
 * different ids, and either may be the one that alerts), otherwise once per event. A retry after a
 * later step failed does not alert twice.
 */
export const publishAlert: RouteStep = async (event, context) => {
  const alert = alertFor(event);
  if (alert === undefined) return;
  await context.once('alert', async () => {
    try {
      await context.sns.send(
        new PublishCommand({
          TopicArn: context.alertsTopicArn,
          Subject: alert.subject,
          Message: alert.message,
          MessageAttributes: {
            route: { DataType: 'String', StringValue: event.type },
            provider: { DataType: 'String', StringValue: event.provider },
            key: { DataType: 'String', StringValue: context.key },
          },
        }),
      );
    } catch (error) {
      throw new ConsumerDependencyError(`could not publish the alert for ${context.key}`, { cause: error });
    }
    context.logger.info('alert published', { key: context.key, route: event.type });
  });
};

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
