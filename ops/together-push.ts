// What `webhooks register together` says of itself in its help: apart from ops/register.ts, whose
// secrets and signatures load node:crypto, so that the CLI builds its help without it.

/** Together's API unless TOGETHER_API_BASE_URL says otherwise (the poller reads the same variable). */
export const DEFAULT_TOGETHER_API_BASE_URL = 'https://api.together.xyz/v1';

/**
 * The event names of the `together` push scheme (docs/contract.md, seed 000). Together's public API
 * reference and SDK document no webhooks: see {@link TOGETHER_PUSH_UNDOCUMENTED}.
 */
export const TOGETHER_WEBHOOK_EVENTS = ['fine_tune.completed', 'fine_tune.failed', 'fine_tune.checkpoint', 'model.deprecated', 'batch.done'] as const;

/**
 * What `register together` says of itself: the endpoint it calls is not in Together's public API,
 * and the poller is the integration that works with the API Together documents.
 */
export const TOGETHER_PUSH_UNDOCUMENTED =
  "Together's public API documents no webhooks: this targets an endpoint it does not document, for an account or stand-in " +
  'that offers one. To follow Together through its documented API, turn on the poller instead: TOGETHER_API_KEY=<key> npm start ' +
  'locally, or deploy with -c togetherPolling=true (docs/operations.md, "Polling Together").';
