/**
 * `lanfence verify`: proves the applied policy on the live host. From inside each source's network
 * namespace one connection attempt goes to each destination; the backend's blocked-packet counter
 * (`inspect().blockedPackets`), read before and after, tells whether lanfence's final rule took it.
 * Cells explain expects to be dropped (or logged) are probed one at a time, each between two counter
 * reads and cancelled as soon as the counter rises — in enforce mode the kernel drops them, so nothing
 * reaches a LAN host. Cells expected to pass run all at once; only if the counter rose meanwhile are
 * they probed again one at a time to find which. A difference other traffic could explain (the counter
 * rose for a cell that should pass) is probed a second time before it is reported.
 */
import type Docker from 'dockerode';
import { getBackend } from '../backends/index.js';
import { PolicyError, UsageError } from '../errors.js';
import { parseTarget, type Target } from '../explain/index.js';
import type { Runner } from '../exec.js';
import { loadDockerInventory } from '../inventory/docker.js';
import { parsePolicy } from '../policy/load.js';
import { parseAddress } from '../ruleset/cidr.js';
import { resolve } from '../ruleset/resolve.js';
import type { Mode } from '../ruleset/types.js';
import type { StateStore } from '../state/store.js';
import { cellMatches, isCounted, observe } from './compare.js';
import { NeedsRootError, NotAppliedError, VerifyError } from '../errors.js';
import { createProbeNamespace, type ProbeNamespace } from './netns.js';
import {
  containerSource,
  destinationFor,
  networkSource,
  planCell,
  planColumns,
  probeAddresses,
  selectSources,
  type Selection,
} from './plan.js';
import { Agent, routeLookups, type ProbeOutcome } from './probe.js';
import { parseHostAddresses } from './targets.js';
import type { ProbeSeen, VerifyCell, VerifyReport, VerifySource } from './types.js';

/** How long a probe expected to be blocked may take to move the counter (below TCP's 1 s SYN retransmission). */
export const DROP_WINDOW_MS = 400;
/** A probe expected to pass: how long to wait for an answer (also below 1 s: one SYN only). */
export const PASS_TIMEOUT_MS = 800;
/** --internet: the connection must succeed within this. */
export const INTERNET_TIMEOUT_MS = 3000;
/** Probes in flight per source in the parallel phase. */
export const PARALLEL_PER_SOURCE = 32;
/** How long the counter is watched with nothing probed, to see other traffic. */
export const BACKGROUND_MS = 300;

export interface VerifyProgress {
  /** A phase begins. */
  step(text: string): void;
  /** One more cell probed. */
  tick(done: number, total: number, what: string): void;
  /** The run is over (clear a progress line). */
  end(): void;
}

const silent: VerifyProgress = { step: () => undefined, tick: () => undefined, end: () => undefined };

