import { PublishCommand } from '@aws-sdk/client-sns';
import type { NormalizedEvent } from '../../core/event';
import { ConsumerDependencyError } from '../errors';
import type { RouteStep } from './context';
import { errorSummary } from './fields';
import { transitionReportedByOther } from './jobs';

/** One human-readable alert. */
export interface Alert {
  /** SNS subject (e-mail subject line): at most 100 printable characters. */
  readonly subject: string;
  readonly message: string;
}

/** Some senders (Standard Webhooks) send only an id: their own type name still tells expired from cancelled. */
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
      const { replacementModel, sunsetDate } = event.data;
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
    default:
      return undefined;
  }
}

/** The alert an event raises, or undefined for routes that do not alert. */
export function alertFor(event: NormalizedEvent): Alert | undefined {
  const alert = compose(event);
  if (alert === undefined) return undefined;
  return {
    // SNS rejects subjects with control characters or over 100 characters.
    subject: truncate(alert.subject.replace(/[\u0000-\u001f\u007f]/g, ' '), 100),
    message: `${alert.message}\n\nEvent ${event.provider}#${event.id} (${event.providerType}) at ${event.occurredAt}.`,
  };
}

/**
 * Publishes the event's alert to the alerts topic, once per event: wrapped in `once`, so a retry
 * after a later step failed does not alert twice. For a job or batch, once per transition: runs
 * after `projectJob`, and stays silent when another event already moved the job into this state.
 */
export const publishAlert: RouteStep = async (event, context) => {
  const alert = alertFor(event);
  if (alert === undefined) return;
  // A failed job or batch is alerted once per transition, not once per event: a Together job seen
  // both by a push and by the poller arrives as two events with different ids.
  const reporter = await transitionReportedByOther(event, context);
  if (reporter !== undefined) {
    context.logger.info('transition already alerted by another event; no second alert', { key: context.key, reporter });
    return;
  }
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
