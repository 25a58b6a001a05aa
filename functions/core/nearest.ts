/**
 * The nearest of a list of known names, for "did you mean" in the messages about a misspelt
 * name: the local runtime's variables and the stack's context keys.
 */

/** The candidate with the least edit distance to `name`; the first listed of equals. */
export function nearest(name: string, candidates: readonly string[]): string {
  // Stryker disable next-line LogicalOperator,StringLiteral: every caller passes a fixed, non-empty list of known names, so the first candidate always exists
  let best = candidates[0] ?? '';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance: the fewest insertions, deletions and substitutions that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}
