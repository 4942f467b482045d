/** Pure parts of the daemon: address history, nft set deltas, event parsing, systemd units. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { setDelta, skeleton } from '../../src/backends/nftables/delta.js';
import { renderNftables } from '../../src/backends/nftables/render.js';
import { relevantEvent } from '../../src/daemon/docker-events.js';
import { isReloadLine } from '../../src/daemon/firewalld-signal.js';
import { AddressHistory } from '../../src/daemon/history.js';
import { bootUnit, daemonUnit } from '../../src/daemon/systemd.js';
import type { Inventory } from '../../src/inventory/types.js';
import { goldenInventory, resolvedOf } from '../support/fixtures.js';

const inv = (containers: [string, string, string][]): Inventory => ({
  source: 'test',
  networks: [],
  containers: containers.map(([name, id, ip]) => ({ name, id, networkMode: 'n', labels: {}, networks: [{ network: 'n', ipv4: ip }] })),
});

describe('address history', () => {
  it('answers who held an address at a time, across reuse', () => {
    const h = new AddressHistory();
    h.observe(inv([['a', 'id-a', '172.20.0.2']]), 1000);
    h.observe(inv([]), 2000);
    h.observe(inv([['b', 'id-b', '172.20.0.2']]), 3000);
    expect(h.lookup('172.20.0.2', 1500)?.container).toBe('a');
    expect(h.lookup('172.20.0.2', 2500)).toBeNull();
    expect(h.lookup('172.20.0.2', 3500)?.container).toBe('b');
    expect(h.lookup('172.20.0.2', 500)).toBeNull();
    // same container observed again: no new interval
    h.observe(inv([['b', 'id-b', '172.20.0.2']]), 4000);
    expect(h.toJSON()['172.20.0.2']).toHaveLength(2);
  });
});

describe('nft set deltas', () => {
  const base = renderNftables(resolvedOf('allow:\n  - to: 10.0.0.5\n    from: { container: web }\n')).text;
  it('a new bridge is a set update, not a table replacement', () => {
    const i = goldenInventory();
    const more = { ...i, networks: [...i.networks, { name: 'x', driver: 'bridge', bridge: 'custom9', subnets: [], gateways: [], ipv6: false, internal: false }] };
    const next = renderNftables(resolvedOf('allow:\n  - to: 10.0.0.5\n    from: { container: web }\n', more)).text;
    const delta = setDelta(base, next)!;
    expect(delta).toBe('flush set inet lanfence container_ifaces\nadd element inet lanfence container_ifaces { "docker0", "br-*", "docker_gwbridge", "apps0", "custom9" }\n');
  });
  it('a changed container address is a set update', () => {
    const i = goldenInventory();
    const moved = { ...i, containers: i.containers.map((c) => (c.name === 'web' ? { ...c, networks: [{ network: 'bridge', ipv4: '172.17.0.9' }] } : c)) };
    const next = renderNftables(resolvedOf('allow:\n  - to: 10.0.0.5\n    from: { container: web }\n', moved)).text;
    expect(setDelta(base, next)).toMatch(/^flush set inet lanfence allow4\nadd element inet lanfence allow4 \{ 172\.17\.0\.9 \. 10\.0\.0\.5 comment "allow #1" \}\n$/);
  });
  it('a structural change (mode) needs a full apply', () => {
    const audit = renderNftables(resolvedOf('mode: audit\nallow:\n  - to: 10.0.0.5\n    from: { container: web }\n')).text;
    expect(setDelta(base, audit)).toBeNull();
    expect(skeleton(base)).not.toContain('10.0.0.0/8');
  });
  it('no change, no statements', () => expect(setDelta(base, base)).toBe(''));
});

describe('event and signal parsing (never throws)', () => {
  it('keeps the Docker events that change the rules', () => {
    expect(relevantEvent('{"Type":"network","Action":"create","Actor":{"Attributes":{"name":"lab"}}}')).toBe('network create lab');
    expect(relevantEvent('{"Type":"container","Action":"start","Actor":{"Attributes":{"name":"web"}}}')).toBe('container start web');
    expect(relevantEvent('{"Type":"container","Action":"exec_start"}')).toBeNull();
    expect(relevantEvent('{"Type":"image","Action":"pull"}')).toBeNull();
    expect(relevantEvent('not json')).toBeNull();
    expect(relevantEvent('')).toBeNull();
  });
  it('recognises firewalld\'s Reloaded signal in dbus-monitor output', () => {
    expect(isReloadLine("signal time=1.2 sender=:1.3 -> destination=(null destination) serial=9 path=/org/fedoraproject/FirewallD1; interface=org.fedoraproject.FirewallD1; member=Reloaded")).toBe(true);
    expect(isReloadLine('signal ... interface=org.fedoraproject.FirewallD1; member=PanicModeEnabled')).toBe(false);
  });
});

describe('systemd units', () => {
  it('boot unit runs before Docker and needs no inventory; daemon unit after it; both hardened', () => {
    const boot = bootUnit({ bin: '/usr/bin/lanfence' });
    expect(boot).toMatch(/Before=network-pre.target docker.service/);
    expect(boot).toMatch(/ExecStart=\/usr\/bin\/lanfence apply --inventory none/);
    const d = daemonUnit({ bin: '/usr/bin/lanfence', policy: '/etc/lanfence/policy.yaml' });
    expect(d).toMatch(/After=docker.service/);
    expect(d).toMatch(/ExecStart=\/usr\/bin\/lanfence daemon --policy \/etc\/lanfence\/policy.yaml/);
    expect(d).toMatch(/^Environment=NODE_OPTIONS=--max-semi-space-size=1$/m);
    expect(boot).not.toMatch(/NODE_OPTIONS/);
    for (const u of [boot, d]) {
      expect(u).toMatch(/CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_DAC_READ_SEARCH/);
      expect(u).toMatch(/ProtectSystem=strict/);
      expect(u).toMatch(/PrivateTmp=yes/);
    }
  });
  it('systemd-analyze verify accepts both units', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lanfence-units-'));
    const bin = join(dir, 'lanfence');
    writeFileSync(bin, '#!/bin/sh\n', { mode: 0o755 });
    for (const [name, text] of [['lanfence-boot.service', bootUnit({ bin })], ['lanfence.service', daemonUnit({ bin })]] as const) writeFileSync(join(dir, name), text);
    let out = '';
    try {
      out = execFileSync('systemd-analyze', ['verify', '--man=no', join(dir, 'lanfence-boot.service'), join(dir, 'lanfence.service')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; code?: string };
      expect(err.code, 'systemd-analyze must be installed (apt: systemd)').not.toBe('ENOENT');
      out = `${err.stdout ?? ''}${err.stderr ?? ''}`;
      // Only complaints about our own units matter (not docker.service being absent on this machine).
      const ours = out.split('\n').filter((l) => /lanfence/.test(l) && !/docker\.service|nftables\.service|firewalld\.service/.test(l));
      expect(ours, out).toEqual([]);
    }
  });
});
