/** `lanfence.allow` container labels: same syntax and validation as the policy, scoped to the container. */
import { describe, expect, it } from 'vitest';
import type { Inventory, InventoryContainer } from '../../src/inventory/types.js';
import { labelExceptions, parseAllowLabel } from '../../src/policy/labels.js';
import { evaluate, type Packet } from '../../src/ruleset/evaluate.js';
import { goldenInventory, resolvedOf } from '../support/fixtures.js';

const container = (name: string, label: string, ip: string, extra: Partial<InventoryContainer> = {}): InventoryContainer => ({
  name,
  networkMode: 'backend',
  labels: { 'lanfence.allow': label },
  networks: [{ network: 'backend', ipv4: ip, ipv6: `fd00:20::${ip.split('.')[3]}` }],
  ...extra,
});

const withContainers = (...cs: InventoryContainer[]): Inventory => {
  const inv = goldenInventory();
  return { ...inv, containers: [...inv.containers, ...cs] };
};

const pkt = (src: string, dst: string, dport?: number, proto = 'tcp'): Packet => ({ iif: 'br-0123456789ab', oif: 'eth0', src, dst, proto, dport, path: 'forward' });

describe('lanfence.allow labels', () => {
  it('parses addresses, CIDRs, ports, bracketed IPv6 and host', () => {
    const { entries, problems } = parseAllowLabel('10.0.0.5:5432/tcp, 192.168.1.10,[fd00::5]:22/tcp,fd00::/8,host:53/udp,10.1.0.0/16:8000-8100/tcp', 'app');
    expect(problems).toEqual([]);
    expect(entries.map((e) => [e.to, e.ports])).toEqual([
      ['10.0.0.5', ['5432/tcp']],
      ['192.168.1.10', undefined],
      ['fd00::5', ['22/tcp']],
      ['fd00::/8', undefined],
      ['host', ['53/udp']],
      ['10.1.0.0/16', ['8000-8100/tcp']],
    ]);
    expect(entries.every((e) => e.from?.container === 'app')).toBe(true);
  });

  it('grants exactly the labelled container its exceptions', () => {
    const r = resolvedOf('allow:\n  - to: 10.9.9.9\n', withContainers(container('app', '10.0.0.5:5432/tcp,192.168.1.10', '172.20.0.9')));
    expect(r.ruleset.exceptions.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(r.ruleset.exceptions[1].origin.file).toBe('label lanfence.allow on app');
    expect(evaluate(r, pkt('172.20.0.9', '10.0.0.5', 5432)).verdict).toBe('pass');
    expect(evaluate(r, pkt('172.20.0.9', '10.0.0.5', 5433)).verdict).toBe('drop');
    expect(evaluate(r, pkt('172.20.0.9', '192.168.1.10', 22)).verdict).toBe('pass');
    // another container on the same network gets nothing
    expect(evaluate(r, pkt('172.20.0.5', '10.0.0.5', 5432)).verdict).toBe('drop');
  });

  it('a bad label is reported and never widens access', () => {
    const inv = withContainers(container('bad', '10.0.0.5:5432/tpc,999.1.1.1,10.0.0.6:', '172.20.0.10'), container('ok', '10.0.0.7', '172.20.0.11'));
    const { exceptions, problems } = labelExceptions(inv.containers, 1);
    expect(exceptions.map((e) => e.from)).toEqual([{ kind: 'container', container: 'ok' }]);
    const text = problems.map((p) => `${p.container}: ${p.message}`).join('\n');
    expect(text).toMatch(/bad: .*unknown protocol "tpc"/);
    expect(text).toMatch(/bad: .*"999.1.1.1" is not an IPv4 or IPv6 address/);
    expect(text).toMatch(/bad: "10.0.0.6:": empty port/);
    const r = resolvedOf('', inv);
    expect(r.notes.join('\n')).toMatch(/container bad: lanfence.allow:/);
    expect(evaluate(r, pkt('172.20.0.10', '10.0.0.5', 5432)).verdict).toBe('drop');
  });

  it('a label inherited from the image is ignored', () => {
    const inv = withContainers(container('evil', '0.0.0.0/0', '172.20.0.12', { labelsFromImage: ['lanfence.allow'] }));
    const r = resolvedOf('', inv);
    expect(r.ruleset.exceptions).toHaveLength(0);
    expect(r.notes.join('\n')).toMatch(/comes from the image/);
    expect(evaluate(r, pkt('172.20.0.12', '10.0.0.5', 80)).verdict).toBe('drop');
  });
});
