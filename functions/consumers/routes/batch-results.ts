import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createApiKeyReaderOf, findApiKeySource, readApiBaseUrl, type ApiVariables } from '../../core/api-config';
import { clientConfig } from '../../core/aws';
import { ConfigurationError } from '../../core/errors';
import type { NormalizedEvent } from '../../core/event';
import type { Route } from '../../core/routes';
import { JOBS_TABLE, type BatchResultFile, type BatchResults } from '../../core/table';
import { TOGETHER_API_VARIABLES } from '../../poller/config';
import { createTogetherApi, realSleep, type TogetherApi } from '../../poller/together-api';
import { createOpenAiApi } from '../enrich/openai-api';
import { OPENAI_API_VARIABLES } from '../enrich/openai';
import { ConsumerDependencyError } from '../errors';
import { DEFAULT_TRANSFER_POLICY, transferFile, type FilesApi, type TransferDeps } from './batch-files';
import type { RouteContext, RouteStep } from './context';

type Env = Readonly<Record<string, string | undefined>>;

/** The once-step name: its record says the batch's files are stored and on the job item. */
export const BATCH_RESULTS_STEP = 'batch-results';

/** The providers whose batch files are copied. */
export type ResultsProvider = 'together' | 'openai';

/** How one provider's batch files are copied: under which prefix, on which routes, with which variables. */
export interface ResultsProviderSettings {
  /** Where its batches' files go in the results bucket; the consumer may write nowhere else. */
  readonly prefix: string;
  /** The routes whose events have files to copy. */
  readonly routes: readonly Route[];
  readonly variables: ApiVariables;
}

/**
 * The one table of providers batch results serve. Together: completed batches. OpenAI: completed
 * batches, and expired ones, which keep the output of the requests that finished in time.
 */
export const RESULTS_PROVIDERS: { readonly [P in ResultsProvider]: ResultsProviderSettings } = {
  together: { prefix: 'together/batches/', routes: ['batch.completed'], variables: TOGETHER_API_VARIABLES },
  openai: { prefix: 'openai/batches/', routes: ['batch.completed', 'batch.expired'], variables: OPENAI_API_VARIABLES },
};

/** Where a Together batch's files go in the results bucket. */
export const TOGETHER_RESULTS_PREFIX = RESULTS_PROVIDERS.together.prefix;

/** The keys of a batch's two files. */
export function resultKeys(batchId: string, provider: ResultsProvider = 'together'): { output: string; errors: string } {
  const prefix = RESULTS_PROVIDERS[provider].prefix;
  return { output: `${prefix}${batchId}/output.jsonl`, errors: `${prefix}${batchId}/errors.jsonl` };
}

/**
 * Batch ids that make a plain key segment. Together's are UUID-like, OpenAI's `batch_…`; anything
 * with a slash, a leading dot or other characters would write outside the batch's folder or
 * confuse a sync tool.
 */
const SAFE_BATCH_ID = /^[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,199}$/;

/** Together's files API, and its batch lookup for events that name no file. */
export type TogetherFilesSource = FilesApi & { readonly getBatch: TogetherApi['getBatch'] };

/** What the step needs: the copy's dependencies, and the files API of each provider served. */
export interface BatchResultsDeps extends Omit<TransferDeps, 'files'> {
  /** A provider without one is not served: its events pass through the step untouched. */
  readonly sources: { readonly together?: TogetherFilesSource; readonly openai?: FilesApi };
}

/**
 * S3 settings for copies: parts of 8 MiB need more than the 2.5 s the other calls get, and a
 * local emulator takes path-style URLs.
 */
export function resultsS3Config(endpoint?: string) {
  const base = clientConfig(endpoint === undefined ? {} : { endpoint });
  return {
    ...base,
    maxAttempts: 3,
    requestHandler: { ...base.requestHandler, connectionTimeout: 3_000, requestTimeout: 60_000 },
    ...(endpoint === undefined ? {} : { forcePathStyle: true }),
  };
}

