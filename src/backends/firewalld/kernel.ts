/**
 * What the kernel holds, as opposed to what firewalld believes it holds: firewalld's runtime direct
 * list survives `iptables -F DOCKER-USER`, the kernel's rules do not. Also the FORWARD jump order
 * that Docker 20.10 breaks after `firewall-cmd --reload`, and the drop counters.
 */
import { inThrowawayNetns } from '../throwaway.js';
import { commandLine, type Runner } from '../../exec.js';
import { BackendError } from '../../errors.js';
import { directRulesToRestore } from './check.js';
import { OWN_CHAINS } from './direct.js';
import { CHAINS, type DirectEntry, type IpFamily } from './render.js';
import { shellWords } from './script.js';

export const FAMILIES: readonly IpFamily[] = ['ipv4', 'ipv6'];
export const iptables = (ipv: IpFamily): string => (ipv === 'ipv4' ? 'iptables' : 'ip6tables');

export interface SavedRule {
  chain: string;
  /** `-A CHAIN ...` exactly as iptables-save prints it (without counters). */
  line: string;
  target: string | undefined;
  packets: number;
}

/** The filter table of one family as iptables-save prints it: chains in order of declaration, rules in order. */
export interface Saved {
  chains: string[];
  rules: SavedRule[];
}

/** Parses `iptables-save [-c] -t filter` output (only the filter table is read). */
export function parseSave(text: string): Saved {
  const chains: string[] = [];
  const rules: SavedRule[] = [];
  let table = '';
  for (const raw of text.split('\n')) {
    const line0 = raw.trim();
    if (line0.startsWith('*')) table = line0.slice(1);
    if (table !== 'filter') continue;
    const chain = /^:(\S+)/.exec(line0);
    if (chain) chains.push(chain[1]);
    const m = /^(?:\[(\d+):\d+\]\s+)?(-A\s+(\S+).*)$/.exec(line0);
    if (!m) continue;
    const words = shellWords(m[2]) ?? [];
    const j = words.findIndex((w) => w === '-j' || w === '-g');
    rules.push({ chain: m[3], line: m[2], target: j === -1 ? undefined : words[j + 1], packets: Number(m[1] ?? 0) });
  }
  return { chains, rules };
}

/** The live filter table of one family, with counters. */
export async function liveSave(ipv: IpFamily, run: Runner): Promise<Saved> {
  const tool = `${iptables(ipv)}-save`;
  const res = await run(tool, ['-c', '-t', 'filter']);
  if (res.code !== 0) throw new BackendError(`${tool} failed: ${res.stderr.trim()}`, commandLine(tool, ['-c', '-t', 'filter']), res.code, res.stderr);
  return parseSave(res.stdout);
}


/**
 * The expected rules in the kernel's own spelling: loaded into a throwaway network namespace
 * (`unshare --net`, gone when the shell exits) and saved back. Comparing with the live table then
 * needs no knowledge of how iptables canonicalises matches.
 */
export async function canonicalSave(entries: DirectEntry[], ipv: IpFamily, run: Runner): Promise<Saved> {
  // Rules in (or jumping to) a chain someone else declared, e.g. an operator's DOCKER-USER: declare it here too.
  const declared = new Set(entries.filter((e) => e.kind === 'chain' && e.ipv === ipv).map((e) => e.chain));
  const needed = [CHAINS.user, ...OWN_CHAINS].filter(
    (c) => !declared.has(c) && entries.some((e) => e.kind === 'rule' && e.ipv === ipv && (e.chain === c || e.args.includes(c))),
  );
  const all: DirectEntry[] = [...needed.map((chain): DirectEntry => ({ kind: 'chain', ipv, table: 'filter', chain })), ...entries];
  const tool = iptables(ipv);
  const res = await inThrowawayNetns(run, {}, () => `${tool}-restore\n${tool}-save -t filter`, directRulesToRestore(all, ipv));
  if (res.code !== 0) throw new BackendError(`the expected ${ipv} rules do not load: ${res.stderr.trim()}`, res.cmd, res.code, res.stderr);
  return parseSave(res.stdout);
}

/** firewalld's iptables backend puts direct rules for INPUT/FORWARD/OUTPUT into `<chain>_direct`. */
const liveChainName = (live: Saved, chain: string): string => (live.chains.includes(`${chain}_direct`) ? `${chain}_direct` : chain);

