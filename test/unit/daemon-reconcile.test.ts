/**
 * The daemon's decisions, against a model of the kernel (no root): when a set update may skip the
 * full inspection and `nft -c`, what happens when it is refused or reads back wrong, when the
 * policy file is re-read, and how Docker events are debounced and coalesced.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setBlocks, skeleton } from '../../src/backends/nftables/delta.js';
import { nftablesBackend } from '../../src/backends/nftables/index.js';
import type { Backend, LiveStatus, Rendered } from '../../src/backends/types.js';
import { Daemon } from '../../src/daemon/daemon.js';
import type { Runner } from '../../src/exec.js';
import type { Inventory, InventoryContainer } from '../../src/inventory/types.js';
import { loadPolicy } from '../../src/policy/load.js';
import { StateStore } from '../../src/state/store.js';
import { goldenInventory } from '../support/fixtures.js';

const POLICY = 'allow:\n  - to: 10.0.0.5\n    from: { container: web }\n';

/** The live `inet lanfence` table as the model sees it: its structure and its sets' members. */
class Kernel {
  present = false;
  skeleton = '';
  sets = new Map<string, string[]>();
  calls: string[] = [];
  /** Called after each set update (a concurrent writer, for instance). */
  afterSetUpdate: (() => void) | null = null;

  load(text: string): void {
    this.present = true;
    this.skeleton = skeleton(text);
    this.sets = new Map(setBlocks(text).map((s) => [s.name, [...s.elements]]));
  }

  differences(expected: Rendered): string[] {
    if (!this.present) return ['table inet lanfence is absent'];
    const out: string[] = [];
    if (skeleton(expected.text) !== this.skeleton) out.push('structure differs');
    for (const s of setBlocks(expected.text)) if ((this.sets.get(s.name) ?? []).join('\n') !== s.elements.join('\n')) out.push(`set ${s.name} differs`);
    return out;
  }

  run: Runner = async (cmd, args, opts) => {
    const line = `${cmd} ${args.join(' ')}`;
    this.calls.push(line);
    if (line === 'nft list tables') return { code: 0, stdout: '', stderr: '' };
    if (line === 'nft -f -') {
      // Only set updates reach the runner here: full applies go through the (patched) backend.
      if (!this.present) return { code: 1, stdout: '', stderr: 'Error: No such file or directory; did you mean table ‘lanfence’ in family inet?' };
      for (const l of (opts?.input ?? '').split('\n')) {
        const flush = /^flush set inet lanfence (\S+)$/.exec(l);
        const add = /^add element inet lanfence (\S+) \{ (.*) \}$/.exec(l);
        if (flush) this.sets.set(flush[1], []);
        if (add) this.sets.set(add[1], [...(this.sets.get(add[1]) ?? []), ...add[2].split(', ')]);
      }
      this.afterSetUpdate?.();
      return { code: 0, stdout: '', stderr: '' };
    }
    const list = /^nft -j list set inet lanfence (\S+)$/.exec(line);
    if (list) {
      if (!this.present) return { code: 1, stdout: '', stderr: 'Error: No such file or directory' };
      return { code: 0, stdout: JSON.stringify({ nftables: [{ metainfo: {} }, { set: { name: list[1], elem: this.sets.get(list[1]) ?? [] } }] }), stderr: '' };
    }
    return { code: 1, stdout: '', stderr: `unexpected command in the model: ${line}` };
  };
}

const web = (labels: Record<string, string> = {}): InventoryContainer => ({ ...goldenInventory().containers.find((c) => c.name === 'web')!, labels });

