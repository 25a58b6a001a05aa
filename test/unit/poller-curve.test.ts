import type { FineTuningListCheckpointsResponse, FineTuningListMetricsResponse } from 'together-ai/resources/fine-tuning';
import { describe, expect, it } from 'vitest';
import { MAX_DATA_CHECKPOINTS, MAX_DATA_TEXT_LENGTH, routeDataSchema } from '../../functions/core/data';
import { jobCurve, readJobCurve } from '../../functions/poller/curve';
import { createTogetherApi, TogetherApiError, TogetherAuthError } from '../../functions/poller/together-api';
import { account } from '../support/poller';

// Bodies as Together's API reference and its official SDK's types describe them: checkpoints newest
// first, metric rows of `train/*` and `eval/*` scalars with a nanosecond `timestamp`.
const CHECKPOINTS: FineTuningListCheckpointsResponse = {
  data: [
    { checkpoint_type: 'Final', created_at: '2026-11-01T11:00:00Z', path: 'acme/llama-ft-7', step: 30, checkpoint: 'model' },
    { checkpoint_type: 'Intermediate (step 20)', created_at: '2026-11-01T10:40:00Z', path: 's3://ckpt/ft-7/20', step: 20, object_id: 'ml_abc' },
  ],
};
const METRICS: FineTuningListMetricsResponse = {
  metrics: [
    { timestamp: 1_793_527_200_000_000_000, 'train/global_step': 10, 'train/epoch': 0.33, 'train/loss': 2.43, 'train/learning_rate': 0.00001 },
    { timestamp: 1_793_527_800_000_000_000, 'train/global_step': 20, 'train/epoch': 0.66, 'train/loss': 1.9 },
    { timestamp: 1_793_527_800_000_000_000, 'eval/global_step': 20, 'eval/loss': 2.05 },
    { timestamp: 1_793_528_400_000_000_000, 'train/global_step': 30, 'train/epoch': 1, 'train/loss': 1.51 },
  ],
};

/** A client whose `fetch` answers each path from `bodies` (a status alone is an error answer). */
function stubbedApi(bodies: Record<string, unknown | number>) {
  const paths: string[] = [];
  const api = createTogetherApi({
    baseUrl: 'https://api.together.example/v1',
    apiKey: async () => 'key',
    sleep: async () => undefined,
    fetch: async (input) => {
      const url = new URL(String(input));
      paths.push(`${url.pathname.replace('/v1', '')}${url.search}`);
      const body = bodies[url.pathname.replace('/v1', '')];
      if (typeof body === 'number') return new Response(JSON.stringify({ error: { message: 'no' } }), { status: body });
      return Response.json(body);
    },
  });
  return { api, paths };
}