export interface VerifyOptions extends Selection {
  /** `ADDR`, `ADDR:PORT`, `[v6]:PORT`: a TCP connection there must succeed from every source. */
  internet?: string;
  /** Probe in audit mode too (the packets really leave). */
  force?: boolean;
  run: Runner;
  store: StateStore;
  docker: Docker;
  progress?: VerifyProgress;
  /** Default: the process runs as root. */
  isRoot?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function parseInternet(spec: string): Target {
  let t: Target;
  try {
    t = parseTarget(spec);
  } catch (e) {
    throw new UsageError(`--internet ${spec}: ${(e as Error).message.replace(/^--to "[^"]*": /, '')}`);
  }
  if (t.kind !== 'address') throw new UsageError(`--internet ${spec}: give an address on the internet (ADDR, ADDR:PORT or [IPv6]:PORT), not the host`);
  if (t.proto && t.proto !== 'tcp') throw new UsageError(`--internet ${spec}: the check is a TCP connection; give ADDR:PORT or ADDR:PORT/tcp`);
  return t;
}

/** Bounded parallel map. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function verify(opts: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const progress = opts.progress ?? silent;
  const run = opts.run;
  if (!(opts.isRoot ?? process.getuid?.() === 0))
    throw new NeedsRootError(
      'lanfence verify needs root: it enters containers\' network namespaces (nsenter), attaches a probe namespace to Docker\'s bridges and reads the firewall\'s counters; run it with sudo',
    );
  const applied = opts.store.read('current');
  if (!applied) throw new NotAppliedError(`nothing to verify: lanfence has not applied a policy on this host (no state in ${opts.store.dir}); run \`lanfence apply\` first`);
  const mode: Mode = applied.mode;
  if (mode === 'audit' && !opts.force)
    throw new UsageError(
      'the applied policy is in audit mode: it drops nothing, so verify\'s probes to LAN addresses and to the host would really arrive there; refusing (add --force to probe anyway, or verify after `lanfence apply --mode enforce`)',
    );
  const internet = opts.internet !== undefined ? parseInternet(opts.internet) : undefined;
  const backend = getBackend(applied.backend);

  progress.step(`reading the live rules (${backend.name})`);
  const live = await backend.inspect(applied.rendered, run);
  if (!live.present) throw new NotAppliedError(`nothing to verify: lanfence's rules are absent from ${backend.name} (${live.differences.join('; ')}); run \`lanfence apply\``);

  progress.step('reading Docker\'s state');
  const inventory = await loadDockerInventory(opts.docker);
  const parsed = parsePolicy(applied.policyText, applied.policyFile);
  if (!parsed.ruleset) throw new PolicyError(parsed.diagnostics, `the applied policy (${applied.policyFile}, recorded in ${opts.store.dir}) no longer parses`);
  const resolved = resolve({ ...parsed.ruleset, mode }, inventory);
  const selected = selectSources(inventory, opts);

  const addrs = await run('ip', ['-j', 'addr', 'show']);
  if (addrs.code !== 0) throw new VerifyError(`cannot list the host's addresses (ip -j addr show, exit ${addrs.code}): ${addrs.stderr.trim()}`);
  const hostAddresses = parseHostAddresses(addrs.stdout, resolved.interfaces);
  const { columns, notes } = planColumns({ resolved, inventory, hostAddresses, ...(internet ? { internet } : {}) });

  const notVerified = [...selected.notVerified];
  const sources: VerifySource[] = [];
  const namespaces: ProbeNamespace[] = [];
  const agents = new Map<string, Agent>();
  try {
    // --- sources -----------------------------------------------------------------------------------
    for (const c of [...selected.containers].sort((a, b) => a.name.localeCompare(b.name))) {
      let pid = 0;
      try {
        pid = (await opts.docker.getContainer(c.id ?? c.name).inspect()).State?.Pid ?? 0;
      } catch (e) {
        notVerified.push({ name: c.name, why: `Docker cannot inspect it: ${(e as Error).message}` });
        continue;
      }
      if (!pid) {
        notVerified.push({ name: c.name, why: 'not running (no process whose network namespace to enter)' });
        continue;
      }
      sources.push(containerSource(inventory, c, `/proc/${pid}/ns/net`, pid, hostAddresses));
    }
    for (const n of selected.networks) {
      const addresses = probeAddresses(resolved, inventory, n, hostAddresses);
      if (!addresses[4] && !addresses[6]) {
        notVerified.push({ name: `network:${n.name}`, why: `no subnet with a free address (${n.subnets.join(', ') || 'no subnets'})` });
        continue;
      }
      progress.step(`attaching a probe namespace to network ${n.name} (${n.bridge})`);
      const ns = await createProbeNamespace(run, n.bridge!, addresses);
      namespaces.push(ns);
      sources.push(networkSource(n, ns.path, addresses));
    }
    if (sources.length === 0) throw new VerifyError(`nothing to verify: no container or network could be probed${notVerified.length ? ` (${notVerified.map((x) => `${x.name}: ${x.why}`).join('; ')})` : ''}`);

    // --- cells ---------------------------------------------------------------------------------------
    progress.step(`planning ${sources.length} source(s) × ${columns.length} destination(s)`);
    const cellCtx = { hostAddresses: hostAddresses.map((h) => h.address), internalNetworks: new Set(inventory.networks.filter((n) => n.internal).map((n) => n.name)) };
    const cells: VerifyCell[] = [];
    for (const src of sources) {
      const wanted = [...new Set(columns.map((col) => destinationFor(col, src)).flatMap((d) => ('address' in d ? [parseAddress(d.address)?.address ?? d.address] : [])))];
      const routes = await routeLookups(run, src.netns, wanted);
      for (const col of columns) {
        const d = destinationFor(col, src);
        const route = 'address' in d ? routes.get(parseAddress(d.address)?.address ?? d.address) : undefined;
        cells.push(planCell(resolved, inventory, src, col, route, cellCtx));
      }
    }

    for (const src of sources) agents.set(src.name, Agent.start(src.name, src.netns));
    const colOf = new Map(columns.map((c) => [c.key, c]));
    const probed = cells.filter((c) => !c.skip && c.expected && c.target);
    const total = probed.length;
    let done = 0;
    const tick = (c: VerifyCell) => progress.tick(++done, total, `${c.row} → ${colOf.get(c.column)?.label ?? c.column}`);

    // --- the counter ---------------------------------------------------------------------------------
    const readCounter = async (): Promise<number> => {
      const s = await backend.inspect(null, run);
      if (s.blockedPackets === undefined) throw new NotAppliedError(`the blocked-packet counter of ${backend.name} cannot be read: lanfence's rules are gone`);
      return s.blockedPackets;
    };
    const counter = { last: await readCounter() };
    const first = counter.last;
    const advance = (v: number) => {
      if (v < counter.last) throw new VerifyError(`the blocked-packet counter went back from ${counter.last} to ${v}: the rules were re-applied while verify ran; run it again`);
      counter.last = v;
    };
    progress.step(`watching the blocked-packet counter for ${BACKGROUND_MS} ms`);
    await sleep(BACKGROUND_MS);
    const beforeProbes = await readCounter();
    advance(beforeProbes);
    const background = beforeProbes - first;

    /** One probe between counter reads: did the counter rise while it ran? */
    const probeCounted = async (c: VerifyCell): Promise<{ counted: boolean; result: ProbeOutcome }> => {
      const agent = agents.get(c.row)!;
      const t = c.target!;
      const open = c.expected === 'open';
      const before = counter.last;
      const p = agent.probe({ proto: t.proto, addr: t.address, port: t.port, timeoutMs: open ? INTERNET_TIMEOUT_MS : PASS_TIMEOUT_MS });
      let result: ProbeOutcome | undefined;
      void p.result.then((r) => (result = r));
      await p.sent;
      let counted = false;
      const until = Date.now() + DROP_WINDOW_MS;
      for (;;) {
        await sleep(2);
        const v = await readCounter();
        advance(v);
        if (v > before) {
          counted = true;
          break;
        }
        if (result) break; // answered or failed, and the counter did not move
        if (!open && Date.now() >= until) break;
      }
      agent.cancel(p.id);
      const r = await p.result;
      if (!counted) {
        const v = await readCounter();
        advance(v);
        counted = v > before;
      }
      return { counted, result: r };
    };

