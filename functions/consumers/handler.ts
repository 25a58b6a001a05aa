import { readConsumerConfig } from './config';
import { deployedConsumer } from './deployed';

// One entry for every route; `ROUTE` picks the logic. Created once per execution environment.
export const handler = await deployedConsumer(readConsumerConfig());
