/** verify's plan: which sources, which destinations, and what explain expects in each cell. */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseTarget } from '../../src/explain/index.js';
import type { Inventory } from '../../src/inventory/types.js';
import {
  containerSource,
  destinationFor,
  networkSource,
  planCell,
  planColumns,
  probeAddresses,
  rangeLabel,
  selectSources,
} from '../../src/verify/plan.js';
import type { HostAddress } from '../../src/verify/targets.js';
import type { VerifyColumn } from '../../src/verify/types.js';
import { goldenInventory, resolvedOf } from '../support/fixtures.js';

/** The host: a LAN address on its uplink, and docker0's and backend's gateways on their bridges. */
const HOST: HostAddress[] = [
  { address: '192.168.1.2', family: 4, iface: 'enp1s0', bridge: false },
  { address: 'fd57::2', family: 6, iface: 'enp1s0', bridge: false },
  { address: '172.17.0.1', family: 4, iface: 'docker0', bridge: true },
  { address: '172.20.0.1', family: 4, iface: 'br-0123456789ab', bridge: true },
  { address: 'fd00:20::1', family: 6, iface: 'br-0123456789ab', bridge: true },
];

const withEmptyNetwork = (inv: Inventory): Inventory => ({
  ...inv,
  networks: [...inv.networks, { name: 'empty', driver: 'bridge', bridge: 'br-empty', subnets: ['172.30.0.0/24'], gateways: [], ipv6: false, internal: true }],
});

const EXCEPTIONS = `allow:
  - to: 10.57.17.5
    ports: [5432/tcp]
    from: { network: backend }
    comment: billing database
  - to: host
    ports: [53/udp]
    from: { container: web }
    comment: DNS on the host for web
  - to: 192.168.1.2
    ports: [9100/tcp]
    comment: exporter on the host's LAN address
  - to: 10.57.17.0/24
    comment: storage
`;

