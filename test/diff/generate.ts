/**
 * fast-check generators for the differential test: random policies (exceptions with every kind of
 * destination, port and scope; mode, action, protect.host, protect.extra, protect.networks,
 * containers.interfaces) and, for each policy, packets biased towards the edges that matter — range
 * boundaries, the exceptions' CIDRs and ports, the host's own addresses, other containers.
 */
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { stringify } from 'yaml';
import { parsePolicy } from '../../src/policy/load.js';
import { DEFAULT_BLOCKED } from '../../src/ruleset/default-blocklist.js';
import { cidrOf, type Cidr, type Family } from '../../src/ruleset/cidr.js';
import type { Ruleset, Scope } from '../../src/ruleset/types.js';
import { BRIDGES, ENDPOINTS, HOST_ADDRESSES, bridgeSubnets, caseKey, observable, type Case, type EndpointSpec, type Proto } from './model.js';

export interface AllowDoc {
  to: string;
  ports?: string[];
  from?: { network?: string; container?: string; label?: string };
  comment?: string;
}

export interface PolicyDoc {
  mode?: 'enforce' | 'audit';
  action?: 'drop' | 'reject';
  protect?: { networks?: 'default' | string[]; extra?: string[]; host?: boolean };
  containers?: { interfaces: 'auto' | string[] };
  allow?: AllowDoc[];
  /** Always set: the lab's log lines (kernel log, when nf_log_all_netns=1) are told apart from other tests'. */
  log: { prefix: string };
}

export interface Batch {
  /** 1-based, in generation order. */
  index: number;
  doc: PolicyDoc;
  yaml: string;
  ruleset: Ruleset;
  cases: Case[];
}

export const LOG_PREFIX = 'LFDIFF: ';

// ---- addresses as numbers ----

const bits = (f: Family) => (f === 4 ? 32 : 128);

export function toBig(address: string): { family: Family; n: bigint } {
  const a = ipaddr.parse(address);
  let n = 0n;
  for (const b of a.toByteArray()) n = (n << 8n) | BigInt(b);
  return { family: a.kind() === 'ipv4' ? 4 : 6, n };
}

export function fromBig(family: Family, n: bigint): string {
  const len = family === 4 ? 4 : 16;
  const bytes: number[] = new Array(len);
  for (let i = len - 1; i >= 0; i--) {
    bytes[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

export function rangeOf(c: Cidr): { first: bigint; last: bigint; max: bigint } {
  const first = toBig(c.address).n;
  const size = 1n << BigInt(bits(c.family) - c.prefix);
  return { first, last: first + size - 1n, max: (1n << BigInt(bits(c.family))) - 1n };
}

/** Offsets around a range's edges: just outside, the edge, just inside — at both ends. */
const EDGES = ['first-1', 'first', 'first+1', 'last-1', 'last', 'last+1'] as const;

function edgeAddress(c: Cidr, edge: (typeof EDGES)[number]): string {
  const { first, last, max } = rangeOf(c);
  const n = { 'first-1': first - 1n, first, 'first+1': first + 1n, 'last-1': last - 1n, last, 'last+1': last + 1n }[edge];
  return fromBig(c.family, n < 0n ? 0n : n > max ? max : n);
}

const insideArb = (c: Cidr): fc.Arbitrary<string> => {
  const { first, last } = rangeOf(c);
  return fc.bigInt({ min: first, max: last }).map((n) => fromBig(c.family, n));
};

// ---- pools ----

/** Public (not blocked by default) networks the generators aim at. Nothing leaves the lab. */
const PUBLIC = ['1.1.1.0/24', '8.8.8.0/24', '9.255.255.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32', '2606:4700::/32', '2a00:1450:4001::/48'].map(cidrOf);
const DEFAULT_CIDRS = DEFAULT_BLOCKED.map((b) => cidrOf(b.cidr));
const ENDPOINT_ADDRESSES = ENDPOINTS.flatMap((e) => [e.v4, e.v6]);
const COMMON_PORTS = [1, 22, 53, 80, 443, 1023, 1024, 2375, 5432, 8080, 9999, 65535];
// Networks by name and by full id (resolve matches both), a macvlan network (grants nothing) and a missing one.
const NETWORK_NAMES = [...BRIDGES.flatMap((b) => (b.network ? [b.network.name] : [])), BRIDGES[1].network!.id, 'macnet', 'no-such-net'];
const CONTAINER_NAMES = [...ENDPOINTS.map((e) => e.name), 'sensor', 'ghost'];
const LABELS = ['com.example.tier=back', 'com.example.tier=front', 'com.example.tier=none'];
const INTERFACE_PATTERNS = ['docker0', 'br-*', 'br-0123456789ab', 'lab-custom0', 'lab-*', 'docker_gwbridge', 'virbr7', 'virbr*'];
const EXTRA_POOL = ['198.51.100.0/24', '203.0.113.128/25', '8.8.8.8/32', '9.0.0.0/8', '192.0.2.0/25', '2001:db8:abcd::/48', '2a00:1450:4001::/48', '2606:4700::/32'];

// ---- policies ----

const prefixArb = (f: Family): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(bits(f)) },
    { weight: 6, arbitrary: fc.constantFrom(...(f === 4 ? [31, 30, 28, 24, 20, 16, 12, 10, 8] : [127, 120, 112, 64, 56, 48, 32, 16])) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: bits(f) }) },
    { weight: 1, arbitrary: fc.constant(0) },
  );

