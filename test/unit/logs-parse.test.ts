/**
 * The kernel LOG line parser on lines captured in the lab (test/fixtures/logs/kmsg.txt: /dev/kmsg
 * records of nftables `log` drops, IPv4 and IPv6, TCP/UDP/ICMP/ICMPv6, forward and input path), the
 * same messages in the other framings, lines built to the kernel's format for rarer shapes
 * (special.txt), and broken ones (malformed.txt). Every case runs with and without the fast path.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { canonicalIpv6, LogParser, portProtoText, type DropRecord } from '../../src/logs/parse.js';

const fixture = (name: string): string[] =>
  readFileSync(new URL(`../fixtures/logs/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

const BOOT = Date.UTC(2026, 10, 29, 1, 24, 0); // the journal fixture's boot time

function parseAll(lines: string[], fastPath: boolean, opts: { bootTimeMs?: number; now?: () => number } = {}) {
  const p = new LogParser({ fastPath, ...opts });
  const records = lines.map((l) => p.parseLine(l));
  return { p, records };
}

// The records the captured kmsg lines must give (fields a reader would check by eye).
const KMSG_EXPECTED: (Partial<DropRecord> | null)[] = [
  { in: 'docker0', out: 'enp1s0', physIn: 'veth8618862', family: 4, src: '172.17.0.2', dst: '10.57.17.5', proto: 'tcp', spt: 52654, dpt: 22, flags: ['SYN'], ttl: 63, len: 60, path: 'forward', mac: '02:42:40:0e:ec:57:02:42:ac:11:00:02:08:00' },
  { in: 'docker0', out: '', src: '172.17.0.2', dst: '192.168.57.2', proto: 'tcp', dpt: 2375, flags: ['SYN'], ttl: 64, path: 'input' },
  null, // another kernel message
  { in: 'docker0', out: 'enp1s0', src: '172.17.0.2', dst: '10.57.17.5', proto: 'udp', spt: 48124, dpt: 53, len: 44, path: 'forward' },
  { in: 'br-032ddead8a81', out: '', src: '172.20.3.2', dst: '172.20.3.1', proto: 'udp', dpt: 53, path: 'input' },
  null, // another kernel message ...
  null, // ... and its continuation lines
  null,
  { in: 'br-fd29087979e0', out: 'enp1s0', src: '172.20.1.2', dst: '169.254.57.5', proto: 'icmp', icmpType: 8, icmpCode: 0, path: 'forward' },
  { in: 'docker0', out: '', src: '172.17.0.2', dst: '192.168.57.2', proto: 'icmp', icmpType: 8, icmpCode: 0, path: 'input' },
  { family: 6, src: 'fd00:17::242:ac11:2', dst: 'fd57:17::5', proto: 'tcp', spt: 39530, dpt: 80, flags: ['SYN'], ttl: 63, len: 80, path: 'forward' },
  { family: 6, src: 'fd00:17::242:ac11:2', dst: 'fd57::2', proto: 'tcp', dpt: 2375, ttl: 64, path: 'input' },
  { family: 6, src: 'fd00:17::242:ac11:2', dst: 'fd57:17::5', proto: 'udp', dpt: 53, path: 'forward' },
  { family: 6, in: 'br-032ddead8a81', src: 'fd00:58::2', dst: 'fd00:58::1', proto: 'udp', dpt: 53, path: 'input' },
  { family: 6, src: 'fd00:17::242:ac11:3', dst: 'fd57:17::5', proto: 'icmpv6', icmpType: 128, icmpCode: 0, physIn: 'veth6c03b5c', path: 'forward' },
  { family: 6, src: 'fd00:17::242:ac11:2', dst: 'fd57::2', proto: 'icmpv6', icmpType: 128, icmpCode: 0, path: 'input' },
];

const DROPS = KMSG_EXPECTED.filter((e): e is Partial<DropRecord> => e !== null);

describe.each([true, false])('LogParser (fast path %s)', (fastPath) => {
  it('reads captured /dev/kmsg records: fields, path, time from the boot time', () => {
    const lines = fixture('kmsg.txt');
    const { p, records } = parseAll(lines, fastPath, { bootTimeMs: BOOT });
    expect(records.length).toBe(KMSG_EXPECTED.length);
    records.forEach((r, i) => {
      if (KMSG_EXPECTED[i] === null) expect(r, lines[i]).toBeNull();
      else expect(r, lines[i]).toMatchObject({ framing: 'kmsg', ...KMSG_EXPECTED[i] });
    });
    expect(records[0]!.monotonicUs).toBe(2931302630);
    expect(records[0]!.time).toBe(BOOT + 2931302);
    expect(records[3]!.flags).toBeUndefined();
    expect(p.stats).toEqual({ lines: 16, records: 12, ignored: 4, garbage: 0, truncated: 0, lost: 0 });
  });

  it('reads the same messages from journalctl -o json (MESSAGE as text or bytes; __REALTIME_TIMESTAMP)', () => {
    const lines = fixture('journal.jsonl');
    const { p, records } = parseAll(lines, fastPath);
    const drops = records.filter((r): r is DropRecord => r !== null);
    expect(drops.map((d) => ({ src: d.src, dst: d.dst, proto: d.proto, path: d.path }))).toEqual(
      [...DROPS, DROPS[2]].map((d) => ({ src: d.src, dst: d.dst, proto: d.proto, path: d.path })),
    );
    expect(drops[0]).toMatchObject({ framing: 'journal', time: Math.floor(1795918371302630 / 1000), monotonicUs: 2931302630 });
    expect(p.stats).toMatchObject({ records: 13, ignored: 1, garbage: 0 });
  });

  it('reads kern.log (syslog, local time, no year) and only the kernel tag', () => {
    const lines = fixture('kern-log.txt');
    const now = new Date(2026, 10, 29, 12, 0, 0).getTime();
    const { p, records } = parseAll(lines, fastPath, { now: () => now });
    const drops = records.filter((r): r is DropRecord => r !== null);
    // 12 captured drops + a kernel line from November 3 (this year); logger(1) lines under another tag are not the kernel's
    expect(drops).toHaveLength(13);
    expect(drops[0]).toMatchObject({ framing: 'syslog', src: '172.17.0.2', dst: '10.57.17.5', dpt: 22 });
    expect(drops[0].time).toBe(new Date(2026, 10, 29, 2, 12, 51).getTime());
    expect(drops.find((d) => d.dpt === 3306)!.time).toBe(new Date(2026, 10, 3, 4, 5, 6).getTime());
    expect(p.stats).toMatchObject({ records: 13, ignored: 2, garbage: 0, truncated: 0 });
  });

  it('puts a syslog date that would be in the future into last year', () => {
    const now = new Date(2026, 0, 2, 12, 0, 0).getTime();
    const p = new LogParser({ fastPath, now: () => now });
    const r = p.parseLine(`Dec 31 23:59:59 ship kernel: ${fixture('special.txt')[1]}`);
    expect(r!.time).toBe(new Date(2025, 11, 31, 23, 59, 59).getTime());
  });

  it('reads RFC 3339 syslog lines (the audit fixture) and dmesg -r output', () => {
    const audit = parseAll(fixture('audit-syslog.txt'), fastPath);
    expect(audit.p.stats).toMatchObject({ lines: 67, records: 61, ignored: 4, garbage: 1, truncated: 1 });
    expect(audit.records[0]).toMatchObject({ framing: 'syslog', time: Date.parse('2026-11-20T05:05:05.900Z'), dst: '10.57.17.6', dpt: 6379 });

    const dm = parseAll(fixture('dmesg.txt'), fastPath, { bootTimeMs: BOOT });
    const drops = dm.records.filter((r): r is DropRecord => r !== null);
    expect(drops.map((d) => d.dst)).toEqual(DROPS.map((d) => d.dst));
    expect(drops[0]).toMatchObject({ framing: 'dmesg', monotonicUs: 2931302630, time: BOOT + 2931302 });
    expect(dm.p.stats).toMatchObject({ records: 12, ignored: 1, garbage: 0 });
    // dmesg -T: a wall-clock stamp in local time
    const t = new LogParser({ fastPath }).parseLine(`[Sun Nov 29 02:12:51 2026] ${fixture('special.txt')[1]}`);
    expect(t!.time).toBe(new Date(2026, 10, 29, 2, 12, 51).getTime());
  });

  it('reads the rarer shapes of the kernel format', () => {
    const lines = fixture('special.txt');
    const { p, records } = parseAll(lines, fastPath);
    expect(p.stats).toMatchObject({ records: lines.length, garbage: 0, truncated: 0 });
    // ICMP error: the quoted packet's addresses and ports are not the outer packet's
    expect(records[0]).toMatchObject({ proto: 'icmp', icmpType: 3, icmpCode: 3, src: '172.17.0.2', dst: '192.168.1.53' });
    expect(records[0]!.dpt).toBeUndefined();
    expect(records[1]!.flags).toEqual(['CWR', 'ECE', 'SYN']);
    expect(records[2]).toMatchObject({ proto: 'udp', fragment: true });
    expect(records[2]!.dpt).toBeUndefined();
    expect(records[3]).toMatchObject({ proto: 'tcp', incomplete: true });
    expect(records[4]).toMatchObject({ physIn: 'veth1a2b3c4', physOut: 'veth9f8e7d6', dpt: 22 });
    expect(records[5]).toMatchObject({ dpt: 22, flags: ['SYN'], src: '172.17.0.2' });
    expect(records[5]!.mac).toBeUndefined();
    expect(records[6]).toMatchObject({ proto: '47', dst: '10.57.17.5' });
    expect(records[6]!.mac).toBeUndefined(); // `MAC=` (empty)
    expect(records[7]).toMatchObject({ family: 6, src: '::ffff:ac11:2', dst: '::ffff:a39:1105', dpt: 80 });
    expect(records[8]).toMatchObject({ family: 6, dst: 'ff02::fb', proto: 'udp', dpt: 5353 });
    expect(records[9]).toMatchObject({ proto: 'sctp', dpt: 3868 });
  });

  it('counts truncated and garbage lines, ignores other prefixes, never throws', () => {
    const sections = new Map<string, string[]>();
    let current = '';
    for (const l of fixture('malformed.txt')) {
      if (l.startsWith('## ')) sections.set((current = l.slice(3)), []);
      else if (!l.startsWith('#')) sections.get(current)!.push(l);
    }
    for (const [kind, key] of [
      ['truncated', 'truncated'],
      ['garbage', 'garbage'],
      ['wrong prefix', 'ignored'],
    ] as const) {
      for (const line of sections.get(kind)!) {
        const p = new LogParser({ fastPath });
        expect(p.parseLine(line), line).toBeNull();
        expect(p.stats[key], `${kind}: ${line}`).toBe(1);
        expect(p.stats.lines).toBe(1);
      }
    }
  });
});

describe('canonicalIpv6', () => {
  it('gives the same text as ipaddr.js (RFC 5952) for the kernel\'s full form', () => {
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
        expect(canonicalIpv6(full)).toBe(ipaddr.parse(full).toString());
      }),
      { numRuns: 2000 },
    );
  });
  it('accepts compressed forms, rejects junk', () => {
    expect(canonicalIpv6('fd00:20::5')).toBe('fd00:20::5');
    expect(canonicalIpv6('fd00:0020:0000:0000:0000:0000:0000:000g')).toBeNull();
    expect(canonicalIpv6('1.2.3.4')).toBeNull();
  });
});

describe('untrusted input', () => {
  const prefix = 'DOCKER_NET_DROP: ';
  const valid = fixture('kmsg.txt')[0];
  it('never throws, on random text or on mangled real lines', () => {
    const p = new LogParser();
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        p.parseLine(s);
        p.parseLine(prefix + s);
        p.parseLine(`4,1,2,-;${prefix}IN=${s}`);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length }), fc.integer({ min: 0, max: valid.length }), fc.string({ maxLength: 5 }), (a, b, ins) => {
        const mangled = valid.slice(0, Math.min(a, b)) + ins + valid.slice(Math.max(a, b));
        const r = p.parseLine(mangled);
        if (r) {
          expect(typeof r.src).toBe('string');
          expect(r.family === 4 || r.family === 6).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
    expect(p.stats.lines).toBe(p.stats.records + p.stats.ignored + p.stats.garbage + p.stats.truncated);
  });
  it('a cut at any point is never garbage: truncated (or still a valid line)', () => {
    for (const line of fixture('kmsg.txt').filter((l) => l.includes(prefix))) {
      const msg = line.slice(line.indexOf(';') + 1);
      for (let cut = prefix.length; cut < msg.length - 1; cut++) {
        for (const fastPath of [true, false]) {
          const p = new LogParser({ fastPath });
          p.parseMessage(msg.slice(0, cut));
          expect(p.stats.garbage, `${fastPath} ${msg.slice(0, cut)}`).toBe(0);
        }
      }
    }
  });
  it('key names that are also JavaScript property names are just garbage', () => {
    const p = new LogParser({ fastPath: false });
    for (const proto of ['toString', 'constructor', '__proto__', 'hasOwnProperty'])
      expect(p.parseLine(`${prefix}IN=docker0 OUT=eth0 MAC= SRC=172.17.0.2 DST=10.0.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 PROTO=${proto} SPT=1 DPT=2 LEN=3 `)).toBeNull();
    expect(p.stats.garbage).toBe(4);
  });
  it('a line too long for the kernel is garbage', () => {
    const p = new LogParser();
    expect(p.parseLine(prefix + 'IN=' + 'x'.repeat(20000))).toBeNull();
    expect(p.stats.garbage).toBe(1);
  });
  it('uses the configured prefix', () => {
    const p = new LogParser({ prefix: 'LF ' });
    expect(p.parseLine(fixture('kmsg.txt')[0])).toBeNull();
    expect(p.parseLine(`LF ${fixture('special.txt')[1].slice(prefix.length)}`)).toMatchObject({ dpt: 443 });
    expect(p.stats).toMatchObject({ records: 1, ignored: 1 });
  });
});

describe('portProtoText', () => {
  it('names ports and ICMP types', () => {
    expect(portProtoText({ proto: 'tcp', dpt: 5432 })).toBe('5432/tcp');
    expect(portProtoText({ proto: 'icmp', icmpType: 8, icmpCode: 0 })).toBe('icmp echo-request');
    expect(portProtoText({ proto: 'icmpv6', icmpType: 1, icmpCode: 4 })).toBe('icmpv6 unreachable code 4');
    expect(portProtoText({ proto: '47' })).toBe('47');
  });
});
