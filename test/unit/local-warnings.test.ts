import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROVIDER_NAMES } from '../../functions/core/event';
import { editDistance, nearest } from '../../functions/core/nearest';
import { sdkNodeWarningFilter, unknownVariableWarnings } from '../../local/warnings';

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

describe('unknown variables with the project\'s prefixes at npm start', () => {
  it('warns once, in one line, about a misspelt variable and names the known one nearest to it', () => {
    const env = { TOGETHER_WEBHOOK_SECRETS: 'whsec_x', TOGETHER_API_KEY: 'key', PATH: '/usr/bin' };

    const lines = unknownVariableWarnings(env);

    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    expect(lines[0]).toMatch(/^warning: TOGETHER_WEBHOOK_SECRETS is set .*did you mean TOGETHER_WEBHOOK_SECRET\?/);
  });

  it('covers every prefix: each provider\'s, RETENTION_DAYS, LOCAL_ and WEBHOOKS_', () => {
    const env = {
      LLMTUNE_WEBHOOK_SECERT: 'a',
      MYTHICDOT_WEBHOOK_SECRT: 'b',
      OPENAI_WEBHOOK_SECRETS: 'd',
      STANDARD_SIGNATURE_SCHEMA: 'c',
      TOGETHER_POLL_INTERVAL: '30',
      RETENTION_DAYS_LLMTUN: '60',
      LOCAL_VISIBILITY_TIMEOUT: '10',
      WEBHOOKS_DEBG: '1',
    };

    const lines = unknownVariableWarnings(env);

    expect(lines.map((line) => line.match(/^warning: (\S+) .*did you mean (\S+)\?/)?.slice(1))).toEqual([
      ['LLMTUNE_WEBHOOK_SECERT', 'LLMTUNE_WEBHOOK_SECRET'],
      ['LOCAL_VISIBILITY_TIMEOUT', 'LOCAL_VISIBILITY_TIMEOUT_SECONDS'],
      ['MYTHICDOT_WEBHOOK_SECRT', 'MYTHICDOT_WEBHOOK_SECRET'],
      ['OPENAI_WEBHOOK_SECRETS', 'OPENAI_WEBHOOK_SECRET'],
      ['RETENTION_DAYS_LLMTUN', 'RETENTION_DAYS_LLMTUNE'],
      ['STANDARD_SIGNATURE_SCHEMA', 'STANDARD_SIGNATURE_SCHEME'],
      ['TOGETHER_POLL_INTERVAL', 'TOGETHER_POLL_INTERVAL_SECONDS'],
      ['WEBHOOKS_DEBG', 'WEBHOOKS_DEBUG'],
    ]);
  });

  it('is silent for every variable the "Local configuration" table of docs/configuration.md names', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Local configuration'), doc.indexOf('## Deploy settings'));
    const firstCells = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|')[1] ?? '')
      .join(' ');
    const names = [...firstCells.matchAll(/`([A-Z][A-Z0-9_]*(?:<PROVIDER>)?)`/g)].flatMap(([, name]) =>
      (name as string).includes('<PROVIDER>') ? PROVIDER_NAMES.map((provider) => (name as string).replace('<PROVIDER>', provider.toUpperCase())) : [name as string],
    );
    const env = Object.fromEntries(names.map((name) => [name, 'set']));

    const lines = unknownVariableWarnings(env);

    expect(names.length).toBeGreaterThan(15);
    expect(lines).toEqual([]);
  });

  it('is silent for other tools\' variables and for variables that are not set', () => {
    const env = { OPENAI_API_KEY: 'sk', OPENAI_BASE_URL: 'u', OPENAI_ORG_ID: 'o', REPLICATE_API_TOKEN: 'r', AWS_PROFILE: 'dev', TOGETHER_TYPO: undefined };

    const lines = unknownVariableWarnings(env);

    expect(lines).toEqual([]);
  });

  it("[P-REP] knows Replicate's variables: its secret, scheme and retention are silent, a misspelt one names the nearest, its SDK's token is left alone", () => {
    const env = { REPLICATE_WEBHOOK_SECRET: 'whsec_a', REPLICATE_SIGNATURE_SCHEME: 'standard', RETENTION_DAYS_REPLICATE: '30', REPLICATE_API_TOKEN: 'r8_x', REPLICATE_WEBHOOK_SECRT: 'b' };

    const lines = unknownVariableWarnings(env);

    expect(lines).toEqual([expect.stringMatching(/^warning: REPLICATE_WEBHOOK_SECRT is set but is not a variable of this project; did you mean REPLICATE_WEBHOOK_SECRET\?/)]);
  });

  it('measures edit distance as Levenshtein: insertions, deletions and substitutions count one each', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('flaw', 'lawn')).toBe(2);
    expect(editDistance('', 'PORT')).toBe(4);
    expect(editDistance('HOST', 'HOST')).toBe(0);
  });

  it('[RULE] names the first listed of two known names equally near a misspelt one', () => {
    // LOCAL_PORT is one character from LOCAL_PORTA and from LOCAL_PORTS.
    expect(nearest('LOCAL_PORT', ['LOCAL_PORTA', 'LOCAL_PORTS'])).toBe('LOCAL_PORTA');
    expect(nearest('LOCAL_PORT', ['LOCAL_PORTS', 'LOCAL_PORTA'])).toBe('LOCAL_PORTS');
  });
});
