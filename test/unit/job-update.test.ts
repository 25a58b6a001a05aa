import { describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../functions/core/event';
import { ROUTES } from '../../functions/core/routes';
import { BUILT_IN_STEPS, stepsFor, type RouteStep } from '../../functions/consumers/routes';
import { jobUpdateFor, transitionKeyFor } from '../../functions/consumers/routes/jobs';
import { normalizedEvent } from '../support/consumers';

const LISTED = [{ step: 10, loss: 2.5 }, { step: 20, loss: 1.5, path: 's3://ft/ft-1/step-20' }];

/** A Together fine-tune completion of job ft-1 whose provider data is `providerData`. */
const completion = (providerData: unknown) =>
  normalizedEvent({ subject: 'ft-1', data: { jobId: 'ft-1', modelName: 'acct/model', evalLoss: 0.4 }, providerData } as Partial<NormalizedEvent>);

describe('what a fine-tune event tells the projection', () => {
  it.each(['fine_tune.started', 'fine_tune.cancelled', 'fine_tune.failed', 'fine_tune.completed'] as const)(
    '[RULE] the checkpoints a %s event lists become points of the job\'s curve',
    (type) => {
      const event = normalizedEvent({ type, providerType: type, subject: 'ft-1', data: { jobId: 'ft-1', checkpoints: LISTED } } as Partial<NormalizedEvent>);

      expect(jobUpdateFor(event)?.checkpoints).toEqual(LISTED);
    },
  );

  it.each([
    ['a blank path', '  \t'],
    ['an empty path', ''],
  ])('[RULE] a checkpoint with %s keeps its step and loss, without a path', (_case, checkpointPath) => {
    const event = normalizedEvent({ type: 'fine_tune.checkpoint', providerType: 'fine_tune.checkpoint', subject: 'ft-1', data: { jobId: 'ft-1', step: 5, loss: 1.2, checkpointPath } });

    expect(jobUpdateFor(event)).toEqual({ pk: 'together#ft-1', provider: 'together', subject: 'ft-1', kind: 'fine_tune', state: 'running', step: 5, loss: 1.2, details: {} });
  });

  it.each(['checkpointPath', 'checkpoint_path', 'model_path'])('[RULE] a completion whose provider data names one path as %s lists that path for a deploy step', (field) => {
    expect(jobUpdateFor(completion({ [field]: 's3://ft/ft-1/final' }))?.details).toEqual({ model: 'acct/model', evalLoss: 0.4, checkpointPaths: ['s3://ft/ft-1/final'] });
  });

  it.each([
    ['no provider data', undefined],
    ['provider data null', null],
    ['provider data that is a string', 'ft-1 done'],
    ['provider data naming no path', { model_name: 'acct/model' }],
  ])('[RULE] a completion with %s is projected with its model and no list of paths', (_case, providerData) => {
    expect(jobUpdateFor(completion(providerData))?.details).toEqual({ model: 'acct/model', evalLoss: 0.4 });
  });

  it('[RULE] a completion\'s list of paths keeps only paths: no number, no blank, nothing longer than 2,048 characters', () => {
    const longest = `s3://${'p'.repeat(2043)}`;
    const listed = [42, '', '   ', `s3://${'p'.repeat(2044)}`, 's3://ft/ft-1/step-900', longest, null];

    expect(jobUpdateFor(completion({ checkpoint_paths: listed }))?.details.checkpointPaths).toEqual(['s3://ft/ft-1/step-900', longest]);
  });

  it.each([
    ['batch.failed', { batchId: 'b-1', errorMessage: ' quota exceeded ' }, { error: 'quota exceeded' }],
    ['batch.cancelled', { batchId: 'b-1' }, {}],
  ] as const)('[RULE] a %s event is projected as a batch in that state, with its reason if it failed', (type, data, details) => {
    const update = jobUpdateFor(normalizedEvent({ type, providerType: type, subject: 'b-1', data } as Partial<NormalizedEvent>));

    expect(update).toEqual({ pk: 'together#b-1', provider: 'together', subject: 'b-1', kind: 'batch', state: type.slice('batch.'.length), details });
  });

  it('[RULE] a completion\'s list of paths keeps the first 50', () => {
    const listed = Array.from({ length: 60 }, (_, index) => `s3://ft/ft-1/step-${index}`);

    expect(jobUpdateFor(completion({ checkpointPaths: listed }))?.details.checkpointPaths).toEqual(listed.slice(0, 50));
  });
});

describe('the transition an event reports, the key of its once-only steps', () => {
  it.each([
    ['fine_tune.started', { jobId: 'ft-1' }, 'together#ft-1#started'],
    ['fine_tune.checkpoint', { jobId: 'ft-1', step: 500 }, 'together#ft-1#running@500'],
    ['fine_tune.completed', { jobId: 'ft-1' }, 'together#ft-1#completed'],
    ['fine_tune.failed', { jobId: 'ft-1' }, 'together#ft-1#failed'],
    ['fine_tune.cancelled', { jobId: 'ft-1' }, 'together#ft-1#cancelled'],
    ['batch.completed', { batchId: 'ft-1' }, 'together#ft-1#completed'],
    ['batch.expired', { batchId: 'ft-1' }, 'together#ft-1#expired'],
  ] as const)('[RULE] a %s event of job ft-1 reports the transition %s', (type, data, key) => {
    expect(transitionKeyFor(normalizedEvent({ type, providerType: type, subject: 'ft-1', data } as Partial<NormalizedEvent>))).toBe(key);
  });

  it.each([
    ['a checkpoint without a step', { type: 'fine_tune.checkpoint', subject: 'ft-1', data: { jobId: 'ft-1', loss: 0.5 } }],
    ['an event without a subject', { type: 'fine_tune.failed', subject: undefined, data: {} }],
    ['a route that is not about a job', { type: 'model.deprecated', subject: 'm-1', data: { modelId: 'm-1' } }],
  ])('[RULE] %s reports no transition: its once-only steps run once per event', (_case, fields) => {
    expect(transitionKeyFor(normalizedEvent({ providerType: fields.type, ...fields } as Partial<NormalizedEvent>))).toBeUndefined();
  });
});

describe('the steps of a route', () => {
  const batchResults: RouteStep<'batch.completed' | 'batch.expired'> = async () => undefined;
  const mine: RouteStep = async () => undefined;

  it.each(['batch.completed', 'batch.expired'] as const)('[RULE] the batch results step, turned on, runs on %s after the projection and before the user\'s steps', (route) => {
    expect(stepsFor(route, { [route]: [mine] }, { batchResults })).toEqual([...BUILT_IN_STEPS[route], batchResults, mine]);
  });

  it.each(ROUTES.filter((route) => route !== 'batch.completed' && route !== 'batch.expired'))('[RULE] the batch results step never runs on %s', (route) => {
    expect(stepsFor(route, {}, { batchResults })).toEqual(BUILT_IN_STEPS[route]);
  });

  it.each(ROUTES)('[RULE] without the batch results step or user steps, %s runs its built-in steps only', (route) => {
    expect(stepsFor(route)).toEqual(BUILT_IN_STEPS[route]);
  });
});
