import { run } from './program';
import { quietSdkNodeWarning } from '../local/warnings';

quietSdkNodeWarning();
const code = await run(process.argv.slice(2), { output: { stdout: process.stdout, stderr: process.stderr }, env: process.env });
// SDK clients keep idle sockets open; the command is done, so end now with its code.
process.exit(code);
