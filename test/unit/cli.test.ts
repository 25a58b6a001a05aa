import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../ops/errors';
import { parseEventKey } from '../../ops/events';
import { run } from '../../cli/program';
import { registerTogether } from '../../ops/register';
import { planBurst } from '../../ops/send';
import { targetFromOutputs } from '../../ops/target';
import { daysNewestFirst, parseSince } from '../../ops/time';
import { PROVIDER_NAMES } from '../../functions/core/event';
import { ROUTES } from '../../functions/core/routes';
import { sampleTypes } from '../../ops/deliveries';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import { captureOutput } from './cli-support';

const NOW = Date.parse('2026-11-03T10:00:00.000Z');

describe('parseSince', () => {
  it('reads durations back from now', () => {
    expect(parseSince('90s', NOW)).toBe(NOW - 90_000);
    expect(parseSince('30m', NOW)).toBe(NOW - 1_800_000);
    expect(parseSince('24h', NOW)).toBe(NOW - 86_400_000);
    expect(parseSince('7d', NOW)).toBe(NOW - 7 * 86_400_000);
  });

  it('reads ISO dates and times', () => {
    expect(parseSince('2026-11-01', NOW)).toBe(Date.parse('2026-11-01T00:00:00.000Z'));
    expect(parseSince('2026-11-02T16:45:00Z', NOW)).toBe(Date.parse('2026-11-02T16:45:00Z'));
  });

  it('rejects anything else with a usage error that shows the accepted forms', () => {
    expect(() => parseSince('yesterday', NOW)).toThrow(UsageError);
    expect(() => parseSince('yesterday', NOW)).toThrow(/30m, 24h or 7d/);
  });

  it('rejects a time in the future', () => {
    expect(() => parseSince('2027-01-01', NOW)).toThrow(/in the future/);
  });
});

describe('daysNewestFirst', () => {
  it('lists the UTC days of the window, newest first, across a month boundary', () => {
    expect(daysNewestFirst(Date.parse('2026-10-30T23:00:00Z'), NOW)).toEqual(['2026-11-03', '2026-11-02', '2026-11-01', '2026-10-31', '2026-10-30']);
  });

  it('is one day for a window inside today', () => {
    expect(daysNewestFirst(NOW - 60_000, NOW)).toEqual(['2026-11-03']);
  });
});

describe('planBurst', () => {
  it('resends earlier ids for the duplicate share and keeps the rest fresh', () => {
    let next = 0;
    const { unique, resent } = planBurst(10, 0.2, () => `id${next++}`);

    expect(unique).toEqual(['id0', 'id1', 'id2', 'id3', 'id4', 'id5', 'id6', 'id7']);
    expect(resent).toEqual(['id0', 'id1']);
  });

  it('always sends at least one fresh id', () => {
    const { unique, resent } = planBurst(1, 0.9);

    expect(unique).toHaveLength(1);
    expect(resent).toHaveLength(0);
  });
});

describe('parseEventKey', () => {
  it('splits at the first # only, so ids may contain #', () => {
    expect(parseEventKey('mythicdot#evt#1')).toMatchObject({ provider: 'mythicdot', eventId: 'evt#1' });
  });

  it('rejects an unknown provider with the known ones and a quoting hint', () => {
    expect(() => parseEventKey('fireworks#evt_1')).toThrow(/together, llmtune, mythicdot, openai, replicate, standard.*'together#evt_123'/);
  });
});

describe('targetFromOutputs', () => {
  const outputs = (): Record<string, string> => {
    const all: Record<string, string> = {
      [STACK_OUTPUTS.eventsTableName]: 'Stack-Events-1',
      [STACK_OUTPUTS.jobsTableName]: 'Stack-Jobs-1',
      [STACK_OUTPUTS.webhookUrl('together')]: 'https://api/webhooks/together',
    };
    for (const route of ROUTES) {
      all[STACK_OUTPUTS.queueUrl(route)] = `https://sqs/${route}`;
      all[STACK_OUTPUTS.queueArn(route)] = `arn:${route}`;
      all[STACK_OUTPUTS.deadLetterQueueUrl(route)] = `https://sqs/${route}-dlq`;
      all[STACK_OUTPUTS.deadLetterQueueArn(route)] = `arn:${route}-dlq`;
    }
    return all;
  };

  it('reads the table, queues, ARNs and webhook URLs from the stack outputs', () => {
    const target = targetFromOutputs('S', outputs());

    expect(target.eventsTable).toBe('Stack-Events-1');
    expect(target.jobsTable).toBe('Stack-Jobs-1');
    expect(target.queueRefs['fine_tune.completed']).toEqual({
      url: 'https://sqs/fine_tune.completed',
      arn: 'arn:fine_tune.completed',
      deadLetterUrl: 'https://sqs/fine_tune.completed-dlq',
      deadLetterArn: 'arn:fine_tune.completed-dlq',
    });
    expect(target.webhookUrls).toEqual({ together: 'https://api/webhooks/together' });
  });

  it('names every missing output and says to deploy the current version', () => {
    const partial = outputs();
    delete partial.QueueArnOther;
    delete partial.EventsTableName;

    expect(() => targetFromOutputs('S', partial)).toThrow(/lacks the outputs EventsTableName, QueueArnOther: deploy/);
  });
});

