import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CHAINS,
  checkFirewalld,
  commentText,
  directRulesToRestore,
  firewalldBackend,
  firewalldDirectRules,
  hashlimitRate,
  parseFirewalldScript,
  renderFirewalld,
  shellWords,
  type DirectEntry,
  type DirectRule,
  type IpFamily,
} from '../../src/backends/firewalld/index.js';
import { runCommand, type Runner } from '../../src/exec.js';
import type { Inventory } from '../../src/inventory/types.js';
import { parsePolicy } from '../../src/policy/load.js';
import { cidrOf } from '../../src/ruleset/cidr.js';
import { DEFAULT_BLOCKED } from '../../src/ruleset/default-blocklist.js';
import { resolve, type Resolved } from '../../src/ruleset/resolve.js';

const INVENTORY: Inventory = {
  networks: [
    { name: 'backend', driver: 'bridge', bridge: 'br-0123456789ab', subnets: ['172.20.0.0/16'], gateways: ['172.20.0.1'], ipv6: false, internal: false },
    { name: 'v6net', driver: 'bridge', bridge: 'lf-v6', subnets: ['172.21.0.0/16', 'fd00:21::/64'], gateways: ['172.21.0.1'], ipv6: true, internal: false },
  ],
  containers: [
    { name: 'app', networkMode: 'backend', labels: { tier: 'web' }, networks: [{ network: 'backend', ipv4: '172.20.0.5' }] },
    { name: 'six', networkMode: 'v6net', labels: { tier: 'web' }, networks: [{ network: 'v6net', ipv4: '172.21.0.7', ipv6: 'fd00:21::7' }] },
  ],
  source: 'test',
};

function resolved(yaml: string, inventory: Inventory = INVENTORY): Resolved {
  const p = parsePolicy(yaml, 'test.yaml');
  if (!p.ruleset) throw new Error(`policy invalid: ${JSON.stringify(p.diagnostics)}`);
  return resolve(p.ruleset, inventory);
}

const rulesOf = (entries: DirectEntry[], ipv?: IpFamily, chain?: string): DirectRule[] =>
  entries.filter((e): e is DirectRule => e.kind === 'rule' && (!ipv || e.ipv === ipv) && (!chain || e.chain === chain));

const has = (args: string[], ...seq: string[]): boolean => args.some((_, i) => seq.every((s, j) => args[i + j] === s));
const argAfter = (args: string[], flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);

/** auto: Docker's patterns, plus the custom-named bridge lf-v6 of the inventory (br-0123456789ab is covered by br-*). */
const IFACES = ['docker0', 'br-+', 'docker_gwbridge', 'lf-v6'];

const BUILTIN_TARGETS = new Set(['RETURN', 'DROP', 'ACCEPT', 'REJECT', 'LOG']);
const BUILTIN_CHAINS = new Set(['INPUT', 'FORWARD', 'OUTPUT']);

const EXCEPTIONS_YAML = `
allow:
  - to: 10.57.17.5
    ports: [5432/tcp, 53/udp, 8000-8100/tcp]
    from: { network: backend }
  - to: host
    ports: [53/udp]
  - to: 192.168.1.0/24
    from: { container: app }
  - to: fd00:99::/64
    ports: [443/tcp]
  - to: fd00:98::1
    from: { label: tier=web }
`;

