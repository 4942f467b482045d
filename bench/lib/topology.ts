/**
 * One forwarding path, three namespaces the benchmark owns:
 *
 *   container ns          host ns                                   internet ns
 *   eth0 172.17.0.2 ─veth─ docker0 172.17.0.1/16 (bridge)  eth0 ─veth─ eth0 198.51.100.10/24
 *   default via .1         ip_forward=1, Docker's FORWARD skeleton     route 172.17/16 via .1
 *                          198.51.100.1/24, default via .10
 *
 * The uplink is called eth0 so that the guide's `-o eth+` matches and its chain is walked in full.
 * Nothing is linked to the machine's interfaces; the "internet" is a namespace.
 */
import { nftablesBackend } from '../../src/backends/nftables/index.js';
import { iptablesBackend } from '../../src/backends/iptables/index.js';
import { directRulesToRestore, parseFirewalldScript, renderFirewalld } from '../../src/backends/firewalld/index.js';
import { inNetns } from '../../src/exec.js';
import type { Resolved } from '../../src/ruleset/resolve.js';
import { createNs, deleteNs, inNs, must, sh } from './sys.js';
import { hashSetsWhatIf } from './whatif.js';
import { DOCKER_SKELETON, guideRestore } from './workload.js';

export const CONTAINER_IP = '172.17.0.2';
export const INTERNET_IP = '198.51.100.10';
/** A private address the internet namespace answers for nobody: a packet to it must be dropped by any filter. */
export const BLOCKED_PROBE_IP = '10.99.99.99';

export interface Topology {
  ctr: string;
  host: string;
  inet: string;
  destroy(): Promise<void>;
}

