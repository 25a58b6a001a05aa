import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../functions/core/event';
import type { Route } from '../../functions/core/routes';
import type { Consumer } from '../../functions/consumers/consume';
import { startEmulated, type Emulated } from '../support/emulated';
import { consumerOn, jobItem, normalizedEvent, sqsEvent, sqsRecord } from '../support/consumers';

let env: Emulated;
let consumers: Partial<Record<Route, Consumer>>;
beforeAll(async () => {
  env = await startEmulated();
  consumers = Object.fromEntries(
    (['fine_tune.started', 'fine_tune.checkpoint', 'fine_tune.completed', 'fine_tune.failed'] as const).map((route) => [route, consumerOn(env, route)]),
  );
});
afterAll(async () => {
  await env?.stop();
});

let jobCounter = 0;

/** One job's life: started, some checkpoints with distinct steps, and at most one terminal event. */
const jobHistory = fc.record({
  started: fc.boolean(),
  steps: fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { maxLength: 6 }),
  terminal: fc.constantFrom('completed', 'failed', undefined),
});

function eventsOf(subject: string, history: { started: boolean; steps: number[]; terminal: 'completed' | 'failed' | undefined }): NormalizedEvent[] {
  const jobId = subject;
  return [
    ...(history.started ? [normalizedEvent({ type: 'fine_tune.started', providerType: 'fine_tune.started', subject, data: { jobId } })] : []),
    ...history.steps.map((step) =>
      normalizedEvent({ type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject, data: { jobId, step, loss: 1 / step } }),
    ),
    ...(history.terminal === 'completed'
      ? [normalizedEvent({ type: 'fine_tune.completed', providerType: 'fine_tune.completed', subject, data: { jobId, modelName: `model-of-${subject}` } })]
      : []),
    ...(history.terminal === 'failed'
      ? [normalizedEvent({ type: 'fine_tune.failed', providerType: 'fine_tune.failed', subject, data: { jobId, errorMessage: `failure of ${subject}` } })]
      : []),
  ];
}

describe('jobs projection under out-of-order and repeated delivery', () => {
  it('ends in the state the events imply, whatever their order and however often each arrives', async () => {
    await fc.assert(
      fc.asyncProperty(
        jobHistory
          .filter((history) => history.started || history.steps.length > 0 || history.terminal !== undefined)
          .chain((history) => {
            const indices = eventsOf('sizing', history).map((_, index) => index);
            // Every event at least once, some twice (SQS delivers at least once), in any order.
            return fc
              .subarray(indices)
              .chain((repeats) => fc.shuffledSubarray([...indices, ...repeats], { minLength: indices.length + repeats.length }))
              .map((order) => ({ history, order }));
          }),
        async ({ history, order }) => {
          // A fresh job per run, also while shrinking, so that no run sees another's item.
          const subject = `ft-prop-${++jobCounter}`;
          const events = eventsOf(subject, history);
          const stream = order.map((index) => events[index] as NormalizedEvent);
          for (const event of stream) {
            const response = await (consumers[event.type] as Consumer)(sqsEvent(sqsRecord(event)));
            expect(response.batchItemFailures).toEqual([]);
          }

          const item = await jobItem(env, `together#${subject}`);
          const topStep = history.steps.length === 0 ? undefined : Math.max(...history.steps);
          expect(item?.state).toBe(history.terminal ?? (history.steps.length > 0 ? 'running' : 'started'));
          expect(item?.step).toBe(topStep);
          expect(item?.loss).toBe(topStep === undefined ? undefined : 1 / topStep);
          expect(item?.model).toBe(history.terminal === 'completed' ? `model-of-${subject}` : undefined);
          expect(item?.error).toBe(history.terminal === 'failed' ? `failure of ${subject}` : undefined);
          expect(item?.checkpoints?.map((checkpoint) => checkpoint.step)).toEqual(
            history.steps.length === 0 ? undefined : [...history.steps].sort((a, b) => a - b),
          );
          expect(new Set(item?.transitions?.map((transition) => transition.state)).size).toBe(item?.transitions?.length);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('jobs history when a batch of events about one job is handled in parallel', () => {
  it('keeps every checkpoint: a write that lost the race to another reads and merges again', async () => {
    const subject = 'ft-parallel';
    const events = Array.from({ length: 10 }, (_, index) =>
      normalizedEvent({ type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject, data: { jobId: subject, step: (index + 1) * 10, loss: 1 / (index + 1) } }),
    );

    const response = await (consumers['fine_tune.checkpoint'] as Consumer)(sqsEvent(...events.map((event) => sqsRecord(event))));

    const item = await jobItem(env, `together#${subject}`);
    expect(response.batchItemFailures).toEqual([]);
    expect(item?.checkpoints?.map((checkpoint) => checkpoint.step)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    // Each checkpoint is its own history item; the job item is written only when the latest step rises.
    expect(item).toMatchObject({ step: 100, loss: 0.1 });
    expect(item?.version).toBeLessThanOrEqual(10);
  });
});
