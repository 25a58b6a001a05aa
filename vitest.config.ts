import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Test files share their module graph within each worker (`isolate: false`): the AWS SDK,
 * aws-cdk-lib, zod and the emulators load once per worker instead of once per file, which halves
 * the suite's CPU time. Each file still starts and stops its own emulators, servers and stacks.
 * Isolated: the installed package's test, which runs its own processes, and the files that replace
 * a module (`vi.mock`), a class's method or the environment for the rest of their worker, keep
 * module-level state of the one they test, or spawn commands against ports they expect free. A
 * new file that stubs anything global belongs in ISOLATED, or restores it in `afterAll` (as the
 * files that stub an SDK client's class with `mockClient` do).
 */
const SHARED = ['test/**/*.test.ts'];
const ISOLATED = [
  'test/package/**/*.test.ts',
  'test/unit/verify-constant-time.test.ts',
  'test/unit/sdk-tracing.test.ts',
  'test/unit/readme-captures.test.ts',
  // Stubs the environment and the SQS client's prototype for a handler imported once.
  'test/integration/poller-handler.test.ts',
  // Replaces a module the steps import.
  'test/integration/extension-example.test.ts',
  // Replaces the console's and the process streams' writers.
  'test/reliability/logs.test.ts',
  // Loads the X-Ray SDK under Lambda's variables, which it reads once.
  'test/unit/consumer-traced.test.ts',
];

export default defineConfig({
  // The package's own names resolve to its sources here, as in tsconfig.json `paths`: `npm test`
  // runs from sources; the test of the installed package builds and packs it (test/package/installed.test.ts).
  resolve: {
    alias: [
      { find: /^ai-webhook-receiver$/, replacement: source('./infra/index.ts') },
      { find: /^ai-webhook-receiver\/events$/, replacement: source('./functions/core/index.ts') },
      { find: /^ai-webhook-receiver\/steps$/, replacement: source('./functions/consumers/steps.ts') },
    ],
  },
  test: {
    environment: 'node',
    // Integration tests start real emulators; give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Every test worker is its own process, and on Node 20 the AWS SDK prints its eight-line
    // "Node >= 22 from 2027" notice once in each: about 30 copies per run. This is the SDK's own
    // switch for it; README's quick start says which Node versions are supported and why.
    env: { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      { extends: true, test: { name: 'shared', include: SHARED, exclude: [...configDefaults.exclude, ...ISOLATED], isolate: false } },
      { extends: true, test: { name: 'isolated', include: ISOLATED } },
    ],
  },
});