describe('daemon decisions (model of the kernel)', () => {
  let kernel: Kernel;
  let counts: { inspect: number; check: number; apply: number; policyLoads: number; inventory: number };
  let saved: Pick<Backend, 'inspect' | 'check' | 'apply'>;
  let daemon: Daemon;
  let docker: { inventory: Inventory; emit: (what: string) => void };
  let policyFile: string;
  const logs: string[] = [];

  const until = async (what: string, cond: () => boolean, timeoutMs = 2000) => {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}\n${logs.join('\n')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const settle = () => new Promise((r) => setTimeout(r, 150));

  beforeEach(async () => {
    kernel = new Kernel();
    counts = { inspect: 0, check: 0, apply: 0, policyLoads: 0, inventory: 0 };
    logs.length = 0;
    saved = { inspect: nftablesBackend.inspect, check: nftablesBackend.check, apply: nftablesBackend.apply };
    nftablesBackend.inspect = async (expected: Rendered | null): Promise<LiveStatus> => {
      counts.inspect++;
      const differences = expected ? kernel.differences(expected) : [];
      return { present: kernel.present, matches: differences.length === 0, differences };
    };
    nftablesBackend.check = async () => {
      counts.check++;
      return { ok: true, cmd: 'nft -c -f -', stderr: '' };
    };
    nftablesBackend.apply = async (rendered: Rendered) => {
      counts.apply++;
      kernel.load(rendered.text);
    };
    const dir = mkdtempSync(join(tmpdir(), 'lanfence-daemon-decisions-'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, POLICY);
    docker = { inventory: { ...goldenInventory(), containers: [] }, emit: () => undefined };
    daemon = new Daemon({
      loadPolicy: () => {
        counts.policyLoads++;
        return loadPolicy(policyFile);
      },
      inventory: async () => {
        counts.inventory++;
        return structuredClone(docker.inventory);
      },
      subscribe: async (onEvent) => {
        docker.emit = onEvent;
        return () => undefined;
      },
      run: kernel.run,
      store: new StateStore(join(dir, 'state')),
      backend: 'nftables',
      version: 'test',
      checkIntervalMs: 60_000,
      log: (m) => logs.push(m),
    });
    await daemon.start();
  });

  afterEach(async () => {
    await daemon.stop();
    Object.assign(nftablesBackend, saved);
  });

  const startWeb = async (label: string) => {
    docker.inventory.containers = [web({ 'lanfence.allow': label })];
    const applies = daemon.state.applies;
    docker.emit('container start web');
    await until('an apply', () => daemon.state.applies > applies);
    await settle();
  };

  it('start: applies in full, then the check trusts the table', () => {
    expect(counts.apply).toBe(1);
    expect(counts.inspect).toBe(1);
    expect(daemon.state.lastCheck?.matches).toBe(true);
  });

  it('a container start after a matching check: a set update without a full inspection or nft -c, read back set by set', async () => {
    const before = { ...counts };
    kernel.calls = [];
    await startWeb('192.168.57.9:443/tcp');
    expect(daemon.state.lastApply?.kind).toBe('sets');
    expect(counts.inspect).toBe(before.inspect);
    expect(counts.check).toBe(before.check);
    expect(counts.apply).toBe(before.apply);
    expect(kernel.calls[0]).toBe('nft -f -');
    expect(kernel.calls.slice(1).every((c) => c.startsWith('nft -j list set inet lanfence '))).toBe(true);
    expect(kernel.calls.length).toBeGreaterThan(1);
    expect(kernel.differences(daemon['applied']!.rendered)).toEqual([]);
    expect(daemon.state.repairsTotal).toBe(0);
  });

  it('the table is gone since the last check: the set update is refused, the drift is recorded, and the rules are applied in full', async () => {
    kernel.present = false;
    const before = { ...counts };
    await startWeb('192.168.57.9:443/tcp');
    expect(daemon.state.lastApply?.kind).toBe('full');
    expect(counts.apply).toBe(before.apply + 1);
    expect(counts.check).toBe(before.check + 1);
    expect(daemon.state.repairsTotal).toBe(1);
    expect(daemon.state.repairs[0].differences).toEqual(['table inet lanfence is absent']);
    expect(logs.some((l) => /^drift \(docker: container start web\): the set update was refused/.test(l))).toBe(true);
    expect(kernel.present).toBe(true);
    expect(kernel.differences(daemon['applied']!.rendered)).toEqual([]);
  });

  it('a set that reads back wrong after the update: full inspection, then repair', async () => {
    kernel.afterSetUpdate = () => {
      kernel.afterSetUpdate = null;
      for (const [name, members] of kernel.sets) if (members.some((m) => m.includes('192.168.57.9'))) kernel.sets.set(name, []);
    };
    const before = { ...counts };
    await startWeb('192.168.57.9:443/tcp');
    await until('the repair', () => daemon.state.repairsTotal === 1);
    expect(counts.inspect).toBeGreaterThanOrEqual(before.inspect + 2); // the check, and after the repair
    expect(logs.some((l) => /read back with differences: set \S+ lacks .*192\.168\.57\.9/.test(l))).toBe(true);
    expect(kernel.differences(daemon['applied']!.rendered)).toEqual([]);
  });

  it('drift seen by a check: the next set update inspects first, and the periodic repair stays the one that fixes it', async () => {
    kernel.sets.set('blocked4', []);
    daemon.trigger('test', [0]);
    await until('the repair', () => daemon.state.repairsTotal === 1);
    expect(kernel.differences(daemon['applied']!.rendered)).toEqual([]);
    // Drifted again, unseen: an unchanged set emptied. The set update does not touch it, and does not hide it.
    kernel.sets.set('blocked4', []);
    await startWeb('192.168.57.9:443/tcp');
    expect(daemon.state.lastApply?.kind).toBe('sets');
    expect(kernel.sets.get('blocked4')).toEqual([]);
    daemon.trigger('test', [0]);
    await until('the second repair', () => daemon.state.repairsTotal === 2);
    expect(daemon.state.repairs[1].differences).toContain('set blocked4 differs');
    // Not trusted (here: as after a repair that did not take): a set update inspects in full first,
    // and applies in full when the table differs.
    kernel.sets.set('blocked4', []);
    const inspections = counts.inspect;
    daemon['trusted'] = false;
    await startWeb('192.168.58.1:80/tcp');
    expect(counts.inspect).toBe(inspections + 1);
    expect(daemon.state.lastApply?.kind).toBe('full');
  });

  it('the policy file is re-read only when its text changed (SIGHUP always re-reads)', async () => {
    const loads = counts.policyLoads;
    await startWeb('192.168.57.9:443/tcp');
    await startWeb('192.168.57.10:443/tcp');
    expect(counts.policyLoads).toBe(loads);
    writeFileSync(policyFile, `${POLICY}  - to: 10.0.0.6\n`);
    docker.emit('container start web');
    await until('the new policy', () => counts.policyLoads === loads + 1);
    await settle();
    expect(daemon['applied']!.policyText).toContain('10.0.0.6');
    await daemon.reload();
    expect(counts.policyLoads).toBe(loads + 2);
  });

  it('container starts: a short debounce, and a burst is one reconcile', async () => {
    await settle();
    const reads = counts.inventory;
    docker.inventory.containers = [web({ 'lanfence.allow': '192.168.57.9:443/tcp' })];
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) docker.emit(`container start c${i}`);
    await until('a reconcile', () => counts.inventory > reads);
    expect(Date.now() - t0).toBeLessThan(80);
    await settle();
    expect(counts.inventory).toBe(reads + 1);
    expect(daemon.state.lastApply?.reason).toBe('docker: container start c0 (+4 more)');
  });

  it('other events keep the 100 ms debounce; a steady stream still reconciles within it', async () => {
    await settle();
    const reads = counts.inventory;
    const t0 = Date.now();
    docker.emit('network create x');
    await until('a reconcile', () => counts.inventory > reads);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    const reads2 = counts.inventory;
    const stream = setInterval(() => docker.emit('container die y'), 20);
    try {
      await until('a reconcile during a steady stream', () => counts.inventory > reads2, 400);
    } finally {
      clearInterval(stream);
    }
  });
});

describe('set read-back: the kernel lists members in its own form', () => {
  it('normalises quoting, host prefixes, IPv4-mapped addresses and prefix-shaped ranges; keeps comments', async () => {
    const { normaliseElement, changedSets } = await import('../../src/daemon/set-verify.js');
    const same: [string, string][] = [
      ['"br-0123456789ab" . 10.57.17.5 . tcp . 5432 comment "allow #1: billing database"', 'br-0123456789ab . 10.57.17.5 . tcp . 5432 comment "allow #1: billing database"'],
      ['::/128 comment "unspecified"', ':: comment "unspecified"'],
      ['::ffff:0:0/96 comment "IPv4-mapped"', '::ffff:0.0.0.0/96 comment "IPv4-mapped"'],
      ['fe80::/10 . "br-0123456789ab"', 'fe80::/10 . br-0123456789ab'],
      ['10.0.0.0-10.0.0.255', '10.0.0.0/24'],
      ['fd00::/112', 'fd00::-fd00::ffff'],
      ['10.0.0.5', '10.0.0.5-10.0.0.5'],
      ['"br-*"', 'br-*'],
      ['192.168.1.0/24 . "br-x" . udp . 1-100', '192.168.1.0/24 . br-x . udp . 1-100'],
    ];
    for (const [ours, kernels] of same) expect(normaliseElement(ours), ours).toBe(normaliseElement(kernels));
    const different: [string, string][] = [
      ['10.0.0.5', '10.0.0.6'],
      ['10.0.0.0/8', '10.0.0.0/16'],
      ['10.0.0.0/30', '10.0.0.1-10.0.0.4'],
      ['10.0.0.0/30', '10.0.0.0-10.0.0.2'],
      ['::1.2.3.4', '::ffff:1.2.3.4'],
      ['1.2.3.4 . tcp . 22', '1.2.3.4 . tcp . 23'],
      ['10.0.0.5 comment "allow #1"', '10.0.0.5 comment "allow #2"'],
    ];
    for (const [a, b] of different) expect(normaliseElement(a), a).not.toBe(normaliseElement(b));
    expect(changedSets('flush set inet lanfence allow4\nadd element inet lanfence allow4 { 1.2.3.4 }\nflush set inet lanfence container_ifaces\n')).toEqual(['allow4', 'container_ifaces']);
  });
});
