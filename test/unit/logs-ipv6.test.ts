/**
 * The hand-rolled IPv6 reader and writer (src/logs/ipv6.ts) against ipaddr.js: for every text,
 * `canonicalIpv6` gives what the ipaddr.js-based implementation it replaced gave — the kernel's
 * 39-character full form read strictly, anything else as `parseAddress` (ipaddr.js) reads it.
 */
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { canonicalIpv6, formatIpv6, hex16, readIpv6, readQuad } from '../../src/logs/ipv6.js';
import { LogParser } from '../../src/logs/parse.js';
import { parseAddress } from '../../src/ruleset/cidr.js';
import { group, spelledIpv6 } from '../support/ipv6-arbitrary.js';

/** The previous implementation, restated: the reference every answer must equal. */
function reference(raw: string): string | null {
  if (raw.length === 39) return /^(?:[0-9a-fA-F]{4}:){7}[0-9a-fA-F]{4}$/.test(raw) ? ipaddr.parse(raw).toString() : null;
  const a = parseAddress(raw);
  return a && a.family === 6 ? a.address : null;
}

describe('readIpv6 / formatIpv6 / canonicalIpv6', () => {
  it('equals ipaddr.js on addresses spelled every way (zero runs, leading zeros, upper case, dotted tails)', () => {
    const out = new Uint16Array(8);
    fc.assert(
      fc.property(spelledIpv6(), ({ text, groups }) => {
        // The strict reader takes every one of these (the fast path is really exercised) ...
        expect(readIpv6(text, 0, text.length, out), text).toBe(true);
        expect([...out]).toEqual(groups);
        // ... and the text is ipaddr.js's
        expect(formatIpv6(out)).toBe(new ipaddr.IPv6(groups).toString());
        expect(canonicalIpv6(text), text).toBe(reference(text));
        // (39 characters must be the kernel's full form, as before: `0:0:0:1000:000:1000:10.100.0.0` is refused)
        if (text.length !== 39) expect(canonicalIpv6(text), text).toBe(new ipaddr.IPv6(groups).toString());
      }),
      { numRuns: 5000 },
    );
  });

  it('equals the previous implementation on the kernel full form, and on near-misses of it', () => {
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (groups, upper) => {
        const full = groups.map((g, k) => (upper[k] ? g.toString(16).toUpperCase() : g.toString(16)).padStart(4, '0')).join(':');
        expect(canonicalIpv6(full)).toBe(reference(full));
        expect(canonicalIpv6(full)).toBe(new ipaddr.IPv6(groups).toString());
      }),
      { numRuns: 5000 },
    );
    // 39 characters that are not the full form: null before, null now (the kernel never writes them)
    for (const t of ['ffff:ffff:ffff:ffff:ffff:ffff:255.2.2.1', 'fd00:20:0000:0000:0000:0000:0000:0005:0', 'fd00::0000:0000:0000:0000:0000:0000:005'])
      expect([t.length, canonicalIpv6(t)]).toEqual([39, reference(t)]);
  });

  it('equals the previous implementation on arbitrary text (junk, near-misses, zone ids, spaces)', () => {
    const alphabet = fc.constantFrom(...'0123456789abcdefABCDEF::::...%g x'.split(''));
    const near = spelledIpv6().chain(({ text }) =>
      fc.record({ at: fc.integer({ min: 0, max: text.length }), cut: fc.integer({ min: 0, max: 3 }), ins: fc.string({ unit: alphabet, maxLength: 3 }) }).map(({ at, cut, ins }) => text.slice(0, at) + ins + text.slice(at + cut)),
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: alphabet, maxLength: 46 }), near, fc.string({ maxLength: 46 })), (t) => {
        expect(canonicalIpv6(t), JSON.stringify(t)).toBe(reference(t));
      }),
      { numRuns: 10_000 },
    );
  });

  it('hand-picked edges', () => {
    for (const t of ['::', '::1', '1::', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4::5:6:7:8', '1:0:0:1:0:0:1:1', '0:0:1:0:0:1:1:1', '1:1:1:0:0:1:0:0', '::1.2.3.4', '::ffff:10.0.0.1', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '::01.2.3.4', '::1.2.3.256', '1.2.3.4::', '1.2.3.4', ':::', ':1::', '1:', '1::2::3', '00000::1', 'fe80::1%eth0', ' ::1', 'FD00:0020::0005', '']) {
      expect(canonicalIpv6(t), t).toBe(reference(t));
    }
  });

  it('hex16 is toString(16) for every group', () => {
    for (let g = 0; g <= 0xffff; g++) if (hex16(g) !== g.toString(16)) expect(hex16(g), String(g)).toBe(g.toString(16));
  });

  it('readQuad reads only four-part decimal', () => {
    expect(readQuad('10.0.0.1', 0, 8)).toBe(0x0a000001);
    expect(readQuad('255.255.255.255', 0, 15)).toBe(0xffffffff);
    for (const t of ['01.0.0.1', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1..2.3', '1.2.3.4 ', 'a.b.c.d']) expect(readQuad(t, 0, t.length), t).toBe(-1);
  });
});

describe('IPv6 LOG lines', () => {
  it('the fast path and the scanner read any spelling of the addresses alike', () => {
    const fast = new LogParser();
    const scan = new LogParser({ fastPath: false });
    const proto = fc.constantFrom('PROTO=TCP SPT=40000 DPT=443 WINDOW=64800 RES=0x00 SYN URGP=0 ', 'PROTO=UDP SPT=40000 DPT=53 LEN=40 ', 'PROTO=ICMPv6 TYPE=128 CODE=0 ID=7 SEQ=1 ');
    fc.assert(
      fc.property(spelledIpv6(), spelledIpv6(), proto, (a, b, p) => {
        const line = `4,1,2,-;DOCKER_NET_DROP: IN=br-1 OUT=enp1s0 MAC=02:42:ac:14:03:02:86:dd SRC=${a.text} DST=${b.text} LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=5 ${p}`;
        const r = fast.parseLine(line);
        expect(r, line).toEqual(scan.parseLine(line));
        if (a.text.length !== 39 && b.text.length !== 39) expect(r && [r.src, r.dst]).toEqual([new ipaddr.IPv6(a.groups).toString(), new ipaddr.IPv6(b.groups).toString()]);
      }),
      { numRuns: 3000 },
    );
    expect(fast.stats).toEqual(scan.stats);
  });

  it('the fast path and the scanner agree on mangled IPv4 and IPv6 lines', () => {
    const fast = new LogParser();
    const scan = new LogParser({ fastPath: false });
    const lines = [
      '4,1,2,-;DOCKER_NET_DROP: IN=br-1 OUT=enp1s0 MAC=02:42:ac:14:03:02:86:dd SRC=fd00:17::a42 DST=fd12:3e4f::b7 LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=5 PROTO=TCP SPT=40000 DPT=443 WINDOW=64800 RES=0x00 SYN URGP=0 ',
      '4,1,2,-;DOCKER_NET_DROP: IN=docker0 OUT=enp1s0 PHYSIN=veth1 MAC=02:42:ac:14:03:02:08:00 SRC=172.17.0.2 DST=10.0.0.5 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=5 DF PROTO=UDP SPT=40000 DPT=53 LEN=40 ',
    ];
    const piece = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.'.split('')), maxLength: 6 });
    fc.assert(
      fc.property(fc.constantFrom(...lines), fc.nat(), fc.nat({ max: 6 }), piece, (line, at, cut, ins) => {
        const k = at % line.length;
        const mangled = line.slice(0, k) + ins + line.slice(k + cut);
        expect(fast.parseLine(mangled), mangled).toEqual(scan.parseLine(mangled));
      }),
      { numRuns: 20_000 },
    );
    for (const bare of ['SRC=abcdef DST=10.0.0.5', 'SRC=172.17.0.2 DST=abcd', 'SRC=1234 DST=5678']) {
      const line = lines[1].replace('SRC=172.17.0.2 DST=10.0.0.5', bare);
      expect(fast.parseLine(line), line).toBeNull();
      expect(scan.parseLine(line), line).toBeNull();
    }
    expect(fast.stats).toEqual(scan.stats);
  });
});
