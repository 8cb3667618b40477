// "did you mean" for typos in keys, enum values and names.

/** The closest candidate within a small edit distance, or undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  // A guess must keep something of the word: "y" is not a typo of "x".
  if (best !== undefined && bestDistance <= limit && bestDistance < Math.min(word.length, best.length)) return best;
  // "warning" → "warn", "head" → "headers": one is a prefix of the other.
  return candidates.find((c) => {
    const [short, long] = c.length < lower.length ? [c.toLowerCase(), lower] : [lower, c.toLowerCase()];
    return short.length >= 3 && long.startsWith(short);
  });
}

/** ` (allowed: a, b, c); did you mean "b"?` — the list only when it is short and not empty. */
export function allowedHint(word: string, allowed: readonly string[], label = 'allowed'): string {
  const guess = closest(word, allowed);
  const list = allowed.length > 0 && allowed.length <= 12 ? ` (${label}: ${allowed.join(', ')})` : '';
  return list + (guess !== undefined ? `; did you mean "${guess}"?` : '');
}

/** Damerau-Levenshtein distance (optimal string alignment). */
function distance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j] + 1, d[i * cols + j - 1] + 1, d[(i - 1) * cols + j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2] + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1];
}
