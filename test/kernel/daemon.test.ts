/**
 * The daemon's reconcile loop against a real kernel (nftables in a namespace this test creates),
 * with a scripted Docker: events, labels, drift repair with measured times, Docker going away.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { inNetns } from '../../src/exec.js';
import type { Inventory, InventoryContainer } from '../../src/inventory/types.js';
import { parsePolicy, type LoadedPolicy } from '../../src/policy/load.js';
import { StateStore } from '../../src/state/store.js';
import { createNetns, kernelTestsEnabled } from '../support/root.js';

const enabled = kernelTestsEnabled('daemon reconcile loop (creates a network namespace)');

const POLICY = 'allow:\n  - to: 10.57.17.5\n    ports: [5432/tcp]\n    from: { network: backend }\n';

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await cond()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

describe.runIf(enabled)('daemon (nftables, scripted Docker)', () => {
  let netns: ReturnType<typeof createNetns>;
  let daemon: Daemon;
  const logs: string[] = [];
  const docker = {
    down: false,
    inventory: {
      source: 'docker',
      networks: [{ name: 'backend', driver: 'bridge', bridge: 'br-0123456789ab', subnets: ['172.30.0.0/16'], gateways: ['172.30.0.1'], ipv6: false, internal: false }],
      containers: [],
    } as Inventory,
    emit: (_what: string) => undefined as void,
    end: (_err?: Error) => undefined as void,
  };
  const nft = (...a: string[]) => execFileSync('ip', ['netns', 'exec', netns.ns, 'nft', ...a], { encoding: 'utf8' });
  const table = () => {
    try {
      return nft('list', 'table', 'inet', 'lanfence');
    } catch {
      return '';
    }
  };
  const policy: LoadedPolicy = { ruleset: parsePolicy(POLICY, 'p.yaml').ruleset!, diagnostics: [], file: 'p.yaml', text: POLICY };

  beforeAll(async () => {
    netns = createNetns('lf-daemon');
    daemon = new Daemon({
      loadPolicy: () => policy,
      inventory: async () => {
        if (docker.down) throw new Error('connect ENOENT docker.sock');
        return structuredClone(docker.inventory);
      },
      subscribe: async (onEvent, onEnd) => {
        if (docker.down) throw new Error('connect ENOENT docker.sock');
        docker.emit = onEvent;
        docker.end = onEnd;
        return () => undefined;
      },
      run: inNetns(netns.ns),
      store: new StateStore(join(mkdtempSync(join(tmpdir(), 'lanfence-daemon-')), 'state')),
      backend: 'nftables',
      version: 'test',
      checkIntervalMs: 300,
      debounceMs: 20,
      log: (m) => logs.push(m),
    });
    await daemon.start();
  });
  afterAll(async () => {
    await daemon?.stop();
    netns?.remove();
  });

  it('applies at start, before anything is known about Docker (fail closed)', () => {
    expect(table()).toContain('set blocked4');
    expect(daemon.state.applies).toBeGreaterThanOrEqual(1);
  });

  it('covers a new network with a custom bridge name within a second, as a set update', async () => {
    await until('initial reconcile', () => table().includes('"br-0123456789ab" . 10.57.17.5'));
    const before = daemon.state.setUpdates;
    docker.inventory.networks.push({ name: 'custom', driver: 'bridge', bridge: 'lab-custom0', subnets: ['172.31.0.0/16'], gateways: ['172.31.0.1'], ipv6: false, internal: false });
    docker.emit('network create custom');
    const ms = await until('lab-custom0 in container_ifaces', () => table().includes('"lab-custom0"'), 1000);
    console.log(`new network covered in ${ms} ms`);
    expect(table()).toMatch(/"br-0123456789ab" \. 10\.57\.17\.5 \. tcp \. 5432/);
    await until('the set update is counted', () => daemon.state.setUpdates === before + 1, 1000);
    expect(daemon.state.lastApply?.kind).toBe('sets');
  });

  it('a container with a lanfence.allow label gets exactly its exception; on stop it is gone', async () => {
    const c: InventoryContainer = { id: 'c1', name: 'app', networkMode: 'backend', labels: { 'lanfence.allow': '192.168.57.9:443/tcp' }, networks: [{ network: 'backend', ipv4: '172.30.0.7' }] };
    docker.inventory.containers.push(c);
    docker.emit('container start app');
    const ms = await until('label exception', () => /172\.30\.0\.7 \. 192\.168\.57\.9 \. tcp \. 443/.test(table()));
    console.log(`label exception live in ${ms} ms`);
    expect(daemon.history.lookup('172.30.0.7', Date.now())?.container).toBe('app');
    docker.inventory.containers = [];
    docker.emit('container die app');
    await until('label exception gone', () => !table().includes('192.168.57.9'));
  });

  it('a bad label is reported and changes nothing', async () => {
    const before = table();
    docker.inventory.containers.push({ id: 'c2', name: 'bad', networkMode: 'backend', labels: { 'lanfence.allow': '10.0.0.5:99999/tcp' }, networks: [{ network: 'backend', ipv4: '172.30.0.8' }] });
    docker.emit('container start bad');
    await until('label problem reported', () => daemon.state.notes.some((n) => /container bad: lanfence.allow: .*99999/.test(n)));
    expect(table()).toBe(before);
    docker.inventory.containers = [];
  });

  for (const [name, sabotage] of [
    ['nft flush ruleset', () => nft('flush', 'ruleset')],
    ['nft delete table inet lanfence', () => nft('delete', 'table', 'inet', 'lanfence')],
    ['an element deleted from blocked4', () => nft('delete', 'element', 'inet', 'lanfence', 'blocked4', '{ 10.0.0.0/8 }')],
  ] as const) {
    it(`repairs drift: ${name}`, async () => {
      await until('rules in place', () => table().includes('10.0.0.0/8'));
      const repairs = daemon.state.repairs.length;
      const t0 = Date.now();
      sabotage();
      await until('repaired', () => daemon.state.repairs.length > repairs && table().includes('10.0.0.0/8'), 3000);
      console.log(`drift "${name}" repaired ${Date.now() - t0} ms after the sabotage (check every 300 ms; repair itself ${daemon.state.repairs.at(-1)!.durationMs} ms)`);
    });
  }

  it('Docker unavailable: keeps the last rules, retries, reports it; back: reconciles', async () => {
    const before = table();
    docker.down = true;
    docker.end(new Error('EOF'));
    await until('docker reported down', () => !daemon.state.docker.up);
    expect(daemon.state.docker.lastError).toBe('EOF');
    await new Promise((r) => setTimeout(r, 700));
    expect(table()).toBe(before);
    docker.down = false;
    await until('docker back', () => daemon.state.docker.up, 8000);
  });
});