/** An exception's destination: an address inside or at the edge of an interesting range, with a prefix. */
const toCidrArb: fc.Arbitrary<string> = fc
  .constantFrom(...DEFAULT_CIDRS, ...PUBLIC, ...bridgeSubnets, ...HOST_ADDRESSES.map((a) => cidrOf(a)), ...ENDPOINT_ADDRESSES.map((a) => cidrOf(a)))
  .chain((c) => fc.tuple(fc.oneof(insideArb(c), fc.constantFrom(...EDGES).map((e) => edgeAddress(c, e))), prefixArb(c.family), fc.boolean()))
  // A host route is written as a bare address about half the time.
  .map(([addr, prefix, bare]) => (bare && prefix === bits(addr.includes(':') ? 6 : 4) ? addr : `${addr}/${prefix}`));

const protoArb: fc.Arbitrary<Proto> = fc.constantFrom('tcp', 'udp');

const portSpecArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.oneof(fc.constantFrom(...COMMON_PORTS), fc.integer({ min: 1, max: 65535 })), protoArb).map(([p, t]) => `${p}/${t}`) },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.oneof(fc.constantFrom(...COMMON_PORTS), fc.integer({ min: 1, max: 65000 })), fc.integer({ min: 1, max: 300 }), protoArb).map(([a, n, t]) => `${a}-${Math.min(65535, a + n)}/${t}`),
  },
  // Wider than 1,024 ports: the iptables backend turns these into plain rules instead of set members.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 60000 }), fc.integer({ min: 1025, max: 5000 }), protoArb).map(([a, n, t]) => `${a}-${Math.min(65535, a + n)}/${t}`) },
);

const scopeArb: fc.Arbitrary<AllowDoc['from'] | undefined> = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.constantFrom(...NETWORK_NAMES).map((network) => ({ network })) },
  { weight: 3, arbitrary: fc.constantFrom(...CONTAINER_NAMES).map((container) => ({ container })) },
  { weight: 1, arbitrary: fc.constantFrom(...LABELS).map((label) => ({ label })) },
);

