/**
 * Fixture data for the dashboard's tests and the mock server: a small Docker host in audit mode
 * (the policy and rendered rules in fixtures/ were produced by `lanfence plan` from
 * fixtures/policy.yaml and fixtures/inventory.json). Times are relative to `now`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  ContainerDetail,
  ContainerSummary,
  Coverage,
  Drop,
  Overview,
  PolicyInfo,
  Suggestion,
} from '../../src/web/client/types.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
// A path, not a URL object: under jsdom the global URL is not Node's.
const file = (name: string) => readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');

export const POLICY_FILE = '/etc/lanfence/policy.yaml';
export const POLICY_HASH = '6b29eb5c0181e986b70083db0912db9efd8e5a54da967f6546d92219326d2cb5';
export const PRIVATE_192 = '192.168.0.0/16 (private, RFC 1918)';
export const PRIVATE_10 = '10.0.0.0/8 (private, RFC 1918)';
export const ULA = 'fc00::/7 (unique local, ULA, RFC 4193)';

export const containers: ContainerSummary[] = [
  { name: 'web', id: 'a3f9c2e1d4b5a3f9c2e1d4b5a3f9c2e1d4b5a3f9c2e1d4b5a3f9c2e1d4b5a3f9', networks: [{ network: 'shop_default', ipv4: '172.20.0.2', ipv6: 'fd00:20::2', bridge: 'br-3f2a9c1d7e6b' }] },
  { name: 'billing', id: 'b7e41d0c9a8fb7e41d0c9a8fb7e41d0c9a8fb7e41d0c9a8fb7e41d0c9a8fb7e4', networks: [{ network: 'shop_default', ipv4: '172.20.0.3', ipv6: 'fd00:20::3', bridge: 'br-3f2a9c1d7e6b' }] },
  { name: 'grafana', id: 'c18d2f7a6e5bc18d2f7a6e5bc18d2f7a6e5bc18d2f7a6e5bc18d2f7a6e5bc18d', networks: [{ network: 'monitoring', ipv4: '172.22.0.2', ipv6: null, bridge: 'br-8c1e0f4b2a91' }] },
  { name: 'updater', id: 'd50b3a9e8c7fd50b3a9e8c7fd50b3a9e8c7fd50b3a9e8c7fd50b3a9e8c7fd50b', networks: [{ network: 'bridge', ipv4: '172.17.0.4', ipv6: null, bridge: 'docker0' }] },
  { name: 'pihole', id: 'e62c4b0f9d8ae62c4b0f9d8ae62c4b0f9d8ae62c4b0f9d8ae62c4b0f9d8ae62c', networks: [{ network: 'lan', ipv4: '192.168.1.53', ipv6: null, bridge: null }] },
  { name: 'netdata', id: 'f73d5c1a0e9bf73d5c1a0e9bf73d5c1a0e9bf73d5c1a0e9bf73d5c1a0e9bf73d', networks: [] },
];

export const UNPROTECTED = [
  { container: 'pihole', reason: "macvlan network: traffic bypasses the host's bridge and forward path (lan)" },
  { container: 'netdata', reason: "host network: the container shares the host's network stack" },
];

const project: Record<string, string | null> = { web: 'shop', billing: 'shop' };

export function makeDrop(now: number, container: string, dst: string, dport: number | null, proto: string, entry: string, ago: number): Drop {
  const c = containers.find((x) => x.name === container)!;
  const att = c.networks[0];
  const v6 = dst.includes(':');
  return {
    time: now - ago,
    container,
    containerId: c.id,
    network: att?.network ?? null,
    project: project[container] ?? null,
    src: (v6 ? att?.ipv6 : att?.ipv4) ?? '0.0.0.0',
    dst,
    proto,
    dport,
    entry,
    path: entry === 'host' ? 'input' : 'forward',
    mode: 'audit',
  };
}

/** Newest first. */
export function drops(now: number): Drop[] {
  const list: Drop[] = [
    makeDrop(now, 'web', '192.168.1.20', 445, 'tcp', PRIVATE_192, 40_000),
    makeDrop(now, 'billing', '10.57.17.5', 5432, 'tcp', PRIVATE_10, 95_000),
    makeDrop(now, 'grafana', '192.168.1.11', 9100, 'tcp', PRIVATE_192, 3 * MIN),
    makeDrop(now, 'web', '172.20.0.1', 2375, 'tcp', 'host', 7 * MIN),
    makeDrop(now, 'billing', 'fd12:3456::10', 443, 'tcp', ULA, 12 * MIN),
  ];
  for (let i = 0; i < 12; i++) list.push(makeDrop(now, 'updater', `192.168.1.${30 + i}`, 22, 'tcp', PRIVATE_192, 20 * MIN + i * 1500));
  list.push(makeDrop(now, 'billing', '10.57.17.5', 5432, 'tcp', PRIVATE_10, 2 * HOUR));
  return list.sort((a, b) => (b.time as number) - (a.time as number));
}

