#!/usr/bin/env node
// `npm run build`: the package as it is installed, in dist/.
//
// JavaScript: esbuild bundles each entry point (the construct, the event types, the step types)
// into ES modules with source maps, every npm package left external (aws-cdk-lib, constructs, the
// AWS SDK, zod… resolve from the user's node_modules, one copy each), and the `webhooks` bin on its
// own, with the packages it loads inside it but for a few (BIN_EXTERNAL). Bundling
// rather than emitting with tsc because the sources use extensionless relative imports
// (`moduleResolution: bundler`), which Node's ESM loader cannot run as tsc would emit them; code
// splitting keeps each `import()` a chunk of its own, so the bin loads the SDK only in the commands
// that use it.
//
// Types: `tsc --emitDeclarationOnly` (tsconfig.build.json) writes a .d.ts and a declaration map
// per source file under dist/types/; their relative imports are then given the `.js` that Node's
// resolution (`module: node16`/`nodenext` in a user's tsconfig) needs in an ES module.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// BUILD_OUTDIR: another folder than dist/ (the build's own test builds beside the packing one).
const dist = process.env.BUILD_OUTDIR === undefined ? join(root, 'dist') : resolve(process.env.BUILD_OUTDIR);

/** The library's entry points, by their path under dist/ without `.js`. */
export const ENTRIES = {
  index: 'infra/index.ts',
  events: 'functions/core/index.ts',
  steps: 'functions/consumers/steps.ts',
};

/**
 * The packages the bin loads from node_modules rather than carrying inside it: esbuild (a native
 * binary per platform) and the emulators of `webhooks dev` (dynalite, fauxqs, with their native
 * and data files). Everything else is bundled into the bin's files, split into chunks that load
 * only with the commands that use them: one file read instead of hundreds (zod is ~60 modules,
 * an AWS SDK client ~300) is most of what starting a command costs.
 */
const BIN_EXTERNAL = new Set(['esbuild', 'dynalite', 'fauxqs']);

/**
 * Modules of constants and functions, with no state and no classes, that the bin carries a copy
 * of in every file that imports them, rather than a file of their own: esbuild puts a module
 * shared by several commands' `import()`s in a chunk of its own, one per set of commands, and
 * each file is a read, a resolution and a compilation for Node's module loader at start. Here the
 * small ones the commands share, and the reads `events list` runs (ops/events.ts, its formatting,
 * the target). Since none holds state or a class, no answer can tell two copies apart.
 */
const BIN_INLINE = new Set(
  [
    'functions/core/aws.ts',
    'functions/core/listeners.ts',
    'functions/core/provider-names.ts',
    'functions/core/queues.ts',
    'functions/core/routes.ts',
    'functions/core/stack-outputs.ts',
    'functions/core/table.ts',
    'cli/format.ts',
    'ops/event-json.ts',
    'ops/events.ts',
    'ops/job-names.ts',
    'ops/local-names.ts',
    'ops/simulate-bodies.ts',
    'ops/target.ts',
    'ops/time.ts',
    'ops/together-push.ts',
  ].map((path) => join(root, path)),
);

rmSync(dist, { recursive: true, force: true });

