import { describe, expect, it } from 'vitest';
import { MAX_DATA_CHECKPOINTS, MAX_DATA_TEXT_LENGTH } from '../../functions/core/data';
import type { RouteEvent } from '../../functions/core/event';
import { openAiEnricher, openAiEnricherFromEnv } from '../../functions/consumers/enrich/openai';
import type { OpenAiApi, OpenAiCheckpoint, OpenAiJobEvent } from '../../functions/consumers/enrich/openai-api';
import { createOpenAiApi } from '../../functions/consumers/enrich/openai-api';
import { batchData, fineTuneData, lossCurve } from '../../functions/consumers/enrich/openai-map';
import type { RouteContext } from '../../functions/consumers/routes';
import { normalizedEvent } from '../support/consumers';

const checkpoint = (step: number, extra: Partial<OpenAiCheckpoint> = {}): OpenAiCheckpoint => ({
  id: `ftckpt_${step}`,
  step_number: step,
  created_at: 1_700_000_000 + step,
  fine_tuned_model_checkpoint: `ft:gpt-4o-mini:acme::x:ckpt-step-${step}`,
  metrics: { train_loss: 1 / step, full_valid_loss: 2 / step },
  ...extra,
});
const metrics = (step: number, trainLoss: number): OpenAiJobEvent => ({
  id: `ftevent-${step}`,
  created_at: 1_700_000_000 + step,
  type: 'metrics',
  data: { step, train_loss: trainLoss, train_mean_token_accuracy: 0.5 },
});

describe('[P-OAI] mapping OpenAI API shapes to canonical data', () => {
  it('[P-OAI] a succeeded job gives the model name, base model, trained tokens and result files', () => {
    const data = fineTuneData(
      'fine_tune.completed',
      { id: 'ftjob-1', model: 'gpt-4o-mini-2024-07-18', fine_tuned_model: 'ft:gpt-4o-mini-2024-07-18:acme::abc', trained_tokens: 12_000, result_files: ['file-r1'], error: null },
      [],
      0.31,
    );
    expect(data).toEqual({
      jobId: 'ftjob-1',
      modelName: 'ft:gpt-4o-mini-2024-07-18:acme::abc',
      baseModel: 'gpt-4o-mini-2024-07-18',
      trainedTokens: 12_000,
      resultFiles: ['file-r1'],
      evalLoss: 0.31,
    });
  });

  it('[P-OAI] a failed job gives error.message as errorMessage, cut to the canonical length', () => {
    const data = fineTuneData('fine_tune.failed', { id: 'ftjob-2', error: { code: 'x', message: 'e'.repeat(MAX_DATA_TEXT_LENGTH + 10) }, fine_tuned_model: null }, []);
    expect(data.errorMessage).toBe('e'.repeat(MAX_DATA_TEXT_LENGTH));
    expect(data).not.toHaveProperty('modelName');
  });

  it('[P-OAI] checkpoints and metrics events merge by step, oldest first, the checkpoint winning its step', () => {
    const curve = lossCurve([checkpoint(4), checkpoint(2)], [metrics(4, 9), metrics(3, 0.4), metrics(2, 9), metrics(1, 0.9)]);
    expect(curve.points).toEqual([
      { step: 1, loss: 0.9, at: new Date(1_700_000_001_000).toISOString() },
      { step: 2, loss: 0.5, path: 'ft:gpt-4o-mini:acme::x:ckpt-step-2', at: new Date(1_700_000_002_000).toISOString() },
      { step: 3, loss: 0.4, at: new Date(1_700_000_003_000).toISOString() },
      { step: 4, loss: 0.25, path: 'ft:gpt-4o-mini:acme::x:ckpt-step-4', at: new Date(1_700_000_004_000).toISOString() },
    ]);
    expect(curve.validLoss).toBe(0.5);
  });

  it('[P-OAI] message events and metrics without a step are skipped', () => {
    const curve = lossCurve([], [{ id: 'm', type: 'message', data: { step: 1, train_loss: 1 } }, { id: 'n', type: 'metrics', data: { train_loss: 1 } }]);
    expect(curve.points).toEqual([]);
  });

  it(`[P-OAI] the curve keeps the newest ${MAX_DATA_CHECKPOINTS} steps`, () => {
    const events = Array.from({ length: MAX_DATA_CHECKPOINTS + 20 }, (_, index) => metrics(index + 1, 1));
    const { points } = lossCurve([], events);
    expect(points).toHaveLength(MAX_DATA_CHECKPOINTS);
    expect(points[0]?.step).toBe(21);
  });

  it('[P-OAI] a completed batch gives its files, counts and tokens; a failed one its errors', () => {
    const batch = { id: 'batch_1', output_file_id: 'file-out', error_file_id: 'file-err', request_counts: { total: 5, completed: 4, failed: 1 }, usage: { total_tokens: 90 } };
    expect(batchData('batch.completed', batch)).toEqual({
      batchId: 'batch_1',
      outputFileId: 'file-out',
      errorFileId: 'file-err',
      requestCounts: { total: 5, completed: 4, failed: 1 },
      totalTokens: 90,
    });
    expect(batchData('batch.failed', { id: 'batch_2', errors: { data: [{ message: 'Line 1 is not valid JSON' }, { message: 'Line 2 too' }] } })).toEqual({
      batchId: 'batch_2',
      errorMessage: 'Line 1 is not valid JSON; Line 2 too',
    });
  });
});

