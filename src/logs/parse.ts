/**
 * The kernel LOG line parser (iptables `LOG` and nftables `log` share the kernel's nf_log format),
 * IPv4 and IPv6, with the framings lanfence reads:
 *
 *   /dev/kmsg record   `4,1234,5678901,-;DOCKER_NET_DROP: IN=docker0 OUT=eth0 ...`
 *   journal JSON       `{"MESSAGE":"DOCKER_NET_DROP: IN=...","__REALTIME_TIMESTAMP":"1732842123456789",...}`
 *   syslog / kern.log  `Nov 29 01:02:03 host kernel: [12345.678901] DOCKER_NET_DROP: IN=...`
 *                      `2025-11-29T01:02:03.123456+01:00 host kernel: DOCKER_NET_DROP: IN=...`
 *   dmesg              `[12345.678901] DOCKER_NET_DROP: IN=...`, `dmesg -r`: `<4>[12345.678901] ...`
 *   bare message       `DOCKER_NET_DROP: IN=...`
 *
 * Kernel log lines are untrusted input: every function here returns null instead of throwing, and
 * counts what it could not use (see ParseStats). The body is scanned with indexOf/charCodeAt, without
 * a regular expression per field: the parser must keep up with a flood (≥ 500,000 lines/s).
 */
import { canonicalIpv6 } from './ipv6.js';

export { canonicalIpv6 };

export const DEFAULT_PREFIX = 'DOCKER_NET_DROP: ';

/** A line longer than this is not a kernel LOG line (the kernel caps a record near 1 KiB). */
export const MAX_LINE = 16 * 1024;

export type Framing = 'kmsg' | 'journal' | 'syslog' | 'dmesg' | 'bare';

/** One parsed drop (or, in audit mode, would-be drop) line. */
export interface DropRecord {
  /** Wall-clock time, ms since the epoch; absent when the framing carries none (or no boot time is known). */
  time?: number;
  /** /dev/kmsg and dmesg: µs since boot. */
  monotonicUs?: number;
  framing: Framing;
  /** Input interface (a container bridge). */
  in: string;
  /** Output interface; empty on the input path (the packet was for the host itself). */
  out: string;
  /** Bridge port the packet came through (with br_netfilter), e.g. the container's veth. */
  physIn?: string;
  physOut?: string;
  /** The raw `MAC=` value (destination, source, ethertype), when present and non-empty. */
  mac?: string;
  family: 4 | 6;
  /** Canonical text (IPv6 compressed as RFC 5952, like the rest of lanfence). */
  src: string;
  dst: string;
  /** IP length. */
  len?: number;
  /** TTL (IPv4) or hop limit (IPv6). */
  ttl?: number;
  /** `tcp`, `udp`, `udplite`, `icmp`, `icmpv6`, `sctp`, `ah`, `esp`, or the protocol number as text. */
  proto: string;
  spt?: number;
  dpt?: number;
  icmpType?: number;
  icmpCode?: number;
  /** TCP flags in the kernel's order (CWR ECE URG ACK PSH RST SYN FIN). */
  flags?: string[];
  /** A non-first fragment (no ports) or a packet the kernel could only log partially (`INCOMPLETE`). */
  fragment?: boolean;
  incomplete?: boolean;
  /** `input` when OUT= is empty: the destination is an address of the host itself. */
  path: 'forward' | 'input';
}

/** What the parser saw. `garbage + truncated` is what a daemon exports as parser errors. */
export interface ParseStats {
  /** Every line offered. */
  lines: number;
  /** Lines that became a DropRecord. */
  records: number;
  /** Lines without the prefix: other kernel messages, other LOG prefixes. Not errors. */
  ignored: number;
  /** Lines with the prefix (or a broken framing) that are not a valid LOG line. */
  garbage: number;
  /** Lines with the prefix that end before the fields a LOG line always has. */
  truncated: number;
  /** /dev/kmsg records overwritten before they could be read (EPIPE). */
  lost: number;
}

export const newStats = (): ParseStats => ({ lines: 0, records: 0, ignored: 0, garbage: 0, truncated: 0, lost: 0 });

