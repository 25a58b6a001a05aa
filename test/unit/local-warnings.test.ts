import { describe, expect, it } from 'vitest';
import { sdkNodeWarningFilter } from '../../local/warnings';

const sdkWarning = () => Object.assign(new Error('NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)\nversions published after…'), { name: 'Warning' });

describe('the AWS SDK Node-22 notice', () => {
  it('is printed at most once per process, as one line, and every other warning still reaches the listeners', () => {
    const notices: string[] = [];
    const others: string[] = [];
    const listener = sdkNodeWarningFilter([(warning) => others.push(warning.message)], (line) => notices.push(line));

    listener(sdkWarning());
    listener(sdkWarning());
    listener(Object.assign(new Error('something else'), { name: 'DeprecationWarning' }));

    expect(notices).toHaveLength(1);
    expect(notices[0]).not.toContain('\n');
    expect(notices[0]).toContain('Node ≥ 22');
    expect(others).toEqual(['something else']);
  });

  it('is dropped entirely when no notice is wanted (the CLI)', () => {
    const others: string[] = [];
    const listener = sdkNodeWarningFilter([(warning) => others.push(warning.message)]);

    listener(sdkWarning());

    expect(others).toEqual([]);
  });
});