const allowArb: fc.Arbitrary<AllowDoc> = fc
  .record({
    to: fc.oneof({ weight: 5, arbitrary: toCidrArb }, { weight: 1, arbitrary: fc.constant('host') }),
    ports: fc.option(fc.array(portSpecArb, { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 3 }),
    from: scopeArb,
    comment: fc.option(fc.constantFrom('db on the LAN', 'printer', 'metrics'), { nil: undefined, freq: 2 }),
  })
  .map((a) => clean(a) as AllowDoc);

export const policyArb: fc.Arbitrary<PolicyDoc> = fc
  .record({
    mode: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.constant('enforce' as const) }, { weight: 1, arbitrary: fc.constant('audit' as const) }),
    action: fc.constantFrom(undefined, 'drop' as const, 'reject' as const),
    host: fc.constantFrom(undefined, true, false),
    networks: fc.oneof(
      { weight: 8, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constant('default' as const) },
      { weight: 2, arbitrary: fc.subarray([...DEFAULT_BLOCKED.map((b) => b.cidr), ...EXTRA_POOL], { minLength: 1 }) },
    ),
    extra: fc.option(fc.subarray(EXTRA_POOL, { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 3 }),
    interfaces: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant('auto' as const) }, { weight: 2, arbitrary: fc.subarray(INTERFACE_PATTERNS, { minLength: 1 }) }),
    allow: fc.array(allowArb, { minLength: 0, maxLength: 8 }),
  })
  .map(
    (p) =>
      clean({
        mode: p.mode,
        action: p.action,
        protect: { networks: p.networks, extra: p.extra, host: p.host },
        containers: p.interfaces === undefined ? undefined : { interfaces: p.interfaces },
        allow: p.allow.length ? p.allow : undefined,
        log: { prefix: LOG_PREFIX },
      }) as PolicyDoc,
  );

/** Drops undefined values, empty lists and objects left empty (recursively). */
export function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clean);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const c = clean(x);
      if (c === undefined || (Array.isArray(c) && c.length === 0)) continue;
      if (c && typeof c === 'object' && !Array.isArray(c) && Object.keys(c).length === 0) continue;
      out[k] = c;
    }
    return out;
  }
  return v;
}

export const policyYaml = (doc: PolicyDoc): string => stringify(doc);

export function rulesetOfDoc(doc: PolicyDoc): Ruleset {
  const yaml = policyYaml(doc);
  const { ruleset, diagnostics } = parsePolicy(yaml, 'diff-policy.yaml');
  if (!ruleset) throw new Error(`the generator made an invalid policy:\n${yaml}\n${diagnostics.map((d) => `${d.path.join('.')}: ${d.message}`).join('\n')}`);
  return ruleset;
}

// ---- packets ----

/** Does an exception's scope name this endpoint (as resolve.ts matches it against the lab inventory)? */
function scopeMatches(from: Scope, e: EndpointSpec): boolean {
  if (!e.docker) return false;
  switch (from.kind) {
    case 'any':
      return true;
    case 'network': {
      const b = BRIDGES.find((x) => x.network && (x.network.name === from.network || x.network.id === from.network));
      return b?.name === e.bridge;
    }
    case 'container':
      return from.container === e.name;
    case 'label':
      return e.labels[from.key] === from.value;
  }
}

/** Ports near the exceptions' ports (edges of every range), with their protocol. */
function portAnchors(ruleset: Ruleset): { proto: Proto; port: number }[] {
  const out: { proto: Proto; port: number }[] = [];
  for (const ex of ruleset.exceptions)
    for (const r of ex.ports ?? [])
      for (const port of [r.from - 1, r.from, r.from + 1, r.to - 1, r.to, r.to + 1]) if (port >= 1 && port <= 65535) out.push({ proto: r.proto, port });
  return out;
}

