/** The iptables backend's rendering: ipsets, LANFENCE-* chains, hooks. Pure: no kernel, no root. */
import { describe, expect, it } from 'vitest';
import {
  BLOCK_SETS,
  hashlimitRate,
  iptablesHooks,
  iptablesInterface,
  quoteComment,
  renderIptables,
  SET_MAXELEM,
  WIDE_PORT_RANGE,
} from '../../src/backends/iptables/render.js';
import { iptablesBackend } from '../../src/backends/iptables/index.js';
import type { Rendered } from '../../src/backends/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import { parsePolicy } from '../../src/policy/load.js';
import { cidrOf, shortText } from '../../src/ruleset/cidr.js';
import { DEFAULT_BLOCKED } from '../../src/ruleset/default-blocklist.js';
import { resolve, type Resolved } from '../../src/ruleset/resolve.js';

const INVENTORY: Inventory = {
  networks: [
    { name: 'bridge', driver: 'bridge', bridge: 'docker0', subnets: ['172.17.0.0/16'], gateways: ['172.17.0.1'], ipv6: false, internal: false },
    { name: 'backend', driver: 'bridge', bridge: 'br-0123456789ab', subnets: ['172.20.0.0/16', 'fd00:20::/64'], gateways: ['172.20.0.1', 'fd00:20::1'], ipv6: true, internal: false },
  ],
  containers: [
    { name: 'web', networkMode: 'default', labels: {}, networks: [{ network: 'bridge', ipv4: '172.17.0.2' }] },
    { name: 'billing', networkMode: 'backend', labels: { role: 'billing' }, networks: [{ network: 'backend', ipv4: '172.20.0.5', ipv6: 'fd00:20::5' }] },
  ],
  source: 'test',
};

function resolvedOf(yaml: string, inventory: Inventory = INVENTORY): Resolved {
  const { ruleset, diagnostics } = parsePolicy(yaml, 'test.yaml');
  if (!ruleset) throw new Error(`invalid test policy: ${JSON.stringify(diagnostics, null, 1)}`);
  return resolve(ruleset, inventory);
}

const renderedOf = (yaml: string, inventory?: Inventory): Rendered => renderIptables(resolvedOf(yaml, inventory));

/** Every exception shape: CIDR/host, any/network/container/label scope, ports or not, wide ranges, IPv6, /0. */
const EVERY_SHAPE = `
allow:
  - to: 10.57.17.5
    comment: 'quoted "db"'
  - to: 10.57.17.0/24
    ports: [5432/tcp, 8000-8100/tcp, 53/udp]
  - to: 192.168.1.10
    from: { network: backend }
  - to: 192.168.1.11
    ports: [443/tcp]
    from: { network: backend }
  - to: 10.0.0.53
    ports: [53/udp, 53/tcp]
    from: { label: role=billing }
    comment: internal DNS
  - to: 192.168.1.20
    from: { container: web }
  - to: 172.16.5.0/24
    ports: [1024-65535/tcp]
  - to: fd00:1::/64
  - to: fd00:2::5
    ports: [443/tcp]
  - to: fd00:3::/48
    ports: [5432/tcp]
    from: { container: billing }
  - to: fe80::1
    from: { container: billing }
  - to: host
    ports: [53/udp, 53/tcp]
    comment: DNS on the host
  - to: host
    from: { network: backend }
  - to: host
    ports: [9100/tcp]
    from: { container: billing }
  - to: 0.0.0.0/0
    ports: [25/tcp]
    from: { container: web }
  - to: ::/0
    from: { network: backend }
  - to: 10.57.17.5
    ports: [5432/tcp]
    from: { network: backend }
    comment: overlaps allow 1
`;

const part = (r: Rendered, tool: string) => r.parts.find((p) => p.tool === tool)!.content;
const lines = (text: string) => text.split('\n');
/** The `-A CHAIN` lines of one chain. */
const chain = (content: string, name: string) => lines(content).filter((l) => l.startsWith(`-A ${name} `));