export interface ParserOptions {
  /** The LOG prefix; default `DOCKER_NET_DROP: `. */
  prefix?: string;
  /** Boot time (ms since the epoch), to turn kmsg/dmesg µs-since-boot into wall-clock time. */
  bootTimeMs?: number;
  /** "Now", for syslog lines without a year. Default Date.now(). */
  now?: () => number;
  /** Try the one-regex fast path first (default). Tests turn it off to exercise the scanner alone. */
  fastPath?: boolean;
}

/** Every field in one order: one hidden class for every record (undefined fields are left out of JSON). */
function newRecord(framing: Framing): DropRecord {
  return {
    time: undefined,
    monotonicUs: undefined,
    framing,
    in: '',
    out: '',
    physIn: undefined,
    physOut: undefined,
    mac: undefined,
    family: 4,
    src: '',
    dst: '',
    len: undefined,
    ttl: undefined,
    proto: '',
    spt: undefined,
    dpt: undefined,
    icmpType: undefined,
    icmpCode: undefined,
    flags: undefined,
    fragment: undefined,
    incomplete: undefined,
    path: 'forward',
  };
}

const enum Body {
  Ok,
  Garbage,
  Truncated,
}

/** A reusable parser: one per source, with its statistics. */
export class LogParser {
  private prefixText: string;
  readonly stats: ParseStats = newStats();
  bootTimeMs: number | undefined;
  private readonly now: () => number;
  private syslogKey = '';
  private syslogTime = 0;
  /** The fast path's regular expression, the prefix included (null: fast path off). */
  private fast: RegExp | null;
  private readonly fastPath: boolean;

  constructor(opts: ParserOptions = {}) {
    this.prefixText = opts.prefix ?? DEFAULT_PREFIX;
    this.fastPath = opts.fastPath ?? true;
    this.fast = this.fastPath ? fastRegExp(this.prefixText) : null;
    this.bootTimeMs = opts.bootTimeMs;
    this.now = opts.now ?? Date.now;
  }

  get prefix(): string {
    return this.prefixText;
  }

  /**
   * Follows a new log prefix (the daemon, after an apply that changed `log.prefix`): a source
   * keeps its parser, and its statistics go on.
   */
  setPrefix(prefix: string): void {
    if (prefix === this.prefixText) return;
    this.prefixText = prefix;
    this.fast = this.fastPath ? fastRegExp(prefix) : null;
  }

  /** Any line: the framing is recognised from its first characters. */
  parseLine(line: string): DropRecord | null {
    const c = line.charCodeAt(0);
    if (c === 123 /* { */) return this.parseJournalLine(line);
    if (c >= 48 && c <= 57) {
      // `4,1234,...;` (kmsg) or `2025-11-29T...` (RFC 3339 syslog)
      const semi = line.indexOf(';');
      const comma = line.indexOf(',');
      if (comma > 0 && comma < 4 && semi > comma) return this.kmsg(line, semi, comma);
      return this.parseSyslog(line);
    }
    if (c === 91 /* [ */) return this.parseDmesg(line);
    if (c === 60 /* < */) {
      // `dmesg -r`: `<4>[ 2880.805386] MESSAGE`
      const close = line.indexOf('>');
      if (close > 0 && close < 5 && line.charCodeAt(close + 1) === 91) return this.parseDmesg(line, close + 1);
    }
    if (line.startsWith(this.prefix)) return this.parseMessage(line, 'bare');
    if (c >= 65 && c <= 90 && line.charCodeAt(3) === 32) return this.parseSyslog(line);
    this.stats.lines++;
    this.stats.ignored++;
    return null;
  }

  /** A /dev/kmsg record: `PRI,SEQ,USEC,FLAGS[,...];MESSAGE` (continuation lines are ignored). */
  parseKmsg(record: string): DropRecord | null {
    return this.kmsg(record, record.indexOf(';'), record.indexOf(','));
  }

