import { integerEnv } from '../functions/core/config';
import { ConfigurationError } from '../functions/core/errors';
import { PROVIDERS } from '../functions/core/providers';
import { LOCAL_DEFAULT_PORTS } from '../ops/local-names';
import { FAKE_OPENAI_API_KEY } from './fake-openai';
import { startFakeProviders } from './fake-providers';
import { FAKE_TOGETHER_API_KEY, batchScript, failedFineTuneScript, successfulFineTuneScript, type FakeTogetherControls } from './fake-together';

/**
 * `npm run fake-providers`: the fake OpenAI, Together and Replicate APIs on their own, for a
 * runtime started separately (with `LOCAL_FAKE_PROVIDERS=off`, or a stack's functions pointed at a
 * tunnel). Together's jobs move on by themselves, for watching the poller work with no Together
 * account: each round adds a fine-tune job that checkpoints and completes, one that fails, and three
 * batches (completed, failed, expired); every `FAKE_TOGETHER_STEP_SECONDS` each moves one step, and
 * a new round starts when all have finished.
 */
async function main(): Promise<void> {
  const env = process.env;
  const port = integerEnv(env, 'FAKE_PROVIDERS_PORT', LOCAL_DEFAULT_PORTS.FAKE_PROVIDERS_PORT, 0, 65_535);
  const stepSeconds = integerEnv(env, 'FAKE_TOGETHER_STEP_SECONDS', 15, 1, 3_600);
  const fakes = await startFakeProviders({ port, replicateSecret: env.REPLICATE_WEBHOOK_SECRET?.split(',')[0]?.trim() || PROVIDERS.replicate.developmentSecret });
  const fake = fakes.together;

  let round = 0;
  const addRound = (api: FakeTogetherControls) => {
    round += 1;
    const tag = `demo${round}`;
    api.addJob(`ft-${tag}-ok`, successfulFineTuneScript({ checkpoints: 2, modelOutputName: `acme/llama-3.1-8b-${tag}` }));
    api.addJob(`ft-${tag}-oom`, failedFineTuneScript('CUDA out of memory at step 120'));
    api.addBatch(`batch-${tag}-done`, batchScript(`batch-${tag}-done`, 'COMPLETED'));
    api.addBatch(`batch-${tag}-bad`, batchScript(`batch-${tag}-bad`, 'FAILED'));
    api.addBatch(`batch-${tag}-late`, batchScript(`batch-${tag}-late`, 'EXPIRED'));
    console.log(`round ${round}: added ft-${tag}-ok, ft-${tag}-oom, batch-${tag}-{done,bad,late}`);
  };
  addRound(fake);

  const timer = setInterval(() => {
    if (fake.finished()) addRound(fake);
    else fake.advance();
  }, stepSeconds * 1000);

  console.log(`fake OpenAI API at ${fakes.baseUrls.openai}, Together at ${fakes.baseUrls.together} (jobs move every ${stepSeconds} s), Replicate at ${fakes.baseUrls.replicate}`);
  console.log('run the receiver against them in another terminal:');
  console.log(
    `  LOCAL_FAKE_PROVIDERS=off OPENAI_API_BASE_URL=${fakes.baseUrls.openai} OPENAI_API_KEY=${FAKE_OPENAI_API_KEY} ` +
      `TOGETHER_API_BASE_URL=${fakes.baseUrls.together} TOGETHER_API_KEY=${FAKE_TOGETHER_API_KEY} TOGETHER_POLL_INTERVAL_SECONDS=10 npm start`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping (${fake.requests.length} requests served)`);
    clearInterval(timer);
    await fakes.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigurationError) console.error(`configuration error: ${error.message}`);
  else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') console.error('the port is already in use; set FAKE_PROVIDERS_PORT');
  else console.error(error);
  process.exit(1);
});
