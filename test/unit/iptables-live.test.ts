/**
 * The iptables backend against a live kernel: apply, inspect, remove, rollback, drift, counters.
 * Runs as root only, each test in a network namespace it creates (with Docker's rules simulated);
 * nothing is ever loaded into the machine's own network namespace.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { iptablesBackend } from '../../src/backends/iptables/index.js';
import type { Rendered } from '../../src/backends/types.js';
import { BackendError } from '../../src/errors.js';
import { inNetns, runCommand, type Runner } from '../../src/exec.js';
import type { Inventory } from '../../src/inventory/types.js';
import { parsePolicy } from '../../src/policy/load.js';
import { resolve } from '../../src/ruleset/resolve.js';
import { createNetns, kernelTestsEnabled } from '../support/root.js';

const enabled = kernelTestsEnabled('iptables apply/inspect/remove (creates network namespaces and loads rules into them)');

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

function rendered(yaml: string): Rendered {
  const p = parsePolicy(yaml, 't.yaml');
  if (!p.ruleset) throw new Error(`invalid test policy: ${JSON.stringify(p.diagnostics.filter((d) => d.severity === 'error'))}`);
  return iptablesBackend.render(resolve(p.ruleset, INVENTORY));
}

/** The same rendering with one part's text edited. */
const edited = (r: Rendered, tool: string, edit: (s: string) => string): Rendered => ({
  ...r,
  parts: r.parts.map((p) => (p.tool === tool ? { ...p, content: edit(p.content) } : p)),
});

const DEFAULT = rendered('');
const WITH_EXCEPTIONS = rendered(`
protect:
  extra: [203.0.113.0/24, 2001:db8::/32]
allow:
  - to: 10.57.17.5
    comment: database
  - to: 10.57.17.0/24
    ports: [5432/tcp, 53/udp]
  - to: 192.168.1.20
    from: { container: web }
  - to: fd00:2::5
    ports: [443/tcp]
  - to: host
    ports: [53/udp]
`);
const NO_HOST = rendered('protect:\n  host: false\n');

/** Docker's rules (as dockerd 20.10+ sets them up), plus a foreign ipset. */
const DOCKER_RULES = `
iptables -N DOCKER
iptables -N DOCKER-USER
iptables -A DOCKER-USER -j RETURN
iptables -A FORWARD -j DOCKER-USER
iptables -A FORWARD -o docker0 -j DOCKER
iptables -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
iptables -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
iptables -A INPUT -p tcp --dport 22 -j ACCEPT
iptables -t nat -N DOCKER
iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
ip6tables -N DOCKER-USER
ip6tables -A DOCKER-USER -j RETURN
ip6tables -A FORWARD -j DOCKER-USER
ipset create other-tool hash:ip
ipset add other-tool 192.0.2.1
`;

/**
 * The tools as iptables-nft (this machine's default) or iptables-legacy: for legacy, a directory of
 * `iptables`, `iptables-save`, … links to the -legacy binaries goes first in PATH, for lanfence's
 * commands, the scripts they run in throwaway namespaces, and this test's own commands alike.
 */
const VARIANTS = ['nft', 'legacy'] as const;

function legacyBin(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lanfence-legacy-bin-'));
  for (const t of ['iptables', 'ip6tables']) for (const s of ['', '-save', '-restore']) symlinkSync(`/usr/sbin/${t}-legacy${s}`, join(dir, `${t}${s}`));
  return dir;
}