describe('firewalld render: layout', () => {
  const entries = firewalldDirectRules(resolved(''));

  it('declares every chain it references, per family, before any rule uses it', () => {
    for (const ipv of ['ipv4', 'ipv6'] as const) {
      const declared = new Set<string>();
      for (const e of entries.filter((x) => x.ipv === ipv)) {
        if (e.kind === 'chain') {
          declared.add(e.chain);
          continue;
        }
        if (!BUILTIN_CHAINS.has(e.chain)) expect(declared, `${ipv} ${e.chain} used before --add-chain`).toContain(e.chain);
        const target = argAfter(e.args, '-j');
        expect(target).toBeDefined();
        if (!BUILTIN_TARGETS.has(target!)) expect(declared, `${ipv} jump to undeclared ${target}`).toContain(target);
      }
      expect([...declared].sort()).toEqual([CHAINS.user, CHAINS.host, CHAINS.internal, CHAINS.drop].sort());
    }
  });

  it('declares DOCKER-USER itself for ipv4 and ipv6 (either start order works)', () => {
    for (const ipv of ['ipv4', 'ipv6'] as const)
      expect(entries).toContainEqual({ kind: 'chain', ipv, table: 'filter', chain: 'DOCKER-USER' });
  });

  it('adds the IPv6 FORWARD jump into DOCKER-USER (Docker 20.10 has none), not an IPv4 one', () => {
    expect(rulesOf(entries, 'ipv6', 'FORWARD')).toEqual([{ kind: 'rule', ipv: 'ipv6', table: 'filter', chain: 'FORWARD', priority: 0, args: ['-j', 'DOCKER-USER'] }]);
    expect(rulesOf(entries, 'ipv4', 'FORWARD')).toEqual([]);
  });

  it('passes established/related first, at priority 0 in DOCKER-USER and DENY-HOST', () => {
    for (const ipv of ['ipv4', 'ipv6'] as const) {
      for (const chain of [CHAINS.user, CHAINS.host]) {
        const first = rulesOf(entries, ipv, chain)[0];
        expect(first.priority).toBe(0);
        expect(first.args).toEqual(['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN']);
      }
    }
  });

  it('jumps to the deny chain at priority 4096, only for packets entering from container interfaces', () => {
    for (const ipv of ['ipv4', 'ipv6'] as const) {
      const jumps = rulesOf(entries, ipv, CHAINS.user).filter((r) => argAfter(r.args, '-j') === CHAINS.internal);
      expect(jumps.map((r) => [r.priority, ...r.args])).toEqual(IFACES.map((i) => [4096, '-i', i, '-j', CHAINS.internal]));
    }
  });

  it('never matches the uplink by name; -o only ever names container interfaces, to RETURN', () => {
    const script = renderFirewalld(resolved('')).text;
    expect(script).not.toMatch(/-o eth/);
    const outs = rulesOf(entries).filter((r) => r.args.includes('-o'));
    expect(outs.length).toBe(2 * IFACES.length);
    for (const r of outs) {
      expect(r.chain).toBe(CHAINS.user);
      expect(IFACES).toContain(argAfter(r.args, '-o'));
      expect(argAfter(r.args, '-j')).toBe('RETURN');
    }
  });

  it('blocks every default range in its own family, each with its name', () => {
    for (const b of DEFAULT_BLOCKED) {
      const c = cidrOf(b.cidr);
      const ipv = c.family === 4 ? 'ipv4' : 'ipv6';
      const other = c.family === 4 ? 'ipv6' : 'ipv4';
      const rule = rulesOf(entries, ipv, CHAINS.internal).find((r) => argAfter(r.args, '-d') === c.text);
      expect(rule, `${b.cidr} missing`).toBeDefined();
      expect(argAfter(rule!.args, '--comment')).toBe(commentText(b.name));
      expect(argAfter(rule!.args, '-j')).toBe(CHAINS.drop);
      expect(rulesOf(entries, other, CHAINS.internal).some((r) => argAfter(r.args, '-d') === c.text)).toBe(false);
    }
    expect(rulesOf(entries, undefined, CHAINS.internal).length).toBe(DEFAULT_BLOCKED.length);
  });

  it('logs rate-limited per source, destination and port and under the global ceiling, then drops (enforce, drop)', () => {
    for (const ipv of ['ipv4', 'ipv6'] as const) {
      const drop = rulesOf(entries, ipv, CHAINS.drop);
      expect(drop.map((r) => [r.priority, ...r.args])).toEqual([
        [0, '-m', 'hashlimit', '--hashlimit-mode', 'srcip,dstip,dstport', '--hashlimit-upto', '6/minute', '--hashlimit-burst', '1',
          '--hashlimit-htable-expire', '10000', '--hashlimit-name', 'lanfence-10s',
          '-m', 'limit', '--limit', '50/sec', '--limit-burst', '500', '-j', 'LOG', '--log-prefix', 'DOCKER_NET_DROP: '],
        [128, '-j', 'DROP'],
      ]);
    }
  });

  it('input path: INPUT jumps per container interface; IPv6 neighbour discovery passes, IPv4 has none; ends in the drop chain', () => {
    for (const ipv of ['ipv4', 'ipv6'] as const) {
      expect(rulesOf(entries, ipv, 'INPUT').map((r) => r.args)).toEqual(IFACES.map((i) => ['-i', i, '-j', CHAINS.host]));
      const host = rulesOf(entries, ipv, CHAINS.host);
      const nd = host.filter((r) => r.args.includes('--icmpv6-type')).map((r) => argAfter(r.args, '--icmpv6-type'));
      expect(nd).toEqual(ipv === 'ipv6' ? ['133', '134', '135', '136'] : []);
      const last = host[host.length - 1];
      expect(last.args).toEqual(['-j', CHAINS.drop]);
      expect(Math.max(...host.map((r) => r.priority))).toBe(last.priority);
    }
  });

  it('protect.host: false removes the whole input path', () => {
    const e = firewalldDirectRules(resolved('protect: { host: false }'));
    expect(e.some((x) => x.chain === CHAINS.host || x.chain === 'INPUT')).toBe(false);
    expect(e.some((x) => x.kind === 'rule' && x.args.includes(CHAINS.host))).toBe(false);
    expect(renderFirewalld(resolved('protect: { host: false }')).text).not.toContain(CHAINS.host);
  });

  it('is deterministic', () => {
    expect(renderFirewalld(resolved(EXCEPTIONS_YAML)).text).toBe(renderFirewalld(resolved(EXCEPTIONS_YAML)).text);
  });
});

