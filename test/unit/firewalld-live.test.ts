/**
 * The firewalld backend against a real firewalld: apply, inspect, remove, a failing apply, drift.
 * Root only. firewalld runs inside a network namespace this test creates, on its own D-Bus, with
 * its own configuration directory (src/lab/firewalld.ts); the machine's network namespace, system
 * bus and /etc/firewalld are never touched. Docker is simulated where needed (the lab has the real one).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firewalldBackend } from '../../src/backends/firewalld/index.js';
import type { Rendered } from '../../src/backends/types.js';
import { BackendError } from '../../src/errors.js';
import type { Runner } from '../../src/exec.js';
import { firewalldRunner, startFirewalld, withEnv, type FirewalldHandle } from '../../src/lab/firewalld.js';
import { resolvedOf } from '../support/fixtures.js';
import { createNetns, kernelTestsEnabled } from '../support/root.js';

const enabled = kernelTestsEnabled('firewalld live backend tests (starts firewalld in a network namespace)');

const render = (yaml: string): Rendered => firewalldBackend.render(resolvedOf(yaml));
const DEFAULT = render('');
const EXCEPTIONS = render('allow:\n  - to: 10.57.17.5\n    ports: [5432/tcp, 53/udp]\n  - to: host\n    ports: [53/udp]\n  - to: fd00:99::/64\nmode: audit');
const OURS = /DOCKER-USER|allow #/;
const BIG = render(`allow:\n${Array.from({ length: 1000 }, (_, i) => `  - to: 10.${100 + (i >> 8)}.${i & 255}.1\n    ports: [443/tcp]`).join('\n')}`);

/** Adds one line before the script's reload. */
const withLine = (r: Rendered, line: string): Rendered => {
  const content = r.parts[0].content.replace('\nfirewall-cmd --reload', `\n${line}\nfirewall-cmd --reload`);
  return { ...r, text: content, parts: [{ tool: 'firewall-cmd', content }] };
};