  /** parseKmsg with the first `;` and `,` already found. */
  private kmsg(record: string, semi: number, c1: number): DropRecord | null {
    const c2 = c1 < 0 ? -1 : record.indexOf(',', c1 + 1);
    const c3 = c2 < 0 ? -1 : record.indexOf(',', c2 + 1);
    if (semi < 0 || c2 < 0 || c2 > semi) return this.framingError(record);
    const end = c3 > 0 && c3 < semi ? c3 : semi;
    const usec = digits(record, c2 + 1, end);
    if (usec < 0) return this.framingError(record);
    const rec = this.body(record, semi + 1, 'kmsg');
    if (rec) {
      rec.monotonicUs = usec;
      if (this.bootTimeMs !== undefined) rec.time = this.bootTimeMs + Math.floor(usec / 1000);
    }
    return rec;
  }

  /** One line of `journalctl -o json`. */
  parseJournalLine(line: string): DropRecord | null {
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      return this.framingError(line);
    }
    return this.parseJournal(obj);
  }

  /** A journal entry object: MESSAGE (text, or bytes when not UTF-8) and __REALTIME_TIMESTAMP (µs). */
  parseJournal(entry: unknown): DropRecord | null {
    if (!entry || typeof entry !== 'object') return this.framingError('');
    const e = entry as Record<string, unknown>;
    let msg = e.MESSAGE;
    if (Array.isArray(msg)) {
      msg = msg.every((b) => typeof b === 'number' && b >= 0 && b < 256) ? Buffer.from(msg as number[]).toString('latin1') : undefined;
    }
    if (typeof msg !== 'string') return this.notOurs(); // an entry without a text message
    const rec = this.parseMessage(msg, 'journal');
    if (rec) {
      const ts = e.__REALTIME_TIMESTAMP;
      const us = typeof ts === 'string' ? digits(ts, 0, ts.length) : typeof ts === 'number' ? ts : -1;
      if (us >= 0) rec.time = Math.floor(us / 1000);
      const mono = e._SOURCE_MONOTONIC_TIMESTAMP;
      if (typeof mono === 'string') {
        const m = digits(mono, 0, mono.length);
        if (m >= 0) rec.monotonicUs = m;
      }
    }
    return rec;
  }

  /** `dmesg` output: `[  12345.678901] MESSAGE` (µs since boot) or `dmesg -T`: `[Fri Nov 29 01:02:03 2025] MESSAGE`. */
  parseDmesg(line: string, open = 0): DropRecord | null {
    const close = line.indexOf(']', open);
    if (close < 0) return this.framingError(line);
    const start = line.charCodeAt(close + 1) === 32 ? close + 2 : close + 1;
    const rec = this.body(line, start, 'dmesg');
    if (!rec) return null;
    const us = bracketMicros(line, open + 1, close);
    if (us >= 0) {
      rec.monotonicUs = us;
      if (this.bootTimeMs !== undefined) rec.time = this.bootTimeMs + Math.floor(us / 1000);
    } else {
      const t = Date.parse(line.slice(open + 1, close));
      if (Number.isFinite(t)) rec.time = t;
    }
    return rec;
  }

  /**
   * syslog: `Mmm dd hh:mm:ss HOST kernel: [ 123.456] MESSAGE` (local time, no year) or
   * `YYYY-MM-DDThh:mm:ss[.frac]±hh:mm HOST kernel: MESSAGE`. Only the `kernel` tag is read: any user
   * can write `DOCKER_NET_DROP: ...` to syslog with logger(1) under another tag.
   */
  parseSyslog(line: string): DropRecord | null {
    let time: number | undefined;
    let hostStart: number;
    const c = line.charCodeAt(0);
    if (c >= 48 && c <= 57) {
      const sp = line.indexOf(' ');
      if (sp < 0) return this.framingError(line);
      const t = Date.parse(line.slice(0, sp));
      if (!Number.isFinite(t)) return this.framingError(line);
      time = t;
      hostStart = sp + 1;
    } else {
      // `Nov 29 01:02:03 ` is 16 characters; the day may be space-padded (`Nov  9`).
      if (line.length < 16 || line.charCodeAt(15) !== 32) return this.framingError(line);
      const key = line.slice(0, 15);
      if (key === this.syslogKey) time = this.syslogTime;
      else {
        const t = bsdTime(key, this.now());
        if (t === undefined) return this.framingError(line);
        this.syslogKey = key;
        this.syslogTime = t;
        time = t;
      }
      hostStart = 16;
    }
    const hostEnd = line.indexOf(' ', hostStart);
    if (hostEnd < 0) return this.notOurs();
    let m = hostEnd + 1;
    if (!line.startsWith('kernel:', m)) return this.notOurs();
    m += 7;
    if (line.charCodeAt(m) === 32) m++;
    if (line.charCodeAt(m) === 91 /* [ */) {
      const close = line.indexOf(']', m);
      if (close < 0) return this.notOurs();
      m = line.charCodeAt(close + 1) === 32 ? close + 2 : close + 1;
    }
    const rec = this.body(line, m, 'syslog');
    if (rec && time !== undefined) rec.time = time;
    return rec;
  }

  /** A bare kernel message (what the journal's MESSAGE holds). */
  parseMessage(msg: string, framing: Framing = 'bare'): DropRecord | null {
    return this.body(msg, 0, framing);
  }

  private notOurs(): null {
    this.stats.lines++;
    this.stats.ignored++;
    return null;
  }

  private framingError(line: string): null {
    this.stats.lines++;
    // A broken frame that does not even mention the prefix is noise, not a parser error.
    if (line !== '' && !line.includes(this.prefix)) this.stats.ignored++;
    else this.stats.garbage++;
    return null;
  }

  /**
   * Parses `PREFIX IN=... OUT=... ...` from `start` (where the prefix must begin) to the end of the
   * line, or of its first line (a /dev/kmsg record may carry ` KEY=value` continuation lines).
   */
  private body(s: string, start: number, framing: Framing): DropRecord | null {
    // The fast path matches the prefix too: the common line costs one regexp match.
    if (this.fast !== null && s.length - start <= MAX_LINE) {
      const rec = newRecord(framing);
      if (fastBody(this.fast, s, start, rec, this)) {
        this.stats.lines++;
        this.stats.records++;
        return rec;
      }
    }
    if (!s.startsWith(this.prefix, start)) return this.notOurs();
    this.stats.lines++;
    if (s.length - start > MAX_LINE) {
      this.stats.garbage++;
      return null;
    }
    // Not the common shape (or not valid): the field-by-field scanner decides, and classifies errors.
    const i = start + this.prefix.length;
    let end = s.indexOf('\n', i);
    if (end < 0) end = s.length;
    const rec = newRecord(framing);
    const r = scanBody(s, i, end, rec, this);
    if (r === Body.Ok) {
      rec.path = rec.out === '' ? 'input' : 'forward';
      this.stats.records++;
      return rec;
    }
    if (r === Body.Truncated) this.stats.truncated++;
    else this.stats.garbage++;
    return null;
  }

  /** Canonical IPv6 text of s[from, to) (the kernel's `%pI6` full form, or a compressed one). */
  ipv6(s: string, from: number, to: number): string | null {
    return canonicalIpv6(from === 0 && to === s.length ? s : s.slice(from, to));
  }
}

