/**
 * A temporary probe namespace for a Docker network without running containers: a network namespace
 * with one end of a veth pair, the other end a port of the network's bridge, an unused address of the
 * network's subnet (the one `explain --from network:NAME` stands for) and a default route through its
 * gateway. Removed after the run — also when the process is interrupted (SIGINT/SIGTERM/SIGHUP).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BackendError } from '../errors.js';
import { commandLine, type Runner } from '../exec.js';
import type { Family } from '../ruleset/cidr.js';

export interface ProbeAddress {
  address: string;
  prefix: number;
  gateway?: string;
}

export interface ProbeNamespace {
  name: string;
  /** `/run/netns/<name>`, to enter. */
  path: string;
  /** The host's end of the veth pair, a port of the bridge. */
  hostIf: string;
  remove(): Promise<void>;
}

const live = new Set<{ name: string; hostIf: string }>();
let handlersInstalled = false;

function removeSync(ns: { name: string; hostIf: string }): void {
  for (const args of [['link', 'del', ns.hostIf], ['netns', 'del', ns.name]]) {
    try {
      execFileSync('ip', args, { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  live.delete(ns);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const ns of [...live]) removeSync(ns);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const ns of [...live]) removeSync(ns);
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** Creates the namespace, attached to `bridge`, with the given addresses (one per family at most). */
export async function createProbeNamespace(run: Runner, bridge: string, addresses: Partial<Record<Family, ProbeAddress>>): Promise<ProbeNamespace> {
  installHandlers();
  const id = randomBytes(3).toString('hex');
  const name = `lf-verify-${id}`;
  const hostIf = `lfv-${id}`;
  const inner = `lfp-${id}`;
  const rec = { name, hostIf };
  const must = async (args: string[]) => {
    const r = await run('ip', args);
    if (r.code !== 0) throw new BackendError(`cannot set up the probe namespace for bridge ${bridge}`, commandLine('ip', args), r.code, r.stderr.trim());
  };
  live.add(rec);
  const ns: ProbeNamespace = {
    name,
    path: `/run/netns/${name}`,
    hostIf,
    remove: async () => {
      await run('ip', ['link', 'del', hostIf]);
      await run('ip', ['netns', 'del', name]);
      live.delete(rec);
    },
  };
  try {
    await must(['netns', 'add', name]);
    await must(['-n', name, 'link', 'set', 'lo', 'up']);
    // No duplicate address detection: the interface's addresses (link-local too) are usable at once.
    const sysctl = [`--net=/run/netns/${name}`, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'];
    const s = await run('nsenter', sysctl);
    if (s.code !== 0) throw new BackendError('cannot set up the probe namespace', commandLine('nsenter', sysctl), s.code, s.stderr.trim());
    await must(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', inner, 'netns', name]);
    await must(['link', 'set', hostIf, 'master', bridge]);
    await must(['link', 'set', hostIf, 'up']);
    for (const family of [4, 6] as const) {
      const a = addresses[family];
      if (!a) continue;
      await must(['-n', name, `-${family}`, 'addr', 'add', `${a.address}/${a.prefix}`, 'dev', inner, ...(family === 6 ? ['nodad'] : [])]);
    }
    await must(['-n', name, 'link', 'set', inner, 'up']);
    for (const family of [4, 6] as const) {
      const gw = addresses[family]?.gateway;
      if (gw) await must(['-n', name, `-${family}`, 'route', 'add', 'default', 'via', gw, 'dev', inner]);
    }
  } catch (e) {
    await ns.remove();
    throw e;
  }
  return ns;
}

/** Leftovers of an interrupted run, by name (for tests). */
export const liveProbeNamespaces = (): string[] => [...live].map((n) => n.name);
