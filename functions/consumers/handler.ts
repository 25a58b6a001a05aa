import { readConsumerConfig } from './config';
import { deployedConsumer, deployedEnricher } from './deployed';

// One entry for every route; `ROUTE` picks the logic. Created once per execution environment. With
// `OPENAI_API_KEY_SECRET_ARN` (set by the stack on OpenAI's routes) OpenAI events are completed
// from its API first.
export const handler = await deployedConsumer(readConsumerConfig(), (tracer) => {
  const enrich = deployedEnricher(process.env, tracer);
  return enrich === undefined ? {} : { enrich };
});
