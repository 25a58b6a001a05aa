import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatReport, type SoakReport } from '../../bench/soak';
import { run } from '../../cli/program';
import { formatBurst, formatStatus } from '../../cli/format';
import type { StatusReport } from '../../ops/status';
import { ROUTES } from '../../functions/core/routes';
import { EVENT_STATUSES, type EventStatus } from '../../functions/core/table';
import { closedPort } from '../support/net';
import { captureOutput } from './cli-support';

// The terminal captures in the docs are compared with what the code prints today, so that a change
// of wording, of a route or of a command's output cannot leave a capture behind.

const root = fileURLToPath(new URL('../..', import.meta.url));

/** README.md and every page under docs/: where captures live. */
function docs(): string {
  const pages = [join(root, 'README.md')];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.md')) pages.push(join(dir, entry.name));
    }
  };
  if (existsSync(join(root, 'docs'))) walk(join(root, 'docs'));
  return pages.map((page) => readFileSync(page, 'utf8')).join('\n');
}

interface Capture {
  /** The command after `$ `, without a trailing `# comment`. */
  readonly command: string;
  readonly output: string;
}

/** Every `$ command` in a fenced block, with the lines printed up to the next `$` or the fence. */
function captures(): Capture[] {
  const found: Capture[] = [];
  for (const block of docs().matchAll(/^```[^\n]*\n([\s\S]*?)^```$/gm)) {
    let current: { command: string; lines: string[] } | undefined;
    const flush = () => current && found.push({ command: current.command, output: current.lines.join('\n').trimEnd() });
    for (const line of (block[1] ?? '').split('\n')) {
      if (line.startsWith('$ ')) {
        flush();
        current = { command: line.slice(2).replace(/\s+#.*$/, '').trim(), lines: [] };
      } else current?.lines.push(line);
    }
    flush();
  }
  return found;
}

const find = (predicate: (capture: Capture) => boolean): Capture[] => {
  const matching = captures().filter(predicate);
  expect(matching.length, 'the capture is in the docs').toBeGreaterThan(0);
  return matching;
};

/** Digits masked: for output whose numbers come from a run, the wording and layout are compared. */
const shape = (text: string) => text.replace(/\d+(\.\d+)?/g, '#');

describe('captures in the docs match what the code prints', () => {
  it('register together', async () => {
    const [capture] = find((c) => c.command.startsWith('TOGETHER_API_KEY=… npx webhooks register together --url https://hooks.example.com/webhooks/together'));
    let sentSecret = '';
    const fakeTogether = (async (_url: string | URL | Request, init?: RequestInit) => {
      sentSecret = (JSON.parse(String(init?.body)) as { secret: string }).secret;
      return new Response(JSON.stringify({ id: 'wh_01JDEMO' }), { status: 201 });
    }) as typeof fetch;
    const captured = captureOutput();

    await run(['register', 'together', '--url', 'https://hooks.example.com/webhooks/together'], {
      output: captured.output,
      env: { TOGETHER_API_KEY: 'tk', TOGETHER_API_BASE_URL: 'http://127.0.0.1:9/v1' },
      fetch: fakeTogether,
    });

    // The secret is fresh on every run: the capture's stands in for it.
    const shownSecret = /^signing secret: (\S+)$/m.exec(capture?.output ?? '')?.[1] ?? '?';
    expect(captured.stdout.replaceAll(sentSecret, shownSecret).trimEnd()).toBe(capture?.output);
  });

  it('the error of a command when nothing is listening, as text and as JSON', async () => {
    for (const argv of [['status'], ['status', '--json']]) {
      const [capture] = find((c) => c.command === `npx webhooks ${argv.join(' ')}` && /^(error:|\{"error")/.test(c.output));
      const [dynamodbPort, sqsPort] = [await closedPort(), await closedPort()];
      const captured = captureOutput();

      await run(argv, { output: captured.output, env: { DYNAMODB_PORT: String(dynamodbPort), SQS_PORT: String(sqsPort) } });

      // The capture ran on the default ports.
      expect(captured.stderr.replaceAll(`:${sqsPort}`, ':4566').replaceAll(`:${dynamodbPort}`, ':8000').trimEnd()).toBe(capture?.output);
    }
  });

  it('status: every route of the data model, in order, and the verdict', () => {
    for (const capture of find((c) => c.command === 'npx webhooks status' && c.output.startsWith('local runtime'))) {
      const lines = capture.output.split('\n');
      const dlqByRoute = new Map(lines.flatMap((line) => (/^(\S+)\s+\d+\s+\d+\s+(\d+)$/.exec(line) ? [[line.split(/\s+/)[0], Number(line.split(/\s+/)[3])]] : [])));
      const since = /^events since (\S+): (.*)$/m.exec(capture.output);
      const counts = Object.fromEntries((since?.[2] ?? '').split(', ').map((part) => [part.split(' ')[0], Number(part.split(' ')[1])]));
      const report: StatusReport = {
        target: lines[0] ?? '',
        since: since?.[1] ?? '',
        routes: ROUTES.map((route) => ({ route, queue: { visible: 0, inFlight: 0 }, deadLetters: { visible: dlqByRoute.get(route) ?? -1, inFlight: 0 }, noRecord: 0 })),
        events: Object.fromEntries(EVENT_STATUSES.map((status) => [status, counts[status] ?? -1])) as Record<EventStatus, number>,
        failureReasons: [],
        undeliverable: [],
        pollerFailures: [],
        healthy: ROUTES.every((route) => dlqByRoute.get(route) === 0),
      };

      expect(formatStatus(report).trimEnd()).toBe(capture.output);
    }
  });

  it('send: the summary lines', () => {
    for (const capture of find((c) => c.command.startsWith('npx webhooks send '))) {
      const summary = { url: 'http://127.0.0.1:3000', sent: 1, accepted: 1, duplicate: 0, other: {}, examples: {}, elapsedMs: 1000 };

      expect(shape(formatBurst(summary).trimEnd())).toBe(shape(capture.output));
    }
  });

  it('the long soak: the summary lines', () => {
    const [capture] = find((c) => c.command.startsWith('npm run soak -- --events'));
    const report: SoakReport = {
      ...Object.fromEntries(['sent', 'events', 'accepted', 'acknowledged', 'acceptedTwice', 'duplicates', 'conflicts', 'retries', 'rejectedAsExpected', 'unexpected', 'badStored', 'lost', 'handledTwice', 'alertsMissing', 'dlqDepth', 'httpP50Ms', 'httpP99Ms', 'endToEndP50Ms', 'endToEndP99Ms'].map((key) => [key, 1])),
      // As in the captured run, where senders gave up on some accepted requests.
      events: 2,
      drained: true,
      ok: true,
    } as SoakReport;
    // The progress lines come first; the summary is formatReport's.
    const summary = capture?.output.split('\n').slice(2).join('\n') ?? '';

    expect(shape(formatReport(report))).toBe(shape(summary));
  });
});
