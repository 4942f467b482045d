/** `explain` on every kind of entry: the verdict, the deciding entry, and a suggestion that really allows it. */
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { closeNames, explain, parseTarget, yamlScalar, type Explanation } from '../../src/explain/index.js';
import type { Inventory } from '../../src/inventory/types.js';
import { cidrOf, containsAddress } from '../../src/ruleset/cidr.js';
import { DEFAULT_BLOCKED } from '../../src/ruleset/default-blocklist.js';
import { evaluate } from '../../src/ruleset/evaluate.js';
import { goldenInventory, resolvedOf } from '../support/fixtures.js';

const ask = (policy: string, from: string, to: string, inv: Inventory = goldenInventory(), state?: 'new' | 'established' | 'related'): Explanation =>
  explain(resolvedOf(policy, inv), inv, { from, to, state });

/** The policy with `suggestion` pasted at the end of its `allow:` list (allow must be the policy's last key). */
function withSuggestion(policy: string, suggestion: string): string {
  const item = suggestion.split('\n').map((l) => `  ${l}`).join('\n');
  return /^allow:/m.test(policy) ? `${policy.replace(/\n*$/, '\n')}${item}\n` : `${policy.replace(/\n*$/, '\n')}allow:\n${item}\n`;
}

/** Pastes the suggestion into the policy, asks again, and expects it to be allowed by exactly that entry. */
function expectSuggestionAllows(policy: string, from: string, to: string, before: Explanation, inv: Inventory = goldenInventory()): Explanation {
  expect(before.suggestion, `${from} → ${to}: a suggestion`).toBeDefined();
  const item = parseYaml(before.suggestion!) as Record<string, unknown>[];
  expect(item).toHaveLength(1);
  const after = ask(withSuggestion(policy, before.suggestion!), from, to, inv);
  expect(after.verdict, `${from} → ${to} after pasting:\n${before.suggestion}`).toBe('allowed');
  expect(after.exception?.comment).toBe(item[0].comment);
  return after;
}

/** An address inside a CIDR: network address + 1 (or the address itself for host routes). */
function inside(cidr: string): string {
  const c = cidrOf(cidr);
  if (c.family === 4) {
    const n = c.address.split('.').map(Number);
    if (c.prefix < 32) n[3] += 1;
    return n.join('.');
  }
  return c.prefix < 128 ? c.address.replace(/::$/, '::1').replace(/:0$/, ':1') : c.address;
}
const bracketed = (a: string) => (a.includes(':') ? `[${a}]` : a);

const EXCEPTIONS = `allow:
  - to: 10.57.17.5
    ports: [5432/tcp, 53/udp, 8000-8100/tcp]
    comment: billing database
  - to: 192.168.1.10
    from: { network: backend }
    comment: NAS
  - to: 10.0.0.53
    ports: [53/udp]
    from: { container: web }
    comment: internal DNS
  - to: 10.0.0.54
    from: { label: "lanfence.role=billing" }
    comment: billing API
  - to: fd12::/16
    ports: [22/tcp]
    comment: ULA ssh
  - to: host
    ports: [9100/tcp]
    from: { network: backend }
    comment: node exporter
`;

describe('explain: every default range, by name', () => {
  for (const b of DEFAULT_BLOCKED) {
    const dst = inside(b.cidr);
    const from = cidrOf(b.cidr).family === 4 ? 'web' : 'billing';
    const to = `${bracketed(dst)}:443/tcp`;
    it(`${from} → ${to}: dropped by ${b.cidr} (${b.name}), and the suggestion allows it`, () => {
      const x = ask('', from, to);
      expect(x.verdict).toBe('dropped');
      expect(x.action).toBe('drop');
      expect(x.entry).not.toBe('host');
      if (x.entry === 'host' || !x.entry) throw new Error('no range');
      expect(x.entry.cidr.text).toBe(cidrOf(b.cidr).text);
      expect(x.entry.name).toBe(b.name);
      expect(x.entry.source).toBe('default');
      expect(x.packet).toMatchObject({ dst, dport: 443, proto: 'tcp', path: 'forward', state: 'new' });
      expect(parseYaml(x.suggestion!)).toEqual([{ to: dst, ports: ['443/tcp'], from: { container: from }, comment: `${from} → ${to}` }]);
      expectSuggestionAllows('', from, to, x);
    });
  }

  it('public destinations pass, v4 and v6, with the reason', () => {
    const x = ask('', 'web', '1.1.1.1:443');
    expect(x.verdict).toBe('passes');
    expect(x.reason).toMatch(/no blocked range/);
    expect(x.suggestion).toBeUndefined();
    expect(ask('', 'billing', '[2001:db8::1]:443').verdict).toBe('passes');
  });
});