    const record = (c: VerifyCell, counted: boolean, r: ProbeOutcome): void => {
      if (!r.sent && !counted) {
        c.skip = `the probe could not be sent: ${r.detail}`;
        delete c.seen;
        delete c.match;
        return;
      }
      const seen: ProbeSeen = { observed: observe(mode, c.expected!, counted, r.outcome), counted, outcome: r.outcome, detail: r.detail, ms: r.ms };
      if (c.seen) c.firstLook = c.seen;
      c.seen = seen;
      c.match = cellMatches(c.expected!, seen.observed);
    };

    // --- cells expected to pass: all at once --------------------------------------------------------
    const passing = probed.filter((c) => !isCounted(c.expected!));
    if (passing.length) {
      progress.step(`probing ${passing.length} cell(s) that should pass, in parallel`);
      const before = counter.last;
      const bySource = new Map<string, VerifyCell[]>();
      for (const c of passing) bySource.set(c.row, [...(bySource.get(c.row) ?? []), c]);
      const results = new Map<VerifyCell, ProbeOutcome>();
      await Promise.all(
        [...bySource].map(([row, list]) =>
          mapLimit(list, PARALLEL_PER_SOURCE, async (c) => {
            const t = c.target!;
            const r = await agents.get(row)!.probe({ proto: t.proto, addr: t.address, port: t.port, timeoutMs: c.expected === 'open' ? INTERNET_TIMEOUT_MS : PASS_TIMEOUT_MS }).result;
            results.set(c, r);
            tick(c);
          }),
        ),
      );
      await sleep(20);
      const after = await readCounter();
      advance(after);
      if (after === before) for (const c of passing) record(c, false, results.get(c)!);
      else {
        notes.push(`the blocked-packet counter rose by ${after - before} while the cells that should pass were probed together: they were probed again one at a time`);
        progress.step(`the counter rose by ${after - before}: probing those ${passing.length} cell(s) one at a time`);
        for (const c of passing) {
          const { counted, result } = await probeCounted(c);
          record(c, counted, result);
        }
      }
    }

