import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { clientConfig } from '../../core/aws';
import { ConfigurationError } from '../../core/errors';
import type { NormalizedEvent } from '../../core/event';
import { JOBS_TABLE, type BatchResultFile, type BatchResults } from '../../core/table';
import { createApiKeyReader, readApiKeySource, readBaseUrl } from '../../poller/config';
import { createTogetherApi, realSleep, type TogetherApi, type TogetherFilesApi } from '../../poller/together-api';
import { ConsumerDependencyError } from '../errors';
import { DEFAULT_TRANSFER_POLICY, transferFile, type TransferDeps } from './batch-files';
import type { RouteContext, RouteStep } from './context';

type Env = Readonly<Record<string, string | undefined>>;

/** The once-step name: its record says the batch's files are stored and on the job item. */
export const BATCH_RESULTS_STEP = 'batch-results';

/** Where a Together batch's files go in the results bucket; the consumer may write nowhere else. */
export const TOGETHER_RESULTS_PREFIX = 'together/batches/';

/** The keys of a batch's two files. */
export function resultKeys(batchId: string): { output: string; errors: string } {
  return { output: `${TOGETHER_RESULTS_PREFIX}${batchId}/output.jsonl`, errors: `${TOGETHER_RESULTS_PREFIX}${batchId}/errors.jsonl` };
}

/**
 * Batch ids that make a plain key segment. Together's are UUID-like; anything with a slash, a
 * leading dot or other characters would write outside the batch's folder or confuse a sync tool.
 */
const SAFE_BATCH_ID = /^[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,199}$/;

/** What the step needs: the copy's dependencies, and Together's batch lookup for events that name no file. */
export interface BatchResultsDeps extends TransferDeps {
  readonly together: Pick<TogetherApi, 'getBatch'> & TogetherFilesApi;
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
 * The step as deployed, from `RESULTS_BUCKET_NAME`, `TOGETHER_API_KEY_SECRET_ARN` (locally
 * `TOGETHER_API_KEY`) and the optional `TOGETHER_API_BASE_URL`, the variables the poller reads.
 * Throws a `ConfigurationError` naming a missing variable.
 */
export function batchResultsFromEnv(env: Env, clients: { s3?: S3Client } = {}): RouteStep {
  const bucket = env.RESULTS_BUCKET_NAME?.trim();
  if (bucket === undefined || bucket === '') throw new ConfigurationError('environment variable RESULTS_BUCKET_NAME is required for batch results but not set');
  const baseUrl = readBaseUrl(env);
  const apiKey = createApiKeyReader(readApiKeySource(env));
  return storeBatchResults({
    s3: clients.s3 ?? new S3Client(resultsS3Config()),
    bucket,
    baseUrl,
    apiKey,
    together: createTogetherApi({ baseUrl, apiKey }),
    policy: DEFAULT_TRANSFER_POLICY,
    sleep: realSleep,
    random: Math.random,
    clock: Date.now,
  });
}

/**
 * On a Together `batch.completed`, copies the batch's output and error files into the results
 * bucket (`together/batches/{batchId}/output.jsonl` and `errors.jsonl`), then records their URIs,
 * sizes, line counts and hashes on the job item in one conditional write. Runs after the
 * projection (the item exists) and once per batch completion (`once`, per transition), so a push
 * and a poll of the same completion copy it once between them. A failure leaves no record: the
 * step runs again on the retry and, after the queue's receives, the event waits in the
 * dead-letter queue. The files come from the event's `outputFileId` and `errorFileId`; an event
 * that names neither (a push carrying only `outputUrl`) asks Together for the batch.
 */
export function storeBatchResults(deps: BatchResultsDeps): RouteStep {
  return async (event, context) => {
    if (event.provider !== 'together' || event.type !== 'batch.completed') return;
    const batchId = event.subject;
    if (batchId === undefined || !SAFE_BATCH_ID.test(batchId)) {
      context.logger.error('batch id cannot name a results folder; results not stored', { key: context.key, batchIdLength: batchId?.length });
      return;
    }
    await context.once(BATCH_RESULTS_STEP, async () => {
      const files = await filesOf(event, batchId, deps);
      if (files.output === undefined && files.errors === undefined) {
        context.logger.info('completed batch has no output or error file; nothing to store', { key: context.key, batchId });
        return;
      }
      const keys = resultKeys(batchId);
      const copy: TransferDeps = {
        ...deps,
        onRetry: (notice) => context.logger.warn('copying a batch file failed; trying it again', { key: context.key, batchId, ...notice }),
      };
      // One file after the other: memory stays at one upload's buffers.
      const output = files.output === undefined ? undefined : await transferFile(copy, files.output, keys.output);
      const errors = files.errors === undefined ? undefined : await transferFile(copy, files.errors, keys.errors);
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
  const value = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

async function filesOf(event: NormalizedEvent, batchId: string, deps: BatchResultsDeps): Promise<{ output?: string; errors?: string }> {
  const output = canonicalText(event.data, 'outputFileId');
  const errors = canonicalText(event.data, 'errorFileId');
  if (output !== undefined || errors !== undefined) return { ...(output === undefined ? {} : { output }), ...(errors === undefined ? {} : { errors }) };
  let batch;
  try {
    batch = await deps.together.getBatch(batchId);
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