describe('explain: explicit and extra networks', () => {
  const policy = 'protect:\n  networks: [10.0.0.0/8, 10.200.0.0/16, 198.51.100.0/24]\n  extra: [203.0.113.0/24]\n';
  it('names each entry by where it comes from', () => {
    const a = ask(policy, 'web', '10.1.1.1:22');
    expect(a.verdict).toBe('dropped');
    expect(a.entry).toMatchObject({ name: 'private (RFC 1918)', source: 'networks' });
    const b = ask(policy, 'web', '198.51.100.7:22');
    expect(b.entry).toMatchObject({ name: 'protect.networks', source: 'networks' });
    expect((b.entry as { cidr: { text: string } }).cidr.text).toBe('198.51.100.0/24');
    const c = ask(policy, 'web', '203.0.113.9:80');
    expect(c.entry).toMatchObject({ name: 'protect.extra', source: 'extra' });
    expectSuggestionAllows(policy, 'web', '203.0.113.9:80', c);
  });
  it('an explicit list replaces the defaults', () => {
    expect(ask(policy, 'web', '192.168.1.1:80').verdict).toBe('passes');
  });
  it('extra adds to the defaults', () => {
    const p = 'protect:\n  extra: [203.0.113.0/24]\n';
    expect(ask(p, 'web', '203.0.113.1').entry).toMatchObject({ source: 'extra' });
    expect(ask(p, 'web', '10.0.0.1').entry).toMatchObject({ source: 'default' });
  });
});

