import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cdkCli = join(repoRoot, 'node_modules', 'aws-cdk', 'bin', 'cdk');
const outdir = mkdtempSync(join(tmpdir(), 'webhooks-app-'));

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** `cdk synth` as an operator runs it, with `-c` values; resolves with its exit code and stderr. */
async function synth(...context: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await promisify(execFile)(
      process.execPath,
      [cdkCli, 'synth', '--quiet', '--no-notices', ...context.flatMap((value) => ['-c', value]), '--output', outdir],
      { cwd: repoRoot, env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' }, timeout: 120_000 },
    );
    return { code: 0, stderr };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

describe('cdk synth with a wrong context key or value', () => {
  it('prints the message alone, without a stack trace, and fails', async () => {
    const { code, stderr } = await synth('retentionDays=3');

    expect(code).not.toBe(0);
    expect(stderr).toContain('error: retentionDays must be a whole number from 7 to 365, got 3\n');
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toContain('throw new Error');
  });

  it('stops at a misspelt key, naming the nearest key, and at nothing CDK passes itself', async () => {
    const { code, stderr } = await synth('eventbus=true');

    expect(code).not.toBe(0);
    expect(stderr.split('\n').filter((line) => line.startsWith('error: '))).toEqual([
      'error: unknown context key eventbus; did you mean eventBus? (see docs/configuration.md, Deploy settings)',
    ]);
  });
});
