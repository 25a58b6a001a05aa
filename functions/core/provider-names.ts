/**
 * The providers' names, on their own: what a command line offers as choices, without the event's
 * schemas (zod) that functions/core/event.ts builds with them.
 */
export const PROVIDER_NAMES = ['together', 'llmtune', 'mythicdot', 'openai', 'replicate', 'standard'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];
