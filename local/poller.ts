import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { integerEnv } from '../functions/core/config';
import { createApiKeyReader, pollerFromConfig, type PollerConfig } from '../functions/poller/config';
import type { PollSummary } from '../functions/poller/poll';

/** How often `npm start` polls Together unless `TOGETHER_POLL_INTERVAL_SECONDS` says otherwise. */
export const DEFAULT_POLL_INTERVAL_SECONDS = 60;

/** `TOGETHER_POLL_INTERVAL_SECONDS`, 1–3600, default {@link DEFAULT_POLL_INTERVAL_SECONDS}. */
export function readPollIntervalSeconds(env: Readonly<Record<string, string | undefined>> = process.env): number {
  return integerEnv(env, 'TOGETHER_POLL_INTERVAL_SECONDS', DEFAULT_POLL_INTERVAL_SECONDS, 1, 3_600);
}

export interface LocalPollerOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  /** From `readPollerConfig`, with the emulators' table names and queue URLs. */
  readonly config: PollerConfig;
  readonly intervalSeconds: number;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** Called after each run, successful or not (tests, status output). */
  readonly onRun?: (outcome: { summary?: PollSummary; error?: unknown }) => void;
}

export interface LocalPoller {
  /** Stops the schedule and waits for a run in progress to end. */
  stop(): Promise<void>;
}

/**
 * The scheduled poller of the stack, on a timer: one run at once, then every `intervalSeconds`
 * after the previous run ended (EventBridge would start them on the clock; here, runs never pile up).
 * A failed run is logged and the schedule goes on, as a failed scheduled invocation would.
 */
export function startLocalPoller(options: LocalPollerOptions): LocalPoller {
  const poll = pollerFromConfig(options.config, {
    documents: options.documents,
    sqs: options.sqs,
    apiKey: createApiKeyReader(options.config.apiKey),
    logger: options.logger,
    onRetry: (notice) => options.logger.warn('Together API call failed; retrying', { ...notice }),
  });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const run = async () => {
    try {
      const summary = await poll();
      if (summary.observed > 0 || summary.apiErrors > 0 || summary.deferred > 0 || summary.failing > 0 || summary.lookedUp > 0) {
        options.logger.info('Together poll finished', { ...summary });
      }
      options.onRun?.({ summary });
    } catch (error) {
      options.logger.error('Together poll failed; trying again at the next interval', { error: error as Error });
      options.onRun?.({ error });
    }
  };
  const tick = () => {
    if (stopped) return;
    running = run().finally(() => {
      if (!stopped) timer = setTimeout(tick, options.intervalSeconds * 1000);
    });
  };
  tick();

  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
