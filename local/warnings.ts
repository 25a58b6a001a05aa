/**
 * The AWS SDK warns once per process that it will need Node 22 from 2027. On a developer's Node 20
 * it is harmless, and eight lines of noise on a terminal; every other warning is still printed.
 * Lambda runs Node 24, where the SDK does not warn at all.
 */
export function quietSdkNodeWarning(): void {
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'NodeVersionSupportWarning' || /NodeVersionSupportWarning/.test(warning.message)) return;
    for (const listener of listeners) listener(warning);
  });
}
