/**
 * IPv6 text on the log hot path, without ipaddr.js: a strict reader for the forms the kernel and
 * lanfence write (hex groups of 1–4 digits in either case, at most one `::` standing for at least
 * one group, an optional dotted IPv4 tail spelling the last 32 bits) and the RFC 5952 writer.
 * Text outside that subset is not judged here: `canonicalIpv6` hands it to ipaddr.js
 * (`parseAddress`), so every answer is the one ipaddr.js gives (test/unit/logs-ipv6.test.ts).
 */
import { parseAddress } from '../ruleset/cidr.js';

/** Value of a hex digit, -1 for anything else. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 32; // A-F → a-f
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/**
 * `a.b.c.d` in s[from, to) as a 32-bit number (each part `0` or 1–3 digits without a leading zero,
 * at most 255, as ipaddr.js's `isValidFourPartDecimal`); -1 otherwise.
 */
export function readQuad(s: string, from: number, to: number): number {
  let n = 0;
  let part = 0;
  let len = 0;
  let parts = 0;
  for (let k = from; k <= to; k++) {
    const c = k === to ? 46 : s.charCodeAt(k);
    if (c === 46) {
      if (len === 0 || part > 255 || ++parts > 4) return -1;
      n = n * 256 + part;
      part = 0;
      len = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || (len === 1 && part === 0) || ++len > 3) return -1;
    part = part * 10 + d;
  }
  return parts === 4 ? n : -1;
}

/**
 * Reads s[from, to) into eight 16-bit groups. False when the text is outside the strict subset
 * (which does not mean it is invalid: zone ids, surrounding spaces and other spellings are left to
 * ipaddr.js).
 */
export function readIpv6(s: string, from: number, to: number, out: Uint16Array | number[]): boolean {
  if (to - from < 2 || to - from > 45) return false;
  let n = 0; // groups read
  let gap = -1; // where `::` stands, as a group index
  let i = from;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
  }
  while (i < to) {
    const start = i;
    let v = 0;
    let h: number;
    while (i < to && (h = hexDigit(s.charCodeAt(i))) >= 0) {
      if (i - start === 4) return false;
      v = (v << 4) | h;
      i++;
    }
    if (i < to && s.charCodeAt(i) === 46) {
      // The dotted tail: the last piece, two groups.
      if (n > 6 || start === from) return false;
      const q = readQuad(s, start, to);
      if (q < 0) return false;
      out[n++] = q >>> 16;
      out[n++] = q & 0xffff;
      break;
    }
    if (i === start || n === 8) return false;
    out[n++] = v;
    if (i === to) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (s.charCodeAt(i) === 58 && i < to) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === to) return false; // a single trailing colon
  }
  if (gap < 0) return n === 8;
  if (n > 7) return false; // `::` must stand for at least one group
  const after = n - gap;
  for (let k = 1; k <= after; k++) out[8 - k] = out[n - k];
  for (let k = gap; k < 8 - after; k++) out[k] = 0;
  return true;
}

/** A byte in hex without, and with, a leading zero (`g.toString(16)` costs twice as much per group). */
const H1 = Array.from({ length: 256 }, (_, b) => b.toString(16));
const H2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** A 16-bit group in lower-case hex without leading zeros (the same text as `g.toString(16)`). */
export const hex16 = (g: number): string => (g < 256 ? H1[g] : H1[g >> 8] + H2[g & 255]);

/** Eight groups → RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups (the first on a tie) as `::`. */
export function formatIpv6(g: Uint16Array | number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let e = k + 1;
    while (e < 8 && g[e] === 0) e++;
    if (e - k > bestLen) {
      best = k;
      bestLen = e - k;
    }
    k = e;
  }
  let t = '';
  if (best < 0) {
    for (let k = 0; k < 8; k++) t += k === 0 ? hex16(g[k]) : `:${hex16(g[k])}`;
    return t;
  }
  for (let k = 0; k < best; k++) t += k === 0 ? hex16(g[k]) : `:${hex16(g[k])}`;
  t += '::';
  for (let k = best + bestLen; k < 8; k++) t += k === best + bestLen ? hex16(g[k]) : `:${hex16(g[k])}`;
  return t;
}

const scratch = new Uint16Array(8);

/** True when s[from, from+39) is the kernel's `%pI6` form: eight groups of exactly four hex digits. */
function fullForm(s: string, from: number): boolean {
  for (let k = 4; k < 39; k += 5) if (s.charCodeAt(from + k) !== 58) return false;
  return true;
}

/**
 * Canonical (RFC 5952) text of an IPv6 address; null when `raw` is not one. The kernel prints
 * addresses in full (`fd00:0020:0000:0000:0000:0000:0000:0005` → `fd00:20::5`); a 39-character
 * text must be that form. Other forms are read by `readIpv6`, and what it leaves, by ipaddr.js.
 */
export function canonicalIpv6(raw: string): string | null {
  if (raw.length === 39) return fullForm(raw, 0) && readIpv6(raw, 0, 39, scratch) ? formatIpv6(scratch) : null;
  if (readIpv6(raw, 0, raw.length, scratch)) return formatIpv6(scratch);
  const a = parseAddress(raw);
  return a && a.family === 6 ? a.address : null;
}
