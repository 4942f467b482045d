/** `1/10s` → 10 (seconds). */
const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600 };

export type RateParse = { ok: true; periodSeconds: number } | { ok: false; message: string };

export function parseRate(text: string): RateParse {
  const m = /^\s*1\s*\/\s*(\d+)\s*([smh])\s*$/.exec(text);
  if (!m) return { ok: false, message: `"${text}" is not a rate like 1/10s (one line per flow per period; units s, m, h)` };
  const seconds = Number(m[1]) * UNIT[m[2]];
  if (seconds < 1 || seconds > 86400) return { ok: false, message: `period in "${text}" must be between 1s and 24h` };
  return { ok: true, periodSeconds: seconds };
}

export function rateText(periodSeconds: number): string {
  if (periodSeconds % 3600 === 0) return `1/${periodSeconds / 3600}h`;
  if (periodSeconds % 60 === 0 && periodSeconds >= 60) return `1/${periodSeconds / 60}m`;
  return `1/${periodSeconds}s`;
}
