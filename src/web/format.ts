/** Text for times, counts, origins and destinations. */
import type { Drop, EntryRef, Origin, Timestamp } from './client/types.js';

export function toMs(t: Timestamp | null | undefined): number | null {
  if (t === null || t === undefined || t === '') return null;
  const ms = typeof t === 'number' ? t : Date.parse(t);
  return Number.isFinite(ms) ? ms : null;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-11-29 01:47:50` in local time. */
export function dateTime(t: Timestamp | null | undefined): string {
  const ms = toMs(t);
  if (ms === null) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `01:47:50`, with the date in front when not today. */
export function clock(t: Timestamp | null | undefined, now = Date.now()): string {
  const ms = toMs(t);
  if (ms === null) return '—';
  const d = new Date(ms);
  const today = new Date(now);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return d.toDateString() === today.toDateString() ? time : `${dateTime(ms).slice(0, 10)} ${time}`;
}

/** `3 min ago`, `2 h ago`, `in 5 s`. */
export function ago(t: Timestamp | null | undefined, now = Date.now()): string {
  const ms = toMs(t);
  if (ms === null) return '';
  const s = Math.round((now - ms) / 1000);
  const abs = Math.abs(s);
  const text =
    abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86400 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

export function count(n: number | null | undefined): string {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
}

/** `1 attempt`, `23 attempts`, `1,024 drop attempts`. */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${count(n)} ${n === 1 ? noun : plural}`;
}

/** `policy.yaml:12:5 (allow.0)` or `label lanfence.allow on web`. */
export function originText(o: Origin | string | undefined): string {
  if (!o) return '';
  if (typeof o === 'string') return o;
  const line = o.pos?.line ?? o.line;
  const col = o.pos?.col ?? o.col;
  const where = line ? `${o.file}:${line}${col ? `:${col}` : ''}` : o.file;
  return o.path ? `${where} (${o.path})` : where;
}

export function entryText(e: EntryRef | null | undefined): string {
  if (!e) return '';
  if (typeof e === 'string') return e;
  return e.text ?? ([e.cidr, e.name && `(${e.name})`].filter(Boolean).join(' ') || e.kind || '');
}

/** `10.0.0.5:5432/tcp`, `[fd00::5]:22/tcp`, `10.0.0.9/icmp`. */
export function target(dst: string, port: number | null | undefined, proto: string): string {
  const host = dst.includes(':') && port ? `[${dst}]` : dst;
  const p = port ? `${host}:${port}` : host;
  return proto ? `${p}/${proto}` : p;
}

export function dropTarget(d: Drop): string {
  return target(d.dst, d.dport, d.proto);
}
