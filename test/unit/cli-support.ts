import type { Output } from '../../cli/output';

/** Output that records what a command printed, for tests that call `run` in-process. */
export function captureOutput(options: { isTTY?: boolean } = {}) {
  let stdout = '';
  let stderr = '';
  const output: Output = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: options.isTTY ?? false },
  };
  return {
    output,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
  };
}
