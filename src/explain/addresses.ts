/** Address arithmetic explain needs: a representative source on a subnet, the subnet's first host. */
import ipaddr from 'ipaddr.js';
import { containsAddress, parseCidr, type Cidr, type Family } from '../ruleset/cidr.js';

type Bytes = number[];

const toText = (bytes: Bytes): string => ipaddr.fromByteArray(bytes).toString();

function step(bytes: Bytes, delta: 1 | -1): Bytes {
  const out = [...bytes];
  for (let i = out.length - 1; i >= 0; i--) {
    const v = out[i] + delta;
    out[i] = (v + 256) % 256;
    if (v >= 0 && v <= 255) break;
  }
  return out;
}

function lastOf(c: Cidr): Bytes {
  const bytes = ipaddr.parse(c.address).toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const netBits = Math.max(0, Math.min(8, c.prefix - i * 8));
    bytes[i] |= 0xff >> netBits;
  }
  return bytes;
}

/** The subnets (canonical CIDRs) of one family among a network's subnet strings. */
export function subnetsOf(subnets: readonly string[], family: Family): Cidr[] {
  return subnets.map((s) => parseCidr(s)?.cidr).filter((c): c is Cidr => !!c && c.family === family);
}

/** network address + 1 — where Docker puts a bridge's gateway unless told otherwise. */
export function firstHost(c: Cidr): string {
  const max = c.family === 4 ? 32 : 128;
  return c.prefix >= max - 1 ? c.address : toText(step(ipaddr.parse(c.address).toByteArray(), 1));
}

/**
 * An address of the subnet that stands for "a container on this network": the highest usable one
 * not in `taken` (Docker allocates from the bottom), so a container- or label-scoped exception of
 * some other container never applies to it.
 */
export function representativeAddress(c: Cidr, taken: ReadonlySet<string>): string {
  const max = c.family === 4 ? 32 : 128;
  if (c.prefix >= max - 1) return c.address;
  let bytes = step(lastOf(c), -1); // below the broadcast (v4) / all-ones (v6) address
  for (let i = 0; i < 1024 && taken.has(toText(bytes)) && containsAddress(c, toText(step(bytes, -1))); i++) bytes = step(bytes, -1);
  return toText(bytes);
}
