/**
 * How each backend's rules get into the lab's host namespace.
 *
 * - nftables: the backend's own `apply` (one `nft -f` transaction replacing `table inet lanfence`).
 * - iptables: the backend's own `apply` (ipset restore, iptables-restore/ip6tables-restore --noflush,
 *   hooks). Docker is simulated the way it wires IPv4: `FORWARD -j DOCKER-USER` and a DOCKER-USER
 *   chain ending in RETURN; lanfence hooks IPv6 FORWARD itself.
 * - firewalld: no firewalld runs in the lab. Its rendered `firewall-cmd --permanent --direct` script is
 *   read back (parseFirewalldScript, as check/apply do) and translated by `directRulesToRestore` into
 *   what firewalld feeds the kernel, loaded with iptables-restore / ip6tables-restore; Docker's IPv4
 *   `FORWARD -j DOCKER-USER` is added, as Docker would.
 *
 * Every adapter's `load` replaces the previous policy's rules (a policy change on a live host);
 * `clear` leaves the host namespace's filter rules empty.
 */
import { directRulesToRestore, firewalldBackend, firewalldDirectRules, parseFirewalldScript } from '../../src/backends/firewalld/index.js';
import { iptablesBackend } from '../../src/backends/iptables/index.js';
import { nftablesBackend } from '../../src/backends/nftables/index.js';
import type { Runner } from '../../src/exec.js';
import type { Resolved } from '../../src/ruleset/resolve.js';
import { isDeepStrictEqual } from 'node:util';

export interface DiffBackend {
  name: 'nftables' | 'iptables' | 'firewalld';
  /** Once, before the first policy. */
  prepare(run: Runner): Promise<void>;
  load(resolved: Resolved, run: Runner): Promise<void>;
  clear(run: Runner): Promise<void>;
}

async function must(run: Runner, cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input === undefined ? undefined : { input });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}${input ? `\n--- input ---\n${input}` : ''}`);
  return r.stdout;
}

const EMPTY_FILTER = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';

/** Every rule and user chain of both filter tables gone, lanfence's ipsets destroyed. */
async function emptyFilterTables(run: Runner): Promise<void> {
  await must(run, 'iptables-restore', ['-w', '10'], EMPTY_FILTER);
  await must(run, 'ip6tables-restore', ['-w', '10'], EMPTY_FILTER);
  const sets = (await must(run, 'ipset', ['list', '-n'])).split('\n').filter((s) => s.startsWith('lanfence-'));
  for (const s of sets) await must(run, 'ipset', ['destroy', s]);
}

export const nftablesDiff: DiffBackend = {
  name: 'nftables',
  prepare: async () => undefined,
  load: (resolved, run) => nftablesBackend.apply(nftablesBackend.render(resolved), run),
  clear: (run) => nftablesBackend.remove(run),
};

/** What Docker (20.10+) leaves in the IPv4 filter table that lanfence's iptables backend relies on. */
const DOCKER_IPV4 = '*filter\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n';

export const iptablesDiff: DiffBackend = {
  name: 'iptables',
  prepare: async (run) => {
    await emptyFilterTables(run);
    await must(run, 'iptables-restore', ['-w', '10', '--noflush'], DOCKER_IPV4);
  },
  load: (resolved, run) => iptablesBackend.apply(iptablesBackend.render(resolved), run),
  clear: async (run) => {
    await iptablesBackend.remove(run);
    await emptyFilterTables(run);
    await must(run, 'iptables-restore', ['-w', '10', '--noflush'], DOCKER_IPV4);
  },
};

export const firewalldDiff: DiffBackend = {
  name: 'firewalld',
  prepare: (run) => emptyFilterTables(run),
  load: async (resolved, run) => {
    const rendered = firewalldBackend.render(resolved);
    const parsed = parseFirewalldScript(rendered.parts[0].content);
    if (parsed.errors.length) throw new Error(`the rendered firewall-cmd script does not read back: ${parsed.errors.join('; ')}`);
    if (!isDeepStrictEqual(parsed.entries, firewalldDirectRules(resolved))) throw new Error('the rendered firewall-cmd script reads back to other direct rules than firewalldDirectRules()');
    // Without --noflush: the whole filter table is replaced, as firewalld replaces its direct rules.
    await must(run, 'iptables-restore', ['-w', '10'], directRulesToRestore(parsed.entries, 'ipv4'));
    await must(run, 'iptables', ['-w', '10', '-I', 'FORWARD', '1', '-j', 'DOCKER-USER']);
    await must(run, 'ip6tables-restore', ['-w', '10'], directRulesToRestore(parsed.entries, 'ipv6'));
  },
  clear: (run) => emptyFilterTables(run),
};

export const DIFF_BACKENDS: readonly DiffBackend[] = [nftablesDiff, iptablesDiff, firewalldDiff];
