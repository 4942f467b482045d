/** verify's destinations: one address inside each range, chosen off Docker's subnets, the host and the exceptions. */
import { describe, expect, it } from 'vitest';
import { cidrOf, containsAddress } from '../../src/ruleset/cidr.js';
import { DEFAULT_BLOCKED } from '../../src/ruleset/default-blocklist.js';
import { avoidFor, candidates, parseHostAddresses, pickAddress, type Avoid } from '../../src/verify/targets.js';

const none: Avoid = { hard: [], soft: [] };

describe('candidates: network address + 123, then the same offset in each eighth of the range', () => {
  it('large ranges', () => {
    expect(candidates(cidrOf('10.0.0.0/8')).slice(0, 3)).toEqual(['10.0.0.123', '10.32.0.123', '10.64.0.123']);
    expect(candidates(cidrOf('fc00::/7'))[0]).toBe('fc00::7b');
    expect(candidates(cidrOf('100.64.0.0/10'))[0]).toBe('100.64.0.123');
  });

  it('a /24 wraps the offset inside the range', () => {
    expect(candidates(cidrOf('10.57.17.0/24')).slice(0, 6)).toEqual(['10.57.17.123', '10.57.17.155', '10.57.17.187', '10.57.17.219', '10.57.17.251', '10.57.17.27']);
  });

  it('small ranges: never the network or broadcast address of an IPv4 range; a host route is itself', () => {
    expect(candidates(cidrOf('192.0.2.0/30'))).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(candidates(cidrOf('192.0.2.4/31'))).toEqual(['192.0.2.5']);
    expect(candidates(cidrOf('203.0.113.7/32'))).toEqual(['203.0.113.7']);
    expect(candidates(cidrOf('2001:db8::5/128'))).toEqual(['2001:db8::5']);
    expect(candidates(cidrOf('2001:db8::/127'))).toEqual(['2001:db8::1']);
  });

  it('every candidate lies inside its range, for every built-in range', () => {
    for (const b of DEFAULT_BLOCKED) {
      const c = cidrOf(b.cidr);
      const list = candidates(c);
      expect(list.length, b.cidr).toBeGreaterThan(0);
      expect(list.filter((a) => !containsAddress(c, a)), b.cidr).toEqual([]);
      expect(new Set(list).size, `${b.cidr}: no duplicates`).toBe(list.length);
    }
  });
});

describe('pickAddress', () => {
  it('ranges a container cannot send to are not probed, with the reason', () => {
    const why = (cidr: string) => {
      const p = pickAddress(cidrOf(cidr), none);
      return p.ok ? null : p.why;
    };
    expect(why('127.0.0.0/8')).toMatch(/loopback/);
    expect(why('::1/128')).toMatch(/loopback/);
    expect(why('::/128')).toMatch(/unspecified/);
    expect(why('224.0.0.0/4')).toMatch(/multicast/);
    expect(why('ff00::/8')).toMatch(/multicast/);
    expect(why('fe80::/10')).toMatch(/link-local/);
    expect(why('::ffff:0:0/96')).toMatch(/IPv4-mapped.*as IPv4 packets/);
    // Ranges that merely contain such space are probed elsewhere in them.
    expect(pickAddress(cidrOf('0.0.0.0/8'), none)).toEqual({ ok: true, address: '0.0.0.123' });
    expect(pickAddress(cidrOf('240.0.0.0/4'), none)).toEqual({ ok: true, address: '240.0.0.123' });
  });

  it('moves off Docker\'s subnets (container to container), and says so when the whole range is one', () => {
    const avoid = avoidFor({ bridgeSubnets: [{ network: 'bridge', subnet: '172.17.0.0/16' }, { network: 'low', subnet: '172.16.0.0/16' }], hostAddresses: [], containerAddresses: [], exceptionDestinations: [] });
    expect(pickAddress(cidrOf('172.16.0.0/12'), avoid)).toEqual({ ok: true, address: '172.18.0.123' });
    const whole = pickAddress(cidrOf('172.17.0.0/16'), avoid);
    expect(whole.ok).toBe(false);
    expect(!whole.ok && whole.why).toMatch(/inside Docker network bridge's subnet 172\.17\.0\.0\/16: container to container/);
  });

  it('moves off the host\'s and the containers\' own addresses', () => {
    const avoid = avoidFor({ bridgeSubnets: [], hostAddresses: ['192.0.2.123'], containerAddresses: ['192.0.2.155'], exceptionDestinations: [] });
    expect(pickAddress(cidrOf('192.0.2.0/24'), avoid)).toEqual({ ok: true, address: '192.0.2.187' });
  });

  it('prefers an address no exception opens; takes one that is opened when there is no other, with a note', () => {
    const some = avoidFor({ bridgeSubnets: [], hostAddresses: [], containerAddresses: [], exceptionDestinations: [cidrOf('10.0.0.0/16')] });
    expect(pickAddress(cidrOf('10.0.0.0/8'), some)).toEqual({ ok: true, address: '10.32.0.123' });
    const all = avoidFor({ bridgeSubnets: [], hostAddresses: [], containerAddresses: [], exceptionDestinations: [cidrOf('100.64.0.0/10')] });
    const p = pickAddress(cidrOf('100.64.0.0/10'), all);
    expect(p).toMatchObject({ ok: true, address: '100.64.0.123' });
    expect(p.ok && p.note).toMatch(/opened by an exception/);
  });
});

describe('parseHostAddresses (ip -j addr show)', () => {
  const json = JSON.stringify([
    { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', scope: 'host' }, { family: 'inet6', local: '::1', scope: 'host' }] },
    { ifname: 'enp1s0', addr_info: [{ family: 'inet6', local: 'fd57:0:0::2', scope: 'global' }, { family: 'inet', local: '192.168.57.2', scope: 'global' }, { family: 'inet6', local: 'fe80::1', scope: 'link' }] },
    { ifname: 'docker0', addr_info: [{ family: 'inet', local: '172.17.0.1', scope: 'global' }] },
    { ifname: 'br-0123456789ab', addr_info: [{ family: 'inet6', local: 'fd00:20::1', scope: 'global' }] },
    { ifname: 'veth1234' },
  ]);

  it('global addresses only, canonical, the bridges\' (gateways) flagged and last', () => {
    expect(parseHostAddresses(json, ['docker0', 'br-*'])).toEqual([
      { address: '192.168.57.2', family: 4, iface: 'enp1s0', bridge: false },
      { address: 'fd57::2', family: 6, iface: 'enp1s0', bridge: false },
      { address: '172.17.0.1', family: 4, iface: 'docker0', bridge: true },
      { address: 'fd00:20::1', family: 6, iface: 'br-0123456789ab', bridge: true },
    ]);
  });
});