const common = { absWorkingDir: root, bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning' };

// The library: every package external, so that your app, your handlers and the construct share
// one copy of each (zod schemas, aws-cdk-lib classes).
await build({ ...common, entryPoints: ENTRIES, outdir: dist, packages: 'external', chunkNames: 'chunks/[name]-[hash]' });

await build({
  ...common,
  entryPoints: { webhooks: 'local/bin.ts' },
  outdir: join(dist, 'bin'),
  // The ES module builds of the packages that have them (the AWS SDK's), which esbuild tree-shakes,
  // minified: less to compile at each start. The source maps keep the stack traces readable.
  mainFields: ['module', 'main'],
  minify: true,
  // The inlined CommonJS packages require() Node built-ins: esbuild needs a real `require` in module
  // scope for that (as in the Lambda bundles, infra/constructs/bundled-function.ts).
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [
    {
      // node:http and node:https through `require` rather than `import`: importing one as an ES
      // module builds its namespace, reading every export, and on Node 24 `node:http`'s lazy
      // exports (WebSocket…) load undici with it, which no command uses. Only these two: each
      // built-in taken this way is a module of its own, and a chunk of its own for every set of
      // commands that share it, and each file costs its load at start.
      name: 'http-by-require',
      setup(on) {
        on.onResolve({ filter: /^(node:)?https?$/ }, (args) => (args.namespace === 'builtin' ? undefined : { path: args.path.replace(/^node:/, ''), namespace: 'builtin' }));
        on.onResolve({ filter: /.*/, namespace: 'builtin' }, (args) => ({ path: args.path, external: true }));
        on.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require('node:${args.path}');`, loader: 'js' }));
      },
    },
    {
      // BIN_INLINE: each importer gets its own copy (the copy's own imports of BIN_INLINE modules too).
      name: 'inline-small-modules',
      setup(on) {
        on.onResolve({ filter: /^\.{1,2}\// }, (args) => {
          const path = `${resolve(args.resolveDir, args.path)}.ts`;
          if (!BIN_INLINE.has(path)) return undefined;
          const copyFor = args.pluginData?.copyFor ?? args.importer;
          return { path, suffix: `?for=${relative(root, copyFor)}`, pluginData: { copyFor } };
        });
        on.onLoad({ filter: /\.ts$/ }, (args) =>
          args.suffix?.startsWith('?for=') ? { contents: readFileSync(args.path, 'utf8'), loader: 'ts', resolveDir: dirname(args.path), pluginData: args.pluginData } : undefined,
        );
      },
    },
    {
      // commander requires node:child_process at load, for executable subcommands, which this
      // program has none of: a stand-in that requires it on first use spares every command
      // loading it (and node:net and node:dgram with it) at start.
      name: 'child-process-on-use',
      setup(on) {
        on.onResolve({ filter: /^(node:)?child_process$/ }, (args) => (/[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'on-use' } : undefined));
        on.onLoad({ filter: /.*/, namespace: 'on-use' }, () => ({
          contents: "module.exports = new Proxy({}, { get: (_, name) => require('node:child_process')[name] });",
          loader: 'js',
        }));
      },
    },
    {
      name: 'external-but-inline',
      setup(on) {
        on.onResolve({ filter: /^[^./#]/ }, (args) => {
          const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : (args.path.split('/')[0] ?? args.path);
          return BIN_EXTERNAL.has(name) ? { path: args.path, external: true } : undefined;
        });
      },
    },
  ],
});

const bin = join(dist, 'bin', 'webhooks.js');
writeFileSync(bin, `#!/usr/bin/env node\n${readFileSync(bin, 'utf8')}`);
chmodSync(bin, 0o755);

try {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(dist, 'types')], { stdio: 'inherit' });
} catch {
  // tsc printed its errors.
  process.exit(1);
}
addJsExtensions(join(dist, 'types'));

/** Rewrites `from './x'` in every .d.ts under `dir` to `./x.js` (or `./x/index.js` for a folder). */
function addJsExtensions(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      addJsExtensions(path);
    } else if (entry.endsWith('.d.ts')) {
      const text = readFileSync(path, 'utf8').replace(/((?:from|import)\s*\(?\s*')(\.{1,2}\/[^']*)(')/g, (whole, before, specifier, after) => {
        if (/\.(js|json)$/.test(specifier)) return whole;
        const target = join(dirname(path), specifier);
        if (existsSync(`${target}.d.ts`)) return `${before}${specifier}.js${after}`;
        if (existsSync(join(target, 'index.d.ts'))) return `${before}${specifier}/index.js${after}`;
        throw new Error(`${path}: cannot resolve '${specifier}' to a declaration file`);
      });
      writeFileSync(path, text);
    }
  }
}
