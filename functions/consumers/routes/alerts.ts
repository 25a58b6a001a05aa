import { PublishCommand } from '@aws-sdk/client-sns';
import type { NormalizedEvent } from '../../core/event';
import { ConsumerDependencyError } from '../errors';
import type { RouteStep } from './context';
import { errorSummary } from './fields';

/** One human-readable alert. */
export interface Alert {
  /** SNS subject (e-mail subject line): fewer than 100 printable characters, as SNS requires. */
  readonly subject: string;
  readonly message: string;
}

/** Some senders (Standard Webhooks) send only an id: the alert names their own type instead of a reason. */
const noReason = (event: NormalizedEvent) => `no reason given (${event.providerType})`;

const reason = (event: NormalizedEvent, errorMessage: string | undefined) => errorSummary(errorMessage) ?? noReason(event);

/** The alert of each route that alerts, from the route's canonical data. */
function compose(event: NormalizedEvent): Alert | undefined {
  switch (event.type) {
    case 'fine_tune.failed': {
      const job = event.subject ?? event.data.jobId ?? '(unnamed)';
      return {
        subject: `Fine-tune ${job} failed (${event.provider})`,
        message: `Fine-tune job ${job} on ${event.provider} failed: ${reason(event, event.data.errorMessage)}.`,
      };
    }
    case 'batch.failed': {
      const batch = event.subject ?? event.data.batchId ?? '(unnamed)';
      return {
        subject: `Batch ${batch} failed (${event.provider})`,
        message: `Batch ${batch} on ${event.provider} failed: ${reason(event, event.data.errorMessage)}.`,
      };
    }
    case 'model.deprecated': {
      const model = event.subject ?? event.data.modelId ?? '(unnamed)';
      const { replacementModel } = event.data;
      const sunsetDate = sunsetText(event.data.sunsetDate);
      return {
        subject: `Model ${model} deprecated (${event.provider})`,
        message:
          `Model ${model} on ${event.provider} is deprecated` +
          `${sunsetDate === undefined ? '' : ` and stops serving on ${sunsetDate}`}; ` +
          `${replacementModel === undefined ? 'no replacement was named' : `move to ${replacementModel}`}.`,
      };
    }
    case 'usage.threshold_reached': {
      const { metric, threshold, current } = event.data;
      const usd = metric === 'usd';
      const unit = (value: number) => (usd ? `$${value}` : String(value));
      return {
        subject: `Usage threshold reached (${event.provider})`,
        message:
          `${event.provider} ${usd ? 'spend' : (metric ?? 'usage')} reached ${current === undefined ? 'its threshold' : unit(current)}` +
          `${threshold === undefined ? '' : ` of a ${unit(threshold)} threshold`}.`,
      };
    }
    // Stryker disable next-line ConditionalExpression: without its return the switch ends, and the function returns undefined all the same
    default:
      return undefined;
  }
}

/** Unix seconds from 2001 on: a sunset sent as a number is a time, not a date string. */
const EPOCH_SECONDS_FROM = 1_000_000_000;

/** When a deprecated model stops serving, as the provider wrote it, or as a date when it sent Unix seconds. */
function sunsetText(sunset: string | undefined): string | undefined {
  if (sunset === undefined || !/^\d{10,11}$/.test(sunset)) return sunset;
  const seconds = Number(sunset);
  return seconds >= EPOCH_SECONDS_FROM ? new Date(seconds * 1000).toISOString().slice(0, 10) : sunset;
}

/** The alert an event raises, or undefined for routes that do not alert. */
export function alertFor(event: NormalizedEvent): Alert | undefined {
  const alert = compose(event);
  if (alert === undefined) return undefined;
  return {
    // SNS rejects subjects with line breaks, control characters or 100 characters or more: C0, DEL
    // and C1 controls (NEL, U+0085, included) and the Unicode line and paragraph separators go.
    subject: truncate(alert.subject.replace(/[\p{Cc}\u2028\u2029]/gu, ' '), 99),
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

/** At most `max` UTF-16 units, whichever way they are counted, cut between code points: never half an emoji. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let kept = '';
  for (const character of text) {
    if (kept.length + character.length > max - 1) break;
    kept += character;
  }
  return `${kept}…`;
}
