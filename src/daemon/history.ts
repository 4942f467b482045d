/** Which container held which address when (Docker reuses addresses). Bounded. */
import type { Inventory } from '../inventory/types.js';

export interface Holder {
  container: string;
  id?: string;
  network: string;
  composeProject?: string;
}

interface Interval extends Holder {
  from: number;
  to?: number;
}

export const MAX_INTERVALS_PER_ADDRESS = 32;

export class AddressHistory {
  private readonly byAddress = new Map<string, Interval[]>();

  /** Records the inventory seen at time `at` (ms): opens intervals for new holders, closes gone ones. */
  observe(inv: Inventory, at: number = Date.now()): void {
    const seen = new Map<string, Holder>();
    for (const c of inv.containers)
      for (const a of c.networks)
        for (const ip of [a.ipv4, a.ipv6])
          if (ip) seen.set(ip, { container: c.name, ...(c.id ? { id: c.id } : {}), network: a.network, ...(c.composeProject ? { composeProject: c.composeProject } : {}) });
    for (const [address, list] of this.byAddress) {
      const open = list[list.length - 1];
      const now = seen.get(address);
      if (open.to === undefined && (!now || now.id !== open.id || now.container !== open.container)) open.to = at;
    }
    for (const [address, holder] of seen) {
      const list = this.byAddress.get(address) ?? [];
      const open = list[list.length - 1];
      if (open && open.to === undefined && open.id === holder.id && open.container === holder.container) continue;
      list.push({ ...holder, from: at });
      if (list.length > MAX_INTERVALS_PER_ADDRESS) list.shift();
      this.byAddress.set(address, list);
    }
  }

  /** Who held `address` at time `at` (ms). */
  lookup(address: string, at: number): Holder | null {
    const list = this.byAddress.get(address);
    if (!list) return null;
    for (let i = list.length - 1; i >= 0; i--) {
      const iv = list[i];
      if (iv.from <= at && (iv.to === undefined || at < iv.to)) {
        const { from: _f, to: _t, ...holder } = iv;
        return holder;
      }
    }
    return null;
  }

  get size(): number {
    return this.byAddress.size;
  }

  toJSON(): Record<string, Interval[]> {
    return Object.fromEntries(this.byAddress);
  }
}