describe('[P-TOG] checkpoints and metrics from the Together API', () => {
  it("[P-TOG] the schemas accept the SDK's documented shapes of both endpoints, asking for 500 metric rows", async () => {
    const { api, paths } = stubbedApi({ '/fine-tunes/ft-7/checkpoints': CHECKPOINTS, '/fine-tunes/ft-7/metrics': METRICS });

    const checkpoints = await api.listFineTuneCheckpoints('ft-7');
    const metrics = await api.listFineTuneMetrics('ft-7');

    expect(checkpoints?.map((checkpoint) => [checkpoint.step, checkpoint.path])).toEqual([
      [30, 'acme/llama-ft-7'],
      [20, 's3://ckpt/ft-7/20'],
    ]);
    expect(metrics).toHaveLength(4);
    expect(paths).toEqual(['/fine-tunes/ft-7/checkpoints', '/fine-tunes/ft-7/metrics?resolution=500']);
  });

  it('[P-TOG] answers undefined where the API answers 404, and an empty list for an empty body', async () => {
    const { api } = stubbedApi({ '/fine-tunes/ft-7/checkpoints': 404, '/fine-tunes/ft-7/metrics': {} });

    expect([await api.listFineTuneCheckpoints('ft-7'), await api.listFineTuneMetrics('ft-7')]).toEqual([undefined, []]);
  });

  it('[P-TOG] refuses a metrics body that is not the documented shape', async () => {
    const { api } = stubbedApi({ '/fine-tunes/ft-7/metrics': { metrics: 'not a list' } });

    await expect(api.listFineTuneMetrics('ft-7')).rejects.toMatchObject({ reason: 'together_bad_response' });
  });

  it('[P-TOG] merges training loss and checkpoints by step, oldest first, leaving evaluation rows out', () => {
    const curve = jobCurve(CHECKPOINTS.data, METRICS.metrics);

    expect(curve).toEqual([
      { step: 10, loss: 2.43, at: '2026-11-01T10:00:00.000Z' },
      { step: 20, loss: 1.9, path: 's3://ckpt/ft-7/20', at: '2026-11-01T10:40:00.000Z' },
      { step: 30, loss: 1.51, path: 'acme/llama-ft-7', at: '2026-11-01T11:00:00.000Z' },
    ]);
    expect(routeDataSchema('fine_tune.completed').safeParse({ checkpoints: curve }).success).toBe(true);
  });

  it('[P-TOG] keeps at most 500 points: every checkpoint, the first and last step, and steps spread between', () => {
    const metrics = Array.from({ length: 2_000 }, (_, index) => ({ 'train/global_step': index + 1, 'train/loss': 3 - index / 1_000 }));
    const checkpoints = [{ step: 777, path: 's3://ckpt/777', created_at: '2026-11-01T10:00:00Z' }];

    const curve = jobCurve(checkpoints, metrics);

    expect(curve).toHaveLength(MAX_DATA_CHECKPOINTS);
    expect([curve[0]?.step, curve.at(-1)?.step]).toEqual([1, 2_000]);
    expect(curve.find((point) => point.step === 777)?.path).toBe('s3://ckpt/777');
    expect(curve.every((point, index) => index === 0 || point.step > (curve[index - 1]?.step ?? Infinity))).toBe(true);
  });

  it('[P-TOG] skips rows without a usable step or loss, and times it cannot read', () => {
    const curve = jobCurve(undefined, [
      { 'train/global_step': -1, 'train/loss': 1 },
      { 'train/global_step': 1.5, 'train/loss': 1 },
      { 'train/global_step': 2, 'train/learning_rate': 0.1 },
      { 'train/global_step': 3, 'train/loss': 0.9, timestamp: 9e30 },
    ]);

    expect(curve).toEqual([{ step: 3, loss: 0.9 }]);
  });

  it('[P-TOG] a failed read leaves its part out and is reported; a 404 is no failure; a rejected key still throws', async () => {
    const { api, curveFailing } = account([], {}, [], { 'ft-a': { checkpoints: CHECKPOINTS.data } });

    const missing = await readJobCurve(api, 'ft-a');
    curveFailing.add('ft-a');
    const failing = await readJobCurve(api, 'ft-a');
    const rejected = readJobCurve({ ...api, listFineTuneMetrics: async () => Promise.reject(new TogetherAuthError(401, '/fine-tunes/ft-a/metrics')) }, 'ft-b');

    expect([missing.curve.map((point) => point.step), missing.unreadable]).toEqual([[20, 30], []]);
    expect([failing.curve, failing.unreadable.map(({ what, error }) => [what, error instanceof TogetherApiError])]).toEqual([
      [],
      [
        ['checkpoints', true],
        ['metrics', true],
      ],
    ]);
    await expect(rejected).rejects.toBeInstanceOf(TogetherAuthError);
  });
});

