import base from '../../vitest.config';

const { projects: _projects, ...test } = base.test ?? {};

/** Every test, as one project: what `npm run mutate` runs against each mutant (see vitest.unit.config.ts). */
export default { ...base, test: { ...test, include: ['test/**/*.test.ts'] } };
