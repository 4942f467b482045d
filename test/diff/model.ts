/**
 * The differential test's topology, described once: the bridges and endpoints the lab builds
 * (lab.ts), the Docker inventory the evaluator resolves scopes against, and which destinations the
 * lab can observe at all. Pure: nothing here touches the kernel.
 */
import type { Inventory } from '../../src/inventory/types.js';
import { cidrOf, containsAddress, parseAddress, type Cidr, type Family } from '../../src/ruleset/cidr.js';
import type { Packet } from '../../src/ruleset/evaluate.js';

export interface BridgeSpec {
  /** Interface name in the host namespace. */
  name: string;
  /** The Docker network behind it; absent for a bridge Docker knows nothing about (a VM bridge). */
  network?: { name: string; id: string };
  v4: { gw: string; prefix: number };
  v6: { gw: string; prefix: number };
  mac: string;
}

export interface EndpointSpec {
  /** Container name (and the endpoint's key in the lab). */
  name: string;
  bridge: string;
  v4: string;
  v6: string;
  mac: string;
  /** Listed in the Docker inventory (false: a VM on a bridge that is not Docker's). */
  docker: boolean;
  labels: Record<string, string>;
}

/** The host's uplink (named unlike `eth*`, as on the hosts where the guide's `-o eth+` matched nothing). */
export const UPLINK = 'enp1s0';
/** The LAN side of the uplink, in the lan namespace. */
export const LAN_IF = 'lan0';

export const BRIDGES: readonly BridgeSpec[] = [
  { name: 'docker0', network: { name: 'bridge', id: 'd0c4e75a1b2f'.padEnd(64, '0') }, v4: { gw: '172.17.0.1', prefix: 16 }, v6: { gw: 'fd00:17::1', prefix: 64 }, mac: '02:1d:00:00:00:01' },
  { name: 'br-0123456789ab', network: { name: 'app', id: '0123456789ab'.padEnd(64, 'c') }, v4: { gw: '172.18.0.1', prefix: 16 }, v6: { gw: 'fd00:18::1', prefix: 64 }, mac: '02:1d:00:00:00:02' },
  // A user-defined network with com.docker.network.bridge.name set: matched by no `auto` pattern.
  { name: 'lab-custom0', network: { name: 'lab', id: 'abcdef012345'.padEnd(64, 'e') }, v4: { gw: '10.99.0.1', prefix: 24 }, v6: { gw: 'fd00:99::1', prefix: 64 }, mac: '02:1d:00:00:00:03' },
  // A libvirt-style bridge: not a container interface unless a policy lists it.
  { name: 'virbr7', v4: { gw: '192.168.122.1', prefix: 24 }, v6: { gw: 'fd00:122::1', prefix: 64 }, mac: '02:1d:00:00:00:04' },
];

export const ENDPOINTS: readonly EndpointSpec[] = [
  { name: 'web', bridge: 'docker0', v4: '172.17.0.2', v6: 'fd00:17::2', mac: '02:1d:00:00:01:02', docker: true, labels: { 'com.example.tier': 'front' } },
  { name: 'db', bridge: 'docker0', v4: '172.17.0.3', v6: 'fd00:17::3', mac: '02:1d:00:00:01:03', docker: true, labels: {} },
  { name: 'api', bridge: 'br-0123456789ab', v4: '172.18.0.2', v6: 'fd00:18::2', mac: '02:1d:00:00:02:02', docker: true, labels: { 'com.example.tier': 'back' } },
  { name: 'worker', bridge: 'br-0123456789ab', v4: '172.18.0.3', v6: 'fd00:18::3', mac: '02:1d:00:00:02:03', docker: true, labels: { 'com.example.tier': 'back' } },
  { name: 'lab', bridge: 'lab-custom0', v4: '10.99.0.2', v6: 'fd00:99::2', mac: '02:1d:00:00:03:02', docker: true, labels: {} },
  { name: 'vm', bridge: 'virbr7', v4: '192.168.122.2', v6: 'fd00:122::2', mac: '02:1d:00:00:04:02', docker: false, labels: {} },
];

/** The host's own addresses on the uplink (/32 and /128: they add no on-link route). */
export const UPLINK_ADDRESSES = { 4: ['192.0.2.1', '192.168.1.5'], 6: ['fd77::5', '2001:db8:77::5'] } as const;
/** The LAN namespace: the host's next hop for every destination it does not own. */
export const LAN_GATEWAY = { v4: '192.0.2.2', v6: 'fe80::2', mac: '02:1d:00:00:09:02' } as const;
export const UPLINK_MAC = '02:1d:00:00:09:01';

/**
 * Canonical text of an address (what keys and comparisons use). nft prints IPv4-compatible IPv6
 * addresses the way inet_ntop does, with a dotted quad (`::0.1.255.254`), and parseAddress (ipaddr.js)
 * misreads `::a.b.c.d` as the IPv4-mapped `::ffff:a.b.c.d` — so a trailing dotted quad becomes two
 * hex groups first (see the address-parsing case in differential.test.ts).
 */
