import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * `npm run build`: what an installed copy of the package runs, JavaScript with its declarations
 * and source maps in dist/, and a bin that plain `node` runs.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
  types: string;
};

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]));
}

/** The files a module loads before it runs: itself, its static imports and theirs (minified too: `import{a as b}from"./x.js"`), never its `import()`s. */
function staticFiles(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const match of readFileSync(file, 'utf8').matchAll(/(?:^|[;}\n])\s*(?:import|export)\s*(?:[^;"'()]*?\bfrom\s*)?["'](\.{1,2}\/[^"']+)["']/g)) {
    staticFiles(resolve(dirname(file), match[1] as string), seen);
  }
  return seen;
}

/**
 * The files the bin loads before a command runs: the entry, its static imports, and the module of
 * the command line it imports (after turning on Node's compile cache), with its static imports.
 */
function filesBeforeCommand(bin: string): Set<string> {
  const loaded = staticFiles(bin);
  for (const match of readFileSync(bin, 'utf8').matchAll(/\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g)) staticFiles(resolve(dirname(bin), match[1] as string), loaded);
  return loaded;
}

/** Strings only the code of the DynamoDB client, the SQS client, the console server, esbuild's API and zod's schemas hold. */
const HEAVY = ['DynamoDB_20120810', 'AmazonSQS', 'console-token', 'esbuild', '$ZodType"'];

/**
 * `npm run build`'s output, checked where a user gets it: `packageDir` is the installed package
 * (test/package/installed.test.ts packs it, which builds it, and installs the tarball), so one
 * build serves both, and the imports of its files resolve from the user's node_modules.
 */
export function describeBuild(packageDir: () => string): void {
  /** A path of package.json (`./dist/…`) in the build under test. */
  const built = (path: string) => join(packageDir(), path);
  const out = () => join(packageDir(), 'dist');

  describe('npm run build', () => {
    it('[PKG] emits the JavaScript, its source map and the declarations of every export, bin and types', () => {
      const targets = Object.values(manifest.exports).flatMap((target) => (typeof target === 'string' ? [] : [target.default, target.types]));
      const files = [...targets, ...Object.values(manifest.bin), manifest.types];

      const missing = files.filter((file) => !existsSync(built(file)));
      const withoutMap = files.filter((file) => file.endsWith('.js') && !existsSync(`${built(file)}.map`));

      expect(targets.length).toBeGreaterThanOrEqual(6);
      expect({ missing, withoutMap }).toEqual({ missing: [], withoutMap: [] });
    });

    it('[PKG] gives every relative import of the declarations the .js extension Node resolution needs', () => {
      const declarations = filesUnder(join(out(), 'types')).filter((file) => file.endsWith('.d.ts'));

      const extensionless = declarations.flatMap((file) =>
        [...readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']*)'/g)].map((match) => match[1] as string).filter((specifier) => !specifier.endsWith('.js')).map((specifier) => `${file}: ${specifier}`),
      );

      expect(declarations.length).toBeGreaterThan(20);
      expect(extensionless).toEqual([]);
    });

    it('[PKG] has a bin that plain node runs, printing the help of every command', async () => {
      const { stdout } = await run(process.execPath, [built(manifest.bin.webhooks as string), '--help'], { env: { PATH: process.env.PATH ?? '' } });

      expect(stdout).toContain('Usage: webhooks [options] [command]');
      expect(stdout).toMatch(/^ {2}console \[options\] +serve the web console/m);
      expect(stdout).toMatch(/^ {2}dev \[options\] +/m);
    });

    it('[PKG] [CLI] loads no AWS SDK client, console server, esbuild or zod schema before a command runs, only in the commands that use them', () => {
      const bin = built(manifest.bin.webhooks as string);
      const loaded = filesBeforeCommand(bin);
      const all = filesUnder(dirname(bin)).filter((file) => file.endsWith('.js'));
      const holding = (files: Iterable<string>) => HEAVY.filter((marker) => [...files].some((file) => readFileSync(file, 'utf8').includes(marker)));

      expect(loaded.size).toBeGreaterThan(2);
      expect(holding(loaded)).toEqual([]);
      // They are in the bin's files all the same, loaded by `import()` when a command runs.
      expect(holding(all)).toEqual(HEAVY);
    });

    it('[CLI-START] has a bin whose --help loads neither node:crypto, node:http, node:child_process nor readline', async () => {
      // The built-in modules Node loads while the bin runs, from its import to its exit, printed on stderr.
      const script =
        'const before = new Set(process.moduleLoadList);' +
        "process.on('exit', () => process.stderr.write(JSON.stringify(process.moduleLoadList.filter((name) => !before.has(name)))));" +
        'await import(process.argv[1]);';

      const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '--eval', script, built(manifest.bin.webhooks as string), '--help'], { env: { PATH: process.env.PATH ?? '' } });
      const builtins = (JSON.parse(stderr) as string[]).filter((name) => name.startsWith('NativeModule ')).map((name) => name.slice('NativeModule '.length));

      expect(stdout).toContain('Usage: webhooks [options] [command]');
      expect(builtins.length).toBeGreaterThan(0);
      expect(builtins.filter((name) => ['crypto', 'http', 'child_process', 'readline'].includes(name))).toEqual([]);
    });

    it('[CLI-START] loads no file of its own for a small stateless module before a command runs: each importer carries a copy', () => {
      const loaded = [...filesBeforeCommand(built(manifest.bin.webhooks as string))];
      const sourcesOf = (file: string) => (JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] }).sources;
      const small = /\/(functions\/core\/(routes|provider-names|table|queues)|ops\/(time|job-names))\.ts$/;

      const alone = loaded.filter((file) => sourcesOf(file).length > 0 && sourcesOf(file).every((source) => small.test(source)));

      expect(loaded.flatMap(sourcesOf).some((source) => /\/functions\/core\/routes\.ts$/.test(source))).toBe(true);
      expect(alone).toEqual([]);
    });

    it('[CLI] turns on the compile cache where Node has one before it imports the command line', () => {
      const entry = readFileSync(built(manifest.bin.webhooks as string), 'utf8');

      const enabled = entry.indexOf('enableCompileCache');
      const imported = entry.search(/\bimport\(\s*["']\.\/chunks\//);

      expect(enabled).toBeGreaterThan(0);
      expect(imported).toBeGreaterThan(enabled);
    });

    it('[PKG] has a construct entry that plain node imports, finding the function sources from dist/', async () => {
      const script = "const m = await import(process.argv[1]); console.log(typeof m.WebhookReceiver, typeof m.defineSteps, m.ROUTES.length > 0);";

      const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', script, built(manifest.exports['.'] === undefined || typeof manifest.exports['.'] === 'string' ? 'missing' : manifest.exports['.'].default)]);

      expect(stdout.trim()).toBe('function function true');
    });
  });
}
