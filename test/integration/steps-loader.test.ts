import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RouteContext } from '../../functions/consumers/steps';
import { loadSteps } from '../../local/steps-loader';
import { normalizedEvent } from '../support/consumers';

/** `webhooks dev --steps`: your module built by esbuild, imported, and imported again when it changes. */

const dir = mkdtempSync(join(tmpdir(), 'webhooks-dev-steps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A TypeScript steps module whose fine_tune.completed step pushes `label` to globalThis.ranSteps. */
const stepsModule = (label: string) => `
const ran = ((globalThis as { ranSteps?: string[] }).ranSteps ??= []);
export const steps = { 'fine_tune.completed': [async (event: { id: string }) => void ran.push(\`${label} \${event.id}\`)] };
`;
const ran = () => ((globalThis as { ranSteps?: string[] }).ranSteps ??= []);
const run = async (steps: Awaited<ReturnType<typeof loadSteps>>['steps'], id: string) => {
  for (const step of steps['fine_tune.completed'] ?? []) await step(normalizedEvent({ id }), {} as RouteContext);
};

describe('loadSteps', () => {
  it('[PKG] runs the TypeScript module’s steps, then its new ones once the file changes, and keeps them when a change does not build', async () => {
    const file = join(dir, 'steps.ts');
    writeFileSync(file, stepsModule('first'));
    let reloaded: (outcome: { ok: boolean }) => void = () => undefined;
    const loaded = await loadSteps(file, { onReload: (outcome) => reloaded(outcome) });
    try {
      await run(loaded.steps, 'evt_1');

      const second = new Promise<{ ok: boolean }>((resolve) => (reloaded = resolve));
      writeFileSync(file, stepsModule('second'));
      expect(await second).toMatchObject({ ok: true });
      await run(loaded.steps, 'evt_2');

      const broken = new Promise<{ ok: boolean }>((resolve) => (reloaded = resolve));
      writeFileSync(file, 'export const steps = {');
      expect(await broken).toMatchObject({ ok: false });
      await run(loaded.steps, 'evt_3');

      expect(ran()).toEqual(['first evt_1', 'second evt_2', 'second evt_3']);
    } finally {
      await loaded.stop();
    }
  });

  it('[PKG] refuses a module whose `steps` names something that is not a route, naming the module', async () => {
    const file = join(dir, 'bad.ts');
    writeFileSync(file, "export const steps = { 'fine_tune.done': [] };\n");

    await expect(loadSteps(file)).rejects.toThrow(`${file}: \`steps\` has "fine_tune.done", which is not a route`);
  });

  it('[PKG] refuses a path that is not a file', async () => {
    await expect(loadSteps(join(dir, 'missing.ts'))).rejects.toThrow(/--steps names .*missing\.ts, which is not a file/);
  });
});