describe('firewalld render: exceptions', () => {
  const entries = firewalldDirectRules(resolved(EXCEPTIONS_YAML));
  const allowRules = (ipv: IpFamily, chain: string, n: number) =>
    rulesOf(entries, ipv, chain).filter((r) => argAfter(r.args, '--comment') === `allow #${n}`);

  it('sit in DOCKER-USER below 4096, after established, as RETURN (never ACCEPT)', () => {
    for (const ipv of ['ipv4', 'ipv6'] as const) {
      const user = rulesOf(entries, ipv, CHAINS.user);
      const ex = user.filter((r) => (argAfter(r.args, '--comment') ?? '').startsWith('allow #'));
      expect(ex.length).toBeGreaterThan(0);
      for (const r of ex) {
        expect(r.priority).toBeGreaterThan(0);
        expect(r.priority).toBeLessThan(4096);
        expect(r.args.slice(-2)).toEqual(['-j', 'RETURN']);
      }
    }
    expect(JSON.stringify(entries)).not.toContain('ACCEPT');
  });

  it('network scope → -i <bridge>, one rule per port range, ranges as A:B', () => {
    expect(allowRules('ipv4', CHAINS.user, 1).map((r) => r.args)).toEqual([
      ['-i', 'br-0123456789ab', '-d', '10.57.17.5/32', '-p', 'tcp', '--dport', '5432', '-m', 'comment', '--comment', 'allow #1', '-j', 'RETURN'],
      ['-i', 'br-0123456789ab', '-d', '10.57.17.5/32', '-p', 'tcp', '--dport', '8000:8100', '-m', 'comment', '--comment', 'allow #1', '-j', 'RETURN'],
      ['-i', 'br-0123456789ab', '-d', '10.57.17.5/32', '-p', 'udp', '--dport', '53', '-m', 'comment', '--comment', 'allow #1', '-j', 'RETURN'],
    ]);
    expect(allowRules('ipv6', CHAINS.user, 1)).toEqual([]);
  });

  it('container scope → -s <address>; any scope → neither -i nor -s', () => {
    expect(allowRules('ipv4', CHAINS.user, 3).map((r) => r.args)).toEqual([
      ['-s', '172.20.0.5/32', '-d', '192.168.1.0/24', '-m', 'comment', '--comment', 'allow #3', '-j', 'RETURN'],
    ]);
    expect(allowRules('ipv6', CHAINS.user, 4).map((r) => r.args)).toEqual([
      ['-d', 'fd00:99::/64', '-p', 'tcp', '--dport', '443', '-m', 'comment', '--comment', 'allow #4', '-j', 'RETURN'],
    ]);
  });

  it('IPv6 exceptions land in ipv6 only (label scope → the container\'s IPv6 address)', () => {
    expect(allowRules('ipv6', CHAINS.user, 5).map((r) => r.args)).toEqual([
      ['-s', 'fd00:21::7/128', '-d', 'fd00:98::1/128', '-m', 'comment', '--comment', 'allow #5', '-j', 'RETURN'],
    ]);
    expect(allowRules('ipv4', CHAINS.user, 5)).toEqual([]);
    expect(allowRules('ipv4', CHAINS.user, 4)).toEqual([]);
  });

  it('host exceptions go to the input path only, in both families; CIDR exceptions are there too', () => {
    for (const ipv of ['ipv4', 'ipv6'] as const) {
      expect(allowRules(ipv, CHAINS.user, 2)).toEqual([]);
      expect(allowRules(ipv, CHAINS.host, 2).map((r) => r.args)).toEqual([['-p', 'udp', '--dport', '53', '-m', 'comment', '--comment', 'allow #2', '-j', 'RETURN']]);
      const host = rulesOf(entries, ipv, CHAINS.host);
      const drop = host.find((r) => r.args.includes(CHAINS.drop))!;
      for (const r of host.filter((x) => (argAfter(x.args, '--comment') ?? '').startsWith('allow #'))) expect(r.priority).toBeLessThan(drop.priority);
    }
    expect(allowRules('ipv4', CHAINS.host, 1).length).toBe(3);
    expect(allowRules('ipv4', CHAINS.host, 3).length).toBe(1);
  });

  it('without protect.host, host exceptions render nothing', () => {
    const e = firewalldDirectRules(resolved(`protect: { host: false }\n${EXCEPTIONS_YAML}`));
    expect(rulesOf(e).some((r) => argAfter(r.args, '--comment') === 'allow #2')).toBe(false);
  });
});