/** The kernel's protocol names → lanfence's, and how the transport header is read (1 TCP, 2 UDP-like, 3 ICMP, 0 none). */
const PROTOCOLS = new Map<string, [string, number]>([
  ['TCP', ['tcp', 1]],
  ['UDP', ['udp', 2]],
  ['UDPLITE', ['udplite', 2]],
  ['SCTP', ['sctp', 2]],
  ['ICMP', ['icmp', 3]],
  ['ICMPv6', ['icmpv6', 3]],
  ['AH', ['ah', 0]],
  ['ESP', ['esp', 0]],
]);

/** The TCP flag spelled by the three characters at `i` (first character code `c`). */
function tcpFlag(s: string, i: number, c: number): string | undefined {
  let f: string;
  switch (c) {
    case 83: f = 'SYN'; break;
    case 65: f = 'ACK'; break;
    case 70: f = 'FIN'; break;
    case 82: f = 'RST'; break;
    case 80: f = 'PSH'; break;
    case 85: f = 'URG'; break;
    case 69: f = 'ECE'; break;
    case 67: f = 'CWR'; break;
    default: return undefined;
  }
  return s.startsWith(f, i) ? f : undefined;
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const V4 = `(?:${OCTET}\\.){3}${OCTET}`;
/** The kernel's full form or a compressed one: hex digits and at least one colon (validated by canonicalIpv6). */
const V6 = '[0-9a-f]{0,4}:[0-9a-f:]{1,38}';

/** Escapes a string for use inside a regular expression. */
const escapeRe = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The fast path: one sticky regular expression for the shape nearly every line has (IPv4 or IPv6;
 * TCP, UDP, ICMP, ICMPv6; optional PHYSIN/PHYSOUT/MAC). One native regexp match is several times
 * cheaper than a dozen indexOf/startsWith calls. Anything else, and any value that fails validation,
 * goes to scanBody, which also tells truncated lines from garbage.
 */
function fastRegExp(prefix: string): RegExp {
  return new RegExp(
    [
      escapeRe(prefix),
      'IN=([^ \\n]*) OUT=([^ \\n]*) (?:PHYSIN=([^ \\n]*) )?(?:PHYSOUT=([^ \\n]*) )?(?:MAC=([^ \\n]*) )?',
      `SRC=(${V4}|${V6}) DST=(${V4}|${V6}) LEN=(\\d{1,5}) `,
      '(?:TOS=0x[0-9A-Fa-f]{2} PREC=0x[0-9A-Fa-f]{2} TTL=(\\d{1,3}) ID=\\d{1,5} (?:CE )?(?:DF )?(?:MF )?|TC=\\d{1,3} HOPLIMIT=(\\d{1,3}) FLOWLBL=\\d{1,7} )',
      'PROTO=(TCP|UDP|ICMP|ICMPv6) ',
      '(?:SPT=(\\d{1,5}) DPT=(\\d{1,5}) (?:(LEN=\\d)|(?:SEQ=\\d+ ACK=\\d+ )?WINDOW=\\d+ RES=0x[0-9A-Fa-f]{2} ((?:[A-Z]{3} )*)URGP=\\d)',
      '|TYPE=(\\d{1,3}) CODE=(\\d{1,3})(?: |$))',
    ].join(''),
    'y',
  );
}

/** Digits the regexp already checked → number. */
function num(t: string): number {
  let n = 0;
  for (let k = 0; k < t.length; k++) n = n * 10 + t.charCodeAt(k) - 48;
  return n;
}

/** Whether a SRC=/DST= capture of the fast path is the IPv6 alternative. */
const isV6 = (t: string): boolean => t.charCodeAt(1) === 58 || t.charCodeAt(2) === 58 || t.charCodeAt(3) === 58 || t.charCodeAt(4) === 58 || t.charCodeAt(0) === 58;

function fastBody(re: RegExp, s: string, i: number, rec: DropRecord, p: LogParser): boolean {
  re.lastIndex = i;
  const m = re.exec(s);
  if (m === null) return false;
  // The IPv4 alternative has no colon, the IPv6 one has one within its first five characters.
  const v6 = isV6(m[6]);
  if (v6 !== isV6(m[7]) || v6 !== (m[10] !== undefined)) return false;
  const src = v6 ? p.ipv6(m[6], 0, m[6].length) : m[6];
  const dst = v6 ? p.ipv6(m[7], 0, m[7].length) : m[7];
  if (src === null || dst === null) return false;
  const proto = m[11];
  const tcp = proto === 'TCP';
  const icmp = m[16] !== undefined;
  if (icmp !== (proto === 'ICMP' || proto === 'ICMPv6') || (proto === 'ICMPv6') !== (icmp && v6) || (proto === 'ICMP' && v6)) return false;
  if (!icmp && tcp === (m[14] !== undefined)) return false; // TCP must end in URGP=, UDP in LEN=
  rec.in = m[1];
  rec.out = m[2];
  if (m[3] !== undefined) rec.physIn = m[3];
  if (m[4] !== undefined) rec.physOut = m[4];
  if (m[5] !== undefined && m[5] !== '') rec.mac = m[5];
  rec.family = v6 ? 6 : 4;
  rec.src = src;
  rec.dst = dst;
  rec.len = num(m[8]);
  rec.ttl = num(v6 ? m[10] : m[9]);
  if (icmp) {
    rec.proto = v6 ? 'icmpv6' : 'icmp';
    const type = num(m[16]);
    const code = num(m[17]);
    if (type > 255 || code > 255) return false;
    rec.icmpType = type;
    rec.icmpCode = code;
    rec.path = rec.out === '' ? 'input' : 'forward';
    return true;
  }
  rec.proto = tcp ? 'tcp' : 'udp';
  const spt = num(m[12]);
  const dpt = num(m[13]);
  if (spt > 65535 || dpt > 65535) return false;
  rec.spt = spt;
  rec.dpt = dpt;
  const f = m[15];
  if (f !== undefined && f.length > 0) {
    const flags: string[] = [];
    for (let k = 0; k + 3 < f.length + 1; k += 4) {
      const name = tcpFlag(f, k, f.charCodeAt(k));
      if (name !== undefined) flags.push(name);
    }
    if (flags.length > 0) rec.flags = flags;
  }
  rec.path = rec.out === '' ? 'input' : 'forward';
  return true;
}

/** Index of the next space in s[i, end), or `end`. */
function nextSpace(s: string, i: number, end: number): number {
  const j = s.indexOf(' ', i);
  return j < 0 || j > end ? end : j;
}

/** A bad token at `i`: truncated when the line ends there, else garbage. */
function bad(s: string, i: number, end: number): Body {
  return i >= end || nextSpace(s, i, end) === end ? Body.Truncated : Body.Garbage;
}

/**
 * Reads the fields in the kernel's order (nf_log_syslog.c):
 *   IN= OUT= [PHYSIN=] [PHYSOUT=] [MAC=|MACSRC= MACDST= MACPROTO=] SRC= DST= LEN= ... [FRAG:n] ... PROTO=P
 *   TCP:  [INCOMPLETE [n bytes]] SPT= DPT= [SEQ= ACK=] WINDOW= RES= FLAGS... URGP= ...
 *   UDP:  SPT= DPT= LEN=
 *   ICMP: TYPE= CODE= ... [ quoted offending packet ]
 * It jumps to the fields it needs with indexOf instead of visiting every token, and never reads past
 * the transport header, so the packet quoted in an ICMP error (`[SRC=... ]`) and repeated keys (UDP's
 * second LEN=, ICMP echo's ID=) cannot be taken for the outer packet's.
 */
function scanBody(s: string, i: number, end: number, rec: DropRecord, p: LogParser): Body {
  if (!s.startsWith('IN=', i)) return end - i < 3 ? Body.Truncated : Body.Garbage;
  let j = nextSpace(s, i, end);
  rec.in = s.slice(i + 3, j);
  i = j + 1;
  if (!s.startsWith('OUT=', i)) return bad(s, i, end);
  j = nextSpace(s, i, end);
  rec.out = s.slice(i + 4, j);
  i = j + 1;
  // PHYSIN= PHYSOUT= MAC= (or MACSRC= MACDST= [VPROTO= VID=] MACPROTO= with macdecode)
  for (let n = 0; !s.startsWith('SRC=', i); n++) {
    if (n === 8 || i >= end) return bad(s, i, end);
    j = nextSpace(s, i, end);
    const c = s.charCodeAt(i);
    if (c === 77 /* M */) {
      if (s.startsWith('MAC=', i)) {
        if (j > i + 4) rec.mac = s.slice(i + 4, j);
      } else if (!s.startsWith('MAC', i)) return bad(s, i, end);
    } else if (c === 80 /* P */) {
      if (s.startsWith('PHYSIN=', i)) rec.physIn = s.slice(i + 7, j);
      else if (s.startsWith('PHYSOUT=', i)) rec.physOut = s.slice(i + 8, j);
      else return bad(s, i, end);
    } else if (!s.startsWith('VPROTO=', i) && !s.startsWith('VID=', i)) return bad(s, i, end);
    i = j + 1;
  }
  j = nextSpace(s, i, end);
  const src = address(s, i + 4, j, p);
  if (src === null) return bad(s, i, end);
  rec.src = src;
  i = j + 1;
  if (!s.startsWith('DST=', i)) return bad(s, i, end);
  j = nextSpace(s, i, end);
  const dst = address(s, i + 4, j, p);
  if (dst === null) return bad(s, i, end);
  rec.dst = dst;
  const v6 = src.includes(':');
  if (v6 !== dst.includes(':')) return Body.Garbage;
  rec.family = v6 ? 6 : 4;
  i = j + 1;
  if (s.startsWith('LEN=', i)) {
    j = nextSpace(s, i, end);
    const n = digits(s, i + 4, j);
    if (n >= 0) rec.len = n;
    i = j + 1;
  }
  // LEN= TOS= PREC= TTL= ID= [CE] [DF] [MF] [FRAG:n] [OPT (..)] | LEN= TC= HOPLIMIT= FLOWLBL= ...
  // Token by token: a one-character indexOf is far cheaper than searching for ` PROTO=`.
  let protoAt = -1;
  while (i < end) {
    j = nextSpace(s, i, end);
    const c = s.charCodeAt(i);
    if (c === 80 /* P */) {
      if (s.startsWith('PROTO=', i)) {
        protoAt = i;
        break;
      }
    } else if (c === 84 /* T */) {
      if (!v6 && s.startsWith('TTL=', i)) {
        const n = digits(s, i + 4, j);
        if (n >= 0) rec.ttl = n;
      }
    } else if (c === 72 /* H */) {
      if (v6 && s.startsWith('HOPLIMIT=', i)) {
        const n = digits(s, i + 9, j);
        if (n >= 0) rec.ttl = n;
      }
    } else if (c === 70 /* F */ && s.startsWith('FRAG:', i)) rec.fragment = true;
    i = j + 1;
  }
  if (protoAt < 0) return Body.Truncated;
  i = protoAt + 6;
  j = nextSpace(s, i, end);
  let kind = 0; // 1 tcp, 2 udp-like, 3 icmp
  const name = j - i <= 7 ? s.slice(i, j) : '';
  const known = PROTOCOLS.get(name);
  if (known !== undefined) [rec.proto, kind] = known;
  if (rec.proto === '') {
    const n = digits(s, i, j);
    if (n < 0 || n > 255) return j === end ? Body.Truncated : Body.Garbage; // `PROTO=IC`: cut
    rec.proto = String(n);
    return Body.Ok;
  }
  i = j + 1;
  if (kind === 0) return Body.Ok;
  if (s.startsWith('INCOMPLETE', i)) {
    rec.incomplete = true;
    return Body.Ok;
  }
  if (kind === 3) {
    if (!s.startsWith('TYPE=', i)) return rec.fragment ? Body.Ok : bad(s, i, end);
    j = nextSpace(s, i, end);
    const type = digits(s, i + 5, j);
    if (type < 0 || type > 255) return bad(s, i, end);
    rec.icmpType = type;
    i = j + 1;
    if (!s.startsWith('CODE=', i)) return bad(s, i, end);
    j = nextSpace(s, i, end);
    const code = digits(s, i + 5, j);
    if (code < 0 || code > 255) return bad(s, i, end);
    rec.icmpCode = code;
    return Body.Ok;
  }
  if (!s.startsWith('SPT=', i)) return rec.fragment ? Body.Ok : bad(s, i, end);
  j = nextSpace(s, i, end);
  const spt = digits(s, i + 4, j);
  if (spt < 0 || spt > 65535) return bad(s, i, end);
  rec.spt = spt;
  i = j + 1;
  if (!s.startsWith('DPT=', i)) return bad(s, i, end);
  j = nextSpace(s, i, end);
  if (j === end) return Body.Truncated; // `DPT=54` may be the start of `DPT=5432`
  const dpt = digits(s, i + 4, j);
  if (dpt < 0 || dpt > 65535) return Body.Garbage;
  rec.dpt = dpt;
  i = j + 1;
  if (kind === 2) return rec.proto !== 'sctp' && !s.startsWith('LEN=', i) ? bad(s, i, end) : Body.Ok;
  // TCP: WINDOW= RES=0x.. FLAGS... URGP= (the flags are the bare tokens after RES=)
  let flags: string[] | undefined;
  let afterRes = false;
  for (;;) {
    if (i >= end) return Body.Truncated;
    j = nextSpace(s, i, end);
    const c = s.charCodeAt(i);
    if (c === 85 /* U */ && s.startsWith('URGP=', i)) break;
    if (c === 82 /* R */ && s.startsWith('RES=', i)) afterRes = true;
    else if (afterRes && j - i === 3) {
      const f = tcpFlag(s, i, c);
      if (f !== undefined) (flags ??= []).push(f);
    }
    i = j + 1;
  }
  if (flags) rec.flags = flags;
  return Body.Ok;
}

/** Decimal digits in s[from, to) → number; -1 when empty, not all digits, or absurdly long. */
export function digits(s: string, from: number, to: number): number {
  if (to <= from || to - from > 16) return -1;
  let n = 0;
  for (let k = from; k < to; k++) {
    const d = s.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** `[  12345.678901]` → µs; -1 when it is not a seconds.fraction stamp. */
function bracketMicros(s: string, from: number, to: number): number {
  while (from < to && s.charCodeAt(from) === 32) from++;
  const dot = s.indexOf('.', from);
  if (dot < 0 || dot >= to) return -1;
  const sec = digits(s, from, dot);
  if (sec < 0) return -1;
  let frac = 0;
  let scale = 1_000_000;
  for (let k = dot + 1; k < to; k++) {
    const d = s.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return -1;
    scale /= 10;
    frac += d * scale;
  }
  return sec * 1_000_000 + Math.floor(frac);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Nov 29 01:02:03` in local time; the year is this year, or last year when that would be in the future. */
function bsdTime(key: string, now: number): number | undefined {
  const month = MONTHS.indexOf(key.slice(0, 3));
  if (month < 0 || key.charCodeAt(3) !== 32) return undefined;
  const day = digits(key, key.charCodeAt(4) === 32 ? 5 : 4, 6);
  const h = digits(key, 7, 9);
  const m = digits(key, 10, 12);
  const sec = digits(key, 13, 15);
  if (day < 1 || day > 31 || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60) return undefined;
  if (key.charCodeAt(9) !== 58 || key.charCodeAt(12) !== 58) return undefined;
  const year = new Date(now).getFullYear();
  let t = new Date(year, month, day, h, m, sec).getTime();
  if (t > now + 86_400_000) t = new Date(year - 1, month, day, h, m, sec).getTime();
  return t;
}

/** Validates and canonicalises the address in s[from, to). */
function address(s: string, from: number, to: number, p: LogParser): string | null {
  if (to - from > 45 || to <= from) return null;
  if (to - from <= 15 && ipv4(s, from, to)) return s.slice(from, to);
  for (let k = from; k < to; k++) if (s.charCodeAt(k) === 58) return p.ipv6(s, from, to);
  return null;
}

/** Four-part dotted decimal, each part 0-255 without leading zeros (the kernel's `%pI4`). */
function ipv4(s: string, from: number, to: number): boolean {
  let parts = 0;
  let n = 0;
  let len = 0;
  for (let k = from; k <= to; k++) {
    const c = k === to ? 46 : s.charCodeAt(k);
    if (c === 46) {
      if (len === 0 || n > 255) return false;
      parts++;
      n = 0;
      len = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return false;
    if (len === 1 && n === 0) return false;
    n = n * 10 + d;
    if (++len > 3) return false;
  }
  return parts === 4;
}

/** `5432/tcp`, `icmp echo-request`, `icmpv6 type 1 code 4`, `gre`. */
export function portProtoText(r: Pick<DropRecord, 'proto' | 'dpt' | 'icmpType' | 'icmpCode'>): string {
  if (r.dpt !== undefined) return `${r.dpt}/${r.proto}`;
  if (r.icmpType !== undefined) return `${r.proto} ${icmpName(r.proto, r.icmpType) ?? `type ${r.icmpType}`}${r.icmpCode ? ` code ${r.icmpCode}` : ''}`;
  return r.proto;
}

const ICMP4: Record<number, string> = { 0: 'echo-reply', 3: 'unreachable', 5: 'redirect', 8: 'echo-request', 11: 'time-exceeded', 13: 'timestamp' };
const ICMP6: Record<number, string> = { 1: 'unreachable', 2: 'packet-too-big', 3: 'time-exceeded', 128: 'echo-request', 129: 'echo-reply', 133: 'router-solicit', 135: 'neighbor-solicit', 136: 'neighbor-advert' };

export function icmpName(proto: string, type: number): string | undefined {
  return proto === 'icmp' ? ICMP4[type] : proto === 'icmpv6' ? ICMP6[type] : undefined;
}
