import type { Route } from './routes';

/** Where a canonical field comes from: the webhook's body, or the provider's API. */
export type FieldSource = 'payload' | 'api';

/**
 * The canonical fields each API-reading integration fills, per route: OpenAI's enrichment in the
 * consumer (its webhooks carry only the object's id; `functions/consumers/enrich/`), and
 * Together's poller (`functions/poller/observe.ts`), whose every field is read from Together's
 * API. Every other field comes from the webhook's body (each provider's `payloadFields`). The
 * schemas (`x-sources`) and docs/contract.md are generated from this and the providers.
 */
export const API_FIELDS: { readonly [integration: string]: { readonly [R in Route]?: readonly string[] } } = {
  openai: {
    'fine_tune.completed': ['modelName', 'baseModel', 'evalLoss', 'trainedTokens', 'resultFiles', 'checkpoints'],
    'fine_tune.failed': ['baseModel', 'trainedTokens', 'errorMessage', 'checkpoints'],
    'fine_tune.cancelled': ['baseModel', 'trainedTokens', 'checkpoints'],
    'batch.completed': ['outputFileId', 'errorFileId', 'totalTokens', 'requestCounts'],
    'batch.failed': ['errorFileId', 'errorMessage', 'requestCounts'],
    'batch.cancelled': ['outputFileId', 'errorFileId', 'requestCounts'],
    'batch.expired': ['outputFileId', 'errorFileId', 'requestCounts'],
  },
  'together (poller)': {
    'fine_tune.started': ['jobId', 'baseModel'],
    'fine_tune.checkpoint': ['jobId', 'step', 'checkpointPath'],
    'fine_tune.completed': ['jobId', 'modelName', 'baseModel', 'checkpoints'],
    'fine_tune.failed': ['jobId', 'errorMessage', 'step', 'checkpoints'],
    'fine_tune.cancelled': ['jobId', 'checkpoints'],
    'batch.completed': ['batchId', 'outputFileId', 'errorFileId'],
    'batch.failed': ['batchId', 'errorMessage'],
    'batch.cancelled': ['batchId'],
    'batch.expired': ['batchId'],
  },
};