describe('iptables render: layout', () => {
  const r = renderedOf('');

  it('has an ipset, an iptables and an ip6tables part, all in the text under headers', () => {
    expect(r.backend).toBe('iptables');
    expect(r.parts.map((p) => p.tool)).toEqual(['ipset', 'iptables', 'ip6tables']);
    for (const h of ['# ---- ipset restore ----', '# ---- iptables-restore --noflush ----', '# ---- ip6tables-restore --noflush ----', '# ---- hooks'])
      expect(r.text).toContain(h);
    for (const p of r.parts) expect(r.text).toContain(p.content);
    expect(r.text.indexOf('# ---- ipset restore ----')).toBeLessThan(r.text.indexOf('# ---- iptables-restore'));
  });

  it('the backend object renders and names itself', () => {
    expect(iptablesBackend.name).toBe('iptables');
    expect(iptablesBackend.render(resolvedOf(''))).toEqual(r);
  });

  it('every default range is in the block sets, with its name', () => {
    const ipset = part(r, 'ipset');
    for (const b of DEFAULT_BLOCKED) {
      const c = cidrOf(b.cidr);
      expect(ipset).toContain(`add ${BLOCK_SETS[c.family]}-n ${shortText(c)} comment ${quoteComment(b.name)}\n`);
    }
    expect(ipset).toContain('add lanfence-block4-n 10.0.0.0/8 comment "private (RFC 1918)"\n');
    expect(ipset).toContain('add lanfence-block4-n 100.64.0.0/10 comment');
    expect(ipset).toContain('add lanfence-block6-n fc00::/7 comment');
  });

  it('replaces every set atomically through a twin: create -exist, fill the twin, swap, destroy', () => {
    const ipset = lines(part(r, 'ipset'));
    for (const [name, fam] of [['lanfence-block4', 'inet'], ['lanfence-block6', 'inet6']]) {
      const create = ipset.indexOf(`create ${name} hash:net family ${fam} comment maxelem ${SET_MAXELEM} -exist`);
      const twin = ipset.indexOf(`create ${name}-n hash:net family ${fam} comment maxelem ${SET_MAXELEM} -exist`);
      const flush = ipset.indexOf(`flush ${name}-n`);
      const firstAdd = ipset.findIndex((l) => l.startsWith(`add ${name}-n `));
      const swap = ipset.indexOf(`swap ${name}-n ${name}`);
      const destroy = ipset.indexOf(`destroy ${name}-n`);
      expect(create).toBeGreaterThanOrEqual(0);
      expect([create, twin, flush, firstAdd, swap, destroy]).toEqual([...[create, twin, flush, firstAdd, swap, destroy]].sort((a, b) => a - b));
      expect(new Set([create, twin, flush, firstAdd, swap, destroy]).size).toBe(6);
    }
    // Nothing is ever added to a live set directly.
    expect(ipset.filter((l) => /^add lanfence-block[46] /.test(l))).toEqual([]);
  });

  it('declares every chain (which flushes it on --noflush restore) and only references declared chains and sets', () => {
    for (const tool of ['iptables', 'ip6tables']) {
      const c = part(r, tool);
      for (const name of ['LANFENCE-FWD', 'LANFENCE-FWD-JUDGE', 'LANFENCE-IN', 'LANFENCE-IN-JUDGE', 'LANFENCE-BLOCK']) expect(c).toContain(`\n:${name} - [0:0]\n`);
      expect(c.startsWith('*filter\n')).toBe(true);
      expect(c.endsWith('COMMIT\n')).toBe(true);
      const rules = lines(c).filter((l) => !l.startsWith('#'));
      expect(rules.join('\n')).not.toMatch(/DOCKER-USER|-I |^-A (INPUT|FORWARD) /m);
      // Every jump or goto targets a declared chain (or a built-in target).
      const declared = new Set(rules.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]));
      for (const m of c.matchAll(/ -[jg] (\S+)/g)) expect(declared.has(m[1]) || ['RETURN', 'LOG', 'DROP', 'REJECT'].includes(m[1])).toBe(true);
      // Every set referenced is created by the ipset part.
      for (const m of c.matchAll(/--match-set (\S+)/g)) expect(part(r, 'ipset')).toContain(`create ${m[1]} `);
    }
  });

  it('judges only packets entering from container interfaces; established first; container-to-container untouched; blocks by destination set', () => {
    const fwd = chain(part(r, 'iptables'), 'LANFENCE-FWD');
    expect(fwd).toEqual([
      '-A LANFENCE-FWD -i docker0 -g LANFENCE-FWD-JUDGE',
      '-A LANFENCE-FWD -i br-+ -g LANFENCE-FWD-JUDGE',
      '-A LANFENCE-FWD -i docker_gwbridge -g LANFENCE-FWD-JUDGE',
    ]);
    const judge = chain(part(r, 'iptables'), 'LANFENCE-FWD-JUDGE');
    expect(judge[0]).toBe('-A LANFENCE-FWD-JUDGE -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN');
    expect(judge).toContain('-A LANFENCE-FWD-JUDGE -o br-+ -j RETURN');
    expect(judge.at(-1)).toBe('-A LANFENCE-FWD-JUDGE -m set --match-set lanfence-block4 dst -m comment --comment "blocked destination" -j LANFENCE-BLOCK');
    expect(chain(part(r, 'ip6tables'), 'LANFENCE-FWD-JUDGE').at(-1)).toContain('--match-set lanfence-block6 dst');
  });

  it('input path: every host address is blocked, IPv6 neighbour discovery passes (ip6tables only)', () => {
    const v4 = chain(part(r, 'iptables'), 'LANFENCE-IN-JUDGE');
    const v6 = chain(part(r, 'ip6tables'), 'LANFENCE-IN-JUDGE');
    expect(v4[0]).toContain('--ctstate RELATED,ESTABLISHED -j RETURN');
    expect(v4.at(-1)).toMatch(/^-A LANFENCE-IN-JUDGE -m comment --comment "host address" -j LANFENCE-BLOCK$/);
    expect(v4.join('\n')).not.toContain('icmpv6');
    for (const t of [133, 134, 135, 136]) {
      const i = v6.indexOf(`-A LANFENCE-IN-JUDGE -p ipv6-icmp --icmpv6-type ${t} -j RETURN`);
      expect(i).toBeGreaterThan(0);
      expect(i).toBeLessThan(v6.length - 1);
    }
    expect(chain(part(r, 'iptables'), 'LANFENCE-IN')).toContain('-A LANFENCE-IN -i br-+ -g LANFENCE-IN-JUDGE');
  });

  it('enforce + drop: log rate-limited per (source, destination, port) and under the global ceiling, then DROP', () => {
    const block = chain(part(r, 'iptables'), 'LANFENCE-BLOCK');
    expect(block).toEqual([
      '-A LANFENCE-BLOCK -m hashlimit --hashlimit-mode srcip,dstip,dstport --hashlimit-upto 6/minute --hashlimit-burst 1 --hashlimit-htable-expire 10000 --hashlimit-name lanfence-10s -m limit --limit 50/sec --limit-burst 500 -j LOG --log-prefix "DOCKER_NET_DROP: "',
      '-A LANFENCE-BLOCK -j DROP',
    ]);
  });

  it('hooks: DOCKER-USER (IPv4), FORWARD (IPv6), INPUT (both) — listed in the text, never in the restore parts', () => {
    expect(iptablesHooks(resolvedOf(''))).toEqual([
      { family: 4, chain: 'DOCKER-USER', rule: ['-j', 'LANFENCE-FWD'] },
      { family: 4, chain: 'INPUT', rule: ['-j', 'LANFENCE-IN'] },
      { family: 6, chain: 'FORWARD', rule: ['-j', 'LANFENCE-FWD'] },
      { family: 6, chain: 'INPUT', rule: ['-j', 'LANFENCE-IN'] },
    ]);
    const hooks = r.text.slice(r.text.indexOf('# ---- hooks'));
    expect(lines(hooks).filter((l) => !l.startsWith('#') && l !== '')).toEqual([
      'iptables -I DOCKER-USER 1 -j LANFENCE-FWD',
      'iptables -I INPUT 1 -j LANFENCE-IN',
      'ip6tables -I FORWARD 1 -j LANFENCE-FWD',
      'ip6tables -I INPUT 1 -j LANFENCE-IN',
    ]);
    for (const p of r.parts) expect(p.content).not.toContain('-I ');
  });
});

