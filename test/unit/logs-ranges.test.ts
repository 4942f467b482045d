/**
 * The numeric range lookup (src/logs/ranges.ts) and `Attributor.entryFor` against what they
 * replaced: the first blocked entry, longest prefix first, for which ipaddr.js's `containsAddress`
 * holds — on random range lists (both families, overlapping, /0 to /32 and /128, host bits set) and
 * addresses in, next to and outside them, spelled every way.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Attributor, CurrentStateHistory, type EntryRef } from '../../src/logs/attribute.js';
import { RangeTable } from '../../src/logs/ranges.js';
import { cidrOf, containsAddress, rangeOf, shortText, type Cidr } from '../../src/ruleset/cidr.js';
import type { BlockedEntry, Ruleset } from '../../src/ruleset/types.js';
import { rulesetOf } from '../support/fixtures.js';
import { spelledIpv6 } from '../support/ipv6-arbitrary.js';

const v4Text = (n: bigint) => [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
const groupsOf = (n: bigint) => Array.from({ length: 8 }, (_, k) => Number((n >> BigInt(112 - 16 * k)) & 0xffffn));
const v6Text = (n: bigint) => groupsOf(n).map((g) => g.toString(16)).join(':');
const bigOf = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });

/** A CIDR: from cidrOf (host bits cleared), or as a literal object with host bits left set. */
const cidr: fc.Arbitrary<Cidr> = fc.oneof(
  fc.tuple(bigOf(32), fc.integer({ min: 0, max: 32 }), fc.boolean()).map(([n, p, raw]) => (raw ? { family: 4 as const, address: v4Text(n), prefix: p, text: `${v4Text(n)}/${p}` } : cidrOf(`${v4Text(n)}/${p}`))),
  fc.tuple(bigOf(128), fc.integer({ min: 0, max: 128 }), fc.boolean()).map(([n, p, raw]) => {
    if (!raw) return cidrOf(`${v6Text(n)}/${p}`);
    const address = cidrOf(`${v6Text(n)}/128`).address;
    return { family: 6 as const, address, prefix: p, text: `${address}/${p}` };
  }),
);

/** An address in one of the ranges, near its edges (a few bits around the prefix flipped), or anywhere. */
const addressFor = (cidrs: Cidr[]): fc.Arbitrary<string> => {
  const anywhere = fc.oneof(bigOf(32).map(v4Text), spelledIpv6().map((x) => x.text));
  if (cidrs.length === 0) return anywhere;
  const near = fc.tuple(fc.constantFrom(...cidrs), fc.integer({ min: -3, max: 3 }), fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.boolean()).chain(([c, d, noise, spell]) => {
    const bits = c.family === 4 ? 32 : 128;
    const free = Math.min(bits, Math.max(0, bits - c.prefix + d)); // low bits to randomise
    const n = (rangeOf(c).lo & ~((1n << BigInt(free)) - 1n)) | (noise & ((1n << BigInt(free)) - 1n));
    if (c.family === 4) return fc.constant(v4Text(n));
    return spell ? spelledIpv6(fc.constant(groupsOf(n))).map((x) => x.text) : fc.constant(v6Text(n));
  });
  return fc.oneof({ arbitrary: near, weight: 4 }, { arbitrary: anywhere, weight: 1 });
};

const reference = (cidrs: Cidr[], a: string) => cidrs.findIndex((c) => containsAddress(c, a));

describe('RangeTable', () => {
  it('finds the first range containing the address, as containsAddress does', () => {
    fc.assert(
      fc.property(
        fc.array(cidr, { maxLength: 24 }).chain((cs) => fc.tuple(fc.constant(cs), fc.array(addressFor(cs), { minLength: 1, maxLength: 20 }))),
        ([cidrs, addresses]) => {
          const t = new RangeTable(cidrs);
          for (const a of addresses) {
            const got = t.find(a);
            expect(got, `${a} in ${cidrs.map((c) => c.text).join(' ')}`).not.toBeUndefined(); // the fast readers take every address written here
            expect(got, `${a} in ${cidrs.map((c) => c.text).join(' ')}`).toBe(reference(cidrs, a));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('leaves text it does not read to the caller (undefined), never answers it wrongly', () => {
    const cidrs = ['10.0.0.0/8', '0.0.0.0/0', 'fc00::/7', '::/0'].map(cidrOf);
    const t = new RangeTable(cidrs);
    for (const a of [' 10.0.0.1', '10.0.0.01', '10.0.0', 'fe80::1%eth0', 'not-an-address', '', '1.2.3.4.5']) expect(t.find(a), a).toBeUndefined();
    expect(t.find('fd00::1')).toBe(2);
    expect(t.find('2001:db8::1')).toBe(3);
    expect(t.find('8.8.8.8')).toBe(1);
  });
});

describe('Attributor.entryFor', () => {
  const base = rulesetOf('mode: enforce\n');
  /** What entryFor answered before: `blocked` sorted by prefix, the first whose range contains the address. */
  const before = (blocked: BlockedEntry[], dst: string): EntryRef | null => {
    const b = [...blocked].sort((x, y) => y.cidr.prefix - x.cidr.prefix).find((e) => containsAddress(e.cidr, dst));
    return b ? { kind: 'blocked', name: b.name, cidr: shortText(b.cidr) } : null;
  };
  const attributor = (blocked: BlockedEntry[]) => new Attributor({ history: new CurrentStateHistory({ source: 'file:x', networks: [], containers: [] }), ruleset: { ...base, blocked } as Ruleset });

  it('names the same entry as before, for the default ranges and random extra ones', () => {
    fc.assert(
      fc.property(
        fc.array(cidr, { maxLength: 12 }).chain((extra) => {
          const blocked = [...base.blocked, ...extra.map((c, i) => ({ cidr: c, name: `extra ${i}`, source: 'extra' as const }))];
          return fc.tuple(fc.constant(blocked), fc.array(addressFor(blocked.map((b) => b.cidr)), { minLength: 1, maxLength: 20 }));
        }),
        ([blocked, addresses]) => {
          const a = attributor(blocked);
          for (const dst of addresses) expect(a.entryFor(dst, 'forward'), dst).toEqual(before(blocked, dst));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('and for text the fast readers leave to ipaddr.js; the input path is the host', () => {
    const a = attributor(base.blocked);
    for (const dst of ['fe80::1%eth0', ' 10.0.0.1', 'junk', '::ffff:10.0.0.1', '::ffff:a00:1', 'FD00::1', '0fd0:0::1']) expect(a.entryFor(dst, 'forward'), dst).toEqual(before(base.blocked, dst));
    expect(a.entryFor('10.0.0.1', 'input')).toEqual({ kind: 'host' });
  });
});
