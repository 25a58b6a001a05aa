import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's name in package.json: how its root is recognised from any file inside it. */
export const PACKAGE_NAME = 'ai-webhook-receiver';

let root: string | undefined;

/**
 * The root of this package: the folder of the package.json named {@link PACKAGE_NAME} above this
 * module. The same from the sources (`functions/core/`) and from the build (`dist/`), in this
 * repository or installed in another project's `node_modules`, so that the construct finds the
 * function sources it bundles wherever it runs from.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return (root = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json named ${PACKAGE_NAME} above ${fileURLToPath(import.meta.url)}: is the package installed whole?`);
    dir = parent;
  }
}

/** A file of the package by its path from the package root (`functions/receiver/handler.ts`). */
export function packageFile(path: string): string {
  return join(packageRoot(), path);
}
