import { S3Client } from '@aws-sdk/client-s3';
import { ConfigurationError } from '../core/errors';
import { readConsumerConfig } from './config';
import { deployedConsumer, deployedEnricher } from './deployed';
import { batchResultsFromEnv, resultsS3Config } from './routes/batch-results';

// The `batch.completed` consumer (and, serving OpenAI, the `batch.expired` one) with batch results
// on: `handler.ts` plus the copy step. An entry of its own, so that only these functions' bundle
// carries the S3 client and the upload code (the shared bundle would load 16 MB more in every
// route's function).
const config = readConsumerConfig();
if ((config.route !== 'batch.completed' && config.route !== 'batch.expired') || config.resultsBucket === undefined) {
  throw new ConfigurationError(
    `the batch results consumer needs ROUTE=batch.completed (or batch.expired) and RESULTS_BUCKET_NAME; got ROUTE=${config.route}`,
  );
}

export const handler = await deployedConsumer(config, (tracer) => {
  const enrich = deployedEnricher(process.env, tracer);
  return {
    batchResults: batchResultsFromEnv(process.env, { s3: tracer.captureAWSv3Client(new S3Client(resultsS3Config())) }),
    ...(enrich === undefined ? {} : { enrich }),
  };
});
