/** The evaluator: the specification of what the rules mean. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BLOCKED } from '../../src/ruleset/default-blocklist.js';
import { evaluate, type Packet } from '../../src/ruleset/evaluate.js';
import { cidrOf } from '../../src/ruleset/cidr.js';
import { resolvedOf } from '../support/fixtures.js';

const fwd = (dst: string, extra: Partial<Packet> = {}): Packet => ({
  iif: 'docker0',
  oif: 'eth0',
  src: dst.includes(':') ? 'fd00:17::2' : '172.17.0.2',
  dst,
  proto: 'tcp',
  dport: 443,
  path: 'forward',
  ...extra,
});

/** An address inside a CIDR: network address + 1 (or the address for host routes). */
function inside(cidr: string): string {
  const c = cidrOf(cidr);
  if (c.family === 4) {
    const n = c.address.split('.').map(Number);
    if (c.prefix < 32) n[3] += 1;
    return n.join('.');
  }
  return c.prefix < 128 ? c.address.replace(/::$/, '::1').replace(/:0$/, ':1') : c.address;
}

describe('evaluate: default policy', () => {
  const r = resolvedOf('');

  for (const b of DEFAULT_BLOCKED) {
    it(`drops a new connection to ${b.cidr} (${b.name})`, () => {
      const dst = inside(b.cidr);
      const v = evaluate(r, fwd(dst));
      expect(v.verdict).toBe('drop');
      expect(v.action).toBe('drop');
      expect(v.entry).not.toBe('host');
      expect(v.entry && v.entry !== 'host' && v.entry.cidr.text).toBe(cidrOf(b.cidr).text);
      expect(v.reason).toContain(b.name);
    });
  }

  it('passes public destinations, v4 and v6', () => {
    expect(evaluate(r, fwd('203.0.113.9')).verdict).toBe('pass');
    expect(evaluate(r, fwd('2001:db8::1')).verdict).toBe('pass');
    expect(evaluate(r, fwd('1.1.1.1')).reason).toMatch(/no blocked range/);
  });

  it('only judges new connections', () => {
    expect(evaluate(r, fwd('10.0.0.1', { state: 'established' })).verdict).toBe('not-judged');
    expect(evaluate(r, fwd('10.0.0.1', { state: 'related' })).verdict).toBe('not-judged');
  });

  it('only judges what enters from container interfaces, whatever the uplink is named', () => {
    expect(evaluate(r, fwd('10.0.0.1', { iif: 'enp1s0', oif: 'wg0' })).verdict).toBe('not-judged');
    expect(evaluate(r, fwd('10.0.0.1', { oif: 'enp1s0' })).verdict).toBe('drop');
    expect(evaluate(r, fwd('10.0.0.1', { iif: 'br-0123456789ab' })).verdict).toBe('drop');
    expect(evaluate(r, fwd('10.0.0.1', { iif: 'docker_gwbridge' })).verdict).toBe('drop');
  });

  it('covers custom bridge names Docker reports (auto)', () => {
    expect(r.interfaces).toContain('apps0');
    expect(evaluate(r, fwd('10.0.0.1', { iif: 'apps0' })).verdict).toBe('drop');
  });

  it('leaves container-to-container traffic to Docker', () => {
    const v = evaluate(r, fwd('172.20.0.5', { oif: 'br-0123456789ab' }));
    expect(v.verdict).toBe('not-judged');
    expect(v.reason).toMatch(/Docker's business/);
  });

  it('blocks every host address on the input path, v4 and v6, public ones included', () => {
    for (const dst of ['172.17.0.1', '192.168.1.20', '203.0.113.5', 'fd00:20::1']) {
      const v = evaluate(r, { ...fwd(dst), oif: undefined, path: 'input' });
      expect(v.verdict, dst).toBe('drop');
      expect(v.entry).toBe('host');
    }
  });

  it('lets IPv6 neighbour discovery reach the host', () => {
    const v = evaluate(r, { iif: 'docker0', src: 'fe80::2', dst: 'fe80::1', proto: 'icmpv6', icmpType: 135, path: 'input' });
    expect(v.verdict).toBe('not-judged');
    expect(evaluate(r, { iif: 'docker0', src: 'fe80::2', dst: 'fe80::1', proto: 'icmpv6', icmpType: 128, path: 'input' }).verdict).toBe('drop');
  });
});

describe('evaluate: modes and actions', () => {
  it('audit logs what enforce would drop', () => {
    const v = evaluate(resolvedOf('mode: audit'), fwd('192.168.1.10'));
    expect(v.verdict).toBe('log');
    expect(v.reason).toMatch(/audit/);
  });
  it('reject is a drop with action reject', () => {
    expect(evaluate(resolvedOf('action: reject'), fwd('10.1.1.1'))).toMatchObject({ verdict: 'drop', action: 'reject' });
  });
  it('protect.host: false leaves the input path alone', () => {
    expect(evaluate(resolvedOf('protect: { host: false }'), { ...fwd('172.17.0.1'), path: 'input' }).verdict).toBe('not-judged');
  });
  it('explicit networks replace the default list; extra adds', () => {
    const r = resolvedOf('protect:\n  networks: [10.0.0.0/8]\n  extra: [203.0.113.0/24]\n');
    expect(evaluate(r, fwd('192.168.1.1')).verdict).toBe('pass');
    expect(evaluate(r, fwd('10.1.1.1')).verdict).toBe('drop');
    expect(evaluate(r, fwd('203.0.113.7')).verdict).toBe('drop');
  });
  it('custom interface patterns replace auto', () => {
    const r = resolvedOf('containers:\n  interfaces: ["veth-app*"]\n');
    expect(evaluate(r, fwd('10.1.1.1')).verdict).toBe('not-judged');
    expect(evaluate(r, fwd('10.1.1.1', { iif: 'veth-app3' })).verdict).toBe('drop');
  });
});

describe('evaluate: exceptions', () => {
  const r = resolvedOf(`allow:
  - to: 10.57.17.5
    ports: [5432/tcp, 53/udp, 8000-8100/tcp]
    comment: billing database
  - to: 192.168.1.10
    from: { network: backend }
  - to: 10.0.0.53
    ports: [53/udp]
    from: { container: web }
  - to: 10.0.0.54
    from: { label: "lanfence.role=billing" }
  - to: fd12::/16
    ports: [22/tcp]
  - to: host
    ports: [9100/tcp]
    from: { network: backend }
`);

  it('allows exactly the listed ports and protocols', () => {
    const ok = evaluate(r, fwd('10.57.17.5', { dport: 5432 }));
    expect(ok.verdict).toBe('pass');
    expect(ok.exception?.index).toBe(1);
    expect(ok.reason).toContain('billing database');
    expect(evaluate(r, fwd('10.57.17.5', { proto: 'udp', dport: 53 })).verdict).toBe('pass');
    expect(evaluate(r, fwd('10.57.17.5', { dport: 8000 })).verdict).toBe('pass');
    expect(evaluate(r, fwd('10.57.17.5', { dport: 8100 })).verdict).toBe('pass');
    expect(evaluate(r, fwd('10.57.17.5', { dport: 8101 })).verdict).toBe('drop');
    expect(evaluate(r, fwd('10.57.17.5', { proto: 'udp', dport: 5432 })).verdict).toBe('drop');
    expect(evaluate(r, fwd('10.57.17.5', { proto: 'icmp', dport: undefined })).verdict).toBe('drop');
    expect(evaluate(r, fwd('10.57.17.6', { dport: 5432 })).verdict).toBe('drop');
  });

  it('network scope matches the network\'s bridge only', () => {
    expect(evaluate(r, fwd('192.168.1.10', { iif: 'br-0123456789ab', src: '172.20.0.5' })).verdict).toBe('pass');
    expect(evaluate(r, fwd('192.168.1.10')).verdict).toBe('drop');
  });

  it('container scope matches the container\'s addresses only', () => {
    expect(evaluate(r, fwd('10.0.0.53', { proto: 'udp', dport: 53, src: '172.17.0.2' })).verdict).toBe('pass');
    expect(evaluate(r, fwd('10.0.0.53', { proto: 'udp', dport: 53, src: '172.17.0.3' })).verdict).toBe('drop');
  });

  it('label scope matches every container with the label', () => {
    expect(evaluate(r, fwd('10.0.0.54', { iif: 'br-0123456789ab', src: '172.20.0.5' })).verdict).toBe('pass');
    expect(evaluate(r, fwd('10.0.0.54', { iif: 'apps0', src: '172.21.0.7' })).verdict).toBe('pass');
    expect(evaluate(r, fwd('10.0.0.54', { src: '172.17.0.2' })).verdict).toBe('drop');
  });

  it('IPv6 exceptions', () => {
    expect(evaluate(r, fwd('fd12::9', { dport: 22 })).verdict).toBe('pass');
    expect(evaluate(r, fwd('fd13::9', { dport: 22 })).verdict).toBe('drop');
  });

  it('to: host opens the input path only, for the scope and ports given', () => {
    const host = (extra: Partial<Packet>) => evaluate(r, { ...fwd('172.20.0.1'), oif: undefined, path: 'input', dport: 9100, ...extra });
    expect(host({ iif: 'br-0123456789ab', src: '172.20.0.5' }).verdict).toBe('pass');
    expect(host({ iif: 'br-0123456789ab', src: '172.20.0.5', dport: 22 }).verdict).toBe('drop');
    expect(host({ iif: 'docker0', src: '172.17.0.2', dst: '172.17.0.1' }).verdict).toBe('drop');
    // a host exception never opens the forward path
    expect(evaluate(r, fwd('172.31.0.1', { iif: 'br-0123456789ab', dport: 9100 })).verdict).toBe('drop');
  });

  it('a CIDR exception that covers a host address also opens it on the input path', () => {
    const v = evaluate(r, { ...fwd('10.57.17.5'), oif: undefined, path: 'input', dport: 5432 });
    expect(v.verdict).toBe('pass');
  });

  it('a scope that matches nothing grants nothing and says so', () => {
    const r2 = resolvedOf('allow:\n  - to: 10.9.9.9\n    from: { container: ghost }\n  - to: 10.9.9.8\n    from: { network: nope }\n');
    expect(r2.allow).toHaveLength(0);
    expect(r2.notes.join('\n')).toMatch(/container "ghost".*grants nothing/);
    expect(r2.notes.join('\n')).toMatch(/network "nope".*grants nothing/);
    expect(evaluate(r2, fwd('10.9.9.9')).verdict).toBe('drop');
  });
});

describe('resolve: containers that cannot be protected', () => {
  it('reports host-network and macvlan containers with the reason', () => {
    const r = resolvedOf('');
    expect(r.unprotected).toEqual([
      { container: 'pihole', reason: expect.stringMatching(/macvlan/) },
      { container: 'netdata', reason: expect.stringMatching(/host network/) },
    ]);
  });
});
