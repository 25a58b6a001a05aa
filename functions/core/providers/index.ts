import type { ProviderName } from '../event';
import { llmtune } from './llmtune';
import { mythicdot } from './mythicdot';
import { openai } from './openai';
import { replicate } from './replicate';
import { standard } from './standard';
import { together } from './together';
import type { Provider } from './types';

export type { EnvelopeFacts, Provider } from './types';

/** Every provider the receiver speaks. The receiver, the local runtime and the stack read this table. */
export const PROVIDERS: Readonly<Record<ProviderName, Provider>> = { together, llmtune, mythicdot, openai, replicate, standard };
