/** Log sources with their device, process and streams injected: /dev/kmsg, journalctl, files. */
import { accessSync, appendFileSync, constants, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LogParser, type DropRecord } from '../../src/logs/parse.js';
import { bootTimeMs, fileSource, journalArgs, journalSource, kmsgSource, LineSplitter, openDevKmsg, type KmsgRead, type SpawnLines } from '../../src/logs/sources.js';

const KMSG = readFileSync(new URL('../fixtures/logs/kmsg.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith(' '))
  .map((l) => `${l}\n`);
const JOURNAL = readFileSync(new URL('../fixtures/logs/journal.jsonl', import.meta.url), 'utf8').split('\n').filter(Boolean);

async function all(gen: AsyncGenerator<DropRecord>): Promise<DropRecord[]> {
  const out: DropRecord[] = [];
  for await (const r of gen) out.push(r);
  return out;
}

/** A fake /dev/kmsg: the buffer, then whatever `later` supplies, `again` when empty. */
function fakeKmsg(buffer: KmsgRead[], later: KmsgRead[] = []) {
  const queue = [...buffer];
  let closed = false;
  return {
    push: (...r: KmsgRead[]) => queue.push(...r),
    later,
    get closed() {
      return closed;
    },
    open: async () => ({
      read: async () => (queue.length ? queue.shift()! : 'again'),
      close: async () => {
        closed = true;
      },
    }),
  };
}

describe('kmsg source', () => {
  it('reads the buffer to its end, converts µs since boot, counts lost records', async () => {
    const dev = fakeKmsg([KMSG[0], 'lost', ...KMSG.slice(1)]);
    const parser = new LogParser();
    const recs = await all(kmsgSource({ open: dev.open, bootTimeMs: 1_000_000 }).records(parser));
    expect(recs).toHaveLength(12);
    expect(recs[0].time).toBe(1_000_000 + 2931302);
    expect(parser.stats.lost).toBe(1);
    expect(dev.closed).toBe(true);
  });

  it('-f: skips what the buffer holds, then yields new records until aborted', async () => {
    const dev = fakeKmsg(KMSG.slice(0, 5));
    const ac = new AbortController();
    const parser = new LogParser();
    const got: DropRecord[] = [];
    const done = (async () => {
      for await (const r of kmsgSource({ open: dev.open, bootTimeMs: 0 }).records(parser, { follow: true, signal: ac.signal })) {
        got.push(r);
        if (got.length === 2) ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    dev.push(KMSG[10], 'again', KMSG[11]);
    await done;
    expect(got.map((r) => r.dst)).toEqual(['fd57:17::5', 'fd00:58::1']);
    expect(dev.closed).toBe(true);
  });

  it('-f --since (or --from-start): the buffer first, filtered by time', async () => {
    const dev = fakeKmsg(KMSG);
    const ac = new AbortController();
    const since = new Date(2931307); // boot at the epoch: records from 2931.307 s on
    const got: DropRecord[] = [];
    const run = (async () => {
      for await (const r of kmsgSource({ open: dev.open, bootTimeMs: 0 }).records(new LogParser(), { follow: true, since, signal: ac.signal })) got.push(r);
    })();
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    await run;
    expect(got.map((r) => r.monotonicUs)).toEqual([2931307075, 2931316674, 2931307265, 2931323951]);
  });

  let readable = true;
  try {
    accessSync('/dev/kmsg', constants.R_OK);
  } catch {
    readable = false;
  }
  it.skipIf(!readable)('reads the real /dev/kmsg buffer to its end (read-only)', async () => {
    const parser = new LogParser();
    await all(kmsgSource({ open: openDevKmsg }).records(parser));
    expect(parser.stats.lines).toBeGreaterThan(0);
    expect(parser.stats.garbage).toBe(0);
  });
});

function fakeSpawn(lines: string[], exit = { code: 0, stderr: '' }) {
  const calls: { cmd: string; args: string[] }[] = [];
  let killed = false;
  const spawn: SpawnLines = (cmd, args) => {
    calls.push({ cmd, args });
    return {
      lines: Readable.from(lines),
      exit: Promise.resolve(exit),
      kill: () => {
        killed = true;
      },
    };
  };
  return { spawn, calls, killed: () => killed };
}

describe('journal source', () => {
  it('runs journalctl for kernel messages across boots, as JSON, since a time', async () => {
    const f = fakeSpawn(JOURNAL);
    const since = new Date(2026, 10, 22, 3, 4, 5);
    const recs = await all(journalSource(f.spawn).records(new LogParser(), { since: new Date(0) }));
    expect(recs).toHaveLength(13);
    expect(f.calls[0].cmd).toBe('journalctl');
    expect(journalArgs({ since })).toEqual(['_TRANSPORT=kernel', '-o', 'json', '--no-pager', '-q', '--since', '2026-11-22 03:04:05']);
    expect(journalArgs({ follow: true })).toEqual(['_TRANSPORT=kernel', '-o', 'json', '--no-pager', '-q', '-f', '-n', '0']);
    expect(f.killed()).toBe(true);
  });

  it('filters by --since on its own too', async () => {
    const f = fakeSpawn(JOURNAL);
    const recs = await all(journalSource(f.spawn).records(new LogParser(), { since: new Date(Math.floor(1795918371307075 / 1000)) }));
    expect(recs.every((r) => r.time! >= 1795918371307)).toBe(true);
    expect(recs.length).toBeLessThan(13);
  });

  it('a missing journalctl or a failure is an error with the reason', async () => {
    await expect(all(journalSource(fakeSpawn([], { code: 127, stderr: '' }).spawn).records(new LogParser()))).rejects.toThrow(/journalctl not found/);
    await expect(all(journalSource(fakeSpawn([], { code: 1, stderr: 'Failed to open journal: Permission denied\n' }).spawn).records(new LogParser()))).rejects.toThrow(
      /journalctl failed \(exit 1\): Failed to open journal: Permission denied/,
    );
  });
});

describe('file source', () => {
  const tmp = () => mkdtempSync(join(tmpdir(), 'lanfence-logs-'));

  it('reads any framing, line by line', async () => {
    const d = tmp();
    const f = join(d, 'mixed.log');
    writeFileSync(f, [...KMSG.map((l) => l.trimEnd()), ...JOURNAL, readFileSync(new URL('../fixtures/logs/dmesg.txt', import.meta.url), 'utf8')].join('\n'));
    const parser = new LogParser({ bootTimeMs: 0 });
    const recs = await all(fileSource(f).records(parser));
    expect(recs).toHaveLength(12 + 13 + 12);
    expect(new Set(recs.map((r) => r.framing))).toEqual(new Set(['kmsg', 'journal', 'dmesg']));
  });

  it('-f: follows appended lines and a rotated file', async () => {
    const d = tmp();
    const f = join(d, 'kern.log');
    writeFileSync(f, KMSG[0]);
    const ac = new AbortController();
    const got: DropRecord[] = [];
    const run = (async () => {
      for await (const r of fileSource(f).records(new LogParser({ bootTimeMs: 0 }), { follow: true, fromStart: true, signal: ac.signal })) {
        got.push(r);
        if (got.length === 3) ac.abort();
      }
    })();
    await waitFor(() => got.length === 1);
    appendFileSync(f, KMSG[1].slice(0, 40)); // half a line: not yet
    await new Promise((r) => setTimeout(r, 400));
    expect(got).toHaveLength(1);
    appendFileSync(f, KMSG[1].slice(40));
    await waitFor(() => got.length === 2);
    writeFileSync(join(d, 'kern.log.new'), KMSG[3]);
    renameSync(join(d, 'kern.log.new'), f); // logrotate
    await run;
    expect(got.map((r) => r.dpt)).toEqual([22, 2375, 53]);
  });

  it('-f alone starts at the end: only new lines', async () => {
    const f = join(tmp(), 'kern.log');
    writeFileSync(f, KMSG.slice(0, 3).join(''));
    const ac = new AbortController();
    const got: DropRecord[] = [];
    const run = (async () => {
      for await (const r of fileSource(f).records(new LogParser(), { follow: true, signal: ac.signal })) {
        got.push(r);
        ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(f, KMSG[3]);
    await run;
    expect(got.map((r) => r.dpt)).toEqual([53]);
  });

  it('"-" reads standard input', async () => {
    const recs = await all(fileSource('-', { stdin: Readable.from([KMSG.slice(0, 2).join(''), KMSG[3]]) }).records(new LogParser()));
    expect(recs.map((r) => r.dpt)).toEqual([22, 2375, 53]);
  });

  it('a missing file is an error', async () => {
    await expect(all(fileSource('/nonexistent/kern.log').records(new LogParser()))).rejects.toThrow(/cannot read \/nonexistent\/kern.log/);
  });
});

describe('LineSplitter', () => {
  it('joins partial chunks, strips CR, drops (and counts) overlong lines', () => {
    const s = new LineSplitter();
    expect(s.push('a\r\nb')).toEqual(['a']);
    expect(s.push('c\nd')).toEqual(['bc']);
    expect(s.push('x'.repeat(20_000))).toEqual([]);
    expect(s.push('yyy\ne\n')).toEqual(['e']);
    expect(s.overlong).toBe(1);
    expect(s.push('tail')).toEqual([]);
    expect(s.end()).toEqual(['tail']);
  });
});

describe('bootTimeMs', () => {
  it('now − /proc/uptime, else /proc/stat btime', () => {
    expect(bootTimeMs((p) => (p === '/proc/uptime' ? '2912.10 2097.40\n' : ''), 10_000_000)).toBe(10_000_000 - 2_912_100);
    expect(
      bootTimeMs((p) => {
        if (p === '/proc/uptime') throw new Error('no');
        return 'cpu  1 2 3\nbtime 1795915440\nprocesses 5\n';
      }),
    ).toBe(1795915440_000);
    expect(
      bootTimeMs(() => {
        throw new Error('no /proc');
      }),
    ).toBeUndefined();
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