describe.runIf(enabled).each(VARIANTS)('iptables apply / inspect / remove in a network namespace (root, iptables-%s)', (variant) => {
  let ns = '';
  let cleanup: (() => void)[] = [];
  let run: Runner;
  let env: string[] = [];
  let base: Runner = runCommand;

  beforeAll(() => {
    if (variant !== 'legacy') return;
    const bin = legacyBin();
    env = ['env', `PATH=${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`];
    base = (cmd, args, opts) => runCommand(env[0], [...env.slice(1), cmd, ...args], opts);
    return () => rmSync(bin, { recursive: true, force: true });
  });

  const sh = (script: string, where = ns) => execFileSync('ip', ['netns', 'exec', where, ...env, 'sh', '-ec', script], { encoding: 'utf8' });
  /** Every table, both families, counters and timestamps stripped. */
  const rules = () =>
    sh('iptables-save; echo ----; ip6tables-save')
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/^\[\d+:\d+\] /, '').replace(/ \[\d+:\d+\]$/, ''))
      .join('\n');
  /** Every ipset with its members, in a stable order; initval is random per set. */
  const sets = () =>
    sh('ipset save')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/ initval \S+/, ''))
      .sort()
      .join('\n');
  const hasTrace = () => /lanfence|LANFENCE/.test(`${rules()}\n${sh('ipset list -n')}`);

  beforeEach(() => {
    const n = createNetns('lf-iptl');
    ns = n.ns;
    cleanup = [n.remove];
    run = inNetns(ns, base);
    sh(DOCKER_RULES);
  });
  afterEach(() => {
    for (const c of cleanup.reverse()) c();
  });

  it('is available', async () => {
    expect(await iptablesBackend.available(run)).toBe(true);
  });

  it('applies, and the live state then matches', async () => {
    await iptablesBackend.apply(DEFAULT, run);
    const status = await iptablesBackend.inspect(DEFAULT, run);
    expect(status.differences).toEqual([]);
    expect(status).toMatchObject({ present: true, matches: true, blockedPackets: 0 });
    expect(sh('iptables -S DOCKER-USER')).toBe('-N DOCKER-USER\n-A DOCKER-USER -j LANFENCE-FWD\n-A DOCKER-USER -j RETURN\n');
    expect(sh('ip6tables -S FORWARD').split('\n')[1]).toBe('-A FORWARD -j LANFENCE-FWD');
    expect(sh('iptables -S INPUT').split('\n')[1]).toBe('-A INPUT -j LANFENCE-IN');
    // A different rendering does not match.
    const other = await iptablesBackend.inspect(WITH_EXCEPTIONS, run);
    expect(other.matches).toBe(false);
    expect(other.differences).toContain('set lanfence-block4 lacks 203.0.113.0/24');
  });

  it('applying the same rendering twice leaves identical kernel state', async () => {
    await iptablesBackend.apply(WITH_EXCEPTIONS, run);
    const once = { rules: rules(), sets: sets() };
    await iptablesBackend.apply(WITH_EXCEPTIONS, run);
    expect(rules()).toBe(once.rules);
    expect(sets()).toBe(once.sets);
    expect(sh('iptables -S DOCKER-USER').match(/LANFENCE-FWD/g)).toHaveLength(1);
    expect((await iptablesBackend.inspect(WITH_EXCEPTIONS, run)).differences).toEqual([]);
  });

  it("leaves Docker's rules alone, and remove leaves no trace (idempotently)", async () => {
    const before = { rules: rules(), sets: sets() };
    await iptablesBackend.apply(WITH_EXCEPTIONS, run);
    // While applied, everything that is not lanfence's is unchanged.
    const foreign = (s: string) => s.split('\n').filter((l) => !/LANFENCE/.test(l)).join('\n');
    expect(foreign(rules())).toBe(foreign(before.rules));
    expect(sh('ipset list other-tool')).toMatch(/192\.0\.2\.1/);

    await iptablesBackend.remove(run);
    expect(rules()).toBe(before.rules);
    expect(sets()).toBe(before.sets);
    expect(hasTrace()).toBe(false);
    await iptablesBackend.remove(run);
    expect(rules()).toBe(before.rules);

    expect(await iptablesBackend.inspect(null, run)).toMatchObject({ present: false, matches: true, differences: [] });
    const absent = await iptablesBackend.inspect(DEFAULT, run);
    expect(absent).toMatchObject({ present: false, matches: false });
    expect(absent.differences).toEqual(
      expect.arrayContaining(['chain LANFENCE-FWD is absent (IPv4)', 'missing in DOCKER-USER (IPv4): -j LANFENCE-FWD', 'set lanfence-block4 is absent']),
    );
  });

  it('inspect(null) reports what is present', async () => {
    await iptablesBackend.apply(DEFAULT, run);
    const s = await iptablesBackend.inspect(null, run);
    expect(s).toMatchObject({ present: true, matches: false });
    expect(s.differences).toEqual(expect.arrayContaining(['chain LANFENCE-BLOCK is present (IPv6)', 'hook in INPUT (IPv4): -j LANFENCE-IN', 'set lanfence-block6 is present']));
  });

  it('creates DOCKER-USER when Docker has not, and remove leaves it', async () => {
    const bare = createNetns('lf-iptl-bare');
    cleanup.push(bare.remove);
    const r = inNetns(bare.ns, base);
    await iptablesBackend.apply(DEFAULT, r);
    expect(sh('iptables -S DOCKER-USER', bare.ns)).toBe('-N DOCKER-USER\n-A DOCKER-USER -j LANFENCE-FWD\n');
    expect((await iptablesBackend.inspect(DEFAULT, r)).differences).toEqual([]);
    await iptablesBackend.remove(r);
    expect(sh('iptables -S DOCKER-USER', bare.ns)).toBe('-N DOCKER-USER\n');
    expect(sh('iptables-save; ip6tables-save; ipset list -n', bare.ns)).not.toMatch(/lanfence|LANFENCE/);
  });

  it('a failing IPv6 step restores the previous IPv4 rules and sets', async () => {
    await iptablesBackend.apply(DEFAULT, run);
    const applied = { rules: rules(), sets: sets() };
    const broken = edited(WITH_EXCEPTIONS, 'ip6tables', (s) => s.replace('-j DROP', '-j LANFENCE-NOPE'));
    const err = await iptablesBackend.apply(broken, run).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    const be = err as BackendError;
    expect(be.cmd).toMatch(/^ip6tables-restore /);
    expect(be.exitStatus).not.toBe(0);
    expect(be.message).toMatch(/ip6tables-restore --noflush \(the IPv6 chains\) failed: .*; nothing was changed/);
    expect(rules()).toBe(applied.rules);
    expect(sets()).toBe(applied.sets);
    expect((await iptablesBackend.inspect(DEFAULT, run)).differences).toEqual([]);
  });

  it('a failing first apply leaves no trace', async () => {
    const before = { rules: rules(), sets: sets() };
    const broken = edited(WITH_EXCEPTIONS, 'ip6tables', (s) => s.replace('-j DROP', '-j LANFENCE-NOPE'));
    await expect(iptablesBackend.apply(broken, run)).rejects.toBeInstanceOf(BackendError);
    expect(rules()).toBe(before.rules);
    expect(sets()).toBe(before.sets);
  });

  it('a failing set step restores the previous sets', async () => {
    await iptablesBackend.apply(DEFAULT, run);
    const applied = { rules: rules(), sets: sets() };
    // The block sets are swapped in before the bad member of a later set fails.
    const broken = edited(WITH_EXCEPTIONS, 'ipset', (s) => s.replace(/^(add lanfence-a4-\S+) 10\.57\.17\.5/m, '$1 10.57.17.500'));
    expect(broken.parts.find((p) => p.tool === 'ipset')?.content).toMatch(/10\.57\.17\.500/);
    await expect(iptablesBackend.apply(broken, run)).rejects.toThrow(/ipset restore \(the sets\) failed.*nothing was changed/);
    expect(rules()).toBe(applied.rules);
    expect(sets()).toBe(applied.sets);
  });

  it('a failing hook step puts chains, hooks (at their old positions) and sets back', async () => {
    await iptablesBackend.apply(NO_HOST, run);
    // Docker re-inserted its RETURN above our jump; the IPv6 hook went missing.
    sh('iptables -I DOCKER-USER 1 -j RETURN; ip6tables -D FORWARD -j LANFENCE-FWD');
    const before = { rules: rules(), sets: sets() };
    // The IPv4 hooks are repaired (moved to the top, INPUT hooked); then inserting the IPv6 ones fails.
    const v4Hooks: string[] = [];
    const failing: Runner = async (cmd, args, opts) => {
      if (cmd === 'ip6tables-restore' && opts?.input?.includes('-I FORWARD 1')) return { code: 1, stdout: '', stderr: 'simulated failure' };
      if (cmd === 'iptables-restore' && opts?.input?.includes('-I DOCKER-USER 1')) v4Hooks.push(opts.input);
      return run(cmd, args, opts);
    };
    await expect(iptablesBackend.apply(WITH_EXCEPTIONS, failing)).rejects.toThrow(/inserting the IPv6 hooks .*failed: simulated failure; nothing was changed/);
    // The IPv4 hooks had been repaired, and were then put back as they were.
    expect(v4Hooks).toEqual(['*filter\n-D DOCKER-USER -j LANFENCE-FWD\n-I DOCKER-USER 1 -j LANFENCE-FWD\n-I INPUT 1 -j LANFENCE-IN\nCOMMIT\n']);
    expect(rules()).toBe(before.rules);
    expect(sets()).toBe(before.sets);
    expect(sh('iptables -S DOCKER-USER')).toBe('-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n-A DOCKER-USER -j LANFENCE-FWD\n-A DOCKER-USER -j RETURN\n');
  });

  it('a changed policy replaces chains, removes hooks and sets it no longer uses', async () => {
    await iptablesBackend.apply(WITH_EXCEPTIONS, run);
    await iptablesBackend.apply(NO_HOST, run);
    expect((await iptablesBackend.inspect(NO_HOST, run)).differences).toEqual([]);
    expect(sh('iptables -S INPUT; ip6tables -S INPUT')).not.toMatch(/LANFENCE/);
    expect(sh('ipset list -n').split('\n').filter(Boolean).sort()).toEqual(['lanfence-block4', 'lanfence-block6', 'other-tool']);
  });

  it('inspect names drift, and apply repairs it (hook order included)', async () => {
    await iptablesBackend.apply(DEFAULT, run);
    sh(`
iptables -F LANFENCE-FWD-JUDGE
iptables -I DOCKER-USER 1 -j RETURN
ip6tables -D FORWARD -j LANFENCE-FWD
ipset del lanfence-block4 10.0.0.0/8
iptables -A LANFENCE-BLOCK -j ACCEPT
ipset create lanfence-stray hash:net
`);
    const s = await iptablesBackend.inspect(DEFAULT, run);
    expect(s).toMatchObject({ present: true, matches: false });
    expect(s.differences).toEqual(
      expect.arrayContaining([
        'missing in LANFENCE-FWD-JUDGE (IPv4): -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
        'hook not first in DOCKER-USER (IPv4): -j LANFENCE-FWD is rule 2',
        'missing in FORWARD (IPv6): -j LANFENCE-FWD',
        'set lanfence-block4 lacks 10.0.0.0/8',
        'extra in LANFENCE-BLOCK (IPv4): -j ACCEPT',
        'unexpected set lanfence-stray',
      ]),
    );
    expect(s.differences.filter((d) => /^missing in LANFENCE-FWD-JUDGE/.test(d)).length).toBeGreaterThan(3);

    await iptablesBackend.apply(DEFAULT, run);
    expect((await iptablesBackend.inspect(DEFAULT, run)).differences).toEqual([]);
    expect(sh('iptables -S DOCKER-USER')).toBe('-N DOCKER-USER\n-A DOCKER-USER -j LANFENCE-FWD\n-A DOCKER-USER -j RETURN\n-A DOCKER-USER -j RETURN\n');
  });

  it('reports a repeated hook and rules out of order', async () => {
    await iptablesBackend.apply(DEFAULT, run);
    sh(`
iptables -A INPUT -j LANFENCE-IN
iptables -D LANFENCE-BLOCK -j DROP
iptables -I LANFENCE-BLOCK 1 -j DROP
`);
    const s = await iptablesBackend.inspect(DEFAULT, run);
    expect(s.differences).toEqual(['rules of LANFENCE-BLOCK (IPv4) are out of order', 'hook repeated in INPUT (IPv4): -j LANFENCE-IN appears 2 times']);
    await iptablesBackend.apply(DEFAULT, run);
    expect((await iptablesBackend.inspect(DEFAULT, run)).matches).toBe(true);
    expect(sh('iptables -S INPUT').match(/LANFENCE-IN/g)).toHaveLength(1);
  });

  it('counts blocked packets (forward path and host path)', async () => {
    // A "container" namespace behind a veth named docker0; the host routes to a LAN stand-in on
    // a veth (the kernel here has no dummy driver; nobody needs to answer).
    const ctr = createNetns('lf-iptl-ctr');
    cleanup.push(ctr.remove);
    sh(`
ip link add docker0 type veth peer name eth0 netns ${ctr.ns}
ip addr add 172.17.0.1/16 dev docker0
ip link set docker0 up
ip link add lan0 type veth peer name lan0-peer
ip addr add 10.9.0.1/24 dev lan0
ip link set lan0 up
ip link set lan0-peer up
sysctl -qw net.ipv4.ip_forward=1
`);
    sh('ip addr add 172.17.0.2/16 dev eth0; ip link set eth0 up; ip link set lo up; ip route add default via 172.17.0.1', ctr.ns);
    await iptablesBackend.apply(DEFAULT, run);
    expect((await iptablesBackend.inspect(DEFAULT, run)).blockedPackets).toBe(0);
    // One UDP datagram to the LAN (forwarded) and one to the host's docker0 address (input).
    execFileSync('ip', ['netns', 'exec', ctr.ns, ...env, 'bash', '-c', 'echo x > /dev/udp/10.9.0.5/9; echo x > /dev/udp/172.17.0.1/9']);
    await new Promise((r) => setTimeout(r, 200));
    const s = await iptablesBackend.inspect(DEFAULT, run);
    expect(s.blockedPackets).toBe(2);
    expect(s.matches).toBe(true);
  });
});
