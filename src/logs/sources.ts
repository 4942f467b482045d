/**
 * Where kernel log lines come from: /dev/kmsg (the ring buffer, live), the journal (history across
 * reboots), or a file (kern.log, syslog, saved dmesg or journal output). Every source takes its
 * device, process runner or stream as a parameter, so tests (and the daemon) can feed it.
 */
import { spawn } from 'node:child_process';
import { constants, readFileSync, type Dirent } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { LanfenceError } from '../errors.js';
import { MAX_LINE, type DropRecord, type LogParser } from './parse.js';

export type SourceName = 'kmsg' | 'journal' | 'file';

export interface ReadOptions {
  /** Keep reading as new lines arrive, until `signal` aborts. */
  follow?: boolean;
  /** Skip records older than this (records without a time are kept). */
  since?: Date;
  /** With `follow`: start at the beginning (of the kmsg ring buffer, of the file), not at its end. */
  fromStart?: boolean;
  signal?: AbortSignal;
}

export interface LogSource {
  readonly name: SourceName;
  /** For headers and errors: `/dev/kmsg`, `journalctl`, the file name. */
  readonly description: string;
  /** The drop records, oldest first; the parser counts what it could not use. */
  records(parser: LogParser, opts?: ReadOptions): AsyncGenerator<DropRecord>;
}

/** How often follow mode looks for new data where nothing can wake it up (non-blocking kmsg, files). */
export const POLL_MS = 250;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

const keep = (rec: DropRecord | null, since?: Date): rec is DropRecord =>
  rec !== null && (since === undefined || rec.time === undefined || rec.time >= since.getTime());

// ---------------------------------------------------------------------------------------------
// Boot time: kmsg and dmesg stamp records with µs since boot.

/**
 * Boot time in ms since the epoch: now − /proc/uptime (sub-second), else /proc/stat `btime`
 * (whole seconds). Undefined when neither can be read. The kernel's printk clock does not count
 * time spent suspended, so stamps of records written after a suspend are early by that much.
 */
