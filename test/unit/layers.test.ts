import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/*
 * The layer rule of the tree: functions/ ← ops/ ← cli/, console/ ← local/, and infra/ reads only
 * functions/. A layer imports its own folder and the layers below it, never one above or beside.
 * The entry points (bench/, test/, schemas/, examples/, files at the root) may import anything.
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  functions: ['functions'],
  ops: ['ops', 'functions'],
  cli: ['cli', 'ops', 'functions'],
  console: ['console', 'ops', 'functions'],
  local: ['local', 'cli', 'console', 'ops', 'functions'],
  infra: ['infra', 'functions'],
};
const LAYERS = Object.keys(ALLOWED);

interface SourceFile {
  /** Relative to the repository root, with `/`. */
  readonly path: string;
  readonly text: string;
}

/** Every module specifier of a file: static and type-only imports, re-exports, `import()` calls and `import('…')` types. */
function specifiers(file: SourceFile): string[] {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] !== undefined && ts.isStringLiteralLike(node.arguments[0])) {
      found.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The top-level folder of a root-relative path; `.` for a file at the root. */
function topFolder(path: string): string {
  const parts = path.split('/');
  return parts.length > 1 ? (parts[0] as string) : '.';
}

/** One line per import that runs up (or across) a layer: file, specifier, and the two layers. */
function layerViolations(files: readonly SourceFile[]): string[] {
  const violations: string[] = [];
  for (const file of files) {
    const from = topFolder(file.path);
    const allowed = ALLOWED[from];
    if (allowed === undefined) continue; // an entry point
    for (const specifier of specifiers(file)) {
      if (!specifier.startsWith('.')) continue; // a package or node: built-in
      const target = posix.normalize(posix.join(posix.dirname(file.path), specifier));
      const to = target.startsWith('..') ? '(outside the repository)' : topFolder(target);
      if (!allowed.includes(to)) violations.push(`${file.path}: '${specifier}' (${from}/ may not import ${to === '.' ? 'the root' : `${to}/`})`);
    }
  }
  return violations;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The TypeScript sources of the layers, from disk. */
function layerSources(): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(posix.join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(path);
      else if (entry.isFile() && /\.(ts|tsx|mts|cts)$/.test(entry.name)) files.push({ path, text: readFileSync(posix.join(root, path), 'utf8') });
    }
  };
  for (const layer of LAYERS) walk(layer);
  return files;
}

describe('the import graph', () => {
  it('has no import that runs up a layer', () => {
    const files = layerSources();

    const violations = layerViolations(files);

    expect(violations).toEqual([]);
  });

  it('reads sources in every layer, so that an empty scan cannot pass', () => {
    const files = layerSources();

    const perLayer = Object.fromEntries(LAYERS.map((layer) => [layer, files.filter((file) => topFolder(file.path) === layer).length]));

    for (const layer of LAYERS) expect(perLayer[layer], layer).toBeGreaterThan(0);
  });

  it('reports each upward import with its file and specifier, static, dynamic, type-only and re-exported', () => {
    const files: SourceFile[] = [
      { path: 'ops/events.ts', text: "import { printJson } from '../cli/output';\nimport { EXIT } from './errors';\n" },
      { path: 'ops/target.ts', text: "export async function names() { return (await import('../local/resources')).LOCAL_NAMES; }\n" },
      { path: 'cli/program.ts', text: "import type { ConsoleDeps } from '../console/api';\nimport { listEvents } from '../ops/events';\n" },
      { path: 'console/api.ts', text: "export type T = import('../cli/target').Target;\nexport { EXIT } from '../ops/errors';\n" },
      { path: 'functions/core/x.ts', text: "export * from '../../infra/outputs';\nimport { z } from 'zod';\n" },
      { path: 'infra/stack.ts', text: "import { LOCAL_NAMES } from '../ops/local-names';\nimport { ROUTES } from '../functions/core/routes';\n" },
      { path: 'local/start.ts', text: "import { run } from '../cli/program';\nimport { mount } from '../console/server';\nimport { x } from '../infra/stack';\n" },
      { path: 'test/unit/a.test.ts', text: "import { run } from '../../local/webhooks';\nimport { STACK_OUTPUTS } from '../../infra/index';\n" },
    ];

    const violations = layerViolations(files);

    expect(violations).toEqual([
      "ops/events.ts: '../cli/output' (ops/ may not import cli/)",
      "ops/target.ts: '../local/resources' (ops/ may not import local/)",
      "cli/program.ts: '../console/api' (cli/ may not import console/)",
      "console/api.ts: '../cli/target' (console/ may not import cli/)",
      "functions/core/x.ts: '../../infra/outputs' (functions/ may not import infra/)",
      "infra/stack.ts: '../ops/local-names' (infra/ may not import ops/)",
      "local/start.ts: '../infra/stack' (local/ may not import infra/)",
    ]);
  });
});