describe.runIf(enabled)('firewalld backend against a live firewalld (lab network namespace)', () => {
  let netns: { ns: string; remove: () => void };
  let fw: FirewalldHandle;
  let run: Runner;
  const sh = async (cmd: string, args: string[]) => {
    const r = await run(cmd, args);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const fc = (...args: string[]) => sh('firewall-cmd', args);
  const allRules = async () => ({
    runtime: (await fc('--direct', '--get-all-rules')) + (await fc('--direct', '--get-all-chains')),
    permanent: (await fc('--permanent', '--direct', '--get-all-rules')) + (await fc('--permanent', '--direct', '--get-all-chains')),
  });
  /** Order aside: firewalld lists rules in the order it learnt them (runtime changes, or its configuration file after a reload). */
  const sorted = async () => {
    const r = await allRules();
    return { runtime: r.runtime.split('\n').sort(), permanent: r.permanent.split('\n').sort() };
  };
  const oursIn = (text: string) => text.split('\n').filter((l) => OURS.test(l) && !l.includes('10.1.1.1'));

  beforeAll(async () => {
    netns = createNetns('lf-fwlive');
    fw = await startFirewalld({ netns: netns.ns, dir: mkdtempSync(join(tmpdir(), 'lf-fwlive-')) });
    run = firewalldRunner(netns.ns, fw.env);
  });
  afterAll(async () => {
    await fw?.stop();
    netns?.remove();
  });

  it('available: firewalld running on the lab bus; not on a bus without it', async () => {
    expect(await firewalldBackend.available(run)).toBe(true);
    const nobus = withEnv({ DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
    expect(await firewalldBackend.available(nobus)).toBe(false);
    const status = await firewalldBackend.inspect(DEFAULT, nobus);
    expect(status).toMatchObject({ present: false, matches: false, differences: [expect.stringMatching(/^firewalld is not running/)] });
    await expect(firewalldBackend.apply(DEFAULT, nobus)).rejects.toThrow(/firewalld is not running/);
  });

  it('apply → inspect matches; applying twice leaves identical direct rules', async () => {
    await firewalldBackend.apply(DEFAULT, run);
    const status = await firewalldBackend.inspect(DEFAULT, run);
    expect(status.differences).toEqual([]);
    expect(status).toMatchObject({ present: true, matches: true, blockedPackets: 0 });
    const first = await allRules();
    expect(first.runtime).toContain('ipv4 filter DOCKER-USER-DENY-INTERNAL');
    await firewalldBackend.apply(DEFAULT, run);
    expect(await allRules()).toEqual(first);
    // inspect against another policy: the differences name the rules
    const other = await firewalldBackend.inspect(EXCEPTIONS, run);
    expect(other.matches).toBe(false);
    expect(other.differences.join('\n')).toMatch(/firewalld runtime: missing rule ipv4 filter DOCKER-USER-DROP 127 -j RETURN/);
  });

  it('unrelated direct rules survive apply and remove; remove leaves no trace and is idempotent', async () => {
    await fc('--permanent', '--direct', '--add-chain', 'ipv4', 'filter', 'MINE');
    await fc('--permanent', '--direct', '--add-rule', 'ipv4', 'filter', 'MINE', '0', '-j', 'RETURN');
    await fc('--permanent', '--direct', '--add-rule', 'ipv4', 'filter', 'INPUT', '0', '-s', '198.51.100.7', '-j', 'ACCEPT');
    await fc('--permanent', '--direct', '--add-passthrough', 'ipv4', '-t', 'filter', '-A', 'OUTPUT', '-d', '198.51.100.8', '-j', 'ACCEPT');
    await fc('--reload');
    const theirs = ['ipv4 filter MINE 0 -j RETURN', 'ipv4 filter INPUT 0 -s 198.51.100.7 -j ACCEPT'];

    await firewalldBackend.apply(EXCEPTIONS, run);
    expect((await firewalldBackend.inspect(EXCEPTIONS, run)).differences).toEqual([]);
    let rules = await allRules();
    for (const r of theirs) expect([rules.runtime, rules.permanent]).toEqual([expect.stringContaining(r), expect.stringContaining(r)]);

    await firewalldBackend.remove(run);
    rules = await allRules();
    for (const r of theirs) expect([rules.runtime, rules.permanent]).toEqual([expect.stringContaining(r), expect.stringContaining(r)]);
    expect(await fc('--permanent', '--direct', '--get-all-passthroughs')).toContain('198.51.100.8');
    expect(oursIn(rules.runtime)).toEqual([]);
    expect(oursIn(rules.permanent)).toEqual([]);
    for (const tool of ['iptables-save', 'ip6tables-save']) expect(oursIn(await sh(tool, []))).toEqual([]);
    expect(await firewalldBackend.inspect(null, run)).toMatchObject({ present: false, matches: true, differences: [] });

    await firewalldBackend.remove(run);
    expect(await allRules()).toEqual(rules);
  });

  it('an operator\'s own rule in DOCKER-USER keeps the chain declared after remove', async () => {
    await fc('--permanent', '--direct', '--add-chain', 'ipv4', 'filter', 'DOCKER-USER');
    await fc('--permanent', '--direct', '--add-rule', 'ipv4', 'filter', 'DOCKER-USER', '10', '-s', '10.1.1.1', '-j', 'RETURN');
    await fc('--reload');
    try {
      await firewalldBackend.apply(DEFAULT, run);
      expect((await firewalldBackend.inspect(DEFAULT, run)).differences).toEqual([]);
      await firewalldBackend.remove(run);
      const rules = await allRules();
      expect(rules.permanent).toContain('ipv4 filter DOCKER-USER 10 -s 10.1.1.1 -j RETURN');
      expect(rules.permanent).toContain('ipv4 filter DOCKER-USER\n');
      expect(oursIn(rules.permanent).filter((l) => l !== 'ipv4 filter DOCKER-USER')).toEqual([]);
    } finally {
      await fc('--permanent', '--direct', '--remove-rule', 'ipv4', 'filter', 'DOCKER-USER', '10', '-s', '10.1.1.1', '-j', 'RETURN');
      await fc('--permanent', '--direct', '--remove-chain', 'ipv4', 'filter', 'DOCKER-USER').catch(() => '');
      await fc('--reload');
    }
  });

  it('a rule the kernel refuses (runtime path): BackendError, the previous rules intact, no reload', async () => {
    await firewalldBackend.apply(DEFAULT, run);
    const before = await allRules();
    // TCPMSS without -p tcp: firewalld accepts it, the kernel does not.
    const bad = withLine(EXCEPTIONS, 'firewall-cmd --permanent --direct --add-rule ipv4 filter DOCKER-USER 0 -j TCPMSS --set-mss 1000');
    const err = await firewalldBackend.apply(bad, run).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).message).toMatch(/addRule ipv4 filter DOCKER-USER 0 -j TCPMSS --set-mss 1000/);
    expect(await fc('--state')).toBe('running\n');
    expect(await allRules()).toEqual(before);
    expect((await firewalldBackend.inspect(DEFAULT, run)).differences).toEqual([]);
  });

  it('a rule the kernel refuses (reload path, firewalld left FAILED): recovered through direct.xml, the previous rules intact', async () => {
    await firewalldBackend.apply(EXCEPTIONS, run);
    const before = await sorted();
    const bad = withLine(BIG, 'firewall-cmd --permanent --direct --add-rule ipv4 filter DOCKER-USER 0 -j TCPMSS --set-mss 1000');
    const err = await firewalldBackend.apply(bad, run).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).cmd).toBe('firewall-cmd --reload');
    expect((err as BackendError).message).toMatch(/previous direct configuration was restored/);
    expect(await fc('--state')).toBe('running\n');
    expect(await sorted()).toEqual(before);
    expect((await firewalldBackend.inspect(EXCEPTIONS, run)).differences).toEqual([]);
  }, 180_000);

  it('without a reload, Docker-like rules stay exactly as they were through apply and remove', async () => {
    await firewalldBackend.remove(run);
    const docker = [
      '*filter', ':DOCKER - [0:0]', ':DOCKER-ISOLATION-STAGE-1 - [0:0]', ':DOCKER-ISOLATION-STAGE-2 - [0:0]', ':DOCKER-USER - [0:0]',
      '-A FORWARD -j DOCKER-USER', '-A FORWARD -j DOCKER-ISOLATION-STAGE-1', '-A FORWARD -o br-sim -j DOCKER', '-A FORWARD -i br-sim ! -o br-sim -j ACCEPT',
      '-A DOCKER-ISOLATION-STAGE-1 -i br-sim ! -o br-sim -j DOCKER-ISOLATION-STAGE-2', '-A DOCKER-ISOLATION-STAGE-1 -j RETURN',
      '-A DOCKER-ISOLATION-STAGE-2 -o br-sim -j DROP', '-A DOCKER-ISOLATION-STAGE-2 -j RETURN', '-A DOCKER-USER -j RETURN', 'COMMIT', '',
    ].join('\n');
    expect((await run('iptables-restore', ['--noflush'], { input: docker })).code).toBe(0);
    const theirs = async () => (await sh('iptables-save', ['-t', 'filter'])).split('\n').filter((l) => l.startsWith('-A') && !/DOCKER-USER-|allow #|conntrack/.test(l));
    const before = await theirs();
    await firewalldBackend.apply(EXCEPTIONS, run);
    expect((await firewalldBackend.inspect(EXCEPTIONS, run)).differences).toEqual([]);
    const during = await theirs();
    const notUser = (l: string) => !l.startsWith('-A DOCKER-USER ');
    expect(during.filter(notUser)).toEqual(before.filter(notUser));
    expect((await sh('iptables', ['-S', 'DOCKER-USER'])).trim().split('\n').pop()).toBe('-A DOCKER-USER -j RETURN'); // Docker's, after lanfence's
    await firewalldBackend.remove(run);
    expect(await theirs()).toEqual(before);
    expect(oursIn((await allRules()).runtime)).toEqual([]);
    await fc('--reload'); // back to a clean kernel
  });

  it('drift: Docker-like FORWARD rebuild after a reload, a flushed chain; apply repairs both', async () => {
    await firewalldBackend.apply(DEFAULT, run);
    await fc('--reload');
    // What Docker 20.10 does after the reload: its jump, then its per-network rules inserted above it.
    await sh('iptables', ['-A', 'FORWARD', '-j', 'DOCKER-USER']);
    await sh('iptables', ['-I', 'FORWARD', '1', '-i', 'br-test', '!', '-o', 'br-test', '-j', 'ACCEPT']);
    await sh('ip6tables', ['-I', 'FORWARD', '1', '-o', 'br-test', '-j', 'ACCEPT']);
    let status = await firewalldBackend.inspect(DEFAULT, run);
    expect(status.matches).toBe(false);
    expect(status.differences).toEqual([
      expect.stringMatching(/^ipv4 FORWARD: 1 rule\(s\) before the jump to DOCKER-USER \(first: -A FORWARD -i br-test ! -o br-test -j ACCEPT\)/),
      expect.stringMatching(/^ipv6 FORWARD: 1 rule\(s\) before the jump to DOCKER-USER/),
    ]);
    // Nothing else changed: apply only moves the jumps (no reload).
    await firewalldBackend.apply(DEFAULT, run);
    expect((await sh('iptables', ['-S', 'FORWARD'])).split('\n')[1]).toBe('-A FORWARD -j DOCKER-USER');
    expect((await sh('ip6tables', ['-S', 'FORWARD'])).split('\n')[1]).toBe('-A FORWARD -j DOCKER-USER');
    expect((await firewalldBackend.inspect(DEFAULT, run)).differences).toEqual([]);

    // firewalld still lists its runtime rules, the kernel lost them.
    await sh('iptables', ['-F', 'DOCKER-USER-DROP']);
    status = await firewalldBackend.inspect(DEFAULT, run);
    expect(status.matches).toBe(false);
    expect(status.differences.join('\n')).toMatch(/^kernel \(ipv4\): missing -A DOCKER-USER-DROP .*-j DROP$/m);
    await firewalldBackend.apply(DEFAULT, run);
    expect((await firewalldBackend.inspect(DEFAULT, run)).differences).toEqual([]);
    await sh('iptables', ['-D', 'FORWARD', '-i', 'br-test', '!', '-o', 'br-test', '-j', 'ACCEPT']).catch(() => '');
  });

  it('apply waits for a Docker-like rebuild after its reload and puts the jump back on top', async () => {
    await firewalldBackend.apply(DEFAULT, run);
    const rebuild = ['-N DOCKER', '-A FORWARD -j DOCKER-USER', '-I FORWARD 1 -o br-sim -j DOCKER', '-I FORWARD 1 -i br-sim ! -o br-sim -j ACCEPT'];
    const restore = `*filter\n${rebuild.join('\n')}\nCOMMIT\n`;
    await run('iptables-restore', ['--noflush'], { input: restore });
    // A stand-in for dockerd: whenever FORWARD loses its rules (firewalld's reload flushes everything), rebuild them 1 s later.
    const loop = `while :; do iptables -C FORWARD -o br-sim -j DOCKER 2>/dev/null || { sleep 1; printf '%s' "$0" | iptables-restore --noflush; }; sleep 0.1; done`;
    const docker = spawn('ip', ['netns', 'exec', netns.ns, 'sh', '-c', loop, restore], { stdio: 'ignore' });
    try {
      // The kernel lost lanfence's verdicts (firewalld does not know): only a reload restores them.
      await sh('iptables', ['-F', 'DOCKER-USER-DROP']);
      await firewalldBackend.apply(EXCEPTIONS, run); // reloaded, rebuilt by "Docker", repaired
      expect((await sh('iptables', ['-S', 'FORWARD'])).split('\n').slice(1, 4)).toEqual([
        '-A FORWARD -j DOCKER-USER',
        '-A FORWARD -i br-sim ! -o br-sim -j ACCEPT',
        '-A FORWARD -o br-sim -j DOCKER',
      ]);
      expect((await firewalldBackend.inspect(EXCEPTIONS, run)).differences).toEqual([]);
    } finally {
      docker.kill('SIGKILL');
    }
    await firewalldBackend.remove(run);
    await fc('--reload'); // no Docker-like rules left behind
  });

  it('timing: the default policy plus 1,000 exceptions', async () => {
    const big = BIG;
    const rules = big.parts[0].content.split('\n').filter((l) => l.startsWith('firewall-cmd --permanent')).length;
    const t = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
      const s = performance.now();
      const v = await f();
      return [v, Math.round(performance.now() - s)];
    };
    const [, apply] = await t(() => firewalldBackend.apply(big, run));
    const [status, inspect] = await t(() => firewalldBackend.inspect(big, run));
    const [, again] = await t(() => firewalldBackend.apply(big, run));
    const [, change] = await t(() => firewalldBackend.apply(DEFAULT, run));
    const [, back] = await t(() => firewalldBackend.apply(big, run));
    const [, remove] = await t(() => firewalldBackend.remove(run));
    console.log(`firewalld, default policy + 1,000 exceptions (${rules} direct entries): apply ${apply} ms, inspect ${inspect} ms, ` +
      `apply unchanged ${again} ms, apply default ${change} ms, apply big again ${back} ms, remove ${remove} ms`);
    expect(status.differences).toEqual([]);
    expect(apply).toBeLessThan(60_000);
  }, 300_000);
});