export function bootTimeMs(read: (path: string) => string = (p) => readFileSync(p, 'utf8'), now: number = Date.now()): number | undefined {
  try {
    const up = Number.parseFloat(read('/proc/uptime').split(' ')[0]);
    if (Number.isFinite(up) && up >= 0) return Math.round(now - up * 1000);
  } catch {
    /* fall through */
  }
  try {
    const m = /^btime (\d+)$/m.exec(read('/proc/stat'));
    if (m) return Number(m[1]) * 1000;
  } catch {
    /* fall through */
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// /dev/kmsg

/** One read(2) on /dev/kmsg returns one record; `again`: no more for now; `lost`: records were overwritten. */
export type KmsgRead = string | 'again' | 'lost' | null;

export interface KmsgDevice {
  read(): Promise<KmsgRead>;
  close(): Promise<void>;
}

export type OpenKmsg = () => Promise<KmsgDevice>;

/** Opens /dev/kmsg non-blocking (EAGAIN at the end of the buffer; follow mode polls). */
export const openDevKmsg: OpenKmsg = async () => {
  let fh: FileHandle;
  try {
    fh = await open('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new LanfenceError(`cannot read /dev/kmsg: ${err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied (run as root, or use --source journal)' : err.message}`);
  }
  const buf = Buffer.alloc(16 * 1024);
  return {
    async read() {
      try {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        return bytesRead === 0 ? null : buf.toString('utf8', 0, bytesRead);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return 'again';
        if (code === 'EPIPE') return 'lost'; // overwritten before we read it: the next read goes on
        throw e;
      }
    },
    close: () => fh.close(),
  };
};

export interface KmsgSourceOptions {
  open?: OpenKmsg;
  /** Boot time for the µs stamps; default from /proc. */
  bootTimeMs?: number;
}

/**
 * /dev/kmsg: without `follow`, the whole ring buffer; with `follow`, new records only (unless
 * `fromStart` or `since`: then the buffer first, then new records).
 */
export function kmsgSource(o: KmsgSourceOptions = {}): LogSource {
  const openDev = o.open ?? openDevKmsg;
  return {
    name: 'kmsg',
    description: '/dev/kmsg',
    async *records(parser, opts = {}) {
      parser.bootTimeMs ??= o.bootTimeMs ?? bootTimeMs();
      const dev = await openDev();
      try {
        if (opts.follow && !opts.fromStart && !opts.since) {
          // Live only: skip what the buffer already holds.
          for (let r = await dev.read(); r !== null && r !== 'again'; r = await dev.read()) if (opts.signal?.aborted) return;
        }
        for (;;) {
          if (opts.signal?.aborted) return;
          const r = await dev.read();
          if (r === null) return;
          if (r === 'lost') {
            parser.stats.lost++;
            continue;
          }
          if (r === 'again') {
            if (!opts.follow) return;
            await sleep(POLL_MS, opts.signal);
            continue;
          }
          const rec = parser.parseKmsg(r);
          if (keep(rec, opts.since)) yield rec;
        }
      } finally {
        await dev.close();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The journal

export interface SpawnedLines {
  /** stdout, line by line. */
  lines: AsyncIterable<string>;
  /** Resolves when the process has exited. */
  exit: Promise<{ code: number; stderr: string }>;
  kill(): void;
}

export type SpawnLines = (cmd: string, args: string[]) => SpawnedLines;

/** Runs a command and streams its stdout by lines (a missing binary exits 127). */
export const spawnLines: SpawnLines = (cmd, args) => {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  const exit = new Promise<{ code: number; stderr: string }>((resolve) => {
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code === 'ENOENT' ? 127 : 126, stderr: stderr + e.message }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stderr }));
  });
  return { lines: createInterface({ input: child.stdout, crlfDelay: Infinity }), exit, kill: () => child.kill() };
};

/** `journalctl --since` takes local time as `YYYY-MM-DD HH:MM:SS`. */
export function journalTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * The arguments for the journal. `_TRANSPORT=kernel` rather than `-k`: `-k` implies `-b` (this boot
 * only), and a week's audit spans reboots.
 */
export function journalArgs(opts: ReadOptions): string[] {
  const args = ['_TRANSPORT=kernel', '-o', 'json', '--no-pager', '-q'];
  if (opts.since) args.push('--since', journalTime(opts.since));
  if (opts.follow) {
    args.push('-f');
    if (!opts.since) args.push('-n', '0');
  }
  return args;
}

export function journalSource(spawnFn: SpawnLines = spawnLines): LogSource {
  return {
    name: 'journal',
    description: 'journalctl',
    async *records(parser, opts = {}) {
      const proc = spawnFn('journalctl', journalArgs(opts));
      const onAbort = () => proc.kill();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const line of proc.lines) {
          if (opts.signal?.aborted) break;
          if (line.length === 0) continue;
          if (line.length > MAX_LINE * 4) {
            parser.stats.lines++;
            parser.stats.garbage++;
            continue;
          }
          const rec = parser.parseJournalLine(line);
          if (keep(rec, opts.since)) yield rec;
        }
        if (opts.signal?.aborted) return;
        const { code, stderr } = await proc.exit;
        if (code === 127) throw new LanfenceError('journalctl not found: use --source kmsg or --file');
        if (code !== 0) throw new LanfenceError(`journalctl failed (exit ${code}): ${stderr.trim().split('\n')[0] ?? ''}`);
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
        proc.kill();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Files

/** Splits chunks into lines; a line longer than MAX_LINE is dropped (counted) up to its newline. */
export class LineSplitter {
  private rest = '';
  private skipping = false;
  /** Lines dropped for length. */
  overlong = 0;

  push(chunk: string): string[] {
    const out: string[] = [];
    let text = this.rest + chunk;
    this.rest = '';
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      if (this.skipping) this.skipping = false;
      else out.push(text.charCodeAt(nl - 1) === 13 ? text.slice(start, nl - 1) : text.slice(start, nl));
      start = nl + 1;
    }
    text = text.slice(start);
    if (text.length > MAX_LINE) {
      if (!this.skipping) this.overlong++;
      this.skipping = true;
      text = '';
    }
    if (!this.skipping) this.rest = text;
    return out;
  }

  /** The last line, when the input does not end with a newline. */
  end(): string[] {
    const last = this.skipping ? '' : this.rest;
    this.rest = '';
    this.skipping = false;
    return last.length > 0 ? [last] : [];
  }
}

export interface FileSourceOptions {
  /** For `-`: the stream to read (default process.stdin). */
  stdin?: Readable;
}

/**
 * A file of kernel log lines in any framing (kern.log/syslog, `dmesg` output, `journalctl -o json`
 * output, saved /dev/kmsg records); `-` reads standard input. With `follow` it is polled for appended
 * lines (like `tail -F`: a truncated or replaced file is read from the start), from its end unless
 * `since` or `fromStart` asks for what it already holds.
 */
export function fileSource(path: string, o: FileSourceOptions = {}): LogSource {
  return {
    name: 'file',
    description: path === '-' ? 'standard input' : path,
    async *records(parser, opts = {}) {
      parser.bootTimeMs ??= bootTimeMs();
      const splitter = new LineSplitter();
      const emit = function* (lines: string[]) {
        for (const line of lines) {
          if (line.length === 0) continue;
          const rec = parser.parseLine(line);
          if (keep(rec, opts.since)) yield rec;
        }
      };
      const countOverlong = () => {
        parser.stats.lines += splitter.overlong;
        parser.stats.garbage += splitter.overlong;
        splitter.overlong = 0;
      };
      if (path === '-') {
        const input = o.stdin ?? process.stdin;
        for await (const chunk of input) {
          if (opts.signal?.aborted) return;
          yield* emit(splitter.push(typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8')));
          countOverlong();
        }
        yield* emit(splitter.end());
        return;
      }
      let fh: FileHandle;
      try {
        fh = await open(path, 'r');
      } catch (e) {
        throw new LanfenceError(`cannot read ${path}: ${(e as Error).message}`);
      }
      const buf = Buffer.alloc(64 * 1024);
      const st = await fh.stat();
      let ino = st.ino;
      // Like kmsg: `-f` alone starts at the end (new lines only); with --since or --from-start, at the beginning.
      let pos = opts.follow && !opts.since && !opts.fromStart ? st.size : 0;
      try {
        for (;;) {
          if (opts.signal?.aborted) return;
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (bytesRead > 0) {
            pos += bytesRead;
            // A multi-byte character split across reads becomes U+FFFD; lines are ASCII in practice.
            yield* emit(splitter.push(buf.toString('utf8', 0, bytesRead)));
            countOverlong();
            continue;
          }
          if (!opts.follow) break;
          await sleep(POLL_MS, opts.signal);
          // Rotated (a new file under the name) or truncated: start over.
          const now = await stat(path).catch(() => null);
          if (now && (now.ino !== ino || now.size < pos)) {
            await fh.close();
            fh = await open(path, 'r');
            ino = (await fh.stat()).ino;
            pos = 0;
          }
        }
        yield* emit(splitter.end());
      } finally {
        await fh.close().catch(() => undefined);
      }
    },
  };
}

/** `auto`: the journal when journalctl exists and journald keeps files (else the journal would be empty), else /dev/kmsg. */
export async function journalAvailable(check: () => Promise<boolean> = defaultJournalCheck): Promise<boolean> {
  return check();
}

async function hasJournalFiles(dir: string, depth = 2): Promise<boolean> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const e of entries) {
    if (e.isFile() && e.name.endsWith('.journal')) return true;
    if (e.isDirectory() && depth > 0 && (await hasJournalFiles(`${dir}/${e.name}`, depth - 1))) return true;
  }
  return false;
}

async function defaultJournalCheck(): Promise<boolean> {
  let found = false;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    try {
      await stat(`${dir}/journalctl`);
      found = true;
      break;
    } catch {
      /* next */
    }
  }
  return found && ((await hasJournalFiles('/run/log/journal')) || (await hasJournalFiles('/var/log/journal')));
}
