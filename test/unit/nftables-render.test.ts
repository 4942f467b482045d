/** The nftables layout: exact exceptions in hash sets, CIDRs and port ranges in interval sets, a fixed structure. */
import { describe, expect, it } from 'vitest';
import { setBlocks, setDelta, skeleton } from '../../src/backends/nftables/delta.js';
import { nftSets, renderNftables } from '../../src/backends/nftables/render.js';
import type { Inventory } from '../../src/inventory/types.js';
import { goldenInventory, resolvedOf } from '../support/fixtures.js';

const sets = (yaml: string, inv?: Inventory) => new Map(nftSets(resolvedOf(yaml, inv)).map((s) => [s.name, s]));
const elementsOf = (yaml: string, inv?: Inventory) => new Map([...sets(yaml, inv)].filter(([, s]) => s.elements.length).map(([n, s]) => [n, s.elements]));

describe('nftables sets: where each exception goes', () => {
  it('exact elements go to hash sets, by scope', () => {
    const yaml = [
      'protect: { host: true }',
      'allow:',
      '  - to: 10.0.0.5',
      '  - to: 10.0.0.6',
      '    ports: [5432/tcp, 53/udp]',
      '  - to: 10.0.0.7',
      '    from: { container: web }',
      '  - to: 10.0.0.8',
      '    from: { container: web }',
      '    ports: [22/tcp]',
      '  - to: 10.0.0.9',
      '    from: { network: backend }',
      '    ports: [443/tcp]',
      '  - to: fd57::1',
      '    ports: [443/tcp]',
      '  - to: host',
      '    from: { container: web }',
      '    ports: [22/tcp]',
      '  - to: host',
      '    from: { network: backend }',
      '    ports: [53/udp]',
    ].join('\n');
    expect(Object.fromEntries(elementsOf(yaml))).toMatchObject({
      allow4_any: ['10.0.0.5 comment "allow #1"'],
      allow4_any_ports: ['10.0.0.6 . tcp . 5432 comment "allow #2"', '10.0.0.6 . udp . 53 comment "allow #2"'],
      allow4: ['172.17.0.2 . 10.0.0.7 comment "allow #3"'],
      allow4_ports: ['172.17.0.2 . 10.0.0.8 . tcp . 22 comment "allow #4"'],
      allow4_net_ports: ['"br-0123456789ab" . 10.0.0.9 . tcp . 443 comment "allow #5"'],
      allow6_any_ports: ['fd57::1 . tcp . 443 comment "allow #6"'],
      host4_ports: ['172.17.0.2 . tcp . 22 comment "allow #7"'],
      host_net_ports: ['"br-0123456789ab" . udp . 53 comment "allow #8"'],
    });
    for (const [name, s] of sets(yaml)) if (s.elements.length && !['container_ifaces', 'blocked4', 'blocked6'].includes(name)) expect(s.interval, name).toBe(false);
  });

  it('CIDRs and port ranges go to interval sets, destination first', () => {
    const yaml = [
      'protect: { host: true }',
      'allow:',
      '  - to: 10.1.0.0/16',
      '  - to: 10.0.0.5',
      '    ports: [8000-8100/tcp, 22/tcp]',
      '  - to: 192.168.1.0/24',
      '    from: { container: web }',
      '  - to: 192.168.2.0/24',
      '    from: { network: backend }',
      '    ports: [53/udp]',
      '  - to: host',
      '    ports: [22/tcp]',
    ].join('\n');
    const all = sets(yaml);
    expect(Object.fromEntries(elementsOf(yaml))).toMatchObject({
      allow4_ranges: ['10.1.0.0/16 . 0.0.0.0/0 comment "allow #1"', '192.168.1.0/24 . 172.17.0.2 comment "allow #3"'],
      allow4_ports_ranges: ['10.0.0.5 . 0.0.0.0/0 . tcp . 8000-8100 comment "allow #2"'],
      allow4_any_ports: ['10.0.0.5 . tcp . 22 comment "allow #2"'],
      allow4_net_ports_ranges: ['192.168.2.0/24 . "br-0123456789ab" . udp . 53 comment "allow #4"'],
      host4_ports_ranges: ['0.0.0.0/0 . tcp . 22 comment "allow #5"'],
      host6_ports_ranges: ['::/0 . tcp . 22 comment "allow #5"'],
    });
    expect(all.get('allow4_ranges')).toMatchObject({ interval: true, key: 'ip daddr . ip saddr', type: 'ipv4_addr . ipv4_addr' });
    expect(all.get('allow4_net_ports_ranges')).toMatchObject({ interval: true, key: 'ip daddr . iifname . meta l4proto . th dport' });
  });

  it('a bridge name ending in * is a literal name in a hash set, not a wildcard', () => {
    const i = goldenInventory();
    const inv = { ...i, networks: [...i.networks, { name: 'odd', driver: 'bridge', bridge: 'odd*', subnets: [], gateways: [], ipv6: false, internal: false }] };
    expect(elementsOf('allow:\n  - to: 10.0.0.5\n    from: { network: odd }\n', inv).get('allow4_net')).toEqual(['"odd\\*" . 10.0.0.5 comment "allow #1"']);
  });
});

describe('nftables layout: structure depends on the policy shape, not on members', () => {
  const empty = renderNftables(resolvedOf('protect: { host: true }\n')).text;
  const full = renderNftables(
    resolvedOf('protect: { host: true }\nallow:\n  - to: 10.0.0.5\n  - to: 10.1.0.0/16\n    ports: [1-100/udp]\n  - to: host\n    from: { network: backend }\n    ports: [53/udp]\n  - to: fd57::/64\n    from: { container: billing }\n'),
  ).text;

  it('every set is declared when empty: adding exceptions of every shape is a set update', () => {
    expect(skeleton(empty)).toBe(skeleton(full));
    const delta = setDelta(empty, full)!;
    expect(delta).toContain('add element inet lanfence allow4_any { 10.0.0.5 comment "allow #1" }');
    expect(delta).toContain('add element inet lanfence allow4_ports_ranges { 10.1.0.0/16 . 0.0.0.0/0 . udp . 1-100 comment "allow #2" }');
    expect(setDelta(full, empty)).toMatch(/^flush set inet lanfence allow4_any$/m);
  });

  it('every rule references a declared set; every exception set has a rule', () => {
    const declared = new Set(setBlocks(full).map((s) => s.name));
    const referenced = new Set([...full.matchAll(/@(\w+)/g)].map((m) => m[1]));
    for (const r of referenced) expect(declared.has(r), r).toBe(true);
    for (const d of declared) expect(referenced.has(d), d).toBe(true);
  });

  it('the forward path looks exceptions up only for blocked destinations', () => {
    const forward = /\tchain forward \{\n([^}]*)\}/.exec(full)![1];
    expect(forward).not.toMatch(/@allow/);
    expect(forward).toMatch(/ip daddr @blocked4 goto judge4\n\t\tip6 daddr @blocked6 goto judge6\n/);
    expect(full).toMatch(/\tchain judge4 \{\n(\t\t.* accept\n)+\t\tjump block\n\t\}/);
  });
});
