/**
 * Whether `warning` is the AWS SDK's notice that its releases from January 2027 need Node 22.
 * Lambda runs Node 24, where the SDK does not warn; on a developer's Node 20 it is harmless.
 */
function isSdkNodeWarning(warning: Error): boolean {
  return warning.name === 'NodeVersionSupportWarning' || /NodeVersionSupportWarning/.test(warning.message);
}

/**
 * A `warning` listener that hands every warning to `listeners` except the SDK's eight-line Node
 * notice, which becomes at most one line through `notice` (or nothing without one).
 */
export function sdkNodeWarningFilter(listeners: readonly ((warning: Error) => void)[], notice?: (line: string) => void): (warning: Error) => void {
  let noticed = false;
  return (warning) => {
    if (!isSdkNodeWarning(warning)) {
      for (const listener of listeners) listener(warning);
      return;
    }
    if (notice === undefined || noticed) return;
    noticed = true;
    notice(`note: Node ${process.version} works here; AWS SDK releases after the first week of January 2027 need Node ≥ 22 (Lambda runs Node 24; see README)`);
  };
}

let installed = false;

/**
 * Replaces the SDK's Node notice with at most one line per process (`notice`), or nothing; every
 * other warning is still printed. Installed once per process: later calls change nothing.
 */
export function quietSdkNodeWarning(notice?: (line: string) => void): void {
  if (installed) return;
  installed = true;
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', sdkNodeWarningFilter(listeners, notice));
}
