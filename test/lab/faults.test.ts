/**
 * Faults, on a real Docker host in the lab: a failing apply leaves the previous rules intact; apply
 * while dockerd restarts; `status` detects drift after the firewall is changed behind lanfence's back.
 * The kernel's refusal is injected with wrappers in PATH that fail a real load in the lab's host
 * namespace only (the dry runs `nft -c` / `--test` and the scratch namespaces pass through).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_YAML } from '../../src/policy/default-policy.js';
import type { BackendName } from '../../src/ruleset/types.js';
import { kernelTestsEnabled } from '../support/root.js';
import { createLab, type Lab } from '../../src/lab/lab.js';
import { expectedResolved, runMatrix } from '../../src/lab/matrix.js';

const enabled = kernelTestsEnabled('lab fault cases (test/lab)');

const A = 'allow:\n  - to: 10.57.17.5\n    ports: [5432/tcp]\n    comment: policy A\n';
const B = 'action: reject\nallow:\n  - to: 172.31.57.5\n    comment: policy B\n';

/** A wrapper that refuses real loads in the namespace whose inode is $FAULT_NS. */
function wrapper(real: string, refuse: string): string {
  return `#!/bin/sh
if [ "$(readlink /proc/self/ns/net)" = "$FAULT_NS" ]; then
  ${refuse}
fi
exec ${real} "$@"
`;
}

