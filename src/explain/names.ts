/** "Did you mean ...?" for unknown container and network names. */

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** Names close to `wanted` (edit distance, shared prefix or substring), closest first, at most `max`. */
export function closeNames(wanted: string, names: readonly string[], max = 5): string[] {
  const w = wanted.toLowerCase();
  const scored = [...new Set(names)]
    .map((n) => {
      const l = n.toLowerCase();
      const d = distance(w, l);
      const related = l.includes(w) || w.includes(l) || (w.length >= 3 && l.startsWith(w.slice(0, 3)));
      return { n, d, ok: d <= Math.max(2, Math.floor(w.length / 3)) || related };
    })
    .filter((s) => s.ok)
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n));
  return scored.slice(0, max).map((s) => s.n);
}