describe.runIf(enabled)('firewalld backend against a live firewalld with its iptables backend (INPUT_direct, FORWARD_direct)', () => {
  let netns: { ns: string; remove: () => void };
  let fw: FirewalldHandle;
  let run: Runner;
  const out = async (cmd: string, ...args: string[]) => (await run(cmd, args)).stdout;

  beforeAll(async () => {
    netns = createNetns('lf-fwlive');
    fw = await startFirewalld({ netns: netns.ns, dir: mkdtempSync(join(tmpdir(), 'lf-fwlive-')), backend: 'iptables' });
    run = firewalldRunner(netns.ns, fw.env);
  });
  afterAll(async () => {
    await fw?.stop();
    netns?.remove();
  });

  it('apply, drift in FORWARD, repair, remove without a trace', async () => {
    await firewalldBackend.apply(EXCEPTIONS, run);
    expect(await out('iptables', '-S', 'INPUT_direct')).toMatch(/-A INPUT_direct -i docker0 -j DOCKER-USER-DENY-HOST/);
    expect((await firewalldBackend.inspect(EXCEPTIONS, run)).differences).toEqual([]);
    // Docker inserts its rules at the top of FORWARD, above firewalld's FORWARD_direct.
    await run('ip6tables', ['-I', 'FORWARD', '1', '-o', 'br-x', '-j', 'ACCEPT']);
    expect((await firewalldBackend.inspect(EXCEPTIONS, run)).differences).toEqual([expect.stringMatching(/^ipv6 FORWARD: 1 rule\(s\) before the jump/)]);
    await firewalldBackend.apply(EXCEPTIONS, run);
    expect((await out('ip6tables', '-S', 'FORWARD')).split('\n')[1]).toBe('-A FORWARD -j DOCKER-USER');
    expect((await firewalldBackend.inspect(EXCEPTIONS, run)).differences).toEqual([]);
    await firewalldBackend.remove(run);
    for (const text of [await out('iptables-save'), await out('ip6tables-save'), await out('firewall-cmd', '--direct', '--get-all-chains'), await out('firewall-cmd', '--direct', '--get-all-rules')])
      expect(text.split('\n').filter((l) => OURS.test(l))).toEqual([]);
  });
});
