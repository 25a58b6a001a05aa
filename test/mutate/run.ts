/**
 * `npm run mutate:smoke`: a mutation check of the core modules. Each mutation of {@link MUTATIONS} is
 * one realistic single change (an operator, a constant, a map entry); it is applied to a copy of
 * the project in a temporary directory, never to the working tree, and the test files named with
 * it run one after another until one fails (killed) or all pass (survived). A mutation whose
 * snippet is not found exactly once in its file is "not applicable": the code moved on and the
 * snippet needs refreshing. It is reported and counted apart, never as killed.
 *
 *   npm run mutate:smoke                    every mutation, after a baseline run of the files they use
 *   npm run mutate:smoke -- --list          names, files and whether each snippet still applies
 *   npm run mutate:smoke -- --only a,b      just these (repeatable)
 *   npm run mutate:smoke -- --no-baseline   skip the unmutated run of the test files
 *
 * Exits 1 when the score (killed / (killed + survived)) is below {@link MIN_SCORE_PERCENT}, or
 * when the unmutated tests fail; 2 on a usage error.
 */
import { spawn } from 'node:child_process';
import { access, cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MUTATIONS, type Mutation } from './mutations';

/** The score the suite must keep. */
const MIN_SCORE_PERCENT = 90;
/** A test file that runs longer than this under a mutation is counted as killed (it hung). */
const FILE_TIMEOUT_MS = 180_000;

const ROOT = resolve(import.meta.dirname, '../..');
const NOT_COPIED = new Set(['node_modules', '.git', 'cdk.out', 'coverage']);

type Applicability = { readonly applies: true; readonly mutated: string } | { readonly applies: false; readonly reason: string };

/** The mutated text of the file, when the snippet occurs in it exactly once. */
function applyMutation(source: string, mutation: Pick<Mutation, 'find' | 'replace'>): Applicability {
  const first = source.indexOf(mutation.find);
  if (first === -1) return { applies: false, reason: 'snippet not found' };
  if (source.indexOf(mutation.find, first + 1) !== -1) return { applies: false, reason: 'snippet found more than once' };
  return { applies: true, mutated: source.slice(0, first) + mutation.replace + source.slice(first + mutation.find.length) };
}

interface FileRun {
  readonly passed: boolean;
  readonly timedOut: boolean;
  /** The first failing test's name, or why the file failed without one. */
  readonly failure?: string;
  readonly ms: number;
}