/** Cases for one policy: destinations around every blocked range and exception, ports around every exception's ports. */
export function casesArb(ruleset: Ruleset, count: number): fc.Arbitrary<Case[]> {
  const cidrs: Cidr[] = [...ruleset.blocked.map((b) => b.cidr), ...ruleset.exceptions.flatMap((x) => (x.to.kind === 'cidr' ? [x.to.cidr] : [])), ...PUBLIC, ...bridgeSubnets];
  const dstArb = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...cidrs), fc.constantFrom(...EDGES)).map(([c, e]) => edgeAddress(c, e)) },
    { weight: 3, arbitrary: fc.constantFrom(...cidrs).chain(insideArb) },
    { weight: 3, arbitrary: fc.constantFrom(...HOST_ADDRESSES) },
    { weight: 2, arbitrary: fc.constantFrom(...ENDPOINT_ADDRESSES) },
    { weight: 1, arbitrary: fc.oneof(fc.bigInt({ min: 0n, max: 0xffffffffn }).map((n) => fromBig(4, n)), fc.bigInt({ min: 0x2000n << 112n, max: (0x4000n << 112n) - 1n }).map((n) => fromBig(6, n))) },
  );
  const anchors = portAnchors(ruleset);
  const common = fc.tuple(protoArb, fc.constantFrom(...COMMON_PORTS)).map(([proto, port]) => ({ proto, port }));
  const random = fc.tuple(protoArb, fc.integer({ min: 1, max: 65535 })).map(([proto, port]) => ({ proto, port }));
  const portArb = anchors.length
    ? fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...anchors) }, { weight: 2, arbitrary: common }, { weight: 2, arbitrary: random })
    : fc.oneof(common, random);
  // Aimed at one exception: a source in its scope, a destination in its CIDR (or a host address),
  // a port in its ranges — so that exceptions of every kind actually get to allow packets.
  const aimedArb: fc.Arbitrary<{ source: string; dst: string; p: { proto: Proto; port: number } }> | null = ruleset.exceptions.length
    ? fc.constantFrom(...ruleset.exceptions).chain((ex) => {
        const inScope = ENDPOINTS.filter((e) => scopeMatches(ex.from, e)).map((e) => e.name);
        const dst = ex.to.kind === 'host' ? fc.constantFrom(...HOST_ADDRESSES) : fc.oneof(insideArb(ex.to.cidr), fc.constantFrom(...EDGES).map((e) => edgeAddress((ex.to as { cidr: Cidr }).cidr, e)));
        const p = ex.ports
          ? fc.constantFrom(...ex.ports).chain((r) => fc.integer({ min: r.from, max: r.to }).map((port) => ({ proto: r.proto, port })))
          : portArb;
        return fc.record({ source: fc.constantFrom(...(inScope.length ? inScope : ENDPOINTS.map((e) => e.name))), dst, p });
      })
    : null;
  const sourceArb = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ENDPOINTS.filter((e) => e.docker).map((e) => e.name)) },
    { weight: 1, arbitrary: fc.constant('vm') },
  );
  const anyArb = fc.record({ source: sourceArb, dst: dstArb, p: portArb });
  const caseArb: fc.Arbitrary<Case> = (aimedArb ? fc.oneof({ weight: 3, arbitrary: anyArb }, { weight: 1, arbitrary: aimedArb }) : anyArb)
    .filter(({ source, dst }) => observable(source, dst))
    .map(({ source, dst, p }) => ({ source, dst, proto: p.proto, dport: p.port }));
  // Distinct (source, destination, protocol, port): no probe meets another's conntrack entry or record.
  return fc.uniqueArray(caseArb, { minLength: count, maxLength: count, selector: caseKey });
}

export const batchArb = (casesPerPolicy: number): fc.Arbitrary<{ doc: PolicyDoc; ruleset: Ruleset; cases: Case[] }> =>
  policyArb.chain((doc) => {
    const ruleset = rulesetOfDoc(doc);
    return casesArb(ruleset, casesPerPolicy).map((cases) => ({ doc, ruleset, cases }));
  });

/** Deterministic batches for `seed`: policies until at least `target` cases. */
export function generateBatches(seed: number, target: number, casesPerPolicy = 40): Batch[] {
  const runs = Math.ceil(target / casesPerPolicy);
  return fc.sample(batchArb(casesPerPolicy), { seed, numRuns: runs }).map((b, i) => ({ index: i + 1, doc: b.doc, yaml: policyYaml(b.doc), ruleset: b.ruleset, cases: b.cases }));
}
