import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/core/errors';
import { checkSteps, defineSteps } from '../../functions/consumers/steps';
import { stepsFor } from '../../functions/consumers/routes';
import { resolveSettings } from '../../infra/constructs/receiver-settings';
import { WebhookReceiver } from '../../infra/constructs/webhook-receiver';

const dir = mkdtempSync(join(tmpdir(), 'webhooks-steps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a steps module', () => {
  it('[PKG] its steps run after the built-in ones of their route only', () => {
    const mine = async () => undefined;
    const steps = defineSteps({ 'fine_tune.completed': [mine] });

    expect(stepsFor('fine_tune.completed', steps).at(-1)).toBe(mine);
    expect(stepsFor('fine_tune.failed', steps)).not.toContain(mine);
  });

  it('[PKG] is refused when `steps` names something that is not a route, naming it and the routes', () => {
    expect(() => checkSteps({ 'fine_tune.done': [async () => undefined] }, 'src/steps.ts')).toThrow(ConfigurationError);
    expect(() => checkSteps({ 'fine_tune.done': [async () => undefined] }, 'src/steps.ts')).toThrow(/src\/steps\.ts: `steps` has "fine_tune\.done", which is not a route; the routes are fine_tune\.started, /);
  });

  it('[PKG] is refused when a route has something other than a list of functions', () => {
    expect(() => checkSteps({ 'fine_tune.completed': async () => undefined }, 'src/steps.ts')).toThrow(/the steps of "fine_tune\.completed" must be a list of functions/);
  });

  it('[PKG] is refused when it exports no `steps` object', () => {
    expect(() => checkSteps(undefined, 'src/steps.ts')).toThrow(/src\/steps\.ts must export `steps`/);
  });

  it.each([
    ['null', null, 'object'],
    ['a list', [async () => undefined], 'a list'],
  ])('[RULE] is refused with a configuration error when `steps` is %s, saying what it got', (_, value, got) => {
    expect(() => checkSteps(value, 'src/steps.ts')).toThrow(ConfigurationError);
    expect(() => checkSteps(value, 'src/steps.ts')).toThrow(`must export \`steps\`, an object of route → list of steps (e.g. { 'fine_tune.completed': [myStep] }); got ${got}`);
  });

  it('[RULE] is refused when a list of steps holds something other than a function', () => {
    expect(() => checkSteps({ 'fine_tune.completed': [async () => undefined, 'deploy'] }, 'src/steps.ts')).toThrow(/the steps of "fine_tune\.completed" must be a list of functions/);
  });

  it('[RULE] a module whose routes each list functions is taken as it is', () => {
    const steps = { 'fine_tune.completed': [async () => undefined], 'batch.failed': [] };

    expect(checkSteps(steps, 'src/steps.ts')).toBe(steps);
  });
});

describe('the construct’s steps prop', () => {
  it('[PKG] resolves the module against the working directory', () => {
    const file = join(dir, 'steps.ts');
    writeFileSync(file, 'export const steps = {};\n');

    expect(resolveSettings({ steps: file }).steps).toBe(file);
  });

  it('[PKG] fails the synth, naming the path, when the module is not a file', () => {
    const stack = new Stack(new App(), 'Steps');
    const missing = join(dir, 'missing.ts');

    expect(() => new WebhookReceiver(stack, 'Webhooks', { steps: missing })).toThrow(`steps names ${missing}, which is not a file`);
    expect(stack.node.tryFindChild('Webhooks')?.node.children.length ?? 0).toBe(0);
  });

  it('[PKG] fails the synth when the module is not JavaScript or TypeScript', () => {
    expect(() => resolveSettings({ steps: join(dir, 'steps.json') })).toThrow(/steps must be a \.ts, \.mts, \.js or \.mjs module/);
  });
});
