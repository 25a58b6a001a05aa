import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROVIDER_NAMES } from '../../functions/core/event';
import { providerPascal } from '../../functions/core/stack-outputs';
import { APP_CONTEXT_KEYS, checkContextKeys, RECEIVER_CONTEXT_KEYS, receiverContextReader } from '../../infra/context';
import { receiverPropsFromContext } from '../../infra/stack';
import { cdkJsonContext, testApp } from './app';

/** The `-c` keys of the deploy settings table in docs/configuration.md, `<Provider>` spelt out per provider. */
function documentedKeys(): string[] {
  const page = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const start = page.indexOf('| `-c` key |');
  const table = page.slice(start, page.indexOf('\n\n', start));
  return table
    .split('\n')
    .slice(2)
    .flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? ''))
    .flatMap((key) => (key.includes('<Provider>') ? PROVIDER_NAMES.map((provider) => key.replace('<Provider>', providerPascal(provider))) : [key]));
}

describe('context keys at synth', () => {
  it('refuse a misspelt key, naming the known key nearest to it', () => {
    expect(() => checkContextKeys(['eventbus'])).toThrow(/^unknown context key eventbus; did you mean eventBus\?/);
  });

  it('name every unknown key, one line each', () => {
    expect(() => checkContextKeys(['tracng', 'alarmEmial', 'providers'])).toThrow(
      /^unknown context key tracng; did you mean tracing\?.*\nunknown context key alarmEmial; did you mean alarmEmail\?/,
    );
  });

  it('accept every key of the deploy settings table in docs/configuration.md', () => {
    const documented = documentedKeys();

    expect(documented.length).toBeGreaterThan(20);
    expect(() => checkContextKeys(documented)).not.toThrow();
  });

  it("leave CDK's own keys alone: cdk.json's feature flags, the CLI's settings and plain keys, cached lookups", () => {
    const cdkKeys = [
      ...Object.keys(cdkJsonContext()),
      'aws:cdk:enable-path-metadata',
      'aws:cdk:bundling-stacks',
      'availability-zones:account=123456789012:region=us-east-1',
      'acknowledged-issue-numbers',
      'cli-telemetry',
      'cdk-nag',
    ];

    expect(() => checkContextKeys(cdkKeys)).not.toThrow();
    expect(() => checkContextKeys(Object.keys(testApp().node.getAllContext()))).not.toThrow();
  });

  it('are the keys receiverPropsFromContext reads, and the stack name', () => {
    const read = new Set<string>();

    receiverPropsFromContext((key) => {
      read.add(key);
      return undefined;
    });

    expect(read).toEqual(new Set(RECEIVER_CONTEXT_KEYS));
    expect(APP_CONTEXT_KEYS).toEqual(['stackName', ...RECEIVER_CONTEXT_KEYS]);
  });

  it('cannot be read past the list: a key outside it is refused before it is read', () => {
    const read = receiverContextReader(() => 'true');

    expect(read('eventBus')).toBe('true');
    expect(() => read('eventbus')).toThrow(/eventbus is read but is not in RECEIVER_CONTEXT_KEYS/);
  });
});
