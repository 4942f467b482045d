/** The addresses of the machine lanfence runs on (for explain: a packet to one of them takes the input path). */
import { networkInterfaces } from 'node:os';

/** Every address of this machine's interfaces, zone ids stripped (no root needed). */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')));
}
