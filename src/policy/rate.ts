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

/** The global log ceiling: at most `rate` lines per `per`, bursts up to `burst` lines. */
export interface Ceiling {
  rate: number;
  per: 'second' | 'minute' | 'hour';
  burst: number;
}

export const DEFAULT_CEILING: Ceiling = { rate: 50, per: 'second', burst: 500 };
/** iptables' `limit` match refuses faster rates and larger bursts (XT_LIMIT_SCALE, 10,000). */
export const MAX_CEILING_PER_SECOND = 10_000;
export const MAX_CEILING_BURST = 10_000;

const PER: Record<string, Ceiling['per']> = { s: 'second', m: 'minute', h: 'hour' };
const PER_SECONDS: Record<Ceiling['per'], number> = { second: 1, minute: 60, hour: 3600 };

export type CeilingParse = { ok: true; rate: number; per: Ceiling['per'] } | { ok: false; message: string };

/** `50/s` → 50 per second; units s, m, h. */
export function parseCeiling(text: string): CeilingParse {
  const m = /^\s*(\d+)\s*\/\s*([smh])\s*$/.exec(text);
  if (!m) return { ok: false, message: `"${text}" is not a ceiling like 50/s (log lines per second, minute or hour, over all containers)` };
  const rate = Number(m[1]);
  const per = PER[m[2]];
  if (rate < 1) return { ok: false, message: `ceiling "${text}" must allow at least one line` };
  if (rate / PER_SECONDS[per] > MAX_CEILING_PER_SECOND) return { ok: false, message: `ceiling "${text}" is above ${MAX_CEILING_PER_SECOND} lines per second (iptables' limit)` };
  return { ok: true, rate, per };
}

export const ceilingText = (c: Ceiling): string => `${c.rate}/${c.per[0]} burst ${c.burst}`;
