import base from '../../vitest.config';

const { projects: _projects, ...test } = base.test ?? {};

/**
 * The test files named in MUTATE_TESTS (comma-separated paths or globs), e.g. a module's unit
 * tests and the one integration test that drives it on the emulators: a run by directory that
 * needs some integration tests without paying for all of them on every mutant.
 */
const include = (process.env.MUTATE_TESTS ?? '').split(',').map((glob) => glob.trim()).filter((glob) => glob !== '');

export default { ...base, test: { ...test, include } };