describe('iptables render: modes and options', () => {
  it('audit mode logs and never drops or rejects', () => {
    const r = renderedOf('mode: audit\naction: reject\n');
    for (const tool of ['iptables', 'ip6tables']) {
      const c = part(r, tool);
      expect(c).not.toMatch(/-j (DROP|REJECT)/);
      expect(chain(c, 'LANFENCE-BLOCK')).toHaveLength(1);
      expect(chain(c, 'LANFENCE-BLOCK')[0]).toContain('-j LOG --log-prefix "DOCKER_NET_DROP: "');
    }
  });

  it('reject: TCP reset first, then ICMP administratively prohibited (per family), no DROP', () => {
    const r = renderedOf('action: reject\n');
    expect(chain(part(r, 'iptables'), 'LANFENCE-BLOCK').slice(1)).toEqual([
      '-A LANFENCE-BLOCK -p tcp -j REJECT --reject-with tcp-reset',
      '-A LANFENCE-BLOCK -j REJECT --reject-with icmp-admin-prohibited',
    ]);
    expect(chain(part(r, 'ip6tables'), 'LANFENCE-BLOCK').slice(1)).toEqual([
      '-A LANFENCE-BLOCK -p tcp -j REJECT --reject-with tcp-reset',
      '-A LANFENCE-BLOCK -j REJECT --reject-with icmp6-adm-prohibited',
    ]);
    expect(r.text).not.toContain('-j DROP');
  });

  it('log rate: one line per period in hashlimit units; expiry is the period; the table name carries the period', () => {
    expect(hashlimitRate(10)).toBe('6/minute');
    expect(hashlimitRate(1)).toBe('1/second');
    expect(hashlimitRate(60)).toBe('1/minute');
    expect(hashlimitRate(45)).toBe('80/hour');
    expect(hashlimitRate(3600)).toBe('1/hour');
    expect(hashlimitRate(7200)).toBe('12/day');
    expect(hashlimitRate(86400)).toBe('1/day');
    expect(hashlimitRate(7)).toBe(`${Math.round(86400 / 7)}/day`);
    const hour = chain(part(renderedOf('log:\n  rate: 1/1h\n  prefix: "LF: "\n'), 'iptables'), 'LANFENCE-BLOCK')[0];
    expect(hour).toContain('--hashlimit-upto 1/hour --hashlimit-burst 1 --hashlimit-htable-expire 3600000 --hashlimit-name lanfence-3600s');
    expect(hour).toContain('--log-prefix "LF: "');
  });

  it('translates interface patterns: trailing * becomes +', () => {
    expect(iptablesInterface('br-*')).toBe('br-+');
    expect(iptablesInterface('veth*')).toBe('veth+');
    expect(iptablesInterface('docker0')).toBe('docker0');
    const r = renderedOf('containers:\n  interfaces: [docker0, "br-*", "veth*"]\n');
    for (const tool of ['iptables', 'ip6tables']) {
      const c = part(r, tool);
      expect(chain(c, 'LANFENCE-FWD')).toEqual([
        '-A LANFENCE-FWD -i docker0 -g LANFENCE-FWD-JUDGE',
        '-A LANFENCE-FWD -i br-+ -g LANFENCE-FWD-JUDGE',
        '-A LANFENCE-FWD -i veth+ -g LANFENCE-FWD-JUDGE',
      ]);
      expect(c).toContain('-A LANFENCE-FWD-JUDGE -o veth+ -j RETURN');
      expect(c).not.toMatch(/-[io] \S*\*/);
    }
  });

  it('auto interfaces add the bridges Docker reports that no pattern covers', () => {
    const inv: Inventory = { ...INVENTORY, networks: [...INVENTORY.networks, { name: 'custom', driver: 'bridge', bridge: 'mybridge', subnets: [], gateways: [], ipv6: false, internal: false }] };
    expect(chain(part(renderedOf('', inv), 'iptables'), 'LANFENCE-FWD')).toContain('-A LANFENCE-FWD -i mybridge -g LANFENCE-FWD-JUDGE');
  });

  it('protect.host off: the input chains stay declared but empty, and INPUT is not hooked', () => {
    const resolved = resolvedOf('protect:\n  host: false\n');
    const r = renderIptables(resolved);
    for (const tool of ['iptables', 'ip6tables']) {
      const c = part(r, tool);
      expect(c).toContain(':LANFENCE-IN - [0:0]');
      expect(chain(c, 'LANFENCE-IN')).toEqual([]);
      expect(chain(c, 'LANFENCE-IN-JUDGE')).toEqual([]);
      expect(chain(c, 'LANFENCE-FWD-JUDGE').length).toBeGreaterThan(0);
    }
    expect(iptablesHooks(resolved).map((h) => h.chain)).toEqual(['DOCKER-USER', 'FORWARD']);
    expect(r.text).not.toContain('-I INPUT');
  });

  it('a /0 cannot be a hash:net member: it is split into its two /1 halves', () => {
    const r = renderedOf('protect:\n  networks: [0.0.0.0/0, "::/0"]\n');
    const ipset = part(r, 'ipset');
    expect(ipset).toContain('add lanfence-block4-n 0.0.0.0/1 comment');
    expect(ipset).toContain('add lanfence-block4-n 128.0.0.0/1 comment');
    expect(ipset).toContain('add lanfence-block6-n ::/1 comment');
    expect(ipset).toContain('add lanfence-block6-n 8000::/1 comment');
    expect(ipset).not.toMatch(/\/0\b/);
  });

  it('only creates sets that have members', () => {
    const r = renderedOf('protect:\n  networks: [10.0.0.0/8]\n');
    expect(part(r, 'ipset')).not.toContain('lanfence-block6');
    expect(part(r, 'ip6tables')).not.toContain('--match-set');
    expect(part(r, 'ipset')).not.toContain('lanfence-a');
  });
});