describe('[RULE] the curve of a finished Together job', () => {
  // One instant, 2026-11-01T10:00:00Z, in each unit Together's `timestamp` may come in.
  const INSTANT = '2026-11-01T10:00:00.000Z';
  const at = (timestamp: unknown) => jobCurve(undefined, [{ 'train/global_step': 1, 'train/loss': 1, timestamp }])[0]?.at;

  it.each([
    ['seconds', 1_793_527_200],
    ['milliseconds', 1_793_527_200_000],
    ['microseconds', 1_793_527_200_000_000],
    ['nanoseconds', 1_793_527_200_000_000_000],
    ['an ISO string', '2026-11-01T10:00:00Z'],
  ])('[RULE] a metric timestamp in %s dates its point', (_, timestamp) => {
    expect(at(timestamp)).toBe(INSTANT);
  });

  it.each([
    ['milliseconds', 1e11, '1973-03-03T09:46:40.000Z'],
    ['microseconds', 1e14, '1973-03-03T09:46:40.000Z'],
    ['nanoseconds', 1e17, '1973-03-03T09:46:40.000Z'],
  ])('[RULE] the smallest timestamp read as %s is read in that unit', (_, timestamp, iso) => {
    expect(at(timestamp)).toBe(iso);
  });

  it('[RULE] a nanosecond timestamp in the last second of year 9999 still dates its point', () => {
    expect(at(253_402_300_799_999_000_000)).toMatch(/^9999-12-31T23:59:59\.99\dZ$/);
  });

  it.each([
    ['zero', 0],
    ['negative', -1_793_527_200],
    ['past year 9999', 253_402_300_800_000_000_000],
    ['not a number or a date', true],
    ['an unreadable string', 'soon'],
  ])('[RULE] a metric timestamp that is %s leaves its point undated', (_, timestamp) => {
    const curve = jobCurve(undefined, [{ 'train/global_step': 1, 'train/loss': 1, timestamp }]);

    expect(curve).toStrictEqual([{ step: 1, loss: 1 }]);
  });

  it('[RULE] step 0 is a point; a step or loss that is not a finite number adds none', () => {
    const curve = jobCurve(undefined, [
      { 'train/global_step': 0, 'train/loss': 3 },
      { 'train/global_step': '1', 'train/loss': 2 },
      { 'train/global_step': 2, 'train/loss': '2' },
      { 'train/global_step': 3, 'train/loss': Infinity },
      { 'train/global_step': 4, 'train/loss': Number.NaN },
    ]);

    expect(curve).toStrictEqual([{ step: 0, loss: 3 }]);
  });

  it('[RULE] a checkpoint without a time keeps the time of its metric row, and one without a step adds no point', () => {
    const curve = jobCurve([{ step: 20, path: 's3://ckpt/20' }, { path: 's3://ckpt/none' } as never], [{ 'train/global_step': 20, 'train/loss': 1.9, timestamp: '2026-11-01T10:40:00Z' }]);

    expect(curve).toStrictEqual([{ step: 20, loss: 1.9, at: '2026-11-01T10:40:00.000Z', path: 's3://ckpt/20' }]);
  });

  it(`[RULE] a checkpoint path that is blank or over ${MAX_DATA_TEXT_LENGTH} characters is left out, and one of exactly that length kept`, () => {
    const longest = `s3://${'x'.repeat(MAX_DATA_TEXT_LENGTH - 5)}`;
    const curve = jobCurve(
      [
        { step: 1, path: '   ' },
        { step: 2, path: `${longest}y` },
        { step: 3, path: longest },
        { step: 4, path: null },
      ],
      undefined,
    );

    expect(curve).toStrictEqual([{ step: 1 }, { step: 2 }, { step: 3, path: longest }, { step: 4 }]);
    expect(routeDataSchema('fine_tune.completed').safeParse({ checkpoints: curve }).success).toBe(true);
  });

  it(`[RULE] more than ${MAX_DATA_CHECKPOINTS} checkpoints with a path are cut to ${MAX_DATA_CHECKPOINTS} points, the oldest kept`, () => {
    const checkpoints = Array.from({ length: MAX_DATA_CHECKPOINTS + 2 }, (_, index) => ({ step: index, path: `s3://ckpt/${index}` }));

    const curve = jobCurve(checkpoints, undefined);

    expect(curve.map((point) => point.step)).toEqual(checkpoints.slice(0, MAX_DATA_CHECKPOINTS).map((checkpoint) => checkpoint.step));
  });

  it(`[RULE] with room for one more point beside the checkpoints, the last metric step is kept`, () => {
    const checkpoints = Array.from({ length: MAX_DATA_CHECKPOINTS - 1 }, (_, index) => ({ step: index, path: `s3://ckpt/${index}` }));
    const metrics = [1_000, 1_001, 1_002].map((step) => ({ 'train/global_step': step, 'train/loss': 1 }));

    const curve = jobCurve(checkpoints, metrics);

    expect(curve).toHaveLength(MAX_DATA_CHECKPOINTS);
    expect(curve.at(-1)).toStrictEqual({ step: 1_002, loss: 1 });
    expect(routeDataSchema('fine_tune.completed').safeParse({ checkpoints: curve }).success).toBe(true);
  });

  it(`[RULE] a long run whose last step has a checkpoint still fills all ${MAX_DATA_CHECKPOINTS} points`, () => {
    const metrics = Array.from({ length: 1_000 }, (_, index) => ({ 'train/global_step': index + 1, 'train/loss': 1 }));

    const curve = jobCurve([{ step: 1_000, path: 's3://ckpt/final' }], metrics);

    expect(curve).toHaveLength(MAX_DATA_CHECKPOINTS);
    expect(curve.slice(-2)).toStrictEqual([
      { step: 999, loss: 1 },
      { step: 1_000, loss: 1, path: 's3://ckpt/final' },
    ]);
    expect(routeDataSchema('fine_tune.completed').safeParse({ checkpoints: curve }).success).toBe(true);
  });
});
