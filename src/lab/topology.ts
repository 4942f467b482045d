/**
 * The lab's fixed topology: addresses, networks and containers. Shared by lab.ts (which builds it)
 * and matrix.ts (which probes it). Every probe target is an address a lab namespace owns.
 */

/** The host's uplink: deliberately not `eth*` (the guide's `-o eth+` matches nothing here). */
export const UPLINK = 'enp1s0';
/** The LAN side of the veth pair (in the LAN namespace). */
export const LAN_LINK = 'lan0';

export const HOST_UPLINK4 = '192.168.57.2';
export const HOST_UPLINK6 = 'fd57::2';
export const LAN_GW4 = '192.168.57.1';
export const LAN_GW6 = 'fd57::1';

export type TargetKind = 'lan' | 'public' | 'host' | 'peer';

export interface LanAddress {
  /** Short column label in the truth table. */
  label: string;
  address: string;
  kind: 'lan' | 'public';
  /** What it stands for. */
  what: string;
}

/** Addresses the LAN namespace owns: one per blocked range that matters, plus public stand-ins. */
export const LAN_ADDRESSES: LanAddress[] = [
  { label: '10/8', address: '10.57.17.5', kind: 'lan', what: 'private 10.0.0.0/8' },
  { label: '172/12', address: '172.31.57.5', kind: 'lan', what: 'private 172.16.0.0/12' },
  { label: '192/16', address: LAN_GW4, kind: 'lan', what: 'private 192.168.0.0/16 (the LAN router)' },
  { label: 'cgnat', address: '100.64.57.5', kind: 'lan', what: 'CGNAT 100.64.0.0/10' },
  { label: 'll4', address: '169.254.57.5', kind: 'lan', what: 'link-local 169.254.0.0/16' },
  { label: 'ula', address: 'fd57:17::5', kind: 'lan', what: 'ULA fc00::/7' },
  { label: 'pub4', address: '198.51.100.10', kind: 'public', what: 'public stand-in (TEST-NET-2, not blocked)' },
  { label: 'pub6', address: '2001:db8:57::10', kind: 'public', what: 'public stand-in (documentation prefix, not blocked)' },
];

/** Services in the LAN namespace (listening on every address). */
export const LAN_TCP_PORTS = [22, 80, 5432];
export const LAN_UDP_PORTS = [53];
/** Services on the host namespace itself: the Docker TCP socket, an admin API, DNS. */
export const HOST_TCP_PORTS = [2375, 9100];
export const HOST_UDP_PORTS = [53];
/** The peer container's listener. */
export const PEER_TCP_PORT = 80;
/** c-pub's published port (host port = container port). */
export const PUBLISHED_PORT = 8080;

export interface LabNetworkSpec {
  name: string;
  /** `docker network create` arguments (none for the default bridge). */
  createArgs: string[];
}

/** Subnets chosen not to overlap any LAN address above. */
export const LAB_NETWORKS: LabNetworkSpec[] = [
  { name: 'bridge', createArgs: [] },
  { name: 'lab-user', createArgs: ['--subnet', '172.20.1.0/24'] },
  { name: 'lab-custom', createArgs: ['--subnet', '172.20.2.0/24', '-o', 'com.docker.network.bridge.name=lab-custom0'] },
  { name: 'lab-v6', createArgs: ['--ipv6', '--subnet', 'fd00:58::/64', '--subnet', '172.20.3.0/24'] },
  { name: 'lab-internal', createArgs: ['--internal', '--subnet', '172.20.4.0/24'] },
];

/** dockerd's default bridge IPv6 prefix. */
export const DOCKER0_V6 = 'fd00:17::/64';

export interface LabContainerSpec {
  name: string;
  network: string;
  /** Extra `docker run` arguments. */
  runArgs: string[];
  /** Command run in the container (busybox applets). */
  command: string[];
}

const SLEEP = ['sleep', '1000000'];
const listener = (port: number) => ['nc', '-ll', '-l', '-p', String(port), '-e', '/bin/true'];

/** The matrix rows. */
export const LAB_CONTAINERS: LabContainerSpec[] = [
  { name: 'c-default', network: 'bridge', runArgs: [], command: SLEEP },
  { name: 'c-user', network: 'lab-user', runArgs: [], command: SLEEP },
  { name: 'c-custom', network: 'lab-custom', runArgs: [], command: SLEEP },
  { name: 'c-v6', network: 'lab-v6', runArgs: [], command: SLEEP },
  { name: 'c-internal', network: 'lab-internal', runArgs: [], command: SLEEP },
  { name: 'c-pub', network: 'bridge', runArgs: ['-p', `${PUBLISHED_PORT}:${PUBLISHED_PORT}`], command: listener(PUBLISHED_PORT) },
];

/** A container attached to every lab network: the "peer on the same network" of every row. */
export const PEER: LabContainerSpec = { name: 'c-peer', network: 'bridge', runArgs: [], command: listener(PEER_TCP_PORT) };

export const IMAGE = 'lanfence-lab:busybox';
