import { describe, expect, it } from 'vitest';
import { formatEventDetail, formatEventList } from '../../cli/format';
import type { EventSummary } from '../../functions/core/table';
import { escapeControl, formatTable, progressStarter } from '../../cli/output';
import { run } from '../../cli/program';
import { ROUTES } from '../../functions/core/routes';
import type { EventRecord } from '../../functions/core/table';
import { captureOutput } from './cli-support';

/** Every character a terminal may act on: C0 (ESC, BEL, CR, BS…), DEL, C1 (8-bit CSI, OSC…), bidi overrides and isolates. */
const HOSTILE = '\x1b]0;owned\x07\x1b[2J\r\b\x7f\x9b31m\x9d\u202e\u2066\u2069';
// Anything a terminal interprets: C0 but the newline, DEL, C1, and the bidi controls.
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const summary = (overrides: Partial<EventSummary> = {}): EventSummary => ({
  pk: 'together#evt_1',
  status: 'failed',
  provider: 'together',
  eventId: 'evt_1',
  route: 'fine_tune.failed',
  providerType: 'fine_tune.failed',
  receivedAt: '2026-11-03T10:00:00.000Z',
  ...overrides,
});

const record = (overrides: Partial<EventRecord> = {}): EventRecord => ({
  ...summary(),
  receivedDay: '2026-11-03',
  event: JSON.stringify({ id: 'evt_1', subject: overrides.subject ?? 'ft-1' }),
  expiresAt: 1_800_000_000,
  ...overrides,
});

describe('terminal escape injection', () => {
  it('escapeControl shows every control, bidi override and isolate as a visible \\u escape', () => {
    expect(escapeControl('a\x1b[31mb\x07c\x9bd\u202ee\u2066f\u2069\ng\th')).toBe(
      'a\\u001b[31mb\\u0007c\\u009bd\\u202ee\\u2066f\\u2069\\u000ag\\u0009h',
    );
    expect(escapeControl('line one\nline two\x1b', { keepNewlines: true })).toBe('line one\nline two\\u001b');
    expect(escapeControl('plain ü 日本 🎉')).toBe('plain ü 日本 🎉');
  });

  it('formatTable escapes every cell, so a provider-supplied value cannot move the cursor or fake a row', () => {
    const table = formatTable(['KEY', 'SUBJECT'], [['together#evt\x1b[1A', `x\ny${HOSTILE}`]]);

    expect(table).not.toMatch(RAW_CONTROL);
    expect(table.split('\n')).toHaveLength(3);
    expect(table).toContain('together#evt\\u001b[1A');
  });

  it('events list escapes control characters in subject and last error', () => {
    const text = formatEventList([summary({ subject: `ft${HOSTILE}`, lastError: `boom\x1b[2K\rfake ok` })]);

    expect(text).not.toMatch(RAW_CONTROL);
    expect(text).toContain('ft\\u001b]0;');
    expect(text).toContain('boom\\u001b[2K');
  });

  it('events show escapes control characters in every field and in the printed payload', () => {
    const text = formatEventDetail(record({ subject: `ft${HOSTILE}`, lastError: 'err\x1b[2J', eventId: 'evt\u202e1' }), true);

    expect(text).not.toMatch(RAW_CONTROL);
    expect(text).toMatch(/subject:\s+ft\\u001b\]0;owned\\u0007/);
    expect(text).toMatch(/event id:\s+evt\\u202e1/);
    // JSON.stringify leaves C1 and bidi characters raw; the printed payload escapes them too.
    expect(text).toContain('\\u009b31m');
  });

  it("[P-OAI] events show prints the note a handling attempt left, and the reason a failed one gave", () => {
    const handled = formatEventDetail(record({ status: 'handled', note: "openai: GET /fine_tuning/jobs/ftjob-1 answered 404; handled with the payload's data" }), false);
    const failed = formatEventDetail(record({ lastError: 'OPENAI_API_KEY was rejected by the OpenAI API (HTTP 401 on GET /fine_tuning/jobs/ftjob-2)' }), false);

    expect(handled).toMatch(/note:\s+openai: GET \/fine_tuning\/jobs\/ftjob-1 answered 404; handled with the payload's data\n/);
    expect(failed).toMatch(/last error:\s+OPENAI_API_KEY was rejected by the OpenAI API \(HTTP 401 on GET \/fine_tuning\/jobs\/ftjob-2\)\n/);
  });

  it('JSON output of events stays exact', async () => {
    const subject = `ft${HOSTILE}`;
    const captured = captureOutput();

    const code = await run(['events', 'show', 'together#evt_1', '--json'], {
      output: captured.output,
      env: {},
      connect: async () => fakeTarget(record({ subject })),
    });

    expect(code).toBe(0);
    expect((JSON.parse(captured.stdout) as { subject: string }).subject).toBe(subject);
  });

  it('error messages escape control characters from the command line or a record', async () => {
    const captured = captureOutput();

    const code = await run(['events', 'show', 'together#evt\x1b[2J'], { output: captured.output, env: {}, connect: async () => fakeTarget(undefined) });

    expect(code).toBe(1);
    expect(captured.stderr).not.toMatch(RAW_CONTROL);
    expect(captured.stderr).toContain('together#evt\\u001b[2J');
  });
});

