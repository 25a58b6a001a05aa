import { packageFile } from '../../functions/core/package-root';
import { Duration, Stack, Token, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type CfnBucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { RESULTS_PROVIDERS, type ResultsProvider } from '../../functions/consumers/routes/batch-results';
import type { BundledFunction } from './bundled-function';
import { acknowledgeGuardRule } from './guard';
import type { ConsumerSettings } from './route-pipeline';
import { createProviderApiKeySecret, TOGETHER_API_KEY } from './provider-api-key';

/** The entry of the consumers that copy batch files (`batch.completed`, and `batch.expired` for OpenAI): the shared one plus the copy step. */
export const BATCH_RESULTS_CONSUMER_ENTRY = packageFile('functions/consumers/batch-results-handler.ts');

/** How long stored results are kept unless `expirationDays` says otherwise. */
export const DEFAULT_RESULTS_EXPIRATION_DAYS = 90;
const MAX_RESULTS_EXPIRATION_DAYS = 3650;

/**
 * The `batch.completed` consumer with batch results on: Lambda's longest timeout and 512 MB, one
 * record per invocation, so that one batch's files (several GB at tens of MB/s) have the whole
 * 15 minutes. Its queue's visibility timeout is six times the timeout (90 minutes).
 */
export const BATCH_RESULTS_CONSUMER: ConsumerSettings = { timeoutSeconds: 900, memorySize: 512, batchSize: 1 };

/** Settings of batch results; see `WebhookReceiverProps.batchResults`. */
export interface BatchResultsOptions {
  /**
   * Days a stored file is kept before S3 deletes it. Copy what you keep longer elsewhere.
   * @default 90
   */
  readonly expirationDays?: number;
  /**
   * A bucket to write the results bucket's server access logs to (under `batch-results/`). Its
   * policy must let `logging.s3.amazonaws.com` put objects there; CDK adds that only to a bucket
   * of the same app, not to an imported one.
   * @default - no access logs: the writer is one function, whose calls CloudTrail records
   */
  readonly accessLogsBucket?: IBucket;
}

/** Properties of {@link BatchResults}. */
export interface BatchResultsProps extends BatchResultsOptions {
  /** The `batch.completed` consumer: a writer, of every provider's completed batches. */
  readonly consumer: BundledFunction;
  /**
   * When the deployment serves `openai`: the `batch.expired` consumer, which copies the partial
   * output of OpenAI's expired batches. Its key, and the `batch.completed` consumer's OpenAI key,
   * are the OpenAI API key secret's (see `openai-api-key.ts`).
   * @default - OpenAI's batches are not copied
   */
  readonly openAiExpiredConsumer?: BundledFunction;
  /** The Together API key secret to read (the poller's, when polling is on); one is created otherwise. */
  readonly apiKeySecret?: ISecret;
  /** Applied to the bucket and to a secret created here. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Where ended batches' output and error files are copied (Together's completed batches; OpenAI's
 * completed and expired ones when the deployment serves `openai`), and the grants that let the
 * consumers of those routes, and nothing else, copy them there, each under its providers' prefixes
 * only: a KMS-encrypted, TLS-only, private bucket whose objects expire after `expirationDays`.
 */
export class BatchResults extends Construct {
  /** `together/batches/{batchId}/output.jsonl` and `errors.jsonl`; likewise under `openai/batches/`. */
  public readonly bucket: Bucket;
  /** The Together API key secret the consumer reads: the one given, or one created here. */
  public readonly apiKeySecret: ISecret;
  /** True when {@link apiKeySecret} was created here (polling is off). */
  public readonly ownsApiKeySecret: boolean;

  constructor(scope: Construct, id: string, props: BatchResultsProps) {
    super(scope, id);
    const expirationDays = props.expirationDays ?? DEFAULT_RESULTS_EXPIRATION_DAYS;
    if (!Token.isUnresolved(expirationDays) && (!Number.isInteger(expirationDays) || expirationDays < 1 || expirationDays > MAX_RESULTS_EXPIRATION_DAYS)) {
      throw new Error(`batchResults.expirationDays must be a whole number from 1 to ${MAX_RESULTS_EXPIRATION_DAYS}, got ${expirationDays}`);
    }

    this.bucket = new Bucket(this, 'Bucket', {
      // The AWS managed key, as the tables use: batch outputs are what the models wrote, and each
      // use of the key is in CloudTrail. With the bucket key, S3 asks KMS for a bucket-level key
      // now and then instead of once per object.
      encryption: BucketEncryption.KMS_MANAGED,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // A retried copy overwrites its key with the same bytes; versions would only keep duplicates.
      versioned: false,
      lifecycleRules: [
        {
          id: 'ExpireResults',
          expiration: Duration.days(expirationDays),
          // Parts of a copy cut short (a function that timed out) are not left to be billed.
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: props.removalPolicy,
      ...(props.accessLogsBucket === undefined ? {} : { serverAccessLogsBucket: props.accessLogsBucket, serverAccessLogsPrefix: 'batch-results/' }),
    });
    if (props.accessLogsBucket === undefined) {
      const reason =
        'Only the batch consumers (batch.completed, and batch.expired for OpenAI) write here, through their own roles; reads are by the operator. Access logs would need a second bucket of their own; pass batchResults.accessLogsBucket to write them to an existing log bucket, or enable CloudTrail S3 data events for this bucket.';
      Validations.of(this.bucket).acknowledge({ id: 'AwsSolutions-S1', reason });
      acknowledgeGuardRule(this.bucket, 's3_bucket_logging_enabled_check', reason);
    }
    acknowledgeGuardRule(this.bucket, 's3_bucket_versioning_enabled_check', 'A retried copy overwrites its key with the same bytes, and the lifecycle rule deletes each file on time; versions would keep only duplicates and deleted files.');
    acknowledgeGuardRule(this.bucket, 's3_bucket_object_lock_enabled_check', 'The lifecycle rule must delete each file after expirationDays, and a retried copy must overwrite its key; a lock would forbid both.');
    acknowledgeGuardRule(this.bucket, 's3_event_notifications_enabled_check', 'Nothing reacts to a new object: the consumer records each file it stored on the batch\'s job item, which is where readers look.');

    this.ownsApiKeySecret = props.apiKeySecret === undefined;
    this.apiKeySecret = props.apiKeySecret ?? createProviderApiKeySecret(this, 'ApiKey', TOGETHER_API_KEY, props.removalPolicy);

    const writers: [BundledFunction, readonly ResultsProvider[]][] = [
      [props.consumer, props.openAiExpiredConsumer === undefined ? ['together'] : ['together', 'openai']],
      ...(props.openAiExpiredConsumer === undefined ? [] : [[props.openAiExpiredConsumer, ['openai']] as [BundledFunction, readonly ResultsProvider[]]]),
    ];
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnBucket);
    for (const [writer, providers] of writers) {
      const prefixes = providers.map((provider) => RESULTS_PROVIDERS[provider].prefix);
      // PutObject covers the multipart calls (create, upload part, complete); abort is its own
      // action. Nothing reads, lists or deletes: the consumer writes its providers' folders and
      // records where.
      Grant.addToPrincipal({
        grantee: writer.handler,
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resourceArns: prefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`)),
      });
      for (const prefix of prefixes) {
        Validations.of(writer).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
          reason: `Batch ids are known only when a batch ends, so the consumer may write any key under ${prefix}, and only under its providers' prefixes (PutObject and AbortMultipartUpload, no read, list or delete).`,
        });
      }
      writer.handler.addEnvironment('RESULTS_BUCKET_NAME', this.bucket.bucketName);
    }
    const handler = props.consumer.handler;
    this.apiKeySecret.grantRead(handler);
    handler.addEnvironment('TOGETHER_API_KEY_SECRET_ARN', this.apiKeySecret.secretArn);
  }
}
