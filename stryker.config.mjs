// @ts-check
/**
 * `npm run mutate`: Stryker generates mutations of the core (functions/), the operations the CLI and
 * the console share (ops/) and the console's server side (console/*.ts), and runs against each one
 * only the tests that reach it (per-test coverage). Incremental: the state of the last run is kept
 * in test/mutate/stryker-incremental.json (committed), so a later run tests again only the mutants
 * whose code or tests changed. A full run does not fit one sitting on 2 cores: run it by directory,
 * e.g. `npm run mutate -- --mutate 'functions/core/**\/*.ts'`, and the incremental state carries over.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
function testsConfig(choice) {
  if (choice === undefined || choice === '') return 'test/mutate/vitest.all.config.ts';
  return choice === 'unit' ? 'test/mutate/vitest.unit.config.ts' : 'test/mutate/vitest.some.config.ts';
}

export default {
  testRunner: 'vitest',
  // MUTATE_TESTS=unit: the unit tests only, a quick first pass (integration tests take about 20 s a mutant here);
  // MUTATE_TESTS=<paths or globs, comma-separated>: those test files only; unset: every test.
  vitest: { configFile: testsConfig(process.env.MUTATE_TESTS), related: true },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'test/mutate/stryker-incremental.json',
  mutate: [
    'functions/**/*.ts',
    'ops/**/*.ts',
    'console/*.ts',
    // Stubs that replace SDK code the receiver never runs: no behaviour to test.
    '!functions/core/bundle-stubs/**',
  ],
  // Not run against mutants: the browser tests (slow, and the console's pages are not mutated), the
  // stack's template tests (each synthesizes the stack, bundling the instrumented functions: minutes
  // a mutant), and the tests that measure or pack bundles (the instrumented code is larger by design).
  ignorePatterns: ['dist', 'cdk.out', 'coverage', 'reports', '.build-test-*', 'test/browser/**', 'test/infra/**', 'test/package/**'],
  dryRunTimeoutMinutes: 30,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  concurrency: 2,
  timeoutMS: 60_000,
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