/** A target whose events table holds `item` (or nothing) for any key. */
function fakeTarget(item: EventRecord | undefined) {
  return {
    kind: 'local',
    description: 'test target',
    documents: { send: async () => ({ Item: item }) },
    sqs: { send: async () => ({}) },
    eventsTable: 'events',
    queues: async () => ({}),
    webhookUrls: {},
    secretArns: {},
  } as unknown as import('../../ops/target').Target;
}

/** What JSON.stringify leaves raw and a terminal may act on: DEL, C1, line and paragraph separators, bidi controls. */
const JSON_RAW_CONTROL = /[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const LEFT_RAW_BY_JSON = '\x7f\x80\x9b31m\x9d\x9f\u2028\u2029\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069';

/** A target whose tables hold `item` for every read, and whose dead-letter queues hold `letter`. */
function readsOnlyTarget(item: object & { pk?: string }, letter: object = {}) {
  const documents = {
    send: async (command: { constructor: { name: string }; input: { TableName?: string } }) => {
      switch (command.constructor.name) {
        case 'QueryCommand':
          return { Items: [{ pk: item.pk }] };
        case 'BatchGetCommand':
          return { Responses: { events: [item] } };
        default:
          return { Item: item };
      }
    },
  };
  const sqs = {
    send: async (command: { constructor: { name: string } }) =>
      command.constructor.name === 'GetQueueAttributesCommand'
        ? { Attributes: { ApproximateNumberOfMessages: '1', ApproximateNumberOfMessagesNotVisible: '0' } }
        : { Messages: [{ ...letter, ReceiptHandle: 'r' }] },
  };
  const queues = Object.fromEntries(ROUTES.map((route) => [route, { url: `q/${route}`, deadLetterUrl: `dlq/${route}` }]));
  return { ...fakeTarget(undefined), documents, sqs, jobsTable: 'jobs', queues: async () => queues } as unknown as import('../../ops/target').Target;
}

describe('--json output and terminal controls', () => {
  const hostile = `ft${LEFT_RAW_BY_JSON}x`;
  const job = { pk: `together#${hostile}`, provider: 'together', subject: hostile, kind: 'fine_tune', state: 'failed', error: hostile, updatedAt: '2026-11-03T10:00:00.000Z' };
  const letter = {
    MessageId: hostile,
    MessageAttributes: { provider: { StringValue: 'together' }, eventId: { StringValue: hostile }, type: { StringValue: 'fine_tune.failed' } },
  };
  type Json = Record<string, unknown> & Record<number, Record<string, unknown> & { peek: Record<string, unknown>[] }>;
  it.each([
    { command: ['events', 'list', '--limit', '1'], target: () => readsOnlyTarget(record({ subject: hostile })), value: (json: Json) => json[0]?.subject, expected: hostile },
    { command: ['events', 'show', 'together#evt_1'], target: () => readsOnlyTarget(record({ subject: hostile })), value: (json: Json) => json.subject, expected: hostile },
    { command: ['jobs', 'show', 'together#ft-1'], target: () => readsOnlyTarget(job), value: (json: Json) => json.error, expected: hostile },
    { command: ['dlq', 'list', 'fine_tune.failed', '--peek', '1'], target: () => readsOnlyTarget({}, letter), value: (json: Json) => json[0]?.peek[0]?.key, expected: `together#${hostile}` },
  ])('[H3-11] $command.0 $command.1 --json escapes C1, separators and bidi controls, and parses back to the same data', async ({ command, target, value, expected }) => {
    const captured = captureOutput();

    const code = await run([...command, '--json'], { output: captured.output, env: {}, connect: async () => target() });

    expect(code).toBe(0);
    expect(captured.stdout).not.toMatch(JSON_RAW_CONTROL);
    expect(value(JSON.parse(captured.stdout) as Json)).toBe(expected);
  });
});

describe('--json errors', () => {
  const cli = async (env: Record<string, string>, ...argv: string[]) => {
    const captured = captureOutput();
    const code = await run(argv, { output: captured.output, env });
    return { code, stdout: captured.stdout, stderr: captured.stderr };
  };
  const jsonError = (stderr: string) => JSON.parse(stderr) as { error: string; hint: string | null };

  it('status --json against a runtime that is not running prints the error as JSON, with the fix as its hint', async () => {
    const { code, stdout, stderr } = await cli({ DYNAMODB_PORT: '1', SQS_PORT: '1' }, 'status', '--json');

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(jsonError(stderr)).toEqual({
      error: expect.stringMatching(/^could not reach .*127\.0\.0\.1:1 \(connection refused\)$/),
      hint: expect.stringContaining('npm start'),
    });
  });

  it('a parse error of the command line is JSON too, exit 2, and nothing else is printed', async () => {
    const { code, stdout, stderr } = await cli({}, 'events', 'list', '--json', '--bogus');

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(jsonError(stderr)).toEqual({ error: "unknown option '--bogus'", hint: expect.stringContaining('--help') });
  });

  it('every command answers a usage error with --json as one JSON error, exit 2', async () => {
    const usageErrors = [
      ['events', 'list', '--since', 'a while'],
      ['events', 'show', 'not-a-key'],
      ['replay'],
      ['dlq', 'list', 'no.such.route'],
      ['dlq', 'redrive'],
      ['send', 'openai', 'x'],
      ['status', '--since', 'a while'],
      ['register', 'together'],
    ];
    for (const argv of usageErrors) {
      const { code, stdout, stderr } = await cli({}, ...argv, '--json');

      expect({ argv, code, stdout }).toEqual({ argv, code: 2, stdout: '' });
      expect(jsonError(stderr).error, argv.join(' ')).toEqual(expect.any(String));
    }
  });

  it('without --json the same error stays one line of text', async () => {
    const { code, stderr } = await cli({ DYNAMODB_PORT: '1', SQS_PORT: '1' }, 'status');

    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: could not reach .* \(connection refused\): start the local runtime with `npm start`.*\n$/);
  });
});

describe('progress bars', () => {
  it('[CLI-START] a starter made for a terminal draws each bar it starts on stderr, and one made for a pipe writes nothing', async () => {
    const terminal = captureOutput({ isTTY: true });
    const piped = captureOutput({ isTTY: false });

    const [drawn, silent] = [(await progressStarter(terminal.output))('redrive', 4), (await progressStarter(piped.output))('redrive', 4)];
    for (const bar of [drawn, silent]) {
      bar.update(3);
      bar.stop();
    }

    expect(terminal.stderr).toContain('redrive [');
    expect(terminal.stderr).toContain('3/4');
    expect(piped.stderr).toBe('');
    expect(terminal.stdout + piped.stdout).toBe('');
  });
});
