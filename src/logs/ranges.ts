/**
 * A list of CIDRs as numbers, for the destination of every log line: which is the first range (in
 * the list's order) that contains an address. The same answer as
 * `cidrs.findIndex((c) => containsAddress(c, address))` (test/unit/logs-ranges.test.ts), without
 * ipaddr.js per line: the address is read by the strict readers of ./ipv6.ts and compared as 32-bit
 * words under each range's mask. Text those readers leave is the caller's to send to containsAddress.
 */
import { rangeOf, type Cidr } from '../ruleset/cidr.js';
import { readIpv6, readQuad } from './ipv6.js';

/** The mask of the `bits` leading bits of a 32-bit word (bits 0..32). */
const maskOf = (bits: number): number => (bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0);

export class RangeTable {
  /** Per range: its family, and four words of network and mask (IPv4 uses the first). */
  private readonly family: Uint8Array;
  private readonly net: Uint32Array;
  private readonly mask: Uint32Array;
  private readonly groups = new Uint16Array(8);

  constructor(cidrs: readonly Cidr[]) {
    const n = cidrs.length;
    this.family = new Uint8Array(n);
    this.net = new Uint32Array(n * 4);
    this.mask = new Uint32Array(n * 4);
    cidrs.forEach((c, i) => {
      this.family[i] = c.family;
      const bits = c.family === 4 ? 32 : 128;
      const lo = rangeOf(c).lo; // the address as written, host bits included
      for (let w = 0; w < bits / 32; w++) {
        const m = maskOf(c.prefix - w * 32);
        this.mask[i * 4 + w] = m;
        this.net[i * 4 + w] = (Number((lo >> BigInt(bits - 32 * (w + 1))) & 0xffffffffn) & m) >>> 0;
      }
    });
  }

  /**
   * Index of the first range that contains `address`; -1 when none does; undefined when the text is
   * not one the fast readers take (an unusual spelling, or not an address).
   */
  find(address: string): number | undefined {
    const q = readQuad(address, 0, address.length);
    if (q >= 0) {
      for (let i = 0; i < this.family.length; i++) {
        if (this.family[i] === 4 && ((q & this.mask[i * 4]) >>> 0) === this.net[i * 4]) return i;
      }
      return -1;
    }
    const g = this.groups;
    if (!readIpv6(address, 0, address.length, g)) return undefined;
    const w0 = ((g[0] << 16) | g[1]) >>> 0;
    const w1 = ((g[2] << 16) | g[3]) >>> 0;
    const w2 = ((g[4] << 16) | g[5]) >>> 0;
    const w3 = ((g[6] << 16) | g[7]) >>> 0;
    const { net, mask } = this;
    for (let i = 0; i < this.family.length; i++) {
      if (this.family[i] !== 6) continue;
      const k = i * 4;
      if (((w0 & mask[k]) >>> 0) === net[k] && ((w1 & mask[k + 1]) >>> 0) === net[k + 1] && ((w2 & mask[k + 2]) >>> 0) === net[k + 2] && ((w3 & mask[k + 3]) >>> 0) === net[k + 3]) return i;
    }
    return -1;
  }
}