describe('iptables render: exceptions', () => {
  const resolved = resolvedOf(EVERY_SHAPE);
  const r = renderIptables(resolved);
  const ipset = part(r, 'ipset');
  const v4 = part(r, 'iptables');
  const v6 = part(r, 'ip6tables');

  it('every set name is short, prefixed and stable', () => {
    const names = [...ipset.matchAll(/^create (\S+) /gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(6);
    for (const n of names) {
      expect(n.startsWith('lanfence-')).toBe(true);
      expect(n.length).toBeLessThanOrEqual(31);
    }
    for (const m of (v4 + v6).matchAll(/--match-set (\S+)/g)) expect(names).toContain(m[1]);
    expect(renderIptables(resolvedOf(EVERY_SHAPE)).text).toBe(r.text);
  });

  it('every container, destination only: hash:net on dst', () => {
    expect(ipset).toContain('create lanfence-a4-0-d hash:net family inet comment');
    expect(ipset).toContain(`add lanfence-a4-0-d-n 10.57.17.5 comment "allow #1: quoted 'db'"`);
    expect(v4).toMatch(/^-A LANFENCE-FWD-JUDGE -m set --match-set lanfence-a4-0-d dst -m comment --comment "allow #1: quoted 'db'" -j RETURN$/m);
  });

  it('every container, with ports: hash:net,port on dst,dst; ranges stay ranges', () => {
    expect(ipset).toContain('create lanfence-a4-0-dp hash:net,port family inet comment');
    expect(ipset).toContain('add lanfence-a4-0-dp-n 10.57.17.0/24,tcp:5432 comment "allow #2"');
    expect(ipset).toContain('add lanfence-a4-0-dp-n 10.57.17.0/24,tcp:8000-8100 comment "allow #2"');
    expect(ipset).toContain('add lanfence-a4-0-dp-n 10.57.17.0/24,udp:53 comment "allow #2"');
    expect(v4).toMatch(/^-A LANFENCE-FWD-JUDGE -m set --match-set lanfence-a4-0-dp dst,dst -m comment --comment "allow #2" -j RETURN$/m);
  });

  it('container and label scope with ports: hash:ip,port,net on src,dst,dst (every address of every match)', () => {
    expect(ipset).toContain('create lanfence-a4-0-spd hash:ip,port,net family inet comment');
    expect(ipset).toContain('add lanfence-a4-0-spd-n 172.20.0.5,udp:53,10.0.0.53 comment "allow #5: internal DNS"');
    expect(ipset).toContain('add lanfence-a4-0-spd-n 172.20.0.5,tcp:53,10.0.0.53 comment "allow #5: internal DNS"');
    // allow #15: to 0.0.0.0/0 from web → split into /1 halves.
    expect(ipset).toContain('add lanfence-a4-0-spd-n 172.17.0.2,tcp:25,0.0.0.0/1 comment "allow #15"');
    expect(ipset).toContain('add lanfence-a4-0-spd-n 172.17.0.2,tcp:25,128.0.0.0/1 comment "allow #15"');
    expect(v4).toMatch(/^-A LANFENCE-FWD-JUDGE -m set --match-set lanfence-a4-0-spd src,dst,dst -m comment --comment "allow #5, #15" -j RETURN$/m);
    expect(ipset).toContain('create lanfence-a6-0-spd hash:ip,port,net family inet6 comment');
    expect(ipset).toContain('add lanfence-a6-0-spd-n fd00:20::5,tcp:5432,fd00:3::/48 comment "allow #10"');
  });

  it('container scope without ports: a plain -s/-d rule (hash:net,net is not in every kernel)', () => {
    expect(v4).toContain('-A LANFENCE-FWD-JUDGE -s 172.17.0.2/32 -d 192.168.1.20/32 -m comment --comment "allow #6" -j RETURN');
    expect(v6).toContain('-A LANFENCE-FWD-JUDGE -s fd00:20::5/128 -d fe80::1/128 -m comment --comment "allow #11" -j RETURN');
  });

  it(`port ranges wider than ${WIDE_PORT_RANGE} ports are plain rules, not thousands of set members`, () => {
    expect(ipset).not.toContain('1024-65535');
    expect(v4).toContain('-A LANFENCE-FWD-JUDGE -d 172.16.5.0/24 -p tcp --dport 1024:65535 -m comment --comment "allow #7" -j RETURN');
  });

  it('network scope: its own group, matched with -i <bridge>', () => {
    expect(ipset).toContain('create lanfence-a4-1-d hash:net family inet comment');
    expect(ipset).toContain('add lanfence-a4-1-d-n 192.168.1.10 comment "allow #3"');
    expect(ipset).toContain('add lanfence-a4-1-dp-n 192.168.1.11,tcp:443 comment "allow #4"');
    expect(ipset).toContain('add lanfence-a4-1-dp-n 10.57.17.5,tcp:5432 comment "allow #17: overlaps allow 1"');
    expect(v4).toContain('-A LANFENCE-FWD-JUDGE -i br-0123456789ab -m set --match-set lanfence-a4-1-d dst -m comment --comment "allow #3" -j RETURN');
    expect(v4).toContain('-A LANFENCE-FWD-JUDGE -i br-0123456789ab -m set --match-set lanfence-a4-1-dp dst,dst -m comment --comment "allow #4, #17" -j RETURN');
    // allow #16: ::/0 from backend → hash:net needs the two /1 halves.
    expect(ipset).toContain('add lanfence-a6-1-d-n ::/1 comment "allow #16"');
    expect(ipset).toContain('add lanfence-a6-1-d-n 8000::/1 comment "allow #16"');
    expect(v6).toContain('-A LANFENCE-FWD-JUDGE -i br-0123456789ab -m set --match-set lanfence-a6-1-d dst -m comment --comment "allow #16" -j RETURN');
  });

  it('IPv6 exceptions land in inet6 sets, in ip6tables only', () => {
    expect(ipset).toContain('create lanfence-a6-0-d hash:net family inet6 comment');
    expect(ipset).toContain('add lanfence-a6-0-d-n fd00:1::/64 comment "allow #8"');
    expect(ipset).toContain('add lanfence-a6-0-dp-n fd00:2::5,tcp:443 comment "allow #9"');
    expect(v6).toContain('--match-set lanfence-a6-0-dp dst,dst');
    expect(v4).not.toContain('lanfence-a6');
    expect(v6).not.toContain('lanfence-a4');
  });

  it('exceptions come after established and before the block, in both paths, and only RETURN', () => {
    for (const c of [v4, v6]) {
      for (const name of ['LANFENCE-FWD-JUDGE', 'LANFENCE-IN-JUDGE']) {
        const rules = chain(c, name);
        const allows = rules.map((l, i) => [l, i] as const).filter(([l]) => l.includes('"allow #'));
        expect(allows.length).toBeGreaterThan(0);
        for (const [l, i] of allows) {
          expect(l.endsWith('-j RETURN')).toBe(true);
          expect(i).toBeGreaterThan(0);
          expect(i).toBeLessThan(rules.length - 1);
        }
        expect(rules.at(-1)).toMatch(/-j LANFENCE-BLOCK$/);
      }
      expect(c).not.toContain('ACCEPT');
    }
  });

  it('host exceptions are plain rules in the input path only', () => {
    const in4 = chain(v4, 'LANFENCE-IN-JUDGE');
    expect(in4).toContain('-A LANFENCE-IN-JUDGE -p udp --dport 53 -m comment --comment "allow #12: DNS on the host" -j RETURN');
    expect(in4).toContain('-A LANFENCE-IN-JUDGE -p tcp --dport 53 -m comment --comment "allow #12: DNS on the host" -j RETURN');
    expect(in4).toContain('-A LANFENCE-IN-JUDGE -i br-0123456789ab -m comment --comment "allow #13" -j RETURN');
    expect(in4).toContain('-A LANFENCE-IN-JUDGE -s 172.20.0.5/32 -p tcp --dport 9100 -m comment --comment "allow #14" -j RETURN');
    expect(chain(v6, 'LANFENCE-IN-JUDGE')).toContain('-A LANFENCE-IN-JUDGE -s fd00:20::5/128 -p tcp --dport 9100 -m comment --comment "allow #14" -j RETURN');
    expect(chain(v4, 'LANFENCE-FWD-JUDGE').join('\n')).not.toMatch(/allow #1[234]\b/);
  });

  it('sanitises comments: no double quotes or backslashes reach ipset or iptables', () => {
    expect(quoteComment('a "b" \\c')).toBe(`"a 'b' /c"`);
    expect(Buffer.byteLength(quoteComment('é'.repeat(300)))).toBeLessThanOrEqual(257);
    for (const l of lines(r.text).filter((x) => x.includes('comment "'))) expect(l).toMatch(/comment "[^"\\]*"/);
  });
});

describe('iptables render: determinism', () => {
  it('the same input renders byte-identical text', () => {
    for (const yaml of ['', 'mode: audit\n', EVERY_SHAPE]) {
      const a = renderedOf(yaml);
      const b = renderedOf(yaml);
      expect(b.text).toBe(a.text);
      expect(b.parts).toEqual(a.parts);
    }
  });

  it('the order of containers in the inventory changes nothing', () => {
    const twoWeb: Inventory = {
      ...INVENTORY,
      containers: [...INVENTORY.containers, { name: 'web2', networkMode: 'default', labels: { role: 'billing' }, networks: [{ network: 'bridge', ipv4: '172.17.0.9' }] }],
    };
    const yaml = `${EVERY_SHAPE}  - to: 192.168.7.7\n    from: { label: role=billing }\n`;
    const reversed: Inventory = { ...twoWeb, containers: [...twoWeb.containers].reverse() };
    const a = renderedOf(yaml, twoWeb).text;
    expect(a).toContain('-s 172.17.0.9/32 -d 192.168.7.7/32');
    expect(renderedOf(yaml, reversed).text).toBe(a);
  });
});