describe('selectSources', () => {
  const inv = goldenInventory();

  it('--all: every container lanfence can filter; the others are listed with the reason', () => {
    const s = selectSources(inv, { all: true });
    expect(s.containers.map((c) => c.name)).toEqual(['web', 'billing', 'worker']);
    expect(s.networks).toEqual([]);
    expect(s.notVerified).toEqual([
      { name: 'pihole', why: 'no bridge network lanfence filters: lan (macvlan)' },
      { name: 'netdata', why: expect.stringMatching(/^host network/) },
    ]);
  });

  it('--all and --network: a bridge network without containers gets a probe namespace', () => {
    const inv2 = withEmptyNetwork(inv);
    expect(selectSources(inv2, {}).networks.map((n) => n.name)).toEqual(['empty']);
    expect(selectSources(inv2, { network: 'empty' })).toMatchObject({ containers: [], networks: [{ name: 'empty' }] });
    expect(selectSources(inv2, { network: 'apps' })).toMatchObject({ containers: [{ name: 'worker' }], networks: [] });
  });

  it('usage errors: unknown names (with close ones), unfilterable choices, two selections at once', () => {
    const err = (sel: Parameters<typeof selectSources>[1]) => {
      try {
        selectSources(inv, sel);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(err({ container: 'wbe' })).toMatch(/no running container of that name or id; did you mean web\?/);
    expect(err({ container: 'netdata' })).toMatch(/cannot be verified: host network/);
    expect(err({ network: 'lan' })).toMatch(/--network lan cannot be verified: driver macvlan/);
    expect(err({ network: 'backnd' })).toMatch(/did you mean backend/);
    expect(err({ all: true, container: 'web' })).toMatch(/one of --container NAME, --network NAME or --all/);
  });
});

describe('sources', () => {
  const inv = goldenInventory();

  it('a container: its address and gateway per family, the gateway as the host has it on the bridge', () => {
    const billing = inv.containers.find((c) => c.name === 'billing')!;
    expect(containerSource(inv, billing, '/proc/42/ns/net', 42, HOST)).toEqual({
      name: 'billing',
      kind: 'container',
      from: 'container:billing',
      networks: ['backend'],
      netns: '/proc/42/ns/net',
      pid: 42,
      addresses: { 4: '172.20.0.5', 6: 'fd00:20::5' },
      gateways: { 4: '172.20.0.1', 6: 'fd00:20::1' },
    });
  });

  it('without a gateway from Docker or the host: the subnet\'s first address', () => {
    const inv2 = withEmptyNetwork(inv);
    const n = inv2.networks.find((x) => x.name === 'empty')!;
    const resolved = resolvedOf('', inv2);
    const addrs = probeAddresses(resolved, inv2, n, HOST);
    // The address `explain --from network:empty` stands for: the highest free one.
    expect(addrs).toEqual({ 4: { address: '172.30.0.254', prefix: 24, gateway: '172.30.0.1' } });
    expect(networkSource(n, '/run/netns/lf-verify-x', addrs)).toMatchObject({ name: 'network:empty', kind: 'network', from: 'network:empty', addresses: { 4: '172.30.0.254' }, gateways: { 4: '172.30.0.1' } });
  });
});

describe('planColumns', () => {
  const inv = goldenInventory();
  const resolved = resolvedOf(EXCEPTIONS, inv);
  const { columns } = planColumns({ resolved, inventory: inv, hostAddresses: HOST, internet: parseTarget('198.51.100.7') });
  const col = (key: string) => columns.find((c) => c.key === key)!;

  it('one column per blocked range, with the address probed, or why not', () => {
    expect(columns.filter((c) => c.kind === 'range')).toHaveLength(resolved.ruleset.blocked.length);
    expect(col('range:10.0.0.0/8')).toMatchObject({ label: '10/8', address: '10.0.0.123', proto: 'tcp', port: 9 });
    // 172.16.0.123 is fine; Docker's 172.17/16, 172.20/16 and 172.21/16 are elsewhere in the range.
    expect(col('range:172.16.0.0/12').address).toBe('172.16.0.123');
    expect(col('range:127.0.0.0/8')).toMatchObject({ skip: expect.stringMatching(/loopback/) });
    expect(col('range:fc00::/7').address).toBe('fc00::7b');
  });

  it('the gateway (per source), the host\'s other addresses, each exception, --internet', () => {
    expect(col('gateway4')).toMatchObject({ kind: 'gateway', family: 4 });
    expect(col('gateway4').address).toBeUndefined();
    expect(columns.filter((c) => c.kind === 'host').map((c) => c.address)).toEqual(['192.168.1.2', 'fd57::2']);
    expect(col('allow:1')).toMatchObject({ label: 'allow #1', address: '10.57.17.5', proto: 'tcp', port: 5432 });
    expect(col('allow:2')).toMatchObject({ proto: 'udp', port: 53, family: 4 });
    expect(col('allow:2').address).toBeUndefined(); // `to: host`: the source's gateway
    expect(col('allow:3')).toMatchObject({ address: '192.168.1.2', port: 9100 }); // a host address: probed there
    expect(col('allow:4')).toMatchObject({ address: '10.57.17.123', proto: 'tcp', port: 9 }); // no ports: any
    expect(col('internet')).toMatchObject({ address: '198.51.100.7', proto: 'tcp', port: 443 });
  });

  it('range labels', () => {
    expect(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '0.0.0.0/8', '203.0.113.7/32', 'fc00::/7'].map(rangeLabel)).toEqual(['10/8', '172.16/12', '192.168/16', '0/8', '203.0.113.7/32', 'fc00::/7']);
  });

  it('destinations per source: the gateway of its network; IPv6 only for a source with IPv6', () => {
    const web = containerSource(inv, inv.containers.find((c) => c.name === 'web')!, '/proc/1/ns/net', 1, HOST);
    expect(destinationFor(col('gateway4'), web)).toEqual({ address: '172.17.0.1' });
    expect(destinationFor(col('gateway6'), web)).toEqual({ skip: 'no IPv6 address' });
    expect(destinationFor(col('range:fc00::/7'), web)).toEqual({ skip: 'no IPv6 address' });
    expect(destinationFor(col('allow:2'), web)).toEqual({ address: '172.17.0.1' });
    expect(destinationFor(col('range:127.0.0.0/8'), web)).toMatchObject({ skip: expect.stringMatching(/loopback/) });
  });
});

describe('planCell: explain\'s verdict for the exact packet', () => {
  const inv = goldenInventory();
  const resolved = resolvedOf(EXCEPTIONS, inv);
  const { columns } = planColumns({ resolved, inventory: inv, hostAddresses: HOST, internet: parseTarget('198.51.100.7:80') });
  const col = (key: string): VerifyColumn => columns.find((c) => c.key === key)!;
  const ctx = { hostAddresses: HOST.map((h) => h.address) };
  const source = (name: string) => containerSource(inv, inv.containers.find((c) => c.name === name)!, '/proc/1/ns/net', 1, HOST);
  const cell = (name: string, key: string, src?: string) => planCell(resolved, inv, source(name), col(key), src ? { src } : {}, ctx);

  it('a blocked range: drop, decided by the range', () => {
    expect(cell('web', 'range:10.0.0.0/8', '172.17.0.2')).toMatchObject({
      row: 'web',
      column: 'range:10.0.0.0/8',
      target: { address: '10.0.0.123', port: 9, proto: 'tcp', from: '172.17.0.2' },
      expected: 'drop',
      verdict: 'dropped',
      reason: '10.0.0.0/8 (private, RFC 1918)',
    });
    expect(cell('billing', 'range:fc00::/7', 'fd00:20::5')).toMatchObject({ target: { address: 'fc00::7b' }, expected: 'drop' });
  });

  it('the host: its gateway and its LAN address are the input path (`host`), exceptions to them pass', () => {
    expect(cell('web', 'gateway4')).toMatchObject({ target: { address: '172.17.0.1' }, expected: 'drop', reason: 'host (every address of the host itself)' });
    expect(cell('web', 'host:192.168.1.2')).toMatchObject({ expected: 'drop', reason: 'host (every address of the host itself)' });
    expect(cell('web', 'allow:2')).toMatchObject({ target: { address: '172.17.0.1', port: 53, proto: 'udp' }, expected: 'pass', verdict: 'allowed', reason: 'allow #2 (DNS on the host for web)' });
    expect(cell('worker', 'allow:2')).toMatchObject({ expected: 'drop' });
    expect(cell('worker', 'allow:3')).toMatchObject({ target: { address: '192.168.1.2', port: 9100 }, expected: 'pass', reason: 'allow #3 (exporter on the host\'s LAN address)' });
    // Without the host's addresses explain would take 192.168.1.2 for a LAN host (192.168.0.0/16, forward path).
    const naive = planCell(resolved, inv, source('web'), col('host:192.168.1.2'), {});
    expect(naive.reason).toBe('192.168.0.0/16 (private, RFC 1918)');
  });

  it('exceptions open exactly their scope', () => {
    expect(cell('billing', 'allow:1')).toMatchObject({ expected: 'pass', verdict: 'allowed' });
    expect(cell('web', 'allow:1')).toMatchObject({ expected: 'pass', reason: 'allow #4 (storage)' }); // 10.57.17.0/24 for all
    expect(cell('web', 'allow:4')).toMatchObject({ expected: 'pass' });
  });

  it('--internet must connect; not from an --internal network', () => {
    expect(cell('web', 'internet')).toMatchObject({ target: { address: '198.51.100.7', port: 80 }, expected: 'open', verdict: 'passes' });
    const inv2: Inventory = { ...inv, networks: inv.networks.map((n) => (n.name === 'apps' ? { ...n, internal: true } : n)) };
    const c = planCell(resolved, inv2, source('worker'), col('internet'), {}, { ...ctx, internalNetworks: new Set(['apps']) });
    expect(c.skip).toBe('network apps is --internal: Docker gives it no way out');
  });

  it('no route, no address of the family: not probed', () => {
    expect(planCell(resolved, inv, source('web'), col('range:10.0.0.0/8'), null, ctx).skip).toBe('no route to 10.0.0.123 (nothing would be sent)');
    expect(cell('web', 'range:fc00::/7').skip).toBe('no IPv6 address');
  });

  it('audit mode: the cells that would be dropped are logged', () => {
    const audit = resolvedOf(`mode: audit\n${EXCEPTIONS}`, inv);
    expect(planCell(audit, inv, source('web'), col('range:10.0.0.0/8'), {}, ctx)).toMatchObject({ expected: 'log', verdict: 'logged' });
    expect(planCell(audit, inv, source('web'), col('allow:2'), {}, ctx)).toMatchObject({ expected: 'pass' });
  });
});
