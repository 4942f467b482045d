/**
 * The kernel accepts what the iptables backend renders (sets, rules, hooks, and a second apply).
 * Runs as root only, inside a network namespace this test creates; checkIptables nests a throwaway
 * namespace inside it. Nothing is ever loaded into the machine's own network namespace.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkIptables, iptablesBackend, renderIptables } from '../../src/backends/iptables/index.js';
import type { Rendered } from '../../src/backends/types.js';
import { inNetns } from '../../src/exec.js';
import type { Inventory } from '../../src/inventory/types.js';
import { parsePolicy } from '../../src/policy/load.js';
import { resolve } from '../../src/ruleset/resolve.js';

import { kernelTestsEnabled } from '../support/root.js';

const enabled = kernelTestsEnabled('iptables kernel check (creates a network namespace and loads rules into throwaway ones inside it)');

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
  const p = parsePolicy(yaml, 'test.yaml');
  if (!p.ruleset) throw new Error(`invalid test policy: ${JSON.stringify(p.diagnostics.filter((d) => d.severity === 'error'))}`);
  return renderIptables(resolve(p.ruleset, INVENTORY));
}

/** Every shape of exception, IPv4 and IPv6, plus 300 generated ones so the sets are not trivial. */
const MANY_EXCEPTIONS = `
action: reject
protect:
  extra: [203.0.113.0/24, 2001:db8::/32]
containers:
  interfaces: [docker0, "br-*", "veth*"]
allow:
  - to: 10.57.17.5
    comment: 'quoted "db" with a backslash \\\\ and ünïcode'
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
  - to: 192.168.1.20
    from: { container: web }
  - to: 172.16.5.0/24
    ports: [1024-65535/tcp]
  - to: fd00:1::/64
  - to: fd00:2::5
    ports: [443/tcp, 8000-8010/udp]
  - to: fd00:3::/48
    ports: [5432/tcp]
    from: { container: billing }
  - to: fe80::1
    from: { container: billing }
  - to: host
    ports: [53/udp, 53/tcp]
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
    ports: [5432/tcp, 5433/tcp]
    from: { network: backend }
${Array.from({ length: 300 }, (_, i) => `  - to: 10.${100 + (i % 50)}.${i % 250}.${(i * 7) % 250}\n    ports: [${1000 + i}/tcp]\n`).join('')}`;

describe.runIf(enabled)('iptables check in a network namespace (root)', () => {
  const ns = `lf-ipt-${randomBytes(4).toString('hex')}`;
  const run = inNetns(ns);

  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
  });
  afterAll(() => {
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      /* never created, or already gone */
    }
  });

  /** What lanfence left in the test namespace: nothing, since the check runs in a nested throwaway one. */
  const leftovers = () =>
    execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', 'iptables -S; ip6tables -S; ipset list -n'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /lanfence|LANFENCE|DOCKER-USER/.test(l));

  const cases: [string, string][] = [
    ['the default policy', ''],
    ['audit mode', 'mode: audit\nlog:\n  rate: 1/1h\n'],
    ['reject, host not protected', 'action: reject\nprotect:\n  host: false\n  networks: [10.0.0.0/8, "0.0.0.0/0", "::/0"]\n'],
    ['many exceptions of every shape, IPv4 and IPv6', MANY_EXCEPTIONS],
  ];
  for (const [name, yaml] of cases) {
    it(`accepts ${name}`, async () => {
      const result = await checkIptables(rendered(yaml), run);
      expect(result.stderr).toBe('');
      expect(result.ok).toBe(true);
      expect(result.cmd).toMatch(/^unshare --net -- sh -ec /);
      expect(leftovers()).toEqual([]);
    });
  }

  it('the backend object checks too', async () => {
    const r = iptablesBackend.render(resolve(parsePolicy('', 't.yaml').ruleset!, INVENTORY));
    expect((await iptablesBackend.check(r, run)).ok).toBe(true);
  });

  it('rejects a rule that jumps to a chain that does not exist (which iptables-restore --test alone lets pass)', async () => {
    const good = rendered('');
    const parts = good.parts.map((p) => (p.tool === 'iptables' ? { ...p, content: p.content.replace('-j LANFENCE-BLOCK', '-j LANFENCE-NOPE') } : p));
    const result = await checkIptables({ ...good, parts }, run);
    expect(result.ok).toBe(false);
    expect(result.stderr).toMatch(/lanfence check: iptables-restore --noflush failed/);
  });

  it('rejects a broken set and a broken rule with the failing step named', async () => {
    const good = rendered('');
    const badSet = good.parts.map((p) => (p.tool === 'ipset' ? { ...p, content: p.content.replace('add lanfence-block4-n 10.0.0.0/8', 'add lanfence-block4-n 10.0.0.300/8') } : p));
    const r1 = await checkIptables({ ...good, parts: badSet }, run);
    expect(r1.ok).toBe(false);
    expect(r1.stderr).toMatch(/lanfence check: ipset restore failed/);

    const badRule = good.parts.map((p) => (p.tool === 'ip6tables' ? { ...p, content: p.content.replace('--reject-with', '--reject-wiht').replace('-j DROP', '-j DROPP') } : p));
    const r2 = await checkIptables({ ...good, parts: badRule }, run);
    expect(r2.ok).toBe(false);
    expect(r2.stderr).toMatch(/ip6tables-restore/);
    expect(leftovers()).toEqual([]);
  });
});