export async function createTopology(tag: string): Promise<Topology> {
  const ctr = await createNs(`${tag}c`);
  const host = await createNs(`${tag}h`);
  const inet = await createNs(`${tag}i`);
  const topo: Topology = {
    ctr,
    host,
    inet,
    destroy: async () => {
      for (const ns of [ctr, host, inet]) await deleteNs(ns);
    },
  };
  try {
    const ip = (...a: string[]) => must('ip', a);
    await ip('-n', host, 'link', 'add', 'docker0', 'type', 'bridge');
    await ip('-n', host, 'addr', 'add', '172.17.0.1/16', 'dev', 'docker0');
    await ip('-n', host, 'link', 'set', 'docker0', 'up');
    await ip('-n', ctr, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'vethbench0', 'netns', host);
    await ip('-n', host, 'link', 'set', 'vethbench0', 'master', 'docker0', 'up');
    await ip('-n', ctr, 'addr', 'add', `${CONTAINER_IP}/16`, 'dev', 'eth0');
    await ip('-n', ctr, 'link', 'set', 'eth0', 'up');
    await ip('-n', ctr, 'route', 'add', 'default', 'via', '172.17.0.1');
    await ip('-n', host, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', inet);
    await ip('-n', host, 'addr', 'add', '198.51.100.1/24', 'dev', 'eth0');
    await ip('-n', host, 'link', 'set', 'eth0', 'up');
    await ip('-n', host, 'route', 'add', 'default', 'via', INTERNET_IP);
    await ip('-n', inet, 'addr', 'add', `${INTERNET_IP}/24`, 'dev', 'eth0');
    await ip('-n', inet, 'link', 'set', 'eth0', 'up');
    await ip('-n', inet, 'route', 'add', '172.17.0.0/16', 'via', '198.51.100.1');
    await inNs(host, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await resetRules(host);
  } catch (e) {
    await topo.destroy();
    throw e;
  }
  return topo;
}

/** Empties every rule and set of the host namespace, then loads Docker's skeleton. */
export async function resetRules(host: string): Promise<void> {
  await inNs(host, 'nft', ['flush', 'ruleset']);
  await sh('ip', ['netns', 'exec', host, 'ipset', 'destroy']);
  await inNs(host, 'iptables-restore', ['--noflush'], { input: DOCKER_SKELETON[4] });
  await inNs(host, 'ip6tables-restore', ['--noflush'], { input: DOCKER_SKELETON[6] });
}

export type Approach = 'baseline' | 'guide' | 'nftables' | 'iptables' | 'firewalld' | 'nftables-hash';

export const APPROACH_LABEL: Record<Approach, string> = {
  baseline: 'no filter (baseline)',
  guide: "the guide's layout (one DOCKER-USER rule per exception)",
  nftables: 'lanfence nftables',
  iptables: 'lanfence iptables (ipset)',
  firewalld: 'lanfence firewalld (direct rules)',
  'nftables-hash': 'what-if: lanfence nftables with exact exceptions in hash sets',
};

/** Loads an approach's rules for `resolved` into the host namespace (after resetRules). */
export async function loadApproach(approach: Approach, host: string, resolved: Resolved): Promise<void> {
  const run = inNetns(host);
  switch (approach) {
    case 'baseline':
      return;
    case 'guide':
      await inNs(host, 'iptables-restore', ['--noflush'], { input: guideRestore(resolved, 4) });
      await inNs(host, 'ip6tables-restore', ['--noflush'], { input: guideRestore(resolved, 6) });
      return;
    case 'nftables':
      return nftablesBackend.apply(nftablesBackend.render(resolved), run);
    case 'iptables':
      return iptablesBackend.apply(iptablesBackend.render(resolved), run);
    case 'firewalld':
      return loadFirewalldDirect(host, resolved);
    case 'nftables-hash':
      await inNs(host, 'nft', ['-f', '-'], { input: hashSetsWhatIf(nftablesBackend.render(resolved).parts[0].content) });
      return;
  }
}

/**
 * What firewalld hands the kernel for lanfence's direct rules — the backend's own restore translation
 * (directRulesToRestore, also used by its check) — loaded with --noflush so Docker's FORWARD jump
 * stays; Docker's final RETURN in DOCKER-USER is appended again, as Docker does.
 */
export async function loadFirewalldDirect(host: string, resolved: Resolved): Promise<void> {
  await loadFirewalldRestore(host, firewalldRestore(resolved));
}

/** The restore files (IPv4, IPv6) of the firewalld backend's rendering, via its own translation. */
export function firewalldRestore(resolved: Resolved): { ipv4: string; ipv6: string } {
  const parsed = parseFirewalldScript(renderFirewalld(resolved).parts[0].content);
  if (parsed.errors.length) throw new Error(`firewalld script: ${parsed.errors.slice(0, 3).join('; ')}`);
  return { ipv4: directRulesToRestore(parsed.entries, 'ipv4'), ipv6: directRulesToRestore(parsed.entries, 'ipv6') };
}

export async function loadFirewalldRestore(host: string, files: { ipv4: string; ipv6: string }): Promise<void> {
  for (const [ipv, tool] of [['ipv4', 'iptables'], ['ipv6', 'ip6tables']] as const) {
    await inNs(host, `${tool}-restore`, ['--noflush'], { input: files[ipv] });
    await inNs(host, tool, ['-w', '10', '-A', 'DOCKER-USER', '-j', 'RETURN']);
  }
}

/** Rules in the host namespace (iptables-save lines starting with -A, plus nft rules and set elements). */
export async function ruleCounts(host: string): Promise<{ iptablesRules: number; nftRules: number; nftElements: number; ipsetMembers: number }> {
  const save = await inNs(host, 'iptables-save', []);
  const save6 = await inNs(host, 'ip6tables-save', []);
  const iptablesRules = (save + save6).split('\n').filter((l) => l.startsWith('-A ')).length;
  // Every nft table in the namespace (iptables-nft's included would double count: only inet ones).
  const nft = await sh('ip', ['netns', 'exec', host, 'nft', '-j', 'list', 'ruleset']);
  const items = nft.code === 0 ? (JSON.parse(nft.stdout) as { nftables: Record<string, { family?: string; elem?: unknown[] }>[] }).nftables : [];
  const inet = (o: { family?: string } | undefined) => o?.family === 'inet';
  const nftRules = items.filter((i) => inet(i.rule)).length;
  const nftElements = items.reduce((n, i) => n + (inet(i.set) ? (i.set.elem?.length ?? 0) : 0), 0);
  const ipset = await sh('ip', ['netns', 'exec', host, 'ipset', 'list', '-t']);
  const ipsetMembers = [...ipset.stdout.matchAll(/Number of entries: (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
  return { iptablesRules, nftRules, nftElements, ipsetMembers };
}

/** IP packets the namespace has received (`Ip: InReceives` of /proc/net/snmp, read inside it): no ARP. */
export async function ipInReceives(ns: string): Promise<number> {
  const snmp = await inNs(ns, 'cat', ['/proc/net/snmp']);
  const [head, values] = snmp.split('\n').filter((l) => l.startsWith('Ip:'));
  const i = head.split(/\s+/).indexOf('InReceives');
  return Number(values.split(/\s+/)[i]);
}

/**
 * Does the loaded filter drop a new connection to a blocked, non-excepted destination (and pass the
 * benchmark's destination)? Sends 3 UDP packets to each from the container namespace and counts what
 * reaches the internet namespace (its eth0 sees everything the host forwards).
 */
export async function probeFilter(t: Topology): Promise<{ blockedForwarded: number; publicForwarded: number }> {
  const send = async (dst: string) => {
    const before = await ipInReceives(t.inet);
    await inNs(t.ctr, 'bash', ['-c', `for i in 1 2 3; do echo probe > /dev/udp/${dst}/9$i 2>/dev/null || true; done`]);
    await new Promise((r) => setTimeout(r, 100));
    return (await ipInReceives(t.inet)) - before;
  };
  return { blockedForwarded: await send(BLOCKED_PROBE_IP), publicForwarded: await send(INTERNET_IP) };
}
