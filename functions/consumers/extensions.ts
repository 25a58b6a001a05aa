import type { Extensions } from './steps';

/**
 * The steps of a deployment with none of its own. Every consumer bundle imports its steps as
 * `#steps` (package.json `imports`, which points here); the construct's `steps` prop points that
 * name at your module instead (an esbuild alias, `infra/constructs/bundled-function.ts`), so your
 * steps are bundled into each route's consumer. See docs/extending.md.
 */
export const steps: Extensions = {};