const context = (notes: string[] = []) => ({ note: (text: string) => notes.push(text) }) as unknown as RouteContext;

/** An API whose every method fails the test unless overridden. */
function stubApi(overrides: Partial<OpenAiApi>): OpenAiApi {
  const unexpected = () => Promise.reject(new Error('unexpected request'));
  return { getFineTuningJob: unexpected, listCheckpoints: unexpected, listJobEvents: unexpected, getBatch: unexpected, getFile: unexpected, ...overrides };
}

describe('[P-OAI] the OpenAI enricher', () => {
  it('[P-OAI] keeps the payload fields the event has and fills the rest from the API', async () => {
    const enrich = openAiEnricher({
      api: () =>
        stubApi({
          getFineTuningJob: async (id) => ({ id, model: 'gpt-4o-mini', fine_tuned_model: 'ft:from-api' }),
          listCheckpoints: async () => ({ data: [], hasMore: false }),
          listJobEvents: async () => ({ data: [], hasMore: false }),
        }),
    });
    const event = normalizedEvent({ provider: 'openai', subject: 'ftjob-1', data: { jobId: 'ftjob-1', modelName: 'ft:from-payload' } });
    const out = (await enrich(event, context())) as RouteEvent<'fine_tune.completed'>;
    expect(out.data).toEqual({ jobId: 'ftjob-1', modelName: 'ft:from-payload', baseModel: 'gpt-4o-mini' });
  });

  it('[P-OAI] reads events page by page with `after` until `has_more` is false', async () => {
    const afters: (string | undefined)[] = [];
    const enrich = openAiEnricher({
      api: () =>
        stubApi({
          getFineTuningJob: async (id) => ({ id, fine_tuned_model: 'ft:m' }),
          listCheckpoints: async () => ({ data: [], hasMore: false }),
          listJobEvents: async (_, { after }) => {
            afters.push(after);
            return after === undefined ? { data: [metrics(3, 0.3), metrics(2, 0.6)], hasMore: true } : { data: [metrics(1, 0.9)], hasMore: false };
          },
        }),
    });
    const event = normalizedEvent({ provider: 'openai', subject: 'ftjob-9', data: { jobId: 'ftjob-9' } });
    const out = (await enrich(event, context())) as RouteEvent<'fine_tune.completed'>;
    expect(afters).toEqual([undefined, 'ftevent-2']);
    expect(out.data.checkpoints?.map((point) => point.step)).toEqual([1, 2, 3]);
  });

  it('[P-OAI] a 404 notes it and returns the event as it came', async () => {
    const notes: string[] = [];
    const enrich = openAiEnricher({ api: () => stubApi({ getBatch: async () => undefined }) });
    const event = normalizedEvent({ type: 'batch.completed', provider: 'openai', subject: 'batch_9', data: { batchId: 'batch_9' } });
    expect(await enrich(event, context(notes))).toBe(event);
    expect(notes).toEqual(["openai: GET /batches/batch_9 answered 404; handled with the payload's data"]);
  });

  it('[P-OAI] another provider\'s event is returned untouched without a client', async () => {
    const enrich = openAiEnricher({ api: () => { throw new Error('no client expected'); } });
    const event = normalizedEvent();
    expect(await enrich(event, context())).toBe(event);
  });

  it('[P-OAI] a base URL that would send the key in clear text is refused at start, naming the variable', () => {
    expect(() => openAiEnricherFromEnv({ OPENAI_API_BASE_URL: 'http://api.example.com/v1', OPENAI_API_KEY: 'k' })).toThrow(/OPENAI_API_BASE_URL must be https/);
  });

  it('[P-OAI] the client asks for a cursor page with the bearer key and reads has_more', async () => {
    const seen: { url: string; auth: string | null }[] = [];
    const api = createOpenAiApi({
      baseUrl: 'https://api.openai.test/v1/',
      apiKey: async () => 'sk-test',
      fetch: async (url, init) => {
        seen.push({ url: String(url), auth: new Headers(init?.headers).get('authorization') });
        return new Response(JSON.stringify({ object: 'list', data: [{ id: 'ftckpt_1', step_number: 1, metrics: {} }], has_more: true }));
      },
    });
    const page = await api.listCheckpoints('ftjob-1', { limit: 100, after: 'ftckpt_9' });
    expect(seen).toEqual([{ url: 'https://api.openai.test/v1/fine_tuning/jobs/ftjob-1/checkpoints?limit=100&after=ftckpt_9', auth: 'Bearer sk-test' }]);
    expect(page?.hasMore).toBe(true);
    expect(page?.data[0]?.step_number).toBe(1);
  });
});