/** Runs one test file with Vitest in `cwd`, stopping at its first failure. */
async function runTestFile(cwd: string, file: string, signal: AbortSignal): Promise<FileRun> {
  const report = join(cwd, '.mutate-report.json');
  await rm(report, { force: true });
  const started = performance.now();
  const child = spawn(join(cwd, 'node_modules/.bin/vitest'), ['run', file, '--bail=1', '--reporter=json', `--outputFile=${report}`], {
    cwd,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  // The whole process group: Vitest's workers and any emulators or children the tests started.
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, FILE_TIMEOUT_MS);
  signal.addEventListener('abort', killGroup, { once: true });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  clearTimeout(timer);
  signal.removeEventListener('abort', killGroup);
  const ms = performance.now() - started;
  if (timedOut) return { passed: false, timedOut, failure: `timed out after ${FILE_TIMEOUT_MS / 1000} s`, ms };
  if (code === 0) return { passed: true, timedOut, ms };
  return { passed: false, timedOut, failure: await firstFailure(report, stderr), ms };
}

async function firstFailure(reportPath: string, stderr: string): Promise<string> {
  try {
    const report = JSON.parse(await readFile(reportPath, 'utf8')) as {
      testResults?: { message?: string; assertionResults?: { status: string; fullName: string }[] }[];
    };
    for (const file of report.testResults ?? []) {
      const failed = file.assertionResults?.find((assertion) => assertion.status === 'failed');
      if (failed !== undefined) return failed.fullName;
      if (file.message) return `file failed: ${file.message.split('\n')[0]}`;
    }
  } catch {
    // no report: Vitest itself failed
  }
  const line = stderr.split('\n').find((text) => /error/i.test(text));
  return `vitest failed: ${line?.trim() ?? 'no report'}`;
}

type Outcome =
  | { readonly status: 'killed'; readonly by: string; readonly test: string; readonly ms: number }
  | { readonly status: 'survived'; readonly ms: number }
  | { readonly status: 'not applicable'; readonly reason: string };

async function runMutation(copy: string, mutation: Mutation, signal: AbortSignal): Promise<Outcome> {
  const missing = await missingTests(mutation);
  if (missing.length > 0) return { status: 'not applicable', reason: `test file missing: ${missing.join(', ')}` };
  const path = join(copy, mutation.file);
  const original = await readFile(path, 'utf8').catch(() => undefined);
  if (original === undefined) return { status: 'not applicable', reason: 'file not found' };
  const applied = applyMutation(original, mutation);
  if (!applied.applies) return { status: 'not applicable', reason: applied.reason };
  let ms = 0;
  try {
    await writeFile(path, applied.mutated);
    for (const file of mutation.tests) {
      if (signal.aborted) throw new Error('interrupted');
      const run = await runTestFile(copy, file, signal);
      ms += run.ms;
      if (!run.passed) return { status: 'killed', by: file, test: run.failure ?? 'failed', ms };
    }
    return { status: 'survived', ms };
  } finally {
    await writeFile(path, original);
  }
}

/** The mutation's test files that do not exist (renamed or removed): Vitest would fail on them, which is no kill. */
async function missingTests(mutation: Mutation): Promise<string[]> {
  const exists = await Promise.all(mutation.tests.map((file) => access(join(ROOT, file)).then(() => true, () => false)));
  return mutation.tests.filter((_, index) => !exists[index]);
}

/** A copy of the project to mutate: sources copied, node_modules linked. */
async function copyProject(): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'mutate-'));
  await cp(ROOT, copy, {
    recursive: true,
    filter: (source) => !NOT_COPIED.has(relative(ROOT, source).split('/')[0] ?? ''),
  });
  await symlink(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return copy;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        list: { type: 'boolean', default: false },
        only: { type: 'string', multiple: true },
        'no-baseline': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\nusage: npm run mutate:smoke [-- --list] [--only name[,name]] [--no-baseline]`);
    return 2;
  }
  if (values.help) {
    console.log('usage: npm run mutate:smoke [-- --list] [--only name[,name]] [--no-baseline]');
    return 0;
  }
  const names = new Set(MUTATIONS.map((mutation) => mutation.name));
  if (names.size !== MUTATIONS.length) throw new Error('two mutations share a name');
  const only = (values.only ?? []).flatMap((value) => value.split(',')).filter((value) => value !== '');
  const unknown = only.filter((name) => !names.has(name));
  if (unknown.length > 0) {
    console.error(`unknown mutation: ${unknown.join(', ')} (see --list)`);
    return 2;
  }
  const selected = only.length === 0 ? MUTATIONS : MUTATIONS.filter((mutation) => only.includes(mutation.name));

  if (values.list) {
    for (const mutation of selected) {
      const applied = applyMutation(await readFile(join(ROOT, mutation.file), 'utf8').catch(() => ''), mutation);
      const missing = await missingTests(mutation);
      const status = !applied.applies ? `NOT APPLICABLE (${applied.reason})` : missing.length > 0 ? `NOT APPLICABLE (test file missing: ${missing.join(', ')})` : 'applies';
      console.log(`${mutation.name.padEnd(40)} ${mutation.file.padEnd(44)} ${status}`);
    }
    return 0;
  }

  const controller = new AbortController();
  const interrupt = () => {
    console.error('\ninterrupted: stopping; the working tree was never changed');
    controller.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const copy = await copyProject();
  try {
    if (!values['no-baseline']) {
      const wanted = [...new Set(selected.flatMap((mutation) => mutation.tests))];
      const present = await Promise.all(wanted.map((file) => access(join(ROOT, file)).then(() => true, () => false)));
      const files = wanted.filter((_, index) => present[index]);
      console.log(`baseline: ${files.length} test files, unmutated…`);
      for (const file of files) {
        const run = await runTestFile(copy, file, controller.signal);
        if (controller.signal.aborted) return 130;
        if (!run.passed) {
          console.error(`baseline failed in ${file}: ${run.failure}; fix the tests before measuring mutations`);
          return 1;
        }
      }
    }

    const outcomes: { mutation: Mutation; outcome: Outcome }[] = [];
    for (const [index, mutation] of selected.entries()) {
      const outcome = await runMutation(copy, mutation, controller.signal);
      if (controller.signal.aborted) return 130;
      outcomes.push({ mutation, outcome });
      const head = `[${String(index + 1).padStart(2)}/${selected.length}] ${mutation.name}`;
      if (outcome.status === 'killed') console.log(`${head}: killed in ${seconds(outcome.ms)} by ${outcome.by} › ${outcome.test}`);
      else if (outcome.status === 'survived') console.log(`${head}: SURVIVED (${seconds(outcome.ms)}) ${mutation.file}: ${mutation.find} → ${mutation.replace}`);
      else console.log(`${head}: NOT APPLICABLE, ${outcome.reason} in ${mutation.file}: ${mutation.find}`);
    }

    const count = (status: Outcome['status']) => outcomes.filter(({ outcome }) => outcome.status === status);
    const killed = count('killed').length;
    const survived = count('survived');
    const notApplicable = count('not applicable');
    const measured = killed + survived.length;
    const score = measured === 0 ? 0 : (100 * killed) / measured;
    console.log('');
    console.log(`killed ${killed}, survived ${survived.length}, not applicable ${notApplicable.length} (of ${outcomes.length})`);
    console.log(`score ${score.toFixed(1)} % of ${measured} applicable mutations (minimum ${MIN_SCORE_PERCENT} %)`);
    for (const { mutation } of survived) console.log(`  survived: ${mutation.name}: ${mutation.why}`);
    for (const { mutation } of notApplicable) console.log(`  not applicable: ${mutation.name}: refresh its snippet in ${mutation.file}`);
    return score >= MIN_SCORE_PERCENT ? 0 : 1;
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

process.exitCode = await main();
