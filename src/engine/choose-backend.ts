/** `backend: auto` on a live host: nftables when `nft` works, else iptables. */
import { BACKENDS, getBackend } from '../backends/index.js';
import type { Backend } from '../backends/types.js';
import { UsageError } from '../errors.js';
import type { Runner } from '../exec.js';

export interface Chosen {
  backend: Backend;
  /** Why: `--backend`, `policy`, `auto: nft works`, ... */
  how: string;
}

export async function chooseLiveBackend(name: string, run: Runner, how: string): Promise<Chosen> {
  if (name !== 'auto') return { backend: getBackend(name), how };
  for (const candidate of ['nftables', 'iptables'] as const) {
    const b = BACKENDS.get(candidate)!;
    if (await b.available(run)) return { backend: b, how: `auto: ${candidate === 'nftables' ? '`nft` works' : '`nft` does not work, iptables does'}` };
  }
  throw new UsageError('backend auto: neither nft nor iptables works on this host (are you root? is nftables or iptables installed?)');
}