describe('firewalld render: modes, actions, log, interfaces', () => {
  it('audit mode: RETURN at priority 127 in DOCKER-USER-DROP, after the LOG and before the drop', () => {
    for (const ipv of ['ipv4', 'ipv6'] as const) {
      const drop = rulesOf(firewalldDirectRules(resolved('mode: audit')), ipv, CHAINS.drop);
      expect(drop.map((r) => [r.priority, argAfter(r.args, '-j')])).toEqual([
        [0, 'LOG'],
        [127, 'RETURN'],
        [128, 'DROP'],
      ]);
    }
    expect(rulesOf(firewalldDirectRules(resolved('mode: enforce')), undefined, CHAINS.drop).some((r) => r.priority === 127)).toBe(false);
  });

  it('action reject: tcp-reset for TCP, then ICMP administratively prohibited per family', () => {
    const e = firewalldDirectRules(resolved('action: reject'));
    expect(rulesOf(e, 'ipv4', CHAINS.drop).slice(1).map((r) => [r.priority, ...r.args])).toEqual([
      [128, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      [129, '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'],
    ]);
    expect(rulesOf(e, 'ipv6', CHAINS.drop).slice(1).map((r) => [r.priority, ...r.args])).toEqual([
      [128, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      [129, '-j', 'REJECT', '--reject-with', 'icmp6-adm-prohibited'],
    ]);
    expect(e.some((x) => x.kind === 'rule' && x.args.includes('DROP'))).toBe(false);
  });

  it('audit + reject keeps the RETURN before both REJECTs', () => {
    const drop = rulesOf(firewalldDirectRules(resolved('mode: audit\naction: reject')), 'ipv6', CHAINS.drop);
    expect(drop.map((r) => r.priority)).toEqual([0, 127, 128, 129]);
  });

  it('log prefix and period come from the policy', () => {
    const e = firewalldDirectRules(resolved('log: { prefix: "LF-TEST ", rate: 1/1m }'));
    const log = rulesOf(e, 'ipv4', CHAINS.drop)[0];
    expect(argAfter(log.args, '--log-prefix')).toBe('LF-TEST ');
    expect(argAfter(log.args, '--hashlimit-upto')).toBe('1/minute');
    expect(argAfter(log.args, '--hashlimit-htable-expire')).toBe('60000');
  });

  it('hashlimit rates pick the unit that gives an integer', () => {
    expect(hashlimitRate(1)).toBe('1/second');
    expect(hashlimitRate(10)).toBe('6/minute');
    expect(hashlimitRate(60)).toBe('1/minute');
    expect(hashlimitRate(90)).toBe('40/hour');
    expect(hashlimitRate(3600)).toBe('1/hour');
    expect(hashlimitRate(2700)).toBe('32/day');
    expect(hashlimitRate(86400)).toBe('1/day');
    expect(hashlimitRate(7)).toBe('12343/day');
  });

  it('interface patterns: trailing * becomes +, exact names stay', () => {
    const r = resolved('containers: { interfaces: [docker0, "veth*", "br-*"] }');
    const e = firewalldDirectRules(r);
    const ins = rulesOf(e, 'ipv4', 'INPUT').map((x) => argAfter(x.args, '-i'));
    expect(ins).toEqual(['docker0', 'veth+', 'br-+']);
    expect(JSON.stringify(e)).not.toContain('*');
  });

  it('auto adds bridges that no pattern covers', () => {
    const ins = rulesOf(firewalldDirectRules(resolved('')), 'ipv6', 'INPUT').map((x) => argAfter(x.args, '-i'));
    expect(ins).toEqual(IFACES);
    const inv: Inventory = { ...INVENTORY, networks: [...INVENTORY.networks, { name: 'custom', driver: 'bridge', bridge: 'mybr0', subnets: [], gateways: [], ipv6: false, internal: false }] };
    const withCustom = rulesOf(firewalldDirectRules(resolved('', inv)), 'ipv4', CHAINS.user).filter((x) => x.priority === 4096);
    expect(withCustom.map((x) => argAfter(x.args, '-i'))).toContain('mybr0');
  });

  it('comments cannot carry characters firewalld would mangle', () => {
    expect(commentText('"this" network \\ x')).toBe("'this' network / x");
  });
});

describe('firewalld render: the script', () => {
  const r = resolved(`mode: audit\n${EXCEPTIONS_YAML}`);
  const out = renderFirewalld(r);
  const lines = out.text.split('\n');

  it('is one firewall-cmd part, identical to the text, a POSIX sh script ending in a reload', () => {
    expect(firewalldBackend.name).toBe('firewalld');
    expect(firewalldBackend.summary.length).toBeGreaterThan(10);
    expect(out.backend).toBe('firewalld');
    expect(out.parts).toHaveLength(1);
    expect(out.parts[0].tool).toBe('firewall-cmd');
    expect(out.parts[0].content).toBe(out.text);
    expect(lines[0]).toBe('#!/bin/sh');
    expect(lines).toContain('set -eu');
    expect(out.text.trimEnd().split('\n').pop()).toBe('firewall-cmd --reload');
    const commands = lines.filter((l) => l.startsWith('firewall-cmd ') && l !== 'firewall-cmd --reload');
    for (const l of commands) expect(l).toMatch(/^firewall-cmd --permanent --direct --add-(chain|rule) ipv[46] filter /);
    expect(commands.length).toBe(firewalldDirectRules(r).length);
  });

  it('declares chains in the script before any line uses them', () => {
    for (const ipv of ['ipv4', 'ipv6']) {
      for (const chain of Object.values(CHAINS)) {
        const decl = lines.indexOf(`firewall-cmd --permanent --direct --add-chain ${ipv} filter ${chain}`);
        expect(decl, `${ipv} ${chain}`).toBeGreaterThan(0);
        const firstUse = lines.findIndex((l) => l.includes(`--add-rule ${ipv} `) && l.includes(chain));
        expect(firstUse).toBeGreaterThan(decl);
      }
    }
  });

  it('quotes arguments for sh: comments and the log prefix survive as single words', () => {
    expect(out.text).toContain(`--comment 'allow #1' -j RETURN`);
    expect(out.text).toContain(`--log-prefix 'DOCKER_NET_DROP: '`);
    expect(out.text).toContain(`--comment 'private (RFC 1918)'`);
    expect(shellWords(`a 'b c' "d \\"e\\"" f\\ g 'h'\\''i'`)).toEqual(['a', 'b c', 'd "e"', 'f g', "h'i"]);
    expect(shellWords(`a 'b`)).toBeNull();
  });

  it('reads back exactly into the direct rule list', () => {
    const parsed = parseFirewalldScript(out.text);
    expect(parsed.errors).toEqual([]);
    expect(parsed.entries).toEqual(firewalldDirectRules(r));
  });

  it('the reader rejects lines that are not direct add-chain / add-rule commands', () => {
    const bad = parseFirewalldScript('firewall-cmd --permanent --direct --add-rule ipv4 filter X notanumber -j DROP\nrm -rf /\nfirewall-cmd --permanent --direct --add-chain ipv5 filter X\n');
    expect(bad.entries).toEqual([]);
    expect(bad.errors).toHaveLength(3);
    expect(bad.errors[0]).toMatch(/^line 1: priority/);
    expect(bad.errors[1]).toMatch(/^line 2: not a firewall-cmd/);
    expect(bad.errors[2]).toMatch(/^line 3: expected ipv4 or ipv6/);
  });
});

describe('firewalld check: iptables-restore translation', () => {
  it('declares added chains and orders rules by (priority, insertion)', () => {
    const entries: DirectEntry[] = [
      { kind: 'chain', ipv: 'ipv4', table: 'filter', chain: 'A' },
      { kind: 'rule', ipv: 'ipv4', table: 'filter', chain: 'A', priority: 5, args: ['-j', 'DROP'] },
      { kind: 'rule', ipv: 'ipv4', table: 'filter', chain: 'A', priority: 0, args: ['-s', '10.0.0.1', '-j', 'RETURN'] },
      { kind: 'rule', ipv: 'ipv6', table: 'filter', chain: 'A', priority: 0, args: ['-j', 'RETURN'] },
      { kind: 'rule', ipv: 'ipv4', table: 'filter', chain: 'INPUT', priority: 0, args: ['-j', 'A'] },
      { kind: 'rule', ipv: 'ipv4', table: 'filter', chain: 'A', priority: 0, args: ['-m', 'comment', '--comment', `it's "x" \\`, '-j', 'RETURN'] },
    ];
    expect(directRulesToRestore(entries, 'ipv4')).toBe(
      [
        '*filter',
        ':A - [0:0]',
        '-A A -s 10.0.0.1 -j RETURN',
        `-A A -m comment --comment "it\\'s \\"x\\" \\\\" -j RETURN`,
        '-A A -j DROP',
        '-A INPUT -j A',
        'COMMIT',
        '',
      ].join('\n'),
    );
    expect(directRulesToRestore(entries, 'ipv6')).toBe('*filter\n-A A -j RETURN\nCOMMIT\n');
  });

  it('puts DOCKER-USER-DROP\'s LOG first and the audit RETURN before the drop', () => {
    const text = directRulesToRestore(firewalldDirectRules(resolved('mode: audit')), 'ipv4');
    const drop = text.split('\n').filter((l) => l.startsWith(`-A ${CHAINS.drop} `));
    expect(drop.map((l) => l.split(' -j ')[1].split(' ')[0])).toEqual(['LOG', 'RETURN', 'DROP']);
    expect(text).toContain(`--log-prefix "DOCKER_NET_DROP: "`);
    for (const c of Object.values(CHAINS)) expect(text).toContain(`:${c} - [0:0]`);
  });
});

describe('firewalld check: how it runs', () => {
  it('runs both restore files with --test and a load inside `unshare --net`, then removes them', async () => {
    const rendered = renderFirewalld(resolved(EXCEPTIONS_YAML));
    const calls: { cmd: string; args: string[]; files: Record<string, string> }[] = [];
    let dir = '';
    const fake: Runner = async (cmd, args) => {
      const script = args[args.length - 1];
      const paths = [...script.matchAll(/'([^']+\.rules)'/g)].map((m) => m[1]);
      dir = paths[0].replace(/\/[^/]+$/, '');
      calls.push({ cmd, args, files: Object.fromEntries(paths.map((p) => [p.split('/').pop()!, readFileSync(p, 'utf8')])) });
      return { code: 0, stdout: '', stderr: '' };
    };
    const res = await checkFirewalld(rendered, fake);
    expect(res.ok).toBe(true);
    expect(calls).toHaveLength(1);
    expect(calls[0].cmd).toBe('unshare');
    expect(calls[0].args.slice(0, 4)).toEqual(['--net', '--', 'sh', '-ec']);
    const script = calls[0].args[4];
    expect(script).toMatch(/iptables-restore --test '[^']+\/ipv4\.rules'/);
    expect(script).toMatch(/ip6tables-restore --test '[^']+\/ipv6\.rules'/);
    expect(script).toContain('readlink /proc/self/ns/net');
    const entries = firewalldDirectRules(resolved(EXCEPTIONS_YAML));
    expect(calls[0].files['ipv4.rules']).toBe(directRulesToRestore(entries, 'ipv4'));
    expect(calls[0].files['ipv6.rules']).toBe(directRulesToRestore(entries, 'ipv6'));
    expect(res.cmd.startsWith('unshare --net -- sh -ec ')).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it('its guard line refuses to go on in lanfence\'s own network namespace', async () => {
    let guard = '';
    await checkFirewalld(renderFirewalld(resolved('')), async (_cmd, args) => {
      guard = args[args.length - 1].split('\n')[0];
      return { code: 0, stdout: '', stderr: '' };
    });
    expect(guard).toContain('/proc/self/ns/net');
    expect(guard).not.toContain('restore');
    // Only the guard runs here, in this process's namespace: it must stop with 70.
    const r = await runCommand('sh', ['-ec', `${guard}\necho passed`]);
    expect(r.code).toBe(70);
    expect(r.stdout).toBe('');
  });

  it('reports failure with the offending restore line', async () => {
    const rendered = renderFirewalld(resolved(''));
    const fake: Runner = async () => ({ code: 1, stdout: '', stderr: 'Error occurred at line: 3\nlanfence: ipv6.rules rejected\n' });
    const res = await checkFirewalld(rendered, fake);
    expect(res.ok).toBe(false);
    expect(res.stderr).toContain(`ipv6.rules line 3: :${CHAINS.internal} - [0:0]`);
  });

  it('does not run anything for a script it cannot read', async () => {
    let ran = false;
    const fake: Runner = async () => ((ran = true), { code: 0, stdout: '', stderr: '' });
    const res = await checkFirewalld({ backend: 'firewalld', text: 'x', parts: [{ tool: 'firewall-cmd', content: 'iptables -F\n' }] }, fake);
    expect(res.ok).toBe(false);
    expect(res.stderr).toMatch(/line 1/);
    expect(ran).toBe(false);
    expect((await checkFirewalld({ backend: 'firewalld', text: '', parts: [] }, fake)).ok).toBe(false);
  });
});
