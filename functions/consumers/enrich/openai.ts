import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createApiKeyReaderOf, findApiKeySource, readApiBaseUrl, type ApiVariables } from '../../core/api-config';
import { DEFAULT_RETRY_POLICY, type RetryNotice, type RetryPolicy } from '../../core/api-get';
import { routeDataSchema } from '../../core/data';
import { ConfigurationError } from '../../core/errors';
import type { RouteEvent } from '../../core/event';
import { QUEUE_SETTINGS } from '../../core/queues';
import type { Route } from '../../core/routes';
import type { Enricher, RouteContext } from '../routes/context';
import { DEFAULT_OPENAI_API_BASE_URL, createOpenAiApi, type OpenAiApi, type OpenAiCheckpoint, type OpenAiJobEvent } from './openai-api';
import { batchData, fineTuneData, lossCurve } from './openai-map';

/** OpenAI's variables, for the readers every provider's API client shares. */
export const OPENAI_API_VARIABLES: ApiVariables = {
  provider: 'OpenAI',
  baseUrlVariable: 'OPENAI_API_BASE_URL',
  defaultBaseUrl: DEFAULT_OPENAI_API_BASE_URL,
  keyVariable: 'OPENAI_API_KEY',
};

/**
 * How long an event's reads may take, retries and `Retry-After` waits included: the consumer's
 * timeout less 10 s for the steps. A request started just before it still ends within its own
 * timeout ({@link ENRICH_RETRY_POLICY}), inside the function's.
 */
export const ENRICH_TIME_BUDGET_MS = (QUEUE_SETTINGS.consumerTimeoutSeconds - 10) * 1000;

/** Four attempts of 5 s each per read; a `Retry-After` is waited out while the budget allows. */
export const ENRICH_RETRY_POLICY: RetryPolicy = { ...DEFAULT_RETRY_POLICY, requestTimeoutMs: 5_000, maxRetryAfterMs: ENRICH_TIME_BUDGET_MS };

/** Pages read per list (100 entries each): the newest 500 points need at most this many. */
const MAX_PAGES = 8;
const PAGE_SIZE = 100;

const FINE_TUNE_ROUTES: ReadonlySet<Route> = new Set(['fine_tune.started', 'fine_tune.completed', 'fine_tune.failed', 'fine_tune.cancelled']);
const BATCH_ROUTES: ReadonlySet<Route> = new Set(['batch.completed', 'batch.failed', 'batch.cancelled', 'batch.expired']);

export interface OpenAiEnricherDeps {
  /** A client whose retries stop at `deadlineMs` (epoch ms): one per event, built at its start. */
  readonly api: (deadlineMs: number) => OpenAiApi;
  /** Epoch milliseconds. */
  readonly clock?: () => number;
}

/**
 * Completes `openai` events on the fine-tune and batch routes from OpenAI's API: the job (with its
 * checkpoints and `metrics` events as the loss curve) or the batch. The payload's own fields stay;
 * the API's fill the rest. A 404 leaves a note on the event record and the event is handled with
 * the payload's data; every other failure throws, failing the attempt (see docs/reliability.md).
 * Other providers' events, and other routes, pass through without a request.
 */
export function openAiEnricher(deps: OpenAiEnricherDeps): Enricher {
  const clock = deps.clock ?? Date.now;
  return async <R extends Route>(event: RouteEvent<R>, context: RouteContext): Promise<RouteEvent<R>> => {
    if (event.provider !== 'openai') return event;
    const payload = event.data as Record<string, unknown>;
    const api = deps.api(clock() + ENRICH_TIME_BUDGET_MS);
    let read: { found: Record<string, unknown> } | { missing: string } | undefined;
    if (FINE_TUNE_ROUTES.has(event.type)) {
      const jobId = idOf(payload.jobId, event.subject);
      if (jobId !== undefined) read = await readJob(api, event.type, jobId);
    } else if (BATCH_ROUTES.has(event.type)) {
      const batchId = idOf(payload.batchId, event.subject);
      if (batchId !== undefined) {
        const batch = await api.getBatch(batchId);
        read = batch === undefined ? { missing: `/batches/${batchId}` } : { found: batchData(event.type, batch) };
      }
    }
    if (read === undefined) return event;
    if ('missing' in read) {
      context.note(`openai: GET ${read.missing} answered 404; handled with the payload's data`);
      return event;
    }
    const data = { ...read.found, ...definedOnly(payload) };
    const checked = routeDataSchema(event.type).safeParse(data);
    if (!checked.success) {
      const where = checked.error.issues[0]?.path.join('.') || 'data';
      context.note(`openai: the API's ${where} does not fit the canonical data; handled with the payload's data`);
      return event;
    }
    return { ...event, data: checked.data } as RouteEvent<R>;
  };
}