describe('explain: exceptions', () => {
  it('ports and port ranges: the exception, its comment, file:line and the matched range', () => {
    const x = ask(EXCEPTIONS, 'web', '10.57.17.5:8050');
    expect(x.verdict).toBe('allowed');
    expect(x.exception).toMatchObject({ index: 1, comment: 'billing database', origin: { file: 'test.yaml', path: 'allow.0', pos: { line: 2 } } });
    expect(x.matchedPorts).toEqual({ proto: 'tcp', from: 8000, to: 8100 });
    expect(ask(EXCEPTIONS, 'web', '10.57.17.5:5432').matchedPorts).toEqual({ proto: 'tcp', from: 5432, to: 5432 });
    expect(ask(EXCEPTIONS, 'web', '10.57.17.5:53/udp').verdict).toBe('allowed');
    expect(ask(EXCEPTIONS, 'web', '10.57.17.5:8100/tcp').verdict).toBe('allowed');
  });

  it('a port outside the exception is dropped; the notes say which ports it has', () => {
    for (const to of ['10.57.17.5:8101', '10.57.17.5:5432/udp', '10.57.17.5:7999/tcp']) {
      const x = ask(EXCEPTIONS, 'web', to);
      expect(x.verdict, to).toBe('dropped');
      expect(x.entry).toMatchObject({ name: 'private (RFC 1918)' });
      expect(x.notes.join('\n')).toMatch(/allow #1 \(billing database\) covers this source and 10\.57\.17\.5, but only 5432\/tcp, 8000-8100\/tcp, 53\/udp/);
      expectSuggestionAllows(EXCEPTIONS, 'web', to, x);
    }
  });

  it('without a port only an exception without ports allows it', () => {
    const x = ask(EXCEPTIONS, 'web', '10.57.17.5');
    expect(x.verdict).toBe('dropped');
    expect(x.packet).toMatchObject({ proto: 'icmp' });
    expect(x.packet?.dport).toBeUndefined();
    expect(x.notes.join('\n')).toMatch(/every port and protocol/);
    expect(parseYaml(x.suggestion!)[0].ports).toBeUndefined();
    expectSuggestionAllows(EXCEPTIONS, 'web', '10.57.17.5', x);
    const nas = ask(EXCEPTIONS, 'backend', '192.168.1.10');
    expect(nas.verdict).toBe('allowed');
    expect(nas.exception?.index).toBe(2);
  });

  it('network scope: the network\'s containers and the network itself, no one else', () => {
    const x = ask(EXCEPTIONS, 'billing', '192.168.1.10:445');
    expect(x.verdict).toBe('allowed');
    expect(x.exception).toMatchObject({ index: 2, comment: 'NAS', from: { kind: 'network', network: 'backend' }, origin: { pos: { line: 5 } } });
    expect(ask(EXCEPTIONS, 'backend', '192.168.1.10:445').verdict).toBe('allowed');
    expect(ask(EXCEPTIONS, 'network:backend', '192.168.1.10:445').verdict).toBe('allowed');
    const web = ask(EXCEPTIONS, 'web', '192.168.1.10:445');
    expect(web.verdict).toBe('dropped');
    expect(web.notes.join('\n')).toMatch(/allow #2 \(NAS\) covers 192\.168\.1\.10, but not this source/);
  });

  it('container scope: by name and by address, not the rest of its network', () => {
    const x = ask(EXCEPTIONS, 'web', '10.0.0.53:53/udp');
    expect(x.verdict).toBe('allowed');
    expect(x.exception).toMatchObject({ index: 3, comment: 'internal DNS', from: { kind: 'container', container: 'web' }, origin: { file: 'test.yaml', pos: { line: 8 } } });
    const byAddress = ask(EXCEPTIONS, '172.17.0.2', '10.0.0.53:53/udp');
    expect(byAddress.verdict).toBe('allowed');
    expect(byAddress.from).toMatchObject({ kind: 'address', container: 'web', network: 'bridge' });
    // the network as a whole (a representative address no container holds) is not web
    const net = ask(EXCEPTIONS, 'bridge', '10.0.0.53:53/udp');
    expect(net.verdict).toBe('dropped');
    expect(net.from).toMatchObject({ kind: 'network', representative: true, address: '172.17.255.254' });
    expect(parseYaml(net.suggestion!)[0].from).toEqual({ network: 'bridge' });
    expectSuggestionAllows(EXCEPTIONS, 'bridge', '10.0.0.53:53/udp', net);
    expect(ask(EXCEPTIONS, 'web', '10.0.0.53:53/tcp').verdict).toBe('dropped');
  });

  it('label scope: every container with the label', () => {
    for (const c of ['billing', 'worker']) {
      const x = ask(EXCEPTIONS, c, '10.0.0.54:443');
      expect(x.verdict, c).toBe('allowed');
      expect(x.exception).toMatchObject({ index: 4, comment: 'billing API', from: { kind: 'label', key: 'lanfence.role', value: 'billing' }, origin: { pos: { line: 12 } } });
    }
    expect(ask(EXCEPTIONS, 'web', '10.0.0.54:443').verdict).toBe('dropped');
  });

  it('an exception from a container\'s lanfence.allow label names the label as its origin', () => {
    const inv = goldenInventory();
    inv.containers.find((c) => c.name === 'worker')!.labels['lanfence.allow'] = '10.0.0.5:5432/tcp';
    const x = ask('', 'worker', '10.0.0.5:5432', inv);
    expect(x.verdict).toBe('allowed');
    expect(x.exception).toMatchObject({ from: { kind: 'container', container: 'worker' }, origin: { file: 'label lanfence.allow on worker' } });
    const other = ask('', 'worker', '10.0.0.5:5433', inv);
    expect(other.verdict).toBe('dropped');
    expectSuggestionAllows('', 'worker', '10.0.0.5:5433', other, inv);
  });

  it('IPv6, with the bracket syntax', () => {
    const x = ask(EXCEPTIONS, 'billing', '[fd12::9]:22/tcp');
    expect(x.verdict).toBe('allowed');
    expect(x.exception).toMatchObject({ index: 5, comment: 'ULA ssh', origin: { pos: { line: 15 } } });
    expect(x.packet).toMatchObject({ src: 'fd00:20::5', dst: 'fd12::9', dport: 22, iif: 'br-0123456789ab' });
    expect(ask(EXCEPTIONS, 'billing', '[fd12::9]:22').verdict).toBe('allowed');
    const drop = ask(EXCEPTIONS, 'billing', '[fd12::9]:23/tcp');
    expect(drop.verdict).toBe('dropped');
    expect(drop.entry).toMatchObject({ name: 'unique local (ULA, RFC 4193)' });
    expect(parseYaml(drop.suggestion!)[0]).toMatchObject({ to: 'fd12::9', ports: ['23/tcp'] });
    expectSuggestionAllows(EXCEPTIONS, 'billing', '[fd12::9]:23/tcp', drop);
    // a bare IPv6 address has no port; v6 from a network picks a v6 representative address
    const net = ask('', 'backend', 'fd12::1');
    expect(net.packet).toMatchObject({ proto: 'icmpv6', src: 'fd00:20::ffff:ffff:ffff:fffe' });
    expectSuggestionAllows('', 'backend', 'fd12::1', net);
  });

  it('to: host — the input path, for the scope and ports given', () => {
    const x = ask(EXCEPTIONS, 'billing', 'host:9100');
    expect(x.verdict).toBe('allowed');
    expect(x.exception).toMatchObject({ index: 6, to: { kind: 'host' }, comment: 'node exporter', origin: { pos: { line: 18 } } });
    expect(x.packet).toMatchObject({ path: 'input', dst: '172.20.0.1', iif: 'br-0123456789ab' });
    // a gateway address is the host too, in either family
    expect(ask(EXCEPTIONS, 'billing', '172.20.0.1:9100').verdict).toBe('allowed');
    expect(ask(EXCEPTIONS, 'billing', '[fd00:20::1]:9100').verdict).toBe('allowed');
    expect(ask(EXCEPTIONS, 'billing', '172.17.0.1:9100').packet?.path).toBe('input');

    const other = ask(EXCEPTIONS, 'billing', 'host:22');
    expect(other.verdict).toBe('dropped');
    expect(other.entry).toBe('host');
    expect(parseYaml(other.suggestion!)).toEqual([{ to: 'host', ports: ['22/tcp'], from: { container: 'billing' }, comment: 'billing → host:22/tcp' }]);
    expectSuggestionAllows(EXCEPTIONS, 'billing', 'host:22', other);

    const worker = ask(EXCEPTIONS, 'worker', 'host:9100/tcp');
    expect(worker.verdict).toBe('dropped');
    expect(worker.to.description).toMatch(/asked as 172\.21\.0\.1, the gateway of network apps/);
    expect(worker.notes.join('\n')).toMatch(/allow #6 \(node exporter\) covers 172\.21\.0\.1, but not this source/);

    // an explicit gateway address gets an exception for that address only
    const gw = ask('', 'web', '172.17.0.1:53/udp');
    expect(gw.entry).toBe('host');
    expect(parseYaml(gw.suggestion!)[0]).toMatchObject({ to: '172.17.0.1', ports: ['53/udp'] });
    expectSuggestionAllows('', 'web', '172.17.0.1:53/udp', gw);
  });

  it("the host's own non-gateway addresses (its LAN address) take the input path when given", () => {
    const lanIp = '192.168.7.77';
    const inv = goldenInventory();
    // Not known as the host's: judged as a packet leaving for the LAN (forward path, private range).
    const asLan = ask(EXCEPTIONS, 'billing', `${lanIp}:9100`);
    expect(asLan.packet?.path).toBe('forward');
    expect(asLan.verdict).toBe('dropped');
    // Known as the host's: the input path, where allow #6 (to: host, 9100/tcp) applies.
    const asHost = explain(resolvedOf(EXCEPTIONS, inv), inv, { from: 'billing', to: `${lanIp}:9100`, hostAddresses: ['10.9.9.9', lanIp] });
    expect(asHost.packet).toMatchObject({ path: 'input', dst: lanIp });
    expect(asHost.to.description).toBe('the host itself (one of its own addresses)');
    expect(asHost.verdict).toBe('allowed');
    expect(asHost.exception?.index).toBe(6);
    // protect.host: false — the host's LAN address is not judged at all (the forward path would have dropped it).
    const off = explain(resolvedOf('protect: { host: false }', inv), inv, { from: 'web', to: `${lanIp}:22`, hostAddresses: [lanIp] });
    expect(off.verdict).toBe('not-judged');
    // IPv6, written differently from the given address
    const v6 = explain(resolvedOf('', inv), inv, { from: 'billing', to: '[2001:db8:0::5]:22', hostAddresses: ['2001:db8::5'] });
    expect(v6.packet?.path).toBe('input');
  });

  it('protect.host: false leaves the host alone', () => {
    const x = ask('protect: { host: false }', 'web', 'host:22');
    expect(x.verdict).toBe('not-judged');
    expect(x.reason).toMatch(/protect\.host is false/);
  });
});

describe('explain: modes and actions', () => {
  it('audit mode logs and passes; the suggestion is what enforce would need', () => {
    const x = ask('mode: audit', 'web', '192.168.1.10:445');
    expect(x.verdict).toBe('logged');
    expect(x.mode).toBe('audit');
    expect(x.action).toBe('drop');
    expect(x.reason).toMatch(/audit mode/);
    expect(x.entry).toMatchObject({ name: 'private (RFC 1918)' });
    expectSuggestionAllows('mode: audit', 'web', '192.168.1.10:445', x);
    expect(ask('mode: audit\naction: reject', 'web', 'host:22')).toMatchObject({ verdict: 'logged', action: 'reject', entry: 'host' });
  });
  it('reject', () => {
    const x = ask('action: reject', 'worker', '100.64.1.1:443');
    expect(x).toMatchObject({ verdict: 'rejected', action: 'reject', mode: 'enforce' });
    expect(x.entry).toMatchObject({ name: 'CGNAT / shared address space (RFC 6598, e.g. Tailscale)' });
    expectSuggestionAllows('action: reject', 'worker', '100.64.1.1:443', x);
  });
});

describe('explain: not judged, and why', () => {
  const withPeer = (): Inventory => {
    const inv = goldenInventory();
    inv.containers.push({ name: 'cache', networkMode: 'default', labels: {}, networks: [{ network: 'bridge', ipv4: '172.17.0.3' }] });
    inv.containers.push({ name: 'sidecar', networkMode: 'container:cache', labels: {}, networks: [] });
    inv.containers.push({ name: 'offline', networkMode: 'none', labels: {}, networks: [] });
    return inv;
  };

  it('a host-network container', () => {
    const x = ask('', 'netdata', '10.0.0.1:22');
    expect(x.verdict).toBe('not-judged');
    expect(x.reason).toMatch(/host network/);
    expect(x.packet).toBeUndefined();
    expect(x.suggestion).toBeUndefined();
    expect(ask('', 'host', '10.0.0.1').reason).toMatch(/host network/);
  });
  it('a macvlan container, by name or address, and the macvlan network', () => {
    for (const from of ['pihole', '192.168.1.53', 'lan']) {
      const x = ask('', from, '10.0.0.1:22');
      expect(x.verdict, from).toBe('not-judged');
      expect(x.reason).toMatch(/macvlan network lan/);
    }
  });
  it('a peer on the same network: container to container', () => {
    const inv = withPeer();
    const x = ask('', 'web', '172.17.0.3:6379', inv);
    expect(x.verdict).toBe('not-judged');
    expect(x.reason).toMatch(/^same network as the destination \(network bridge\): container to container \(docker0 → docker0\)/);
    expect(x.to.description).toMatch(/container cache on network bridge/);
    expect(x.packet).toMatchObject({ iif: 'docker0', oif: 'docker0' });
  });
  it('a container on another network: Docker\'s isolation decides', () => {
    const x = ask('', 'web', '172.20.0.5:5432');
    expect(x.verdict).toBe('not-judged');
    expect(x.reason).toMatch(/container to container \(docker0 → br-0123456789ab\)/);
    expect(x.notes.join('\n')).toMatch(/Docker's own isolation/);
  });
  it('established and related packets', () => {
    expect(ask('', 'web', '10.0.0.1:22', goldenInventory(), 'established')).toMatchObject({ verdict: 'not-judged', reason: expect.stringMatching(/only new connections/) });
    expect(ask('', 'web', '10.0.0.1:22', goldenInventory(), 'related').verdict).toBe('not-judged');
  });
  it('a container sharing another\'s network stack is judged as that one, and scoped to it', () => {
    const inv = withPeer();
    const x = ask('', 'sidecar', '10.0.0.1:22', inv);
    expect(x.verdict).toBe('dropped');
    expect(x.packet?.src).toBe('172.17.0.3');
    expect(parseYaml(x.suggestion!)[0].from).toEqual({ container: 'cache' });
    expectSuggestionAllows('', 'sidecar', '10.0.0.1:22', x, inv);
    expect(ask('', 'offline', '10.0.0.1:22', inv).reason).toMatch(/network mode none/);
  });
  it('addresses that are no container\'s', () => {
    expect(ask('', '192.0.2.77', '10.0.0.1:22')).toMatchObject({ verdict: 'not-judged', reason: expect.stringMatching(/not a container address/) });
    expect(ask('', '172.17.0.1', '10.0.0.1:22').reason).toMatch(/host's own address \(gateway of network bridge\)/);
    const loose = ask('', '172.21.0.99', '10.0.0.1:22');
    expect(loose.verdict).toBe('dropped');
    expect(loose.from).toMatchObject({ kind: 'address', network: 'apps', bridge: 'apps0' });
    expect(parseYaml(loose.suggestion!)[0].from).toEqual({ network: 'apps' });
    expectSuggestionAllows('', '172.21.0.99', '10.0.0.1:22', loose);
  });
  it('a family the source does not have, and its own address', () => {
    expect(ask('', 'web', '[fd12::1]:22').reason).toMatch(/container web has no IPv6 address/);
    expect(ask('', 'apps', '[fd12::1]:22').reason).toMatch(/network apps has no IPv6 subnet/);
    expect(ask('', 'web', '172.17.0.2:80').reason).toMatch(/sender's own address/);
  });
  it('interfaces outside the policy\'s patterns are not judged', () => {
    const x = ask('containers:\n  interfaces: ["veth-app*"]\n', 'web', '10.0.0.1:22');
    expect(x.verdict).toBe('not-judged');
    expect(x.reason).toMatch(/enters from docker0, not a container interface/);
  });
  it('a container on several networks sends through the one that holds the destination, else its first', () => {
    const inv = goldenInventory();
    inv.containers.push({ name: 'proxy', networkMode: 'bridge', labels: {}, networks: [{ network: 'bridge', ipv4: '172.17.0.9' }, { network: 'backend', ipv4: '172.20.0.9', ipv6: 'fd00:20::9' }] });
    inv.networks.push({ name: 'proxy', driver: 'bridge', bridge: 'br-proxy', subnets: ['172.30.0.0/16'], gateways: ['172.30.0.1'], ipv6: false, internal: false });
    expect(ask('', 'proxy', '10.0.0.1:22', inv).packet).toMatchObject({ iif: 'docker0', src: '172.17.0.9' });
    expect(ask('', 'proxy', '172.20.0.1:22', inv).packet).toMatchObject({ iif: 'br-0123456789ab', src: '172.20.0.9', path: 'input' });
    expect(ask('', 'proxy', '[fd12::1]:22', inv).packet).toMatchObject({ iif: 'br-0123456789ab', src: 'fd00:20::9' });
    // "proxy" is a container and a network: the container wins, and the note says how to ask for the network
    expect(ask('', 'proxy', '10.0.0.1', inv).notes.join('\n')).toMatch(/both a container and a network.*network:proxy/);
    expect(ask('', 'network:proxy', '10.0.0.1', inv).packet).toMatchObject({ iif: 'br-proxy' });
  });
  it('loopback destinations get a note', () => {
    expect(ask('', 'web', '127.0.0.1:80').notes.join('\n')).toMatch(/container's own loopback/);
  });
});

describe('explain: usage errors', () => {
  const usage = (from: string, to: string, message: RegExp) => {
    let error: unknown;
    try {
      ask('', from, to);
    } catch (e) {
      error = e;
    }
    expect(error, `${from} → ${to}`).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
  };
  it('unknown names, with close names', () => {
    usage('wbe', '10.0.0.1', /no container, network or address "wbe".*did you mean web\?/);
    usage('billin', '10.0.0.1', /did you mean billing\?/);
    usage('container:backnd', '10.0.0.1', /no container "backnd"/);
    usage('network:backnd', '10.0.0.1', /no network "backnd".*did you mean backend\?/);
    usage('zzzzzzzz', '10.0.0.1', /containers: web, billing, worker, pihole, netdata; networks: bridge, backend, apps, lan, host/);
    usage('10.0.0.300', '10.0.0.1', /not an IPv4 or IPv6 address/);
  });
  it('malformed destinations', () => {
    usage('web', '10.0.0.1:70000', /port 70000 is out of range \(1-65535\)/);
    usage('web', '10.0.0.1:0/udp', /port 0 is out of range/);
    usage('web', '[fd12::1]:65536/tcp', /out of range/);
    usage('web', '10.0.0.1:http', /"http" is not a port number/);
    usage('web', '10.0.0.1:22/sctp', /unknown protocol "sctp"/);
    usage('web', '10.0.0.0/8', /10\.0\.0\.0\/8 is a range/);
    usage('web', 'fd12::1]:22', /unbalanced brackets/);
    usage('web', 'nas.local:445', /"nas.local" is not an IPv4 or IPv6 address/);
    usage('web', '10.0.0.1:22/icmp', /icmp has no ports/);
    usage('web', '', /empty/);
    usage('172.17.0.2', '[fd12::1]:22', /IPv4 address but --to \[fd12::1\]:22 is IPv6/);
  });
});

describe('explain: --to syntax', () => {
  it('parses every form', () => {
    expect(parseTarget('10.0.0.5:5432')).toMatchObject({ kind: 'address', address: '10.0.0.5', family: 4, port: 5432, proto: 'tcp' });
    expect(parseTarget('10.0.0.5:53/udp')).toMatchObject({ port: 53, proto: 'udp' });
    expect(parseTarget('10.0.0.5')).toMatchObject({ port: undefined, proto: undefined });
    expect(parseTarget('10.0.0.5/UDP')).toMatchObject({ port: undefined, proto: 'udp' });
    expect(parseTarget('[FD12::1]:22/tcp')).toMatchObject({ address: 'fd12::1', family: 6, port: 22, proto: 'tcp' });
    expect(parseTarget('[fd12::1]')).toMatchObject({ address: 'fd12::1', port: undefined });
    expect(parseTarget('fd12::1:22')).toMatchObject({ address: 'fd12::1:22', port: undefined }); // brackets are needed for a port
    expect(parseTarget('host')).toMatchObject({ kind: 'host', port: undefined });
    expect(parseTarget('host:53/udp')).toMatchObject({ kind: 'host', port: 53, proto: 'udp' });
    expect(parseTarget('10.0.0.5/icmp')).toMatchObject({ proto: 'icmp' });
  });
});

describe('explain: the evaluator is the specification', () => {
  it('every verdict is the evaluator\'s verdict on the packet explain built', () => {
    const r = resolvedOf(EXCEPTIONS);
    const inv = goldenInventory();
    const kinds = { drop: ['dropped', 'rejected'], log: ['logged'], pass: ['allowed', 'passes'], 'not-judged': ['not-judged'] } as const;
    for (const from of ['web', 'billing', 'worker', 'backend', 'bridge', '172.21.0.99'])
      for (const to of ['10.57.17.5:5432', '10.57.17.5:53/udp', '192.168.1.10:445', '10.0.0.53:53/udp', '10.0.0.54', 'host:9100', 'host:22', '1.1.1.1:443', '172.17.0.1:53/udp']) {
        const x = explain(r, inv, { from, to });
        if (!x.packet) continue;
        const v = evaluate(r, x.packet);
        expect(kinds[v.verdict] as readonly string[], `${from} → ${to}`).toContain(x.verdict);
      }
  });
  it('network sources use an address no container holds, inside the subnet', () => {
    const x = ask('', 'backend', '10.0.0.1');
    expect(containsAddress(cidrOf('172.20.0.0/16'), x.packet!.src)).toBe(true);
    expect(x.packet!.src).not.toBe('172.20.0.5');
  });
});

describe('explain: helpers', () => {
  it('close names', () => {
    expect(closeNames('wbe', ['web', 'billing', 'worker'])).toEqual(['web']);
    expect(closeNames('bill', ['web', 'billing'])).toEqual(['billing']);
    expect(closeNames('zzzz', ['web', 'billing'])).toEqual([]);
  });
  it('YAML scalars survive a round trip', () => {
    for (const s of ['web', 'fd12::1', '::1', '::', '10.0.0.5', 'true', '123', '1e5', 'a: b', 'web → [fd12::1]:22/tcp', 'x#y', '0x1F', 'my-net_1.2'])
      expect(parseYaml(`v: ${yamlScalar(s)}`).v, s).toBe(s);
  });
});