/**
 * The step as deployed, from `RESULTS_BUCKET_NAME` and each provider's variables: Together's when
 * `TOGETHER_API_KEY_SECRET_ARN` (locally `TOGETHER_API_KEY`) is set, with the optional
 * `TOGETHER_API_BASE_URL` the poller reads too; OpenAI's when `OPENAI_API_KEY_SECRET_ARN` (locally
 * `OPENAI_API_KEY`) is set, with the optional `OPENAI_API_BASE_URL` the enricher reads too. Throws a
 * `ConfigurationError` naming a missing variable, or a base URL that may not carry the key.
 */
export function batchResultsFromEnv(env: Env, clients: { s3?: S3Client } = {}): RouteStep {
  const bucket = env.RESULTS_BUCKET_NAME?.trim();
  if (bucket === undefined || bucket === '') throw new ConfigurationError('environment variable RESULTS_BUCKET_NAME is required for batch results but not set');
  const source = (variables: ApiVariables) => {
    const key = findApiKeySource(env, variables);
    return key === undefined ? undefined : { variables, baseUrl: readApiBaseUrl(env, variables), apiKey: createApiKeyReaderOf(key, variables) };
  };
  const together = source(TOGETHER_API_VARIABLES);
  const openai = source(OPENAI_API_VARIABLES);
  if (together === undefined && openai === undefined) {
    throw new ConfigurationError(
      'batch results need TOGETHER_API_KEY_SECRET_ARN or OPENAI_API_KEY_SECRET_ARN (in the local runtime, TOGETHER_API_KEY or OPENAI_API_KEY) but neither is set',
    );
  }
  const togetherApi = together === undefined ? undefined : createTogetherApi({ baseUrl: together.baseUrl, apiKey: together.apiKey });
  return storeBatchResults({
    s3: clients.s3 ?? new S3Client(resultsS3Config()),
    bucket,
    sources: {
      // Stryker disable next-line ConditionalExpression,LogicalOperator: togetherApi is undefined exactly when together is, so either test alone decides
      ...(together === undefined || togetherApi === undefined ? {} : { together: { ...together, getBatch: togetherApi.getBatch, getFile: togetherApi.getFile } }),
      ...(openai === undefined ? {} : { openai: { ...openai, getFile: createOpenAiApi({ baseUrl: openai.baseUrl, apiKey: openai.apiKey }).getFile } }),
    },
    policy: DEFAULT_TRANSFER_POLICY,
    sleep: realSleep,
    random: Math.random,
    clock: Date.now,
  });
}

/**
 * On a batch that has ended with files (the routes of {@link RESULTS_PROVIDERS}), copies its
 * output and error files into the results bucket (`{prefix}{batchId}/output.jsonl` and
 * `errors.jsonl`), then records their URIs, sizes, line counts and hashes on the job item in one
 * conditional write. Runs after the projection (the item exists) and once per transition (`once`),
 * so a push and a poll of the same completion copy it once between them. A failure leaves no
 * record: the step runs again on the retry and, after the queue's receives, the event waits in the
 * dead-letter queue. The files come from the event's `outputFileId` and `errorFileId` (for OpenAI,
 * as the enricher read them from the batch); a Together event that names neither (a push carrying
 * only `outputUrl`) asks Together for the batch.
 */
