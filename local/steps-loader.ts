import { existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { context, type BuildContext } from 'esbuild';
import { ConfigurationError } from '../functions/core/errors';
import { ROUTES } from '../functions/core/routes';
import { checkSteps, type Extensions } from '../functions/consumers/steps';
import type { RouteStep } from '../functions/consumers/routes/context';

/** Steps loaded from a module of yours, reloaded when a file it is built from changes. */
export interface LoadedSteps {
  /** One step per route that runs the steps loaded last, in order: what the consumers are given. */
  readonly steps: Extensions;
  /** The module, absolute. */
  readonly path: string;
  /** Stops watching. */
  stop(): Promise<void>;
}

export interface LoadStepsOptions {
  /** Called after each reload with its outcome; a failed reload keeps the steps loaded before it. */
  readonly onReload?: (outcome: { readonly ok: true; readonly routes: readonly string[] } | { readonly ok: false; readonly error: string }) => void;
}

/**
 * Loads your steps module (TypeScript or JavaScript; it exports `steps`) the way the construct
 * bundles it: esbuild builds it into one ES module, which is imported; your project needs no
 * TypeScript loader of its own. esbuild watches every file the module is built from, and each
 * rebuild is imported again. The packages it imports stay packages (resolved from your
 * node_modules, where the build is written) when there is a node_modules above the module.
 */
export async function loadSteps(modulePath: string, options: LoadStepsOptions = {}): Promise<LoadedSteps> {
  const path = resolve(modulePath);
  if (!existsSync(path) || !statSync(path).isFile()) throw new ConfigurationError(`--steps names ${path}, which is not a file: give the path of your steps module (e.g. src/steps.ts)`);
  const modules = nearestNodeModules(dirname(path));
  const outdir = modules === undefined ? mkdtempSync(join(tmpdir(), 'webhooks-steps-')) : join(modules, '.cache', 'ai-webhook-receiver');
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, `${basename(path).replace(/\.[^.]+$/, '')}.steps.mjs`);

  let current: Extensions = {};
  let builds = 0;
  let first: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const loaded = new Promise<void>((resolveFirst, rejectFirst) => (first = { resolve: resolveFirst, reject: rejectFirst }));
  const load = async (errors: readonly { text: string }[]): Promise<void> => {
    try {
      if (errors.length > 0) throw new ConfigurationError(`${path} did not build: ${errors.map((error) => error.text).join('; ')}`);
      builds += 1;
      // A new URL per build: the module cache keeps each import, so the same URL would not load again.
      const module = (await import(`${pathToFileURL(outfile).href}?build=${builds}`)) as { steps?: unknown };
      current = checkSteps(module.steps, path);
      if (first === undefined) options.onReload?.({ ok: true, routes: Object.keys(current) });
      first?.resolve();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (first === undefined) options.onReload?.({ ok: false, error: message });
      first?.reject(error instanceof ConfigurationError ? error : new ConfigurationError(`${path} could not be loaded: ${message}`));
    } finally {
      first = undefined;
    }
  };

  const build: BuildContext = await context({
    entryPoints: [path],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'silent',
    ...(modules === undefined ? {} : { packages: 'external' as const }),
    plugins: [{ name: 'load-steps', setup: (on) => on.onEnd((result) => load(result.errors)) }],
  });
  try {
    await build.watch();
    await loaded;
  } catch (error) {
    await build.dispose();
    throw error;
  }

  // Each route's one step runs what is loaded now, so a reload takes effect without new consumers.
  const steps = Object.fromEntries(
    ROUTES.map((route) => {
      const step: RouteStep = async (event, routeContext) => {
        for (const own of (current[route] ?? []) as readonly RouteStep[]) await own(event, routeContext);
      };
      return [route, [step]];
    }),
  ) as Extensions;
  return { steps, path, stop: () => build.dispose() };
}

/** The nearest `node_modules` folder at or above `dir`. */
function nearestNodeModules(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const candidate = join(at, 'node_modules');
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    if (dirname(at) === at) return undefined;
  }
}