async function readJob(api: OpenAiApi, route: Route, jobId: string): Promise<{ found: Record<string, unknown> } | { missing: string }> {
  const job = await api.getFineTuningJob(jobId);
  if (job === undefined) return { missing: `/fine_tuning/jobs/${jobId}` };
  const checkpoints = await readPages<OpenAiCheckpoint>((after) => api.listCheckpoints(jobId, { limit: PAGE_SIZE, ...(after === undefined ? {} : { after }) }), () => false);
  let metricsSeen = 0;
  const events = await readPages<OpenAiJobEvent>(
    (after) => api.listJobEvents(jobId, { limit: PAGE_SIZE, ...(after === undefined ? {} : { after }) }),
    (page) => (metricsSeen += page.filter((event) => event.type === 'metrics').length) >= 500,
  );
  const curve = lossCurve(checkpoints, events);
  return { found: fineTuneData(route, job, curve.points, curve.validLoss) };
}

/** Cursor pages, newest first, until `has_more` is false, `enough` says so, or {@link MAX_PAGES}. */
async function readPages<T extends { id: string }>(
  read: (after: string | undefined) => Promise<{ data: readonly T[]; hasMore: boolean } | undefined>,
  enough: (page: readonly T[]) => boolean,
): Promise<T[]> {
  const all: T[] = [];
  let after: string | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const answer = await read(after);
    if (answer === undefined) break;
    all.push(...answer.data);
    const last = answer.data.at(-1);
    if (!answer.hasMore || last === undefined || enough(answer.data)) break;
    after = last.id;
  }
  return all;
}

const idOf = (fromData: unknown, subject: string | undefined): string | undefined =>
  typeof fromData === 'string' && fromData !== '' ? fromData : subject === undefined || subject === '' ? undefined : subject;
const definedOnly = (data: Record<string, unknown>) => Object.fromEntries(Object.entries(data).filter(([, value]) => value !== undefined));

export interface OpenAiEnricherClients {
  readonly fetch?: typeof fetch;
  readonly secrets?: SecretsManagerClient;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRetry?: (notice: RetryNotice) => void;
  /** Over {@link ENRICH_RETRY_POLICY}; tests shorten the timeout. */
  readonly retry?: Partial<RetryPolicy>;
}

/**
 * The enricher as a consumer deploys it: `OPENAI_API_KEY_SECRET_ARN` (or, locally, `OPENAI_API_KEY`)
 * and the optional `OPENAI_API_BASE_URL`. A bad base URL throws {@link ConfigurationError} at start;
 * without a key, each `openai` event fails its attempt with a message naming the variable, so it
 * ends in the dead-letter queue rather than handled without its data.
 */
export function openAiEnricherFromEnv(env: Readonly<Record<string, string | undefined>>, clients: OpenAiEnricherClients = {}): Enricher {
  const baseUrl = readApiBaseUrl(env, OPENAI_API_VARIABLES);
  const source = findApiKeySource(env, OPENAI_API_VARIABLES);
  const apiKey =
    source === undefined
      ? async (): Promise<string> => {
          throw new ConfigurationError(
            'OPENAI_API_KEY_SECRET_ARN is not set (OPENAI_API_KEY locally): openai events cannot be completed from the OpenAI API',
          );
        }
      : createApiKeyReaderOf(source, OPENAI_API_VARIABLES, clients.secrets);
  const clock = clients.clock ?? Date.now;
  return openAiEnricher({
    clock,
    api: (deadlineMs) =>
      createOpenAiApi({
        baseUrl,
        apiKey,
        retry: { ...ENRICH_RETRY_POLICY, ...clients.retry },
        clock,
        deadline: () => deadlineMs,
        ...(clients.fetch === undefined ? {} : { fetch: clients.fetch }),
        ...(clients.sleep === undefined ? {} : { sleep: clients.sleep }),
        ...(clients.onRetry === undefined ? {} : { onRetry: clients.onRetry }),
      }),
  });
}
