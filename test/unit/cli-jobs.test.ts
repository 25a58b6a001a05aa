import { describe, expect, it } from 'vitest';
import { barChart } from '../../cli/chart';
import { jobDetail, parseJobFilter, parseJobKey } from '../../ops/jobs';
import { formatJobDetail, formatJobList, printable } from '../../cli/jobs-format';
import { UsageError } from '../../ops/errors';
import type { JobItem } from '../../functions/core/table';

const BASE: JobItem = {
  pk: 'together#ft-1',
  provider: 'together',
  subject: 'ft-1',
  kind: 'fine_tune',
  state: 'running',
  rank: 2,
  updatedAt: '2026-11-25T10:00:00.000Z',
};

describe('barChart', () => {
  it('draws the largest value full height and the smallest as the bottom row, labelled', () => {
    const lines = barChart([4, 2, 1], { height: 2, width: 3 });

    expect(lines).toEqual(['4 ┤█', '1 ┤█▆▁', '  └───']);
  });

  it('averages values into at most `width` columns', () => {
    const lines = barChart(Array.from({ length: 100 }, (_, index) => index), { width: 10, height: 1 });

    expect(lines[0]).toMatch(/┤.{10}$/u);
  });

  it('labels a flat series once', () => {
    expect(barChart([0.87], { height: 2, width: 1 })).toEqual(['     ┤', '0.87 ┤█', '     └─']);
  });

  it('draws nothing for no values', () => {
    expect(barChart([])).toEqual([]);
  });
});

describe('printable', () => {
  it('writes control and bidirectional characters as escapes and leaves the rest', () => {
    expect(printable('ok\u001b[31mred\u0007\u202egnp.exe — ü')).toBe('ok\\x1b[31mred\\x07\\u{202e}gnp.exe — ü');
  });
});

describe('formatJobList', () => {
  it('escapes what a sender put in a job id, a model name or an error', () => {
    const text = formatJobList([{ ...BASE, pk: 'together#ft-\u001b[2J', error: 'oops\u0000' }]);

    expect(text).not.toMatch(/[\u0000\u001b]/);
    expect(text).toContain('together#ft-\\x1b[2J');
    expect(text).toContain('oops\\x00');
  });

  it('says so when no job changed in the window', () => {
    expect(formatJobList([])).toBe('no jobs updated in this window\n');
  });
});

describe('formatJobDetail', () => {
  it('shows the latest 20 checkpoints and events, says how many are left out, and charts them all', () => {
    const checkpoints = Array.from({ length: 30 }, (_, index) => ({ step: index + 1, loss: 3 - index / 10, at: `2026-11-25T09:${String(index).padStart(2, '0')}:00.000Z`, eventId: `e${index + 1}` }));
    const job = jobDetail({ ...BASE, step: 30, loss: 0.1, checkpoints });

    const text = formatJobDetail(job);
    const all = formatJobDetail(job, { all: true });

    expect(text).toContain('… 10 earlier checkpoints not shown (--all shows them; --json has every one)');
    expect(text).not.toMatch(/^1 {2}/m);
    expect(all).toMatch(/^1 {5}3 {5}2026-11-25T09:00:00.000Z/m);
    expect(text).toContain('loss over steps 1 to 30:');
    expect(text).toMatch(/^ {2}3 ┤█/m);
  });

  it('shows a batch without checkpoint sections', () => {
    const text = formatJobDetail(jobDetail({ ...BASE, pk: 'together#b-1', subject: 'b-1', kind: 'batch', state: 'completed', output: 'file-out' }));

    expect(text).toMatch(/output:\s+file-out/);
    expect(text).not.toContain('checkpoints');
    expect(text).not.toContain('loss over steps');
  });

  it('prints where a completed batch’s result files were stored, with their lines and sizes', () => {
    const results = {
      output: { uri: 's3://bucket/together/batches/b-1/output.jsonl', fileId: 'file-out', bytes: 1_500_000, lines: 2_000, sha256: 'a'.repeat(64) },
      errors: { uri: 's3://bucket/together/batches/b-1/errors.jsonl', fileId: 'file-err', bytes: 71, lines: 1, sha256: 'b'.repeat(64) },
      storedAt: '2026-11-25T10:01:00.000Z',
    };

    const job = jobDetail({ ...BASE, pk: 'together#b-1', subject: 'b-1', kind: 'batch', state: 'completed', results });
    const text = formatJobDetail(job);

    expect(job.results).toEqual(results);
    expect(text).toMatch(/^output file:\s+s3:\/\/bucket\/together\/batches\/b-1\/output\.jsonl \(2,000 lines, 1\.5 MB\)$/m);
    expect(text).toMatch(/^error file:\s+s3:\/\/bucket\/together\/batches\/b-1\/errors\.jsonl \(1 line, 71 B\)$/m);
    expect(text).toMatch(/^files stored:\s+2026-11-25T10:01:00.000Z$/m);
  });

  it('lists the paths only the completion named, beside the checkpoint table', () => {
    const job = jobDetail({
      ...BASE,
      state: 'completed',
      model: 'acct/m',
      checkpointPaths: ['s3://b/final'],
      checkpoints: [{ step: 1, at: '2026-11-25T09:00:00.000Z', eventId: 'e1', path: 's3://b/1' }],
    });

    expect(job.checkpointPaths).toEqual(['s3://b/final', 's3://b/1']);
    expect(formatJobDetail(job)).toContain('paths the completion listed:\n  s3://b/final\n');
  });
});

describe('parseJobKey and parseJobFilter', () => {
  it('splits a job key at the first #, and refuses an unknown provider with the form to use', () => {
    expect(parseJobKey('together#ft-a#b')).toMatchObject({ provider: 'together', subject: 'ft-a#b' });
    expect(() => parseJobKey('acme#ft-1')).toThrow(/<provider>#<job or batch id>/);
  });

  it('refuses a kind or state that is not in the data model', () => {
    expect(() => parseJobFilter({ kind: 'eval' })).toThrow(UsageError);
    expect(() => parseJobFilter({ state: 'done' })).toThrow(/--state must be one of started, running, completed, failed/);
  });
});