/** Expected (canonical) against live: chains absent, rules missing, and extra rules in lanfence's own chains. */
export function kernelDifferences(ipv: IpFamily, expected: Saved, live: Saved, declared: string[]): string[] {
  const out: string[] = [];
  for (const c of declared) if (!live.chains.includes(c)) out.push(`kernel (${ipv}): chain ${c} is absent`);
  const rename = (r: SavedRule) => {
    const to = liveChainName(live, r.chain);
    return to === r.chain ? r.line : r.line.replace(/^-A \S+/, `-A ${to}`);
  };
  const have = new Map<string, number>();
  for (const r of live.rules) have.set(r.line, (have.get(r.line) ?? 0) + 1);
  for (const r of expected.rules) {
    const line = rename(r);
    const n = have.get(line) ?? 0;
    if (n > 0) have.set(line, n - 1);
    else out.push(`kernel (${ipv}): missing ${line}`);
  }
  for (const r of live.rules) {
    if (!OWN_CHAINS.has(r.chain)) continue;
    const n = have.get(r.line) ?? 0;
    if (n > 0) {
      have.set(r.line, n - 1);
      out.push(`kernel (${ipv}): unexpected ${r.line}`);
    }
  }
  return out;
}

/**
 * Where the kernel differs from `entries` (e.g. what firewalld's runtime believes it loaded): after
 * `iptables -F` firewalld still lists the rules, and its runtime changes, which insert at positions
 * computed from its own bookkeeping, fail.
 */
export async function kernelDrift(entries: DirectEntry[], run: Runner): Promise<string[]> {
  if (entries.length === 0) return [];
  const [lives, canonical] = await Promise.all([
    Promise.all(FAMILIES.map((ipv) => liveSave(ipv, run))),
    Promise.all(FAMILIES.map((ipv) => canonicalSave(entries, ipv, run))),
  ]);
  return FAMILIES.flatMap((ipv, i) => {
    const declared = entries.filter((e) => e.kind === 'chain' && e.ipv === ipv).map((e) => e.chain);
    return kernelDifferences(ipv, canonical[i], lives[i], declared);
  });
}

/** Packets that reached the final verdict: DROP/REJECT, or the audit-mode RETURN. */
export const blockedPackets = (live: Saved): number =>
  live.rules
    .filter((r) => (r.chain === CHAINS.drop || r.chain === `${CHAINS.drop}_direct`) && ['DROP', 'REJECT', 'RETURN'].includes(r.target ?? ''))
    .reduce((n, r) => n + r.packets, 0);

const isDockerChain = (t: string | undefined) => t !== undefined && t.startsWith('DOCKER') && t !== CHAINS.user;
const words = (r: SavedRule) => shellWords(r.line) ?? [];
/** ACCEPTs that let nothing new through before DOCKER-USER: established/related (firewalld's), loopback. */
const harmlessAccept = (r: SavedRule): boolean => {
  const w = words(r).slice(2).join(' ');
  return /^-m conntrack --ctstate (RELATED,ESTABLISHED|ESTABLISHED,RELATED)(,DNAT)? -j ACCEPT$/.test(w) || w === '-i lo -j ACCEPT';
};

/** FORWARD in evaluation order, firewalld's FORWARD_direct spliced in where FORWARD jumps to it. */
function forwardPath(live: Saved): SavedRule[] {
  const direct = live.rules.filter((r) => r.chain === 'FORWARD_direct');
  return live.rules.filter((r) => r.chain === 'FORWARD').flatMap((r) => (r.target === 'FORWARD_direct' ? direct : [r]));
}

/** Docker's own FORWARD rules (jumps to its chains, ACCEPTs for its bridges): what Docker rebuilds after a reload. */
export const dockerForwardRules = (live: Saved): number =>
  live.rules.filter((r) => r.chain === 'FORWARD' && (isDockerChain(r.target) || (r.target === 'ACCEPT' && !harmlessAccept(r)))).length;

/**
 * The jump to DOCKER-USER must come before Docker's other FORWARD rules and before ACCEPTs, or
 * traffic from those bridges never reaches lanfence (Docker 20.10 after `firewall-cmd --reload`).
 */
