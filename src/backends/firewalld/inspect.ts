/** The live firewalld state against the rendered rules: firewalld's runtime and permanent configuration, and the kernel. */
import type { Runner } from '../../exec.js';
import type { LiveStatus, Rendered } from '../types.js';
import { snapshot, type Snapshot } from './dbus.js';
import { chainKey, diffOurs, diffSettings, entriesAsSettings, lanfenceOf, OWN_CHAINS, type AnyChain, type AnyRule } from './direct.js';
import { blockedPackets, canonicalSave, FAMILIES, forwardOrderProblems, kernelDifferences, liveSave, type Saved } from './kernel.js';
import { CHAINS, type DirectEntry, type IpFamily } from './render.js';
import { entriesOf } from './entries.js';

const MAX_DIFFERENCES = 60;

function capped(list: string[]): string[] {
  return list.length <= MAX_DIFFERENCES ? list : [...list.slice(0, MAX_DIFFERENCES), `... and ${list.length - MAX_DIFFERENCES} more differences`];
}

const describe = (where: string, d: { missing: string[]; extra: string[] }): string[] => [
  ...d.missing.map((k) => `${where}: missing ${k}`),
  ...d.extra.map((k) => `${where}: unexpected ${k}`),
];

export interface LiveDetails {
  /** Differences of firewalld's runtime and permanent direct configuration and of the kernel's rules. */
  rules: string[];
  /** The FORWARD jump order (Docker's rebuild after a reload). */
  forward: string[];
  present: boolean;
  blockedPackets: number;
}

/** Compares everything but firewalld's state; `entries` null: nothing expected. */
export async function liveDetails(entries: DirectEntry[] | null, snap: Snapshot, run: Runner): Promise<LiveDetails> {
  const { runtime, permanent } = snap;
  const [lives, canonical] = await Promise.all([
    Promise.all(FAMILIES.map((ipv) => liveSave(ipv, run))),
    entries ? Promise.all(FAMILIES.map((ipv) => canonicalSave(entries, ipv, run))) : Promise.resolve([]),
  ]);
  // Without any of lanfence's rules, a DOCKER-USER that firewalld still lists at runtime is Docker's
  // chain: firewalld cannot delete it while Docker uses it, and forgets it at its next reload.
  const rtAll = lanfenceOf(runtime);
  const rtOurs = rtAll.rules.length > 0 ? rtAll : { chains: rtAll.chains.filter((c) => c.chain !== CHAINS.user), rules: [] };
  const permOurs = lanfenceOf(permanent);
  const kernelHasOurs = lives.some((l: Saved) => l.chains.some((c) => OWN_CHAINS.has(c)));
  const present = rtOurs.chains.length + rtOurs.rules.length + permOurs.chains.length + permOurs.rules.length > 0 || kernelHasOurs;
  const blocked = lives.reduce((n, l) => n + blockedPackets(l), 0);
  const forward = FAMILIES.flatMap((ipv, i) => forwardOrderProblems(ipv, lives[i]));

  if (entries === null) {
    const none = { chains: [] as AnyChain[], rules: [] as AnyRule[] };
    const rules = [...describe('firewalld runtime', diffSettings(none, rtOurs)), ...describe('permanent configuration', diffSettings(none, permOurs))];
    if (kernelHasOurs) for (const [i, l] of lives.entries()) for (const c of l.chains.filter((x) => OWN_CHAINS.has(x))) rules.push(`kernel (${FAMILIES[i]}): chain ${c} exists`);
    return { rules, forward: [], present, blockedPackets: blocked };
  }

  const want = entriesAsSettings(entries);
  // A chain the kernel has already (Docker's DOCKER-USER) is not added at runtime: firewalld's `-N` would fail.
  const rtChains = new Set(runtime.chains.map(chainKey));
  const inKernel = want.chains.filter((c) => !rtChains.has(chainKey(c)) && lives[FAMILIES.indexOf(c.ipv as IpFamily)]?.chains.includes(c.chain));
  const runtimeOrKernel = { chains: [...runtime.chains, ...inKernel], rules: runtime.rules };
  const rules = [...describe('firewalld runtime', diffOurs(want, runtimeOrKernel)), ...describe('permanent configuration', diffOurs(want, permanent))];
  for (const [i, ipv] of FAMILIES.entries()) {
    const declared = entries.filter((e) => e.kind === 'chain' && e.ipv === ipv).map((e) => e.chain);
    rules.push(...kernelDifferences(ipv, canonical[i], lives[i], declared));
  }
  return { rules, forward, present, blockedPackets: blocked };
}

export async function inspectFirewalld(expected: Rendered | null, run: Runner): Promise<LiveStatus> {
  const entries = expected ? entriesOf(expected) : null;
  const snap = await snapshot(run);
  const { state } = snap;
  if (state !== 'running' && state !== 'failed') {
    const differences = entries ? [`firewalld is not running (state: ${state}${snap.error ? `, ${snap.error}` : ''})`] : [];
    return { present: false, matches: differences.length === 0, differences };
  }
  const d = await liveDetails(entries, snap, run);
  const differences = capped([
    ...(state === 'failed' ? ['firewalld is in FAILED state: its permanent configuration did not load'] : []),
    ...d.rules,
    ...d.forward,
  ]);
  return { present: d.present, matches: differences.length === 0, differences, blockedPackets: d.blockedPackets };
}