export function canon(address: string): string {
  let text = address.trim();
  const quad = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(2).map(Number);
    text = `${quad[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const p = parseAddress(text);
  if (!p) throw new Error(`not an address: ${address}`);
  return p.address;
}

export const familyOf = (address: string): Family => (address.includes(':') ? 6 : 4);

/** Every address of the host namespace: packets to them take the input path. */
export const HOST_ADDRESSES: readonly string[] = [
  ...BRIDGES.flatMap((b) => [b.v4.gw, b.v6.gw]),
  ...UPLINK_ADDRESSES[4],
  ...UPLINK_ADDRESSES[6],
].map(canon);

export const bridgeSubnets: readonly Cidr[] = BRIDGES.flatMap((b) => [cidrOf(`${b.v4.gw}/${b.v4.prefix}`), cidrOf(`${b.v6.gw}/${b.v6.prefix}`)]);

/**
 * Destinations no packet of the lab can reach a recorder at, whatever the rules: the sender's own
 * stack keeps them (loopback), refuses them (limited broadcast) or sends them as IPv4 (IPv4-mapped),
 * or the host never forwards them (multicast without a multicast router, link-local, unspecified).
 * The calibration test checks that everything else is observed when no rules are loaded.
 */
export const UNOBSERVABLE: readonly { cidr: Cidr; why: string }[] = [
  { cidr: cidrOf('0.0.0.0/32'), why: 'unspecified' },
  { cidr: cidrOf('127.0.0.0/8'), why: "the sender's own loopback" },
  { cidr: cidrOf('224.0.0.0/4'), why: 'multicast: the host has no multicast routing' },
  { cidr: cidrOf('255.255.255.255/32'), why: 'limited broadcast' },
  { cidr: cidrOf('::/128'), why: 'unspecified' },
  { cidr: cidrOf('::1/128'), why: "the sender's own loopback" },
  { cidr: cidrOf('::ffff:0:0/96'), why: 'IPv4-mapped: a dual-stack socket sends IPv4' },
  { cidr: cidrOf('fe80::/10'), why: 'link-local: never forwarded' },
  { cidr: cidrOf('ff00::/8'), why: 'multicast: the host has no multicast routing' },
];

export const endpoint = (name: string): EndpointSpec => {
  const e = ENDPOINTS.find((x) => x.name === name);
  if (!e) throw new Error(`no endpoint ${name}`);
  return e;
};

const endpointByAddress = new Map<string, EndpointSpec>(ENDPOINTS.flatMap((e) => [[canon(e.v4), e] as const, [canon(e.v6), e] as const]));

/**
 * Can a packet from `source` to `dst` reach one of the lab's recorders when nothing drops it?
 * Host addresses (input path) and other endpoints' addresses (routed to another bridge, or bridged on
 * the same one) can; so can anything routed to the uplink. Not: the sender's own address, other
 * addresses inside a bridge's subnet (nobody answers ARP/ND there), and UNOBSERVABLE.
 */
export function observable(source: string, dst: string): boolean {
  const d = canon(dst);
  const src = endpoint(source);
  if (HOST_ADDRESSES.includes(d)) return true;
  const peer = endpointByAddress.get(d);
  if (peer) return peer.name !== src.name;
  if (bridgeSubnets.some((c) => containsAddress(c, d))) return false;
  return !UNOBSERVABLE.some((u) => containsAddress(u.cidr, d));
}

export type Proto = 'tcp' | 'udp';

/** One generated probe: from an endpoint to an address and port. */
export interface Case {
  source: string;
  dst: string;
  proto: Proto;
  dport: number;
}

export const sourceAddress = (c: Case): string => {
  const e = endpoint(c.source);
  return familyOf(c.dst) === 4 ? e.v4 : e.v6;
};

/** What the recorders store: `saddr daddr proto dport`, canonical. */
export const caseKey = (c: Case): string => `${canon(sourceAddress(c))} ${canon(c.dst)} ${c.proto} ${c.dport}`;

/** The packet as the evaluator sees it: interfaces and path follow from the topology. */
export function packetOf(c: Case): Packet {
  const src = endpoint(c.source);
  const d = canon(c.dst);
  const input = HOST_ADDRESSES.includes(d);
  const peer = endpointByAddress.get(d);
  return {
    iif: src.bridge,
    ...(input ? {} : { oif: peer ? peer.bridge : UPLINK }),
    src: sourceAddress(c),
    dst: d,
    proto: c.proto,
    dport: c.dport,
    path: input ? 'input' : 'forward',
  };
}

/** The Docker inventory of the lab (plus a macvlan network Docker would report, to be scoped and grant nothing). */
export function labInventory(): Inventory {
  const networks: Inventory['networks'] = BRIDGES.filter((b) => b.network).map((b) => ({
    id: b.network!.id,
    name: b.network!.name,
    driver: 'bridge',
    bridge: b.name,
    subnets: [cidrOf(`${b.v4.gw}/${b.v4.prefix}`).text, cidrOf(`${b.v6.gw}/${b.v6.prefix}`).text],
    gateways: [b.v4.gw, b.v6.gw],
    ipv6: true,
    internal: false,
  }));
  networks.push({ id: 'facade000000'.padEnd(64, '1'), name: 'macnet', driver: 'macvlan', subnets: ['192.168.50.0/24'], gateways: ['192.168.50.1'], ipv6: false, internal: false });
  const containers: Inventory['containers'] = ENDPOINTS.filter((e) => e.docker).map((e, i) => {
    const net = BRIDGES.find((b) => b.name === e.bridge)!.network!.name;
    return {
      id: `${(i + 1).toString(16).padStart(2, '0')}c0ffee${'0'.repeat(56)}`,
      name: e.name,
      networkMode: net,
      labels: e.labels,
      networks: [{ network: net, ipv4: e.v4, ipv6: e.v6 }],
    };
  });
  containers.push({ id: 'ee'.padEnd(64, '7'), name: 'sensor', networkMode: 'macnet', labels: { 'com.example.tier': 'back' }, networks: [{ network: 'macnet', ipv4: '192.168.50.10' }] });
  return { networks, containers, source: 'file:diff-lab' };
}
