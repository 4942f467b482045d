/** fast-check arbitraries for IPv6 text (test/unit/logs-ipv6.test.ts, logs-ranges.test.ts). */
import fc from 'fast-check';

/** A group: often zero (so that runs of zeros, ties and edges come up), else anything. */
export const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xff }));

/** An address (eight groups) spelled in any of the ways people and tools write it. */
export const spelledIpv6 = (groups8: fc.Arbitrary<number[]> = fc.array(group, { minLength: 8, maxLength: 8 })) =>
  fc
    .record({
      groups: groups8,
      pad: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 8, maxLength: 8 }),
      upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      compress: fc.integer({ min: -1, max: 7 }),
      compressLen: fc.integer({ min: 1, max: 8 }),
      v4Tail: fc.boolean(),
    })
    .map(({ groups, pad, upper, compress, compressLen, v4Tail }) => {
      const hex = (g: number, k: number) => {
        const t = g.toString(16).padStart(pad[k], '0');
        return upper[k] ? t.toUpperCase() : t;
      };
      const last = v4Tail ? 6 : 8; // a dotted tail spells groups 6 and 7
      const parts: string[] = [];
      for (let k = 0; k < last; k++) parts.push(hex(groups[k], k));
      if (v4Tail) parts.push(`${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`);
      // `::` over a run of zero groups that starts at `compress` (when there is one there).
      let text = parts.join(':');
      if (compress >= 0 && compress < last) {
        let end = compress;
        while (end < last && end - compress < compressLen && groups[end] === 0) end++;
        if (end > compress) text = `${parts.slice(0, compress).join(':')}::${parts.slice(end).join(':')}`;
      }
      return { text, groups };
    });