    // --- cells expected to be blocked: one at a time ---------------------------------------------------
    const blocked = probed.filter((c) => isCounted(c.expected!));
    if (blocked.length) progress.step(`probing ${blocked.length} cell(s) that should be ${mode === 'audit' ? 'logged' : 'blocked'}, one at a time`);
    for (const c of blocked) {
      const { counted, result } = await probeCounted(c);
      record(c, counted, result);
      tick(c);
    }

    // --- a second look at differences other traffic could have caused ----------------------------------
    // The counter only ever rises: a cell that should be blocked but did not move it is a definite
    // difference. A cell that should pass but moved it may have coincided with another container's
    // blocked packet, and a connection that failed may have been slow: those are probed again, and so
    // is every difference when the counter moved with nothing probed.
    const doubtful = probed.filter((c) => !c.skip && c.match === false && (background > 0 || c.seen!.counted || c.seen!.observed === 'closed'));
    if (doubtful.length) {
      progress.step(`probing ${doubtful.length} differing cell(s) a second time`);
      for (const c of doubtful) {
        const { counted, result } = await probeCounted(c);
        record(c, counted, result);
      }
    }
    const lastCount = counter.last;
    progress.end();

    const mismatches = cells.filter((c) => !c.skip && c.match === false);
    const byName = new Map(sources.map((s) => [s.name, s]));
    for (const c of mismatches) {
      const src = byName.get(c.row);
      if (src?.kind === 'container' && c.target) c.reproduce = Agent.reproduce(src.netns, { proto: c.target.proto, addr: c.target.address, port: c.target.port });
    }
    const probedNow = cells.filter((c) => !c.skip && c.seen);
    return {
      ok: mismatches.length === 0,
      backend: backend.name,
      mode,
      policy: { file: applied.policyFile, hash: applied.policyHash, appliedAt: applied.appliedAt },
      live: { matches: live.matches, differences: live.differences },
      inventory: inventory.source,
      sources,
      notVerified,
      columns,
      cells,
      mismatches,
      counts: { cells: cells.length, probed: probedNow.length, matched: probedNow.length - mismatches.length, mismatched: mismatches.length, notProbed: cells.length - probedNow.length },
      counter: { before: first, after: lastCount, background, backgroundMs: BACKGROUND_MS },
      notes,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    progress.end();
    await Promise.all([...agents.values()].map((a) => a.close()));
    for (const ns of namespaces) await ns.remove();
  }
}