export function storeBatchResults(deps: BatchResultsDeps): RouteStep {
  return async (event, context) => {
    const provider = event.provider === 'together' || event.provider === 'openai' ? event.provider : undefined;
    if (provider === undefined || !RESULTS_PROVIDERS[provider].routes.includes(event.type)) return;
    const files = deps.sources[provider];
    if (files === undefined) return;
    const batchId = event.subject;
    if (batchId === undefined || !SAFE_BATCH_ID.test(batchId)) {
      context.logger.error('batch id cannot name a results folder; results not stored', { key: context.key, batchIdLength: batchId?.length });
      return;
    }
    await context.once(BATCH_RESULTS_STEP, async () => {
      const ids = await filesOf(event, batchId, provider === 'together' ? deps.sources.together : undefined);
      if (ids.output === undefined && ids.errors === undefined) {
        context.logger.info('batch has no output or error file; nothing to store', { key: context.key, batchId });
        return;
      }
      const keys = resultKeys(batchId, provider);
      const copy: TransferDeps = {
        ...deps,
        files,
        onRetry: (notice) => context.logger.warn('copying a batch file failed; trying it again', { key: context.key, batchId, ...notice }),
      };
      // One file after the other: memory stays at one upload's buffers.
      const output = ids.output === undefined ? undefined : await transferFile(copy, ids.output, keys.output);
      const errors = ids.errors === undefined ? undefined : await transferFile(copy, ids.errors, keys.errors);
      await recordResults(context, `${event.provider}#${batchId}`, {
        ...(output === undefined ? {} : { output }),
        ...(errors === undefined ? {} : { errors }),
        storedAt: new Date(deps.clock()).toISOString(),
      });
      context.logger.info('batch results stored', { key: context.key, batchId, ...summary('output', output), ...summary('errors', errors) });
    });
  };
}

/** The canonical `data` field `name`, when it is text. */
function canonicalText(data: unknown, name: 'outputFileId' | 'errorFileId'): string | undefined {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: a parsed event's data on the batch routes is always an object (their schemas are z.object)
  const value = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The event's file ids; with neither, Together's batch when `together` is given (OpenAI's events were read from the API already). */
async function filesOf(event: NormalizedEvent, batchId: string, together: TogetherFilesSource | undefined): Promise<{ output?: string; errors?: string }> {
  const output = canonicalText(event.data, 'outputFileId');
  const errors = canonicalText(event.data, 'errorFileId');
  if (output !== undefined || errors !== undefined || together === undefined) {
    return { ...(output === undefined ? {} : { output }), ...(errors === undefined ? {} : { errors }) };
  }
  let batch;
  try {
    batch = await together.getBatch(batchId);
  } catch (error) {
    throw new ConsumerDependencyError(`could not read batch ${batchId} from Together to find its files`, { cause: error });
  }
  if (batch === undefined) throw new ConsumerDependencyError(`Together has no batch ${batchId} (HTTP 404); check the API key belongs to the account that ran it`);
  if (batch.status !== 'COMPLETED') {
    throw new ConsumerDependencyError(`Together reports batch ${batchId} as ${batch.status}, not COMPLETED, yet; retried later`);
  }
  return {
    ...(batch.output_file_id ? { output: batch.output_file_id } : {}),
    ...(batch.error_file_id ? { errors: batch.error_file_id } : {}),
  };
}

/**
 * Sets `results` on the job item unless it is there already: a run whose once-record was lost
 * copied the same files under the same keys, so the first record stands.
 */
async function recordResults(context: RouteContext, pk: string, results: BatchResults): Promise<void> {
  try {
    await context.documents.send(
      new UpdateCommand({
        TableName: context.jobsTableName,
        Key: { [JOBS_TABLE.partitionKey]: pk },
        UpdateExpression: 'SET #results = :results',
        ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#results)',
        ExpressionAttributeNames: { '#pk': JOBS_TABLE.partitionKey, '#results': 'results' },
        ExpressionAttributeValues: { ':results': results },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) {
      throw new ConsumerDependencyError(`could not record the batch results on ${pk}`, { cause: error });
    }
    const { Item } = await context.documents
      .send(new GetCommand({ TableName: context.jobsTableName, Key: { [JOBS_TABLE.partitionKey]: pk }, ConsistentRead: true }))
      .catch((readError: unknown) => {
        throw new ConsumerDependencyError(`could not read the job item ${pk}`, { cause: readError });
      });
    if (Item === undefined) throw new ConsumerDependencyError(`the job item ${pk} does not exist yet; the projection step writes it first`);
    context.logger.info('batch results were already recorded; the first record stands', { key: context.key, pk });
  }
}

function summary(name: string, file: BatchResultFile | undefined): Record<string, number> {
  return file === undefined ? {} : { [`${name}Bytes`]: file.bytes, [`${name}Lines`]: file.lines };
}
