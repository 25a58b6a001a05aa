import { run } from './program';

/**
 * The SDK warns once per process that it will need Node 22 from 2027: harmless, and noise on an
 * operator's terminal. Every other warning is still printed.
 */
function quietSdkNodeWarning(): void {
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'NodeVersionSupportWarning' || /NodeVersionSupportWarning/.test(warning.message)) return;
    for (const listener of listeners) listener(warning);
  });
}

quietSdkNodeWarning();
const code = await run(process.argv.slice(2), { output: { stdout: process.stdout, stderr: process.stderr }, env: process.env });
// SDK clients keep idle sockets open; the command is done, so end now with its code.
process.exit(code);
