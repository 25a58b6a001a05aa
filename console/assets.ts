import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageFile } from '../functions/core/package-root';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** One file the console serves. */
export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

// From the package root, so that the same path serves the sources and the build (`dist/`).
const here = (path: string) => packageFile(join('console', path));

let bundled: Promise<Record<string, Asset>> | undefined;

/**
 * The page's script and style sheet, built once per process from `console/app` and the npm
 * packages it imports (Preact, htm): esbuild bundles them into one minified file, so nothing is
 * ever fetched from another host.
 */
export function consoleAssets(): Promise<Record<string, Asset>> {
  bundled ??= (async () => {
    const result = await build({
      entryPoints: [here('./app/main.ts')],
      bundle: true,
      minify: true,
      // Stryker disable next-line StringLiteral: the entry exports nothing, so as ESM or as esbuild's default IIFE the same code runs in the module script
      format: 'esm',
      target: 'es2020',
      write: false,
      // Stryker disable next-line StringLiteral: the bundled packages hold no legal comments today: the default keeps none either (same bytes)
      legalComments: 'none',
      // Stryker disable next-line StringLiteral: the bundle builds without warnings, and a failed build throws whatever the log level
      logLevel: 'silent',
    });
    const script = result.outputFiles[0];
    // Stryker disable next-line ConditionalExpression,StringLiteral: esbuild with write: false and one entry always returns its output file; the check is for the type
    if (script === undefined) throw new Error('esbuild produced no console bundle');
    return {
      '/app.js': { type: 'text/javascript; charset=utf-8', body: Buffer.from(script.contents) },
      '/app.css': { type: 'text/css; charset=utf-8', body: await readFile(here('./app/style.css')) },
    };
  })();
  return bundled;
}

/**
 * The one HTML page. It holds no data: everything it shows is fetched as JSON and put into the
 * page as text. The token is hex, so it needs no escaping.
 */
export function indexPage(token: string): Asset {
  if (!/^[0-9a-f]+$/.test(token)) throw new Error('the console token must be hex');
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<meta name="console-token" content="${token}">` +
    '<title>Webhooks console</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/app.css">' +
    '<script type="module" src="/app.js"></script></head>' +
    '<body><div id="app"><noscript>The console needs JavaScript.</noscript></div></body></html>';
  return { type: 'text/html; charset=utf-8', body: Buffer.from(html) };
}

/** Gzipped bytes of what a first load fetches: the page, its script and its style sheet. */
export async function firstLoadGzipBytes(): Promise<number> {
  const assets = await consoleAssets();
  return [indexPage('0'.repeat(64)), ...Object.values(assets)].reduce((sum, asset) => sum + gzipSync(asset.body).length, 0);
}