describe.runIf(enabled)('lab: faults (dockerd in a namespace)', () => {
  let lab: Lab;
  let files: { a: string; b: string; defaults: string };
  let fakebin: string;
  let faultNs = '';

  const live = async (backend: BackendName) => {
    const r =
      backend === 'nftables'
        ? await lab.exec('host', 'nft', ['-s', 'list', 'table', 'inet', 'lanfence'])
        : await lab.exec('host', 'sh', ['-c', 'iptables-save -t filter | grep -v "^#" | sed "s/\\[[0-9]*:[0-9]*\\]//"; ip6tables-save -t filter | grep -v "^#" | sed "s/\\[[0-9]*:[0-9]*\\]//"; ipset save | grep lanfence | sed "s/ initval 0x[0-9a-f]*//" | sort']);
    return r.stdout;
  };
  const status = async () => (await lab.lanfence(['status'])).code;
  const apply = (file: string, backend: BackendName, extra: Record<string, string> = {}) => lab.lanfence(['apply', '--policy', file, '--backend', backend], extra);

  beforeAll(async () => {
    lab = await createLab({ ipv6: true });
    const dir = join(lab.dir, 'faults');
    fakebin = join(dir, 'bin');
    mkdirSync(fakebin, { recursive: true });
    files = { a: join(dir, 'a.yaml'), b: join(dir, 'b.yaml'), defaults: join(dir, 'default.yaml') };
    writeFileSync(files.a, A);
    writeFileSync(files.b, B);
    writeFileSync(files.defaults, DEFAULT_POLICY_YAML);
    // nft: refuse `nft -f` (not `-c`) in the lab's host namespace.
    writeFileSync(join(fakebin, 'nft'), wrapper('/usr/sbin/nft', 'case " $* " in *" -c "*) ;; *" -f "*) echo "Error: injected fault: the kernel refused the ruleset" >&2; exit 1;; esac'));
    // ip6tables-restore: refuse real loads (not --test) in the host namespace, after IPv4 went in.
    writeFileSync(join(fakebin, 'ip6tables-restore'), wrapper('/usr/sbin/ip6tables-restore', 'case " $* " in *" --test "*) ;; *) echo "ip6tables-restore: injected fault: line 3 failed" >&2; exit 1;; esac'));
    for (const f of ['nft', 'ip6tables-restore']) chmodSync(join(fakebin, f), 0o755);
    faultNs = (await lab.exec('host', 'readlink', ['/proc/self/ns/net'])).stdout.trim();
  }, 180_000);
  afterAll(async () => {
    await lab?.teardown();
  }, 60_000);

  const faulty = () => ({ PATH: `${fakebin}:${process.env.PATH}`, FAULT_NS: faultNs });

  for (const backend of ['nftables', 'iptables'] as const) {
    it(`${backend}: a failing apply leaves the previous rules intact (exit 3), status still 0`, async () => {
      const ok = await apply(files.a, backend);
      expect(ok.code, ok.stderr).toBe(0);
      const before = await live(backend);
      const r = await apply(files.b, backend, faulty());
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(/injected fault/);
      expect(await live(backend)).toBe(before);
      expect(await status()).toBe(0);
      const cat = await lab.exec('host', 'cat', [join(lab.stateDir, 'current.json')]);
      expect(JSON.parse(cat.stdout).policyText).toBe(A);
    });
  }

  it('nftables: status detects `nft flush ruleset` (exit 5, absent); apply repairs it', async () => {
    expect((await apply(files.defaults, 'nftables')).code).toBe(0);
    await lab.exec('host', 'nft', ['flush', 'ruleset']);
    const s = await lab.lanfence(['status']);
    expect(s.code, s.stdout).toBe(5); // flushed: the table is absent altogether
    expect(s.stdout).toMatch(/ABSENT/);
    expect((await apply(files.defaults, 'nftables')).code).toBe(0);
    await lab.restartDockerd(); // Docker's own iptables rules were flushed with the ruleset: let it rebuild them
    expect(await status()).toBe(0);
  });

  it('iptables: status detects `iptables -F DOCKER-USER` (exit 4); apply repairs it', async () => {
    expect((await apply(files.defaults, 'iptables')).code).toBe(0);
    await lab.exec('host', 'iptables', ['-F', 'DOCKER-USER']);
    const s = await lab.lanfence(['status']);
    expect(s.code, s.stdout).toBe(4);
    expect(s.stdout).toMatch(/DOCKER-USER/);
    expect((await apply(files.defaults, 'iptables')).code).toBe(0);
    expect(await status()).toBe(0);
  });

  for (const backend of ['nftables', 'iptables'] as const) {
    it(`${backend}: apply while dockerd restarts succeeds, and protection holds afterwards`, async () => {
      const restarting = lab.restartDockerd();
      await new Promise((r) => setTimeout(r, 150));
      const r = await apply(files.defaults, backend);
      await restarting;
      await new Promise((r) => setTimeout(r, 2000)); // Docker restores its networks' rules after it answers
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      // The restart itself may leave the iptables backend's hooks out of order: status says so, apply repairs.
      let code = await status();
      if (code !== 0) {
        console.log(`${backend}: status after dockerd restart: exit ${code} — re-applying`);
        expect(code).toBe(4);
        expect((await apply(files.defaults, backend)).code).toBe(0);
        code = await status();
      }
      expect(code).toBe(0);
      const m = await runMatrix(lab, { kind: 'policy', resolved: await expectedResolved(lab, DEFAULT_POLICY_YAML, { mode: 'enforce', file: files.defaults }) }, `${backend} after apply during a dockerd restart`);
      console.log(m.table);
      expect(m.mismatches, m.report).toEqual([]);
    });
  }

  it('status detects a dockerd restart that rewrote the firewall, or confirms nothing changed', async () => {
    expect((await apply(files.defaults, 'iptables')).code).toBe(0);
    await lab.restartDockerd();
    await new Promise((r) => setTimeout(r, 2000));
    const s = await lab.lanfence(['status', '--json']);
    const j = JSON.parse(s.stdout);
    // status's verdict must be the truth: matches ⇔ exit 0.
    expect(s.code === 0).toBe(j.live.matches);
    console.log(`iptables after a dockerd restart: ${j.state}${j.live.differences.length ? `: ${j.live.differences.join('; ')}` : ''}`);
    await lab.lanfence(['remove', '--backend', 'iptables']);
    await lab.lanfence(['remove', '--backend', 'nftables']);
  });
});
