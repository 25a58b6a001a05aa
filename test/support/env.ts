/**
 * Makes `process.env` hold exactly `vars` (an `undefined` value leaves its name out), changing the
 * object in place. Assigning a new object to `process.env` would detach it from the one Vitest's
 * `vi.stubEnv` changes, and break every later test file in the same worker that stubs a variable.
 */
export function replaceEnv(vars: Readonly<Record<string, string | undefined>>): void {
  for (const name of Object.keys(process.env)) if (!(name in vars) || vars[name] === undefined) delete process.env[name];
  for (const [name, value] of Object.entries(vars)) if (value !== undefined) process.env[name] = value;
}