export function forwardOrderProblems(ipv: IpFamily, live: Saved): string[] {
  // Without the chain there is nothing to jump to (the rule comparison reports a missing chain).
  if (!live.chains.includes(CHAINS.user)) return [];
  const path = forwardPath(live);
  const jump = path.findIndex((r) => r.target === CHAINS.user);
  const before = (jump === -1 ? path : path.slice(0, jump)).filter((r) => isDockerChain(r.target) || (r.target === 'ACCEPT' && !harmlessAccept(r)));
  if (before.length === 0) return [];
  if (jump === -1) return [`${ipv} FORWARD has Docker's rules but no jump to ${CHAINS.user}: lanfence judges no forwarded traffic (first: ${before[0].line})`];
  return [
    `${ipv} FORWARD: ${before.length} rule(s) before the jump to ${CHAINS.user} (first: ${before[0].line}): traffic they accept bypasses lanfence (Docker rebuilt FORWARD, e.g. after a firewalld reload)`,
  ];
}

/**
 * Moves the jump to DOCKER-USER to the top of FORWARD, the way Docker itself places it at start:
 * delete and insert in one iptables-restore transaction, so there is no moment without the jump.
 * `insert`: also add a jump where FORWARD has none of its own (lanfence's rules are in place);
 * without it only an existing jump is moved (after remove: Docker's own order, as at its start).
 * Returns what it did, for messages.
 */
export async function repairForward(run: Runner, insert = true): Promise<string[]> {
  const done: string[] = [];
  for (const ipv of FAMILIES) {
    const live = await liveSave(ipv, run);
    if (forwardOrderProblems(ipv, live).length === 0) continue;
    const hasJump = live.rules.some((r) => r.chain === 'FORWARD' && r.line === `-A FORWARD -j ${CHAINS.user}`);
    if (!hasJump && !insert) continue;
    const input = ['*filter', ...(hasJump ? [`-D FORWARD -j ${CHAINS.user}`] : []), `-I FORWARD 1 -j ${CHAINS.user}`, 'COMMIT', ''].join('\n');
    const tool = `${iptables(ipv)}-restore`;
    const res = await run(tool, ['--noflush'], { input });
    if (res.code !== 0) throw new BackendError(`moving the ${ipv} jump to ${CHAINS.user} to the top of FORWARD failed: ${res.stderr.trim()}`, `${tool} --noflush`, res.code, res.stderr);
    done.push(`${ipv}: moved the jump to ${CHAINS.user} to the top of FORWARD`);
  }
  return done;
}

/**
 * After lanfence's rules are gone: jumps to an empty DOCKER-USER are lanfence's (the repair above
 * inserts one that firewalld does not know of, with firewalld's iptables backend) — Docker's own
 * DOCKER-USER always holds its `-j RETURN`. Deletes them, so the chain can be deleted too.
 */
export async function removeStrayJumps(ipv: IpFamily, run: Runner): Promise<void> {
  const live = await liveSave(ipv, run);
  if (!live.chains.includes(CHAINS.user) || live.rules.some((r) => r.chain === CHAINS.user)) return;
  const jumps = live.rules.filter((r) => r.chain === 'FORWARD' && r.line === `-A FORWARD -j ${CHAINS.user}`).length;
  if (jumps === 0) return;
  const tool = `${iptables(ipv)}-restore`;
  const input = ['*filter', ...Array<string>(jumps).fill(`-D FORWARD -j ${CHAINS.user}`), 'COMMIT', ''].join('\n');
  const res = await run(tool, ['--noflush'], { input });
  if (res.code !== 0) throw new BackendError(`removing lanfence's jump to ${CHAINS.user} failed: ${res.stderr.trim()}`, `${tool} --noflush`, res.code, res.stderr);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Docker's FORWARD rules of both families (the wait below compares against this). */
export async function dockerForwardCount(run: Runner): Promise<number> {
  let n = 0;
  for (const ipv of FAMILIES) n += dockerForwardRules(await liveSave(ipv, run).catch(() => ({ chains: [], rules: [] })));
  return n;
}

/**
 * After `firewall-cmd --reload` (which flushes every iptables table), Docker rebuilds its rules
 * when it sees firewalld's Reloaded signal. Waits until Docker's FORWARD rules are back to at least
 * as many as before the reload and have stayed unchanged for two polls; no wait when there were
 * none (no Docker). Gives up after `timeoutMs` (the repair then works on what is there).
 */
export async function waitForDockerRebuild(before: number, run: Runner, timeoutMs = 15_000, pollMs = 250): Promise<void> {
  if (before === 0) return;
  const end = Date.now() + timeoutMs;
  let last = -1;
  while (Date.now() < end) {
    const n = await dockerForwardCount(run);
    if (n >= before && n === last) return;
    last = n;
    await sleep(pollMs);
  }
}
