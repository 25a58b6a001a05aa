/**
 * `npm run mutate:static -- <file> <test files…>`: applies by hand, one at a time, each static
 * mutant of `<file>` that the last Stryker report (reports/mutation/mutation.json) says survived,
 * runs the given test files against it, and prints KILLED or SURVIVED for each; the file is put
 * back after each. Static mutants (code that runs when a module is imported: constants, values
 * built at load, functions called only from a `beforeAll`) are activated too late by the Vitest
 * runner under per-test coverage, so Stryker reports them as survived whatever the tests do
 * (stryker-mutator/stryker-js#6144 and #6209). Exits 1 when one survives by hand too.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

interface Position {
  readonly line: number;
  readonly column: number;
}
interface Mutant {
  readonly status: string;
  readonly static?: boolean;
  readonly mutatorName: string;
  readonly replacement: string;
  readonly location: { readonly start: Position; readonly end: Position };
}

const [file, ...tests] = process.argv.slice(2);
if (file === undefined || tests.length === 0) {
  console.error('usage: npm run mutate:static -- <mutated file> <test file>…');
  process.exit(2);
}
const report = JSON.parse(readFileSync('reports/mutation/mutation.json', 'utf8')) as { files: Record<string, { source: string; mutants: Mutant[] }> };
const entry = report.files[file];
const original = readFileSync(file, 'utf8');
if (entry === undefined || entry.source !== original) {
  console.error(`${file} is not in the last report, or has changed since: run npm run mutate -- --mutate ${file} first`);
  process.exit(2);
}
const lineStarts = [0];
for (let index = 0; index < original.length; index++) if (original[index] === '\n') lineStarts.push(index + 1);
const offset = (at: Position) => (lineStarts[at.line - 1] ?? 0) + at.column - 1;

let survivors = 0;
try {
  for (const mutant of entry.mutants.filter((each) => each.status === 'Survived' && each.static === true)) {
    writeFileSync(file, original.slice(0, offset(mutant.location.start)) + mutant.replacement + original.slice(offset(mutant.location.end)));
    let killed = false;
    try {
      execFileSync('npx', ['vitest', 'run', '--project', 'shared', ...tests], { stdio: 'pipe' });
    } catch {
      killed = true;
    }
    if (!killed) survivors += 1;
    console.log(`${killed ? 'KILLED  ' : 'SURVIVED'} ${file}:${mutant.location.start.line}:${mutant.location.start.column} ${mutant.mutatorName} ${JSON.stringify(mutant.replacement).slice(0, 60)}`);
  }
} finally {
  writeFileSync(file, original);
}
process.exit(survivors === 0 ? 0 : 1);
