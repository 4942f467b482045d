/**
 * The kernel accepts every rule the firewalld backend renders. Runs as root only, inside a network
 * namespace this test creates (and checkFirewalld nests a throwaway one inside it); nothing is ever
 * loaded into the machine's own network namespace.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFirewalld, renderFirewalld } from '../../src/backends/firewalld/index.js';
import type { Rendered } from '../../src/backends/types.js';
import { inNetns, runCommand } from '../../src/exec.js';
import type { Inventory } from '../../src/inventory/types.js';
import { parsePolicy } from '../../src/policy/load.js';
import { resolve } from '../../src/ruleset/resolve.js';

import { kernelTestsEnabled } from '../support/root.js';

const enabled = kernelTestsEnabled('firewalld kernel check (creates a network namespace and loads rules into it)');

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

function rendered(yaml: string): Rendered {
  const p = parsePolicy(yaml, 'test.yaml');
  if (!p.ruleset) throw new Error(`policy invalid: ${JSON.stringify(p.diagnostics)}`);
  return renderFirewalld(resolve(p.ruleset, INVENTORY));
}

const EXCEPTIONS_HEAVY = `
action: reject
protect:
  extra: [203.0.113.0/24, 2001:db8::/32]
containers:
  interfaces: [docker0, "br-*", "veth*", lf-v6]
allow:
  - to: 10.57.17.5
    ports: [5432/tcp, 53/udp, 8000-8100/tcp, 9000-9001/udp]
    from: { network: backend }
  - to: host
    ports: [53/udp, 53/tcp]
  - to: host
    from: { network: v6net }
  - to: 192.168.1.0/24
    from: { container: app }
  - to: fd00:99::/64
    ports: [443/tcp]
  - to: fd00:98::1
    from: { label: tier=web }
    comment: "the v6 thing"
  - to: 2001:db8:1::/48
    ports: [1-65535/udp]
log:
  prefix: "lanfence-test-prefix-29chars"
  rate: 1/24h
`;

const withLine = (r: Rendered, line: string): Rendered => {
  const content = r.parts[0].content.replace('\nfirewall-cmd --reload', `\n${line}\nfirewall-cmd --reload`);
  return { ...r, text: content, parts: [{ tool: 'firewall-cmd', content }] };
};
const withoutLine = (r: Rendered, line: string): Rendered => {
  const content = r.parts[0].content.split('\n').filter((l) => l !== line).join('\n');
  return { ...r, text: content, parts: [{ tool: 'firewall-cmd', content }] };
};

describe.runIf(enabled)('firewalld check: the kernel accepts the rendered rules (throwaway network namespace)', () => {
  const ns = `lf-fwd-${randomBytes(4).toString('hex')}`;
  const run = inNetns(ns);

  beforeAll(async () => {
    const r = await runCommand('ip', ['netns', 'add', ns]);
    if (r.code !== 0) throw new Error(`ip netns add ${ns}: ${r.stderr}`);
  });
  afterAll(async () => {
    await runCommand('ip', ['netns', 'del', ns]);
  });

  it.each([
    ['default', ''],
    ['audit', 'mode: audit'],
    ['reject', 'action: reject'],
    ['audit + reject', 'mode: audit\naction: reject'],
    ['no host protection, odd rate', 'protect: { host: false }\nlog: { rate: 1/7s }'],
    ['exceptions-heavy, IPv4 and IPv6', EXCEPTIONS_HEAVY],
  ])('%s → ok', async (_name, yaml) => {
    const res = await checkFirewalld(rendered(yaml), run);
    expect(res.stderr).toBe('');
    expect(res.ok).toBe(true);
  });

  it('leaves nothing behind, not even in the lab namespace', async () => {
    await checkFirewalld(rendered(EXCEPTIONS_HEAVY), run);
    for (const tool of ['iptables-save', 'ip6tables-save']) {
      const saved = await run(tool, []);
      expect(saved.code).toBe(0);
      expect(saved.stdout).not.toContain('DOCKER-USER');
    }
  });

  it('a jump to an undeclared chain → not ok', async () => {
    const res = await checkFirewalld(withoutLine(rendered(''), 'firewall-cmd --permanent --direct --add-chain ipv6 filter DOCKER-USER-DROP'), run);
    expect(res.ok).toBe(false);
    expect(res.stderr).toContain('ipv6.rules rejected');
  });

  it('an IPv4 reject type in ipv6 → not ok, with the offending line', async () => {
    const res = await checkFirewalld(
      withLine(rendered(''), 'firewall-cmd --permanent --direct --add-rule ipv6 filter DOCKER-USER-DROP 200 -j REJECT --reject-with icmp-admin-prohibited'),
      run,
    );
    expect(res.ok).toBe(false);
    expect(res.stderr).toMatch(/ipv6\.rules line \d+: -A DOCKER-USER-DROP -j REJECT --reject-with icmp-admin-prohibited/);
  });

  it('a rule only the kernel refuses (passes --test) → not ok', async () => {
    const res = await checkFirewalld(withLine(rendered(''), 'firewall-cmd --permanent --direct --add-rule ipv4 filter DOCKER-USER 0 -j TCPMSS --set-mss 1000'), run);
    expect(res.ok).toBe(false);
    expect(res.stderr).toContain('ipv4.rules rejected');
  });
});
