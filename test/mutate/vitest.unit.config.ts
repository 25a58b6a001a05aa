import base from '../../vitest.config';

const { projects: _projects, ...test } = base.test ?? {};

/**
 * The unit tests alone (no emulators, no synthesis): what `MUTATE_TESTS=unit npm run mutate` runs
 * against each mutant, about a second each instead of the 20 the integration tests take. Without
 * the projects of vitest.config.ts: Stryker's runner gives each mutant's tests a clean module graph.
 */
export default { ...base, test: { ...test, include: ['test/unit/**/*.test.ts'] } };