export function overview(now: number): Overview {
  return {
    backend: 'nftables',
    mode: 'audit',
    appliedAt: now - 3 * HOUR - 12 * MIN,
    policyHash: POLICY_HASH,
    rules: 'ok',
    differences: [],
    docker: { up: true, since: now - 2 * 24 * HOUR },
    drops: { lastHour: 37, lastDay: 412 },
    unprotected: UNPROTECTED,
    daemon: { startedAt: now - 2 * 24 * HOUR - 5 * MIN, applies: 3, setUpdates: 14, repairs: 1, failures: 0 },
  };
}

/** 288 five-minute buckets over 24 h, deterministic. */
export function series(now: number, seed: number, scale: number): { t: number; count: number }[] {
  const start = Math.floor((now - 24 * HOUR) / (5 * MIN)) * 5 * MIN;
  let x = seed;
  const out: { t: number; count: number }[] = [];
  for (let i = 0; i < 288; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const base = (x % 100) / 100;
    const busy = i > 200 && i < 230 ? 4 : 1;
    out.push({ t: start + i * 5 * MIN, count: base > 0.55 ? Math.round(base * scale * busy) : 0 });
  }
  return out;
}

export function containerDetail(now: number, name: string): ContainerDetail | null {
  const c = containers.find((x) => x.name === name);
  if (!c) return null;
  const labels: Record<string, string> =
    name === 'web'
      ? { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web', 'lanfence.allow': '10.57.17.5:5432/tcp' }
      : name === 'billing'
        ? { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'billing' }
        : {};
  const exceptions: ContainerDetail['exceptions'] = [
    { index: 1, text: 'every container → 10.57.17.53 53/tcp, 53/udp (LAN DNS resolver)', origin: { file: POLICY_FILE, path: 'allow.0', pos: { line: 9, col: 5 } } },
    { index: 3, text: 'every container → host 53/udp (DNS on the host)', origin: { file: POLICY_FILE, path: 'allow.2', pos: { line: 16, col: 5 } } },
  ];
  if (name === 'grafana')
    exceptions.splice(1, 0, { index: 2, text: 'container grafana → 192.168.1.10 9100/tcp (node exporter on the NAS)', origin: { file: POLICY_FILE, path: 'allow.1', pos: { line: 12, col: 5 } } });
  if (name === 'web') exceptions.push({ index: 4, text: 'container web → 10.57.17.5 5432/tcp', origin: { file: 'label lanfence.allow on web', path: 'lanfence.allow' } });

  const mine = drops(now).filter((d) => d.container === name);
  const byDest = new Map<string, ContainerDetail['destinations'][number]>();
  for (const d of mine) {
    const k = `${d.dst}|${d.dport}|${d.proto}`;
    const cur = byDest.get(k);
    const t = d.time as number;
    if (cur) {
      cur.count += 1;
      cur.first = Math.min(cur.first as number, t);
      cur.last = Math.max(cur.last as number, t);
    } else byDest.set(k, { dst: d.dst, port: d.dport, proto: d.proto, entry: d.entry, count: 1, first: t, last: t });
  }
  const seeds: Record<string, [number, number]> = { web: [7, 6], billing: [11, 9], grafana: [3, 3], updater: [5, 20] };
  const [seed, scale] = seeds[name] ?? [1, 0];
  const points = series(now, seed, scale);
  // The attempts the series counts, spread over the destinations (most on the first) so both agree.
  const destinations = [...byDest.values()];
  let left = points.reduce((sum, p) => sum + p.count, 0) - destinations.length;
  destinations.forEach((d, i) => {
    const extra = i === destinations.length - 1 ? left : Math.round(left * (i === 0 ? 0.7 : 0.5));
    d.count += Math.max(0, extra);
    left -= Math.max(0, extra);
    d.first = Math.min(d.first as number, now - 23 * HOUR + i * 17 * MIN);
  });
  return {
    ...c,
    labels,
    exceptions: name === 'pihole' || name === 'netdata' ? [] : exceptions,
    series: points,
    destinations,
  };
}

export const coverage: Coverage = {
  networks: [
    { name: 'bridge', driver: 'bridge', bridge: 'docker0', covered: true, ipv6: false, internal: false, subnets: ['172.17.0.0/16'] },
    { name: 'shop_default', driver: 'bridge', bridge: 'br-3f2a9c1d7e6b', covered: true, ipv6: true, internal: false, subnets: ['172.20.0.0/16', 'fd00:20::/64'] },
    { name: 'monitoring', driver: 'bridge', bridge: 'br-8c1e0f4b2a91', covered: true, ipv6: false, internal: false, subnets: ['172.22.0.0/16'] },
    { name: 'lan', driver: 'macvlan', bridge: null, covered: false, reason: "macvlan network: traffic bypasses the host's bridge and forward path", ipv6: false, internal: false, subnets: ['192.168.1.0/24'] },
    { name: 'host', driver: 'host', bridge: null, covered: false, reason: "host network: its containers share the host's network stack", ipv6: false, internal: false, subnets: [] },
    { name: 'none', driver: 'null', bridge: null, covered: false, reason: 'no network: its containers have only loopback, nothing to filter', ipv6: false, internal: false, subnets: [] },
  ],
  containers: [
    { name: 'web', networks: ['shop_default'], protected: true },
    { name: 'billing', networks: ['shop_default'], protected: true },
    { name: 'grafana', networks: ['monitoring'], protected: true },
    { name: 'updater', networks: ['bridge'], protected: true },
    { name: 'pihole', networks: ['lan'], protected: false, reason: UNPROTECTED[0].reason },
    { name: 'netdata', networks: ['host'], protected: false, reason: UNPROTECTED[1].reason },
  ],
};

export function suggestions(now: number): Suggestion[] {
  return [
    {
      container: 'billing',
      kind: 'service',
      target: '10.57.17.5 5432/tcp',
      count: 23,
      first: now - 20 * HOUR,
      last: now - 95_000,
      yaml: '- to: 10.57.17.5\n  ports: [5432/tcp]\n  from: { container: billing }\n  comment: "billing → 10.57.17.5:5432/tcp"\n',
    },
    {
      container: 'grafana',
      kind: 'service',
      target: '192.168.1.11 9100/tcp',
      count: 288,
      first: now - 24 * HOUR,
      last: now - 3 * MIN,
      yaml: '- to: 192.168.1.11\n  ports: [9100/tcp]\n  from: { container: grafana }\n  comment: "grafana → 192.168.1.11:9100/tcp"\n',
    },
    {
      container: 'updater',
      kind: 'scan',
      count: 254,
      first: now - 21 * MIN,
      last: now - 20 * MIN,
      yaml: '# updater tried 254 addresses of 192.168.1.0/24 on 22/tcp within a minute: a scan, not a service.\n# Allowing it is not recommended.\n- to: 192.168.1.0/24\n  ports: [22/tcp]\n  from: { container: updater }\n  comment: "updater → 192.168.1.0/24:22/tcp (scan)"\n',
    },
  ];
}

export const policy: PolicyInfo = {
  file: POLICY_FILE,
  hash: POLICY_HASH,
  text: file('policy.yaml'),
  backend: 'nftables',
  rendered: file('rendered.nft'),
};
