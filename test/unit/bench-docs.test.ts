import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MARKERS, PERFORMANCE_DOC, README, readResults, renderFigures, renderReadme, replaceBetween } from '../../bench/docs';

/** The block between a pair of markers, as the renderer writes it. */
function between(text: string, markers: readonly [string, string]): string {
  const start = text.indexOf(markers[0]);
  const end = text.indexOf(markers[1]);
  expect(start, `${markers[0]} is present`).toBeGreaterThanOrEqual(0);
  expect(end, `${markers[1]} follows it`).toBeGreaterThan(start);
  return text.slice(start + markers[0].length, end).trim();
}

describe('performance docs rendered from bench/results.json', () => {
  it('docs/performance.md shows exactly the figures of bench/results.json (npm run bench:docs)', () => {
    expect(between(readFileSync(PERFORMANCE_DOC, 'utf8'), MARKERS.figures)).toBe(renderFigures(readResults()).trim());
  });

  it('the README Performance section is the one bench/results.json gives (npm run bench:docs)', () => {
    expect(between(readFileSync(README, 'utf8'), MARKERS.readme)).toBe(renderReadme(readResults()).trim());
  });

  it("the README's verdict is one line: targets met of all, the default cost, and the link to docs/performance.md", () => {
    const results = readResults();
    const met = results.checks.filter((check) => check.met).length;

    const verdict = renderReadme(results);

    expect(verdict.split('\n')).toHaveLength(1);
    expect(verdict).toContain(`**${met} of ${results.checks.length} targets met**`);
    expect(verdict).toMatch(/cost \$\d+\.\d{3} \(default/);
    expect(verdict).toContain('[docs/performance.md](docs/performance.md)');
  });

  it('every target in the results carries its value, target, direction and verdict', () => {
    const { checks } = readResults();
    expect(checks.length).toBeGreaterThan(0);
    for (const check of checks) {
      expect(check.met, check.id).toBe(check.kind === 'min' ? check.value >= check.target : check.value <= check.target);
    }
  });

  it('replaces only the block between the markers, and refuses a text without them', () => {
    const markers = ['<!-- a -->', '<!-- b -->'] as const;
    expect(replaceBetween('x <!-- a -->\nold\n<!-- b --> y', markers, 'new')).toBe('x <!-- a -->\nnew\n<!-- b --> y');
    expect(() => replaceBetween('no markers', markers, 'new')).toThrow('markers <!-- a --> … <!-- b --> not found');
  });
});