describe('exit codes and help', () => {
  const cli = async (...argv: string[]) => {
    const captured = captureOutput();
    const code = await run(argv, { output: captured.output, env: {} });
    return { code, stdout: captured.stdout, stderr: captured.stderr };
  };

  it('prints help with every command and exits 0', async () => {
    const { code, stdout } = await cli('--help');

    expect(code).toBe(0);
    for (const command of ['events', 'replay', 'dlq', 'send', 'status', 'register']) expect(stdout).toContain(command);
  });

  it('has --help on every command', async () => {
    for (const argv of [['events', 'list'], ['events', 'show'], ['replay'], ['dlq', 'list'], ['dlq', 'redrive'], ['send'], ['status'], ['register', 'together']]) {
      const { code, stdout } = await cli(...argv, '--help');
      expect({ argv, code }).toEqual({ argv, code: 0 });
      expect(stdout).toContain(`Usage: webhooks ${argv.join(' ')}`);
    }
  });

  it('dlq list --help says that peeking raises each peeked message\'s receive count', async () => {
    const { stdout } = await cli('dlq', 'list', '--help');

    expect(stdout.replace(/\s+/g, ' ')).toContain("each peek is an SQS receive, so it raises the peeked message's receive count");
  });

  it("[CLI] lists every provider's sample types in send's help, as `send --help` and as `help send`", async () => {
    const expected = PROVIDER_NAMES.map((name) => `  ${name}: ${sampleTypes(name).join(', ')}`);

    const asOption = await cli('send', '--help');
    const asCommand = await cli('help', 'send');

    for (const { code, stdout } of [asOption, asCommand]) {
      expect(code).toBe(0);
      expect(stdout).toContain(`Sample types:\n${expected.join('\n')}\n`);
    }
  });

  it('exits 2 for an unknown command', async () => {
    const { code, stderr } = await cli('evnets');

    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'evnets'");
  });

  it('exits 2 for a missing argument', async () => {
    const { code, stderr } = await cli('events', 'show');

    expect(code).toBe(2);
    expect(stderr).toContain("missing required argument 'key'");
  });

  it('exits 2 for an option value outside its choices', async () => {
    const { code } = await cli('events', 'list', '--provider', 'fireworks');

    expect(code).toBe(2);
  });

  it('exits 2 for a malformed --since before touching any target', async () => {
    const { code, stderr } = await cli('status', '--since', 'a while');

    expect(code).toBe(2);
    expect(stderr).toContain('--since must be a duration');
  });

  it('exits 2 for a send of a type the provider has no sample of', async () => {
    const { code, stderr } = await cli('send', 'together', 'fine_tune.exploded');

    expect(code).toBe(2);
    expect(stderr).toContain('known: fine_tune.completed');
  });

  it.each([
    [['--secret', 'whsec_'], {}],
    [['--secret', 'whsec_!!!!'], {}],
    [[], { STANDARD_WEBHOOK_SECRET: 'whsec_' }],
  ])('forgery with a degenerate Standard Webhooks secret: send %j refuses the secret with exit 2 before sending anything', async (flags, env) => {
    const captured = captureOutput();
    const code = await run(['send', 'standard', 'batch.completed', '--url', 'http://127.0.0.1:1', ...flags], { output: captured.output, env });

    expect(code).toBe(2);
    expect(captured.stderr).toMatch(/standard signing secret .* (has an empty key|is not valid base64).*openssl rand -base64 32/);
  });
});

describe('registerTogether', () => {
  it('forgery with a degenerate secret: refuses to register an empty secret, before calling Together', async () => {
    let called = false;
    const fetchImpl = (async () => {
      called = true;
      return new Response('{}');
    }) as typeof fetch;

    const registering = registerTogether({ url: 'https://example.com/webhooks/together', events: ['fine_tune.completed'], secret: '' }, { TOGETHER_API_KEY: 'k' }, fetchImpl);

    await expect(registering).rejects.toThrow(UsageError);
    await expect(registering).rejects.toThrow(/is empty/);
    expect(called).toBe(false);
  });
});

describe('the webhooks bin', () => {
  it('runs as a real process and prints its help, with the `console` command', async () => {
    const bin = fileURLToPath(new URL('../../cli/webhooks.js', import.meta.url));

    const { stdout } = await promisify(execFile)(process.execPath, [bin, '--help'], { timeout: 60_000 });

    expect(stdout).toContain('Usage: webhooks [options] [command]');
    expect(stdout).toContain('Exit codes: 0 ok, 1 failure or unhealthy, 2 usage error.');
    expect(stdout).toMatch(/^ {2}console \[options\] +serve the web console/m);
  });
});
